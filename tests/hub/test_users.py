"""Users & access: invitations, roles, deactivation and each user's API tokens."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from integration_hub.models import AuditAction, AuditEntry
from integration_hub.roles import INTEGRATION_ADMIN, SUPPORT, VIEWER
from tests.factories import PASSWORD, SystemFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(username="boss", roles=[INTEGRATION_ADMIN]))
    return client


def role_id(name):
    from django.contrib.auth.models import Group

    return Group.objects.get(name=name).pk


def test_invite_sends_a_set_password_link_that_works(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("auth:user_add"),
            {"username": "newbie", "email": "newbie@example.test", "roles": [role_id(SUPPORT)]},
        )
    assert response.status_code == 200
    user = User.objects.get(username="newbie")
    assert not user.has_usable_password()
    assert [g.name for g in user.groups.all()] == [SUPPORT]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["newbie@example.test"]
    link = re.search(r"http://testserver(\S+)", mail.outbox[0].body).group(1)
    assert link in response.content.decode()  # shown once to the admin as well
    assert AuditEntry.objects.filter(action=AuditAction.CREATE, object_repr="newbie").exists()

    invited = Client()
    page = invited.get(link, follow=True)
    invited.post(
        page.redirect_chain[-1][0], {"new_password1": "Fresh-pass-42", "new_password2": "Fresh-pass-42"}
    )
    assert (
        invited.post(reverse("login"), {"username": "newbie", "password": "Fresh-pass-42"}).status_code == 302
    )


def test_invite_refuses_duplicates_and_bad_addresses(admin_client):
    UserFactory(username="taken", email="taken@example.test")
    response = admin_client.post(reverse("auth:user_add"), {"username": "taken", "email": "nope"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "already exists" in errors["username"][0]
    assert "valid email" in errors["email"][0]
    response = admin_client.post(
        reverse("auth:user_add"), {"username": "other", "email": "TAKEN@example.test"}
    )
    assert "already exists" in response.context["form"].errors["email"][0]
    assert not User.objects.filter(username="other").exists()


def test_only_admins_manage_users():
    viewer = Client()
    viewer.force_login(UserFactory(roles=[VIEWER]))
    assert viewer.get(reverse("auth:user_list")).status_code == 403
    assert (
        viewer.post(reverse("auth:user_add"), {"username": "x", "email": "x@example.test"}).status_code == 403
    )
    assert not User.objects.filter(username="x").exists()


def test_changing_roles_changes_what_the_user_may_do(admin_client):
    target = UserFactory(username="promoted", roles=[VIEWER])
    system = SystemFactory()
    assert not target.has_perm("flows.change_system")
    response = admin_client.post(
        reverse("auth:user_edit", args=[target.pk]),
        {"email": "p@example.test", "is_active": "on", "roles": [role_id(INTEGRATION_ADMIN)]},
    )
    assert response.status_code == 302
    target = User.objects.get(pk=target.pk)
    assert target.has_perm("flows.change_system")
    entry = AuditEntry.objects.get(action=AuditAction.UPDATE, object_repr="promoted")
    assert entry.before["roles"] == [VIEWER] and entry.after["roles"] == [INTEGRATION_ADMIN]
    assert system  # the permission is global: it covers existing systems


def test_deactivation_logs_the_user_out_everywhere(admin_client):
    target = UserFactory(username="leaving", roles=[VIEWER])
    session = Client()
    session.post(reverse("login"), {"username": "leaving", "password": PASSWORD})
    assert session.get(reverse("home")).status_code == 200
    admin_client.post(reverse("auth:user_edit", args=[target.pk]), {"email": "l@example.test", "roles": []})
    assert session.get(reverse("home")).status_code == 302
    response = Client().post(reverse("login"), {"username": "leaving", "password": PASSWORD})
    assert response.status_code == 400


def test_admin_cannot_deactivate_themselves():
    me = UserFactory(username="me", roles=[INTEGRATION_ADMIN])
    client = Client()
    client.force_login(me)
    response = client.post(reverse("auth:user_edit", args=[me.pk]), {"email": "me@example.test"})
    assert response.status_code == 400
    assert "your own account" in response.context["form"].errors["is_active"][0]
    me.refresh_from_db()
    assert me.is_active


def test_user_list_and_roles_pages(admin_client):
    UserFactory(username="zoe", roles=[SUPPORT])
    table = admin_client.get(reverse("auth:user_list"), {"role": role_id(SUPPORT)}).context["table"]
    assert [row.record.username for row in table.rows] == ["zoe"]
    roles = admin_client.get(reverse("auth:group_list")).content.decode()
    for role in (INTEGRATION_ADMIN, SUPPORT, "DPO", VIEWER):
        assert role in roles


def test_token_page_shows_the_key_once_and_revokes():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    page = client.post(
        reverse("users:token_list"), {"name": "nightly", "write_enabled": "on"}
    ).content.decode()
    key = re.search(r"(ihub_[0-9a-f]{8}_[A-Za-z0-9-]+)", page).group(1)
    token = user.api_tokens.get()
    assert token.write_enabled and key not in client.get(reverse("users:token_list")).content.decode()
    assert client.post(reverse("users:token_delete", args=[token.pk])).status_code == 302
    assert not user.api_tokens.exists()


def test_token_form_refuses_a_past_expiry():
    client = Client()
    client.force_login(UserFactory())
    response = client.post(reverse("users:token_list"), {"name": "x", "expires": "2001-01-01T00:00"})
    assert response.status_code == 400
    assert "future" in response.content.decode()


def test_other_users_tokens_are_out_of_reach():
    owner, other = UserFactory(), UserFactory()
    from integration_hub import services

    token, _ = services.create_api_token(owner, name="mine")
    client = Client()
    client.force_login(other)
    assert client.post(reverse("users:token_delete", args=[token.pk])).status_code == 404
    assert owner.api_tokens.exists()


def test_resend_invitation_to_a_user_without_password(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("auth:user_add"), {"username": "late", "email": "late@example.test"})
    user = User.objects.get(username="late")
    page = admin_client.get(reverse("auth:user", args=[user.pk])).content.decode()
    assert "Resend invitation" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("auth:user_resend_invitation", args=[user.pk]))
    assert response.status_code == 200
    assert len(mail.outbox) == 2 and mail.outbox[1].to == ["late@example.test"]
    # Once the user has a password there is nothing to resend.
    user.set_password("Chosen-pass-1")
    user.save()
    response = admin_client.post(reverse("auth:user_resend_invitation", args=[user.pk]))
    assert response.status_code == 302 and len(mail.outbox) == 2
