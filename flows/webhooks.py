"""Inbound webhooks: a system pushes events to ``/hooks/<system>/<token>/``.

The hub checks the token and the HMAC signature, stores the event once per provider event id
(redeliveries are counted, not duplicated) and answers at once — no sync runs inline; the sync engine
turns stored events into runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from flows.connectors.paths import get_path
from flows.models import System, WebhookEvent
from integration_hub import crypto

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000


@dataclass
class Outcome:
    status: int
    body: dict


def new_token() -> str:
    return secrets.token_urlsafe(24)


def signature_ok(system: System, body: bytes, headers) -> bool:
    """Does the configured header carry the HMAC-SHA256 of ``body`` under the system's webhook secret?"""
    header = system.webhook_signature_header
    if not header:
        return True
    given = (headers.get(header) or "").strip()
    secret = system.webhook_secret
    if not given or not secret:
        return False
    signed = body
    stamped = _timestamped(given)
    if stamped is not None:
        # ``t=<unix time>,v1=<signature>`` (Stripe's shape): the signature covers "<t>." + body, and a
        # delivery outside the window is refused — a captured request replayed later fails even once
        # its event id was purged from the store.
        timestamp, given = stamped
        if abs(time.time() - timestamp) > settings.HUB_WEBHOOK_TOLERANCE:
            return False
        signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    expected = (
        base64.b64encode(digest).decode() if system.webhook_signature_encoding == "base64" else digest.hex()
    )
    given = given.split("=", 1)[1] if given.lower().startswith("sha256=") else given
    # Bytes, not text: compare_digest refuses non-ASCII text (a forged header must be a 403, not a 500).
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def _timestamped(header: str) -> tuple[int, str] | None:
    """(timestamp, signature) from ``t=1733300000,v1=<signature>``; None for a plain signature."""
    parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return None
    try:
        timestamp = int(parts["t"])
    except ValueError:
        return 0, parts["v1"]  # outside any window: refused
    return (timestamp if 0 < timestamp < 2**40 else 0), parts["v1"]  # 10**400 overflows a float


def _locate(spec: str, headers, data) -> str:
    """A value named ``header:<name>`` or ``body:<path>``; empty when absent."""
    kind, _, name = spec.partition(":")
    if kind == "header":
        return str(headers.get(name) or "")[:200]
    if kind == "body":
        value = get_path(data, name)
        # A NUL cannot be stored (PostgreSQL) and means nothing in an id or a topic.
        return "" if value is None else str(value).replace("\x00", "")[:200]
    return ""


def receive(slug: str, token: str, body: bytes | None, headers) -> Outcome:
    """Check, store and acknowledge one delivery. Never raises for bad input: the status says why.
    ``body`` None: a body too large to be read at all."""
    system = System.objects.filter(slug=slug, webhook_enabled=True).exclude(webhook_token="").first()
    # 404 whether the system or the token is wrong: an unknown address reveals nothing.
    if system is None or not hmac.compare_digest(system.webhook_token.encode(), token.encode()):
        return Outcome(404, {"detail": "Unknown webhook address."})
    if body is None or len(body) > MAX_BODY_BYTES:
        return Outcome(413, {"detail": f"Body larger than {MAX_BODY_BYTES} bytes."})
    if not signature_ok(system, body, headers):
        logger.warning("webhook for system %s refused: bad or missing signature", system.pk)
        return Outcome(403, {"detail": "Signature missing or invalid."})
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: thousands of nested [[
        return Outcome(400, {"detail": "The body is not valid JSON."})
    event_id = _locate(system.webhook_event_id, headers, data) or "sha256:" + hashlib.sha256(body).hexdigest()
    topic = _locate(system.webhook_topic, headers, data)
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(
                system=system,
                event_id=event_id,
                topic=topic,
                payload_encrypted=crypto.encrypt(json.dumps(data)),
            )
    except IntegrityError:
        WebhookEvent.objects.filter(system=system, event_id=event_id).update(deliveries=F("deliveries") + 1)
        return Outcome(200, {"status": "duplicate", "event_id": event_id})
    _dispatch_later(system.pk)
    return Outcome(202, {"status": "accepted", "event_id": event_id})


def _dispatch_later(system_id: int) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task("flows.tasks.dispatch_webhooks", system_id, task_name=f"webhooks {system_id}")
    )


def topic_matches(wanted: str, topic: str) -> bool:
    """A flow's topic: empty matches every event, ``orders/*`` every topic under ``orders/``."""
    wanted = (wanted or "").strip()
    if not wanted:
        return True
    if wanted.endswith("*"):
        return topic.startswith(wanted[:-1])
    return topic == wanted


def dispatch(system_id: int) -> int:
    """Turn the system's unprocessed events into runs of its enabled webhook-triggered flows; returns
    the number of events handled.

    Each flow gets one run request over the ids its events name (``System.webhook_record_id``): the
    engine fetches just those records. Requests coalesce into the flow's waiting run, so a burst of
    events while a run is going on becomes one follow-up run over all of their records. An event
    without a record id asks for an incremental run instead. Two dispatchers meeting the same events
    ask for the same runs, which coalesce: nothing is lost or doubled.
    """
    from django.utils import timezone

    from flows import sync
    from flows.choices import Trigger
    from flows.models import Flow, RunTrigger

    system = System.objects.filter(pk=system_id).first()
    if system is None:
        return 0
    events = list(WebhookEvent.objects.filter(system=system, processed__isnull=True).order_by("pk")[:5000])
    if not events:
        return 0
    flows = list(Flow.objects.filter(source_system=system, enabled=True, trigger=Trigger.WEBHOOK))
    located = []
    for event in events:
        try:
            data = event.payload
        except (ValueError, TypeError):
            data = {}
        record_id = _locate(system.webhook_record_id, {}, data) if system.webhook_record_id else ""
        located.append((event.topic, record_id))
    for flow in flows:
        mine = [(topic, rid) for topic, rid in located if topic_matches(flow.webhook_topic, topic)]
        if not mine:
            continue
        whole = any(not rid for _topic, rid in mine)
        ids = None if whole else [rid for _topic, rid in mine]
        try:
            sync.request_run(flow, trigger=RunTrigger.WEBHOOK, record_ids=ids)
        except sync.RunRefused as exc:
            logger.warning("Webhook run of flow %s not started: %s", flow.pk, exc)
    WebhookEvent.objects.filter(pk__in=[e.pk for e in events]).update(processed=timezone.now())
    if len(events) == 5000:
        _dispatch_later(system.pk)  # more are waiting
    return len(events)


@transaction.atomic
def rotate_token(system: System) -> str:
    """Give the system a new webhook address; the old one stops working at once."""
    system.webhook_token = new_token()
    system.save(update_fields=["webhook_token", "updated"])
    return system.webhook_token
