"""The SQL connector: a PostgreSQL database read and written directly (psycopg 3).

Each entity is a table, or a query for reads. Reads page by keyset on (cursor column, id) so rows
written during a read are neither skipped nor read twice, inside read-only transactions; the
incremental bound filters on the cursor column. Writes are batched upserts
(``INSERT … ON CONFLICT (key) DO UPDATE``) with a savepoint per row when a batch is refused, so one
bad row fails alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from datetime import time as dt_time
from decimal import Decimal

import psycopg
from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from flows.choices import SystemRole
from flows.connectors.base import Capability, Connector, Entity, Page, WriteMode, WriteResult
from flows.connectors.definitions import entity_from_definition, entity_list_problem
from flows.connectors.errors import AuthError, ConfigError, RecordError, TransientError
from flows.connectors.registry import register_connector
from flows.coordination import Budget
from integration_hub.outbound import host_allowed

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

ENTITIES_HELP = gettext_lazy(
    'A JSON list, e.g. [{"key": "products", "table": "public.products", "id_field": "id", '
    '"cursor_field": "updated_at", "natural_keys": ["sku"], "conflict": ["sku"]}] — or "query" '
    'instead of "table" for a read-only entity.'
)


def _identifier(name: str) -> sql.Composable:
    """A (schema-qualified) identifier, each part checked: names come from configuration."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(_NAME.match(p) for p in parts):
        raise ConfigError(
            _("“%(name)s” is not a valid table or column name.") % {"name": name}, reason="config"
        )
    return sql.Identifier(*parts)


def _json_safe(row: dict) -> dict:
    return {key: _json_value(value) for key, value in row.items()}


def _json_value(value):
    if value is None or isinstance(value, bool | int | float | str | dict | list):
        return value
    if isinstance(value, datetime | date | dt_time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value % 1 else int(value)
    if isinstance(value, memoryview | bytes):
        return bytes(value).hex()
    return str(value)  # uuid, inet, interval, ranges…


@register_connector
class PostgresConnector(Connector):
    key = "postgresql"
    label = gettext_lazy("PostgreSQL database")
    description = gettext_lazy("Tables of a PostgreSQL database, read and written directly.")
    help_text = gettext_lazy("Ask the database administrator for a user limited to the tables the hub needs.")
    roles = tuple(SystemRole.values)
    capabilities = frozenset({Capability.READ, Capability.WRITE, Capability.DELETE, Capability.DISCOVER})
    parameters = {
        "host": forms.CharField(label=gettext_lazy("Host"), initial="127.0.0.1"),
        "port": forms.IntegerField(label=gettext_lazy("Port"), initial=5432, min_value=1, max_value=65535),
        "database": forms.CharField(label=gettext_lazy("Database")),
        "user": forms.CharField(label=gettext_lazy("User")),
        "sslmode": forms.ChoiceField(
            label=gettext_lazy("TLS"),
            choices=[
                ("prefer", "prefer"),
                ("require", "require"),
                ("verify-full", "verify-full"),
                ("disable", "disable"),
            ],
            initial="prefer",
        ),
        "page_size": forms.IntegerField(
            label=gettext_lazy("Rows per page"), initial=1000, min_value=1, max_value=50000
        ),
        "entities": forms.JSONField(
            label=gettext_lazy("Entities"),
            help_text=ENTITIES_HELP,
            widget=forms.Textarea(attrs={"rows": 6, "class": "font-monospace"}),
        ),
    }
    sensitive_parameters = ("password",)

    @classmethod
    def clean_parameters(cls, params, secrets):
        problem = validate_entities(params.get("entities"))
        return {"entities": problem} if problem else {}

    def __init__(self, settings):
        super().__init__(settings)
        self._conn: psycopg.Connection | None = None
        self.budget = Budget(
            settings.system_id or 0, settings.rate_limit, settings.max_concurrency, settings.timeout
        )

    # --- connection ------------------------------------------------------------------------------

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            host = self.params.get("host", "")
            if not host_allowed(host):
                raise ConfigError(
                    _("Connections to %(host)s are not allowed (HUB_OUTBOUND_ALLOWED_HOSTS).")
                    % {"host": host},
                    reason="config",
                )
            try:
                self._conn = psycopg.connect(
                    host=host,
                    port=self.params.get("port", 5432),
                    dbname=self.params.get("database", ""),
                    user=self.params.get("user", ""),
                    password=self.secrets.get("password", ""),
                    sslmode=self.params.get("sslmode", "prefer"),
                    connect_timeout=max(1, int(self.settings.timeout)),
                    autocommit=True,  # transactions are explicit (conn.transaction())
                    application_name="integration-hub",
                    row_factory=dict_row,
                )
            except psycopg.OperationalError as exc:
                raise _connect_error(exc) from exc
        return self._conn

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def _transaction(self, read_only: bool):
        with self.budget.slot():
            conn = self.conn
            try:
                with conn.transaction():
                    if read_only:
                        conn.execute("SET TRANSACTION READ ONLY")
                    conn.execute(
                        sql.SQL("SET LOCAL statement_timeout = {}").format(
                            sql.Literal(int(self.settings.timeout * 1000))
                        )
                    )
                    yield conn
            except psycopg.errors.InsufficientPrivilege as exc:
                raise AuthError(
                    _("The database user may not do this: %(e)s") % {"e": exc.diag.message_primary},
                    reason="forbidden",
                ) from exc
            except (
                psycopg.errors.UndefinedTable,
                psycopg.errors.UndefinedColumn,
                psycopg.errors.SyntaxError,
            ) as exc:
                raise ConfigError(
                    _("The database refused the statement: %(e)s") % {"e": exc.diag.message_primary},
                    reason="config",
                ) from exc
            except psycopg.errors.ReadOnlySqlTransaction as exc:
                raise ConfigError(
                    _("Reads run read-only: this query tries to change data."), reason="config"
                ) from exc
            except psycopg.errors.QueryCanceled as exc:
                raise TransientError(
                    _("The statement took longer than the timeout."), reason="timeout"
                ) from exc
            except psycopg.OperationalError as exc:
                self.close()
                raise _connect_error(exc) from exc
            except (psycopg.ProgrammingError, psycopg.errors.FeatureNotSupported) as exc:
                raise ConfigError(
                    _("The database refused the statement: %(e)s") % {"e": exc.diag.message_primary or exc},
                    reason="config",
                ) from exc

    # --- contract --------------------------------------------------------------------------------

    def _definition(self, key: str) -> dict:
        for d in self.params.get("entities") or []:
            if d.get("key") == key:
                return d
        raise ConfigError(_("This system has no entity “%(key)s”.") % {"key": key}, reason="config")

    def entities(self) -> list[Entity]:
        found = []
        for d in self.params.get("entities") or []:
            caps = {Capability.READ}
            if d.get("table"):
                caps |= {Capability.WRITE, Capability.DELETE}
            found.append(entity_from_definition(d, caps))
        return found

    def ping(self) -> None:
        with self._transaction(read_only=True) as conn:
            conn.execute("SELECT 1")

    def _source(self, d: dict) -> sql.Composable:
        if d.get("table"):
            return _identifier(d["table"])
        # A % in the query text is literal, not a placeholder.
        return sql.SQL("({}) AS q").format(sql.SQL(d["query"].replace("%", "%%")))

    def _in_values(self, d: dict, column: str, values) -> tuple[sql.Composable, list]:
        """``column = ANY(%s)`` typed like the column (so its index is used), text for a query entity."""
        col = _identifier(column)
        if d.get("table"):
            col_type = self._column_types(d["table"]).get(column)
            if col_type:
                return sql.SQL("{} = ANY(%s::{}[])").format(col, sql.SQL(col_type)), [
                    [str(v) for v in values]
                ]
        return sql.SQL("{}::text = ANY(%s)").format(col), [[str(v) for v in values]]

    def _column_types(self, table: str) -> dict[str, str]:
        cache = self.__dict__.setdefault("_types", {})
        if table not in cache:
            with self._transaction(read_only=True) as conn:
                rows = conn.execute(
                    "SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute "
                    "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                    [table],
                ).fetchall()
            cache[table] = {r["attname"]: r["type"] for r in rows}
        return cache[table]

    def read(self, entity, cursor=None, *, since=None, limit=None) -> Iterator[Page]:
        d = self._definition(entity)
        id_col = _identifier(d.get("id_field", "id"))
        cursor_col = _identifier(d["cursor_field"]) if d.get("cursor_field") else None
        order = [cursor_col, id_col] if cursor_col is not None else [id_col]
        size = min(
            int(limit or self.params.get("page_size") or 1000), int(self.params.get("page_size") or 1000)
        )
        state = json.loads(cursor) if cursor else {}
        # A full read first takes the rows whose cursor column is empty (by id), then the others by
        # (cursor, id); an incremental read (``since``) only the latter, from the bound inclusive (rows
        # stamped with the same instant are read again rather than missed).
        if "phase" not in state:
            state["phase"] = "null" if cursor_col is not None and not since else "main"
        returned = 0
        while True:
            where, args = [], []
            if state["phase"] == "null":
                where.append(sql.SQL("{} IS NULL").format(cursor_col))
                page_order = [id_col]
                if "id" in state:
                    where.append(sql.SQL("{} > %s").format(id_col))
                    args.append(state["id"])
            else:
                page_order = order
                if since and cursor_col is not None:
                    where.append(sql.SQL("{} >= %s").format(cursor_col))
                    args.append(since)
                if "c" in state:
                    where.append(sql.SQL("({}, {}) > (%s, %s)").format(cursor_col, id_col))
                    args += [state["c"], state["id"]]
                elif "id" in state:
                    where.append(sql.SQL("{} > %s").format(id_col))
                    args.append(state["id"])
            query = sql.SQL("SELECT * FROM {src}{where} ORDER BY {order} LIMIT %s").format(
                src=self._source(d),
                where=sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""),
                order=sql.SQL(", ").join(page_order),
            )
            with self._transaction(read_only=True) as conn:
                rows = conn.execute(query, [*args, size]).fetchall()
            records = [_json_safe(r) for r in rows]
            if rows:
                last = rows[-1]
                state = {"phase": state["phase"], "id": _json_value(last[d.get("id_field", "id")])}
                if state["phase"] == "main" and cursor_col is not None:
                    state["c"] = _json_value(last[d["cursor_field"]])
            if limit is not None:
                records = records[: limit - returned]
            returned += len(records)
            phase_over = len(rows) < size
            if phase_over and state["phase"] == "null":
                state = {"phase": "main"}  # the rows without a cursor value are done: now the others
                has_more = limit is None or returned < limit
                if not records and has_more:
                    continue  # nothing to hand over from that phase
            else:
                has_more = not phase_over and (limit is None or returned < limit)
            yield Page(records=records, cursor=json.dumps(state), has_more=has_more)
            if not has_more:
                return

    def fetch(self, entity, ids):
        return self.lookup(entity, self._definition(entity).get("id_field", "id"), ids)

    def lookup(self, entity, field_name, values):
        d = self._definition(entity)
        condition, args = self._in_values(d, field_name, values)
        query = sql.SQL("SELECT * FROM {src} WHERE {cond}").format(src=self._source(d), cond=condition)
        with self._transaction(read_only=True) as conn:
            return [_json_safe(r) for r in conn.execute(query, args).fetchall()]

    def write(self, entity, records, mode=WriteMode.UPSERT):
        d = self._definition(entity)
        if not d.get("table"):
            raise ConfigError(
                _("The entity %(entity)s is a query: it cannot be written.") % {"entity": entity},
                reason="config",
            )
        table, id_field = _identifier(d["table"]), d.get("id_field", "id")
        conflict = d.get("conflict") or d.get("natural_keys") or [id_field]
        results: list[WriteResult | None] = [None] * len(records)
        with self._transaction(read_only=False) as conn:
            for index, record in enumerate(records):
                if not isinstance(record, dict) or not record:
                    results[index] = WriteResult.failed(RecordError(_("An empty record cannot be written.")))
                    continue
                try:
                    statement = _upsert(table, record, conflict, mode, id_field)
                except ConfigError as exc:
                    results[index] = WriteResult.failed(RecordError(exc.message))
                    continue
                try:
                    with conn.transaction():  # a savepoint: one bad row fails alone
                        row = conn.execute(statement, [_adapt(v) for v in record.values()]).fetchone()
                except psycopg.OperationalError:
                    raise  # the connection itself failed: the whole batch is in doubt
                except psycopg.Error as exc:  # bad value, constraint, unknown column…: this row only
                    results[index] = WriteResult.failed(
                        RecordError(exc.diag.message_primary or str(exc), detail=str(exc)[:300])
                    )
                    continue
                if row is None:
                    message = (
                        _("No row with this key exists (update only).")
                        if mode == WriteMode.UPDATE
                        else _("A row with this key exists already (create only).")
                    )
                    results[index] = WriteResult.failed(RecordError(message))
                    continue
                action = "created" if row.pop("_inserted", True) else "updated"
                results[index] = WriteResult(ok=True, target_id=str(row.get(id_field)), action=action)
        return results

    def delete(self, entity, ids):
        d = self._definition(entity)
        if not d.get("table"):
            raise ConfigError(
                _("The entity %(entity)s is a query: nothing can be deleted.") % {"entity": entity},
                reason="config",
            )
        results = []
        with self._transaction(read_only=False) as conn:
            for record_id in ids:
                condition, args = self._in_values(d, d.get("id_field", "id"), [record_id])
                query = sql.SQL("DELETE FROM {t} WHERE {cond}").format(
                    t=_identifier(d["table"]), cond=condition
                )
                try:
                    with conn.transaction():  # a savepoint: a row still referenced fails alone
                        conn.execute(query, args)
                except psycopg.errors.IntegrityError as exc:
                    results.append(WriteResult.failed(RecordError(exc.diag.message_primary or str(exc))))
                    continue
                results.append(WriteResult(ok=True, target_id=str(record_id), action="deleted"))
        return results


def _adapt(value):
    return Jsonb(value) if isinstance(value, dict | list) else value


def _upsert(table, record: dict, conflict: list[str], mode: WriteMode, id_field: str) -> sql.Composed:
    columns = [_identifier(c) for c in record]
    placeholders = sql.SQL(", ").join(sql.Placeholder() * len(columns))
    # xmax = 0 only on a row this statement inserted: tells created from updated in one round trip.
    returning = sql.SQL(" RETURNING *, (xmax = 0) AS _inserted")
    if mode == WriteMode.UPDATE:
        keys = [k for k in conflict if k in record]
        if not keys:
            raise ConfigError(
                _("The record has none of the key columns %(keys)s.") % {"keys": ", ".join(conflict)}
            )
        sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(_identifier(c)) for c in record)
        where = sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(_identifier(k), sql.Literal(record[k])) for k in keys
        )
        return sql.SQL("UPDATE {t} SET {sets} WHERE {where} RETURNING *, false AS _inserted").format(
            t=table, sets=sets, where=where
        )
    insert = sql.SQL("INSERT INTO {t} ({cols}) VALUES ({vals})").format(
        t=table, cols=sql.SQL(", ").join(columns), vals=placeholders
    )
    if mode == WriteMode.CREATE:
        return insert + sql.SQL(" ON CONFLICT DO NOTHING") + returning
    targets = sql.SQL(", ").join(_identifier(c) for c in conflict)
    updates = [c for c in record if c not in conflict]
    if not updates:
        return (
            insert
            + sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {} = EXCLUDED.{}").format(
                targets, _identifier(conflict[0]), _identifier(conflict[0])
            )
            + returning
        )
    sets = sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=_identifier(c)) for c in updates)
    return insert + sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(targets, sets) + returning


def _connect_error(exc: psycopg.OperationalError) -> Exception:
    text = str(exc)
    lowered = text.lower()
    if (
        "password authentication failed" in lowered
        or "no password supplied" in lowered
        or ("role" in lowered and "does not exist" in lowered)
    ):
        return AuthError(
            _("The database refused the user name or password."), reason="auth", detail=text[:300]
        )
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return TransientError(
            _("The host name could not be found (DNS). Check the host."), reason="dns", detail=text[:300]
        )
    if "connection refused" in lowered:
        return TransientError(
            _("Nothing answers at this address and port (connection refused)."),
            reason="refused",
            detail=text[:300],
        )
    if "database" in lowered and "does not exist" in lowered:
        return ConfigError(_("This database does not exist."), reason="config", detail=text[:300])
    if "timeout" in lowered:
        return TransientError(_("The database did not answer in time."), reason="timeout", detail=text[:300])
    return TransientError(
        _("The database connection failed: %(e)s") % {"e": text[:200]}, reason="network", detail=text[:300]
    )


def validate_entities(value) -> str:
    return entity_list_problem(value, _check_entity)


def _check_entity(where: str, d: dict) -> str:
    if bool(d.get("table")) == bool(d.get("query")):
        return _("%(where)s needs either a “table” or a “query”.") % {"where": where}
    if d.get("query") and not str(d["query"]).lstrip().lower().startswith(("select", "with")):
        return _("%(where)s: the query must be a SELECT.") % {"where": where}
    names = [d.get("table") or "", d.get("id_field", "id"), d.get("cursor_field") or ""]
    names += [*d.get("conflict", []), *d.get("natural_keys", [])]
    for name in names:
        if name and not all(_NAME.match(p) for p in str(name).split(".")):
            return _("%(where)s: “%(name)s” is not a valid table or column name.") % {
                "where": where,
                "name": name,
            }
    return ""
