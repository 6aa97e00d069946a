"""The Akeneo PIM connector over real HTTP against the PIM stand-in: OAuth2 password grant with cached
and refreshed tokens, search-after and page paging to the last page, incremental reads, the
collection PATCH with per-line results, deletes, and the failure taxonomy."""

import itertools
import json
import threading
import time
from datetime import UTC, datetime

import httpx
import pytest

from flows.connectors.akeneo import AkeneoConnector
from flows.connectors.base import ConnectionSettings, WriteMode
from flows.connectors.errors import ConfigError, RecordError, TransientError
from flows.coordination import get_shared, set_shared
from sandbox.credentials import PimCredentials
from sandbox.seed import N_PRODUCTS, SEED_HORIZON, dataset
from sandbox.testing import running

pytestmark = pytest.mark.django_db

CREDS = PimCredentials()
NO_FAULTS = {"rate_limit_rate": 0, "malformed_rate": 0, "error_rate": 0, "latency_ms": 0, "retry_after": 1}
_ids = itertools.count(8100)


@pytest.fixture(scope="module")
def sandbox_url():
    with running("pim") as url:
        yield url


@pytest.fixture
def pim(sandbox_url):
    """The stand-in back to its seed, without faults, stats at zero."""
    assert httpx.post(f"{sandbox_url}/_sandbox/reset").status_code == 200
    assert httpx.put(f"{sandbox_url}/_sandbox/faults", json=NO_FAULTS).status_code == 200
    httpx.post(f"{sandbox_url}/_sandbox/stats/reset")
    yield sandbox_url
    httpx.put(f"{sandbox_url}/_sandbox/faults", json=NO_FAULTS)


def connector(url, *, system_id=None, password=None, secret=None, params=None, **settings):
    return AkeneoConnector(
        ConnectionSettings(
            system_id=next(_ids) if system_id is None else system_id,
            name="pim",
            params={
                "base_url": url,
                "client_id": CREDS.client_id,
                "username": CREDS.username,
                **(params or {}),
            },
            secrets={"client_secret": secret or CREDS.secret, "password": password or CREDS.password},
            **settings,
        )
    )


def read_all(conn, entity, **kwargs):
    pages = list(conn.read(entity, **kwargs))
    return pages, [r for p in pages for r in p.records]


def stats(url):
    return httpx.get(f"{url}/_sandbox/stats").json()


def faults(url, **changes):
    assert httpx.put(f"{url}/_sandbox/faults", json=changes).status_code == 200


def api_count(url, plural):
    """How many records the stand-in holds, asked through its own API (with_count)."""
    token = httpx.post(
        f"{url}/api/oauth/v1/token",
        json={"grant_type": "password", "username": CREDS.username, "password": CREDS.password},
        auth=(CREDS.client_id, CREDS.secret),
    ).json()["access_token"]
    body = httpx.get(
        f"{url}/api/rest/v1/{plural}",
        params={"limit": 1, "with_count": "true"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    return body["items_count"]


def now_iso():
    return datetime.now(UTC).isoformat()


# --- configuration and connection test -------------------------------------------------------------


def test_clean_parameters_reports_missing_secrets_and_bad_codes():
    errors = AkeneoConnector.clean_parameters({"default_locale": "french", "default_channel": "e-shop"}, {})
    assert set(errors) == {"client_secret", "password", "default_locale", "default_channel"}
    assert (
        AkeneoConnector.clean_parameters(
            {"default_locale": "fr_FR", "default_channel": "ecommerce"},
            {"client_secret": "s", "password": "p"},
        )
        == {}
    )


def test_check_ok_and_wrong_credentials(pim):
    conn = connector(pim)
    result = conn.check()
    assert result.ok and result.message == "Connected" and result.latency_ms is not None

    wrong_password = connector(pim, password="nope").check()
    assert not wrong_password.ok and wrong_password.kind == "auth"
    assert "Akeneo refused the credentials" in wrong_password.message
    assert "No user found for the given username and password" in wrong_password.message

    wrong_secret = connector(pim, secret="nope").check()
    assert not wrong_secret.ok and wrong_secret.kind == "auth"
    assert "client_id" in wrong_secret.message

    wrong_url = connector(f"{pim}/somewhere").check()
    assert not wrong_url.ok and wrong_url.kind == "config" and "base URL" in wrong_url.message

    # a pasted API root is tolerated
    assert connector(f"{pim}/api/rest/v1/").check().ok


def test_changed_credentials_never_reuse_a_cached_token(pim):
    system_id = next(_ids)
    assert connector(pim, system_id=system_id).check().ok
    result = connector(pim, system_id=system_id, password="changed").check()
    assert not result.ok and result.kind == "auth"


# --- discovery and reads ---------------------------------------------------------------------------


def test_discover_returns_entities_with_fields_and_samples(pim):
    found = {e.key: e for e in connector(pim, params={"default_locale": "fr_FR"}).discover(sample_size=3)}
    assert set(found) == {
        "products", "products_uuid", "product_models", "families", "attributes", "attribute_options",
        "categories", "channels", "locales",
    }  # fmt: skip
    products = found["products"]
    assert products.id_field == "identifier" and products.natural_keys == ("identifier",)
    assert products.cursor_field == "updated"
    assert len(products.samples) == 3 and all(s["identifier"] for s in products.samples)
    fields = {f.name: f for f in products.fields}
    assert {"identifier", "family", "categories", "enabled", "values", "updated"} <= set(fields)
    assert fields["values.name"].label.startswith("Nom (pim_catalog_text")  # labelled in the default locale
    assert not any(f.personal for f in products.fields)
    for key in ("families", "attributes", "categories"):
        assert found[key].samples and {"code", "labels"} <= {f.name for f in found[key].fields}


@pytest.mark.parametrize(
    "entity", ["products", "families", "attributes", "categories", "channels", "locales", "product_models"]
)
def test_full_read_of_each_entity_reaches_the_last_page(pim, entity):
    expected = api_count(
        pim, entity.replace("_", "-")
    )  # the stand-in's own count (attributes are not in the seed)
    seed = dataset(42)
    seeded = {"products": N_PRODUCTS, "families": len(seed.families), "categories": len(seed.categories)}
    assert expected == seeded.get(entity, expected)
    pages, records = read_all(connector(pim), entity)
    key = "identifier" if entity == "products" else "code"
    assert len(records) == expected and len({r[key] for r in records}) == expected
    assert pages[-1].has_more is False and all(p.has_more for p in pages[:-1])
    if entity == "products":
        assert len(pages) >= N_PRODUCTS // 100
        sample = records[0]
        assert {v["locale"] for v in sample["values"]["name"]} == {"fr_FR", "en_US"}


def test_reads_resume_from_a_pages_cursor(pim):
    conn = connector(pim)
    first_pages, first = read_all(conn, "products", limit=250)
    assert len(first) == 250 and first_pages[-1].cursor
    _, rest = read_all(conn, "products", cursor=first_pages[-1].cursor)
    codes = [r["identifier"] for r in first + rest]
    assert len(codes) == N_PRODUCTS and codes == sorted(set(codes))

    # page paging of the small entities, with small pages
    head_pages, head = read_all(conn, "categories", limit=3)
    assert len(head) == 3 and len(head_pages) == 1
    tail_pages, tail = read_all(conn, "categories", cursor=head_pages[-1].cursor)
    assert len(tail_pages) > 1
    codes = [c["code"] for c in head + tail]
    assert len(codes) == len(set(codes)) == len(dataset(42).categories)

    with pytest.raises(ConfigError, match="cursor"):
        read_all(conn, "families", cursor=head_pages[-1].cursor)


def test_incremental_read_after_a_write_returns_exactly_the_written_records(pim):
    conn = connector(pim)
    assert read_all(conn, "products", since=SEED_HORIZON.isoformat())[1] == []
    existing = [r["identifier"] for r in next(iter(conn.read("products", limit=2))).records]
    since = now_iso()
    records = [
        {
            "identifier": code,
            "values": {"name": [{"locale": "en_US", "scope": None, "data": f"Renamed {code}"}]},
        }
        for code in existing
    ]
    records.append({"identifier": "HUB-NEW-1", "family": "chairs", "categories": ["master_chairs"]})
    results = conn.write("products", records)
    assert [r.action for r in results] == ["updated", "updated", "created"]
    _, changed = read_all(conn, "products", since=since)
    assert sorted(r["identifier"] for r in changed) == sorted([*existing, "HUB-NEW-1"])
    assert read_all(conn, "families", since=since)[1] == []
    assert len(read_all(conn, "families", since="2025-01-01T00:00:00Z")[1]) == len(dataset(42).families)


def test_fetch_and_lookup(pim):
    conn = connector(pim)
    codes = [p["sku"] for p in dataset(42).products[:3]]
    fetched = conn.fetch("products", [codes[2], "NO-SUCH-SKU", codes[0]])
    assert [r["identifier"] for r in fetched] == [codes[2], codes[0]]
    assert [r["identifier"] for r in conn.lookup("products", "identifier", [codes[1]])] == [codes[1]]
    assert conn.lookup("products", "identifier", ["NO-SUCH-SKU"]) == []
    family = dataset(42).families[0]["code"]
    assert [r["code"] for r in conn.fetch("families", [family, "nope"])] == [family]
    assert [r["code"] for r in conn.lookup("categories", "code", ["master"])] == ["master"]
    with pytest.raises(ConfigError, match="identifier"):
        conn.lookup("products", "family", ["chairs"])


# --- writes and deletes ----------------------------------------------------------------------------


def test_batch_write_with_one_bad_record(pim):
    conn = connector(pim)
    stats_before = stats(pim)["total"]
    good_existing = dataset(42).products[5]["sku"]
    records = [
        {"identifier": "HUB-A", "family": "chairs", "enabled": True},
        {
            "identifier": "HUB-B",
            "values": {
                "price": [{"locale": None, "scope": None, "data": [{"amount": "10", "currency": "XXX"}]}]
            },
        },
        {"identifier": good_existing, "enabled": False, "updated": "2020-01-01T00:00:00+00:00", "_links": {}},
    ]
    results = conn.write("products", records)
    assert [r.ok for r in results] == [True, False, True]
    assert results[0].action == "created" and results[0].target_id == "HUB-A"
    assert results[2].action == "updated" and results[2].target_id == good_existing
    error = results[1].error
    assert isinstance(error, RecordError) and error.status == 422
    assert error.message.startswith("Validation failed.")
    assert 'The currency "XXX" has to be a valid currency.' in error.message
    assert error.remote["identifier"] == "HUB-B" and error.detail
    assert stats(pim)["total"] - stats_before == 2  # one token, one PATCH for the three
    found = {r["identifier"]: r for r in conn.fetch("products", ["HUB-A", "HUB-B", good_existing])}
    assert set(found) == {"HUB-A", good_existing} and found[good_existing]["enabled"] is False


def test_records_without_identifier_fail_locally_and_batches_are_split(pim):
    conn = connector(pim)
    conn.batch_size = 2
    records = [{"identifier": f"HUB-S{i}"} for i in range(5)]
    records.insert(2, {"family": "chairs"})
    results = conn.write("products", records)
    assert [r.ok for r in results] == [True, True, False, True, True, True]
    assert "no identifier" in results[2].error.message
    assert len(conn.fetch("products", [f"HUB-S{i}" for i in range(5)])) == 5


def test_loose_values_get_the_default_locale_and_channel(pim):
    conn = connector(pim, params={"default_locale": "fr_FR", "default_channel": "ecommerce"})
    result = conn.write(
        "products",
        [
            {
                "identifier": "HUB-L1",
                "values": {"name": "Chaise test", "description": [{"data": "Belle"}], "ean": "3760000000001"},
            }
        ],
    )
    assert result[0].ok, result[0].error
    values = conn.fetch("products", ["HUB-L1"])[0]["values"]
    assert values["name"] == [{"locale": "fr_FR", "scope": None, "data": "Chaise test"}]
    assert values["description"] == [{"locale": "fr_FR", "scope": "ecommerce", "data": "Belle"}]
    assert values["ean"] == [{"locale": None, "scope": None, "data": "3760000000001"}]


def test_create_and_update_modes(pim):
    conn = connector(pim)
    existing = dataset(42).products[0]["sku"]
    created = conn.write(
        "products", [{"identifier": existing}, {"identifier": "HUB-C1"}], mode=WriteMode.CREATE
    )
    assert [r.ok for r in created] == [False, True] and created[0].error.status == 409
    updated = conn.write(
        "products", [{"identifier": existing}, {"identifier": "HUB-U1"}], mode=WriteMode.UPDATE
    )
    assert [r.ok for r in updated] == [True, False] and "does not exist" in updated[1].error.message
    assert conn.fetch("products", ["HUB-U1"]) == []


def test_delete_products_and_read_only_entities(pim):
    conn = connector(pim)
    code = dataset(42).products[1]["sku"]
    results = conn.delete("products", [code, "NO-SUCH-SKU"])
    assert [(r.ok, r.action) for r in results] == [(True, "deleted"), (True, "unchanged")]
    assert conn.fetch("products", [code]) == []
    assert len(read_all(conn, "products")[1]) == N_PRODUCTS - 1
    with pytest.raises(ConfigError, match="read-only"):
        conn.write("families", [{"code": "x"}])
    with pytest.raises(ConfigError, match="read-only"):
        conn.delete("categories", ["master"])


# --- tokens ----------------------------------------------------------------------------------------


def test_tokens_are_shared_refreshed_and_fall_back_to_the_password_grant(pim):
    system_id = next(_ids)
    first = connector(pim, system_id=system_id)
    read_all(first, "categories")
    assert stats(pim)["total"] == 2  # a token, a page
    second = connector(pim, system_id=system_id)
    read_all(second, "categories")
    assert stats(pim)["total"] == 3  # the second connector reused the cached token
    key = second.token_key()
    old_refresh = get_shared(f"{key}:refresh")
    assert old_refresh

    # the PIM refuses the access token (401): one refresh with the refresh_token grant, then it works
    set_shared(f"{key}:access", "forged", 600)
    assert len(read_all(second, "categories")[1]) == len(dataset(42).categories)
    assert get_shared(f"{key}:access") != "forged"
    new_refresh = get_shared(f"{key}:refresh")
    assert new_refresh and new_refresh != old_refresh
    reused = httpx.post(
        f"{pim}/api/oauth/v1/token",
        json={"grant_type": "refresh_token", "refresh_token": old_refresh},
        auth=(CREDS.client_id, CREDS.secret),
    )
    assert reused.status_code == 422  # the connector really spent it on the refresh grant

    # an expired access token in the cache (gone) is renewed with the refresh token too
    set_shared(f"{key}:access", "x", 0.001)
    time.sleep(0.01)
    read_all(connector(pim, system_id=system_id), "categories")
    assert get_shared(f"{key}:refresh") not in (None, new_refresh)

    # refresh refused too: the password grant takes over
    set_shared(f"{key}:access", "forged", 600)
    set_shared(f"{key}:refresh", "forged-refresh", 600)
    assert len(read_all(connector(pim, system_id=system_id), "families")[1]) == len(dataset(42).families)
    assert get_shared(f"{key}:refresh") not in (None, "forged-refresh")


# --- faults and budget -----------------------------------------------------------------------------


def test_429_retry_after_is_honoured_and_the_read_completes(pim):
    conn = connector(pim)
    faults(pim, rate_limit_rate=1.0, retry_after=1)
    timer = threading.Timer(0.4, faults, args=(pim,), kwargs={"rate_limit_rate": 0})
    start = time.monotonic()
    timer.start()
    try:
        _, records = read_all(conn, "categories")
    finally:
        timer.cancel()
    assert len(records) == len(dataset(42).categories)
    assert time.monotonic() - start >= 0.9  # waited the Retry-After second
    assert stats(pim)["faults"]["rate_limit"] >= 1


def test_malformed_json_is_a_transient_error_not_a_crash(pim):
    conn = connector(pim)
    assert conn.check().ok  # token cached: the fault hits the list itself
    faults(pim, malformed_rate=1.0)
    with pytest.raises(TransientError) as caught:
        read_all(conn, "products")
    assert caught.value.reason == "malformed"
    with pytest.raises(TransientError) as caught:
        conn.write("products", [{"identifier": f"HUB-M{i}", "enabled": True} for i in range(4)])
    assert caught.value.reason == "malformed"
    faults(pim, malformed_rate=0)
    assert conn.check().ok


def test_unavailable_pim_gives_up_as_transient(pim):
    system_id = next(_ids)
    assert connector(pim, system_id=system_id).check().ok  # a cached token: only the read is faulted
    conn = connector(pim, system_id=system_id)
    conn.client.backoff = 0.01
    faults(pim, error_rate=1.0, error_status=503)
    with pytest.raises(TransientError, match="unavailable"):
        read_all(conn, "families")
    assert stats(pim)["faults"]["error"] == conn.retries + 1


@pytest.mark.django_db(transaction=True)
def test_request_budget_holds_across_threads(pim):
    faults(pim, latency_ms=40)
    system_id = next(_ids)
    errors = []

    def worker():
        conn = connector(pim, system_id=system_id, max_concurrency=2)
        try:
            read_all(conn, "products", limit=300)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seen = stats(pim)
    assert seen["total"] >= 5 * 3 + 1 and seen["max_in_flight"] <= 2


def test_search_filter_is_sent_in_akeneos_format(pim):
    """The incremental bound reaches the PIM as Y-m-d H:i:s UTC, one second early (inclusive)."""
    conn = connector(pim)
    sent = []
    original = conn.client._client.request

    def spy(method, url, **kwargs):
        sent.append(str(url))
        return original(method, url, **kwargs)

    conn.client._client.request = spy
    read_all(conn, "products", since="2025-11-29T10:00:00.500+01:00", limit=1)
    query = httpx.URL(sent[-1]).params
    assert json.loads(query["search"]) == {"updated": [{"operator": ">", "value": "2025-11-29 08:59:59"}]}
    with pytest.raises(ConfigError, match="ISO-8601"):
        read_all(conn, "products", since="yesterday")
