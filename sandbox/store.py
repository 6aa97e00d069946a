"""A tiny document store: one namespace of documents per entity, two backends.

Every document lives under ``(entity, id)``; ids of one entity are all ``int`` or all ``str``.
Each write stamps ``updated_at`` (ISO 8601 UTC with microseconds, ``2025-01-31T12:00:00.123456Z``),
strictly increasing within a store, so that ``(updated_at, id)`` is a total order and "changed
since" scans never miss a write.

- :class:`MemoryStore` keeps dicts plus two sorted indexes (by id, by ``(updated_at, id)``): the
  fast backend used for tests and benchmarks.
- :class:`SQLiteStore` keeps the same in one SQLite file (WAL), persistent across restarts.

Documents handed to :meth:`Store.put` belong to the store afterwards and documents returned by
:meth:`Store.get` or the scans must be treated as read-only (copy before changing).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

Id = int | str
Doc = dict[str, Any]

STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=UTC)


class Store:
    """The common interface and the stamp clock; subclasses hold the data."""

    def __init__(self) -> None:
        self._last_stamp = ""
        self._lock = threading.RLock()

    # -- clock -------------------------------------------------------------------------------
    def _next_stamp(self) -> str:
        now = format_stamp(datetime.now(UTC))
        if now <= self._last_stamp:
            now = format_stamp(parse_stamp(self._last_stamp) + timedelta(microseconds=1))
        self._last_stamp = now
        return now

    def _take_stamp(self, stamp: str | None) -> str:
        """A stamp for a write: the clock's, or an explicit one (seeding, in the past; the seeder
        keeps its stamps unique). Later clock stamps are after every stamp seen."""
        if stamp is None:
            return self._next_stamp()
        if stamp > self._last_stamp:
            self._last_stamp = stamp
        return stamp

    @property
    def last_stamp(self) -> str:
        return self._last_stamp

    # -- interface ---------------------------------------------------------------------------
    def put(self, entity: str, id: Id, doc: Doc, *, updated_at: str | None = None) -> Doc:
        """Store ``doc`` (its ``updated_at`` key is set) and return it."""
        raise NotImplementedError

    def put_many(
        self, entity: str, items: Iterable[tuple[Id, Doc]], *, stamps: Iterable[str] | None = None
    ) -> None:
        """Write several documents at once (one transaction on SQLite)."""
        raise NotImplementedError

    def get(self, entity: str, id: Id) -> Doc | None:
        raise NotImplementedError

    def get_many(self, entity: str, ids: Iterable[Id]) -> list[Doc | None]:
        return [self.get(entity, i) for i in ids]

    def delete(self, entity: str, id: Id) -> bool:
        raise NotImplementedError

    def count(self, entity: str, *, since: str | None = None) -> int:
        raise NotImplementedError

    def scan_by_id(
        self, entity: str, *, after: Id | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Doc]:
        """Documents ordered by id, those with id > ``after`` (all when None)."""
        raise NotImplementedError

    def scan_by_updated(
        self,
        entity: str,
        *,
        since: str | None = None,
        inclusive: bool = False,
        after: tuple[str, Id] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Doc]:
        """Documents ordered by (updated_at, id): updated after ``since`` (or at it when inclusive),
        and after the cursor ``after`` = (updated_at, id) when given."""
        raise NotImplementedError

    def iter_ids(self, entity: str) -> Iterator[Id]:
        raise NotImplementedError

    def iter_by_id(self, entity: str, *, after: Id | None = None) -> Iterator[Doc]:
        """Lazily, documents ordered by id after ``after``: for filtered scans that stop early."""
        raise NotImplementedError

    def iter_by_updated(
        self, entity: str, *, since: str | None = None, inclusive: bool = False
    ) -> Iterator[Doc]:
        raise NotImplementedError

    def max_id(self, entity: str) -> Id | None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def get_meta(self, key: str, default: Any = None) -> Any:
        raise NotImplementedError

    def set_meta(self, key: str, value: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _Entity:
    __slots__ = ("by_id", "by_updated", "docs")

    def __init__(self) -> None:
        self.docs: dict[Id, Doc] = {}
        self.by_id: list[Id] = []
        self.by_updated: list[tuple[str, Id]] = []


class MemoryStore(Store):
    """Plain-Python store: a dict per entity plus sorted id and (updated_at, id) indexes."""

    def __init__(self) -> None:
        super().__init__()
        self._entities: dict[str, _Entity] = {}
        self._meta: dict[str, Any] = {}

    def _entity(self, entity: str) -> _Entity:
        found = self._entities.get(entity)
        if found is None:
            found = self._entities[entity] = _Entity()
        return found

    def put(self, entity: str, id: Id, doc: Doc, *, updated_at: str | None = None) -> Doc:
        with self._lock:
            ent = self._entity(entity)
            stamp = self._take_stamp(updated_at)
            old = ent.docs.get(id)
            if old is None:
                insort(ent.by_id, id)
            else:
                key = (old["updated_at"], id)
                at = bisect_left(ent.by_updated, key)
                del ent.by_updated[at]
            doc["updated_at"] = stamp
            ent.docs[id] = doc
            # stamps only grow: the new key always goes last
            ent.by_updated.append((stamp, id))
            return doc

    def put_many(
        self, entity: str, items: Iterable[tuple[Id, Doc]], *, stamps: Iterable[str] | None = None
    ) -> None:
        items = list(items)
        stamp_list = list(stamps) if stamps is not None else None
        with self._lock:
            ent = self._entity(entity)
            if ent.docs:
                for n, (id, doc) in enumerate(items):
                    self.put(entity, id, doc, updated_at=stamp_list[n] if stamp_list else None)
                return
            # bulk load into an empty entity: sort once
            for n, (id, doc) in enumerate(items):
                stamp = self._take_stamp(stamp_list[n] if stamp_list else None)
                doc["updated_at"] = stamp
                ent.docs[id] = doc
            ent.by_id = sorted(ent.docs)
            ent.by_updated = sorted((d["updated_at"], i) for i, d in ent.docs.items())

    def get(self, entity: str, id: Id) -> Doc | None:
        ent = self._entities.get(entity)
        return ent.docs.get(id) if ent else None

    def delete(self, entity: str, id: Id) -> bool:
        with self._lock:
            ent = self._entities.get(entity)
            if ent is None or id not in ent.docs:
                return False
            old = ent.docs.pop(id)
            del ent.by_id[bisect_left(ent.by_id, id)]
            del ent.by_updated[bisect_left(ent.by_updated, (old["updated_at"], id))]
            return True

    def count(self, entity: str, *, since: str | None = None) -> int:
        ent = self._entities.get(entity)
        if ent is None:
            return 0
        if since is None:
            return len(ent.docs)
        return len(ent.by_updated) - bisect_right(ent.by_updated, (since, _MAX_KEY))

    def scan_by_id(
        self, entity: str, *, after: Id | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Doc]:
        ent = self._entities.get(entity)
        if ent is None:
            return []
        start = 0 if after is None else bisect_right(ent.by_id, after)
        start += offset
        stop = None if limit is None else start + limit
        docs = ent.docs
        return [docs[i] for i in ent.by_id[start:stop]]

    def scan_by_updated(
        self,
        entity: str,
        *,
        since: str | None = None,
        inclusive: bool = False,
        after: tuple[str, Id] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Doc]:
        ent = self._entities.get(entity)
        if ent is None:
            return []
        index = ent.by_updated
        start = 0
        if since is not None:
            start = (
                bisect_left(index, (since, _MIN_KEY)) if inclusive else bisect_right(index, (since, _MAX_KEY))
            )
        if after is not None:
            start = max(start, bisect_right(index, after))
        start += offset
        stop = None if limit is None else start + limit
        docs = ent.docs
        return [docs[i] for _, i in index[start:stop]]

    def iter_ids(self, entity: str) -> Iterator[Id]:
        ent = self._entities.get(entity)
        return iter(list(ent.by_id)) if ent else iter(())

    def iter_by_id(self, entity: str, *, after: Id | None = None) -> Iterator[Doc]:
        ent = self._entities.get(entity)
        if ent is None:
            return
        index, docs = ent.by_id, ent.docs
        at = 0 if after is None else bisect_right(index, after)
        while at < len(index):
            doc = docs.get(index[at])
            if doc is not None:
                yield doc
            at += 1

    def iter_by_updated(
        self, entity: str, *, since: str | None = None, inclusive: bool = False
    ) -> Iterator[Doc]:
        ent = self._entities.get(entity)
        if ent is None:
            return
        index, docs = ent.by_updated, ent.docs
        at = 0
        if since is not None:
            at = (
                bisect_left(index, (since, _MIN_KEY)) if inclusive else bisect_right(index, (since, _MAX_KEY))
            )
        while at < len(index):
            doc = docs.get(index[at][1])
            if doc is not None:
                yield doc
            at += 1

    def max_id(self, entity: str) -> Id | None:
        ent = self._entities.get(entity)
        return ent.by_id[-1] if ent and ent.by_id else None

    def clear(self) -> None:
        with self._lock:
            self._entities.clear()
            self._meta.clear()
            self._last_stamp = ""

    def get_meta(self, key: str, default: Any = None) -> Any:
        return self._meta.get(key, default)

    def set_meta(self, key: str, value: Any) -> None:
        self._meta[key] = value


class _Extreme:
    """Compares below (or above) every id, int or str, for bisecting (stamp, id) keys."""

    def __init__(self, sign: int) -> None:
        self.sign = sign

    def __lt__(self, other: object) -> bool:
        return self.sign < 0

    def __gt__(self, other: object) -> bool:
        return self.sign > 0

    def __eq__(self, other: object) -> bool:
        return other is self

    __hash__ = object.__hash__


_MIN_KEY: Any = _Extreme(-1)
_MAX_KEY: Any = _Extreme(+1)


class SQLiteStore(Store):
    """The same store in one SQLite file (WAL): documents survive restarts."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # "id" has no declared type: ints stay ints and strings stay strings (and sort as such)
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS docs (
                entity TEXT NOT NULL, id NOT NULL, updated_at TEXT NOT NULL, doc TEXT NOT NULL,
                PRIMARY KEY (entity, id)
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS docs_updated ON docs (entity, updated_at, id);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """
        )
        row = self._db.execute("SELECT max(updated_at) FROM docs").fetchone()
        self._last_stamp = row[0] or ""
        stamp = self.get_meta("last_stamp")
        if stamp and stamp > self._last_stamp:
            self._last_stamp = stamp

    def _write(self, entity: str, id: Id, doc: Doc, stamp: str) -> None:
        doc["updated_at"] = stamp
        self._db.execute(
            "INSERT OR REPLACE INTO docs (entity, id, updated_at, doc) VALUES (?, ?, ?, ?)",
            (entity, id, stamp, json.dumps(doc, separators=(",", ":"))),
        )

    def put(self, entity: str, id: Id, doc: Doc, *, updated_at: str | None = None) -> Doc:
        with self._lock:
            self._write(entity, id, doc, self._take_stamp(updated_at))
            return doc

    def put_many(
        self, entity: str, items: Iterable[tuple[Id, Doc]], *, stamps: Iterable[str] | None = None
    ) -> None:
        stamp_list = list(stamps) if stamps is not None else None
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for n, (id, doc) in enumerate(items):
                    self._write(entity, id, doc, self._take_stamp(stamp_list[n] if stamp_list else None))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get(self, entity: str, id: Id) -> Doc | None:
        with self._lock:
            row = self._db.execute(
                "SELECT doc FROM docs WHERE entity = ? AND id = ?", (entity, id)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def delete(self, entity: str, id: Id) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM docs WHERE entity = ? AND id = ?", (entity, id))
            return cur.rowcount > 0

    def count(self, entity: str, *, since: str | None = None) -> int:
        with self._lock:
            if since is None:
                row = self._db.execute("SELECT count(*) FROM docs WHERE entity = ?", (entity,)).fetchone()
            else:
                row = self._db.execute(
                    "SELECT count(*) FROM docs WHERE entity = ? AND updated_at > ?", (entity, since)
                ).fetchone()
        return row[0]

    def _rows_by_id(
        self, entity: str, after: Id | None, limit: int | None, offset: int
    ) -> list[tuple[Any, ...]]:
        sql, args = "SELECT id, doc FROM docs WHERE entity = ?", [entity]
        if after is not None:
            sql += " AND id > ?"
            args.append(after)
        sql += " ORDER BY id LIMIT ? OFFSET ?"
        with self._lock:
            return self._db.execute(sql, (*args, -1 if limit is None else limit, offset)).fetchall()

    def _rows_by_updated(
        self,
        entity: str,
        since: str | None,
        inclusive: bool,
        after: tuple[str, Id] | None,
        limit: int | None,
        offset: int,
    ) -> list[tuple[Any, ...]]:
        sql, args = "SELECT id, doc, updated_at FROM docs WHERE entity = ?", [entity]
        if since is not None:
            sql += " AND updated_at >= ?" if inclusive else " AND updated_at > ?"
            args.append(since)
        if after is not None:
            sql += " AND (updated_at > ? OR (updated_at = ? AND id > ?))"
            args += [after[0], after[0], after[1]]
        sql += " ORDER BY updated_at, id LIMIT ? OFFSET ?"
        with self._lock:
            return self._db.execute(sql, (*args, -1 if limit is None else limit, offset)).fetchall()

    def scan_by_id(
        self, entity: str, *, after: Id | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Doc]:
        return [json.loads(r[1]) for r in self._rows_by_id(entity, after, limit, offset)]

    def scan_by_updated(
        self,
        entity: str,
        *,
        since: str | None = None,
        inclusive: bool = False,
        after: tuple[str, Id] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Doc]:
        rows = self._rows_by_updated(entity, since, inclusive, after, limit, offset)
        return [json.loads(r[1]) for r in rows]

    def iter_ids(self, entity: str) -> Iterator[Id]:
        with self._lock:
            rows = self._db.execute("SELECT id FROM docs WHERE entity = ? ORDER BY id", (entity,)).fetchall()
        return iter([r[0] for r in rows])

    def iter_by_id(self, entity: str, *, after: Id | None = None) -> Iterator[Doc]:
        while True:
            rows = self._rows_by_id(entity, after, 500, 0)
            for row in rows:
                yield json.loads(row[1])
            if len(rows) < 500:
                return
            after = rows[-1][0]

    def iter_by_updated(
        self, entity: str, *, since: str | None = None, inclusive: bool = False
    ) -> Iterator[Doc]:
        cursor: tuple[str, Id] | None = None
        while True:
            rows = self._rows_by_updated(entity, since, inclusive, cursor, 500, 0)
            for row in rows:
                yield json.loads(row[1])
            if len(rows) < 500:
                return
            cursor = (rows[-1][2], rows[-1][0])

    def max_id(self, entity: str) -> Id | None:
        with self._lock:
            row = self._db.execute("SELECT max(id) FROM docs WHERE entity = ?", (entity,)).fetchone()
        return row[0]

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM docs")
            self._db.execute("DELETE FROM meta")
            self._last_stamp = ""

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_store(path: str | None) -> Store:
    """``None`` or ``":memory:"`` gives a :class:`MemoryStore`; anything else a SQLite file."""
    if path is None or path == ":memory:":
        return MemoryStore()
    return SQLiteStore(path)
