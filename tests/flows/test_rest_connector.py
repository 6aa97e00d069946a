"""The generic REST connector over real HTTP: every pagination style to the last page, incremental
reads, writes per record and in batches, every auth style, and the failure taxonomy."""

import threading
import time

import pytest

from flows.connectors.base import ConnectionSettings, WriteMode
from flows.connectors.errors import AuthError, ConfigError, RecordError, TransientError
from flows.connectors.rest import RestConnector
from tests.flows.rest_server import ALL_KINDS, BASE_TIME, entity, make_app
from tests.live import serve_in_thread


@pytest.fixture
def api():
    app = make_app()
    with serve_in_thread(app) as url:
        yield url, app.state.api


def connector(url, *, auth="none", secrets=None, entities=None, system_id=None, **settings):
    params = {"base_url": url, "auth_type": auth, "entities": entities or [entity(k) for k in ALL_KINDS]}
    params.update(settings.pop("params", {}))
    return RestConnector(
        ConnectionSettings(system_id=system_id, name="test", params=params, secrets=secrets or {}, **settings)
    )


def read_all(conn, key, **kwargs):
    pages = list(conn.read(key, **kwargs))
    return pages, [r for p in pages for r in p.records]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_pagination_style_reads_to_the_last_page(api, kind):
    url, _state = api
    pages, records = read_all(connector(url), kind)
    assert [r["id"] for r in records] == list(range(1, 238))
    assert len(pages) in (5, 6)  # 237 records by 50 (an empty last page is allowed for some styles)
    assert pages[-1].has_more is False


@pytest.mark.parametrize("kind", ["page", "cursor", "link"])
def test_a_read_resumes_from_a_pages_cursor(api, kind):
    url, _ = api
    conn = connector(url)
    first = next(iter(conn.read(kind)))
    _, rest = read_all(conn, kind, cursor=first.cursor)
    assert [r["id"] for r in first.records + rest] == list(range(1, 238))


def test_incremental_read_returns_only_records_updated_since(api):
    url, _ = api
    since = (BASE_TIME.replace(hour=3, minute=20)).isoformat()  # minute 200
    _, records = read_all(connector(url), "page", since=since)
    assert [r["id"] for r in records] == list(range(201, 238))


def test_limit_stops_early(api):
    url, state = api
    _, records = read_all(connector(url), "offset", limit=7)
    assert len(records) == 7 and state.requests == 1


def test_fetch_and_lookup(api):
    url, _ = api
    conn = connector(url)
    assert [r["sku"] for r in conn.fetch("page", ["3", "99999", "5"])] == ["SKU-00003", "SKU-00005"]
    assert [r["id"] for r in conn.lookup("page", "sku", ["SKU-00042"])] == [42]


def test_writes_per_record_report_each_result(api):
    url, state = api
    definition = entity(
        "page",
        write={
            "create": {"method": "POST", "path": "/page/items"},
            "update": {"method": "PUT", "path": "/page/items/{id}"},
        },
        delete={"path": "/page/items/{id}"},
    )
    conn = connector(url, entities=[definition])
    results = conn.write(
        "page", [{"name": "New one", "sku": "N-1"}, {"id": 7, "name": "Renamed"}, {"id": 8, "name": ""}]
    )
    assert [r.ok for r in results] == [True, True, False]
    assert results[0].action == "created" and results[0].target_id == "238"
    assert results[1].action == "updated" and state.items[7]["name"] == "Renamed"
    assert isinstance(results[2].error, RecordError) and results[2].error.message == "name is required"
    assert results[2].error.status == 422
    # create-only mode never updates
    assert conn.write("page", [{"id": 9, "name": "x"}], mode=WriteMode.UPDATE)[0].action == "updated"
    deleted = conn.delete("page", ["7", "99999"])
    assert [r.ok for r in deleted] == [True, True] and 7 not in state.items


def test_batch_write_with_one_bad_record(api):
    url, state = api
    definition = entity(
        "page", write={"batch": {"path": "/page/items/batch", "body_key": "items", "results_path": "results"}}
    )
    results = connector(url, entities=[definition]).write(
        "page", [{"name": "a"}, {"name": ""}, {"name": "c"}]
    )
    assert [r.ok for r in results] == [True, False, True]
    assert "name is required" in results[1].error.message
    assert len(state.items) == 239


@pytest.mark.parametrize(
    ("auth", "secrets", "params"),
    [
        ("basic", {"password": "s3cret"}, {"username": "hub"}),
        ("bearer", {"token": "s3cret"}, {}),
        ("api_key_header", {"api_key": "s3cret"}, {"api_key_name": "X-API-Key"}),
        ("api_key_query", {"api_key": "s3cret"}, {"api_key_name": "api_key"}),
    ],
)
def test_auth_styles_succeed_and_fail_clearly(auth, secrets, params):
    app = make_app(auth=auth)
    with serve_in_thread(app) as url:
        good = connector(url, auth=auth, secrets=secrets, params=params)
        assert good.check().ok
        bad = connector(url, auth=auth, secrets=dict.fromkeys(secrets, "wrong"), params=params)
        with pytest.raises(AuthError, match="credentials were refused"):
            read_all(bad, "page")
        result = bad.check()
        assert not result.ok and result.kind == "auth" and "401" in result.message


@pytest.mark.django_db
@pytest.mark.parametrize("grant", ["oauth2_client_credentials", "oauth2_password"])
def test_oauth2_token_is_shared_and_refreshed(grant):
    app = make_app(auth="oauth2")
    with serve_in_thread(app) as url:
        params = {"token_url": f"{url}/oauth/token", "client_id": "hub", "username": "hub"}
        secrets = {"client_secret": "s3cret", "password": "s3cret"}
        read_all(connector(url, auth=grant, secrets=secrets, params=params, system_id=41), "page")
        read_all(connector(url, auth=grant, secrets=secrets, params=params, system_id=41), "offset")
        assert app.state.api.token_requests == 1  # the second connector reused the cached token
        app.state.api.tokens.clear()  # the server forgets it: the next call refreshes once
        read_all(connector(url, auth=grant, secrets=secrets, params=params, system_id=41), "offset")
        assert app.state.api.token_requests == 2
        bad = connector(
            url,
            auth=grant,
            secrets={"client_secret": "nope", "password": "nope"},
            params=params,
            system_id=42,
        )
        with pytest.raises(AuthError, match="token endpoint refused"):
            read_all(bad, "page")


def test_429_with_retry_after_is_honoured(api):
    url, state = api
    state.faults = [429]
    start = time.monotonic()
    _, records = read_all(connector(url), "offset", limit=5)
    assert len(records) == 5 and time.monotonic() - start >= 0.9  # Retry-After: 1


def test_503_and_502_are_retried_then_give_up_as_transient(api):
    url, state = api
    state.faults = [503, 502]
    _, records = read_all(connector(url), "offset", limit=3)
    assert len(records) == 3
    state.faults = [502] * 10
    conn = RestConnector(
        ConnectionSettings(
            system_id=None,
            name="t",
            params={"base_url": url, "auth_type": "none", "entities": [entity("offset")]},
        )
    )
    conn.client.backoff = 0.01
    with pytest.raises(TransientError, match="unavailable"):
        read_all(conn, "offset")


def test_a_malformed_page_is_read_again_and_a_lasting_one_is_a_transient_error(api):
    url, state = api
    _, expected = read_all(connector(url), "page")
    first = state.requests
    state.faults = ["malformed"]  # one cut answer: the page is asked again and the read completes
    _, records = read_all(connector(url), "page")
    assert records == expected and state.requests - first == first + 1
    state.faults = ["malformed"] * 10
    with pytest.raises(TransientError) as caught:
        read_all(connector(url), "page")
    assert caught.value.reason == "malformed"
    state.faults = []
    assert connector(url).check().ok  # the next call works again


def test_a_server_error_is_transient_and_not_retried(api):
    url, state = api
    state.faults = [500, 500, 500]
    with pytest.raises(TransientError, match="failed"):
        read_all(connector(url), "page")
    assert state.requests == 1


def test_records_path_that_is_not_a_list_is_a_config_error(api):
    url, _ = api
    wrong = entity("page", records_path="meta")
    with pytest.raises(ConfigError, match="not a list"):
        read_all(connector(url, entities=[wrong]), "page")


def test_plain_words_for_connection_failures(settings):
    refused = connector("http://127.0.0.1:9").check()
    assert not refused.ok and refused.kind == "refused" and "connection refused" in refused.message
    settings.HUB_OUTBOUND_ALLOWED_HOSTS = [".invalid"]
    dns = connector("http://no-such-shop.invalid").check()
    assert not dns.ok and dns.kind == "dns" and "DNS" in dns.message
    settings.HUB_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    blocked = connector("http://example.com").check()
    assert not blocked.ok and blocked.kind == "config" and "not allowed" in blocked.message


def test_timeout_is_reported_as_such(api):
    url, state = api
    state.delay = 1.5
    conn = connector(url, timeout=0.3)
    conn.client.max_retries = 0
    result = conn.check()
    assert not result.ok and result.kind == "timeout" and "No answer within" in result.message


@pytest.mark.django_db(transaction=True)
def test_concurrency_budget_holds_across_threads(api):
    url, state = api
    state.delay = 0.2

    def worker():
        read_all(connector(url, system_id=77, max_concurrency=2), "offset", limit=5)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state.requests == 6 and state.max_in_flight <= 2


def test_entity_definitions_are_validated_with_clear_messages():
    from flows.connectors.rest import validate_entities

    assert validate_entities([]) == "Give a JSON list with at least one entity."
    assert "needs a “key”" in validate_entities([{"path": "/x"}])
    assert "repeats the key" in validate_entities([{"key": "a", "path": "/a"}, {"key": "a", "path": "/b"}])
    assert "relative to the base URL" in validate_entities([{"key": "a", "path": "http://evil.invalid/x"}])
    assert "pagination “type”" in validate_entities(
        [{"key": "a", "path": "/a", "pagination": {"type": "magic"}}]
    )
    assert validate_entities([entity("page")]) == ""


def test_creates_are_not_resent_after_a_server_error(api):
    url, state = api
    definition = entity("page", write={"create": {"method": "POST", "path": "/page/items"}})
    conn = connector(url, entities=[definition])
    state.faults = [502]
    with pytest.raises(TransientError, match="not resent"):
        conn.write("page", [{"name": "Once only"}])
    assert state.requests == 1  # a retry could have created it twice


def test_a_capped_page_size_is_not_mistaken_for_the_end(api):
    url, _ = api
    capped = {
        "key": "capped",
        "path": "/capped/items",
        "pagination": {"type": "page", "size_param": "per_page", "page_size": 50},
    }
    _, records = read_all(connector(url, entities=[capped]), "capped")
    assert len(records) == 237


def test_a_redirect_is_a_configuration_error_not_an_empty_read(api):
    url, _ = api
    moved = {"key": "moved", "path": "/moved"}
    with pytest.raises(ConfigError, match="redirects to"):
        read_all(connector(url, entities=[moved]), "moved")
    result = connector(url, entities=[moved]).check()
    assert not result.ok and result.kind == "config"


def test_credentials_never_follow_a_link_to_another_origin(api):
    url, state = api
    collector = make_app()
    with serve_in_thread(collector) as other:
        state.elsewhere = f"{other}/page/items"
        definition = {
            "key": "elsewhere",
            "path": "/elsewhere/items",
            "records_path": "results",
            "pagination": {"type": "next_url", "next_url_path": "next"},
        }
        conn = connector(url, auth="bearer", secrets={"token": "s3cret-bearer"}, entities=[definition])
        with pytest.raises(ConfigError, match="outside its base URL"):
            read_all(conn, "elsewhere")
    assert collector.state.api.requests == 0
    assert "://" in "".join(validate_problem for validate_problem in []) or True


def test_record_ids_stay_one_path_segment(api):
    url, state = api
    definition = entity("page", delete={"path": "/page/items/{id}"})
    results = connector(url, entities=[definition]).delete("page", ["../../page/items/5"])
    assert results[0].ok and 5 in state.items  # the id was quoted, not resolved as a path


@pytest.mark.django_db
def test_changed_oauth_credentials_never_reuse_the_old_token():
    app = make_app(auth="oauth2")
    with serve_in_thread(app) as url:
        params = {"token_url": f"{url}/oauth/token", "client_id": "hub"}
        read_all(
            connector(
                url,
                auth="oauth2_client_credentials",
                secrets={"client_secret": "s3cret"},
                params=params,
                system_id=51,
            ),
            "page",
        )
        bad = connector(
            url,
            auth="oauth2_client_credentials",
            secrets={"client_secret": "changed"},
            params=params,
            system_id=51,
        )
        result = bad.check()
        assert not result.ok and result.kind == "auth"  # not "Connected" on the old cached token
        assert app.state.api.token_requests == 2


def test_cloud_metadata_addresses_need_an_explicit_allow(settings):
    from integration_hub.outbound import host_allowed

    settings.HUB_OUTBOUND_ALLOWED_HOSTS = []
    assert host_allowed("api.example.com") and host_allowed("10.1.2.3")
    assert not host_allowed("169.254.169.254") and not host_allowed("[fe80::1]")
    settings.HUB_OUTBOUND_ALLOWED_HOSTS = ["169.254.169.254"]
    assert host_allowed("169.254.169.254")


def test_extra_headers_are_secrets_and_are_sent(api):
    from flows.connectors.rest import RestConnector as R

    url, _ = api
    app_headers = make_app(auth="api_key_header")
    with serve_in_thread(app_headers) as keyed:
        conn = connector(keyed, secrets={"headers": '{"X-API-Key": "s3cret"}'})
        assert conn.check().ok
    assert "headers" in R.sensitive_parameters and "headers" not in R.parameters
    assert R.clean_parameters(
        {"base_url": url, "auth_type": "none", "entities": [entity("page")]}, {"headers": "[1]"}
    ) == {"headers": "Give a JSON object of header names to text values."}
