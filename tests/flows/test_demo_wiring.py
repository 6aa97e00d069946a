"""make run moves data: bootstrap --demo-systems enables the template flows on their schedules (stock once
the catalog has run), turns on the shop's webhooks, and serve --sandbox registers the hub's webhook
address in the sandbox shop. Idempotent; a flow a person paused or edited is left alone."""

import json
import time

import httpx
import pytest
from django.core.management import call_command
from django_q.models import Schedule

from flows import demo, designer
from flows.choices import PauseKind
from flows.models import Flow, Run, RunStatus, RunTrigger, System, WebhookEvent
from flows.schedules import schedule_name
from sandbox.testing import running
from tests.sandbox.conftest import Odoo, shop_client

TITLES = {
    "catalog": "Catalog: PIM → shop",
    "stock": "Stock: ERP → shop",
    "orders": "Orders: shop → ERP",
    "customers": "Customers: shop → CRM",
    "consent": "Marketing consent: CRM → shop",
}


def flow(key: str) -> Flow:
    return Flow.objects.get(name=TITLES[key])


def scheduled(key: str) -> Schedule | None:
    return Schedule.objects.filter(name=schedule_name(flow(key).pk)).first()


def bootstrap(capture) -> str:
    from io import StringIO

    out = StringIO()
    with capture(execute=True):
        call_command("bootstrap", demo_admin=True, demo_systems=True, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(databases="__all__")
def test_bootstrap_enables_the_template_flows_on_their_schedules_once(django_capture_on_commit_callbacks):
    out = bootstrap(django_capture_on_commit_callbacks)
    assert "Demo flow enabled: Catalog: PIM → shop (every 60 min)" in out
    assert "Demo flow Stock: ERP → shop is enabled once Catalog: PIM → shop has run." in out

    for key in ("catalog", "orders", "customers", "consent"):
        assert flow(key).enabled, key
        assert flow(key).versions.count() == 2
    for key, minutes in (("catalog", 60), ("customers", 15), ("consent", 15)):
        schedule = scheduled(key)
        assert schedule is not None and schedule.minutes == minutes
    orders = flow("orders")
    assert (orders.trigger, orders.webhook_topic, orders.interval_minutes) == ("webhook", "", 5)
    # The stock flow waits for the catalog: stock of products the shop does not have would only fail.
    assert not flow("stock").enabled and scheduled("stock") is None
    assert demo.waiting_demo_flows() == ["stock"]

    shop = System.objects.get(slug="shop")
    assert shop.webhook_enabled and shop.webhook_token
    assert shop.webhook_secret == demo.DEMO_WEBHOOK_SECRET
    assert (shop.webhook_signature_header, shop.webhook_event_id, shop.webhook_topic) == (
        "X-Hub-Signature-256",
        "body:id",
        "header:X-Event-Topic",
    )
    assert shop.webhook_record_id == "body:entity_id"

    # Again (every make run): nothing new, nothing changed.
    token = shop.webhook_token
    versions = {f.name: f.versions.count() for f in Flow.objects.all()}
    out = bootstrap(django_capture_on_commit_callbacks)
    assert "Demo flow created" not in out and "Demo flow enabled" not in out
    assert Flow.objects.count() == 5
    assert {f.name: f.versions.count() for f in Flow.objects.all()} == versions
    assert System.objects.get(slug="shop").webhook_token == token


@pytest.mark.django_db(databases="__all__")
def test_the_stock_flow_is_enabled_once_the_catalog_has_run(django_capture_on_commit_callbacks):
    bootstrap(django_capture_on_commit_callbacks)
    catalog = flow("catalog")
    Run.objects.create(
        flow=catalog, version=catalog.current_version, trigger=RunTrigger.SCHEDULE, status=RunStatus.FAILED
    )
    assert demo.enable_demo_flows() == [], "a failed catalog run put nothing in the shop"
    Run.objects.create(
        flow=catalog, version=catalog.current_version, trigger=RunTrigger.SCHEDULE, status=RunStatus.PARTIAL
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert [f.name for f in demo.enable_demo_flows()] == [TITLES["stock"]]
    stock = flow("stock")
    assert stock.enabled and scheduled("stock").minutes == 1
    assert demo.waiting_demo_flows() == [] and demo.enable_demo_flows() == []


@pytest.mark.django_db(databases="__all__")
def test_flows_a_person_paused_or_edited_stay_as_they_are(django_capture_on_commit_callbacks):
    bootstrap(django_capture_on_commit_callbacks)
    designer.pause_flow(flow("customers"), kind=PauseKind.PERSON)
    data = designer.definition_of(flow("stock"))
    data["description"] = "Ours now."
    designer.save_flow(data, flow=flow("stock"))  # edited while it waited: a person's flow now
    catalog = flow("catalog")
    Run.objects.create(
        flow=catalog, version=catalog.current_version, trigger=RunTrigger.SCHEDULE, status=RunStatus.SUCCEEDED
    )
    out = bootstrap(django_capture_on_commit_callbacks)
    assert "Demo flow enabled" not in out
    assert not flow("customers").enabled and flow("customers").pause_kind == PauseKind.PERSON
    assert not flow("stock").enabled and demo.waiting_demo_flows() == []


@pytest.mark.django_db(databases="__all__")
def test_the_hub_webhook_address_is_registered_in_the_sandbox_shop():
    with running("shop") as url:
        demo.ensure_demo_systems(urls={"shop": url})
        shop = demo.configure_demo_webhooks()
        assert shop is not None and demo.configure_demo_webhooks() is None, "once"
        address = demo.register_sandbox_webhooks("http://127.0.0.1:8000")
        assert address == f"http://127.0.0.1:8000/hooks/shop/{shop.webhook_token}/"
        assert httpx.get(f"{url}/_sandbox/webhooks").json() == [
            {"url": address, "topics": demo.DEMO_WEBHOOK_TOPICS, "secret": "***"}
        ]
    System.objects.filter(slug="shop").update(parameters={"base_url": "https://shop.example.com"})
    with pytest.raises(RuntimeError, match="not the local sandbox"):
        demo.register_sandbox_webhooks("http://127.0.0.1:8000")


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_an_order_placed_in_the_sandbox_shop_reaches_the_hub_and_the_erp(asgi_url, request):
    """Sandbox shop order → signed event to the live hub's /hooks/ address → stored event → (once the
    engine dispatches events) a webhook run of the orders flow that writes the order into the ERP."""
    with running(["shop", "erp"]) as urls:
        demo.ensure_demo_systems(urls=urls)
        System.objects.filter(slug__in=["pim", "crm"]).delete()  # only the orders flow, on these two
        demo.configure_demo_webhooks()
        from flows.blueprints import ensure_demo_flows

        ensure_demo_flows()
        demo.enable_demo_flows()
        # stock waits for a catalog that is not there: only the orders flow runs
        assert list(Flow.objects.filter(enabled=True).values_list("name", flat=True)) == [TITLES["orders"]]
        orders = flow("orders")
        assert orders.enabled and orders.trigger == "webhook"
        demo.register_sandbox_webhooks(asgi_url)
        request.getfixturevalue("worker")  # a real django-q2 cluster turns the event into a run

        shop = shop_client(urls["shop"])
        email = shop.get("/customers/12").json()["email"]
        placed = shop.post(
            "/orders",
            json={
                "entity": {
                    "customer_email": email,
                    "items": [{"sku": "CHR-0003", "qty_ordered": 1, "price": 80}],
                }
            },
        ).json()

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not WebhookEvent.objects.exists():
            time.sleep(0.1)
        event = WebhookEvent.objects.get()
        assert event.topic == "orders/created"
        assert event.payload["entity_id"] == placed["entity_id"]
        assert event.payload["increment_id"] == placed["increment_id"]
        # The shop counts the delivery once it has read the hub's answer, which may be a moment after
        # the hub stored the event.
        stats = httpx.get(f"{urls['shop']}/_sandbox/stats").json()["webhooks"]
        while time.monotonic() < deadline and stats["delivered"] == 0:
            time.sleep(0.1)
            stats = httpx.get(f"{urls['shop']}/_sandbox/stats").json()["webhooks"]
        assert stats["delivered"] == 1 and stats["by_status"] == {"202": 1}

        deadline = time.monotonic() + 60
        run = None
        while time.monotonic() < deadline:
            run = Run.objects.filter(flow=orders, trigger=RunTrigger.WEBHOOK).order_by("-pk").first()
            if run is not None and run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
                break
            time.sleep(0.2)
        assert run is not None and run.status == RunStatus.SUCCEEDED, run and (run.status, run.message)
        assert run.record_ids == [str(placed["entity_id"])]
        assert (run.read, run.created) == (1, 1)
        erp = Odoo(urls["erp"])
        found = erp.execute(
            "sale.order",
            "search_read",
            [["client_order_ref", "=", placed["increment_id"]]],
            fields=["partner_id"],
        )
        assert len(found) == 1, json.dumps(found)
        partner = erp.execute("res.partner", "read", [found[0]["partner_id"][0]], fields=["email"])[0]
        assert partner["email"] == email  # the template maps no lines: the ERP's total stays 0
