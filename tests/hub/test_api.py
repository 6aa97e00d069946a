"""API authentication and bad input: tokens, expiry, read-only tokens, CSRF, malformed JSON."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from flows.models import System
from integration_hub import services
from integration_hub.models import APIToken, AuditAction, AuditEntry
from integration_hub.roles import INTEGRATION_ADMIN, VIEWER
from tests.factories import SystemFactory, UserFactory, system_api_data

pytestmark = pytest.mark.django_db


def token_client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_token_authenticates_and_records_last_use():
    user = UserFactory(roles=[VIEWER])
    SystemFactory(name="Shop")
    token, key = services.create_api_token(user, name="script")
    assert key.startswith("ihub_") and key not in APIToken.objects.values_list("key_hash", flat=True)
    response = token_client(key).get(reverse("flows-api:system-list"))
    assert response.status_code == 200
    assert [r["name"] for r in response.json()["results"]] == ["Shop"]
    token.refresh_from_db()
    assert token.last_used is not None


def test_bearer_keyword_is_accepted_too():
    user = UserFactory(roles=[VIEWER])
    _token, key = services.create_api_token(user, name="bearer")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get(reverse("flows-api:system-list")).status_code == 200


def test_expired_token_is_refused_with_a_clear_message_and_audited():
    user = UserFactory(roles=[VIEWER])
    token, key = services.create_api_token(user, name="old", expires=timezone.now() + timedelta(days=1))
    APIToken.objects.filter(pk=token.pk).update(expires=timezone.now() - timedelta(minutes=1))
    response = token_client(key).get(reverse("flows-api:system-list"))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert response["WWW-Authenticate"] == "Token"
    assert AuditEntry.objects.filter(action=AuditAction.TOKEN_REJECTED, user=user).exists()


@pytest.mark.parametrize("key", ["ihub_deadbeef_nope", "garbage", "ihub__", "ihub_a_b_c"])
def test_unknown_token_is_refused(key):
    response = token_client(key).get(reverse("flows-api:system-list"))
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


def test_token_of_a_deactivated_user_is_refused():
    user = UserFactory(roles=[VIEWER])
    _token, key = services.create_api_token(user, name="x")
    user.is_active = False
    user.save()
    assert token_client(key).get(reverse("flows-api:system-list")).status_code == 401


def test_read_only_token_cannot_write_even_for_an_admin():
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    _token, key = services.create_api_token(admin, name="ro")
    response = token_client(key).post(
        reverse("flows-api:system-list"), system_api_data(name="X", slug="x"), format="json"
    )
    assert response.status_code == 403
    assert not System.objects.exists()
    _token, key = services.create_api_token(admin, name="rw", write_enabled=True)
    response = token_client(key).post(
        reverse("flows-api:system-list"), system_api_data(name="X", slug="x"), format="json"
    )
    assert response.status_code == 201


def test_a_token_cannot_mint_tokens():
    user = UserFactory()
    _token, key = services.create_api_token(user, name="rw", write_enabled=True)
    response = token_client(key).post(reverse("hub-api:apitoken-list"), {"name": "more"}, format="json")
    assert response.status_code == 403
    assert user.api_tokens.count() == 1


def test_session_write_without_csrf_is_refused():
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(
        reverse("flows-api:system-list"), system_api_data(name="X", slug="x"), format="json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not System.objects.exists()
    entry = AuditEntry.objects.get(action=AuditAction.DENIED)
    assert "CSRF" in entry.message and entry.user == admin


@pytest.mark.parametrize(
    "body",
    ['{"name": ', "[1, 2", '{"name": "x"} trailing', "\ufffe", '{"name": NaN}' * 1000],
)
def test_malformed_json_is_a_400_with_a_message_and_is_audited(body):
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    client = APIClient()
    client.force_login(admin)
    response = client.post(reverse("flows-api:system-list"), data=body, content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert not System.objects.exists()
    entry = AuditEntry.objects.get(action=AuditAction.REJECTED)
    assert entry.user == admin and "400" in entry.message


def test_wrong_content_type_is_a_415():
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    client = APIClient()
    client.force_login(admin)
    response = client.post(reverse("flows-api:system-list"), data="name=x", content_type="text/plain")
    assert response.status_code == 415
    assert not System.objects.exists()


def test_api_root_lists_endpoints_and_schema_is_openapi3():
    client = APIClient()
    client.force_login(UserFactory(roles=[VIEWER]))
    root = client.get(reverse("api-root")).json()
    assert {"systems", "audit", "users", "tokens", "schema", "docs"} <= set(root)
    schema = client.get(reverse("api-schema"), HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert "/api/systems/" in schema.json()["paths"]


def test_api_docs_are_served_from_local_assets_only():
    from django.test import Client

    client = Client()
    client.force_login(UserFactory())
    html = client.get(reverse("api-docs")).content.decode()
    assert "swagger-ui-bundle.js" in html
    assert "http://" not in html.replace("http://testserver", "") and "https://" not in html
