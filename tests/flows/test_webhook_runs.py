"""Webhook-triggered runs: the shop announces changed orders; the hub fetches just those and writes them
to the ERP; a burst of events during a run becomes one follow-up run over all of their records."""

import hashlib
import hmac
import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from flows import blueprints, designer, sync, webhooks
from flows.demo import ensure_demo_systems
from flows.models import Run, RunStatus, WebhookEvent
from sandbox.testing import running
from tests.factories import approved_activity_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
SECRET = "whsec-demo"


@pytest.fixture
def systems():
    with running(["shop", "erp"]) as urls:
        systems = {s.slug: s for s in ensure_demo_systems(urls=urls)}
        shop = systems["shop"]
        shop.webhook_enabled = True
        shop.webhook_token = webhooks.new_token()
        shop.webhook_secret = SECRET
        shop.webhook_event_id = "body:id"
        shop.webhook_topic = "header:X-Event-Topic"
        shop.webhook_record_id = "body:entity_id"
        shop.save()
        yield systems


def announce(shop, event_id: str, entity_id, topic="orders/updated"):
    body = json.dumps({"id": event_id, "entity_id": entity_id}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return Client().post(
        reverse("hooks:receive", args=["shop", shop.webhook_token]),
        data=body,
        content_type="application/json",
        HTTP_X_EVENT_TOPIC=topic,
        HTTP_X_HUB_SIGNATURE_256=signature,
    )


def webhook_orders_flow(topic=""):
    flow = blueprints.create_from_blueprint("orders")
    approved_activity_for(flow)  # it maps the customer's e-mail: the GDPR register must cover it
    data = designer.definition_of(flow)
    data.update(enabled=True, trigger="webhook", webhook_topic=topic)
    return designer.save_flow(data, flow=flow)


def shop_orders(system, n):
    connector = system.get_connector()
    try:
        orders = next(iter(connector.read("orders", limit=n))).records
    finally:
        connector.close()
    return [o for o in orders if o["state"] != "canceled"][:n]


def test_an_order_event_runs_the_flow_over_that_order_only(systems):
    flow = webhook_orders_flow(topic="orders/*")
    order = shop_orders(systems["shop"], 1)[0]
    assert announce(systems["shop"], "evt-1", order["entity_id"]).status_code == 202
    run = Run.objects.get(flow=flow)
    assert (run.trigger, run.record_ids, run.read_all) == ("webhook", [str(order["entity_id"])], False)
    assert run.status == RunStatus.SUCCEEDED and (run.read, run.created + run.updated) == (1, 1)
    erp = systems["erp"].get_connector()
    try:
        (found,) = erp.lookup("sale_orders", "client_order_ref", [order["increment_id"]])
    finally:
        erp.close()
    assert found["partner_email"] == order["customer_email"].strip().lower()
    assert WebhookEvent.objects.get().processed is not None

    # An event of another topic starts nothing.
    assert (
        announce(systems["shop"], "evt-2", order["entity_id"], topic="customers/updated").status_code == 202
    )
    assert Run.objects.filter(flow=flow).count() == 1


def test_events_during_a_run_become_one_follow_up_run_over_their_records(systems):
    flow = webhook_orders_flow()
    busy = Run.objects.create(
        flow=flow, version=flow.current_version, trigger="manual", status=RunStatus.RUNNING,
        heartbeat=timezone.now(),
    )  # fmt: skip
    orders = shop_orders(systems["shop"], 5)
    for index, order in enumerate(orders):
        assert announce(systems["shop"], f"evt-{index}", order["entity_id"]).status_code == 202
    waiting = Run.objects.get(flow=flow, status=RunStatus.QUEUED)
    assert waiting.record_ids == [str(o["entity_id"]) for o in orders]

    Run.objects.filter(pk=busy.pk).update(status=RunStatus.SUCCEEDED, finished=timezone.now())
    sync.start_queued(flow.pk)  # what the running run does when it ends
    waiting.refresh_from_db()
    assert waiting.status == RunStatus.SUCCEEDED and waiting.read == len(orders)
    assert waiting.created + waiting.updated == len(orders)


def test_the_record_id_must_be_read_from_the_body(systems):
    from integration_hub.roles import INTEGRATION_ADMIN
    from tests.factories import UserFactory

    admin = Client()
    admin.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    shop = systems["shop"]
    page = admin.get(reverse("flows:system_edit", args=[shop.pk]))
    form = page.context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, dict | list)}
    data.update({"webhook_record_id": "header:X-Id"})
    response = admin.post(reverse("flows:system_edit", args=[shop.pk]), data)
    assert "body:entity_id" in response.content.decode()
    shop.refresh_from_db()
    assert shop.webhook_record_id == "body:entity_id"
