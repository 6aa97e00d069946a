"""The data health of one entity of a system: duplicates, missing fields, stale records.

Data accumulated over years is partly stale or duplicated; before a flow copies it elsewhere the admin
wants to see how much. ``analyse`` reads the entity's records ONCE, as a stream (a connector's pages,
flattened with ``records_from_pages``), and keeps in memory only:

- counters;
- at most ``examples`` examples per problem (ids, and the offending value);
- for duplicates, one entry per DISTINCT key: a 12-byte digest of the key and the id of the first
  record holding it (replaced by a marker once the key is known to be duplicated). This grows with the
  number of distinct keys — about 150 bytes each, ~15 MB for 100k — and nothing else does.

Values in examples are raw (a duplicated e-mail address is shown as it is): the caller masks personal
data before showing or exporting them.

Fields are reached with ``flows.engine.rules._get`` (the mapping engine's path syntax, with a temporary
fallback to the connectors' dotted paths), and "missing" means empty as the rules define it
(``None``, ``""``, whitespace-only text, ``[]``, ``{}``).
"""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from flows.engine.rules import _get, is_empty

# The key digest: 12 bytes make an accidental collision between two different keys negligible
# (~1e-14 for a million keys) while staying small.
_DIGEST_SIZE = 12
_DUPLICATED = object()  # replaces the first id in the key map once a key is seen twice

_MS_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")  # Microsoft JSON: /Date(1735812672000)/
_SLASHED = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(.*)$")  # 2025/01/02 10:11:12
_SPACES = re.compile(r"\s+")
# Epoch numbers outside these bounds are not timestamps (an id, a price…).
_EPOCH_MIN = datetime(1971, 1, 1, tzinfo=UTC).timestamp()
_EPOCH_MAX = datetime(2200, 1, 1, tzinfo=UTC).timestamp()


@dataclass
class Example:
    """One record showing a problem: its id and the value at fault (raw; ``None`` when missing)."""

    id: Any
    value: Any = None


@dataclass
class DuplicateGroup:
    """Records sharing one key: the key as compared (normalised when asked), the first ids (capped), the
    full count. The normalised key is what every record of the group holds, so it stands for all."""

    key: Any
    ids: list = field(default_factory=list)
    count: int = 0


@dataclass
class HealthReport:
    """What ``analyse`` found. ``as_dict()`` is JSON-safe; ``report_csv_rows`` gives the CSV."""

    id_path: str
    key_path: str | tuple[str, ...] | None = None
    required: tuple[str, ...] = ()
    updated_path: str | None = None
    stale_months: int = 12
    now: datetime | None = None
    examples: int = 10

    scanned: int = 0
    without_id: int = 0

    # Duplicates on key_path.
    distinct_keys: int = 0
    duplicate_groups: int = 0  # keys held by two records or more
    duplicate_records: int = 0  # records whose key another record also holds (first ones included)
    key_missing: int = 0  # records with no key: not compared
    duplicate_examples: list[DuplicateGroup] = field(default_factory=list)

    # Missing required fields.
    incomplete_records: int = 0  # records missing at least one required field
    missing_by_field: dict[str, int] = field(default_factory=dict)
    missing_examples: dict[str, list[Example]] = field(default_factory=dict)

    # Not updated for stale_months.
    stale_before: datetime | None = None
    stale: int = 0
    stale_examples: list[Example] = field(default_factory=list)
    undated: int = 0  # no update date, or one that could not be read
    undated_examples: list[Example] = field(default_factory=list)
    oldest_update: datetime | None = None
    newest_update: datetime | None = None

    @property
    def duplicate_extra(self) -> int:
        """Records that would go if each group kept one."""
        return self.duplicate_records - self.duplicate_groups

    def as_dict(self) -> dict:
        return {
            "id_path": self.id_path,
            "key_path": list(self.key_path) if isinstance(self.key_path, tuple) else self.key_path,
            "required": list(self.required),
            "updated_path": self.updated_path,
            "stale_months": self.stale_months,
            "now": _json_safe(self.now),
            "scanned": self.scanned,
            "without_id": self.without_id,
            "duplicates": {
                "distinct_keys": self.distinct_keys,
                "groups": self.duplicate_groups,
                "records": self.duplicate_records,
                "extra": self.duplicate_extra,
                "key_missing": self.key_missing,
                "examples": [
                    {"key": _json_safe(g.key), "ids": _json_safe(g.ids), "count": g.count}
                    for g in self.duplicate_examples
                ],
            },
            "missing": {
                "records": self.incomplete_records,
                "by_field": dict(self.missing_by_field),
                "examples": {
                    path: [_json_safe(e.id) for e in examples]
                    for path, examples in self.missing_examples.items()
                },
            },
            "stale": {
                "before": _json_safe(self.stale_before),
                "records": self.stale,
                "examples": [_example_dict(e) for e in self.stale_examples],
                "undated": self.undated,
                "undated_examples": [_example_dict(e) for e in self.undated_examples],
                "oldest_update": _json_safe(self.oldest_update),
                "newest_update": _json_safe(self.newest_update),
            },
        }


def _example_dict(example: Example) -> dict:
    return {"id": _json_safe(example.id), "value": _json_safe(example.value)}


def _json_safe(value):
    """``value`` with datetimes, decimals and other non-JSON values turned into text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    return str(value)


# -- dates ----------------------------------------------------------------------------------------


def parse_datetime(value) -> datetime | None:
    """An aware datetime (UTC when the value has no offset) from what vendors send, else ``None``.

    Reads ISO 8601 (``2025-01-02T10:11:12Z``, ``+0100``, fractions), the space-separated form
    (``2025-01-02 10:11:12``, Magento, Odoo), dates alone, ``2025/01/02 10:11:12``, epoch seconds or
    milliseconds (numbers or digit strings, HubSpot), ``/Date(ms)/`` and RFC 2822 (HTTP headers, mail).
    Day-first or month-first dates (``02/01/2025``) are ambiguous and are not guessed.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return _from_epoch(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    if text.isdigit():
        return _from_epoch(float(text)) if len(text) in (10, 13) else None
    if match := _MS_DATE.match(text):
        return _from_epoch(int(match.group(1)) / 1000)
    if match := _SLASHED.match(text):
        year, month, day, rest = match.groups()
        text = f"{year}-{int(month):02d}-{int(day):02d}{rest}"
    iso = text
    for suffix in (" UTC", " GMT", " Z"):
        if iso.upper().endswith(suffix):
            iso = iso[: -len(suffix)] + "+00:00"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        moment = None
    if moment is None and "," in text:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _from_epoch(seconds: float) -> datetime | None:
    if not math.isfinite(seconds):
        return None
    if abs(seconds) > _EPOCH_MAX * 10:  # milliseconds
        seconds /= 1000
    if not _EPOCH_MIN <= seconds <= _EPOCH_MAX:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def months_before(moment: datetime, months: int) -> datetime:
    """``moment`` minus calendar months, the day clamped to the month's length (31 March - 1 = 28/29 Feb)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


# -- keys -----------------------------------------------------------------------------------------


def _normalised(value, normalise: bool):
    """The key as compared: with ``normalise``, text trimmed, inner spaces collapsed, case-folded, and
    numbers as their text (42 and "42" are one key)."""
    if not normalise:
        return value
    if isinstance(value, str):
        return _SPACES.sub(" ", unicodedata.normalize("NFC", value).strip()).casefold()
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


def _key_part(value) -> str:
    if isinstance(value, str):
        return "s:" + value
    return "j:" + json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _key_digest(values: tuple) -> bytes:
    canonical = "\x1f".join(_key_part(value) for value in values)
    return hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=_DIGEST_SIZE).digest()


# -- the scan -------------------------------------------------------------------------------------


def records_from_pages(pages) -> Iterator[dict]:
    """The records of a connector's ``read()`` pages, one by one (pages are not kept)."""
    for page in pages:
        yield from page.records


def analyse(
    records: Iterable[dict],
    *,
    id_path: str,
    key_path: str | Sequence[str] | None = None,
    required: Sequence[str] = (),
    updated_path: str | None = None,
    stale_months: int = 12,
    now: datetime | None = None,
    examples: int = 10,
    normalise_key: bool = True,
) -> HealthReport:
    """Reads ``records`` once and reports duplicates, missing required fields and stale records.

    - ``key_path``: records sharing this value are duplicates (several paths: all must match); with
      ``normalise_key`` text is compared trimmed, case-insensitively, inner spaces collapsed, and a
      number equals its text. Records without a key are counted in ``key_missing``, never duplicates.
    - ``required``: paths each record should fill.
    - ``updated_path``: records last updated more than ``stale_months`` calendar months before ``now``
      (default: the current time) are stale; those without a readable date are ``undated``.
    - ``examples``: the most examples kept per problem (ids per duplicate group included).
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    key_paths = (key_path,) if isinstance(key_path, str) else tuple(key_path or ())
    report = HealthReport(
        id_path=id_path,
        key_path=key_path if isinstance(key_path, str) or key_path is None else key_paths,
        required=tuple(required),
        updated_path=updated_path,
        stale_months=stale_months,
        now=now,
        examples=examples,
        stale_before=months_before(now, stale_months) if updated_path else None,
        missing_by_field=dict.fromkeys(required, 0),
        missing_examples={path: [] for path in required},
    )
    cap = max(examples, 0)
    first_ids: dict[bytes, Any] = {}
    groups: dict[bytes, DuplicateGroup] = {}
    cutoff = report.stale_before

    for record in records:
        report.scanned += 1
        record_id = _get(record, id_path)
        if is_empty(record_id):
            report.without_id += 1
            record_id = None

        if key_paths:
            values = tuple(_get(record, path) for path in key_paths)
            if any(is_empty(value) for value in values):
                report.key_missing += 1
            else:
                values = tuple(_normalised(value, normalise_key) for value in values)
                digest = _key_digest(values)
                first = first_ids.get(digest)
                if first is None and digest not in first_ids:
                    first_ids[digest] = record_id
                elif first is _DUPLICATED:
                    report.duplicate_records += 1
                    if (group := groups.get(digest)) is not None:
                        group.count += 1
                        if len(group.ids) < max(cap, 2):
                            group.ids.append(record_id)
                else:
                    first_ids[digest] = _DUPLICATED  # the first id lives on in the example, if any
                    report.duplicate_groups += 1
                    report.duplicate_records += 2
                    if len(groups) < cap:
                        key = values[0] if len(values) == 1 else list(values)
                        groups[digest] = DuplicateGroup(key=key, ids=[first, record_id], count=2)

        incomplete = False
        for path in report.required:
            if is_empty(_get(record, path)):
                incomplete = True
                report.missing_by_field[path] += 1
                found = report.missing_examples[path]
                if len(found) < cap:
                    found.append(Example(record_id))
        report.incomplete_records += incomplete

        if updated_path:
            raw = _get(record, updated_path)
            moment = parse_datetime(raw)
            if moment is None:
                report.undated += 1
                if len(report.undated_examples) < cap:
                    report.undated_examples.append(Example(record_id, raw))
            else:
                if report.oldest_update is None or moment < report.oldest_update:
                    report.oldest_update = moment
                if report.newest_update is None or moment > report.newest_update:
                    report.newest_update = moment
                if moment < cutoff:
                    report.stale += 1
                    if len(report.stale_examples) < cap:
                        report.stale_examples.append(Example(record_id, raw))

    report.distinct_keys = len(first_ids)
    report.duplicate_examples = list(groups.values())
    return report


# -- CSV ------------------------------------------------------------------------------------------


def report_csv_rows(report: HealthReport) -> Iterator[list[str]]:
    """The CSV download: a header, then one row per problem record the report kept.

    Columns: problem (``duplicate``, ``missing``, ``stale``, ``undated``), id, field, value, detail.
    Only the examples are listed (``examples`` per problem): for a full list, analyse again with a
    larger ``examples``. Cells that a spreadsheet would run as a formula are prefixed with ``'``.
    Values are raw: mask personal data in the rows before sending them.
    """
    yield [_("problem"), _("id"), _("field"), _("value"), _("detail")]
    key_label = ", ".join(report.key_path) if isinstance(report.key_path, tuple) else report.key_path or ""
    for group in report.duplicate_examples:
        detail = _("%(count)s records share this value") % {"count": group.count}
        for record_id in group.ids:
            yield _row("duplicate", record_id, key_label, group.key, detail)
    for path, examples in report.missing_examples.items():
        for example in examples:
            yield _row("missing", example.id, path, None, _("no value"))
    for example in report.stale_examples:
        moment = parse_datetime(example.value)
        detail = _("not updated since %(date)s") % {"date": moment.date().isoformat() if moment else "?"}
        yield _row("stale", example.id, report.updated_path or "", example.value, detail)
    for example in report.undated_examples:
        detail = _("no update date") if is_empty(example.value) else _("update date not readable")
        yield _row("undated", example.id, report.updated_path or "", example.value, detail)


def _row(problem: str, record_id, path: str, value, detail: str) -> list[str]:
    return [problem, _cell(record_id), _cell(path), _cell(value), _cell(detail)]


def _cell(value) -> str:
    """Text for a CSV cell; formula-looking text (``=``, ``+``, ``-``, ``@``) is defused unless numeric."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value
    elif isinstance(value, int | float | Decimal | date):
        return value.isoformat() if isinstance(value, date) else str(value)
    else:
        text = json.dumps(_json_safe(value), ensure_ascii=False)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text
