"""Property-based tests of the parsers the path, transform and rule properties (tests/flows/test_paths.py,
test_transforms.py, test_rules.py) do not cover: the config import parser, cron fields, value-map CSV,
the Files connector's CSV/JSON Lines readers and the chain text of the designer. Each never fails with
anything but its documented error, and what it writes it reads back."""

import datetime
import io
import json
import math

import pytest
from croniter import croniter
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from flows import configio, designer
from flows.connectors.errors import RecordError
from flows.connectors.files import csv_items, jsonl_items
from flows.engine.chain_text import ChainTextError, format_chain, parse_chain
from flows.valuemaps import ValueMapImportError, entries_from_csv, entries_to_csv

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
documents = st.dictionaries(st.text(max_size=12), json_values, max_size=5)
yaml_alphabet = st.text(alphabet=list("ab:-[]{},'\"&*!|>#%@` \n\t0123456789.\\"), max_size=120)


@FAST
@given(text=st.text(max_size=300) | yaml_alphabet, fmt=st.sampled_from([None, "yaml", "json"]))
@example(text="a: &x [*x]", fmt="yaml")
@example(text="!!python/name:os.system", fmt="yaml")
@example(text="[" * 3000, fmt="json")
def test_config_parse_returns_data_or_a_config_error(text, fmt):
    try:
        data, lines = configio.parse(text, fmt)
    except configio.ConfigError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
        return
    json.dumps(data)  # plain JSON data, whatever YAML could express
    assert all(isinstance(k, str) and isinstance(v, int) for k, v in lines.items())


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b and type(a) is type(b)


@FAST
@given(data=documents, fmt=st.sampled_from(configio.FORMATS))
def test_config_dump_then_parse_round_trips(data, fmt):
    assume(not any("\x00" in k or "\ud800" <= k[:1] <= "\udfff" for k in data))
    parsed, _lines = configio.parse(configio.dumps(data, fmt), fmt)
    assert _same(parsed, data), (parsed, data)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=documents)
def test_config_import_of_any_document_reports_and_never_raises(data):
    report = configio.import_config(json.dumps({"hub_config": 1, **data}), fmt="json", apply=True)
    assert report.ok or report.errors


cron_fields = st.lists(
    st.sampled_from(
        [
            "*",
            "*/5",
            "0",
            "59",
            "60",
            "1-5",
            "5-1",
            "L",
            "31",
            "2",
            "MON",
            "JAN-MAR",
            "?",
            "#",
            "1,2",
            "*/0",
            "7",
        ]
    ),
    min_size=3,
    max_size=7,
).map(" ".join)


@FAST
@given(cron=cron_fields | st.text(max_size=40))
@example(cron="0 0 31 2 *")
@example(cron="0 0 30 2 *")
def test_a_cron_the_designer_accepts_always_has_a_next_run(cron):
    try:
        accepted = croniter.is_valid(cron) and designer.cron_fires(cron)
    except Exception as exc:  # pragma: no cover - the property is that this never happens
        raise AssertionError(f"checking {cron!r} raised {exc!r}") from exc
    if accepted:
        moment = croniter(cron, datetime.datetime(2026, 1, 1)).get_next(datetime.datetime)
        assert moment > datetime.datetime(2026, 1, 1)


@FAST
@given(text=st.text(max_size=200) | st.text(alphabet=list('ab,"\n\r; '), max_size=80))
def test_value_map_csv_gives_entries_or_an_error_naming_the_line(text):
    try:
        entries = entries_from_csv(text)
    except ValueMapImportError as exc:
        assert str(exc).startswith(("Line", "More than"))
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in entries.items())


cell_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cf")), max_size=20)
keys = cell_text.filter(lambda t: t.strip() and t.strip().lower() not in ("source", "target"))


@FAST
@given(entries=st.dictionaries(keys, cell_text, max_size=20))
@example(entries={"=cmd": "'=x", "''@y": "+1", "-": "@"})
def test_value_map_csv_round_trips(entries):
    assert entries_from_csv(entries_to_csv(entries)) == entries


@FAST
@given(
    value=st.sampled_from(["=", "+", "-", "@"]).flatmap(lambda c: st.text(max_size=10).map(lambda t: c + t))
)
def test_value_map_export_never_starts_a_cell_with_a_formula(value):
    line = entries_to_csv({"k": value}).splitlines()[1]
    assert line.split(",", 1)[1].lstrip('"')[:1] == "'"


@FAST
@given(
    content=st.binary(max_size=300)
    | st.text(alphabet=list('ab,;"\n\r\t\x00é'), max_size=120).map(str.encode),
    header=st.booleans(),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_csv_reader_yields_records_or_record_errors(content, header, delimiter):
    try:
        for _position, item in csv_items(
            io.BytesIO(content), "f.csv", encoding="utf-8", delimiter=delimiter, header=header
        ):
            assert isinstance(item, dict | RecordError)
            if isinstance(item, RecordError):
                assert "f.csv" in str(item)
    except RecordError as exc:
        assert "f.csv" in str(exc)


@FAST
@given(
    content=st.binary(max_size=300) | st.text(alphabet=list('{}[]":,a1 \nNa'), max_size=120).map(str.encode)
)
def test_jsonl_reader_yields_objects_or_record_errors(content):
    try:
        for _position, item in jsonl_items(io.BytesIO(content), "f.jsonl", encoding="utf-8"):
            assert isinstance(item, dict | RecordError)
    except RecordError as exc:
        assert "f.jsonl" in str(exc)


@FAST
@given(text=st.text(max_size=80) | st.text(alphabet=list("trim|lower()=,'\"x1 value_map"), max_size=60))
def test_chain_text_parses_or_points_at_the_problem(text):
    try:
        chain = parse_chain(text)
    except ChainTextError as exc:
        assert str(exc)
        return
    assert parse_chain(format_chain(chain)) == chain
