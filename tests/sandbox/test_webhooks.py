"""Outbound webhooks of the stand-ins (sandbox.webhooks) and the demo activity (sandbox.activity)."""

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from sandbox.activity import Activity
from sandbox.server import build
from sandbox.testing import running

from .conftest import AFTER_SEED, Odoo, pim_client, shop_client

SECRET = "whsec-sandbox-test"


class Receiver:
    """A local HTTP endpoint recording what it is sent; ``statuses`` are answered in turn (then 200)."""

    def __init__(self, statuses=(), delay: float = 0.0) -> None:
        self.statuses = list(statuses)
        self.delay = delay
        self.received: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if outer.delay:
                    time.sleep(outer.delay)
                self.send_response(outer.statuses.pop(0) if outer.statuses else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/shop/tok/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 10.0) -> list[tuple[dict, bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def subscribe(url: str, target: str, **extra) -> httpx.Response:
    body = {"subscriptions": [{"url": target, "secret": SECRET, **extra}], "backoff_s": 0.05}
    return httpx.put(f"{url}/_sandbox/webhooks", json=body)


def test_an_order_created_through_the_api_is_sent_signed_to_the_subscriber(receiver):
    with running("shop") as url:
        assert subscribe(url, receiver.url, topics=["orders/*"]).status_code == 200
        assert httpx.get(f"{url}/_sandbox/webhooks").json() == [
            {"url": receiver.url, "topics": ["orders/*"], "secret": "***"}
        ]
        shop = shop_client(url)
        customer = shop.get("/customers/7").json()
        created = shop.post(
            "/orders",
            json={
                "entity": {
                    "customer_email": customer["email"],
                    "items": [{"sku": "CHR-0001", "qty_ordered": 2, "price": 50}],
                }
            },
        )
        assert created.status_code == 200, created.text
        order = created.json()
        assert order["customer_id"] == 7 and order["grand_total"] == 129.9  # 100 + 20 % tax + 9.90 shipping
        assert order["created_at"] > AFTER_SEED and order["updated_at"] > AFTER_SEED

        headers, body = receiver.wait(1)[0]
        event = json.loads(body)
        assert event["topic"] == "orders/created" and event["source"] == "shop"
        assert (event["entity_id"], event["increment_id"]) == (order["entity_id"], order["increment_id"])
        assert headers["x-event-topic"] == "orders/created" and headers["x-event-id"] == event["id"]
        assert headers["content-type"] == "application/json"
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-hub-signature-256"], expected)

        # A status comment is an update; customers are not on this subscription.
        shop.post(
            f"/orders/{order['entity_id']}/comments",
            json={"statusHistory": {"comment": "Packed", "status": "processing"}},
        )
        shop.put("/customers/7", json={"customer": {"firstname": "Renamed"}})
        received = receiver.wait(2)
        time.sleep(0.2)
        assert sorted(json.loads(b)["topic"] for _, b in received) == ["orders/created", "orders/updated"]
        stats = httpx.get(f"{url}/_sandbox/stats").json()["webhooks"]
        assert stats["events"] == 2 and stats["delivered"] == 2 and stats["failed"] == 0
        assert stats["by_status"] == {"200": 2}
        assert httpx.get(f"{url}/_sandbox/stats").json()["total"] >= 4, (
            "API calls are counted, deliveries apart"
        )


def test_customer_and_product_changes_are_events_too(receiver):
    with running("shop") as url:
        subscribe(url, receiver.url)
        shop = shop_client(url)
        shop.put("/customers/3", json={"customer": {"lastname": "Martin-Durand"}})
        shop.put("/customers/3", json={"customer": {"lastname": "Martin-Durand"}})  # unchanged: no event
        shop.post("/products", json={"product": {"sku": "NEW-1", "name": "New", "price": 10}})
        shop.put("/products/NEW-1", json={"product": {"price": 12}})
        shop.delete("/products/NEW-1")
        receiver.wait(4)
        time.sleep(0.2)
        # deliveries run side by side: the order of arrival is not the order of the events
        events = sorted((json.loads(b) for _, b in receiver.received), key=lambda e: e["created_at"])
        assert len(events) == 4
        assert (events[0]["topic"], events[0]["entity_id"]) == ("customers/updated", 3)
        assert [e["topic"] for e in events[1:]] == [
            "products/created",
            "products/updated",
            "products/deleted",
        ]
        assert {e.get("sku") for e in events[1:]} == {"NEW-1"}


@pytest.mark.timing
def test_deliveries_are_retried_with_backoff_and_never_block_the_api():
    slow = Receiver(statuses=[503, 503], delay=0.3)
    try:
        with running("shop") as url:
            subscribe(url, slow.url)
            shop = shop_client(url)
            started = time.monotonic()
            shop.put("/customers/4", json={"customer": {"firstname": "Zoé"}})
            assert time.monotonic() - started < 0.3, "the API answer does not wait for the delivery"
            received = slow.wait(3)
            assert len(received) == 3
            assert [h["x-sandbox-attempt"] for h, _ in received] == ["1", "2", "3"]
            assert len({b for _, b in received}) == 1, "a retry sends the same event"
            time.sleep(0.5)
            stats = httpx.get(f"{url}/_sandbox/stats").json()["webhooks"]
            assert (
                stats["retries"] == 2
                and stats["delivered"] == 1
                and stats["by_status"] == {"503": 2, "200": 1}
            )
    finally:
        slow.close()


def test_a_receiver_that_refuses_or_is_down_ends_as_failed():
    refusing = Receiver(statuses=[403])
    try:
        with running("shop") as url:
            body = {
                "subscriptions": [
                    {"url": refusing.url, "secret": SECRET},
                    {"url": "http://127.0.0.1:9/nobody-here", "secret": SECRET},
                ],
                "attempts": 2,
                "backoff_s": 0.01,
            }
            assert httpx.put(f"{url}/_sandbox/webhooks", json=body).status_code == 200
            shop_client(url).put("/customers/5", json={"customer": {"firstname": "Luc"}})
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                stats = httpx.get(f"{url}/_sandbox/stats").json()["webhooks"]
                if stats["failed"] == 2:
                    break
                time.sleep(0.05)
            assert stats["failed"] == 2 and stats["delivered"] == 0
            assert len(refusing.received) == 1, "a 403 is not retried"
            assert stats["by_status"] == {"403": 1, "error": 2}, "a connection error is retried"
            assert httpx.post(f"{url}/_sandbox/stats/reset").json()["webhooks"]["failed"] == 0
    finally:
        refusing.close()


@pytest.mark.parametrize(
    "body",
    [
        [{"url": "http://example.com/hook", "secret": "s"}],
        [{"url": "http://10.0.0.8:8000/hook", "secret": "s"}],
        [{"url": "ftp://127.0.0.1/hook", "secret": "s"}],
        [{"url": "http://127.0.0.1.nip.io/hook", "secret": "s"}],
        [{"url": "http://127.0.0.1/hook", "secret": 3}],
        [{"url": "http://127.0.0.1/hook", "topics": "orders/created"}],
        [{"url": "http://127.0.0.1/hook", "color": "red"}],
        {"subscriptions": [], "attempts": 0},
        "not a list",
    ],
)
def test_only_loopback_subscriptions_are_accepted(body):
    with running("erp") as url:
        httpx.put(f"{url}/_sandbox/webhooks", json=[{"url": "http://[::1]:8000/ok", "secret": ""}])
        response = httpx.put(f"{url}/_sandbox/webhooks", json=body)
        assert response.status_code == 400, response.text
        assert httpx.get(f"{url}/_sandbox/webhooks").json() == [
            {"url": "http://[::1]:8000/ok", "topics": [], "secret": ""}
        ], "a refused PUT changes nothing"


def test_activity_places_orders_moves_stock_and_edits_the_pim(receiver):
    started = datetime.now(UTC) - timedelta(seconds=1)
    since = started.strftime("%Y-%m-%d %H:%M:%S")
    with running(["pim", "shop", "erp"], activity=0.2) as urls:
        subscribe(urls["shop"], receiver.url, topics=["orders/created"])
        shop = shop_client(urls["shop"])
        criteria = {
            "searchCriteria[filterGroups][0][filters][0][field]": "updated_at",
            "searchCriteria[filterGroups][0][filters][0][value]": since,
            "searchCriteria[filterGroups][0][filters][0][conditionType]": "gt",
        }
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            fresh = shop.get("/orders", params=criteria).json()
            if fresh["total_count"] >= 3:
                break
            time.sleep(0.1)
        assert fresh["total_count"] >= 3, "an order every tick"
        for order in fresh["items"]:
            assert order["entity_id"] > 300 and order["status"] == "pending"
            assert order["created_at"] >= since and order["items"]
            customer = shop.get(f"/customers/{order['customer_id']}").json()
            assert customer["email"] == order["customer_email"], "an existing customer"
        assert receiver.wait(3) and json.loads(receiver.received[0][1])["topic"] == "orders/created"

        erp = Odoo(urls["erp"])
        moved = erp.execute("stock.quant", "search_read", [["write_date", ">", since]], fields=["quantity"])
        assert len(moved) >= 3
        edited = pim_client(urls["pim"]).get(
            "/api/rest/v1/products",
            params={"search": json.dumps({"updated": [{"operator": ">", "value": since}]})},
        )
        assert edited.status_code == 200 and edited.json()["_embedded"]["items"], (
            "the first tick edits the PIM"
        )


def test_activity_ticks_are_plain_calls_and_off_by_default(monkeypatch):
    monkeypatch.setenv("SANDBOX_ACTIVITY_SECONDS", "0.1")
    with running("shop") as url:
        time.sleep(0.4)
        assert shop_client(url).get("/orders/301").status_code == 404, "no activity unless asked"
    apps = {name: build(name, store_path=None, seed=42) for name in ("pim", "shop", "erp")}
    try:
        activity = Activity(apps, 20, seed=1)
        first, second, third = activity.tick(), activity.tick(), activity.tick()
        assert [t["shop"]["order"]["entity_id"] for t in (first, second, third)] == [301, 302, 303]
        assert "pim" in first and "pim" not in second and "customer_updated" in third["shop"]
        assert len(first["erp"]["stock_quants"]) >= 1
        sku = first["pim"]["product"]
        product = apps["pim"].store.get("product", sku)
        assert product["updated_at"] > AFTER_SEED.replace(" ", "T")
        assert product["values"]["price"][0]["data"][0]["amount"] == f"{first['pim']['price']:.2f}"
    finally:
        for app in apps.values():
            app.close()
    with pytest.raises(ValueError):
        Activity({}, 0)
