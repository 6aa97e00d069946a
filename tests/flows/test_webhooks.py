"""Inbound webhooks: token and HMAC checks, storage once per provider event id, immediate answers."""

import base64
import hashlib
import hmac
import json

import pytest
from django.test import Client
from django.urls import reverse

from flows.models import System, WebhookEvent
from integration_hub.roles import INTEGRATION_ADMIN
from tests.factories import SystemFactory, UserFactory

pytestmark = pytest.mark.django_db
SECRET = "whsec-test-1234"


@pytest.fixture
def system():
    system = SystemFactory(
        slug="shop", webhook_enabled=True, webhook_token="tok-abc", webhook_event_id="header:X-Event-Id"
    )
    system.webhook_secret = SECRET
    system.save()
    return system


def sign(body: bytes, encoding="hex", secret=SECRET) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode() if encoding == "base64" else "sha256=" + digest.hex()


def post(body, *, slug="shop", token="tok-abc", signature=None, event_id="evt-1", topic="orders/create"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"HTTP_X_EVENT_ID": event_id, "HTTP_X_EVENT_TOPIC": topic}
    if signature is not False:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature or sign(raw)
    url = reverse("hooks:receive", args=[slug, token])
    return Client(enforce_csrf_checks=True).post(url, data=raw, content_type="application/json", **headers)


def test_a_signed_event_is_stored_encrypted_and_acknowledged(system):
    response = post({"order": 1001, "email": "buyer@example.test"})
    assert response.status_code == 202 and response.json() == {"status": "accepted", "event_id": "evt-1"}
    event = WebhookEvent.objects.get()
    assert (event.system, event.topic, event.event_id) == (system, "orders/create", "evt-1")
    assert event.payload == {"order": 1001, "email": "buyer@example.test"}
    assert "buyer@example.test" not in event.payload_encrypted


def test_redeliveries_are_counted_not_duplicated(system):
    assert post({"order": 1}).status_code == 202
    again = post({"order": 1})
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert WebhookEvent.objects.get().deliveries == 2


def test_without_an_event_id_the_body_hash_deduplicates(system):
    system.webhook_event_id = ""
    system.save()
    assert post({"a": 1}, event_id="").status_code == 202
    assert post({"a": 1}, event_id="").status_code == 200
    assert post({"a": 2}, event_id="").status_code == 202
    assert WebhookEvent.objects.count() == 2


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"signature": "sha256=" + "0" * 64}, 403),
        ({"signature": False}, 403),
        ({"token": "wrong"}, 404),
        ({"slug": "nope"}, 404),
        ({"body": b"not json", "signature": sign(b"not json")}, 400),
    ],
)
def test_bad_deliveries_are_refused_and_store_nothing(system, kwargs, status):
    body = kwargs.pop("body", {"x": 1})
    assert post(body, **kwargs).status_code == status
    assert not WebhookEvent.objects.exists()


def test_oversized_body_is_refused(system):
    big = json.dumps({"blob": "x" * 1_100_000}).encode()
    assert post(big, signature=sign(big)).status_code == 413


def test_base64_signatures_and_body_event_ids(system):
    system.webhook_signature_header = "X-Shopify-Hmac-Sha256"
    system.webhook_signature_encoding = "base64"
    system.webhook_event_id = "body:id"
    system.save()
    raw = json.dumps({"id": 77, "total": "12.00"}).encode()
    url = reverse("hooks:receive", args=["shop", "tok-abc"])
    response = Client().post(
        url, data=raw, content_type="application/json", HTTP_X_SHOPIFY_HMAC_SHA256=sign(raw, "base64")
    )
    assert response.status_code == 202 and WebhookEvent.objects.get().event_id == "77"


def test_a_disabled_system_accepts_nothing(system):
    system.webhook_enabled = False
    system.save()
    assert post({"x": 1}).status_code == 404


def test_enabling_in_the_form_creates_an_address_and_rotation_replaces_it():
    admin = Client()
    admin.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    system = SystemFactory(slug="erp")
    data = {
        "name": system.name,
        "slug": "erp",
        "role": "erp",
        "criticality": "normal",
        "connector": "rest",
        "timeout": "30",
        "param_base_url": system.parameters["base_url"],
        "param_auth_type": "none",
        "param_entities": json.dumps(system.parameters["entities"]),
        "webhook_enabled": "on",
        "webhook_signature_header": "X-Hub-Signature-256",
        "webhook_signature_encoding": "hex",
    }
    response = admin.post(reverse("flows:system_edit", args=[system.pk]), data)
    assert response.status_code == 400
    assert "Needed to check the signature" in response.context["form"].errors["webhook_secret"][0]
    assert (
        admin.post(
            reverse("flows:system_edit", args=[system.pk]), {**data, "webhook_secret": SECRET}
        ).status_code
        == 302
    )
    system.refresh_from_db()
    assert system.webhook_token and system.webhook_secret == SECRET
    page = admin.get(system.get_absolute_url()).content.decode()
    assert system.get_webhook_url() in page and SECRET not in page
    old_url = system.get_webhook_url()
    admin.post(reverse("flows:system_webhook_rotate", args=[system.pk]))
    system.refresh_from_db()
    assert system.get_webhook_url() != old_url
    raw = b"{}"
    response = Client().post(
        old_url, data=raw, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=sign(raw)
    )
    assert response.status_code == 404
    entry_after = json.dumps(System.objects.get(pk=system.pk).audit_snapshot())
    assert SECRET not in entry_after


def test_a_non_ascii_signature_is_refused_not_a_crash(system):
    raw = b'{"x": 1}'
    url = reverse("hooks:receive", args=["shop", "tok-abc"])
    response = Client().post(
        url, data=raw, content_type="application/json", HTTP_X_HUB_SIGNATURE_256="sha256=é" * 3
    )
    assert response.status_code == 403


def test_the_webhook_token_never_reaches_the_logs(system, caplog):
    import logging

    from integration_hub.log import SecretPathFilter

    record = logging.LogRecord(
        "django.request", logging.WARNING, "", 0, "Forbidden: %s", ("/hooks/shop/tok-abc/",), None
    )
    SecretPathFilter().filter(record)
    assert record.getMessage() == "Forbidden: /hooks/shop/***/"
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", "/hooks/shop/tok-abc/", "1.1", 403),
        None,
    )
    SecretPathFilter().filter(access)
    assert "tok-abc" not in access.getMessage()
