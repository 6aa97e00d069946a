"""Odoo 19's JSON-2 API (``/json/2`` with an API key) against the ``erp`` stand-in: the same preset as
``odoo.py`` through its other transport, over the same store."""

from dataclasses import replace

from sandbox.credentials import ErpCredentials
from tests.contract.cases.odoo import CASE
from tests.contract.vendors import register

CREDS = ErpCredentials()


register(
    replace(
        CASE,
        key="odoo-json2",
        connector="odoo",
        params=lambda url: {"api": "json2", "base_url": url, "database": CREDS.db},
        secrets={"api_key": CREDS.api_key},
        wrong_secrets={"api_key": "not-the-api-key"},
    )
)
