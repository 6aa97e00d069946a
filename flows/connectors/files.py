"""The Files connector: CSV, JSON Lines and JSON files in a local folder or on an SFTP server.

Each entity is a file name pattern in one folder (``products_*.csv``). A read lists the matching files
in name order and yields one page per file (a large file is split into pages of ``page_size``
records); the cursor ``{"file": name, "offset": n, "done": bool}`` resumes after the last record
handed over. Once the engine has committed the records up to a cursor it calls ``commit()``, which
moves the files read so far into the processed folder: a crash before that re-reads the same files,
nothing is lost or skipped. Producers must name files so that new files sort after older ones (a
timestamp in the name): a file that appears later with a name sorting before one already read is
taken as read.

Writes create one new file per call, written to a hidden temporary name and renamed into place, so a
reader never sees half a file.

Safety: a local folder is a path relative to ``settings.HUB_FILES_ROOT`` and must stay inside it
(``..``, absolute paths and escaping symbolic links are refused); patterns and written names are plain
file names. SFTP needs the server's host key (never trusted on first use) and honours
``HUB_OUTBOUND_ALLOWED_HOSTS``; it runs ``asyncssh`` on a private event loop in a helper thread, one
SSH connection per connector instance, closed by ``close()``.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import dataclasses
import errno
import fnmatch
import io
import json
import os
import posixpath
import re
import socket
import stat
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath
from uuid import UUID

from django import forms
from django.conf import settings as django_settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows.choices import SystemRole
from flows.connectors.base import Capability, Connector, Entity, Page, WriteMode, WriteResult
from flows.connectors.definitions import entity_from_definition, entity_list_problem
from flows.connectors.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    NotFound,
    RecordError,
    TransientError,
)
from flows.connectors.paths import get_path
from flows.connectors.registry import register_connector
from flows.connectors.rest import JSONListField
from integration_hub.outbound import host_allowed

LOCATIONS = [
    ("local", gettext_lazy("Local folder (under the hub's files root)")),
    ("sftp", gettext_lazy("SFTP server")),
]
FORMATS = ("csv", "jsonl", "json")
EXTENSION_FORMATS = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
DEFAULT_PAGE_SIZE = 1000
CHUNK_SIZE = 256 * 1024
SPOOL_IN_MEMORY = 16 * 1024 * 1024  # larger SFTP downloads go to a temporary file

ENTITIES_HELP = gettext_lazy(
    'A JSON list, one object per entity, e.g. [{"key": "products", "pattern": "products_*.csv", '
    '"format": "csv", "id_field": "sku"}, {"key": "orders", "pattern": "orders-*.jsonl", '
    '"format": "jsonl", "write_name": "orders-{timestamp}.jsonl"}]. Formats: csv, jsonl, json (with '
    '"records_path" where the list sits, e.g. "data.items"). Optional: "page_size" (records per page), '
    '"min_age" (seconds a file must stay unchanged before it is read), "natural_keys".'
)


# --- configuration helpers ---------------------------------------------------------------------------


def files_root() -> Path:
    """The folder every local path is relative to (``settings.HUB_FILES_ROOT``), resolved."""
    root = getattr(django_settings, "HUB_FILES_ROOT", None) or Path(django_settings.DATA_DIR) / "files"
    return Path(root).resolve()


def _relative_parts(value: str, what: str) -> PurePosixPath:
    """A relative path without ``..``, as typed by an admin; raises ConfigError naming the problem."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(_("Give the %(what)s.") % {"what": what}, reason="config")
    if "\x00" in value:
        raise ConfigError(_("The %(what)s contains a NUL character.") % {"what": what}, reason="config")
    text = value.strip().replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text) or text.startswith("~"):
        raise ConfigError(
            _("The %(what)s must be a relative path, not an absolute one like “%(value)s”.")
            % {"what": what, "value": value},
            reason="config",
        )
    path = PurePosixPath(text)
    if ".." in path.parts:
        raise ConfigError(
            _("The %(what)s may not contain “..”: it must stay inside its parent folder.") % {"what": what},
            reason="config",
        )
    return path


def _inside_root(path: Path, root: Path, what: str) -> Path:
    resolved = path.resolve()
    if resolved != root and not resolved.is_relative_to(root):
        raise ConfigError(
            _("The %(what)s leads outside the hub's files root %(root)s (through a symbolic link).")
            % {"what": what, "root": root},
            reason="config",
        )
    return resolved


def local_folder(value: str) -> Path:
    """The local folder for ``value`` (relative to the files root), resolved and checked to stay inside."""
    root = files_root()
    relative = _relative_parts(value, _("folder (relative to the hub's files root)"))
    return _inside_root(root / relative, root, _("folder"))


def processed_parts(value) -> PurePosixPath:
    """The processed folder, relative to the entity folder (default ``processed``)."""
    parts = _relative_parts(value or "processed", _("processed folder"))
    if str(parts) in (".", ""):
        raise ConfigError(
            _("The processed folder must be a subfolder, not the folder itself."), reason="config"
        )
    return parts


def plain_name(value, what: str) -> str:
    """A file name or glob without any path: no separators, no ``..``, not hidden."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(_("Give the %(what)s.") % {"what": what}, reason="config")
    if "/" in value or "\\" in value or "\x00" in value:
        raise ConfigError(
            _("The %(what)s “%(value)s” must be a plain file name, without “/” or “\\”.")
            % {"what": what, "value": value},
            reason="config",
        )
    if value in (".", "..") or value.startswith("."):
        raise ConfigError(
            _("The %(what)s “%(value)s” may not start with a dot.") % {"what": what, "value": value},
            reason="config",
        )
    return value


def _delimiter(value) -> str:
    if value in (None, ""):
        return ","
    if value in ("\\t", "tab", "TAB", "\t"):
        return "\t"
    if not isinstance(value, str) or len(value) != 1 or value in '"\r\n':
        raise ConfigError(
            _("The delimiter must be one character (or “tab”), e.g. “,” or “;”."), reason="config"
        )
    return value


def _encoding(value) -> str:
    name = value or "utf-8"
    try:
        info = codecs.lookup(name)
        if not getattr(info, "_is_text_encoding", True):  # rot13, base64…: not a text encoding
            raise LookupError(name)
        return info.name
    except (LookupError, TypeError):
        raise ConfigError(
            _("Unknown text encoding “%(name)s” (e.g. utf-8, latin-1, cp1252).") % {"name": name},
            reason="config",
        ) from None


def _format_of(d: dict) -> str:
    fmt = d.get("format")
    if not fmt:
        fmt = EXTENSION_FORMATS.get(PurePosixPath(str(d.get("pattern") or "")).suffix.lower(), "")
    return fmt


def render_write_name(template: str, entity: str, moment: datetime | None = None) -> str:
    """The name of a written file: ``{timestamp}`` (UTC, to the microsecond) and ``{entity}`` replaced."""
    moment = moment or datetime.now(UTC)
    name = template.replace("{timestamp}", moment.strftime("%Y%m%dT%H%M%S%f")).replace("{entity}", entity)
    if re.search(r"[{}]", name):
        raise ConfigError(
            _("The write name “%(name)s” has an unknown placeholder; use {timestamp} and {entity}.")
            % {"name": template},
            reason="config",
        )
    return plain_name(name, _("write name"))


def validate_entities(value) -> str:
    """The first problem of an entities definition, in words; empty when it is usable."""
    return entity_list_problem(value, _check_entity)


def _check_entity(where: str, d: dict) -> str:
    try:
        plain_name(d.get("pattern"), _("pattern"))
        if d.get("write_name") is not None:
            render_write_name(d["write_name"], d["key"])
    except ConfigError as exc:
        return f"{where}: {exc.message}"
    fmt = _format_of(d)
    if fmt not in FORMATS:
        return _("%(where)s: “format” must be one of %(formats)s.") % {
            "where": where,
            "formats": ", ".join(FORMATS),
        }
    if d.get("records_path") is not None and not isinstance(d["records_path"], str):
        return _("%(where)s: “%(name)s” must be text.") % {"where": where, "name": "records_path"}
    if d.get("records_path") and fmt != "json":
        return _("%(where)s: “records_path” only applies to the json format.") % {"where": where}
    size = d.get("page_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 100000):
        return _("%(where)s: “page_size” must be a whole number from 1 to 100000.") % {"where": where}
    age = d.get("min_age")
    if age is not None and (isinstance(age, bool) or not isinstance(age, int | float) or age < 0):
        return _("%(where)s: “min_age” must be a number of seconds.") % {"where": where}
    return ""


# --- SSH keys --------------------------------------------------------------------------------------------


def _asyncssh():
    try:
        import asyncssh
    except ImportError:
        raise ConfigError(
            _("SFTP support is not installed on the hub (the asyncssh package is missing)."), reason="config"
        ) from None
    return asyncssh


def parse_host_keys(text) -> list:
    """The trusted server keys from the host key field: one ``ssh-ed25519 AAAA…`` line per key, as
    ``ssh-keyscan`` prints them (a leading host name is ignored; ``#`` lines are comments)."""
    asyncssh = _asyncssh()
    keys = []
    for raw in str(text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        candidates = [line]
        parts = line.split()
        if len(parts) >= 3:
            candidates.append(" ".join(parts[1:]))  # "host ssh-ed25519 AAAA…" (ssh-keyscan, known_hosts)
        for candidate in candidates:
            try:
                keys.append(asyncssh.import_public_key(candidate))
                break
            except (asyncssh.KeyImportError, ValueError):
                continue
        else:
            raise ConfigError(
                _("This is not an SSH public host key line: “%(line)s” (expected e.g. “ssh-ed25519 AAAA…”).")
                % {"line": line[:60]},
                reason="config",
            )
    if not keys:
        raise ConfigError(
            _("Give the server's host key (e.g. the output of ssh-keyscan): it is never accepted unseen."),
            reason="host_key",
        )
    return keys


def normalize_pem(text: str) -> str:
    """A PEM block whose line breaks were lost (pasted into a one-line field) put back into shape."""
    text = (text or "").strip()
    match = re.fullmatch(r"(-----BEGIN [A-Z0-9 ]+-----)\s*(.*?)\s*(-----END [A-Z0-9 ]+-----)", text, re.S)
    if not match or ":" in match.group(2):
        return text + "\n" if text else text
    body = re.sub(r"\s+", "", match.group(2))
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([match.group(1), *lines, match.group(3)]) + "\n"


def parse_private_key(text):
    asyncssh = _asyncssh()
    try:
        return asyncssh.import_private_key(normalize_pem(text))
    except (asyncssh.KeyImportError, ValueError) as exc:
        if "passphrase" in str(exc).lower():
            message = _(
                "The private key is encrypted: give an unencrypted key (the hub stores it encrypted)."
            )
        else:
            message = _("The private key could not be read (expected a PEM or OpenSSH private key).")
        raise ConfigError(message, reason="config", detail=str(exc)[:200]) from None


# --- parsing ---------------------------------------------------------------------------------------------


def _decoding(encoding: str) -> str:
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding  # skip a BOM


def _text_lines(stream, encoding: str, name: str) -> Iterator[str]:
    """Decode ``stream`` strictly, line by line (keeping the line ends); undecodable bytes raise a
    ``RecordError`` naming the file, the line and the byte position."""
    decoding = _decoding(encoding)
    decoder = codecs.getincrementaldecoder(decoding)(errors="strict")
    fed = 0  # bytes given to the decoder so far
    newlines = 0  # line breaks decoded so far
    pending = ""
    while True:
        chunk = stream.read(CHUNK_SIZE)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            buffered = len(exc.object) - len(chunk)
            prefix = bytes(exc.object[: exc.start]).decode(decoding, errors="replace")
            line = newlines + prefix.count("\n") + 1
            raise RecordError(
                _(
                    "%(file)s is not valid %(encoding)s text (line %(line)s, byte offset %(byte)s): %(reason)s. "
                    "Fix the file or the encoding setting, or move the file out of the folder."
                )
                % {
                    "file": name,
                    "encoding": encoding,
                    "line": line,
                    "byte": fed - buffered + exc.start,
                    "reason": exc.reason,
                },
                reason="encoding",
                remote={"file": name, "line": line, "byte": fed - buffered + exc.start},
            ) from None
        fed += len(chunk)
        newlines += text.count("\n")
        pending += text
        if "\n" in pending:
            *complete, pending = pending.split("\n")
            for line in complete:
                yield line + "\n"
        if not chunk:
            if pending:
                yield pending
            return


def _item_error(name: str, where: str, problem: str, **remote) -> RecordError:
    return RecordError(f"{name}, {where}: {problem}", reason="parse", remote={"file": name, **remote})


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return _("a quoted value is never closed (the file ends inside quotes)")
    if "expected after" in text:
        return _("broken quoting (%(detail)s)") % {"detail": text}
    if "field larger than field limit" in text:
        return _("a value is longer than %(n)s characters") % {"n": csv.field_size_limit()}
    return text


def _refuse_constant(name: str):
    raise ValueError(_("%(name)s is not a JSON value") % {"name": name})


def _json_loads(text: str):
    """``json.loads`` that refuses NaN and Infinity (not JSON) and turns a nesting deep enough to
    exhaust the parser into a ``ValueError`` like any other malformed document."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(_("nested too deeply")) from None


_OTHER_DELIMITERS = (",", ";", "\t", "|")


def csv_items(stream, name: str, *, encoding: str, delimiter: str, header: bool) -> Iterator[tuple]:
    """(position, record or RecordError) for each data row of a CSV file; blank lines are skipped."""
    reader = csv.reader(_text_lines(stream, encoding, name), delimiter=delimiter, strict=True)
    columns: list[str] | None = None
    position = 0
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if header and columns is None:
                raise RecordError(
                    _("%(file)s: the header line cannot be read: %(problem)s")
                    % {"file": name, "problem": _csv_problem(exc)},
                    reason="parse",
                    remote={"file": name, "line": line},
                ) from None
            position += 1
            yield position, _item_error(name, _("line %(n)s") % {"n": line}, _csv_problem(exc), line=line)
            continue
        if not row:
            continue
        if header and columns is None:
            other = next(
                (d for d in _OTHER_DELIMITERS if d != delimiter and len(row) == 1 and d in row[0]), None
            )
            if other:
                raise RecordError(
                    _(
                        "%(file)s: the header “%(header)s” is one column: the file seems delimited by “%(found)s”, "
                        "not “%(delimiter)s”. Fix the delimiter setting."
                    )
                    % {
                        "file": name,
                        "header": row[0][:80],
                        "found": "tab" if other == "\t" else other,
                        "delimiter": "tab" if delimiter == "\t" else delimiter,
                    },
                    reason="parse",
                    remote={"file": name, "line": line},
                )
            columns = [c.strip() or f"column_{i}" for i, c in enumerate(row, start=1)]
            duplicates = sorted({c for c in columns if columns.count(c) > 1})
            if duplicates:
                raise RecordError(
                    _("%(file)s: the header repeats the column(s) %(columns)s.")
                    % {"file": name, "columns": ", ".join(duplicates)},
                    reason="parse",
                    remote={"file": name, "line": line},
                )
            continue
        position += 1
        if columns is None:
            yield position, {f"column_{i}": value for i, value in enumerate(row, start=1)}
        elif len(row) != len(columns):
            yield (
                position,
                _item_error(
                    name,
                    _("line %(n)s") % {"n": line},
                    _("%(values)s values for %(columns)s columns")
                    % {"values": len(row), "columns": len(columns)},
                    line=line,
                ),
            )
        else:
            yield position, dict(zip(columns, row, strict=True))


def jsonl_items(stream, name: str, *, encoding: str) -> Iterator[tuple]:
    """(position, record or RecordError) for each non-blank line of a JSON Lines file."""
    position = 0
    for line_number, line in enumerate(_text_lines(stream, encoding, name), start=1):
        text = line.strip()
        if not text:
            continue
        position += 1
        where = _("line %(n)s") % {"n": line_number}
        try:
            value = _json_loads(text)
        except ValueError as exc:
            yield (
                position,
                _item_error(name, where, _("not valid JSON (%(e)s)") % {"e": exc}, line=line_number),
            )
            continue
        if not isinstance(value, dict):
            yield (
                position,
                _item_error(
                    name, where, _("a JSON object was expected, not %(t)s") % {"t": _json_type(value)}
                ),
            )
            continue
        yield position, value


def json_items(stream, name: str, *, encoding: str, records_path: str) -> Iterator[tuple]:
    """(position, record or RecordError) for each item of a JSON document's list (whole file in memory)."""
    text = "".join(_text_lines(stream, encoding, name))
    try:
        body = _json_loads(text)
    except ValueError as exc:
        raise RecordError(
            _("%(file)s is not a valid JSON document: %(e)s") % {"file": name, "e": exc},
            reason="parse",
            remote={"file": name, "line": getattr(exc, "lineno", None)},
        ) from None
    records = get_path(body, records_path) if records_path else body
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list):
        raise RecordError(
            _("%(file)s has no list of records at “%(path)s”.") % {"file": name, "path": records_path or "/"},
            reason="parse",
            remote={"file": name},
        )
    for index, value in enumerate(records, start=1):
        if isinstance(value, dict):
            yield index, value
        else:
            yield (
                index,
                _item_error(
                    name,
                    _("item %(n)s") % {"n": index},
                    _("a JSON object was expected, not %(t)s") % {"t": _json_type(value)},
                    item=index,
                ),
            )


def _json_type(value) -> str:
    names = {list: _("a list"), str: _("a string"), bool: _("a boolean"), type(None): _("null")}
    return names.get(type(value), _("a number"))


def _json_default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


# --- where the files are ---------------------------------------------------------------------------------


@dataclasses.dataclass
class _Listed:
    name: str
    mtime: float | None


def _os_error(exc: OSError, what: str) -> ConnectorError:
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return ConfigError(
            _("%(what)s does not exist.") % {"what": what}, reason="not_found", detail=str(exc)
        )
    if isinstance(exc, PermissionError):
        return ConfigError(
            _("The hub is not allowed to access %(what)s (permission denied).") % {"what": what},
            reason="forbidden",
            detail=str(exc),
        )
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return TransientError(_("The disk is full: %(what)s.") % {"what": what}, reason="disk_full")
    return TransientError(
        _("%(what)s could not be accessed: %(e)s") % {"what": what, "e": exc}, reason="io", detail=str(exc)
    )


class _LocalStore:
    """A folder under the files root."""

    def __init__(self, folder: str, processed: str):
        self.root = files_root()
        self.label = folder
        self.folder = local_folder(folder)
        self.processed = self.folder / processed_parts(processed)

    def _what(self) -> str:
        return _("The folder “%(folder)s” under %(root)s") % {"folder": self.label, "root": self.root}

    def check(self) -> None:
        if not self.folder.is_dir():
            raise ConfigError(
                _("The folder “%(folder)s” does not exist under the files root %(root)s.")
                % {"folder": self.label, "root": self.root},
                reason="not_found",
            )
        try:
            os.listdir(self.folder)
        except OSError as exc:
            raise _os_error(exc, self._what()) from exc
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise ConfigError(
                _("The folder “%(folder)s” is read-only for the hub: read files cannot be moved aside.")
                % {"folder": self.label},
                reason="forbidden",
            )

    def list(self) -> list[_Listed]:
        found = []
        try:
            with os.scandir(self.folder) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or not entry.is_file():
                        continue
                    found.append(_Listed(entry.name, entry.stat().st_mtime))
        except OSError as exc:
            raise _os_error(exc, self._what()) from exc
        return found

    def _file(self, name: str) -> Path:
        return _inside_root(self.folder / plain_name(name, _("file name")), self.root, f"“{name}”")

    @contextlib.contextmanager
    def open(self, name: str):
        path = self._file(name)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError as exc:
            raise TransientError(
                _("%(file)s disappeared while it was being read.") % {"file": name}, reason="io"
            ) from exc
        except OSError as exc:
            raise _os_error(exc, f"“{name}”") from exc
        with os.fdopen(fd, "rb") as stream:
            yield stream

    def publish(self, name: str, data: bytes) -> str:
        """Write ``data`` to a hidden temporary file, then give it its name (never over an existing file)."""
        if not self.folder.is_dir():
            self.check()
        tmp = self.folder / f".{plain_name(name, _('file name'))}.tmp"
        flags = (
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        )
        try:
            fd = os.open(tmp, flags, 0o666)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            for candidate in _candidates(name):
                target = self.folder / candidate
                try:
                    os.link(tmp, target)  # fails if the name exists: never overwrites
                except FileExistsError:
                    continue
                except OSError:  # no hard links on this file system
                    if target.exists():
                        continue
                    os.rename(tmp, target)
                    return candidate
                os.unlink(tmp)
                return candidate
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise _os_error(exc, f"“{name}”") from exc
        raise TransientError(_("No free file name for %(name)s.") % {"name": name}, reason="io")

    def move_aside(self, names: list[str]) -> list[str]:
        if not names:
            return []
        processed = _inside_root(self.processed, self.root, _("processed folder"))
        moved = []
        try:
            processed.mkdir(parents=True, exist_ok=True)
            for name in names:
                source = self._file(name)
                if not source.exists():
                    continue  # moved by an earlier commit
                for candidate in _candidates(name):
                    if not (processed / candidate).exists():
                        os.rename(source, processed / candidate)
                        moved.append(name)
                        break
        except OSError as exc:
            raise _os_error(exc, _("the processed folder")) from exc
        return moved

    def close(self) -> None:
        pass


def _candidates(name: str, tries: int = 100):
    """``name``, then ``stem-1.ext``, ``stem-2.ext``… for when the name is taken."""
    yield name
    path = PurePosixPath(name)
    for n in range(1, tries):
        yield f"{path.stem}-{n}{path.suffix}"


class _SftpSession:
    """One SSH connection with an SFTP client, on a private event loop run by a helper thread."""

    def __init__(self, *, host, port, username, password, client_key, host_keys, timeout, retries):
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.client_key = client_key
        self.host_keys = host_keys
        self.timeout = timeout
        self.retries = retries
        self.backoff = 0.5
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._conn = None
        self._sftp = None
        self._start_lock = threading.Lock()

    def run(self, operation):
        """Run ``await operation(sftp)`` on the session's loop and return its result (errors mapped)."""
        with self._start_lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name=f"sftp-{self.host}", daemon=True
                )
                self._thread.start()
        return asyncio.run_coroutine_threadsafe(self._run(operation), self._loop).result()

    async def _run(self, operation):
        asyncssh = _asyncssh()
        if self._sftp is None:
            await self._connect(asyncssh)
        try:
            return await operation(self._sftp)
        except ConnectorError:
            raise
        except (TimeoutError, asyncssh.Error, OSError) as exc:
            if isinstance(exc, asyncssh.DisconnectError | ConnectionError | asyncssh.SFTPConnectionLost):
                await self._drop()
            raise _ssh_error(exc, asyncssh, self.host, self.port) from exc

    async def _connect(self, asyncssh) -> None:
        attempts = max(0, self.retries) + 1
        for attempt in range(attempts):
            conn = None
            try:
                conn = await asyncssh.connect(
                    self.host,
                    self.port,
                    username=self.username,
                    password=self.password or None,
                    client_keys=[self.client_key] if self.client_key else None,
                    known_hosts=(self.host_keys, [], []),
                    agent_path=None,
                    agent_forwarding=False,
                    config=None,
                    gss_host=None,
                    x509_trusted_certs=None,
                    x509_trusted_cert_paths=None,
                    ignore_encrypted=True,
                    connect_timeout=self.timeout,
                    login_timeout=self.timeout,
                )
                self._sftp = await asyncio.wait_for(conn.start_sftp_client(), self.timeout)
                self._conn = conn
                return
            except (TimeoutError, asyncssh.Error, OSError) as exc:
                if conn is not None:
                    conn.close()
                error = _ssh_error(exc, asyncssh, self.host, self.port)
                if conn is None and isinstance(exc, asyncssh.ConnectionLost):
                    error = TransientError(
                        _(
                            "The server at %(host)s:%(port)s closed the connection during the SSH handshake. "
                            "Is it an SSH server, and is the configured host key of a type it offers?"
                        )
                        % {"host": self.host, "port": self.port},
                        reason="network",
                        detail=str(exc),
                    )
                if type(error) is TransientError and error.reason != "dns" and attempt < attempts - 1:
                    await asyncio.sleep(self.backoff * 2**attempt)
                    continue
                raise error from exc

    async def _drop(self) -> None:
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 5)

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        if threading.current_thread() is thread:  # collected on the loop's own thread: just stop it
            loop.call_soon(loop.stop)
            self._loop = self._thread = None
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._drop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
        if not loop.is_running():
            loop.close()
        self._loop = self._thread = None


def _ssh_error(exc: BaseException, asyncssh, host: str, port: int) -> ConnectorError:
    """An SSH/SFTP failure in plain words, classified for the engine."""
    where = f"{host}:{port}"
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return ConfigError(
            _(
                "The SFTP server at %(where)s presented a host key that is not the configured one. "
                "If the server's key really changed, paste its new key; otherwise someone may be "
                "intercepting the connection."
            )
            % {"where": where},
            reason="host_key",
            detail=str(exc),
        )
    if isinstance(exc, asyncssh.KeyExchangeFailed) and "host key" in str(exc).lower():
        return ConfigError(
            _(
                "The SFTP server at %(where)s has no host key of the configured type: paste the key it "
                "really uses (ssh-keyscan lists them)."
            )
            % {"where": where},
            reason="host_key",
            detail=str(exc),
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        return AuthError(
            _("The SFTP server refused the user name, password or key (authentication failed)."),
            reason="auth",
            detail=str(exc),
        )
    if isinstance(exc, asyncssh.SFTPNoSuchFile | asyncssh.SFTPNoSuchPath):
        return ConfigError(
            _("Not found on the SFTP server: %(e)s") % {"e": exc.reason or exc},
            reason="not_found",
            detail=str(exc),
        )
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        return AuthError(
            _("The SFTP user is not allowed to do this: %(e)s") % {"e": exc.reason or exc},
            reason="forbidden",
            detail=str(exc),
        )
    if isinstance(exc, asyncssh.SFTPError):
        return TransientError(
            _("The SFTP server failed: %(e)s") % {"e": exc.reason or exc}, reason="sftp", detail=str(exc)
        )
    if isinstance(exc, socket.gaierror):
        return TransientError(
            _("The host name %(host)s could not be found (DNS).") % {"host": host},
            reason="dns",
            detail=str(exc),
        )
    if isinstance(exc, ConnectionRefusedError):
        return TransientError(
            _(
                "Nothing answers at %(where)s (connection refused). Is the SFTP server running and the port right?"
            )
            % {"where": where},
            reason="refused",
            detail=str(exc),
        )
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return TransientError(_("No answer from %(where)s in time.") % {"where": where}, reason="timeout")
    return TransientError(
        _("The SFTP connection to %(where)s failed: %(e)s")
        % {"where": where, "e": exc or type(exc).__name__},
        reason="network",
        detail=str(exc),
    )


class _SftpStore:
    """A folder on an SFTP server."""

    def __init__(self, session: _SftpSession, folder: str, processed: str, timeout: float):
        self.session = session
        self.folder = folder
        self.processed = posixpath.join(folder, str(processed_parts(processed)))
        self.timeout = timeout

    def _path(self, name: str) -> str:
        return posixpath.join(self.folder, plain_name(name, _("file name")))

    def _missing(self) -> ConfigError:
        return ConfigError(
            _("The folder “%(folder)s” does not exist on the SFTP server.") % {"folder": self.folder},
            reason="not_found",
        )

    def check(self) -> None:
        async def op(sftp):
            if not await asyncio.wait_for(sftp.isdir(self.folder), self.timeout):
                raise self._missing()
            await asyncio.wait_for(sftp.listdir(self.folder), self.timeout)

        self.session.run(op)

    def list(self) -> list[_Listed]:
        asyncssh = _asyncssh()

        async def op(sftp):
            if not await asyncio.wait_for(sftp.isdir(self.folder), self.timeout):
                raise self._missing()
            found = []
            for entry in await asyncio.wait_for(sftp.readdir(self.folder), self.timeout):
                name = entry.filename
                if not isinstance(name, str) or name.startswith("."):
                    continue
                attrs = entry.attrs
                if attrs.type == asyncssh.FILEXFER_TYPE_SYMLINK:
                    try:
                        attrs = await asyncio.wait_for(
                            sftp.stat(posixpath.join(self.folder, name)), self.timeout
                        )
                    except asyncssh.SFTPError:
                        continue
                if attrs.type == asyncssh.FILEXFER_TYPE_REGULAR or (
                    attrs.permissions is not None and stat.S_ISREG(attrs.permissions)
                ):
                    found.append(_Listed(name, attrs.mtime))
            return found

        return self.session.run(op)

    @contextlib.contextmanager
    def open(self, name: str):
        asyncssh = _asyncssh()
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 (closed below)

        async def op(sftp):
            try:
                remote = await asyncio.wait_for(sftp.open(self._path(name), "rb"), self.timeout)
            except asyncssh.SFTPNoSuchFile as exc:
                raise TransientError(
                    _("%(file)s disappeared while it was being read.") % {"file": name}, reason="io"
                ) from exc
            async with remote:
                while True:
                    chunk = await asyncio.wait_for(remote.read(CHUNK_SIZE), self.timeout)
                    if not chunk:
                        return
                    spool.write(chunk)

        try:
            self.session.run(op)
            spool.seek(0)
            yield spool
        finally:
            spool.close()

    def publish(self, name: str, data: bytes) -> str:
        asyncssh = _asyncssh()
        tmp = posixpath.join(self.folder, f".{plain_name(name, _('file name'))}.tmp")

        async def op(sftp):
            if not await asyncio.wait_for(sftp.isdir(self.folder), self.timeout):
                raise self._missing()
            try:
                async with sftp.open(tmp, "wb") as remote:
                    for start in range(0, len(data), CHUNK_SIZE):
                        await asyncio.wait_for(remote.write(data[start : start + CHUNK_SIZE]), self.timeout)
                for candidate in _candidates(name):
                    target = posixpath.join(self.folder, candidate)
                    if await asyncio.wait_for(sftp.exists(target), self.timeout):
                        continue
                    try:
                        await asyncio.wait_for(sftp.rename(tmp, target), self.timeout)  # never overwrites
                    except asyncssh.SFTPError:
                        if await asyncio.wait_for(sftp.exists(target), self.timeout):
                            continue
                        raise
                    return candidate
            except BaseException:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sftp.remove(tmp), self.timeout)
                raise
            raise TransientError(_("No free file name for %(name)s.") % {"name": name}, reason="io")

        return self.session.run(op)

    def move_aside(self, names: list[str]) -> list[str]:
        if not names:
            return []
        asyncssh = _asyncssh()

        async def op(sftp):
            await asyncio.wait_for(sftp.makedirs(self.processed, exist_ok=True), self.timeout)
            moved = []
            for name in names:
                source = self._path(name)
                if not await asyncio.wait_for(sftp.exists(source), self.timeout):
                    continue  # moved by an earlier commit
                for candidate in _candidates(name):
                    target = posixpath.join(self.processed, candidate)
                    if await asyncio.wait_for(sftp.exists(target), self.timeout):
                        continue
                    try:
                        await asyncio.wait_for(sftp.rename(source, target), self.timeout)
                    except asyncssh.SFTPError:
                        if await asyncio.wait_for(sftp.exists(target), self.timeout):
                            continue
                        raise
                    moved.append(name)
                    break
            return moved

        return self.session.run(op)

    def close(self) -> None:
        self.session.close()


# --- the connector ---------------------------------------------------------------------------------------


@register_connector
class FilesConnector(Connector):
    key = "files"
    label = gettext_lazy("Files (CSV, JSON Lines, JSON)")
    description = gettext_lazy(
        "CSV, JSON Lines or JSON files dropped in a folder of the hub or on an SFTP server: read in name "
        "order and moved aside once processed; written as new files, atomically."
    )
    help_text = gettext_lazy(
        "For SFTP, ask the partner for the host, user name and password or key, and get the server's "
        "host key with “ssh-keyscan host” (check it with them). Local folders are relative to the "
        "hub's files root (HUB_FILES_ROOT)."
    )
    roles = tuple(SystemRole.values)
    capabilities = frozenset({Capability.READ, Capability.WRITE, Capability.DISCOVER})
    parameters = {
        "location": forms.ChoiceField(
            label=gettext_lazy("Where the files are"), choices=LOCATIONS, initial="local"
        ),
        "folder": forms.CharField(
            label=gettext_lazy("Folder"),
            help_text=gettext_lazy(
                "Local: a path relative to the hub's files root, e.g. “partners/acme/in”. "
                "SFTP: the remote folder, e.g. “/outbound”."
            ),
        ),
        "host": forms.CharField(label=gettext_lazy("SFTP host"), required=False),
        "port": forms.IntegerField(
            label=gettext_lazy("SFTP port"), required=False, initial=22, min_value=1, max_value=65535
        ),
        "username": forms.CharField(label=gettext_lazy("SFTP user name"), required=False),
        "host_key": forms.CharField(
            label=gettext_lazy("SFTP host key"),
            required=False,
            widget=forms.Textarea(attrs={"rows": 2, "class": "font-monospace"}),
            help_text=gettext_lazy(
                "The server's public host key line, e.g. “ssh-ed25519 AAAA…” (ssh-keyscan prints it). "
                "Required: an unknown key is never accepted."
            ),
        ),
        "processed_folder": forms.CharField(
            label=gettext_lazy("Processed folder"),
            required=False,
            initial="processed",
            help_text=gettext_lazy("Where read files are moved once processed, relative to the folder."),
        ),
        "encoding": forms.CharField(label=gettext_lazy("Text encoding"), required=False, initial="utf-8"),
        "delimiter": forms.CharField(
            label=gettext_lazy("CSV delimiter"),
            required=False,
            initial=",",
            strip=False,
            max_length=3,
            help_text=gettext_lazy("One character, e.g. “,” or “;”; “tab” for tab-separated files."),
        ),
        # Not a BooleanField: an API client that leaves it out must get the default (a header), not False.
        "header": forms.NullBooleanField(
            label=gettext_lazy("CSV files start with a header line"),
            required=False,
            initial=True,
            widget=forms.Select(choices=[("True", gettext_lazy("Yes")), ("False", gettext_lazy("No"))]),
        ),
        "entities": JSONListField(label=gettext_lazy("Entities"), help_text=ENTITIES_HELP),
    }
    sensitive_parameters = ("password", "private_key")

    # --- configuration ---------------------------------------------------------------------------

    @classmethod
    def clean_parameters(cls, params: dict, secrets: dict) -> dict:
        errors: dict[str, str] = {}
        location = params.get("location") or "local"
        if location not in dict(LOCATIONS):
            errors["location"] = _("Choose a local folder or an SFTP server.")
        folder = params.get("folder")
        if not isinstance(folder, str) or not folder.strip():
            errors["folder"] = _("Required.")
        elif location == "local":
            try:
                local_folder(folder)
            except ConfigError as exc:
                errors["folder"] = exc.message
        checks = {
            "processed_folder": lambda: processed_parts(params.get("processed_folder")),
            "encoding": lambda: _encoding(params.get("encoding")),
            "delimiter": lambda: _delimiter(params.get("delimiter")),
        }
        if location == "sftp":
            for name in ("host", "username", "host_key"):
                if not params.get(name):
                    errors[name] = _("Required for SFTP.")
            if params.get("host") and not host_allowed(str(params["host"])):
                errors["host"] = _("Connections to this host are not allowed (HUB_OUTBOUND_ALLOWED_HOSTS).")
            if not secrets.get("password") and not secrets.get("private_key"):
                errors["password"] = _("Give a password or a private key for SFTP.")
            if params.get("host_key"):
                checks["host_key"] = lambda: parse_host_keys(params["host_key"])
            if secrets.get("private_key"):
                checks["private_key"] = lambda: parse_private_key(secrets["private_key"])
        for name, check in checks.items():
            try:
                check()
            except ConfigError as exc:
                errors[name] = exc.message
        problem = validate_entities(params.get("entities"))
        if problem:
            errors["entities"] = problem
        return errors

    # --- plumbing --------------------------------------------------------------------------------

    def __init__(self, settings):
        super().__init__(settings)
        self._store: _LocalStore | _SftpStore | None = None
        self._finalizer = None

    @property
    def location(self) -> str:
        return self.params.get("location") or "local"

    @property
    def store(self) -> _LocalStore | _SftpStore:
        if self._store is None:
            if self.location == "sftp":
                host = str(self.params.get("host") or "")
                if not host:
                    raise ConfigError(_("Give the SFTP host."), reason="config")
                if not host_allowed(host):
                    raise ConfigError(
                        _("Connections to %(host)s are not allowed (HUB_OUTBOUND_ALLOWED_HOSTS).")
                        % {"host": host},
                        reason="config",
                    )
                if not self.params.get("username"):
                    raise ConfigError(_("Give the SFTP user name."), reason="config")
                private_key = self.secrets.get("private_key")
                session = _SftpSession(
                    host=host,
                    port=int(self.params.get("port") or 22),
                    username=self.params["username"],
                    password=self.secrets.get("password") or None,
                    client_key=parse_private_key(private_key) if private_key else None,
                    host_keys=parse_host_keys(self.params.get("host_key")),
                    timeout=self.settings.timeout,
                    retries=self.retries,
                )
                folder = str(self.params.get("folder") or "")
                if not folder:
                    raise ConfigError(_("Give the folder."), reason="config")
                self._store = _SftpStore(
                    session, folder, self.params.get("processed_folder"), self.settings.timeout
                )
                # A connector that is never closed still stops its loop thread when it is collected.
                self._finalizer = weakref.finalize(self, session.close)
            elif self.location == "local":
                self._store = _LocalStore(
                    str(self.params.get("folder") or ""), self.params.get("processed_folder")
                )
            else:
                raise ConfigError(_("Choose a local folder or an SFTP server."), reason="config")
        return self._store

    def close(self):
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None

    def _definition(self, key: str) -> dict:
        for d in self.params.get("entities") or []:
            if isinstance(d, dict) and d.get("key") == key:
                problem = validate_entities([d])
                if problem:
                    raise ConfigError(problem, reason="config")
                fmt = _format_of(d)
                return {
                    **d,
                    "format": fmt,
                    "id_field": d.get("id_field") or "id",
                    "records_path": d.get("records_path") or "",
                    "write_name": d.get("write_name") or f"{{entity}}-{{timestamp}}.{fmt}",
                    "page_size": int(d.get("page_size") or DEFAULT_PAGE_SIZE),
                    "min_age": float(d.get("min_age") or 0),
                }
        raise NotFound(_("This system has no entity “%(key)s”.") % {"key": key})

    def entities(self) -> list[Entity]:
        caps = {Capability.READ, Capability.WRITE, Capability.DISCOVER}
        return [
            entity_from_definition(d, caps)
            for d in self.params.get("entities") or []
            if isinstance(d, dict) and d.get("key")
        ]

    def ping(self) -> None:
        """Local: the folder exists and is readable and writable. SFTP: login works and the folder exists."""
        store = self.store
        if isinstance(store, _SftpStore):
            store.session.retries = self.retries  # check() answers at once
        store.check()

    # --- read ------------------------------------------------------------------------------------

    def _files(self, d: dict) -> list[str]:
        """The files of an entity, in name order, up to the first one still too young to be read."""
        pattern = d["pattern"]
        listed = sorted(
            (f for f in self.store.list() if fnmatch.fnmatchcase(f.name, pattern)), key=lambda f: f.name
        )
        if d["min_age"]:
            limit = time.time() - d["min_age"]
            for index, f in enumerate(listed):
                if f.mtime is not None and f.mtime > limit:
                    return [x.name for x in listed[:index]]  # later files wait too: name order holds
        return [f.name for f in listed]

    def _items(self, d: dict, stream, name: str) -> Iterator[tuple]:
        encoding = _encoding(self.params.get("encoding"))
        if d["format"] == "csv":
            return csv_items(
                stream,
                name,
                encoding=encoding,
                delimiter=_delimiter(self.params.get("delimiter")),
                header=self.params.get("header", True) is not False,
            )
        if d["format"] == "jsonl":
            return jsonl_items(stream, name, encoding=encoding)
        return json_items(stream, name, encoding=encoding, records_path=d["records_path"])

    def read(self, entity, cursor=None, *, since=None, limit=None) -> Iterator[Page]:
        """Pages of the entity's files in name order, one file (or ``page_size`` records) per page.

        ``since`` does not apply: files are consumed through the cursor and moved aside by ``commit``.
        A record that cannot be parsed goes to ``Page.errors`` (naming the file and line) and the read
        goes on; a file that cannot be read at all raises ``RecordError``.
        """
        d = self._definition(entity)
        state = parse_cursor(cursor)
        if limit is not None and limit <= 0:
            return
        names = [
            n
            for n in self._files(d)
            if state is None or n > state["file"] or (n == state["file"] and not state["done"])
        ]
        returned = 0
        for index, name in enumerate(names):
            start = state["offset"] if state is not None and name == state["file"] else 0
            budget = None if limit is None else limit - returned
            with self.store.open(name) as stream:
                for records, errors, position, done in _chunks(
                    self._items(d, stream, name), start, d["page_size"], budget
                ):
                    returned += len(records)
                    limited = limit is not None and returned >= limit
                    more = not limited and (not done or index < len(names) - 1)
                    page_cursor = json.dumps({"file": name, "offset": position, "done": done})
                    yield Page(records=records, cursor=page_cursor, has_more=more, errors=errors)
                    if limited:
                        return

    def commit(self, entity: str, cursor: str | None) -> list[str]:
        """Move the files read up to ``cursor`` into the processed folder, once the engine has committed
        the records of the pages up to and including the one that returned ``cursor``.

        Every file of the entity whose name sorts before the cursor's file moves, and the cursor's file
        too when it was read to its end (a partly read file stays until a later cursor finishes it).
        Moves are renames (atomic), never overwrite (a taken name gets ``-1``, ``-2``…), and are
        idempotent: committing the same cursor twice moves nothing more. Returns the names moved.
        """
        state = parse_cursor(cursor)
        if state is None:
            return []
        d = self._definition(entity)
        names = [n for n in self._files(d) if n < state["file"] or (n == state["file"] and state["done"])]
        return self.store.move_aside(names)

    def fetch(self, entity, ids):
        """Records by id, found by reading the entity's current files (a scan)."""
        d = self._definition(entity)
        return self.lookup(entity, d["id_field"], [str(i) for i in ids])

    def lookup(self, entity, field_name, values):
        """Records whose ``field_name`` is one of ``values``, found by reading the current files (a scan)."""
        wanted = {str(v) for v in values}
        found = []
        for page in self.read(entity):
            found.extend(r for r in page.records if str(get_path(r, field_name)) in wanted)
        return found

    # --- write -----------------------------------------------------------------------------------

    def write(self, entity, records, mode=WriteMode.UPSERT):
        """Write ``records`` as one new file named from the entity's ``write_name``; files are only ever
        created (every mode adds a new file). A record that cannot be written (not encodable in the
        configured encoding, not serializable) fails alone; the others are written. The target id of a
        written record is its ``id_field`` value, or ``<file>#<n>`` without one."""
        d = self._definition(entity)
        if not records:
            return []
        name = render_write_name(d["write_name"], entity)
        encoding = _encoding(self.params.get("encoding"))
        writer = _Writer(
            d,
            records,
            delimiter=_delimiter(self.params.get("delimiter")),
            header=self.params.get("header", True) is not False,
        )
        results: list[WriteResult | None] = [None] * len(records)
        try:
            writer.prefix.encode(encoding)
        except UnicodeEncodeError as exc:
            error = RecordError(
                _("A column name cannot be written in %(enc)s: %(e)s") % {"enc": encoding, "e": exc}
            )
            return [WriteResult.failed(error) for _record in records]
        texts: list[tuple[int, str]] = []
        for index, record in enumerate(records):
            try:
                text = writer.render(record)
                text.encode(encoding)
            except UnicodeEncodeError as exc:
                error = RecordError(_("Cannot be written in %(enc)s: %(e)s") % {"enc": encoding, "e": exc})
                results[index] = WriteResult.failed(error)
                continue
            except (TypeError, ValueError) as exc:
                error = RecordError(_("Cannot be written as %(fmt)s: %(e)s") % {"fmt": d["format"], "e": exc})
                results[index] = WriteResult.failed(error)
                continue
            texts.append((index, text))
        if texts:
            body = writer.prefix + writer.separator.join(text for _index, text in texts) + writer.suffix
            written = self.store.publish(name, body.encode(encoding))
            for line, (index, _text) in enumerate(texts, start=1):
                record_id = get_path(records[index], d["id_field"])
                results[index] = WriteResult(
                    ok=True,
                    target_id=str(record_id) if record_id not in (None, "") else f"{written}#{line}",
                    action="created",
                )
        return results


class _Writer:
    """How records of one entity are laid out in a written file: prefix, one text per record, suffix."""

    def __init__(self, d: dict, records: list[dict], *, delimiter: str, header: bool):
        self.format = d["format"]
        self.delimiter = delimiter
        self.prefix, self.suffix, self.separator = "", "", ""
        if self.format == "csv":
            columns: dict[str, None] = {}
            for record in records:
                columns.update(dict.fromkeys(str(k) for k in record))
            self.columns = list(columns)
            if header:
                self.prefix = _csv_line(self.columns, delimiter)
        elif self.format == "json":
            self.prefix, self.suffix, self.separator = "[\n", "\n]\n", ",\n"
            if d["records_path"]:
                opening, closing = "", ""
                for part in d["records_path"].split("."):
                    opening += "{" + json.dumps(part) + ": "
                    closing = "}" + closing
                self.prefix, self.suffix = opening + "[\n", "\n]" + closing + "\n"

    def render(self, record: dict) -> str:
        if self.format == "csv":
            values = {str(k): v for k, v in record.items()}
            return _csv_line([_csv_value(values.get(c)) for c in self.columns], self.delimiter)
        text = json.dumps(record, ensure_ascii=False, default=_json_default)
        return text + "\n" if self.format == "jsonl" else text


def _csv_line(values: list[str], delimiter: str) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def parse_cursor(cursor) -> dict | None:
    """``{"file": name, "offset": n, "done": bool}`` from a cursor string (None: from the start)."""
    if not cursor:
        return None
    try:
        state = json.loads(cursor)
        file, offset = state["file"], int(state.get("offset") or 0)
    except (TypeError, ValueError, KeyError):
        raise ConfigError(_("This cursor is not a cursor of the Files connector."), reason="config") from None
    if not isinstance(file, str) or offset < 0:
        raise ConfigError(_("This cursor is not a cursor of the Files connector."), reason="config")
    return {"file": file, "offset": offset, "done": bool(state.get("done"))}


def _chunks(items, start: int, size: int, budget: int | None):
    """(records, errors, position, done) chunks of a file's items after position ``start``: at most
    ``size`` items each, ``budget`` records in all; ``done`` tells whether the file ended there."""
    remaining = (item for item in items if item[0] > start)
    upcoming = next(remaining, None)
    records: list[dict] = []
    errors: list[RecordError] = []
    position = start
    taken = 0
    while upcoming is not None:
        position, item = upcoming
        if isinstance(item, RecordError):
            errors.append(item)
        else:
            records.append(item)
            taken += 1
        upcoming = next(remaining, None)
        spent = budget is not None and taken >= budget
        if upcoming is not None and (spent or len(records) + len(errors) >= size):
            yield records, errors, position, False
            if spent:
                return
            records, errors = [], []
    yield records, errors, position, True
