"""The connector contract, the same checks for every vendor preset over real HTTP against its sandbox
stand-in (the checks and how to add a vendor: ``tests/contract/__init__.py``)."""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict
from datetime import datetime

import httpx
import pytest

from flows.connectors.base import ConnectionSettings, Connector, Page, WriteMode, is_masked
from flows.connectors.errors import AuthError, RecordError
from flows.connectors.paths import get_path
from flows.connectors.registry import get_connector_class
from sandbox.faults import FaultConfig
from sandbox.testing import running
from tests.contract.vendors import VendorCase, cases, spread

pytestmark = pytest.mark.django_db

CASES = cases()
NO_FAULTS = asdict(FaultConfig())  # every knob at rest, the fault RNG reseeded
_system_ids = itertools.count(770_000)  # apart from other modules' ids: token caches are per system id


@pytest.fixture(scope="module", params=CASES, ids=[c.key for c in CASES])
def stand_in(request):
    """The case's stand-in, started once for the module (its tests run one after the other)."""
    case: VendorCase = request.param
    options = {case.sandbox: case.options} if case.options else None
    with running(case.sandbox, options=options) as url:
        yield case, url


class Vendor:
    """One case and its stand-in for one test: connectors, faults and the stand-in's stats."""

    def __init__(self, case: VendorCase, url: str):
        self.case, self.url = case, url
        self.built: list[Connector] = []

    def connector(self, *, secrets: dict | None = None) -> Connector:
        cls = get_connector_class(self.case.connector_key)
        conn = cls(
            ConnectionSettings(
                system_id=next(_system_ids),  # no token cached by another test
                name=f"contract-{self.case.key}",
                params=self.case.params(self.url),
                secrets={**self.case.secrets, **(secrets or {})},
            )
        )
        if self.case.prepare:
            self.case.prepare(conn)
        self.built.append(conn)
        return conn

    def faults(self, **knobs) -> None:
        httpx.put(f"{self.url}/_sandbox/faults", json=knobs).raise_for_status()

    def stats(self) -> dict:
        return httpx.get(f"{self.url}/_sandbox/stats").json()

    def reset_stats(self) -> None:
        httpx.post(f"{self.url}/_sandbox/stats/reset").raise_for_status()

    def close(self) -> None:
        for conn in self.built:
            conn.close()


@pytest.fixture
def vendor(stand_in):
    """The stand-in back to its seed, without faults, its stats at zero."""
    case, url = stand_in
    httpx.post(f"{url}/_sandbox/reset").raise_for_status()
    httpx.put(f"{url}/_sandbox/faults", json=NO_FAULTS).raise_for_status()
    httpx.post(f"{url}/_sandbox/stats/reset").raise_for_status()
    vendor = Vendor(case, url)
    yield vendor
    vendor.close()


def read_all(conn: Connector, entity: str, **kwargs) -> tuple[list[Page], list[dict]]:
    pages = list(conn.read(entity, **kwargs))
    return pages, [r for p in pages for r in p.records]


def ids_of(conn: Connector, entity: str, records: list[dict]) -> list[str]:
    id_field = conn.entity(entity).id_field
    return [str(get_path(r, id_field)) for r in records]


def cursor_value(value) -> str:
    """A record's cursor as the engine keeps it (``flows.sync``): the greatest string is the watermark."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def odd_divisor(count: int, below: int) -> int | None:
    """An odd page size that divides ``count`` in two pages or more, so that the last page is full."""
    return next((d for d in range(min(below, count // 2), 2, -1) if d % 2 and count % d == 0), None)


# --- declaration -----------------------------------------------------------------------------------


def test_the_preset_declares_its_form_and_help(vendor):
    """What the "Add system" form shows: the configuration the suite connects with is one a person can
    enter there, its secrets are the ones encrypted at rest, and the help says where to find them."""
    case = vendor.case
    cls = get_connector_class(case.connector_key)
    assert str(cls.label) and str(cls.description) and str(cls.help_text) and cls.roles
    params = case.params(vendor.url)
    assert set(params) <= set(cls.parameters)
    for name, value in params.items():
        cls.parameters[name].clean(value)  # each value passes its form field (ValidationError otherwise)
    assert set(case.secrets) <= set(cls.sensitive_parameters)
    assert not set(cls.sensitive_parameters) & set(cls.parameters)  # a secret is never a plain field
    assert cls.clean_parameters(params, case.secrets) == {}


# --- connection test -------------------------------------------------------------------------------


def test_check_passes_and_a_wrong_secret_is_refused_at_once(vendor):
    case = vendor.case
    result = vendor.connector().check()
    assert result.ok, (result.kind, result.message)
    assert result.latency_ms is not None

    vendor.reset_stats()
    refused = vendor.connector(secrets=case.wrong_secrets).check()
    assert not refused.ok and refused.kind == "auth", (refused.kind, refused.message)
    assert refused.message
    shown = f"{refused.message} {refused.detail}"
    assert not any(str(secret) in shown for secret in case.wrong_secrets.values())  # never echoed
    assert vendor.stats()["total"] <= case.refusal_requests  # no retry storm

    vendor.reset_stats()
    with pytest.raises(AuthError):
        read_all(vendor.connector(secrets=case.wrong_secrets), case.read_entity)
    assert vendor.stats()["total"] <= case.refusal_requests


# --- discovery -------------------------------------------------------------------------------------


def test_discover_returns_the_declared_entities_with_fields(vendor):
    case = vendor.case
    conn = vendor.connector()
    declared = {e.key: e for e in conn.entities()}
    assert case.read_entity in declared and case.write_entity in declared
    found = {e.key: e for e in conn.discover(sample_size=3)}
    assert set(found) == set(declared)
    for key, entity in found.items():
        names = [f.name for f in entity.fields]
        assert names and len(names) == len(set(names)), key
        assert {f.name for f in declared[key].fields} <= set(names), key
        assert entity.id_field == declared[key].id_field and entity.cursor_field == declared[key].cursor_field
    read = found[case.read_entity]
    assert case.key_path in {f.name for f in read.fields}
    assert len(read.samples) == 3
    assert all(get_path(s, read.id_field) not in (None, "") for s in read.samples)
    assert all(get_path(s, case.key_path) in case.seeded for s in read.samples)


# --- full read -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sizing", ["odd", "exact"])
def test_a_full_read_returns_exactly_the_seeded_records(vendor, monkeypatch, sizing):
    case = vendor.case
    count = len(case.seeded)
    size = case.page_size if sizing == "odd" else odd_divisor(count, case.page_size)
    if size is None:
        pytest.skip(f"{count} seeded records have no odd divisor below {case.page_size}")
    assert size % 2 == 1 and (sizing == "exact") == (count % size == 0)
    conn = vendor.connector()
    case.set_page_size(conn, size, monkeypatch)
    pages, records = read_all(conn, case.read_entity)

    keys = [get_path(r, case.key_path) for r in records]
    assert len(keys) == len(set(keys)), "a record was read twice"
    assert set(keys) == case.seeded  # no gap, nothing extra
    ids = ids_of(conn, case.read_entity, records)
    assert len(set(ids)) == count

    # the page size was applied, pages are full but the last, and only the last says "no more"
    assert all(len(p.records) <= size for p in pages)
    full_pages = math.ceil(count / size)
    assert [len(p.records) for p in pages[: full_pages - 1]] == [size] * (full_pages - 1)
    assert len(pages) in (full_pages, full_pages + 1)
    if len(pages) == full_pages + 1:  # an empty last page, where the vendor could not tell earlier
        assert pages[-1].records == []
    assert [p.has_more for p in pages] == [True] * (len(pages) - 1) + [False]


def test_a_read_resumed_from_a_pages_cursor_repeats_and_skips_nothing(vendor, monkeypatch):
    """A run killed after a page resumes from that page's cursor (``Run.resume``), in a new process."""
    case = vendor.case
    conn = vendor.connector()
    case.set_page_size(conn, case.page_size, monkeypatch)
    reader = conn.read(case.read_entity)
    head = [next(reader), next(reader)]
    reader.close()
    assert all(p.has_more and p.cursor for p in head)
    again = vendor.connector()  # another worker: nothing shared but the cursor
    case.set_page_size(again, case.page_size, monkeypatch)
    _, rest = read_all(again, case.read_entity, cursor=head[-1].cursor)
    keys = [get_path(r, case.key_path) for p in head for r in p.records] + [
        get_path(r, case.key_path) for r in rest
    ]
    assert len(keys) == len(set(keys)) and set(keys) == case.seeded


# --- incremental read ------------------------------------------------------------------------------


def test_an_incremental_read_since_the_watermark_returns_exactly_the_changed_records(vendor, monkeypatch):
    case = vendor.case
    conn = vendor.connector()
    entity = conn.entity(case.read_entity)
    assert entity.cursor_field, "the read entity declares no cursor field"

    def watermark(records):
        return max(cursor_value(get_path(r, entity.cursor_field)) for r in records)

    def at(records, mark):
        return {
            i
            for i, r in zip(ids_of(conn, entity.key, records), records, strict=True)
            if cursor_value(get_path(r, entity.cursor_field)) == mark
        }

    _, everything = read_all(conn, entity.key)
    mark = watermark(everything)
    at_mark = at(everything, mark) if case.since_inclusive else set()
    _, nothing_new = read_all(conn, entity.key, since=mark)
    assert set(ids_of(conn, entity.key, nothing_new)) == at_mark

    changed = case.change(conn, entity.key, everything, case.changes)
    assert len(set(changed)) == case.changes
    _, since = read_all(conn, entity.key, since=mark)
    since_ids = ids_of(conn, entity.key, since)
    assert len(since_ids) == len(set(since_ids)), "a record was read twice"
    assert set(since_ids) == set(changed) | at_mark
    assert all(
        cursor_value(get_path(r, entity.cursor_field)) > mark
        for r in since
        if str(get_path(r, entity.id_field)) in changed
    ), "a change is not after the watermark"

    # and from the new watermark, nothing (or, inclusive, only what is stamped at it)
    new_mark = watermark(since)
    _, after = read_all(conn, entity.key, since=new_mark)
    assert set(ids_of(conn, entity.key, after)) == (at(since, new_mark) if case.since_inclusive else set())

    # the same incremental read in pages of two: paging under the bound loses and repeats nothing
    paged = vendor.connector()
    case.set_page_size(paged, 2, monkeypatch)
    pages, small = read_all(paged, entity.key, since=mark)
    small_ids = ids_of(paged, entity.key, small)
    assert len(small_ids) == len(set(small_ids)) and set(small_ids) == set(since_ids)
    assert len([p for p in pages if p.records]) >= 2 and all(len(p.records) <= 2 for p in pages)
    assert [p.has_more for p in pages] == [True] * (len(pages) - 1) + [False]


def test_a_change_stamped_in_the_watermarks_own_second_is_not_lost(vendor):
    """The engine's next bound is the greatest stamp it read. A vendor that keeps whole seconds stamps a
    record changed later in that same second with the bound itself: the next read must include it."""
    case = vendor.case
    conn = vendor.connector()
    entity = conn.entity(case.read_entity)
    _, everything = read_all(conn, entity.key)

    def stamp(record_id):
        (record,) = conn.fetch(entity.key, [record_id])
        return cursor_value(get_path(record, entity.cursor_field))

    for attempt in range(10):  # two writes a few milliseconds apart: rarely across a second's edge
        (first,) = case.change(conn, entity.key, [everything[2 * attempt]], 1)
        mark = stamp(first)  # read after the first change: the watermark of that read
        (late,) = case.change(conn, entity.key, [everything[2 * attempt + 1]], 1)
        if stamp(late) == mark:
            break
    else:
        pytest.skip(f"{case.key} stamps changes finer than two writes apart: no change shares a bound")
    _, since = read_all(conn, entity.key, since=mark)
    assert late in ids_of(conn, entity.key, since), "a change made after the read, in its second, was lost"


# --- writes ----------------------------------------------------------------------------------------


def test_a_batch_with_one_bad_record_fails_that_record_and_writes_the_others(vendor):
    case = vendor.case
    conn = vendor.connector()
    entity = conn.entity(case.write_entity)
    good = case.good_records(case.good_count)
    middle = len(good) // 2
    batch = [*good[:middle], case.bad_record, *good[middle:]]
    results = conn.write(entity.key, batch)

    assert len(results) == len(batch)
    failed = [i for i, r in enumerate(results) if not r.ok]
    assert failed == [middle], [(r.ok, str(r.error)) for r in results]
    error = results[middle].error
    assert isinstance(error, RecordError) and error.message
    written = [r for r in results if r.ok]
    assert all(r.target_id for r in written) and len({r.target_id for r in written}) == len(good)

    # read back: every good record is there, by the id the write returned
    fetched = conn.fetch(entity.key, [r.target_id for r in written])
    assert sorted(ids_of(conn, entity.key, fetched)) == sorted(str(r.target_id) for r in written)
    natural = entity.natural_keys[0] if len(entity.natural_keys) == 1 else None
    if natural and all(get_path(r, natural) for r in good):
        by_id = dict(zip(ids_of(conn, entity.key, fetched), fetched, strict=True))
        for sent, result in zip(good, written, strict=True):
            assert get_path(by_id[str(result.target_id)], natural) == get_path(sent, natural)
        bad_key = get_path(case.bad_record, natural)
        if bad_key:  # and the bad one was not written
            assert conn.lookup(entity.key, natural, [bad_key]) == []


def test_an_upsert_written_twice_updates_the_same_records(vendor):
    """A run killed after its write but before its commit writes the batch again: an upsert finds the
    records it created (by their natural key) instead of creating them twice."""
    case = vendor.case
    conn = vendor.connector()
    good = case.good_records(case.good_count)
    first = conn.write(case.write_entity, good, WriteMode.UPSERT)
    assert all(r.ok and r.action == "created" for r in first), [(r.action, str(r.error)) for r in first]
    again = conn.write(case.write_entity, good, WriteMode.UPSERT)
    assert all(r.ok and r.action in ("updated", "unchanged") for r in again), [
        (r.action, str(r.error)) for r in again
    ]
    assert [str(r.target_id) for r in again] == [str(r.target_id) for r in first]


def test_fetch_and_lookup_return_the_records_asked_for(vendor):
    """By id (preview, replay) and by natural key (matching, reconciliation); unknown ones left out."""
    case = vendor.case
    conn = vendor.connector()
    entity = conn.entity(case.read_entity)
    _, records = read_all(conn, entity.key, limit=40)
    chosen = spread(records, 3)
    ids = ids_of(conn, entity.key, chosen)
    fetched = conn.fetch(entity.key, [ids[0], case.unknown_id, ids[1], ids[2]])
    assert sorted(ids_of(conn, entity.key, fetched)) == sorted(ids)
    if len(entity.natural_keys) == 1:
        (natural,) = entity.natural_keys
        values = [get_path(r, natural) for r in chosen]
        found = conn.lookup(entity.key, natural, values)
        assert sorted(ids_of(conn, entity.key, found)) == sorted(ids)


# --- rate limits -----------------------------------------------------------------------------------


def test_rate_limited_reads_and_writes_complete(vendor):
    case = vendor.case
    conn = vendor.connector()
    # about one request in three answered 429 with Retry-After: 1. The fault RNG is seeded: with seed 1
    # the first request is refused, and never more than three in a row in the first 300 (a connector
    # makes five attempts), so the outcome is the same on every run.
    vendor.faults(rate_limit_rate=0.3, retry_after=1, seed=1)
    _, records = read_all(conn, case.read_entity)
    assert {get_path(r, case.key_path) for r in records} == case.seeded
    assert len(records) == len(case.seeded)
    stats = vendor.stats()
    assert stats["by_status"].get("429", 0) >= 1 and stats["faults"].get("rate_limit", 0) >= 1

    # a refused write was not applied (429): sent again, every record goes through once. The RNG
    # reseeded: the write's first request is refused.
    vendor.faults(seed=1)
    good = case.good_records(case.good_count)
    results = conn.write(case.write_entity, good)
    assert all(r.ok for r in results), [str(r.error) for r in results if not r.ok]
    assert vendor.stats()["by_status"].get("429", 0) > stats["by_status"]["429"]
    vendor.faults(rate_limit_rate=0)
    fetched = conn.fetch(case.write_entity, [r.target_id for r in results])
    assert sorted(ids_of(conn, case.write_entity, fetched)) == sorted(str(r.target_id) for r in results)


# --- GDPR ------------------------------------------------------------------------------------------


def test_every_declared_subject_entity_finds_exports_and_erases_a_person(vendor):
    case = vendor.case
    conn = vendor.connector()
    declared = {s.entity: s for s in conn.subject_entities}
    subject_capabilities = {c for c in conn.capabilities if c.startswith("subject_")}
    if case.subject_email is None:
        assert not declared and not subject_capabilities
        pytest.skip(f"{case.key} declares no data subjects")
    assert subject_capabilities == {"subject_lookup", "subject_erase", "subject_export"}
    entities = {e.key: e for e in conn.entities()}
    assert set(declared) <= set(entities)

    email = case.subject_email
    found = conn.find_subject({"email": [email]})
    assert len({(r.entity, r.id) for r in found}) == len(found)
    expected = set(case.subject_found_in if case.subject_found_in is not None else declared)
    assert {r.entity for r in found} == expected
    assert all(email not in r.label for r in found)  # labels go on pages: no personal value

    exports = []
    for record in found:
        exported = conn.export_subject(record.entity, record.id)
        assert str(get_path(exported, entities[record.entity].id_field)) == record.id
        exports.append(exported)
    assert email.lower() in str(exports).lower()  # the export holds what the system keeps of the person

    actions = {"delete": "erased", "vendor": "erased", "mask": "masked", "exempt": "exempt"}
    for record in found:
        strategy = declared[record.entity].strategy
        result = conn.erase_subject(record.entity, record.id, strategy=strategy)
        assert result.ok, (record.entity, strategy, str(result.error))
        assert result.action == actions[strategy]

    # found no more — or only masked, or kept under an exemption
    for record in conn.find_subject({"email": [email]}):
        subject = declared[record.entity]
        assert subject.strategy == "exempt" or (
            subject.strategy == "mask" and is_masked(record.data, subject.mask)
        ), (record.entity, record.id)
    for record in found:
        subject = declared[record.entity]
        after = conn.fetch(record.entity, [record.id])
        if subject.strategy in ("delete", "vendor"):
            assert after == [], (record.entity, record.id)
        elif subject.strategy == "mask":
            assert after and is_masked(after[0], subject.mask), (record.entity, record.id)
