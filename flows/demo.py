"""The demo's systems: the four sandbox stand-ins (``python -m sandbox serve``, started by ``make run``)
registered with their working credentials. Idempotent: an existing system (matched by slug) is kept
as the admin left it."""

from flows.choices import Criticality, SystemRole
from flows.models import System

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
]


def ensure_demo_systems(owner=None, urls: dict | None = None) -> list[System]:
    """Create the demo systems that are missing (connectors not installed are skipped).

    ``urls`` replaces the sandbox base URLs ({slug: url}), for sandboxes on other ports.
    """
    from flows.connectors.registry import connector_choices

    available = {key for key, _label in connector_choices()}
    created = []
    for spec in DEMO_SYSTEMS:
        if spec["connector"] not in available or System.objects.filter(slug=spec["slug"]).exists():
            continue
        data = {k: v for k, v in spec.items() if k != "secrets"}
        if urls and spec["slug"] in urls:
            data["parameters"] = {**data["parameters"], "base_url": urls[spec["slug"]]}
        system = System(owner=owner, rate_limit=50, max_concurrency=4, timeout=20, **data)
        system.secrets = spec["secrets"]
        system.save()
        created.append(system)
    return created
