"""Secrets never leak: the demo systems are created with the sandbox credentials, then every output the
hub can produce about them is searched for those values — raw, base64 (HTTP basic auth among them),
URL-encoded and JSON-escaped:

every console page and API endpoint (walking the resolver with each demo system as the object, plus the
CSV exports of the lists), the audit log (pages, API and the stored diffs), config-as-code exports (YAML
and JSON), the plain-words error of a connection test against a stopped sandbox (console and API), and
every log line written meanwhile, at DEBUG, through both the console and the JSON formatter.
"""

import base64
import json
import logging
import socket
from urllib.parse import quote, quote_plus

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from flows import configio, demo, services
from flows.models import System
from integration_hub.log import JsonFormatter
from integration_hub.models import AuditEntry
from sandbox import credentials
from tests.factories import UserFactory
from tests.hub.test_url_access import (  # noqa: F401 — ``objects`` is the shared fixture of sample rows
    PUBLIC_URL_NAMES,
    all_urls,
    is_api,
    objects,
    view_model,
)

pytestmark = pytest.mark.django_db(databases="__all__")


def closed_port() -> int:
    """A loopback port nothing listens on: the sandbox is stopped."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sandbox_secrets() -> set[str]:
    values = {demo.DEMO_WEBHOOK_SECRET}
    for spec in demo.DEMO_SYSTEMS:
        values.update(v for v in spec["secrets"].values() if isinstance(v, str))
    for creds in (
        credentials.PimCredentials(),
        credentials.ShopCredentials(),
        credentials.ErpCredentials(),
    ):
        values.update(
            getattr(creds, f) for f in ("secret", "password") if isinstance(getattr(creds, f, None), str)
        )
    return {v for v in values if len(v) >= 8}


def forms_of(secret: str, usernames: set[str]) -> set[str]:
    """The shapes a secret can take on its way out."""
    shapes = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        base64.b64encode(secret.encode()).decode().rstrip("="),
        base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
    }
    for user in usernames:  # HTTP basic auth: base64 of "user:secret"
        shapes.add(base64.b64encode(f"{user}:{secret}".encode()).decode().rstrip("="))
    return shapes


class Scanner:
    def __init__(self, secrets: set[str], usernames: set[str]):
        self.patterns = {shape: secret for secret in secrets for shape in forms_of(secret, usernames)}
        self.leaks: list[str] = []
        self.outputs = 0

    def scan(self, where: str, text) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        text = str(text)
        self.outputs += 1
        for shape, secret in self.patterns.items():
            if shape in text:
                self.leaks.append(f"{where}: {secret!r} as {shape!r}")

    def response(self, where: str, response) -> None:
        body = (
            b"".join(response.streaming_content)
            if getattr(response, "streaming", False)
            else response.content
        )
        self.scan(where, body)
        self.scan(f"{where} headers", "\n".join(f"{k}: {v}" for k, v in response.items()))


@pytest.fixture
def demo_systems(objects):  # noqa: F811
    owner = UserFactory(username="secrets-admin")
    owner.is_superuser = True
    owner.save()
    port = closed_port()
    created = demo.ensure_demo_systems(
        owner=owner, urls={spec["slug"]: f"http://127.0.0.1:{port}" for spec in demo.DEMO_SYSTEMS}
    )
    shop = System.objects.get(slug="shop")
    shop.webhook_enabled = True
    shop.webhook_secret = demo.DEMO_WEBHOOK_SECRET
    shop.save()
    assert {s.slug for s in created} >= {"pim", "shop", "erp", "crm"}
    return owner, created


def test_no_output_of_the_hub_carries_a_sandbox_secret(demo_systems, objects, caplog):  # noqa: F811
    owner, systems = demo_systems
    secrets = sandbox_secrets()
    assert len(secrets) >= 6, secrets
    usernames = {
        str(v)
        for spec in demo.DEMO_SYSTEMS
        for k, v in spec["parameters"].items()
        if k in ("username", "login", "client_id")
    }
    scanner = Scanner(secrets, usernames)
    # The secrets are really there, encrypted at rest and readable by the connectors.
    assert System.objects.get(slug="shop").secrets["password"] == "shop-demo-pass"

    caplog.set_level(logging.DEBUG)
    ui, api = Client(), APIClient()
    ui.force_login(owner)
    api.force_login(owner)

    # A connection test against the stopped sandbox: every connector through the service (the message
    # the console and the API show), then the console's and the API's answers for two of them (each
    # failed test retries with backoff, so not all of them).
    for system in systems:
        result = services.check_system(system)
        assert not result.ok
        scanner.scan(f"check {system.slug}", f"{result.message} {result.detail}")
    for system in [s for s in systems if s.slug in ("pim", "shop")]:
        scanner.response(f"UI check {system.slug}", ui.post(reverse("flows:system_check", args=[system.pk])))
        scanner.response(
            f"API check {system.slug}", api.post(reverse("flows-api:system-check", args=[system.pk]))
        )
        scanner.response(
            f"API discover {system.slug}", api.post(reverse("flows-api:system-discover", args=[system.pk]))
        )

    # An edit that changes a secret and one that does not: the audit diff must show neither value.
    shop = System.objects.get(slug="shop")
    edited = api.patch(
        reverse("flows-api:system-detail", args=[shop.pk]),
        {"secrets": {"password": "shop-demo-pass"}, "description": "edited"},
        format="json",
    )
    assert edited.status_code == 200, edited.content
    scanner.response("API system edit", edited)

    # Every page and endpoint, once with each demo system as the object of system URLs.
    walked = 0
    for system in systems:
        objects[System] = system
        for name, url, callback in all_urls(objects):
            if name in PUBLIC_URL_NAMES or name == "logout":
                continue
            if system is not systems[0] and view_model(callback) is not System:
                continue  # the rest of the walk is the same for every system
            client = api if is_api(callback) else ui
            response = client.get(url)
            assert response.status_code < 500, (name, url)
            scanner.response(f"GET {url}", response)
            if not is_api(callback) and name.endswith("_list"):
                scanner.response(f"GET {url}?export=csv", client.get(url, {"export": "csv"}))
            walked += 1
    assert walked > 150

    # Config as code, both formats, and the audit log as stored.
    exported = configio.export_config(owner)
    for fmt in configio.FORMATS:
        scanner.scan(f"config export {fmt}", configio.dumps(exported, fmt))
    for entry in AuditEntry.objects.all():
        scanner.scan(f"audit entry {entry.pk}", json.dumps([entry.before, entry.after], default=str))
        scanner.scan(f"audit entry {entry.pk} message", entry.message)
    assert AuditEntry.objects.filter(object_id=str(shop.pk)).exists()

    # Every log line written above, as the console and the JSON formatter print it.
    json_formatter, text_formatter = JsonFormatter(), logging.Formatter("%(levelname)s %(name)s %(message)s")
    for record in caplog.records:
        scanner.scan(f"log {record.name}", json_formatter.format(record))
        scanner.scan(f"log {record.name}", text_formatter.format(record))

    print(
        f"\nsecrets scan: {len(secrets)} secrets, {len(scanner.patterns)} shapes, {scanner.outputs} outputs"
    )
    assert not scanner.leaks, "\n".join(scanner.leaks[:50])


def test_the_scanner_finds_a_secret_in_any_of_its_shapes():
    """The scan above is only worth something if it would see a leak."""
    scanner = Scanner({"shop-demo-pass"}, {"hub"})
    scanner.scan("raw", "password=shop-demo-pass")
    scanner.scan("url", "p=shop-demo-pass%21"[:-3].replace("-", "%2D") + quote("shop-demo-pass", safe=""))
    scanner.scan("basic", "Authorization: Basic " + base64.b64encode(b"hub:shop-demo-pass").decode())
    scanner.scan("clean", "nothing here")
    assert [leak.split(":")[0] for leak in scanner.leaks] == ["raw", "url", "basic"]


def test_secret_values_are_not_readable_back_through_the_api(demo_systems):
    owner, _systems = demo_systems
    api = APIClient()
    api.force_login(owner)
    body = api.get(reverse("flows-api:system-detail", args=[System.objects.get(slug="erp").pk])).json()
    assert "secrets" not in body
    assert "erp-demo-pass" not in json.dumps(body)
    assert get_user_model().objects.filter(pk=owner.pk).exists()
