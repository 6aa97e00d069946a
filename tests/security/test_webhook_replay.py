"""Inbound webhooks: HMAC verification with replay protection. A timestamped signature
(``t=<unix>,v1=<hmac of "t." + body>``) is valid only within ``HUB_WEBHOOK_TOLERANCE`` seconds; a plain
signature's redelivery is deduplicated by its event id. Nothing refused is stored."""

import hashlib
import hmac
import json
import time

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from flows.models import WebhookEvent
from tests.factories import SystemFactory

pytestmark = pytest.mark.django_db
SECRET = "replay-test-secret"


@pytest.fixture
def system():
    system = SystemFactory(slug="shop", webhook_enabled=True, webhook_token="tok-replay")
    system.webhook_secret = SECRET
    system.save()
    return system


def deliver(body: dict, signature: str):
    raw = json.dumps(body).encode()
    url = reverse("hooks:receive", args=["shop", "tok-replay"])
    return Client(enforce_csrf_checks=True).post(
        url, data=raw, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
    )


def stamped(body: dict, at: float, secret: str = SECRET) -> str:
    t = int(at)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + json.dumps(body).encode(), hashlib.sha256)
    return f"t={t},v1={digest.hexdigest()}"


def plain(body: dict) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), json.dumps(body).encode(), hashlib.sha256).hexdigest()


@override_settings(HUB_WEBHOOK_TOLERANCE=300)
def test_a_timestamped_signature_is_accepted_only_inside_the_window(system):
    now = time.time()
    assert deliver({"id": 1}, stamped({"id": 1}, now)).status_code == 202
    assert deliver({"id": 2}, stamped({"id": 2}, now - 250)).status_code == 202
    # The same signed delivery captured and sent again ten minutes later, or dated in the future.
    assert deliver({"id": 3}, stamped({"id": 3}, now - 600)).status_code == 403
    assert deliver({"id": 4}, stamped({"id": 4}, now + 600)).status_code == 403
    # A fresh timestamp pasted onto an old signature does not match what was signed.
    old = stamped({"id": 5}, now - 600).split(",v1=")[1]
    assert deliver({"id": 5}, f"t={int(now)},v1={old}").status_code == 403
    assert deliver({"id": 6}, f"t=yesterday,v1={old}").status_code == 403
    assert deliver({"id": 7}, stamped({"id": 7}, now, secret="wrong")).status_code == 403
    assert WebhookEvent.objects.filter(system=system).count() == 2


def test_a_plain_signature_is_verified_and_its_redelivery_deduplicated(system):
    assert deliver({"id": 10}, plain({"id": 10})).status_code == 202
    again = deliver({"id": 10}, plain({"id": 10}))
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert deliver({"id": 11}, plain({"id": 10})).status_code == 403  # signature of another body
    assert deliver({"id": 12}, "").status_code == 403
    assert WebhookEvent.objects.filter(system=system).count() == 1
