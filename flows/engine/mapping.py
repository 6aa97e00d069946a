"""A flow definition compiled once and applied to many records: filters, field mappings with their
transform chains, and data-quality rules. Pure: value maps come embedded in the definition, and the ID
link lookup is a callable the caller provides (the sync engine's link store; the preview's own)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from flows.connectors.errors import RecordError
from flows.engine.paths import Path, parse_path
from flows.engine.rules import Rule, RuleChecker, RuleFailure
from flows.engine.transforms import TransformContext, apply_chain, clean_chain

_MISSING = object()


@dataclass
class FieldError:
    """A mapping that failed for one record: which target field, and why."""

    target: str
    message: str


@dataclass
class Mapped:
    """One source record after the flow: the target record, or the reasons it cannot be sent."""

    source: dict
    record: dict = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)
    rule_failures: list[RuleFailure] = field(default_factory=list)
    filtered_out: str = ""  # why a filter left the record out (it is then neither sent nor an error)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.rule_failures and not self.filtered_out


@dataclass
class _Mapping:
    target: Path
    target_text: str
    source: Path | None
    chain: list[dict]
    personal: str
    # The hot loop's shortcuts: the key when the source (or target) path is one plain key.
    source_key: str | None = None
    target_key: str | None = None

    def __post_init__(self):
        self.source_key = _single_key(self.source)
        self.target_key = _single_key(self.target)


def _single_key(path: Path | None) -> str | None:
    keys = path.keys if path is not None else None
    return keys[0] if keys is not None and len(keys) == 1 else None


def _empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def _datetime(value):
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _compare(op: str, actual, expected) -> bool:
    """Numbers compare as numbers, dates as dates, the rest as text."""
    for convert in (_number, _datetime):
        a, b = convert(actual), convert(expected)
        if a is not None and b is not None:
            return a < b if op == "lt" else a > b
    return (str(actual) < str(expected)) if op == "lt" else (str(actual) > str(expected))


class CompiledFlow:
    """Compile a definition (``flows.designer.definition_of``) once; ``map()`` each record."""

    def __init__(
        self,
        definition: dict,
        *,
        link_lookup: Callable | None = None,
        now: datetime | None = None,
        display: Callable | None = None,
    ):
        self.definition = definition
        self.value_maps = definition.get("value_maps") or {}
        self.link_lookup = link_lookup
        self.now = now
        self.filters = [
            (parse_path(f["path"]), f["op"], f.get("value")) for f in definition.get("filters") or []
        ]
        self.mappings = [
            _Mapping(
                target=parse_path(m["target"]),
                target_text=m["target"],
                source=parse_path(m["source"]) if m.get("source") else None,
                chain=clean_chain(m.get("transforms") or []),
                personal=m.get("personal") or "",
            )
            for m in definition.get("mappings") or []
        ]
        # Per mapping, what the hot loop needs, unpacked in one go.
        self._plan = [(m.source_key, m.target_key, m.chain, m) for m in self.mappings]
        self.personal_targets = {m.target_text for m in self.mappings if m.personal}
        self.rules = [Rule.from_dict(r) for r in definition.get("quality_rules") or []]
        # ``display(field, value)`` writes values into rule messages (a caller masks personal data there).
        self.checker = RuleChecker(self.rules, display=display)

    # --- pieces -------------------------------------------------------------------------------------

    def value_map(self, name: str, key):
        table = self.value_maps.get(name)
        if table is None:
            raise RecordError(_("The value map “%(m)s” is missing from this flow version.") % {"m": name})
        entries = table.get("entries") or {}
        text = "" if key is None else str(key)
        if text in entries:
            return entries[text]
        policy = table.get("unmatched", "error")
        if policy == "default":
            return table.get("default", "")
        if policy == "passthrough":
            return key
        raise RecordError(
            _("“%(v)s” is not in the value map “%(m)s”.") % {"v": text[:80], "m": name}, reason="value_map"
        )

    def _lookup(self, system: str, entity: str, source_id):
        if self.link_lookup is None:
            raise RecordError(_("ID links are not available here."))
        return self.link_lookup(system, entity, source_id)

    def filter_reason(self, record: dict) -> str:
        """Why the flow's filters leave ``record`` out; empty when it passes."""
        for path, op, expected in self.filters:
            actual = path.get(record, _MISSING)
            present = actual is not _MISSING and not _empty(actual)
            if op == "exists":
                ok = present
            elif op == "missing":
                ok = not present
            elif not present:
                ok = False
            elif op == "equals":
                ok = str(actual) == str(expected)
            elif op == "not_equals":
                ok = str(actual) != str(expected)
            elif op == "in":
                ok = str(actual) in {str(e) for e in expected or []}
            elif op == "contains":
                ok = str(expected) in actual if isinstance(actual, list) else str(expected) in str(actual)
            elif op in ("lt", "gt"):
                ok = _compare(op, actual, expected)
            elif op == "changed_since":
                moment, bound = _datetime(actual), _datetime(expected)
                ok = moment is not None and bound is not None and moment > bound
            else:
                ok = False
            if not ok:
                return _("filter “%(path)s %(op)s %(value)s” is not met (value: %(actual)s)") % {
                    "path": path,
                    "op": op,
                    "value": "" if expected is None else expected,
                    "actual": "—" if actual is _MISSING else str(actual)[:60],
                }
        return ""

    def map(self, record: dict, *, check_rules: bool = True) -> Mapped:
        """Filters, then every mapping, then the quality rules. Never raises for bad data."""
        result = Mapped(source=record)
        if self.filters:
            result.filtered_out = self.filter_reason(record)
            if result.filtered_out:
                return result
        context = None
        out = result.record
        # Plain keys are read and written directly (what ``Path.get``/``Path.set`` do for them):
        # this loop runs for every field of every record.
        get = record.get if type(record) is dict else None
        for source_key, target_key, chain, mapping in self._plan:
            if source_key is not None and get is not None:
                value = get(source_key)
            else:
                value = mapping.source.get(record) if mapping.source is not None else None
            try:
                if chain:
                    if context is None:
                        context = TransformContext(
                            record=record,
                            value_map=self.value_map,
                            link_lookup=self._lookup,
                            **({"now": self.now} if self.now else {}),
                        )
                    value = apply_chain(value, chain, context)
                if target_key is not None:
                    out[target_key] = value
                else:
                    mapping.target.set(out, value)
            except RecordError as exc:
                result.errors.append(FieldError(mapping.target_text, exc.message))
            except ValueError as exc:  # a target path that cannot be set on this record's shape
                result.errors.append(FieldError(mapping.target_text, str(exc)))
        if check_rules and not result.errors and self.rules:
            result.rule_failures = self.checker.check(out)
        return result

    def reset_run(self) -> None:
        """A new run: the "unique within the run" rules start afresh."""
        self.checker.reset()


_AS_IS = frozenset({str, int, float, bool, type(None)})


def wire(value):
    """A mapped value as it is sent and compared: decimals as JSON numbers, dates in ISO 8601."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is dict:  # the mapped record itself: its plain values are taken as they are
        return {key: item if type(item) in _AS_IS else wire(item) for key, item in value.items()}
    if isinstance(value, dict):
        return {key: wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [wire(item) for item in value]
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value() and value.as_tuple().exponent >= 0:
            return int(value)
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
