"""Fault knobs, the admin endpoints and request accounting."""

import asyncio
import json
import time

import httpx
import pytest

from sandbox.faults import FaultConfig
from sandbox.testing import running

from .conftest import crm_client


def test_error_rate_gives_5xx_in_the_vendor_shape():
    with running("pim", error_rate=1.0) as url:
        response = httpx.get(f"{url}/api/rest/v1/products")
        assert response.status_code == 503
        assert response.json()["code"] == 503 and "message" in response.json()
        assert httpx.get(f"{url}/_sandbox/stats").json()["faults"] == {"error": 1}


def test_rate_limit_rate_gives_429_with_retry_after():
    with running("crm", rate_limit_rate=1.0, retry_after=7) as url:
        response = crm_client(url).get("/crm/v3/objects/contacts")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
        assert response.json()["errorType"] == "RATE_LIMIT"


def test_malformed_rate_truncates_the_json():
    with running("shop", malformed_rate=1.0) as url:
        response = httpx.post(
            f"{url}/rest/V1/integration/admin/token", json={"username": "hub", "password": "shop-demo-pass"}
        )
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == len(response.content)
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.content)


def test_latency_and_runtime_changes():
    with running("erp") as url:
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": "common", "method": "version", "args": []},
            "id": 1,
        }
        with httpx.Client(base_url=url) as client:

            def timed() -> float:
                started = time.perf_counter()
                assert client.post("/jsonrpc", json=body).status_code == 200
                return time.perf_counter() - started

            timed()
            fast = min(timed() for _ in range(3))
            faults = client.put("/_sandbox/faults", json={"latency_ms": 150, "jitter_ms": 10})
            assert faults.status_code == 200 and faults.json()["latency_ms"] == 150
            slow = min(timed() for _ in range(3))
            assert slow - fast >= 0.12
            assert client.get("/_sandbox/faults").json()["jitter_ms"] == 10

            client.put(
                "/_sandbox/faults",
                json={"latency_ms": 0, "jitter_ms": 0, "error_rate": 1.0, "error_status": 502},
            )
            assert client.post("/jsonrpc", json=body).status_code == 502
            assert client.get("/_sandbox/stats").status_code == 200, "admin endpoints are never faulted"
            client.put("/_sandbox/faults", json={"error_rate": 0})
            assert client.post("/jsonrpc", json=body).status_code == 200
            assert client.put("/_sandbox/faults", json={"error_rate": 2}).status_code == 400
            assert client.put("/_sandbox/faults", json={"no_such_knob": 1}).status_code == 400


def test_timeout_rate_sleeps_past_the_client_timeout():
    with running("crm", timeout_rate=1.0, timeout_s=2.0) as url, pytest.raises(httpx.ReadTimeout):
        crm_client(url).get("/crm/v3/objects/contacts", timeout=0.3)


def test_seeded_fault_sequence_is_reproducible():
    statuses = []
    for _ in range(2):
        with running("pim", error_rate=0.5, seed=42) as url:
            httpx.put(f"{url}/_sandbox/faults", json={"seed": 7})
            statuses.append([httpx.get(f"{url}/api/rest/v1/products").status_code for _ in range(20)])
    assert statuses[0] == statuses[1] and set(statuses[0]) == {401, 503}


def test_fault_config_from_env():
    config = FaultConfig.from_env(
        {
            "SANDBOX_LATENCY_MS": "25",
            "SANDBOX_ERROR_RATE": "0.1",
            "SANDBOX_RETRY_AFTER": "3",
            "SANDBOX_SEED": "9",
        }
    )
    assert (config.latency_ms, config.error_rate, config.retry_after, config.seed) == (25.0, 0.1, 3, 9)


def test_stats_count_a_concurrent_burst():
    with running("pim", latency_ms=200) as url:
        httpx.get(f"{url}/api/rest/v1/products")
        assert httpx.post(f"{url}/_sandbox/stats/reset").json()["total"] == 0

        async def burst() -> list[int]:
            async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=50)) as client:
                responses = await asyncio.gather(*(client.get("/api/rest/v1/products") for _ in range(30)))
            return [r.status_code for r in responses]

        assert asyncio.run(burst()) == [401] * 30
        httpx.get(f"{url}/_sandbox/faults")  # admin calls are not counted
        stats = httpx.get(f"{url}/_sandbox/stats").json()
        assert stats["total"] == 30
        assert stats["max_in_flight"] > 1
        assert stats["max_per_second"] >= 30
        assert stats["in_flight"] == 0 and stats["by_status"] == {"401": 30}
