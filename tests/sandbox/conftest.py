"""Helpers for the sandbox tests: authenticated httpx clients per system."""

import httpx
import pytest

from sandbox.credentials import CrmCredentials, ErpCredentials, PimCredentials, ShopCredentials
from sandbox.seed import SEED_HORIZON
from sandbox.testing import running

# every seeded record was last written before this; every runtime write after it
AFTER_SEED = SEED_HORIZON.strftime("%Y-%m-%d %H:%M:%S")
AFTER_SEED_MS = int(SEED_HORIZON.timestamp() * 1000)


def pim_client(url: str) -> httpx.Client:
    creds = PimCredentials()
    response = httpx.post(
        f"{url}/api/oauth/v1/token",
        json={"grant_type": "password", "username": creds.username, "password": creds.password},
        auth=(creds.client_id, creds.secret),
    )
    response.raise_for_status()
    token = response.json()["access_token"]
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def shop_client(url: str) -> httpx.Client:
    creds = ShopCredentials()
    response = httpx.post(
        f"{url}/rest/default/V1/integration/admin/token",
        json={"username": creds.username, "password": creds.password},
    )
    response.raise_for_status()
    return httpx.Client(
        base_url=f"{url}/rest/default/V1", headers={"Authorization": f"Bearer {response.json()}"}, timeout=30
    )


def crm_client(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {CrmCredentials().token}"}, timeout=30
    )


class Odoo:
    """A minimal Odoo JSON-RPC client."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.creds = ErpCredentials()
        self.uid = self.call(
            "common", "authenticate", self.creds.db, self.creds.login, self.creds.password, {}
        )

    def raw(self, service: str, method: str, *args):
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": list(args)},
            "id": 7,
        }
        response = self.http.post("/jsonrpc", json=body)
        assert response.status_code == 200
        return response.json()

    def call(self, service: str, method: str, *args):
        payload = self.raw(service, method, *args)
        assert "error" not in payload, payload
        return payload["result"]

    def execute(self, model: str, method: str, *args, **kwargs):
        return self.call(
            "object",
            "execute_kw",
            self.creds.db,
            self.uid,
            self.creds.password,
            model,
            method,
            list(args),
            kwargs,
        )

    def execute_raw(self, model: str, method: str, *args, **kwargs):
        return self.raw(
            "object",
            "execute_kw",
            self.creds.db,
            self.uid,
            self.creds.password,
            model,
            method,
            list(args),
            kwargs,
        )


@pytest.fixture(scope="module")
def pim_url():
    with running("pim") as url:
        yield url


@pytest.fixture(scope="module")
def shop_url():
    with running("shop") as url:
        yield url


@pytest.fixture(scope="module")
def erp_url():
    with running("erp") as url:
        yield url


@pytest.fixture(scope="module")
def crm_url():
    with running("crm") as url:
        yield url
