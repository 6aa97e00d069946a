"""Bad files and hostile settings for the Files connector (``flows/connectors/files.py``).

A record that cannot be parsed becomes a page error naming the file and the line — the good records
of the same file are still read; a file that cannot be read at all raises ``RecordError`` with a
clear reason; folders, patterns and names that would leave ``HUB_FILES_ROOT`` are refused."""

import json

import pytest

from flows.connectors.base import ConnectionSettings
from flows.connectors.errors import RecordError
from flows.connectors.files import FilesConnector
from flows.forms import validate_connector_config
from tests.reliability.conftest import MemoryPeak
from tests.reliability.corpus import NUL, TEMPLATE, TRAVERSAL, cases

pytestmark = pytest.mark.django_db

CSV = {"key": "products", "pattern": "products_*.csv", "format": "csv", "id_field": "sku"}
JSONL = {"key": "events", "pattern": "events-*.jsonl", "format": "jsonl", "id_field": "id"}
JSON = {"key": "orders", "pattern": "orders-*.json", "format": "json", "records_path": "data.items"}
NAMES = {"products": "products_1.csv", "events": "events-1.jsonl", "orders": "orders-1.json"}


@pytest.fixture
def inbox(settings, tmp_path):
    settings.HUB_FILES_ROOT = tmp_path / "files"
    (tmp_path / "files" / "inbox").mkdir(parents=True)
    return tmp_path / "files" / "inbox"


def connector(**params):
    params = {"location": "local", "folder": "inbox", "entities": [CSV, JSONL, JSON], **params}
    return FilesConnector(ConnectionSettings(system_id=None, name="files", params=params, secrets={}))


def read(entity, content: bytes, inbox, **params):
    (inbox / NAMES[entity]).write_bytes(content)
    pages = list(connector(**params).read(entity))
    return [r for p in pages for r in p.records], [str(e) for p in pages for e in p.errors]


def deep(depth):
    return "[" * depth + "]" * depth


def P(entity, content, good, fragment, id, **params):
    return pytest.param(entity, content, good, fragment, params, id=id)


BAD_RECORDS = cases(
    "files: bad records (read goes on)",
    [
        P("products", b'sku,name\nA,"x"y\nB,ok\n', ["B"], "broken quoting", "csv-text-after-closing-quote"),
        P(
            "products",
            b'sku,name\nA,ok\nB,"never closed\n',
            ["A"],
            "never closed",
            "csv-unclosed-quote-at-end",
        ),
        P("products", b"sku,name\nA\nB,ok\n", ["B"], "1 values for 2 columns", "csv-too-few-values"),
        P("products", b"sku,name\nA,x,y,z\nB,ok\n", ["B"], "4 values for 2 columns", "csv-too-many-values"),
        P("products", b'sku,name\nA,"a""b"c\nB,ok\n', ["B"], "quoting", "csv-stray-quote"),
        P("products", b"sku,name\nA," + b"x" * 200_000 + b"\nB,ok\n", ["B"], "longer than", "csv-200k-field"),
        P("events", b'{"id": "A"}\nnot json\n{"id": "B"}\n', ["A", "B"], "not valid JSON", "jsonl-text-line"),
        P(
            "events",
            b'{"id": "A"}\n{"id": "X"\n{"id": "B"}\n',
            ["A", "B"],
            "not valid JSON",
            "jsonl-truncated-line",
        ),
        P("events", b'{"id": "A"}\n[1, 2]\n{"id": "B"}\n', ["A", "B"], "not a list", "jsonl-list-line"),
        P("events", b'{"id": "A"}\n"text"\n{"id": "B"}\n', ["A", "B"], "not a string", "jsonl-string-line"),
        P("events", b'{"id": "A"}\nnull\n{"id": "B"}\n', ["A", "B"], "not null", "jsonl-null-line"),
        P(
            "events",
            b'{"id": "A"}\n' + deep(10_000).encode() + b'\n{"id": "B"}\n',
            ["A", "B"],
            "nested",
            "jsonl-10000-levels",
        ),
        P(
            "events",
            b'{"id": "A"}\n{"id": NaN, "x": Infinity}\n{"id": "B"}\n',
            ["A", "B"],
            "not valid JSON",
            "jsonl-nan",
        ),
        P(
            "events",
            b'{"id": "A"}\n{"id": "X", "id": "Y"}\n{"id": "B"}\n',
            ["A", "Y", "B"],
            "",
            "jsonl-duplicate-key",
        ),
        P(
            "orders",
            b'{"data": {"items": [{"id": "A"}, 7, {"id": "B"}]}}',
            ["A", "B"],
            "not a number",
            "json-number-item",
        ),
        P(
            "orders",
            b'{"data": {"items": [{"id": "A"}, [], {"id": "B"}]}}',
            ["A", "B"],
            "not a list",
            "json-list-item",
        ),
    ],
)


@pytest.mark.parametrize("entity,content,good,fragment,params", BAD_RECORDS)
def test_a_bad_record_is_a_page_error_and_the_good_ones_are_read(
    inbox, entity, content, good, fragment, params
):
    records, errors = read(entity, content, inbox, **params)
    key = "sku" if entity == "products" else "id"
    assert [r[key] for r in records] == good
    if fragment:
        assert len(errors) == 1 and fragment in errors[0], errors
        assert NAMES[entity] in errors[0]  # the message names the file
    assert all(len(e) < 2000 for e in errors)


BAD_FILES = cases(
    "files: unreadable files (clear error)",
    [
        P(
            "products",
            b"sku,name\nA,ok\nB,caf\xe9\n",
            None,
            "not valid utf-8 text (line 3",
            "csv-latin1-in-utf8",
        ),
        P(
            "products",
            b"\xff\xfe" + "sku,name\n".encode("utf-16-le"),
            None,
            "not valid utf-8",
            "csv-utf16-bom",
        ),
        P("products", b"sku,sku\nA,B\n", None, "repeats the column", "csv-duplicate-header"),
        P("products", b'sku,"name\nA,B\n', None, "header line cannot be read", "csv-broken-header"),
        P("products", b"sku;name;price\nA;x;1\n", None, "delimiter", "csv-semicolons-read-as-commas"),
        P("products", b"sku\tname\nA\tx\n", None, "delimiter", "csv-tabs-read-as-commas"),
        P("products", b"sku,name\nA,x\n", None, "delimiter", "csv-commas-read-as-semicolons", delimiter=";"),
        P("events", b'{"id": "A"}\n{"id": "\xc3\x28"}\n', None, "not valid utf-8", "jsonl-invalid-utf8"),
        P("orders", b'{"data": {"items": [{"id": "A"}', None, "not a valid JSON document", "json-truncated"),
        P("orders", b"", None, "not a valid JSON document", "json-empty"),
        P("orders", b'{"data": {"items": "A,B"}}', None, "no list of records", "json-records-text"),
        P("orders", b'{"data": []}', None, "no list of records", "json-records-path-missing"),
        P("orders", deep(10_000).encode(), None, "nested", "json-10000-levels"),
        P(
            "orders",
            b'{"data": {"items": [{"id": "\xed\xa0\x80"}]}}',
            None,
            "not valid utf-8",
            "json-surrogate-bytes",
        ),
    ],
)


@pytest.mark.parametrize("entity,content,good,fragment,params", BAD_FILES)
def test_an_unreadable_file_raises_a_clear_record_error(inbox, entity, content, good, fragment, params):
    with pytest.raises(RecordError) as caught:
        read(entity, content, inbox, **params)
    message = str(caught.value)
    assert fragment.lower() in message.lower() and NAMES[entity] in message, message
    assert len(message) < 2000


HANDLED = cases(
    "files: awkward but valid files",
    [
        P("products", b"\xef\xbb\xbfsku,name\nA,x\n", ["A"], "", "csv-utf8-bom"),
        P("products", b"sku,name\r\nA,x\r\nB,y\r\n", ["A", "B"], "", "csv-crlf"),
        P("products", b"sku,name\n\n\nA,x\n\n", ["A"], "", "csv-blank-lines"),
        P("products", b'sku,name\nA,"multi\nline"\n', ["A"], "", "csv-quoted-newline"),
        P("products", b"sku;name\nA;x\n", ["A"], "", "csv-semicolon-setting", delimiter=";"),
        P("products", b"sku,name\nA,caf\xe9\n", ["A"], "", "csv-latin1-setting", encoding="latin-1"),
        P("events", b'\xef\xbb\xbf{"id": "A"}\n', ["A"], "", "jsonl-bom"),
        P("products", b"sku,name\nA,=cmd|' /C calc'!A0\n", ["A"], "", "csv-formula-kept-as-text"),
    ],
)


@pytest.mark.parametrize("entity,content,good,fragment,params", HANDLED)
def test_awkward_files_are_read(inbox, entity, content, good, fragment, params):
    records, errors = read(entity, content, inbox, **params)
    key = "sku" if entity == "products" else "id"
    assert [r[key] for r in records] == good and errors == []
    assert all(not k.startswith("\ufeff") for r in records for k in r)


def test_a_10_mb_record_and_a_100k_record_file_are_read_in_bounded_pages(inbox):
    big = "x" * 10_000_000
    (inbox / "events-1.jsonl").write_text(json.dumps({"id": "big", "blob": big}) + "\n")
    (inbox / "events-2.jsonl").write_text("".join(json.dumps({"id": i}) + "\n" for i in range(100_000)))
    del big
    sizes = []
    with MemoryPeak() as memory:
        for page in connector().read("events"):
            sizes.append(len(page.records))
            del page
    assert sizes[0] == 1 and sum(sizes) == 100_001 and max(sizes[1:]) <= 1000
    # The 10 MB record is held a few times while decoded; 100 000 records never all at once.
    assert memory.growth < 150_000_000, f"grew {memory.growth / 1e6:.0f} MB"


cases("files: awkward but valid files", [pytest.param(id="10-mb-record-and-100k-records")])


def S(params, field, fragment, id):
    return pytest.param(params, field, fragment, id=id)


def entities(**entity):
    return {"entities": [{**CSV, **entity}]}


SETTINGS = cases(
    "files: hostile settings",
    [
        S({"folder": TRAVERSAL}, "folder", "“..”", "folder-traversal"),
        S({"folder": "inbox/../../.."}, "folder", "“..”", "folder-traversal-inside"),
        S({"folder": "/etc"}, "folder", "relative path", "folder-absolute"),
        S({"folder": "\\\\server\\share"}, "folder", "relative path", "folder-unc"),
        S({"folder": "C:\\Windows"}, "folder", "relative path", "folder-drive"),
        S({"folder": "~root"}, "folder", "relative path", "folder-home"),
        S({"folder": NUL}, "folder", "Null characters", "folder-nul"),
        S({"folder": ""}, "folder", "Required", "folder-empty"),
        S({"processed_folder": "../elsewhere"}, "processed_folder", "“..”", "processed-traversal"),
        S({"processed_folder": "/var/spool"}, "processed_folder", "relative path", "processed-absolute"),
        S({"processed_folder": "."}, "processed_folder", "subfolder", "processed-itself"),
        S({"encoding": "rot13"}, "encoding", "Unknown text encoding", "encoding-rot13"),
        S({"encoding": "base64"}, "encoding", "Unknown text encoding", "encoding-base64"),
        S({"encoding": TEMPLATE}, "encoding", "Unknown text encoding", "encoding-template"),
        S({"delimiter": ",,"}, "delimiter", "one character", "delimiter-two"),
        S({"delimiter": '"'}, "delimiter", "one character", "delimiter-quote"),
        S({"delimiter": "\n"}, "delimiter", "one character", "delimiter-newline"),
        S(entities(pattern=TRAVERSAL), "entities", "plain file name", "pattern-traversal"),
        S(entities(pattern="/etc/passwd"), "entities", "plain file name", "pattern-absolute"),
        S(entities(pattern="..\\*.csv"), "entities", "plain file name", "pattern-backslash"),
        S(entities(pattern=".hidden*"), "entities", "dot", "pattern-hidden"),
        S(entities(pattern="a\x00.csv"), "entities", "plain file name", "pattern-nul"),
        S(entities(write_name="../out.csv"), "entities", "plain file name", "write-name-traversal"),
        S(entities(write_name="{entity}/x.csv"), "entities", "plain file name", "write-name-slash"),
        S(entities(format="xml"), "entities", "format", "format-unknown"),
        S(entities(page_size=0), "entities", "page_size", "page-size-zero"),
        S(entities(page_size=10**9), "entities", "page_size", "page-size-huge"),
        S(entities(page_size="ten"), "entities", "page_size", "page-size-text"),
        S(entities(records_path="data"), "entities", "records_path", "records-path-on-csv"),
        S(entities(min_age=-1), "entities", "min_age", "min-age-negative"),
    ],
)


@pytest.mark.parametrize("params,field,fragment", SETTINGS)
def test_hostile_settings_are_refused_with_the_field_named(inbox, params, field, fragment):
    params = {"location": "local", "folder": "inbox", "entities": [CSV], **params}
    _params, _secrets, errors = validate_connector_config("files", params, None, {})
    found = errors.get("parameters", {}).get(field) if isinstance(errors.get("parameters"), dict) else None
    assert found, errors
    assert fragment in " ".join(found), errors
    assert not (inbox.parent.parent / "etc").exists()
