"""Bad deliveries to the webhook address (``flows/webhooks.py`` through its public URL): every one is
answered with a 4xx saying why — never a 500 — and stores nothing; odd but valid ones are stored safely."""

import hashlib
import hmac
import json

import pytest
from django.test import Client
from django.urls import reverse

from flows.models import WebhookEvent
from flows.webhooks import MAX_BODY_BYTES
from tests.factories import SystemFactory
from tests.reliability.conftest import snapshot
from tests.reliability.corpus import SQL, TEMPLATE, TRAVERSAL, cases

pytestmark = pytest.mark.django_db
SECRET = "whsec-corpus"


@pytest.fixture
def shop(db):
    system = SystemFactory(
        slug="shop",
        webhook_enabled=True,
        webhook_token="tok-corpus",
        webhook_event_id="body:id",
        webhook_topic="header:X-Topic",
        webhook_signature_header="X-Hub-Signature-256",
    )
    system.webhook_secret = SECRET
    system.save()
    return system


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def deliver(body: bytes, *, slug="shop", token="tok-corpus", signature=None, path=None, **headers):
    headers = {"HTTP_X_TOPIC": "orders/create", **headers}
    if signature is not False:
        headers["HTTP_X_HUB_SIGNATURE_256"] = sign(body) if signature is None else signature
    url = path or reverse("hooks:receive", args=[slug, token])
    return Client(enforce_csrf_checks=True).post(url, data=body, content_type="application/json", **headers)


def P(body, status, fragment, id, **kwargs):
    return pytest.param(body, status, fragment, kwargs, id=id)


BAD = cases(
    "webhooks",
    [
        P(b"{", 400, "not valid JSON", "json-open-brace"),
        P(b'{"id": "e1", "order": ', 400, "not valid JSON", "json-truncated"),
        P(b'{"id": "e1"} trailing', 400, "not valid JSON", "json-trailing-text"),
        P(b'{"id": "\xff\xfe"}', 400, "not valid JSON", "json-invalid-utf8"),
        P(b"\xef\xbb\xbf\xef\xbb\xbf{}", 400, "not valid JSON", "json-double-bom"),
        P(("[" * 10_000 + "]" * 10_000).encode(), 400, "not valid JSON", "json-10000-levels"),
        P(b'{"id": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}', 413, "larger than", "body-over-1-mb"),
        P(b'{"id": "' + b"x" * 10_000_000 + b'"}', 413, "larger than", "body-10-mb"),
        P(b'{"id": "e1"}', 403, "Signature", "signature-missing", signature=False),
        P(b'{"id": "e1"}', 403, "Signature", "signature-wrong", signature="sha256=" + "0" * 64),
        P(b'{"id": "e1"}', 403, "Signature", "signature-non-ascii", signature="sha256=é" * 10),
        P(b'{"id": "e1"}', 403, "Signature", "signature-of-another-body", signature=sign(b'{"id": "e2"}')),
        P(
            b'{"id": "e1"}',
            403,
            "Signature",
            "timestamp-huge",
            signature="t=1" + "0" * 400 + ",v1=" + "0" * 64,
        ),
        P(b'{"id": "e1"}', 403, "Signature", "timestamp-text", signature="t=yesterday,v1=" + "0" * 64),
        P(b'{"id": "e1"}', 403, "Signature", "timestamp-old", signature="t=1,v1=" + "0" * 64),
        P(b'{"id": "e1"}', 404, "Unknown webhook address", "token-wrong", token="tok-guess"),
        P(b'{"id": "e1"}', 404, "Unknown webhook address", "token-sql", token=SQL.replace("/", "")),
        P(b'{"id": "e1"}', 404, "Unknown webhook address", "token-template", token=TEMPLATE),
        P(b'{"id": "e1"}', 404, "Unknown webhook address", "slug-unknown", slug="erp"),
        P(b'{"id": "e1"}', 404, "", "path-traversal", path=f"/hooks/shop/tok-corpus/{TRAVERSAL}/"),
        P(
            b'{"id": "e1"}',
            404,
            "",
            "path-encoded-traversal",
            path="/hooks/shop/%2e%2e%2f%2e%2e%2fetc%2fpasswd/",
        ),
    ],
)


@pytest.mark.parametrize("body,status,fragment,kwargs", BAD)
def test_a_bad_delivery_is_refused_with_its_reason(shop, body, status, fragment, kwargs):
    before = snapshot()
    response = deliver(body, **kwargs)
    assert response.status_code == status
    assert fragment in response.content.decode()
    assert len(response.content) < 2000
    assert snapshot() == before


STORED = cases(
    "webhooks",
    [
        P(json.dumps({"id": "e\u0000vil"}).encode(), 202, "evil", "event-id-with-nul"),
        P(json.dumps({"id": "x" * 100_000}).encode(), 202, "x" * 200, "event-id-100k"),
        P(json.dumps({"id": TEMPLATE}).encode(), 202, TEMPLATE, "event-id-template"),
        P(json.dumps({"id": {"nested": [1, 2]}}).encode(), 202, "{'nested': [1, 2]}", "event-id-object"),
        P(json.dumps({"id": "e1"}).encode(), 202, "e1", "topic-with-rtl", HTTP_X_TOPIC="orders/\u202ecreate"),
    ],
)


@pytest.mark.parametrize("body,status,event_id,kwargs", STORED)
def test_odd_but_valid_deliveries_are_stored_safely(shop, body, status, event_id, kwargs):
    response = deliver(body, **kwargs)
    assert response.status_code == status, response.content
    event = WebhookEvent.objects.get()
    assert event.event_id == event_id and len(event.event_id) <= 200 and len(event.topic) <= 200
    assert "\x00" not in event.event_id + event.topic
