"""The mapping path language: strict parsing with the position of each mistake, reading that never
fails on odd data, writing that builds what is missing (Akeneo's filtered value lists included), and
a canonical text that parses back to the same path."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.engine.paths import Path, PathError, parse_path

AKENEO = {
    "identifier": "SKU-1",
    "values": {
        "name": [
            {"locale": "en_US", "scope": None, "data": "Chair"},
            {"locale": "fr_FR", "scope": None, "data": "Chaise"},
            {"locale": "fr_FR", "scope": "ecommerce", "data": "Chaise (web)"},
        ],
        "weight": [{"locale": None, "scope": None, "data": {"amount": "1.5", "unit": "KILOGRAM"}}],
    },
    "lines": [{"sku": "A", "qty": 1}, {"qty": 2}, {"sku": "C", "qty": 3}],
    "numbers": [10, 20, 30],
    "odd.key": {"x": 1},
    "with space": "yes",
    "flags": [{"id": 3, "on": True, "ratio": 1.5}],
}


# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a",
        "a.b.c",
        "items[0]",
        "items[-1]",
        "values.name[locale=fr_FR].data",
        "values.name[locale=fr_FR,scope=ecommerce].data",
        "values.name[scope=null].data",
        '[code="a,b"]',
        'a[code="say \\"hi\\" \\\\ bye"]',
        "lines[*].sku",
        "lines[*]",
        "a[*].b[*].c",
        "a[*][0]",
        "`odd.key`.x",
        "`with space`",
        "`a``b`.c",
        "[0].sku",
        "a[0][1].b",
        "a.0",
        "a[*=x]",
        'a[`b c`="d e"]',
        'a[x="null"]',
        "é.ü[ключ=значение]",
    ],
)
def test_good_paths_parse_and_round_trip(text):
    path = parse_path(text)
    assert isinstance(path, Path)
    assert parse_path(str(path)) == path
    assert str(parse_path(str(path))) == str(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.", "position 3: expected a key"),
        (".a", "position 1: expected a key"),
        ("a..b", "position 3: expected a key"),
        ("a b", 'position 2: unexpected space: put names with spaces in `backticks`, values in "quotes"'),
        (" a", "position 1: unexpected space"),
        ("a ", "position 2: unexpected space"),
        ("a[", 'position 3: expected an index, "*" or a filter such as "field=value"'),
        ("a[]", 'position 3: expected an index, "*" or a filter such as "field=value"'),
        ("a[0", 'position 4: expected "]"'),
        ("a[x]", 'position 4: expected "="'),
        ("a[x=]", "position 5: expected a value"),
        ("a[x=1", 'position 6: expected "," or "]"'),
        ("values.name[locale=fr_FR", 'position 25: expected "," or "]"'),
        ("a[x=1 ]", "position 6: unexpected space"),
        ("a[x=1,]", "position 7: expected a field name"),
        ("a]", 'position 2: expected "." or "["'),
        ("a[0]b", 'position 5: expected "." or "["'),
        ("a.[0]", "position 3: expected a key"),
        ("`abc", "position 1: unclosed backtick"),
        ('a[x="abc]', "position 5: unclosed quote"),
        ('a[x="\\n"]', "position 6: unknown escape"),
        ("a[x=1,x=2]", 'position 7: the field "x" is filtered twice'),
        ("a`b`", 'position 2: expected "." or "["'),
    ],
)
def test_bad_paths_name_the_position(text, message):
    with pytest.raises(PathError) as caught:
        parse_path(text)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ValueError)
    assert caught.value.position == int(message.split()[1].rstrip(":"))


def test_non_text_is_a_path_error():
    with pytest.raises(PathError):
        parse_path(["a"])


def test_parse_is_cached():
    assert parse_path("a.b[c=d].e") is parse_path("a.b[c=d].e")


def test_canonical_text():
    assert str(parse_path("items[007]")) == "items[7]"
    assert str(parse_path('a[code="plain"]')) == "a[code=plain]"
    assert str(parse_path("`plain`.x")) == "plain.x"
    assert str(parse_path('a[x="null"]')) == 'a[x="null"]'
    assert str(parse_path("a[x=null]")) == "a[x=null]"
    assert str(parse_path("`a.b`")) == "`a.b`"
    assert repr(parse_path("a.b")) == "Path('a.b')"


def test_equality_and_hash():
    assert parse_path("a.b") == parse_path("`a`.`b`")
    assert hash(parse_path("a.b")) == hash(parse_path("`a`.`b`"))
    assert parse_path("a.b") != parse_path("`a.b`")
    assert parse_path("a[0]") != parse_path("a.0")
    assert parse_path("a") != "a"


# --- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", AKENEO),
        ("identifier", "SKU-1"),
        ("values.weight[locale=null].data.amount", "1.5"),
        ("values.name[locale=fr_FR].data", "Chaise"),
        ("values.name[locale=fr_FR,scope=ecommerce].data", "Chaise (web)"),
        ("values.name[scope=ecommerce,locale=fr_FR].data", "Chaise (web)"),
        ("values.name[locale=fr_FR,scope=null].data", "Chaise"),
        ('values.name[locale="en_US"].data', "Chair"),
        ("values.name[0].data", "Chair"),
        ("values.name[-1].scope", "ecommerce"),
        ("numbers[1]", 20),
        ("numbers[-3]", 10),
        ("lines[*].sku", ["A", "C"]),
        ("lines[*].qty", [1, 2, 3]),
        ("lines[*]", AKENEO["lines"]),
        ("`odd.key`.x", 1),
        ("`with space`", "yes"),
        ("flags[id=3].on", True),
        ("flags[on=true].id", 3),
        ("flags[ratio=1.5].id", 3),
    ],
)
def test_get(text, expected):
    assert parse_path(text).get(AKENEO) == expected


@pytest.mark.parametrize(
    "text",
    [
        "missing",
        "identifier.more",
        "numbers[3]",
        "numbers[-4]",
        "numbers.0",
        "identifier[0]",
        "values[0]",
        "values.name[locale=de_DE].data",
        "values.name[locale=fr_FR,scope=print].data",
        "identifier[x=1]",
        "identifier[*]",
        "numbers[x=1]",
        "flags[on=True].id",
        "lines[1].sku",
        "[0]",
    ],
)
def test_get_missing_gives_default(text):
    assert parse_path(text).get(AKENEO) is None
    assert parse_path(text).get(AKENEO, "DEFAULT") == "DEFAULT"


def test_get_never_raises_on_odd_shapes():
    for value in (None, 1, "text", [], {}, [None, 1, "x"], {"a": None}, True, 1.5):
        for text in ("a", "a.b", "[0]", "[-1].x", "a[x=1]", "[*].a", "a[*]", "[*]"):
            parse_path(text).get(value, "D")
    assert parse_path("[*].a").get([{"a": 1}, 5, None, {"a": None}]) == [1, None]
    assert (
        parse_path("[x=null].y").get([{"y": "absent field counts as null"}]) == "absent field counts as null"
    )


def test_get_on_a_list_record_and_nested_projection():
    record = [{"lines": [{"sku": "A"}, {"sku": "B"}]}, {"lines": []}, {"other": 1}]
    assert parse_path("[0].lines[1].sku").get(record) == "B"
    assert parse_path("[*].lines[*].sku").get(record) == [["A", "B"], []]


def test_get_keeps_falsy_values():
    record = {"a": 0, "b": "", "c": None, "d": False}
    assert parse_path("a").get(record, "D") == 0
    assert parse_path("b").get(record, "D") == ""
    assert parse_path("c").get(record, "D") is None
    assert parse_path("d").get(record, "D") is False


def test_big_int_field_in_filter_does_not_raise():
    assert parse_path("[id=1]").get([{"id": 10**5000}], "D") == "D"


# --- writing ------------------------------------------------------------------------------------


def test_set_builds_nested_dicts():
    target = {}
    parse_path("a.b.c").set(target, 1)
    parse_path("a.b.d").set(target, 2)
    parse_path("a.e").set(target, None)
    assert target == {"a": {"b": {"c": 1, "d": 2}, "e": None}}


def test_set_filtered_items_akeneo_style():
    target = {}
    parse_path("values.name[locale=fr_FR,scope=null].data").set(target, "Chaise")
    assert target == {"values": {"name": [{"locale": "fr_FR", "scope": None, "data": "Chaise"}]}}
    parse_path("values.name[locale=en_US,scope=null].data").set(target, "Chair")
    parse_path("values.name[locale=fr_FR,scope=null].data").set(target, "Chaise 2")
    parse_path("values.name[locale=fr_FR,scope=null].extra").set(target, 1)
    assert target == {
        "values": {
            "name": [
                {"locale": "fr_FR", "scope": None, "data": "Chaise 2", "extra": 1},
                {"locale": "en_US", "scope": None, "data": "Chair"},
            ]
        }
    }


def test_set_through_filter_then_nested():
    target = {"attrs": [{"code": "a,b", "v": {}}]}
    parse_path('attrs[code="a,b"].v.x').set(target, 1)
    parse_path("attrs[code=c].v.x").set(target, 2)
    assert target == {"attrs": [{"code": "a,b", "v": {"x": 1}}, {"code": "c", "v": {"x": 2}}]}


def test_set_existing_index():
    target = {"items": [{"sku": "A"}, None, 3]}
    parse_path("items[0].sku").set(target, "B")
    parse_path("items[-1]").set(target, 4)
    parse_path("items[1].sku").set(target, "C")
    assert target == {"items": [{"sku": "B"}, {"sku": "C"}, 4]}


def test_set_replaces_none_containers():
    target = {"a": None}
    parse_path("a.b").set(target, 1)
    assert target == {"a": {"b": 1}}


@pytest.mark.parametrize(
    ("text", "target", "fragment"),
    [
        ("items[0]", {}, "index 0 is not in a list of 0 items"),
        ("items[2].x", {"items": [1]}, "index 2 is not in a list of 1 items"),
        ("lines[*].sku", {}, '"[*]" reads many items'),
        ("values.name[locale=fr_FR]", {}, "name the field to set after it"),
        ("", {}, "the whole record cannot be set"),
        ("a.b", {"a": "text"}, "an object is needed where there is a text"),
        ("a[0]", {"a": {}}, "a list is needed where there is an object"),
        ("a[x=1].b", {"a": "text"}, "a list is needed where there is a text"),
        ("[0]", {}, "a list is needed where there is an object"),
    ],
)
def test_set_refusals(text, target, fragment):
    with pytest.raises(PathError) as caught:
        parse_path(text).set(target, 1)
    assert fragment in str(caught.value)


def test_set_then_get_round_trip():
    for text in ("a", "a.b.c", "`x.y`.z", "v.n[l=fr,s=null].data", "v.n[l=fr].m[k=1].data"):
        target = {}
        path = parse_path(text)
        path.set(target, "value")
        assert path.get(target) == "value"


# --- property: the canonical text is a fixed point ---------------------------------------------

_names = st.text(min_size=0, max_size=6)
_values = st.none() | st.text(max_size=6)
_segment = st.one_of(
    st.builds(lambda name: f"`{name.replace('`', '``')}`", _names),
    st.integers(-5, 5).map(lambda index: f"[{index}]"),
    st.just("[*]"),
    st.lists(st.tuples(st.text(min_size=1, max_size=4), _values), min_size=1, max_size=3).map(
        lambda conditions: (
            "["
            + ",".join(
                "`{}`={}".format(
                    field.replace("`", "``"),
                    "null" if value is None else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"',
                )
                for field, value in dict(conditions).items()
            )
            + "]"
        )
    ),
)


@given(st.lists(_segment, max_size=5))
def test_round_trip_property(segments):
    text = ""
    for segment in segments:
        if text and not segment.startswith("["):
            text += "."
        text += segment
    path = parse_path(text)
    assert parse_path(str(path)) == path
    path.get({"a": [1, {"b": None}]})
