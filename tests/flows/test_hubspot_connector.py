"""The HubSpot CRM v3 connector over real HTTP against the sandbox's CRM stand-in: full and incremental
reads (across the search cap), fetch and lookup, batch upserts with a bad record, delete, GDPR erase,
rate limits, malformed answers and the request budget."""

import threading
import time

import httpx
import pytest

from flows.connectors.base import Capability, ConnectionSettings, WriteMode
from flows.connectors.errors import AuthError, ConfigError, RecordError, TransientError
from flows.connectors.hubspot import HubSpotConnector, modified_ms
from flows.connectors.registry import get_connector_class
from sandbox.credentials import CrmCredentials
from sandbox.seed import SEED_HORIZON, dataset
from sandbox.testing import running

pytestmark = pytest.mark.django_db

TOKEN = CrmCredentials().token
SEED = dataset(42)
CONTACTS = [SEED.customers[i] for i in SEED.crm_customers]


@pytest.fixture
def crm():
    """A fresh CRM stand-in per test: seed data, no faults, an empty rate-limit window."""
    with running("crm") as url:
        yield url


def faults(url, **knobs):
    httpx.put(f"{url}/_sandbox/faults", json=knobs).raise_for_status()


def stats(url):
    return httpx.get(f"{url}/_sandbox/stats").json()


def connector(url, *, token=TOKEN, system_id=None, params=None, **settings):
    conn = HubSpotConnector(
        ConnectionSettings(
            system_id=system_id,
            name="crm",
            params={"base_url": url, **(params or {})},
            secrets={"access_token": token},
            **settings,
        )
    )
    # The sandbox announces HubSpot's 19 calls a second: the pauses the connector takes when its
    # headers say so are tested on their own (test_spent_rate_limit_window_pauses_the_next_call).
    conn.sleep = lambda seconds: None
    return conn


def read_all(conn, **kwargs):
    pages = list(conn.read("contacts", **kwargs))
    return pages, [r for p in pages for r in p.records]


def new_contacts(n, prefix="new"):
    return [
        {"properties": {"email": f"{prefix}{i}@example.org", "firstname": f"N{i}", "lastname": "Test"}}
        for i in range(n)
    ]


# --- configuration and connection -------------------------------------------------------------


def test_registered_with_its_form_and_capabilities():
    cls = get_connector_class("hubspot")
    assert cls is HubSpotConnector
    assert {"base_url", "properties"} <= set(cls.parameters)
    assert cls.sensitive_parameters == ("access_token",)
    assert {
        Capability.SUBJECT_LOOKUP,
        Capability.SUBJECT_ERASE,
        Capability.SUBJECT_EXPORT,
    } <= cls.capabilities
    assert cls.clean_parameters({"properties": "email, firstname"}, {"access_token": "pat-x"}) == {}
    errors = cls.clean_parameters({"properties": "email, First Name"}, {})
    assert set(errors) == {"access_token", "properties"} and "First Name" in errors["properties"]


def test_check_ok_and_wrong_token(crm):
    assert connector(crm).check().ok
    result = connector(crm, token="pat-wrong").check()
    assert not result.ok and result.kind == "auth"
    assert "HubSpot refused the access token (HTTP 401)" in result.message
    with pytest.raises(AuthError, match="access token"):
        read_all(connector(crm, token="pat-wrong"))


def test_discover_declares_contacts_with_fields_and_samples(crm):
    found = {e.key: e for e in connector(crm).discover(sample_size=3)}
    assert list(found) == ["contacts", "companies", "deals", "products"]
    entity = found["contacts"]
    assert entity.key == "contacts" and entity.id_field == "id"
    assert entity.natural_keys == ("properties.email",)
    assert entity.cursor_field == "properties.lastmodifieddate"
    assert len(entity.samples) == 3 and all(s["properties"]["email"] for s in entity.samples)
    fields = {f.name: f for f in entity.fields}
    assert fields["properties.email"].personal == "email"
    assert fields["properties.lastname"].personal == "name"
    assert fields["properties.zip"].personal == "address"
    assert fields["properties.lastmodifieddate"].type == "datetime"
    assert Capability.SUBJECT_ERASE in entity.capabilities


# --- reads --------------------------------------------------------------------------------------


def test_full_read_to_the_last_page(crm):
    pages, records = read_all(connector(crm))
    assert len(records) == len(CONTACTS)
    assert len({r["id"] for r in records}) == len(CONTACTS)
    assert {r["properties"]["email"] for r in records} == {c["email"] for c in CONTACTS}
    assert len(pages) == 4 and pages[-1].has_more is False and pages[-1].cursor is None
    assert all(p.has_more for p in pages[:-1])
    assert set(records[0]["properties"]) >= {"email", "firstname", "zip", "lastmodifieddate"}


def test_read_resumes_from_a_pages_cursor_and_limit_stops_early(crm):
    conn = connector(crm)
    first = next(iter(conn.read("contacts")))
    _, rest = read_all(conn, cursor=first.cursor)
    ids = [r["id"] for r in first.records + rest]
    assert len(ids) == len(CONTACTS) == len(set(ids))
    _, few = read_all(conn, limit=7)
    assert len(few) == 7
    with pytest.raises(ConfigError):
        read_all(conn, cursor="not json")


def test_incremental_read_of_seeded_contacts(crm):
    bound = sorted(c["updated"] for c in CONTACTS)[150]
    expected = {c["email"] for c in CONTACTS if c["updated"] > bound}
    _, records = read_all(connector(crm), since=bound.isoformat())
    assert {r["properties"]["email"] for r in records} == expected
    stamps = [modified_ms(r) for r in records]
    assert stamps == sorted(stamps)  # oldest first


def test_incremental_read_after_a_write_returns_exactly_the_written_records(crm):
    conn = connector(crm)
    written = [*new_contacts(3), {"properties": {"email": CONTACTS[0]["email"], "city": "Lyon"}}]
    assert all(r.ok for r in conn.write("contacts", written))
    _, records = read_all(conn, since=SEED_HORIZON.isoformat())
    assert sorted(r["properties"]["email"] for r in records) == sorted(
        r["properties"]["email"] for r in written
    )


def test_incremental_read_restarts_at_the_search_cap_without_loss_or_repeat(crm):
    conn = connector(crm)
    conn.search_cap, conn.search_page_size = 20, 10  # HubSpot: 10,000 and 200
    # 130 contacts written in two batches: many share one millisecond, across the restarts
    written = new_contacts(130)
    assert all(r.ok for r in conn.write("contacts", written))
    calls = stats(crm)["total"]
    pages, records = read_all(conn, since=SEED_HORIZON.isoformat())
    emails = [r["properties"]["email"] for r in records]
    assert sorted(emails) == sorted(r["properties"]["email"] for r in written)  # each once
    assert stats(crm)["total"] - calls == len(pages) >= 13
    # a cursor taken across a restart resumes the same way
    middle = pages[len(pages) // 2]
    _, rest = read_all(conn, cursor=middle.cursor)
    before = [r for p in pages[: len(pages) // 2 + 1] for r in p.records]
    assert sorted(r["id"] for r in before + rest) == sorted(r["id"] for r in records)
    # the seeded contacts too (distinct seconds), from the beginning of time
    _, seeded = read_all(conn, since="2000-01-01T00:00:00Z")
    assert len(seeded) == len({r["id"] for r in seeded}) == len(CONTACTS) + 130


def test_fetch_and_lookup(crm):
    conn = connector(crm)
    _, records = read_all(conn, limit=3)
    ids = [r["id"] for r in records]
    fetched = conn.fetch("contacts", [ids[2], "999999", ids[0]])
    assert [r["id"] for r in fetched] == [ids[2], ids[0]]
    email = CONTACTS[10]["email"]
    (found,) = conn.lookup("contacts", "properties.email", [email.upper(), "nobody@example.org"])
    assert found["properties"]["email"] == email
    city = CONTACTS[10]["city"]
    by_city = conn.lookup("contacts", "city", [city])
    assert len(by_city) == sum(1 for c in CONTACTS if c["city"] == city)
    assert {r["properties"]["city"] for r in by_city} == {city}
    assert conn.lookup("contacts", "email", []) == []


# --- writes -------------------------------------------------------------------------------------


def test_batch_write_with_one_bad_record(crm):
    conn = connector(crm)
    records = new_contacts(3, "batch")
    records[1]["properties"]["email"] = "batch1-at-example.org"
    results = conn.write("contacts", records)
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, RecordError)
    assert "Email address batch1-at-example.org is invalid" in results[1].error.message
    _, after = read_all(conn)
    emails = {r["properties"]["email"] for r in after}
    assert len(after) == len(CONTACTS) + 2
    assert {"batch0@example.org", "batch2@example.org"} <= emails


def test_batch_upsert_with_every_kind_of_bad_record(crm):
    conn = connector(crm)
    existing = CONTACTS[5]["email"]
    records = [
        {"properties": {"email": "ada@example.org", "firstname": "Ada"}},
        {"properties": {"email": "not-an-email", "firstname": "Bad"}},
        {"properties": {"email": existing, "city": "Nantes", "lastmodifieddate": "2020-01-01"}},
        {"properties": {"firstname": "No email"}},
        {"properties": {"email": "bob@example.org", "lifecyclestage": "royalty"}},
        {"email": "flat@example.org", "firstname": "Flat"},
    ]
    calls = stats(crm)["total"]
    results = conn.write("contacts", records)
    assert [r.ok for r in results] == [True, False, True, False, False, True]
    assert stats(crm)["total"] - calls == 1  # one batch; the email-less record never left
    assert results[0].action == "created" and results[2].action == "updated"
    assert isinstance(results[1].error, RecordError)
    assert "Email address not-an-email is invalid" in results[1].error.message
    assert "no email" in results[3].error.message
    assert results[4].error.message.startswith("Property values were not valid: royalty was not one")
    _, after = read_all(conn)
    by_email = {r["properties"]["email"]: r for r in after}
    assert len(after) == len(CONTACTS) + 2
    assert {"ada@example.org", "flat@example.org"} <= set(by_email)
    assert by_email[existing]["properties"]["city"] == "Nantes"
    assert by_email[existing]["id"] == results[2].target_id


def test_a_batch_refused_as_a_whole_is_split_until_the_bad_record_stands_alone(crm):
    conn = connector(crm)
    # batch/create validates the whole batch: one bad property fails it, the halving isolates it
    records = new_contacts(6, "create")
    records[4]["properties"]["date_of_birth"] = "yesterday"
    records.append({"properties": {"email": CONTACTS[1]["email"]}})
    results = conn.write("contacts", records, mode=WriteMode.CREATE)
    assert [r.ok for r in results] == [True, True, True, True, False, True, False]
    assert "yesterday is not a valid date" in results[4].error.message
    assert "already exists" in results[6].error.message
    assert {r.action for r in results if r.ok} == {"created"}
    assert len(conn.lookup("contacts", "email", [r["properties"]["email"] for r in records])) == 6


def test_a_wrong_base_url_fails_the_batch_not_each_record(crm):
    conn = connector(f"{crm}/v9")
    with pytest.raises(ConfigError, match="check the API base URL"):
        conn.write("contacts", new_contacts(3))
    assert stats(crm)["total"] == 1


def test_update_mode_by_id_and_by_email(crm):
    conn = connector(crm)
    (first,) = conn.lookup("contacts", "email", [CONTACTS[0]["email"]])
    results = conn.write(
        "contacts",
        [
            {"id": first["id"], "properties": {"city": "Brest"}},
            {"properties": {"email": CONTACTS[1]["email"], "city": "Lille"}},
            {"id": "999999", "properties": {"city": "Nowhere"}},
            {"properties": {"email": "unknown@example.org", "city": "Nowhere"}},
        ],
        mode=WriteMode.UPDATE,
    )
    assert [r.ok for r in results] == [True, True, False, False]
    assert results[0].target_id == first["id"] and results[0].action == "updated"
    assert "not found" in results[2].error.message
    cities = {
        r["properties"]["city"] for r in conn.lookup("contacts", "email", [c["email"] for c in CONTACTS[:2]])
    }
    assert cities == {"Brest", "Lille"}


def test_writes_go_in_batches_of_100(crm):
    conn = connector(crm)
    calls = stats(crm)["total"]
    records = new_contacts(150, "many")
    records.append(dict(records[0]))  # the same email twice: never in one batch
    results = conn.write("contacts", records)
    assert all(r.ok for r in results) and results[-1].action == "updated"
    assert results[-1].target_id == results[0].target_id
    assert stats(crm)["total"] - calls == 2


def test_delete_archives(crm):
    conn = connector(crm)
    _, records = read_all(conn, limit=2)
    results = conn.delete("contacts", [records[0]["id"], "999999"])
    assert [(r.ok, r.action) for r in results] == [(True, "deleted"), (True, "deleted")]
    _, after = read_all(conn)
    assert len(after) == len(CONTACTS) - 1 and records[0]["id"] not in {r["id"] for r in after}
    assert conn.fetch("contacts", [records[0]["id"]]) == []


def test_gdpr_find_and_erase_subject(crm):
    conn = connector(crm)
    email = CONTACTS[3]["email"]
    (subject,) = conn.find_subject({"email": [email.upper()]})
    assert (subject.entity, subject.label) == ("contacts", f"contact #{subject.id}")
    assert subject.data["properties"]["email"] == email
    by_phone = conn.find_subject({"phone": CONTACTS[3]["phone"], "email": [email]})
    assert [r.id for r in by_phone] == [subject.id]  # found by both, listed once
    assert conn.find_subject({"email": "nobody@example.org"}) == []
    assert conn.export_subject("contacts", subject.id)["properties"]["email"] == email
    erased = conn.erase_subject("contacts", subject.id, strategy="vendor")
    assert erased.ok and erased.action == "erased" and erased.target_id == subject.id
    assert conn.find_subject({"email": email}) == []
    assert conn.fetch("contacts", [subject.id]) == []
    again = conn.erase_subject("contacts", subject.id, strategy="vendor")
    assert again.ok and again.action == "unchanged"
    # by e-mail: HubSpot blocklists the address even when no contact has it
    other = CONTACTS[4]["email"]
    assert conn.erase_subject("contacts", other, strategy="vendor").action == "erased"
    assert conn.find_subject({"email": other}) == []
    unknown = conn.erase_subject("contacts", "someone.else@example.org", strategy="vendor")
    assert unknown.ok and unknown.action == "unchanged"
    # archiving is no erasure: not offered
    archive = conn.erase_subject("contacts", CONTACTS[5]["email"], strategy="delete")
    assert not archive.ok and "not a way" in archive.error.message
    assert conn.find_subject({"email": CONTACTS[5]["email"]})


# --- rate limits, faults, budget ----------------------------------------------------------------


def test_429_with_retry_after_is_honoured(crm):
    faults(crm, rate_limit_rate=1.0, retry_after=1)
    timer = threading.Timer(0.3, faults, args=(crm,), kwargs={"rate_limit_rate": 0})
    timer.start()
    start = time.monotonic()
    _, records = read_all(connector(crm))
    timer.join()
    assert len(records) == len(CONTACTS)
    assert time.monotonic() - start >= 0.9
    assert stats(crm)["by_status"].get("429", 0) >= 1


def test_spent_rate_limit_window_pauses_the_next_call(crm):
    conn = connector(crm)
    pauses = []
    conn.sleep = pauses.append  # record instead of waiting
    start = time.monotonic()
    for _ in range(200):  # the sandbox's window: 190 calls / 10 s, and 19 a second
        conn.ping()
    if time.monotonic() - start < 1.0:
        assert any(0.5 < p <= 1.0 for p in pauses)  # the secondly limit
    assert any(9.0 < p <= 10.0 for p in pauses)  # the ten-second window
    assert len(pauses) < 200


def test_the_pause_really_waits(crm):
    conn = connector(crm)
    waited = []

    def sleep(seconds):
        waited.append(seconds)
        time.sleep(seconds)

    conn.sleep, conn.max_rate_pause = sleep, 0.2  # the secondly pause, shortened
    start = time.monotonic()
    for _ in range(20):  # 19 calls within one second spend the secondly limit: the 20th waits
        conn.ping()
    assert len(waited) == 1 and 0.1 < waited[0] <= 0.2
    assert time.monotonic() - start >= waited[0]


def test_malformed_json_is_a_transient_error(crm):
    faults(crm, malformed_rate=1.0)
    with pytest.raises(TransientError) as caught:
        read_all(connector(crm))
    assert caught.value.reason == "malformed"
    faults(crm, malformed_rate=0)
    assert connector(crm).check().ok


def test_erase_subject_is_reported_when_refused(crm):
    conn = connector(crm)
    result = conn.erase_subject("contacts", "", strategy="vendor")
    assert not result.ok and isinstance(result.error, RecordError)
    assert "HubSpot refused the GDPR deletion (HTTP 400)" in result.error.message
    assert "objectId" in result.error.message


@pytest.mark.django_db(transaction=True)
def test_request_budget_holds_across_threads(crm):
    faults(crm, latency_ms=50)
    errors = []

    def worker():
        conn = connector(crm, system_id=9101, max_concurrency=2)
        try:
            read_all(conn, limit=5)
            conn.fetch("contacts", ["1001"])
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    seen = stats(crm)
    assert seen["total"] == 12 and seen["max_in_flight"] <= 2


def test_since_must_be_a_datetime(crm):
    with pytest.raises(ConfigError, match="ISO-8601"):
        read_all(connector(crm), since="yesterday")
