"""The Files connector: local folders under HUB_FILES_ROOT and a real SFTP server (asyncssh, in a thread).

Reads in name order across files and resumes from cursors; commit moves files aside and an uncommitted
read is read again; writes are atomic and read back; path traversal is refused; broken files give clear
errors; SFTP reads, commits, writes, and refuses wrong passwords and unknown host keys."""

import asyncio
import json
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from flows.connectors import files
from flows.connectors.base import ConnectionSettings
from flows.connectors.errors import AuthError, ConfigError, RecordError
from flows.connectors.files import FilesConnector

pytestmark = pytest.mark.django_db

PRODUCTS = {"key": "products", "pattern": "products_*.csv", "format": "csv", "id_field": "sku"}
EVENTS = {"key": "events", "pattern": "events-*.jsonl", "format": "jsonl", "id_field": "id"}
ORDERS = {"key": "orders", "pattern": "orders-*.json", "format": "json", "records_path": "data.items"}


@pytest.fixture
def root(settings, tmp_path):
    settings.HUB_FILES_ROOT = tmp_path / "files"
    (tmp_path / "files" / "inbox").mkdir(parents=True)
    return tmp_path / "files"


def connector(entities=None, *, folder="inbox", secrets=None, system_id=None, **params):
    params = {
        "location": "local",
        "folder": folder,
        "entities": entities or [PRODUCTS, EVENTS, ORDERS],
        **params,
    }
    return FilesConnector(
        ConnectionSettings(system_id=system_id, name="files", params=params, secrets=secrets or {})
    )


def read_all(conn, key, **kwargs):
    pages = list(conn.read(key, **kwargs))
    return pages, [r for p in pages for r in p.records]


def csv_file(folder: Path, name: str, skus, header="sku,name,price"):
    lines = [header, *(f"{sku},Product {sku},{n}.50" for n, sku in enumerate(skus, start=1))]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- local reads ------------------------------------------------------------------------------------------


def test_csv_files_are_read_in_name_order_one_page_per_file(root):
    inbox = root / "inbox"
    csv_file(inbox, "products_20240103.csv", ["C1", "C2"])
    csv_file(inbox, "products_20240101.csv", ["A1", "A2", "A3"])
    csv_file(inbox, "products_20240102.csv", ["B1"])
    (inbox / "notes.txt").write_text("not mine")
    (inbox / ".products_20240104.csv.tmp").write_text("sku\nHALF")  # a writer's temporary file
    (inbox / "products_dir.csv").mkdir()  # directories never match
    pages, records = read_all(connector(), "products")
    assert [r["sku"] for r in records] == ["A1", "A2", "A3", "B1", "C1", "C2"]
    assert records[0] == {"sku": "A1", "name": "Product A1", "price": "1.50"}
    assert [len(p.records) for p in pages] == [3, 1, 2]
    assert [p.has_more for p in pages] == [True, True, False]
    assert json.loads(pages[0].cursor) == {"file": "products_20240101.csv", "offset": 3, "done": True}


def test_jsonl_and_json_with_records_path(root):
    inbox = root / "inbox"
    (inbox / "events-2.jsonl").write_text('{"id": 3, "kind": "c"}\n')
    (inbox / "events-1.jsonl").write_text('{"id": 1, "kind": "a"}\n\n  {"id": 2, "kind": "b", "tags": [1]}\n')
    (inbox / "orders-1.json").write_text(
        json.dumps({"data": {"items": [{"number": "O1"}, {"number": "O2"}]}})
    )
    (inbox / "orders-2.json").write_text(json.dumps({"data": {"items": []}}))
    conn = connector()
    _, events = read_all(conn, "events")
    assert [e["id"] for e in events] == [1, 2, 3] and events[1]["tags"] == [1]
    pages, orders = read_all(conn, "orders")
    assert [o["number"] for o in orders] == ["O1", "O2"]
    assert [len(p.records) for p in pages] == [2, 0] and pages[-1].cursor  # an empty file still advances


def test_csv_options_delimiter_no_header_and_bom(root):
    (root / "inbox" / "products_1.csv").write_bytes("\ufeffsku;name\nA;Äpfel\n".encode())
    _, records = read_all(connector(delimiter=";"), "products")
    assert records == [{"sku": "A", "name": "Äpfel"}]  # the BOM is not part of the first column name
    (root / "inbox" / "products_1.csv").write_text("A\t1\nB\t2\n")
    _, records = read_all(connector(delimiter="tab", header=False), "products")
    assert records == [{"column_1": "A", "column_2": "1"}, {"column_1": "B", "column_2": "2"}]
    (root / "inbox" / "products_1.csv").write_bytes("sku,name\nA,caf\xe9\n".encode("latin-1"))
    _, records = read_all(connector(encoding="latin-1"), "products")
    assert records == [{"sku": "A", "name": "café"}]


def test_large_files_are_paged_and_every_cursor_resumes(root):
    inbox = root / "inbox"
    csv_file(inbox, "products_1.csv", [f"A{i}" for i in range(7)])
    csv_file(inbox, "products_2.csv", [f"B{i}" for i in range(3)])
    entity = {**PRODUCTS, "page_size": 3}
    conn = connector([entity])
    pages, records = read_all(conn, "products")
    expected = [r["sku"] for r in records]
    assert len(expected) == 10 and [len(p.records) for p in pages] == [3, 3, 1, 3]
    assert json.loads(pages[1].cursor) == {"file": "products_1.csv", "offset": 6, "done": False}
    for index, page in enumerate(pages):
        _, rest = read_all(conn, "products", cursor=page.cursor)
        done = [r["sku"] for p in pages[: index + 1] for r in p.records]
        assert done + [r["sku"] for r in rest] == expected
    _, limited = read_all(conn, "products", limit=4)
    assert [r["sku"] for r in limited] == expected[:4]
    last = list(conn.read("products", limit=4))[-1]
    assert last.has_more is False
    _, after_limit = read_all(conn, "products", cursor=last.cursor)
    assert [r["sku"] for r in after_limit] == expected[4:]


def test_commit_moves_files_aside_and_an_uncommitted_read_is_read_again(root):
    inbox = root / "inbox"
    for n in (1, 2, 3):
        csv_file(inbox, f"products_{n}.csv", [f"{n}-a", f"{n}-b", f"{n}-c"])
    conn = connector([{**PRODUCTS, "page_size": 2}])
    pages, first = read_all(conn, "products")
    # The engine crashed before committing anything: the same records come again.
    _, again = read_all(conn, "products")
    assert again == first
    # Committed up to the middle of products_2: products_1 moves, products_2 (partly read) stays.
    assert json.loads(pages[2].cursor) == {"file": "products_2.csv", "offset": 2, "done": False}
    assert conn.commit("products", pages[2].cursor) == ["products_1.csv"]
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["products_1.csv"]
    _, rest = read_all(conn, "products", cursor=pages[2].cursor)
    assert [r["sku"] for r in rest] == ["2-c", "3-a", "3-b", "3-c"]
    assert conn.commit("products", pages[2].cursor) == []  # idempotent
    assert conn.commit("products", pages[-1].cursor) == ["products_2.csv", "products_3.csv"]
    assert read_all(conn, "products")[1] == []
    # A file delivered again under a taken name keeps both copies.
    csv_file(inbox, "products_1.csv", ["again"])
    page = next(iter(conn.read("products")))
    conn.commit("products", page.cursor)
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == [
        "products_1-1.csv",
        "products_1.csv",
        "products_2.csv",
        "products_3.csv",
    ]


def test_discover_infers_fields_from_the_first_files(root):
    csv_file(root / "inbox", "products_1.csv", [f"S{i}" for i in range(8)])
    (root / "inbox" / "events-1.jsonl").write_text(
        '{"id": 1, "email": "ann@example.com", "at": "2024-05-01T10:00:00"}\n'
    )
    found = {e.key: e for e in connector().discover()}
    assert len(found["products"].samples) == 5
    assert {f.name for f in found["products"].fields} == {"sku", "name", "price"}
    fields = {f.name: f for f in found["events"].fields}
    assert (
        fields["email"].personal == "email"
        and fields["at"].type == "datetime"
        and fields["id"].type == "integer"
    )
    assert found["orders"].samples == ()


def test_lookup_and_fetch_scan_the_current_files(root):
    csv_file(root / "inbox", "products_1.csv", ["A", "B", "C"])
    conn = connector()
    assert [r["name"] for r in conn.fetch("products", ["C", "Z", "A"])] == ["Product A", "Product C"]
    assert [r["sku"] for r in conn.lookup("products", "name", ["Product B"])] == ["B"]


# --- local writes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("definition", [PRODUCTS, EVENTS, ORDERS], ids=["csv", "jsonl", "json"])
def test_writes_are_atomic_and_read_back(root, definition):
    key = definition["key"]
    write_name = definition["pattern"].replace("*", "{timestamp}")
    entity = {**definition, "write_name": write_name}
    conn = connector([entity])
    records = [
        {"sku": "N1", "id": 1, "number": "X1", "name": 'Crème, "brûlée"\nline two'},
        {"sku": "N2", "id": 2, "number": "X2", "name": "Plain"},
    ]
    results = conn.write(key, records)
    assert [r.ok for r in results] == [True, True] and all(r.action == "created" for r in results)
    names = os.listdir(root / "inbox")
    assert len(names) == 1 and not names[0].startswith(".")  # no temporary file left behind
    assert names[0].startswith(write_name.split("{")[0]) and len(names[0].split("T")[-1].split(".")[0]) == 12
    _, back = read_all(conn, key)
    expected = (
        records if definition["format"] != "csv" else [{k: str(v) for k, v in r.items()} for r in records]
    )
    assert back == expected
    if definition["format"] == "json":
        assert list(json.loads((root / "inbox" / names[0]).read_text())) == ["data"]


def test_a_reader_never_sees_a_half_written_file(root, monkeypatch):
    conn = connector([{**PRODUCTS, "write_name": "products_out.csv"}])
    seen = []
    real_fsync = os.fsync

    def spy(fd):
        seen.append(sorted(os.listdir(root / "inbox")))
        seen.append(read_all(connector(), "products")[1])
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", spy)
    conn.write("products", [{"sku": "A"}])
    assert seen == [[".products_out.csv.tmp"], []]  # while writing: only the hidden temporary file
    monkeypatch.undo()
    conn.write("products", [{"sku": "B"}])  # the name is taken: a new file, never an overwrite
    assert sorted(os.listdir(root / "inbox")) == ["products_out-1.csv", "products_out.csv"]
    assert [r["sku"] for r in read_all(conn, "products")[1]] == ["B", "A"]  # name order


def test_a_failed_write_leaves_nothing_behind(root, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "link", broken)
    monkeypatch.setattr(files.os, "rename", broken)
    with pytest.raises(files.TransientError, match="disk is full"):
        connector().write("products", [{"sku": "A"}])
    assert os.listdir(root / "inbox") == []


def test_a_record_that_cannot_be_encoded_fails_alone(root):
    conn = connector([{**EVENTS, "write_name": "events-{entity}.jsonl"}], encoding="latin-1")
    results = conn.write("events", [{"id": 1, "name": "café"}, {"id": 2, "name": "€uro"}, {"id": 3}])
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, RecordError) and "latin-1" in results[1].error.message
    assert [r.target_id for r in results if r.ok] == ["1", "3"]
    assert [r["id"] for r in read_all(conn, "events")[1]] == [1, 3]
    assert (root / "inbox" / "events-events.jsonl").read_bytes().startswith(b'{"id": 1, "name": "caf\xe9"}')


# --- safety -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["../etc", "/etc", "inbox/../../etc", "~/x", "C:/Windows"])
def test_folders_outside_the_root_are_refused(root, folder):
    errors = FilesConnector.clean_parameters(
        {"location": "local", "folder": folder, "entities": [PRODUCTS]}, {}
    )
    assert "folder" in errors
    with pytest.raises(ConfigError, match=r"relative path|“\.\.”"):
        list(connector(folder=folder).read("products"))
    result = connector(folder=folder).check()
    assert not result.ok and result.kind == "config"


def test_a_symlink_escaping_the_root_is_refused(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    csv_file(outside, "products_1.csv", ["SECRET"])
    (root / "escape").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ConfigError, match="outside the hub's files root"):
        list(connector(folder="escape").read("products"))
    assert "folder" in FilesConnector.clean_parameters({"folder": "escape", "entities": [PRODUCTS]}, {})
    # A file link inside the folder that leads out is refused too.
    (root / "inbox" / "products_1.csv").symlink_to(outside / "products_1.csv")
    with pytest.raises(ConfigError, match="outside the hub's files root"):
        list(connector().read("products"))
    # A link that stays inside the root is fine.
    (root / "inbox" / "products_1.csv").unlink()
    csv_file(root, "products_shared.csv", ["OK"])
    (root / "inbox" / "products_1.csv").symlink_to(root / "products_shared.csv")
    assert [r["sku"] for r in read_all(connector(), "products")[1]] == ["OK"]


@pytest.mark.parametrize(
    ("entity", "problem"),
    [
        ({**PRODUCTS, "pattern": "../*.csv"}, "plain file name"),
        ({**PRODUCTS, "pattern": "sub/products_*.csv"}, "plain file name"),
        ({**PRODUCTS, "pattern": ".*"}, "may not start with a dot"),
        ({**PRODUCTS, "write_name": "../out-{timestamp}.csv"}, "plain file name"),
        ({**PRODUCTS, "write_name": "out-{date}.csv"}, "unknown placeholder"),
        ({**PRODUCTS, "format": "xml"}, "“format”"),
        ({"key": "x", "pattern": "x.txt"}, "“format”"),
        ({**EVENTS, "records_path": "data"}, "only applies to the json"),
    ],
)
def test_patterns_and_write_names_must_be_plain_names(root, entity, problem):
    errors = FilesConnector.clean_parameters(
        {"location": "local", "folder": "inbox", "entities": [entity]}, {}
    )
    assert problem in errors["entities"]
    conn = connector([entity])
    pattern = problem.replace("“", ".").replace("”", ".")
    with pytest.raises(ConfigError, match=pattern):
        list(conn.read(entity["key"]))
    with pytest.raises(ConfigError, match=pattern):
        conn.write(entity["key"], [{"a": 1}])


def test_processed_folder_must_stay_below_the_folder(root):
    for bad in ("../done", "/srv/done", "."):
        errors = FilesConnector.clean_parameters(
            {"folder": "inbox", "processed_folder": bad, "entities": [PRODUCTS]}, {}
        )
        assert "processed_folder" in errors, bad
    assert FilesConnector.clean_parameters({"folder": "inbox", "entities": [PRODUCTS]}, {}) == {}


# --- broken files -----------------------------------------------------------------------------------------


def test_broken_csv_quoting_is_a_clear_record_error(root):
    (root / "inbox" / "products_1.csv").write_text('sku,name\nA,ok\nB,"broken"quote\nC,fine\n')
    # The bad line goes to triage (Page.errors) with file and line, and the read goes on.
    pages, records = read_all(connector(), "products")
    assert pages[0].errors[0].remote == {"file": "products_1.csv", "line": 3}
    assert [r["sku"] for r in records] == ["A", "C"]
    assert [e.message for e in pages[0].errors] == [
        "products_1.csv, line 3: broken quoting (',' expected after '\"')"
    ]


def test_unclosed_quote_and_wrong_column_count(root):
    (root / "inbox" / "products_1.csv").write_text('sku,name\nA,ok\nB,x,extra\nC,"never closed\nD,x\n')
    pages, records = read_all(connector(), "products")
    assert [r["sku"] for r in records] == ["A"]
    assert [e.message for e in pages[0].errors] == [
        "products_1.csv, line 3: 3 values for 2 columns",
        "products_1.csv, line 4: a quoted value is never closed (the file ends inside quotes)",
    ]


def test_invalid_utf8_names_the_file_line_and_byte(root):
    (root / "inbox" / "products_1.csv").write_bytes(b"sku,name\nA,ok\nB,caf\xe9\nC,x\n")
    with pytest.raises(RecordError) as caught:
        list(connector().read("products"))
    assert "products_1.csv is not valid utf-8 text (line 3, byte offset 19)" in caught.value.message
    assert caught.value.reason == "encoding"
    (root / "inbox" / "events-1.jsonl").write_bytes(b'{"id": 1}\n{"id": "\xff"}\n')
    with pytest.raises(RecordError, match=r"events-1.jsonl is not valid utf-8 text \(line 2"):
        list(connector().read("events"))


@pytest.mark.parametrize("chunk", [1, 3, 7, 65536])
def test_positions_hold_across_read_chunks(root, monkeypatch, chunk):
    monkeypatch.setattr(files, "CHUNK_SIZE", chunk)
    (root / "inbox" / "products_1.csv").write_bytes("sku,name\nA,Crème brûlée\nB,日本\r\nC,x".encode())
    assert [r["name"] for r in read_all(connector(), "products")[1]] == ["Crème brûlée", "日本", "x"]
    (root / "inbox" / "products_1.csv").write_bytes(b"sku,name\nA,\xc3\xa9\nB,caf\xe9\n")
    with pytest.raises(RecordError, match=r"\(line 3, byte offset 19\)"):
        list(connector().read("products"))
    (root / "inbox" / "products_1.csv").write_bytes(b"sku,name\nA,\xc3")  # cut inside a character
    with pytest.raises(RecordError, match=r"\(line 2, byte offset 11\): unexpected end of data"):
        list(connector().read("products"))


def test_bad_json_lines_and_documents(root):
    (root / "inbox" / "events-1.jsonl").write_text('{"id": 1}\n{"id": 2,\n[1, 2]\n{"id": 4}\n')
    pages, records = read_all(connector(), "events")
    assert "events-1.jsonl, line 2: not valid JSON" in pages[0].errors[0].message
    assert [r["id"] for r in records] == [1, 4]
    assert [e.message.split(":")[0] for e in pages[0].errors] == [
        "events-1.jsonl, line 2",
        "events-1.jsonl, line 3",
    ]
    assert "a JSON object was expected, not a list" in pages[0].errors[1].message
    (root / "inbox" / "orders-1.json").write_text('{"data": {"items": [{"n": 1},]}}')
    with pytest.raises(RecordError, match=r"orders-1\.json is not a valid JSON document"):
        list(connector().read("orders"))
    (root / "inbox" / "orders-1.json").write_text('{"data": {"other": []}}')
    with pytest.raises(RecordError, match=r"no list of records at “data\.items”"):
        list(connector().read("orders"))


# --- checks -----------------------------------------------------------------------------------------------


def test_check_local_folder(root, monkeypatch):
    assert connector().check().ok
    missing = connector(folder="nowhere").check()
    assert not missing.ok and missing.kind == "not_found" and "does not exist" in missing.message
    monkeypatch.setattr(files.os, "access", lambda path, mode: not mode & os.W_OK)
    result = connector().check()
    assert not result.ok and result.kind == "forbidden" and "read-only" in result.message


def test_min_age_waits_for_files_still_being_written(root):
    inbox = root / "inbox"
    for n in (1, 2, 3):
        csv_file(inbox, f"products_{n}.csv", [f"S{n}"])
    old = os.path.getmtime(inbox / "products_1.csv") - 600
    os.utime(inbox / "products_1.csv", (old, old))
    os.utime(inbox / "products_3.csv", (old, old))
    conn = connector([{**PRODUCTS, "min_age": 60}])
    # products_2 is too young: it and every file after it wait, so name order holds.
    assert [r["sku"] for r in read_all(conn, "products")[1]] == ["S1"]
    os.utime(inbox / "products_2.csv", (old, old))
    assert [r["sku"] for r in read_all(conn, "products")[1]] == ["S1", "S2", "S3"]


def test_clean_parameters_for_sftp(root):
    errors = FilesConnector.clean_parameters(
        {"location": "sftp", "folder": "/out", "host": "127.0.0.1", "entities": [PRODUCTS]}, {}
    )
    assert set(errors) == {"username", "host_key", "password"}
    errors = FilesConnector.clean_parameters(
        {
            "location": "sftp",
            "folder": "/out",
            "host": "partner.example.com",
            "username": "u",
            "host_key": "not a key",
            "entities": [PRODUCTS],
            "delimiter": ";;",
            "encoding": "klingon",
        },
        {"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n-----END OPENSSH PRIVATE KEY-----"},
    )
    assert set(errors) == {"host", "host_key", "private_key", "delimiter", "encoding"}
    assert "not an SSH public host key" in errors["host_key"] and "not allowed" in errors["host"]


# --- SFTP against a real server ---------------------------------------------------------------------------


@dataclass
class SftpServer:
    root: Path
    port: int
    host_key_line: str
    client_key: asyncssh.SSHKey


@pytest.fixture(scope="module")
def sftp(tmp_path_factory):
    root = tmp_path_factory.mktemp("sftp-root")
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username):
            return True

        def password_auth_supported(self):
            return True

        def validate_password(self, username, password):
            return username == "hub" and password == "s3cret"

        def public_key_auth_supported(self):
            return True

        def validate_public_key(self, username, key):
            return username == "hub" and key.public_data == client_key.public_data

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start():
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[host_key],
            server_factory=Server,
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root).encode()),
            allow_scp=False,
        )

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    port = server.sockets[0].getsockname()[1]
    yield SftpServer(root, port, host_key.export_public_key().decode().strip(), client_key)

    async def stop():
        server.close()
        await server.wait_closed()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def sftp_connector(server, folder, *, password="s3cret", host_key=None, entities=None, **params):
    secrets = {"password": password} if password else {}
    secrets.update(params.pop("secrets", {}))
    params = {
        "location": "sftp",
        "host": "127.0.0.1",
        "port": server.port,
        "username": "hub",
        "host_key": host_key or server.host_key_line,
        "folder": folder,
        "entities": entities or [PRODUCTS, EVENTS],
        **params,
    }
    assert FilesConnector.clean_parameters(params, secrets) == {}
    return FilesConnector(
        ConnectionSettings(system_id=None, name="sftp", params=params, secrets=secrets, timeout=5)
    )


def test_sftp_read_commit_and_write(sftp):
    inbox = sftp.root / "outbound"
    inbox.mkdir()
    csv_file(inbox, "products_2.csv", ["B1", "B2"])
    csv_file(inbox, "products_1.csv", ["A1"])
    conn = sftp_connector(sftp, "/outbound")
    try:
        assert conn.check().ok
        pages, records = read_all(conn, "products")
        assert [r["sku"] for r in records] == ["A1", "B1", "B2"] and pages[-1].has_more is False
        assert read_all(conn, "products")[1] == records  # not committed: read again
        assert conn.commit("products", pages[0].cursor) == ["products_1.csv"]
        assert [p.name for p in (inbox / "processed").iterdir()] == ["products_1.csv"]
        assert [r["sku"] for r in read_all(conn, "products")[1]] == ["B1", "B2"]
        conn.commit("products", pages[-1].cursor)
        assert read_all(conn, "products")[1] == []

        results = conn.write("events", [{"id": 1, "text": "é"}, {"id": 2}])
        assert [r.ok for r in results] == [True, True]
        written = [p.name for p in inbox.iterdir() if p.is_file()]
        assert len(written) == 1 and written[0].startswith("events-") and written[0].endswith(".jsonl")
        assert [r["id"] for r in read_all(conn, "events")[1]] == [1, 2]
    finally:
        conn.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("sftp-")]  # the loop thread ended


def test_sftp_private_key_pasted_on_one_line(sftp):
    (sftp.root / "keyed").mkdir()
    csv_file(sftp.root / "keyed", "products_1.csv", ["K"])
    pem = sftp.client_key.export_private_key().decode().replace("\n", "")
    conn = sftp_connector(sftp, "keyed", password=None, secrets={"private_key": pem})
    try:
        assert [r["sku"] for r in read_all(conn, "products")[1]] == ["K"]
    finally:
        conn.close()


def test_sftp_wrong_password_is_an_auth_error(sftp):
    conn = sftp_connector(sftp, "/", password="wrong")
    try:
        result = conn.check()
        assert not result.ok and result.kind == "auth" and "refused the user name" in result.message
        with pytest.raises(AuthError, match="authentication failed"):
            list(conn.read("products"))
    finally:
        conn.close()


def test_sftp_unknown_host_key_is_refused(sftp):
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    conn = sftp_connector(sftp, "/", host_key=f"127.0.0.1 {other}")
    try:
        result = conn.check()
        assert not result.ok and result.kind == "host_key" and "not the configured one" in result.message
        with pytest.raises(ConfigError, match="not the configured one"):
            list(conn.read("products"))
    finally:
        conn.close()


def test_sftp_host_key_of_another_type_is_refused(sftp):
    other = asyncssh.generate_private_key("ecdsa-sha2-nistp256").export_public_key().decode()
    conn = sftp_connector(sftp, "/", host_key=other)
    result = conn.check()
    conn.close()
    assert not result.ok
    # Both ends see that no host key algorithm matches: either the client says so first, or the server
    # hangs up first (a race inside the SSH handshake).
    assert (result.kind == "host_key" and "no host key of the configured type" in result.message) or (
        result.kind == "network" and "is the configured host key of a type it offers" in result.message
    )


def test_sftp_plain_words_for_missing_folder_and_refused(sftp):
    conn = sftp_connector(sftp, "/missing")
    try:
        result = conn.check()
        assert (
            not result.ok
            and result.kind == "not_found"
            and "does not exist on the SFTP server" in result.message
        )
    finally:
        conn.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    refused = sftp_connector(sftp, "/", port=closed_port)
    result = refused.check()
    refused.close()
    assert not result.ok and result.kind == "refused" and "connection refused" in result.message
