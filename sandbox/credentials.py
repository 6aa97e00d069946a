"""Fixed demo credentials of the four stand-ins, each overridable by an environment variable.

They are demo values for local sandboxes, not secrets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass(frozen=True)
class PimCredentials:
    client_id: str = "hub-demo"
    secret: str = "pim-demo-secret"  # noqa: S105
    username: str = "hub"
    password: str = "pim-demo-pass"  # noqa: S105

    @classmethod
    def from_env(cls) -> PimCredentials:
        d = cls()
        return cls(
            client_id=_env("SANDBOX_PIM_CLIENT_ID", d.client_id),
            secret=_env("SANDBOX_PIM_SECRET", d.secret),
            username=_env("SANDBOX_PIM_USERNAME", d.username),
            password=_env("SANDBOX_PIM_PASSWORD", d.password),
        )


@dataclass(frozen=True)
class ShopCredentials:
    username: str = "hub"
    password: str = "shop-demo-pass"  # noqa: S105

    @classmethod
    def from_env(cls) -> ShopCredentials:
        d = cls()
        return cls(
            username=_env("SANDBOX_SHOP_USERNAME", d.username),
            password=_env("SANDBOX_SHOP_PASSWORD", d.password),
        )


@dataclass(frozen=True)
class ErpCredentials:
    db: str = "sandbox"
    login: str = "hub"
    password: str = "erp-demo-pass"  # noqa: S105
    uid: int = 2
    api_key: str = "erp-demo-api-key"  # the JSON-2 API's bearer key (Odoo 19)

    @classmethod
    def from_env(cls) -> ErpCredentials:
        d = cls()
        return cls(
            db=_env("SANDBOX_ERP_DB", d.db),
            login=_env("SANDBOX_ERP_LOGIN", d.login),
            password=_env("SANDBOX_ERP_PASSWORD", d.password),
            api_key=_env("SANDBOX_ERP_API_KEY", d.api_key),
        )


@dataclass(frozen=True)
class CrmCredentials:
    token: str = "pat-demo-crm-token"  # noqa: S105

    @classmethod
    def from_env(cls) -> CrmCredentials:
        return cls(token=_env("SANDBOX_CRM_TOKEN", cls().token))


@dataclass(frozen=True)
class WooCredentials:
    key: str = "ck_demo_hub"
    secret: str = "cs_demo_secret"  # noqa: S105

    @classmethod
    def from_env(cls) -> WooCredentials:
        d = cls()
        return cls(key=_env("SANDBOX_WOO_KEY", d.key), secret=_env("SANDBOX_WOO_SECRET", d.secret))


@dataclass(frozen=True)
class ShopifyCredentials:
    token: str = "shpat_demo_hub_token"  # noqa: S105

    @classmethod
    def from_env(cls) -> ShopifyCredentials:
        return cls(token=_env("SANDBOX_SHOPIFY_TOKEN", cls().token))


def describe(name: str, creds: object) -> str:
    """One line for the console."""
    if isinstance(creds, PimCredentials):
        return f"client_id={creds.client_id} secret={creds.secret} username={creds.username} password={creds.password}"
    if isinstance(creds, ShopCredentials):
        return f"admin username={creds.username} password={creds.password}"
    if isinstance(creds, ErpCredentials):
        return f"db={creds.db} login={creds.login} password={creds.password} api key={creds.api_key}"
    if isinstance(creds, CrmCredentials):
        return f"private app token={creds.token}"
    if isinstance(creds, ShopifyCredentials):
        return f"X-Shopify-Access-Token={creds.token}"
    if isinstance(creds, WooCredentials):
        return f"consumer key={creds.key} consumer secret={creds.secret}"
    return name
