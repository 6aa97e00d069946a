"""Data-quality rules on mapped records: every kind passes and fails with a readable message, parameters
are validated with the parameter named, ``unique`` holds across one run, and nothing an admin types —
a hostile pattern, an odd record — can hang or crash a run."""

import time
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.connectors.errors import ConfigError, RecordError
from flows.engine.rules import Rule, RuleChecker, RuleFailure, is_empty, validate_rule


def check(rule: dict, record: dict) -> list[RuleFailure]:
    return RuleChecker([rule]).check(record)


def messages(rule: dict, record: dict) -> list[str]:
    return [failure.message for failure in check(rule, record)]


# -- empty values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   ", "\t\n", [], {}, ()])
def test_empty_values(value):
    assert is_empty(value)


@pytest.mark.parametrize("value", [0, 0.0, False, "0", " x ", [None], {"a": None}, Decimal(0)])
def test_non_empty_values(value):
    assert not is_empty(value)


@pytest.mark.parametrize("value", [None, "", "  ", [], {}])
def test_empty_values_fail_required_and_skip_the_other_rules(value):
    record = {"f": value}
    assert messages({"kind": "required", "field": "f"}, record) == ["f: is required"]
    for rule in (
        {"kind": "regex", "field": "f", "params": {"pattern": "[0-9]+"}},
        {"kind": "length", "field": "f", "params": {"min": 3}},
        {"kind": "range", "field": "f", "params": {"min": 1}},
        {"kind": "enum", "field": "f", "params": {"values": ["a"]}},
        {"kind": "unique", "field": "f"},
    ):
        assert check(rule, record) == [], rule


def test_missing_field_is_empty():
    assert messages({"kind": "required", "field": "email"}, {}) == ["email: is required"]
    assert check({"kind": "required", "field": "qty"}, {"qty": 0}) == []
    assert check({"kind": "required", "field": "active"}, {"active": False}) == []


# -- each kind ------------------------------------------------------------------------------------


def test_required_on_a_nested_path():
    rule = {"kind": "required", "field": "address.city"}
    assert check(rule, {"address": {"city": "Lyon"}}) == []
    [failure] = check(rule, {"address": {"city": " "}})
    assert (failure.kind, failure.field, failure.value) == ("required", "address.city", " ")
    assert failure.message == "address.city: is required"


def test_regex_must_match_the_whole_value():
    rule = {"kind": "regex", "field": "sku", "params": {"pattern": "[A-Z]{3}-[0-9]+"}}
    assert check(rule, {"sku": "ABC-12"}) == []
    assert messages(rule, {"sku": "xxABC-12xx"}) == [
        'sku: "xxABC-12xx" does not match the pattern [A-Z]{3}-[0-9]+'
    ]
    [failure] = check(rule, {"sku": "abc-1"})
    assert (failure.kind, failure.field, failure.value) == ("regex", "sku", "abc-1")


def test_regex_ignore_case_numbers_and_non_text():
    rule = {"kind": "regex", "field": "sku", "params": {"pattern": "[a-z]+", "ignore_case": True}}
    assert check(rule, {"sku": "ABC"}) == []
    digits = {"kind": "regex", "field": "zip", "params": {"pattern": r"\d{5}"}}
    assert check(digits, {"zip": 75001}) == []
    assert messages(digits, {"zip": 123}) == ["zip: 123 does not match the pattern \\d{5}"]
    assert messages(digits, {"zip": {"code": 1}}) == ['zip: {"code": 1} is not text']


@pytest.mark.timing
def test_hostile_pattern_is_matched_in_linear_time():
    """RE2: catastrophic backtracking cannot happen, so a hostile pattern just fails to match, fast."""
    rule = {"kind": "regex", "field": "name", "params": {"pattern": "(a|aa)+b"}}
    checker = RuleChecker([rule])
    started = time.perf_counter()
    [failure] = checker.check({"name": "a" * 50_000 + "!"})
    assert time.perf_counter() - started < 0.5
    assert "does not match the pattern" in failure.message


def test_patterns_re2_cannot_run_are_refused_when_saved():
    problems = validate_rule({"kind": "regex", "field": "x", "params": {"pattern": r"(a)\1"}})
    assert "Not a valid pattern" in problems["pattern"]


def test_length_counts_characters_or_items():
    rule = {"kind": "length", "field": "name", "params": {"min": 2, "max": 5}}
    assert check(rule, {"name": "Léa"}) == []
    assert messages(rule, {"name": "A"}) == ["name: 1 characters, fewer than the minimum 2"]
    assert messages(rule, {"name": "Alexandre"}) == ["name: 9 characters, more than the maximum 5"]
    assert messages(rule, {"name": ["a", "b", "c", "d", "e", "f"]}) == [
        "name: 6 items, more than the maximum 5"
    ]
    assert check({"kind": "length", "field": "zip", "params": {"max": 5}}, {"zip": 75001}) == []


def test_range_of_numbers_and_decimals():
    rule = {"kind": "range", "field": "price", "params": {"min": 0, "max": "999.99"}}
    assert check(rule, {"price": 0}) == []
    assert check(rule, {"price": Decimal("999.99")}) == []
    assert check(rule, {"price": "12.50"}) == []
    assert messages(rule, {"price": -3}) == ["price: -3 is below the minimum 0"]
    assert messages(rule, {"price": Decimal("1000.00")}) == ["price: 1000.00 is above the maximum 999.99"]
    assert messages(rule, {"price": 999.991}) == ["price: 999.991 is above the maximum 999.99"]
    assert messages(rule, {"price": "cheap"}) == ['price: "cheap" is not a number']
    assert messages(rule, {"price": True}) == ["price: true is not a number"]
    assert messages(rule, {"price": float("nan")}) == ["price: nan is not a number"]


def test_range_of_iso_dates_compared_as_dates():
    rule = {"kind": "range", "field": "born", "params": {"min": "1900-01-01", "max": "2025-12-31"}}
    assert check(rule, {"born": "1980-05-17"}) == []
    assert check(rule, {"born": "2025-12-31T23:59:59Z"}) == []  # same day as the maximum
    assert check(rule, {"born": date(2000, 1, 1)}) == []
    assert messages(rule, {"born": "2026-01-01"}) == ['born: "2026-01-01" is after the maximum 2025-12-31']
    assert messages(rule, {"born": "1899-12-31"}) == ['born: "1899-12-31" is before the minimum 1900-01-01']
    assert messages(rule, {"born": "17/05/1980"}) == ['born: "17/05/1980" is not a date']
    moment = {"kind": "range", "field": "at", "params": {"min": "2025-01-01T12:00:00+00:00"}}
    assert check(moment, {"at": "2025-01-01T13:00:00+01:00"}) == []  # 12:00 UTC
    assert len(check(moment, {"at": "2025-01-01T12:59:00+01:00"})) == 1
    assert check(moment, {"at": datetime(2025, 1, 1, 12, 0)}) == []  # naive: UTC


def test_enum_compares_as_text():
    rule = {"kind": "enum", "field": "status", "params": {"values": ["draft", "active", 3]}}
    assert check(rule, {"status": "active"}) == []
    assert check(rule, {"status": " active "}) == []
    assert check(rule, {"status": 3}) == []
    assert check(rule, {"status": "3"}) == []
    assert messages(rule, {"status": "Active"}) == [
        'status: "Active" is not one of the allowed values (draft, active, 3)'
    ]
    folded = {"kind": "enum", "field": "status", "params": {"values": ["draft"], "ignore_case": True}}
    assert check(folded, {"status": "DRAFT"}) == []


def test_rules_check_each_item_of_a_list():
    rule = {"kind": "enum", "field": "colors", "params": {"values": ["red", "blue"]}}
    assert check(rule, {"colors": ["red", "blue", ""]}) == []
    [failure] = check(rule, {"colors": ["red", "green"]})
    assert failure.value == "green"
    assert failure.message == 'colors: "green" is not one of the allowed values (red, blue)'


def test_completeness_names_every_missing_field():
    rule = {
        "kind": "completeness",
        "params": {
            "name": "required attributes for channel ecommerce",
            "fields": ["name", "weight", "image"],
        },
    }
    assert check(rule, {"name": "Chair", "weight": 0, "image": "a.png"}) == []
    [failure] = check(rule, {"name": "Chair", "weight": None})
    assert failure.kind == "completeness"
    assert failure.rule_name == "required attributes for channel ecommerce"
    assert failure.field == "weight, image"
    assert failure.value == {"weight": None, "image": None}
    assert failure.message == "required attributes for channel ecommerce: missing weight, image"


def test_message_override_with_placeholders():
    rule = {
        "kind": "range",
        "field": "price",
        "params": {"min": 0},
        "message": "{field} must be positive (got {value})",
    }
    assert messages(rule, {"price": -1}) == ["price must be positive (got -1)"]


def test_display_masks_values_in_messages_but_keeps_the_raw_value():
    checker = RuleChecker(
        [{"kind": "regex", "field": "email", "params": {"pattern": ".+@.+"}}],
        display=lambda field, value: "•••" if field == "email" else str(value),
    )
    [failure] = checker.check({"email": "jane.doe"})
    assert failure.message == "email: ••• does not match the pattern .+@.+"
    assert failure.value == "jane.doe"
    assert "jane" not in failure.message


def test_failure_as_dict_and_record_error():
    [failure] = check({"kind": "required", "field": "sku"}, {})
    assert failure.as_dict() == {
        "kind": "required",
        "field": "sku",
        "value": None,
        "message": "sku: is required",
        "rule_name": "",
    }
    error = failure.as_record_error()
    assert isinstance(error, RecordError)
    assert error.message == "sku: is required"


# -- unique within a run --------------------------------------------------------------------------


def test_unique_across_a_run_and_reset():
    checker = RuleChecker([{"kind": "unique", "field": "email", "params": {"ignore_case": True}}])
    assert checker.check({"email": "jane@example.com"}) == []
    [failure] = checker.check({"email": " JANE@example.com "})
    assert failure.kind == "unique"
    assert failure.value == " JANE@example.com "
    assert failure.message == 'email: " JANE@example.com " is already used by another record of this run'
    assert checker.check({"email": "john@example.com"}) == []
    assert checker.remembered == 2
    checker.reset()
    assert checker.remembered == 0
    assert checker.check({"email": "jane@example.com"}) == []


def test_unique_is_case_sensitive_by_default_and_numbers_compare_by_value():
    checker = RuleChecker([{"kind": "unique", "field": "code"}])
    assert checker.check({"code": "abc"}) == []
    assert checker.check({"code": "ABC"}) == []
    assert checker.check({"code": 1}) == []
    assert len(checker.check({"code": 1.0})) == 1
    assert checker.check({"code": "1"}) == []  # text is not the number


def test_unique_remembers_only_records_that_will_be_sent():
    checker = RuleChecker(
        [{"kind": "unique", "field": "sku"}, {"kind": "range", "field": "price", "params": {"min": 0}}]
    )
    assert len(checker.check({"sku": "A", "price": -1})) == 1  # kept back: its sku is not taken
    assert checker.check({"sku": "A", "price": 1}) == []
    assert [f.kind for f in checker.check({"sku": "A", "price": 2})] == ["unique"]
    assert checker.check({"sku": "B", "price": 1}, remember=False) == []
    assert checker.check({"sku": "B", "price": 1}) == []


def test_unique_memory_holds_digests_not_values():
    checker = RuleChecker([{"kind": "unique", "field": "note"}])
    checker.check({"note": "x" * 10_000})
    [digests] = checker._seen.values()
    assert all(isinstance(d, bytes) and len(d) == 16 for d in digests)


# -- parameter validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, {"kind": "Choose the kind of rule."}),
        ({"kind": "spell"}, {"kind": 'Unknown kind of rule: "spell".'}),
        ({"kind": "required"}, {"field": "Give the field's path."}),
        ({"kind": "required", "field": "a", "params": {"min": 1}}, {"min": "Unknown parameter for this kind of rule."}),
        ({"kind": "regex", "field": "a"}, {"pattern": "Give the pattern the value must match."}),
        ({"kind": "regex", "field": "a", "params": {"pattern": "[a-"}}, "pattern"),
        ({"kind": "regex", "field": "a", "params": {"pattern": "a", "ignore_case": "yes"}}, {"ignore_case": "Must be true or false."}),
        ({"kind": "length", "field": "a"}, {"min": "Give a minimum, a maximum or both."}),
        ({"kind": "length", "field": "a", "params": {"min": -1}}, {"min": "Must be a whole number, 0 or more."}),
        ({"kind": "length", "field": "a", "params": {"min": 5, "max": 3}}, {"max": "Must not be below the minimum (5)."}),
        ({"kind": "range", "field": "a", "params": {"min": 10, "max": "2"}}, {"max": "Must not be below the minimum (10)."}),
        ({"kind": "range", "field": "a", "params": {"min": "2025-02-01", "max": "2025-01-01"}}, {"max": 'Must not be below the minimum ("2025-02-01").'}),
        ({"kind": "range", "field": "a", "params": {"min": "soon"}}, {"min": "Must be a number or an ISO date (2025-01-31)."}),
        ({"kind": "range", "field": "a", "params": {"min": 1, "max": "2025-01-01"}}, {"max": "Must be of the same kind as the minimum (both numbers or both dates)."}),
        ({"kind": "range", "field": "a", "params": {"min": True}}, {"min": "Must be a number or an ISO date (2025-01-31)."}),
        ({"kind": "enum", "field": "a", "params": {"values": []}}, {"values": "Give at least one allowed value."}),
        ({"kind": "enum", "field": "a", "params": {"values": "a,b"}}, {"values": "Give the list of allowed values."}),
        ({"kind": "enum", "field": "a", "params": {"values": [{"x": 1}]}}, {"values": "Allowed values must be text or numbers."}),
        ({"kind": "completeness", "params": {"fields": ["a"]}}, "name"),
        ({"kind": "completeness", "params": {"name": "n", "fields": []}}, {"fields": "List the fields that must all have a value."}),
        ({"kind": "completeness", "params": {"name": "n", "fields": ["a", "a"]}}, {"fields": "A field is listed twice."}),
        ({"kind": "completeness", "field": "a", "params": {"name": "n", "fields": ["a"]}}, {"field": "Not used by this rule: list the fields under fields."}),
        ({"kind": "unique", "field": "a", "message": "x" * 501}, {"message": "At most 500 characters."}),
        ({"kind": "unique", "field": "a", "params": "x"}, {"params": "Parameters must be an object."}),
        ("required", {"kind": "A rule must be an object with a kind."}),
    ],
)  # fmt: skip
def test_validate_rule_names_the_wrong_parameter(data, expected):
    errors = validate_rule(data)
    if isinstance(expected, str):
        assert list(errors) == [expected]
        assert errors[expected]
    else:
        assert errors == expected


def test_a_bad_path_says_why():
    errors = validate_rule({"kind": "required", "field": "a b"})
    assert errors["field"].startswith("Not a valid path: ")
    errors = validate_rule({"kind": "completeness", "params": {"name": "n", "fields": ["ok", "lines[x"]}})
    assert errors["fields"].startswith("lines[x: Not a valid path: ")


def test_rules_on_projections_and_filters():
    record = {
        "lines": [{"sku": "AB-1", "qty": 2}, {"sku": "bad", "qty": 0}],
        "values": [{"locale": "en_US", "name": "Chair"}, {"locale": "fr_FR", "name": ""}],
    }
    [failure] = check(
        {"kind": "regex", "field": "lines[*].sku", "params": {"pattern": "[A-Z]+-\\d+"}}, record
    )
    assert (failure.field, failure.value) == ("lines[*].sku", "bad")
    assert messages({"kind": "range", "field": "lines[*].qty", "params": {"min": 1}}, record) == [
        "lines[*].qty: 0 is below the minimum 1"
    ]
    assert check({"kind": "required", "field": "values[locale=en_US].name"}, record) == []
    assert messages({"kind": "required", "field": "values[locale=fr_FR].name"}, record) == [
        "values[locale=fr_FR].name: is required"
    ]
    assert messages({"kind": "length", "field": "lines", "params": {"max": 1}}, record) == [
        "lines: 2 items, more than the maximum 1"
    ]


def test_a_bad_pattern_says_why():
    errors = validate_rule({"kind": "regex", "field": "a", "params": {"pattern": "(a"}})
    assert errors["pattern"].startswith("Not a valid pattern: missing )")


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "required", "field": "a"},
        {"kind": "regex", "field": "a", "params": {"pattern": "^x$", "ignore_case": False}},
        {"kind": "length", "field": "a", "params": {"max": "12"}},
        {"kind": "range", "field": "a", "params": {"min": "0.5", "max": Decimal(2)}},
        {"kind": "range", "field": "a", "params": {"min": "2025-01-01", "max": "2025-01-01T10:00:00Z"}},
        {"kind": "range", "field": "a", "params": {"max": "2030-01-01", "min": ""}},
        {"kind": "enum", "field": "a", "params": {"values": ["x", 1]}},
        {"kind": "unique", "field": "a", "params": {"ignore_case": True}},
        {"kind": "completeness", "params": {"name": "n", "fields": ["a", "b.c"]}},
    ],
)
def test_valid_rules(data):
    assert validate_rule(data) == {}
    assert Rule.from_dict(data).as_dict()["kind"] == data["kind"]


def test_checker_refuses_a_bad_rule_naming_it():
    with pytest.raises(ConfigError, match=r"^Rule 2: max: Must not be below the minimum \(5\)\.$"):
        RuleChecker(
            [
                {"kind": "required", "field": "a"},
                {"kind": "length", "field": "b", "params": {"min": 5, "max": 1}},
            ]
        )
    with pytest.raises(ConfigError, match="kind"):
        Rule.from_dict({"kind": "nope"})


def test_checker_accepts_rule_objects():
    checker = RuleChecker([Rule(kind="range", field="qty", params={"min": 1})])
    assert checker.check({"qty": 1}) == []
    assert [f.message for f in checker.check({"qty": 0})] == ["qty: 0 is below the minimum 1"]


def test_odd_records_do_not_crash():
    checker = RuleChecker(
        [{"kind": "required", "field": "a.b"}, {"kind": "range", "field": "a", "params": {"max": 3}}]
    )
    for record in (None, [], "text", 42, {"a": object()}, {"a": [1, 2, 99]}):
        failures = checker.check(record)
        assert all(isinstance(f, RuleFailure) and f.message for f in failures)


# -- property: never raises ---------------------------------------------------------------------------

ALL_KINDS = [
    {"kind": "required", "field": "a"},
    {"kind": "regex", "field": "a", "params": {"pattern": "[a-z]+\\d*"}},
    {"kind": "length", "field": "b", "params": {"min": 1, "max": 4}},
    {"kind": "range", "field": "a", "params": {"min": -5, "max": "5.5"}},
    {"kind": "range", "field": "b", "params": {"min": "2020-01-01", "max": "2030-01-01T00:00:00Z"}},
    {"kind": "enum", "field": "b", "params": {"values": ["x", 1, 2.5]}},
    {"kind": "unique", "field": "a"},
    {"kind": "unique", "field": "b", "params": {"ignore_case": True}},
    {"kind": "completeness", "params": {"name": "core", "fields": ["a", "b", "c.d"]}},
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.dates().map(str)
    | st.datetimes().map(lambda d: d.isoformat())
    | st.dates()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), inner, max_size=4)
    ),
    max_leaves=12,
)
records = st.dictionaries(st.sampled_from(["a", "b", "c", "x"]), values, max_size=4) | values

_PROPERTY_CHECKER = RuleChecker(ALL_KINDS)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_check_never_raises(record):
    failures = _PROPERTY_CHECKER.check(record)
    assert all(isinstance(f, RuleFailure) and isinstance(f.message, str) and f.message for f in failures)
    # The rules handle every shape themselves: the safety net for unexpected errors is never needed.
    assert not [f.message for f in failures if "could not be checked (" in f.message]


# -- speed ------------------------------------------------------------------------------------------


@pytest.mark.timing
def test_rule_checker_speed():
    checker = RuleChecker(ALL_KINDS)
    count = 20_000
    started = time.perf_counter()
    for i in range(count):
        checker.check({"a": f"abc{i}", "b": ["x", 1][i % 2], "c": {"d": i}})
    rate = count / (time.perf_counter() - started)
    print(f"rule checker: {rate:,.0f} records/s with {len(ALL_KINDS)} rules")
    assert rate > 5_000
