"""The transform registry: each transform's result and its message when the data does not fit, chain
validation that names the step and the parameter, normalisation of what forms send, hostile
patterns that cannot hang a worker, and — for every registered transform, on arbitrary JSON-like
input — a result of the declared type or a ``RecordError``, never another exception."""

import contextlib
import json
import pickle
import time
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.connectors.errors import ConfigError, RecordError
from flows.engine.transforms import (
    PARAM_TYPES,
    RETURN_TYPES,
    TRANSFORMS,
    ChainError,
    CleanStep,
    Param,
    TransformContext,
    apply_chain,
    clean_chain,
    clean_step,
    transform_choices,
    try_transform,
    validate_chain,
    validate_step,
)

RECORD = {
    "firstname": "Ada",
    "lastname": "Lovelace",
    "age": 36,
    "email": "",
    "emails": [],
    "contact": {"email": "ada@example.org", "phone": None},
    "tags": ["a", "b"],
    "flag": True,
    "values": {"name": [{"locale": "fr_FR", "scope": None, "data": "Chaise"}]},
}


def _value_map(name, key):
    if name == "colors" and key in {"R", "G"}:
        return {"R": "red", "G": "green"}[key]
    raise RecordError(f"“{key}” is not in the value map “{name}”.")


def _link_lookup(system, entity, source_id):
    if source_id == "404":
        raise RecordError("no link")
    return f"{system}:{entity}:{source_id}"


CONTEXT = TransformContext(record=RECORD, value_map=_value_map, link_lookup=_link_lookup)


def run(value, *steps, context=CONTEXT):
    return apply_chain(value, clean_chain(list(steps)), context)


def fails(value, *steps, context=CONTEXT) -> str:
    with pytest.raises(RecordError) as caught:
        run(value, *steps, context=context)
    return caught.value.message


# --- every transform's behaviour ----------------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")

CASES = [
    # text
    (" a b \n", {"op": "trim"}, "a b"),
    (12, {"op": "trim"}, "12"),
    (Decimal("1.50"), {"op": "trim"}, "1.50"),
    (0.1, {"op": "trim"}, "0.1"),
    (1e16, {"op": "trim"}, "10000000000000000"),
    ("ÉCOLE", {"op": "lower"}, "école"),
    ("straße", {"op": "upper"}, "STRASSE"),
    ("jean-luc PICARD", {"op": "title"}, "Jean-Luc Picard"),
    ("o'neil  mc", {"op": "title"}, "O'neil  Mc"),
    ("Crème Brûlée!", {"op": "slugify"}, "creme-brulee"),
    ("Привет мир", {"op": "slugify", "allow_unicode": "true"}, "привет-мир"),
    ("a-b-c", {"op": "replace", "old": "-", "new": " "}, "a b c"),
    ("a-b", {"op": "replace", "old": "-"}, "ab"),
    ("a.b", {"op": "replace", "old": ".", "new": "*"}, "a*b"),
    ("size: 12 cm", {"op": "regex_extract", "pattern": r"(\d+) cm", "group": "1"}, "12"),
    ("size: 12 cm", {"op": "regex_extract", "pattern": r"\d+ cm"}, "12 cm"),
    ("no digits", {"op": "regex_extract", "pattern": r"\d+"}, None),
    ("ab", {"op": "regex_extract", "pattern": r"a(x)?b", "group": 1}, None),
    ("a, b ,c", {"op": "split", "separator": ","}, ["a", "b", "c"]),
    ("a, b", {"op": "split", "separator": ",", "trim": "false"}, ["a", " b"]),
    ("a,b,c", {"op": "split", "separator": ",", "index": "-1"}, "c"),
    ("Ada", {"op": "split", "separator": " ", "index": 1}, None),
    (["a", 1, None, Decimal("2.5")], {"op": "join", "separator": ", "}, "a, 1, 2.5"),
    (["a", "b"], {"op": "join", "separator": ""}, "ab"),
    ("single", {"op": "join", "separator": "|"}, "single"),
    ("abcdefghij", {"op": "truncate", "length": "5"}, "abcde"),
    ("abcdefghij", {"op": "truncate", "length": 5, "ellipsis": "…"}, "abcd…"),
    ("abc", {"op": "truncate", "length": 5, "ellipsis": "…"}, "abc"),
    ("<p>Fish &amp; <b>chips</b></p>", {"op": "strip_html"}, "Fish & chips"),
    ("&lt;b&gt;", {"op": "strip_html"}, "<b>"),
    # fields of the record
    (None, {"op": "concatenate", "format": "{firstname} {lastname}"}, "Ada Lovelace"),
    (
        "X",
        {"op": "concatenate", "format": "{} {{literal}} {contact.email} {missing}."},
        "X {literal} ada@example.org .",
    ),
    (None, {"op": "concatenate", "format": "{age} y"}, "36 y"),
    (None, {"op": "concatenate", "format": "{values.name[locale=fr_FR].data}"}, "Chaise"),
    ("", {"op": "default", "value": "N/A"}, "N/A"),
    ("  ", {"op": "default", "value": "N/A"}, "N/A"),
    (None, {"op": "default", "value": "N/A"}, "N/A"),
    ([], {"op": "default", "value": "N/A"}, "N/A"),
    (0, {"op": "default", "value": "N/A"}, 0),
    (False, {"op": "default", "value": "N/A"}, False),
    (None, {"op": "first_non_empty", "paths": ["email", "emails", "contact.email"]}, "ada@example.org"),
    ("mine", {"op": "first_non_empty", "paths": ["firstname"]}, "mine"),
    ("mine", {"op": "first_non_empty", "paths": "firstname\nlastname", "include_input": "no"}, "Ada"),
    (None, {"op": "first_non_empty", "paths": ["email", "contact.phone"]}, None),
    # numbers
    ("12", {"op": "to_int"}, 12),
    (" -12 ", {"op": "to_int"}, -12),
    ("12.0", {"op": "to_int"}, 12),
    (12.0, {"op": "to_int"}, 12),
    ("1e3", {"op": "to_int"}, 1000),
    (Decimal("7"), {"op": "to_int"}, 7),
    (10**40, {"op": "to_int"}, 10**40),
    ("12.50", {"op": "to_decimal"}, Decimal("12.50")),
    ("2.345", {"op": "to_decimal", "places": "2"}, Decimal("2.35")),
    ("2.345", {"op": "to_decimal", "places": "2", "rounding": "half_even"}, Decimal("2.34")),
    (0.1, {"op": "to_decimal"}, Decimal("0.1")),
    (3, {"op": "to_decimal", "places": 2}, Decimal("3.00")),
    ("2.5", {"op": "round"}, Decimal("3")),
    ("-2.5", {"op": "round"}, Decimal("-3")),
    ("2.5", {"op": "round", "rounding": "half_even"}, Decimal("2")),
    (1.005, {"op": "round", "places": 2}, Decimal("1.01")),
    ("2.99", {"op": "round", "places": 1, "rounding": "down"}, Decimal("2.9")),
    ("12.34", {"op": "multiply", "factor": "100"}, Decimal("1234.00")),
    (0.1, {"op": "multiply", "factor": 3}, Decimal("0.3")),
    (1234, {"op": "divide", "divisor": "100"}, Decimal("12.34")),
    ("1", {"op": "divide", "divisor": 3}, Decimal("0.3333333333333333333333333333333333")),
    ("1.5", {"op": "unit_convert", "from": "kg", "to": "g"}, Decimal("1500.0")),
    (1, {"op": "unit_convert", "from": "lb", "to": "kg"}, Decimal("0.45359237")),
    (16, {"op": "unit_convert", "from": "oz", "to": "lb"}, Decimal("1")),
    (2, {"op": "unit_convert", "from": "in", "to": "cm"}, Decimal("5.08")),
    (1500, {"op": "unit_convert", "from": "ml", "to": "l"}, Decimal("1.5")),
    # dates
    ("2024-03-01", {"op": "parse_date"}, datetime(2024, 3, 1, tzinfo=UTC)),
    (
        "2024-03-01T10:00:00Z",
        {"op": "parse_date", "timezone": "Europe/Paris"},
        datetime(2024, 3, 1, 10, tzinfo=UTC),
    ),
    (
        "2024-03-01 10:00",
        {"op": "parse_date", "timezone": "Europe/Paris"},
        datetime(2024, 3, 1, 10, tzinfo=PARIS),
    ),
    (
        "01/03/2024 10:00",
        {"op": "parse_date", "format": "%d/%m/%Y %H:%M", "timezone": "Europe/Paris"},
        datetime(2024, 3, 1, 10, tzinfo=PARIS),
    ),
    ("1 Mar 2024", {"op": "parse_date", "format": "%d %b %Y"}, datetime(2024, 3, 1, tzinfo=UTC)),
    (date(2024, 3, 1), {"op": "parse_date", "timezone": "Europe/Paris"}, datetime(2024, 3, 1, tzinfo=PARIS)),
    (
        "2024-03-01T10:00:00Z",
        {"op": "format_date", "format": "%d/%m/%Y %H:%M", "timezone": "Europe/Paris"},
        "01/03/2024 11:00",
    ),
    (
        "2024-07-01T10:00:00+00:00",
        {"op": "format_date", "timezone": "Europe/Paris"},
        "2024-07-01T12:00:00+02:00",
    ),
    (
        datetime(2024, 3, 1, 10, 30),
        {"op": "format_date", "format": "%H:%M", "timezone": "Asia/Tokyo"},
        "10:30",
    ),
    (date(2024, 3, 1), {"op": "format_date"}, "2024-03-01"),
    (date(2024, 3, 1), {"op": "format_date", "format": "%Y%m%d"}, "20240301"),
    # lookups
    ("Oui", {"op": "bool_map", "true_values": ["oui"], "false_values": ["non"]}, True),
    (" NO ", {"op": "bool_map"}, False),
    (1, {"op": "bool_map"}, True),
    (False, {"op": "bool_map", "true_output": "Y", "false_output": "N"}, "N"),
    ("yes", {"op": "bool_map", "true_output": "Y", "false_output": "N"}, "Y"),
    ("R", {"op": "value_map", "map": "colors"}, "red"),
    (42, {"op": "link_lookup", "system": "erp", "entity": "customer"}, "erp:customer:42"),
    ("a", {"op": "map", "mapping": {"a": "A"}}, "A"),
    (1, {"op": "map", "mapping": {"1": "one"}}, "one"),
    (True, {"op": "map", "mapping": [["true", "yes"]]}, "yes"),
    ("z", {"op": "map", "mapping": {"a": "A"}, "missing": "keep"}, "z"),
    ("z", {"op": "map", "mapping": {"a": "A"}, "missing": "empty"}, None),
    ({"amount": "1.5", "unit": "KILOGRAM"}, {"op": "pick", "path": "amount"}, "1.5"),
    ([{"a": 1}, {"a": 2}], {"op": "pick", "path": "[*].a"}, [1, 2]),
    ({"amount": "1.5"}, {"op": "pick", "path": "unit"}, None),
]


@pytest.mark.parametrize(("value", "step", "expected"), CASES, ids=[str(case[1]) for case in CASES])
def test_transform(value, step, expected):
    result = run(value, step)
    assert result == expected
    assert type(result) is type(expected)
    if isinstance(expected, datetime):
        assert result.utcoffset() == expected.utcoffset()


def test_every_transform_has_a_behaviour_case():
    covered = {step["op"] for _value, step, _expected in CASES}
    assert covered == set(TRANSFORMS)


ERRORS = [
    (True, {"op": "trim"}, "trim: expects text or a number, got true"),
    (["a"], {"op": "upper"}, "upper: expects text or a number, got a list"),
    ({"a": 1}, {"op": "lower"}, "lower: expects text or a number, got an object"),
    (date(2024, 1, 1), {"op": "slugify"}, "slugify: expects text or a number, got 2024-01-01"),
    (float("nan"), {"op": "title"}, "title: nan is not a finite number"),
    (Decimal("Infinity"), {"op": "replace", "old": "x"}, "replace: Infinity is not a finite number"),
    (
        "a\ud800b",
        {"op": "regex_extract", "pattern": "a"},
        'regex_extract: "a\ud800b" holds characters that cannot be searched',
    ),
    (
        "a" * 600_000,
        {"op": "replace", "old": "a", "new": "bb"},
        "replace: the result is longer than 1000000 characters",
    ),
    ([["a"]], {"op": "join", "separator": ","}, "join: the list holds a list, which is not text"),
    ([True], {"op": "join", "separator": ","}, "join: the list holds true, which is not text"),
    (
        "<a" + "<" * 1100,
        {"op": "strip_html"},
        'strip_html: "<a<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<…" has too deeply nested tags',
    ),
    (None, {"op": "concatenate", "format": "{tags}"}, "concatenate: {tags} is a list, not text"),
    (None, {"op": "concatenate", "format": "{flag}!"}, "concatenate: {flag} is true, not text"),
    ({"x": 1}, {"op": "concatenate", "format": "<{}>"}, "concatenate: {} is an object, not text"),
    ("12,5", {"op": "to_int"}, 'to_int: "12,5" is not a whole number'),
    ("12.5", {"op": "to_int"}, 'to_int: "12.5" is not a whole number'),
    ("abc", {"op": "to_int"}, 'to_int: "abc" is not a whole number'),
    ("1_000", {"op": "to_int"}, 'to_int: "1_000" is not a whole number'),
    (False, {"op": "to_int"}, "to_int: expects text or a number, got false"),
    ("NaN", {"op": "to_decimal"}, 'to_decimal: "NaN" is not a number'),
    ("Infinity", {"op": "round"}, 'round: "Infinity" is not a number'),
    (float("inf"), {"op": "multiply", "factor": 2}, "multiply: inf is not a number"),
    ("1e200", {"op": "to_int"}, 'to_int: "1e200" is too large'),
    (
        10**200,
        {"op": "divide", "divisor": 2},
        "divide: 100000000000000000000000000000000000000… is too large",
    ),
    ("1e90", {"op": "round", "places": 2}, 'round: the result for "1e90" is out of range'),
    ("x" * 100, {"op": "to_int"}, 'to_int: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…" is not a whole number'),
    ("yesterday", {"op": "parse_date"}, 'parse_date: "yesterday" is not an ISO 8601 date'),
    ("2024-13-01", {"op": "parse_date"}, 'parse_date: "2024-13-01" is not an ISO 8601 date'),
    (
        "01-03-2024",
        {"op": "parse_date", "format": "%d/%m/%Y"},
        'parse_date: "01-03-2024" does not match %d/%m/%Y',
    ),
    (20240301, {"op": "parse_date"}, "parse_date: expects text, a date or a date and time, got 20240301"),
    ("soon", {"op": "format_date"}, 'format_date: "soon" is not an ISO 8601 date'),
    (
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=9))),
        {"op": "format_date", "timezone": "UTC"},
        "format_date: 0001-01-01T00:00:00+09:00 cannot be written in this format",
    ),
    ("maybe", {"op": "bool_map"}, 'bool_map: "maybe" is neither true nor false'),
    (Decimal("sNaN"), {"op": "bool_map"}, "bool_map: sNaN is not a finite number"),
    ("B", {"op": "value_map", "map": "colors"}, "“B” is not in the value map “colors”."),
    ("404", {"op": "link_lookup", "system": "erp", "entity": "customer"}, "no link"),
    ("z", {"op": "map", "mapping": {"a": "A"}}, 'map: "z" is not in the table'),
    ("text", {"op": "pick", "path": "a"}, 'pick: expects a list or an object, got "text"'),
]


@pytest.mark.parametrize(("value", "step", "message"), ERRORS, ids=[str(case[1]) for case in ERRORS])
def test_transform_error_message(value, step, message):
    assert fails(value, step).startswith(message)


def test_record_error_carries_the_transform():
    with pytest.raises(RecordError) as caught:
        run("x", {"op": "to_int"})
    assert caught.value.reason == "transform"
    assert caught.value.detail == "to_int"


def test_lookups_without_callables():
    empty = TransformContext()
    assert (
        fails("R", {"op": "value_map", "map": "colors"}, context=empty)
        == "value_map: value maps cannot be read here"
    )
    assert (
        fails("1", {"op": "link_lookup", "system": "erp", "entity": "customer"}, context=empty)
        == "link_lookup: links cannot be read here"
    )


def test_lookup_keys_are_text():
    seen = []
    context = TransformContext(value_map=lambda name, key: seen.append(key) or key)
    for value in ("a", 3, Decimal("1.50"), True, 0.5):
        run(value, {"op": "value_map", "map": "m"}, context=context)
    assert seen == ["a", "3", "1.50", "true", "0.5"]


def test_config_error_from_a_lookup_goes_through():
    def missing_map(name, key):
        raise ConfigError("no such map")

    with pytest.raises(ConfigError):
        run("a", {"op": "value_map", "map": "m"}, context=TransformContext(value_map=missing_map))


def test_none_skips_transforms_except_those_that_fill_it():
    for op_step in (
        {"op": "trim"},
        {"op": "to_int"},
        {"op": "parse_date"},
        {"op": "bool_map"},
        {"op": "value_map", "map": "colors"},
        {"op": "join", "separator": ","},
        {"op": "map", "mapping": {"a": "b"}},
    ):
        assert run(None, op_step) is None
    assert run(None, {"op": "trim"}, {"op": "default", "value": "x"}, {"op": "upper"}) == "X"


def test_chain_applies_in_order():
    chain = [
        {"op": "trim"},
        {"op": "replace", "old": ",", "new": "."},
        {"op": "to_decimal", "places": "2"},
        {"op": "multiply", "factor": "100"},
        {"op": "to_int"},
    ]
    assert run(" 12,345 ", *chain) == 1235


def test_no_context_is_fine():
    assert apply_chain(" a ", clean_chain([{"op": "trim"}])) == "a"
    assert apply_chain(None, clean_chain([{"op": "concatenate", "format": "[{a}]"}])) == "[]"


# --- validation and normalisation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "errors"),
    [
        ({"op": "trim"}, {}),
        ({}, {"op": "choose a transform"}),
        ("trim", {"op": "a step must be an object with an “op”"}),
        ({"op": "eval"}, {"op": 'unknown transform "eval"'}),
        ({"op": 3}, {"op": "unknown transform 3"}),
        ({"op": "trim", "extra": 1}, {"extra": "unknown parameter of trim"}),
        ({"op": "replace"}, {"old": "this parameter is required"}),
        ({"op": "replace", "old": ""}, {"old": "this parameter is required"}),
        ({"op": "replace", "old": ["x"]}, {"old": "must be a text"}),
        ({"op": "replace", "old": "x" * 1001}, {"old": "is too long (1000 characters at most)"}),
        ({"op": "round", "places": "2.5"}, {"places": "must be a whole number"}),
        ({"op": "round", "places": True}, {"places": "must be a whole number"}),
        ({"op": "round", "places": "13"}, {"places": "must be at most 12"}),
        ({"op": "round", "places": -1}, {"places": "must be at least 0"}),
        (
            {"op": "round", "rounding": "random"},
            {"rounding": '"random" is not one of: half_up, half_even, down, up, floor, ceiling'},
        ),
        ({"op": "multiply", "factor": "1,5"}, {"factor": "must be a number (with a dot for decimals)"}),
        ({"op": "multiply", "factor": "NaN"}, {"factor": "must be a number (with a dot for decimals)"}),
        ({"op": "multiply", "factor": "1e40"}, {"factor": "is too large"}),
        ({"op": "divide", "divisor": "0"}, {"divisor": "must not be zero"}),
        ({"op": "divide", "divisor": "0.00"}, {"divisor": "must not be zero"}),
        ({"op": "slugify", "allow_unicode": "maybe"}, {"allow_unicode": "must be true or false"}),
        ({"op": "regex_extract", "pattern": "(a"}, {"pattern": "is not a valid pattern: missing ): (a"}),
        (
            {"op": "regex_extract", "pattern": r"(a)\1"},
            {"pattern": "is not a valid pattern: invalid escape sequence: \\1"},
        ),
        (
            {"op": "regex_extract", "pattern": "(?=a)"},
            {"pattern": "is not a valid pattern: invalid perl operator: (?="},
        ),
        (
            {"op": "regex_extract", "pattern": "(a)", "group": 2},
            {"group": "the pattern has only 1 group(s) (0 is the whole match)"},
        ),
        (
            {"op": "parse_date", "timezone": "Mars/Olympus"},
            {"timezone": '"Mars/Olympus" is not a known time zone (e.g. Europe/Paris)'},
        ),
        (
            {"op": "parse_date", "timezone": "localtime"},
            {"timezone": '"localtime" is not a known time zone (e.g. Europe/Paris)'},
        ),
        (
            {"op": "parse_date", "timezone": "../etc/passwd"},
            {"timezone": '"../etc/passwd" is not a known time zone (e.g. Europe/Paris)'},
        ),
        ({"op": "parse_date", "format": "%Y-%Q"}, {"format": '"%Q" is not a supported directive'}),
        ({"op": "parse_date", "format": "%Y-%"}, {"format": 'ends with a lone "%"'}),
        ({"op": "parse_date", "format": "%Y%Y"}, {"format": "cannot read dates: a directive appears twice"}),
        ({"op": "format_date", "format": "%c"}, {"format": '"%c" is not a supported directive'}),
        ({"op": "unit_convert", "from": "kg", "to": "m"}, {"to": "cannot convert a mass to a length"}),
        (
            {"op": "unit_convert", "from": "kg", "to": "stone"},
            {"to": '"stone" is not one of: g, kg, lb, oz, mm, cm, m, in, ml, l'},
        ),
        (
            {"op": "concatenate", "format": "{a b}"},
            {
                "format": 'position 3: unexpected space: put names with spaces in `backticks`, values in "quotes"'
            },
        ),
        ({"op": "concatenate", "format": "x {a"}, {"format": 'position 3: "{" is not closed'}),
        ({"op": "concatenate", "format": "a}"}, {"format": 'position 2: a single "}" must be written "}}"'}),
        (
            {"op": "concatenate", "format": "{a{b}}"},
            {"format": 'position 3: a "{" cannot open inside a field'},
        ),
        (
            {"op": "concatenate", "format": "{lines[*].sku}"},
            {"format": 'position 1: "[*]" gives a list, which cannot go into a text'},
        ),
        ({"op": "concatenate", "format": "{a.__class__}"}, {}),
        ({"op": "first_non_empty", "paths": ["a", "b."]}, {"paths": "item 2: position 3: expected a key"}),
        ({"op": "first_non_empty", "paths": []}, {"paths": "this parameter is required"}),
        ({"op": "first_non_empty", "paths": [1.5]}, {"paths": "item 1 must be a text"}),
        (
            {"op": "truncate", "length": 3, "ellipsis": "..."},
            {"ellipsis": "must be shorter than the maximum length"},
        ),
        ({"op": "truncate", "length": 0}, {"length": "must be at least 1"}),
        (
            {"op": "bool_map", "true_values": ["yes", "Oui"], "false_values": ["OUI"]},
            {"false_values": "oui cannot be both true and false"},
        ),
        (
            {"op": "bool_map", "true_output": "Y"},
            {"false_output": "give both outputs, or neither for true/false"},
        ),
        ({"op": "map", "mapping": "a=b"}, {"mapping": "must be a table of texts"}),
        ({"op": "map", "mapping": {"a": ["b"]}}, {"mapping": "must be a table of texts"}),
        ({"op": "value_map", "map": "  "}, {"map": "this parameter is required"}),
        ({"op": "pick", "path": ""}, {"path": "this parameter is required"}),
        ({"op": "pick", "path": "a[0"}, {"path": 'position 4: expected "]"'}),
        ({"op": "pick", "path": 5}, {}),
        ({"op": "split", "separator": ",", "index": "first"}, {"index": "must be a whole number"}),
        (
            {"op": "to_decimal", "places": "two", "rounding": "up", "bogus": 1},
            {"places": "must be a whole number", "bogus": "unknown parameter of to_decimal"},
        ),
    ],
)
def test_validate_step(step, errors):
    assert validate_step(step) == errors


def test_validate_step_checks_value_map_names_when_given():
    assert validate_step({"op": "value_map", "map": "colors"}, value_maps={"colors"}) == {}
    assert validate_step({"op": "value_map", "map": "sizes"}, value_maps={"colors"}) == {
        "map": 'there is no value map named "sizes"'
    }


def test_validate_chain_names_each_step():
    chain = [{"op": "trim"}, {"op": "round", "places": "x"}, {"op": "nope"}]
    assert validate_chain(chain) == [
        {},
        {"places": "must be a whole number"},
        {"op": 'unknown transform "nope"'},
    ]
    assert validate_chain("trim") == [{"op": "a chain must be a list of steps"}]
    assert validate_chain([]) == []


def test_clean_chain_raises_chain_error_with_the_steps():
    with pytest.raises(ChainError) as caught:
        clean_chain([{"op": "trim"}, {"op": "round", "places": "x"}])
    error = caught.value
    assert error.errors == [{}, {"places": "must be a whole number"}]
    assert error.message == "step 2, places: must be a whole number"
    assert isinstance(error, ConfigError)
    assert isinstance(error, ValueError)


def test_normalisation_of_form_values():
    clean = clean_chain(
        [
            {"op": "round", "places": " 2 "},
            {"op": "to_decimal", "places": 2.0},
            {"op": "multiply", "factor": "100"},
            {"op": "divide", "divisor": 0.1},
            {"op": "split", "separator": ",", "index": "-1", "trim": "off"},
            {"op": "slugify", "allow_unicode": "on"},
            {"op": "bool_map", "true_values": "oui\r\nsi\n\n", "false_values": ["non", 0]},
            {"op": "first_non_empty", "paths": "`a`.b\n[0]"},
            {"op": "map", "mapping": {"1": 2, 3: None}},
            {"op": "parse_date", "timezone": " Europe/Paris "},
            {"op": "replace", "old": 5, "new": ""},
            {"op": "to_decimal", "places": ""},
            {"op": "truncate", "length": "10"},
            {"op": "pick", "path": '`a`[x="1"]'},
        ]
    )
    assert clean == [
        {"op": "round", "places": 2, "rounding": "half_up"},
        {"op": "to_decimal", "places": 2, "rounding": "half_up"},
        {"op": "multiply", "factor": Decimal("100")},
        {"op": "divide", "divisor": Decimal("0.1")},
        {"op": "split", "separator": ",", "index": -1, "trim": False},
        {"op": "slugify", "allow_unicode": True},
        {
            "op": "bool_map",
            "true_values": ["oui", "si"],
            "false_values": ["non", "0"],
            "true_output": None,
            "false_output": None,
        },
        {"op": "first_non_empty", "paths": ["a.b", "[0]"], "include_input": True},
        {"op": "map", "mapping": {"1": "2", "3": None}, "missing": "error"},
        {"op": "parse_date", "format": "", "timezone": "Europe/Paris"},
        {"op": "replace", "old": "5", "new": ""},
        {"op": "to_decimal", "places": None, "rounding": "half_up"},
        {"op": "truncate", "length": 10, "ellipsis": ""},
        {"op": "pick", "path": "a[x=1]"},
    ]
    assert all(type(step) is CleanStep for step in clean)


def test_clean_steps_store_as_json_and_clean_back_the_same():
    clean = clean_chain([{"op": "multiply", "factor": "1.50"}, {"op": "regex_extract", "pattern": "(a)"}])
    stored = json.loads(json.dumps(clean, cls=DjangoJSONEncoder))
    assert clean_chain(stored) == clean


def test_clean_step_pickles_as_a_plain_dict_and_still_applies():
    clean = clean_step({"op": "regex_extract", "pattern": "(\\d+)", "group": 1})
    copy = pickle.loads(pickle.dumps(clean))  # noqa: S301 - bytes made by this test
    assert type(copy) is dict
    assert apply_chain("ab12", [copy]) == "12"


def test_apply_chain_cleans_raw_steps_and_refuses_bad_ones():
    assert apply_chain(" a ", [{"op": "trim"}, {"op": "upper"}]) == "A"
    with pytest.raises(ChainError):
        apply_chain("a", [{"op": "nope"}])


def test_try_transform():
    assert try_transform(" 12 ", {"op": "to_int"}) == (True, 12)
    assert try_transform("12,5", {"op": "to_int"}) == (False, 'to_int: "12,5" is not a whole number')
    assert try_transform("x", {"op": "round", "places": "x"}) == (False, "places: must be a whole number")
    assert try_transform("x", {"op": "value_map", "map": "m"}) == (
        False,
        "value_map: value maps cannot be read here",
    )
    assert try_transform("R", {"op": "value_map", "map": "colors"}, CONTEXT) == (True, "red")
    context = TransformContext(value_map=lambda name, key: (_ for _ in ()).throw(ConfigError("no map")))
    assert try_transform("R", {"op": "value_map", "map": "m"}, context) == (False, "no map")


def test_registry_declarations():
    assert len(TRANSFORMS) >= 26
    for key, spec in TRANSFORMS.items():
        assert spec.key == key
        assert str(spec.label) and str(spec.description)
        assert spec.returns in RETURN_TYPES
        for param in spec.params:
            assert isinstance(param, Param)
            assert param.type in PARAM_TYPES
            assert str(param.label)
    used = {param.type for spec in TRANSFORMS.values() for param in spec.params}
    assert used == set(PARAM_TYPES)
    with pytest.raises(ValueError):
        Param("x", "code")


def test_transform_choices():
    choices = transform_choices()
    assert [key for key, _label in choices] == list(TRANSFORMS)
    groups = transform_choices(grouped=True)
    assert sorted(key for _group, items in groups for key, _label in items) == sorted(TRANSFORMS)
    assert {str(group) for group, _items in groups} == {
        "Text",
        "Numbers",
        "Dates",
        "Lookups",
        "Fields and lists",
    }


# --- hostile input ------------------------------------------------------------------------------


@pytest.mark.timing
@pytest.mark.parametrize(
    "pattern", [r"(a+)+$", r"(a|a)*$", r"(a*)*b", r"(.*a){20}", r"^(\w+\s?)*$", r"(x+x+)+y"]
)
def test_catastrophic_patterns_finish_quickly(pattern):
    step = clean_step({"op": "regex_extract", "pattern": pattern})
    text = "a" * 50_000 + "!"
    started = time.perf_counter()
    for _round in range(3):
        with contextlib.suppress(RecordError):
            apply_chain(text, [step])
    assert time.perf_counter() - started < 0.5


def test_huge_patterns_are_refused_when_saved():
    errors = validate_step({"op": "regex_extract", "pattern": "((a{100}){100}){100}"})
    assert errors["pattern"].startswith("is not a valid pattern")


@pytest.mark.timing
def test_long_inputs_stay_linear():
    text = "1" * 200_000 + "x"
    started = time.perf_counter()
    assert try_transform(text, {"op": "to_int"})[0] is False
    assert try_transform(text, {"op": "parse_date", "format": "%Y"})[0] is False
    assert try_transform(text, {"op": "title"})[0] is True
    assert time.perf_counter() - started < 0.5


# --- property: any input gives the declared type or a RecordError -------------------------------

# Valid parameter sets, each transform at least once (a test below keeps it so).
PROPERTY_STEPS = [
    {"op": "trim"},
    {"op": "lower"},
    {"op": "upper"},
    {"op": "title"},
    {"op": "slugify", "allow_unicode": True},
    {"op": "replace", "old": "a", "new": "bc"},
    {"op": "regex_extract", "pattern": r"(\d+)?\s*(\w+)", "group": 1},
    {"op": "split", "separator": " "},
    {"op": "split", "separator": "0", "index": 1, "trim": False},
    {"op": "join", "separator": ", "},
    {"op": "concatenate", "format": "{} {a} {`b.c`[0]}!"},
    {"op": "default", "value": "none"},
    {"op": "to_int"},
    {"op": "to_decimal", "places": 2, "rounding": "half_even"},
    {"op": "to_decimal"},
    {"op": "round", "places": 3},
    {"op": "multiply", "factor": "-0.001"},
    {"op": "divide", "divisor": "7"},
    {"op": "unit_convert", "from": "oz", "to": "kg"},
    {"op": "parse_date", "timezone": "America/New_York"},
    {"op": "parse_date", "format": "%d/%m/%Y %H:%M", "timezone": "Europe/Paris"},
    {"op": "format_date", "format": "%Y-%m-%d %H:%M %z", "timezone": "Asia/Tokyo"},
    {"op": "format_date"},
    {"op": "bool_map"},
    {
        "op": "bool_map",
        "true_values": ["oui"],
        "false_values": ["non"],
        "true_output": "O",
        "false_output": "N",
    },
    {"op": "value_map", "map": "any"},
    {"op": "link_lookup", "system": "erp", "entity": "customer"},
    {"op": "first_non_empty", "paths": ["a", "b[0]", "`b.c`[*]"]},
    {"op": "truncate", "length": 3, "ellipsis": "…"},
    {"op": "strip_html"},
    {"op": "map", "mapping": {"1": "one", "True": "T"}, "missing": "keep"},
    {"op": "map", "mapping": {"1": "one"}},
    {"op": "pick", "path": "a"},
    {"op": "pick", "path": "[*].a"},
]

_TYPE_CHECKS = {
    "text": lambda value: isinstance(value, str),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "decimal": lambda value: isinstance(value, Decimal) and value.is_finite(),
    "number": lambda value: isinstance(value, int | float | Decimal) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "date": lambda value: isinstance(value, date) and not isinstance(value, datetime),
    "datetime": lambda value: isinstance(value, datetime) and value.tzinfo is not None,
    "list": lambda value: isinstance(value, list),
    "any": lambda value: True,
}

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text() | st.decimals(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=10,
)
# Values a transform is likely to read, mixed in so the lookups and parsers are reached too.
plausible = st.sampled_from(
    ["12", " 3.5 ", "1e3", "oui", "non", "yes", "2024-03-01", "01/03/2024 10:00", "<b>x</b>", "a b", "0"]
)
# A few record shapes (drawing records too would double the run time for little more coverage).
records = st.sampled_from(
    [
        {},
        {"a": "Ada", "b": ["x1", 2], "b.c": [None, "c"]},
        {"a": None, "b": [], "b.c": {"d": 1}},
        {"a": [1, 2], "b": {"0": 1}, "b.c": [True, 1.5, Decimal("2.5")]},
        {"a": {"x": 1}, "b": [None], "b.c": "text"},
    ]
)


def _lookup(*args):
    key = args[-1]
    if key.startswith("x"):
        raise RecordError("not mapped")
    return key[::-1]


def test_every_transform_has_a_property_case():
    assert {step["op"] for step in PROPERTY_STEPS} == set(TRANSFORMS)


@pytest.mark.parametrize("raw_step", PROPERTY_STEPS, ids=[str(step) for step in PROPERTY_STEPS])
@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_like | plausible, record=records)
def test_any_input_gives_declared_type_or_record_error(raw_step, value, record):
    step = clean_step(raw_step)
    spec = TRANSFORMS[step["op"]]
    context = TransformContext(record=record, value_map=_lookup, link_lookup=_lookup)
    try:
        result = apply_chain(value, [step], context)
    except RecordError as error:
        assert error.message.startswith(step["op"]) or error.message == "not mapped"
        return
    if result is None:
        assert spec.may_return_none or (value is None and spec.passes_none)
        return
    assert _TYPE_CHECKS[spec.result_type(step)](result), (spec.key, result)
