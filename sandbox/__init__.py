"""Runnable stand-ins for the hub's foreign systems, speaking real vendor API shapes.

- ``sandbox.pim``: Akeneo PIM REST API v1
- ``sandbox.shop``: Adobe Commerce (Magento) 2.4 admin REST API
- ``sandbox.erp``: Odoo 17 external JSON-RPC API
- ``sandbox.crm``: HubSpot CRM v3 objects API (contacts, companies, deals, products)
- ``sandbox.shopify``: Shopify Admin GraphQL API (2025-10)

This package stands for foreign systems: it shares no code with the hub (no Django, no
``integration_hub``/``flows``/``monitoring``/``gdpr`` imports). Start them with
``python -m sandbox serve``; in tests use :func:`sandbox.testing.running`.
"""

from pathlib import Path

SPEC_DIR = Path(__file__).resolve().parent / "specs"
MAGENTO_SPEC = SPEC_DIR / "magento-admin-2.4.9.openapi3.json"
