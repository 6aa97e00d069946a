"""The demo's systems: the sandbox stand-ins (``python -m sandbox serve``, started by ``make run``)
registered with their working credentials. Idempotent: an existing system (matched by slug) is kept
as the admin left it."""

import logging

from flows.choices import Criticality, SystemRole
from flows.models import System

logger = logging.getLogger(__name__)

SANDBOX_HOST = "http://127.0.0.1"

DEMO_SYSTEMS = [
    {
        "slug": "pim",
        "name": "Akeneo PIM (sandbox)",
        "role": SystemRole.PIM,
        "criticality": Criticality.HIGH,
        "connector": "akeneo",
        "description": "Product data: names and descriptions in French and English, families, categories.",
        "parameters": {
            "base_url": f"{SANDBOX_HOST}:8101",
            "client_id": "hub-demo",
            "username": "hub",
            "default_locale": "en_US",
        },
        "secrets": {"client_secret": "pim-demo-secret", "password": "pim-demo-pass"},
    },
    {
        "slug": "shop",
        "name": "Adobe Commerce shop (sandbox)",
        "role": SystemRole.ECOMMERCE,
        "criticality": Criticality.CRITICAL,
        "connector": "magento",
        "description": "The web shop: catalog, stock per source, orders and customer accounts.",
        "parameters": {"base_url": f"{SANDBOX_HOST}:8102", "store_code": "default", "username": "hub"},
        "secrets": {"password": "shop-demo-pass"},
    },
    {
        "slug": "erp",
        "name": "Odoo ERP (sandbox)",
        "role": SystemRole.ERP,
        "criticality": Criticality.CRITICAL,
        "connector": "odoo",
        "description": "Orders, stock per warehouse, invoicing and the customer master.",
        "parameters": {"base_url": f"{SANDBOX_HOST}:8103", "database": "sandbox", "login": "hub"},
        "secrets": {"password": "erp-demo-pass"},
    },
    {
        "slug": "crm",
        "name": "HubSpot CRM (sandbox)",
        "role": SystemRole.CRM,
        "criticality": Criticality.NORMAL,
        "connector": "hubspot",
        "description": "Customer contacts for marketing and sales.",
        "parameters": {"base_url": f"{SANDBOX_HOST}:8104"},
        "secrets": {"access_token": "pat-demo-crm-token"},
    },
    {
        "slug": "shopify",
        "name": "Shopify shop (sandbox)",
        "role": SystemRole.ECOMMERCE,
        "criticality": Criticality.HIGH,
        "connector": "shopify",
        "description": "A Shopify store (Admin GraphQL API): products and variants, inventory per location, "
        "orders and customers.",
        "parameters": {"base_url": f"{SANDBOX_HOST}:8105", "api_version": "2025-10"},
        "secrets": {"access_token": "shpat_demo_hub_token"},
        "optional": True,
    },
    {
        "slug": "woo",
        "name": "WooCommerce shop (sandbox)",
        "role": SystemRole.ECOMMERCE,
        "criticality": Criticality.HIGH,
        "connector": "woocommerce",
        "description": "A second web shop: products and variations with their stock, orders and customers.",
        "parameters": {"base_url": f"{SANDBOX_HOST}:8106"},
        "secrets": {"consumer_key": "ck_demo_hub", "consumer_secret": "cs_demo_secret"},
        "optional": True,
    },
]


def ensure_demo_systems(owner=None, urls: dict | None = None) -> list[System]:
    """Create the demo systems that are missing (connectors not installed are skipped).

    ``urls`` replaces the sandbox base URLs ({slug: url}), for sandboxes on other ports. A system marked
    ``optional`` (a vendor no demo flow uses yet) is left out when ``urls`` names other sandboxes but not
    its own: a caller running a few sandboxes gets no system pointing at one that is not there (a GDPR
    request would find it unreachable).
    """
    from flows.connectors.registry import connector_choices
    from flows.forms import validate_connector_config

    available = {key for key, _label in connector_choices()}
    created = []
    for spec in DEMO_SYSTEMS:
        if spec["connector"] not in available or System.objects.filter(slug=spec["slug"]).exists():
            continue
        if spec.get("optional") and urls and spec["slug"] not in urls:
            continue
        data = {k: v for k, v in spec.items() if k not in ("secrets", "optional")}
        if urls and spec["slug"] in urls:
            data["parameters"] = {**data["parameters"], "base_url": urls[spec["slug"]]}
        # as the connector's own form would store them (its defaults filled in), so that a config
        # export re-imported finds the demo systems unchanged
        params, _secrets, errors = validate_connector_config(spec["connector"], data["parameters"], None, {})
        if not errors.keys() - {"secrets"}:
            data["parameters"] = params
        system = System(owner=owner, rate_limit=50, max_concurrency=4, timeout=20, **data)
        system.secrets = spec["secrets"]
        system.save()
        created.append(system)
    return created


# --- the demo moving data (make run) ------------------------------------------------------------------
#
# ``bootstrap --demo-systems`` turns on the shop's webhooks and enables the template flows on their
# schedules; ``serve --sandbox`` (``run_demo_wiring``) registers the hub's webhook address in the sandbox
# shop once both answer, and enables the stock flow once the catalog's first run has put the products in
# the shop (stock of a product the shop does not have yet would only fail). Only flows untouched since
# the template created them (one version, paused by nobody) are enabled: on a restart, a flow a person
# paused, edited or enabled stays as it is; a flow the failure policy or a maintenance paused too.

DEMO_WEBHOOK_SECRET = "shop-demo-webhook-secret"  # noqa: S105 - a demo value, told to the sandbox
DEMO_WEBHOOK_TOPICS = ["orders/created", "orders/updated"]  # what the orders flow runs on
DEMO_RECORD_ID = "body:entity_id"  # where a sandbox shop event names its record
DEMO_FLOWS = ["catalog", "stock", "orders", "customers", "consent"]  # blueprint keys
WAITS_FOR = {"stock": "catalog"}  # enabled once that flow has completed a run
SANDBOX_ACTIVITY_SECONDS = 20


def configure_demo_webhooks() -> System | None:
    """Turn on the sandbox shop's webhooks (signed with ``DEMO_WEBHOOK_SECRET``, one event per
    ``body:id``, the record in ``body:entity_id``) unless they were ever configured; the shop if changed."""
    from flows import webhooks

    shop = System.objects.filter(slug="shop", connector="magento").first()
    if shop is None:
        return None
    changed = False
    if not shop.webhook_enabled and not shop.webhook_token:
        shop.webhook_enabled = True
        shop.webhook_token = webhooks.new_token()
        shop.webhook_secret = DEMO_WEBHOOK_SECRET
        shop.webhook_signature_header = "X-Hub-Signature-256"
        shop.webhook_signature_encoding = "hex"
        shop.webhook_event_id = "body:id"
        shop.webhook_topic = "header:X-Event-Topic"
        changed = True
    # The record id location came after the first demos: fill it in where the demo set the rest up.
    if not shop.webhook_record_id and shop.webhook_enabled and shop.webhook_secret == DEMO_WEBHOOK_SECRET:
        shop.webhook_record_id = DEMO_RECORD_ID
        changed = True
    if changed:
        shop.save()
        return shop
    return None


def demo_flow(key: str):
    from flows.blueprints import get_blueprint
    from flows.models import Flow

    return Flow.objects.filter(name=str(get_blueprint(key)["title"])).select_related("source_system").first()


def _untouched(flow) -> bool:
    """As the template created it: one version, paused, by nobody."""
    return not flow.enabled and not flow.pause_kind and flow.versions.count() == 1


def _completed_a_run(flow) -> bool:
    from flows.models import RunStatus

    return flow.runs.filter(status__in=[RunStatus.SUCCEEDED, RunStatus.PARTIAL]).exists()


def waiting_demo_flows() -> list[str]:
    """Keys of the demo flows still waiting for another flow's first run before they are enabled."""
    waiting = []
    for key, first in WAITS_FOR.items():
        flow = demo_flow(key)
        if flow is not None and _untouched(flow):
            before = demo_flow(first)
            if before is None or not _completed_a_run(before):
                waiting.append(key)
    return waiting


def enable_demo_flows(author=None) -> list:
    """Enable, on their triggers, the demo template flows untouched since created (see above); the
    orders flow runs on the shop's order webhook (its 5-minute interval is kept as a safety net). Flows
    in ``WAITS_FOR`` wait until the flow they follow has completed a run. The flows enabled."""
    from django.utils.translation import gettext

    from flows import designer

    waiting = set(waiting_demo_flows())
    # The flows that move personal data need an approved register entry first (privacy by design).
    from gdpr.register_demo import ensure_demo_register

    ensure_demo_register(
        {key: flow for key in DEMO_FLOWS if (flow := demo_flow(key)) is not None and _untouched(flow)}, author
    )
    enabled = []
    for key in DEMO_FLOWS:
        flow = demo_flow(key)
        if flow is None or key in waiting or not _untouched(flow):
            continue
        data = designer.definition_of(flow)
        data["enabled"] = True
        if key == "orders" and flow.source_system.webhook_enabled:
            data.update(
                trigger="webhook", webhook_topic="", interval_minutes=data.get("interval_minutes") or 5
            )
        try:
            flow = designer.save_flow(
                data, flow=flow, author=author, comment=gettext("Demo: enabled by make run")
            )
        except designer.DefinitionError as exc:  # a demo system an admin changed: leave it, say why
            logger.warning("Demo flow %r not enabled: %s", flow.name, exc)
            continue
        enabled.append(flow)
    return enabled


def describe_trigger(flow) -> str:
    from django.utils.translation import gettext

    if flow.trigger == "webhook":
        return gettext("on the source's webhook events")
    if flow.trigger == "interval":
        return gettext("every %(n)s min") % {"n": flow.interval_minutes}
    return flow.get_trigger_display()


def register_sandbox_webhooks(hub_url: str, *, timeout: float = 5.0) -> str:
    """Tell the sandbox shop (``PUT /_sandbox/webhooks``) to send its order events to the hub's
    webhook address. Only a shop on a loopback address is told. Returns the address registered;
    raises ``RuntimeError`` (with the reason) when it could not."""
    import httpx

    shop = System.objects.filter(slug="shop").first()
    if shop is None or not shop.webhook_enabled or not shop.webhook_token:
        raise RuntimeError("the shop system does not receive webhooks")
    base = (shop.parameters or {}).get("base_url", "").rstrip("/")
    if not _loopback(base):
        raise RuntimeError(f"the shop at {base or '?'} is not the local sandbox")
    address = hub_url.rstrip("/") + shop.get_webhook_url()
    body = [{"url": address, "secret": shop.webhook_secret, "topics": DEMO_WEBHOOK_TOPICS}]
    response = httpx.put(f"{base}/_sandbox/webhooks", json=body, timeout=timeout, trust_env=False)
    if response.status_code != 200:
        raise RuntimeError(f"the sandbox answered {response.status_code}: {response.text[:200]}")
    return address


def _loopback(url: str) -> bool:
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2, trust_env=False).status_code < 500
    except httpx.HTTPError:
        return False


def run_demo_wiring(hub_url: str, stop, say=print, *, poll: float = 5.0, timeout: float = 120.0) -> None:
    """``serve --sandbox``'s helper thread: once the console and the sandbox shop answer, register the
    hub's webhook address in the sandbox; then enable the flows that wait (stock after the catalog's
    first run) as soon as they may. ``stop`` is a ``threading.Event``; ``say`` prints a line."""
    import time

    from django.db import connection
    from django.utils.translation import gettext

    from integration_hub.context import acting_as

    try:
        with acting_as(None, source="command:serve"):
            shop = System.objects.filter(slug="shop").first()
            base = ((shop.parameters or {}).get("base_url", "") if shop else "").rstrip("/")
            deadline = time.monotonic() + timeout
            while not stop.is_set() and time.monotonic() < deadline:
                if _answers(f"{hub_url}/healthz") and (not base or _answers(f"{base}/_sandbox/info")):
                    break
                stop.wait(1.0)
            if shop is not None and shop.webhook_enabled and not stop.is_set():
                try:
                    address = register_sandbox_webhooks(hub_url)
                    say(gettext("Sandbox shop sends its order events to %(url)s") % {"url": address})
                except Exception as exc:
                    say(gettext("Sandbox shop webhooks not registered: %(reason)s") % {"reason": exc})
            while not stop.is_set() and waiting_demo_flows():
                stop.wait(poll)
                if stop.is_set():
                    break
                for flow in enable_demo_flows():
                    say(
                        gettext("Demo flow enabled: %(name)s (%(trigger)s)")
                        % {"name": flow.name, "trigger": describe_trigger(flow)}
                    )
    except Exception:
        logger.exception("Demo wiring failed")
    finally:
        connection.close()
