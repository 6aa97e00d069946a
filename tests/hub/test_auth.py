"""Logging in and out, passwords, CSRF and the language switch, in the console's own pages."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from integration_hub.models import AuditAction, AuditEntry
from integration_hub.roles import VIEWER
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_login_page_is_styled_and_translated(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "hub.css" in html and 'name="username"' in html
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    assert "Se connecter" in client.get(reverse("login")).content.decode()


def test_wrong_password_is_refused_with_a_message_and_audited(client):
    UserFactory(username="alice")
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 400
    assert "correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session
    entry = AuditEntry.objects.get(action=AuditAction.LOGIN_FAILED)
    assert "alice" in entry.message and "wrong" not in entry.message


def test_login_lands_on_the_dashboard_and_is_audited(client):
    user = UserFactory(username="bob", roles=[VIEWER])
    response = client.post(reverse("login"), {"username": "bob", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert b"Dashboard" in response.content
    assert AuditEntry.objects.filter(action=AuditAction.LOGIN, user=user).exists()


def test_logout_needs_a_post_and_ends_the_session(client):
    user = UserFactory()
    client.force_login(user)
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_password_reset_by_email_end_to_end(client):
    user = UserFactory(username="carol", email="carol@example.test")
    response = client.post(reverse("password_reset"), {"email": "carol@example.test"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and b"new_password1" in form_page.content
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "Zs8-new-pass!", "new_password2": "Zs8-new-pass!"}
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Zs8-new-pass!")
    # The link works once.
    assert b"no longer works" in client.get(link, follow=True).content


def test_password_reset_for_unknown_address_reveals_nothing(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.test"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_post_without_csrf_token_is_refused_and_audited():
    user = UserFactory(username="dave", roles=[VIEWER])
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(reverse("users:token_list"), {"name": "sneaky"})
    assert response.status_code == 403
    assert "security token" in response.content.decode()
    assert not user.api_tokens.exists()
    entry = AuditEntry.objects.get(action=AuditAction.DENIED)
    assert "CSRF" in entry.message and entry.user == user


def test_weak_new_password_is_refused(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("password_change"), {"old_password": PASSWORD, "new_password1": "123", "new_password2": "123"}
    )
    assert response.status_code == 200
    assert "too short" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_repeated_failures_lock_the_user_name_for_a_while(client, settings):
    settings.HUB_LOGIN_MAX_FAILURES = 3
    UserFactory(username="erin")
    for _ in range(3):
        client.post(reverse("login"), {"username": "erin", "password": "guess"})
    response = client.post(reverse("login"), {"username": "erin", "password": PASSWORD})
    assert response.status_code == 400
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action=AuditAction.DENIED, object_repr="erin").exists()
    # Another user name from another address is not affected.
    UserFactory(username="frank")
    other = Client(REMOTE_ADDR="10.0.0.2")
    assert other.post(reverse("login"), {"username": "frank", "password": PASSWORD}).status_code == 302
