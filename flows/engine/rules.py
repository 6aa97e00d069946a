"""Per-flow data-quality rules, checked on a MAPPED record (the target's shape) before it is written.

A record that breaks a rule is not sent: the engine keeps it for triage with the rule's kind, the field,
the raw value and a message written for the business admin (``price: -3 is below the minimum 0``).
The admin designs the rules in forms, so every parameter is checked by ``validate_rule`` with a message
naming the parameter, and nothing an admin can type may hang a run: patterns go through RE2
(``flows.engine.patterns``), which matches in linear time whatever the pattern.

Rule kinds (``Rule.params`` in brackets):

- ``required``: the field has a value;
- ``regex`` (``pattern``, optional ``ignore_case``): the WHOLE value matches the pattern (admins write
  the shape of the whole value, e.g. ``[A-Z]{3}-\\d+``; anchors are unnecessary but harmless);
- ``length`` (``min`` and/or ``max``, whole numbers): characters of a text, items of a list;
- ``range`` (``min`` and/or ``max``): numbers (decimals compared exactly) or ISO dates/datetimes
  (``2025-01-31``, ``2025-01-31T10:00:00Z``), compared as dates; the kind follows the bounds;
- ``enum`` (``values``, optional ``ignore_case``): the value is one of the allowed values (compared
  as text, so ``1`` matches ``"1"``);
- ``unique`` (optional ``ignore_case``): no two records sent in one run share the value;
- ``completeness`` (``fields``, ``name``): every listed field has a value; one failure names all
  the missing fields under the rule's name ("required attributes for channel ecommerce").

Empty values — ``None``, a missing field, ``""``, whitespace-only text, ``[]``, ``{}`` — fail
``required`` and ``completeness`` and are SKIPPED by every other rule (a pattern, length, range or
list of values says what a value must look like when there is one; combine with ``required`` to demand
one). ``0``, ``False`` and ``0.0`` are values, not empty.

A list value (e.g. from a ``lines[*].sku`` projection) is checked item by item by ``regex``, ``range``
and ``enum``; ``length`` counts its items.

Fields are reached through ``_get``: the mapping engine's path syntax (``flows.engine.paths``) when it
is there, else the connectors' dotted paths (a temporary fallback, to be dropped once ``paths`` lands).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows.connectors.errors import ConfigError, RecordError
from flows.connectors.paths import get_path
from flows.engine.patterns import PatternError, compile_pattern

RULE_KINDS = {
    "required": gettext_lazy("Required"),
    "regex": gettext_lazy("Matches a pattern"),
    "length": gettext_lazy("Length"),
    "range": gettext_lazy("Range"),
    "enum": gettext_lazy("One of a list of values"),
    "unique": gettext_lazy("Unique within the run"),
    "completeness": gettext_lazy("Completeness"),
}
RULE_KIND_CHOICES = list(RULE_KINDS.items())

# The parameters each kind accepts; anything else is a typo the admin should hear about.
_PARAMS = {
    "required": (),
    "regex": ("pattern", "ignore_case"),
    "length": ("min", "max"),
    "range": ("min", "max"),
    "enum": ("values", "ignore_case"),
    "unique": ("ignore_case",),
    "completeness": ("fields", "name"),
}

# Seconds one value may spend in a pattern: far above any sane pattern (microseconds), far below what
# would stall a run of 100k records if a pattern backtracks catastrophically on every one of them.
MAX_PATTERN_LENGTH = 1000
MAX_ENUM_VALUES = 1000
MAX_MESSAGE_LENGTH = 500
# A number written with more characters than this is not something an admin meant as a number.
_MAX_NUMBER_TEXT = 100


# -- field access -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2048)
def _compiled_path(path: str):
    """The engine's parsed path, or ``None`` when ``flows.engine.paths`` is not installed yet."""
    try:
        # Imported lazily: the module is written alongside this one and may not exist yet.
        from flows.engine.paths import parse_path
    except ModuleNotFoundError as exc:
        if exc.name not in {"flows.engine.paths", "flows.engine"}:
            raise
        return None
    return parse_path(path)


def _get(record, path: str):
    """The value at ``path`` in ``record`` (``None`` when missing).

    Uses ``flows.engine.paths.parse_path`` (filters, indexes, projections) and falls back to the
    connectors' dotted ``get_path`` while that module does not exist. TODO: drop the fallback.
    """
    compiled = _compiled_path(path)
    if compiled is None:
        return get_path(record, path)
    return compiled.get(record, None)


def _path_problem(path) -> str:
    """Why ``path`` is not a usable field path, or ``""``."""
    if not isinstance(path, str) or not path.strip():
        return _("Give the field's path.")
    try:
        _compiled_path(path)
    except Exception as exc:  # the path parser's own message is the useful part
        return _("Not a valid path: %(error)s") % {"error": exc}
    return ""


# -- values ---------------------------------------------------------------------------------------


def is_empty(value) -> bool:
    """``None``, whitespace-only text, an empty list, tuple, set or dict. ``0`` and ``False`` are values."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | set | frozenset | dict):
        return not value
    return False


def _to_number(value) -> Decimal | None:
    """``value`` as an exact Decimal, or ``None`` when it is not a finite number (booleans are not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > _MAX_NUMBER_TEXT:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _to_moment(value) -> date | datetime | None:
    """An ISO date (``date``) or datetime (aware, UTC when no offset is given), else ``None``."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not 8 <= len(text) <= 40 or not text[:4].isdigit():
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _compare_moments(value: date | datetime, bound: date | datetime) -> int:
    """-1, 0, 1 comparing ``value`` with ``bound`` at the bound's precision (a date bound: by day)."""
    if isinstance(bound, datetime):
        if not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, datetime):
        value = value.date()
    return (value > bound) - (value < bound)


def _show(value) -> str:
    """A short, readable form of ``value`` for messages."""
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:59] + "…"
        return f'"{text}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return _("empty")
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _as_text(value) -> str | None:
    """Text for patterns and lists of values; numbers count as their written form, anything else not."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _fold(text: str, ignore_case: bool) -> str:
    text = unicodedata.normalize("NFC", text.strip())
    return text.casefold() if ignore_case else text


def _fingerprint(value, ignore_case: bool) -> bytes:
    """A 16-byte digest standing for ``value`` in the run's ``unique`` memory (values are never kept).

    Text is trimmed (and case-folded with ``ignore_case``); numbers compare by value, so ``1`` and
    ``1.0`` collide while the text ``"1"`` does not.
    """
    if isinstance(value, str):
        canonical = "s:" + _fold(value, ignore_case)
    elif isinstance(value, bool):
        canonical = f"b:{value}"
    elif (number := _to_number(value)) is not None:
        canonical = "n:" + format(number.normalize(), "f")
    else:
        canonical = "j:" + json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _items(value) -> list:
    """The values a per-item rule checks: the list's non-empty items, or the value itself."""
    if isinstance(value, list | tuple):
        return [item for item in value if not is_empty(item)]
    return [value]


# -- rules ----------------------------------------------------------------------------------------


@dataclass
class Rule:
    """One data-quality rule as stored on a flow: ``{"kind", "field", "params", "message"}``.

    ``message`` overrides the generated message; ``{field}`` and ``{value}`` in it are replaced.
    """

    kind: str
    field: str = ""
    params: dict = dataclass_field(default_factory=dict)
    message: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> Rule:
        """A rule from its stored form; raises ``ConfigError`` naming the first wrong parameter."""
        errors = validate_rule(data)
        if errors:
            name, problem = next(iter(errors.items()))
            raise ConfigError(_("%(param)s: %(problem)s") % {"param": name, "problem": problem})
        return cls(
            kind=data["kind"],
            field=data.get("field") or "",
            params=dict(data.get("params") or {}),
            message=data.get("message") or "",
        )

    def as_dict(self) -> dict:
        return {"kind": self.kind, "field": self.field, "params": dict(self.params), "message": self.message}

    @property
    def label(self) -> str:
        """What the admin calls this rule in lists: the completeness rule's name, else the field."""
        if self.kind == "completeness":
            return str(self.params.get("name") or "")
        return self.field


def _bound_kind(bound) -> str | None:
    if _to_number(bound) is not None and not isinstance(bound, bool):
        return "number"
    if _to_moment(bound) is not None:
        return "date"
    return None


def _whole_number(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def validate_rule(data) -> dict[str, str]:
    """Problems with a rule's stored form, keyed by the parameter at fault (``{}`` when valid).

    Keys are ``kind``, ``field``, ``message`` or the parameter's own name (``min``, ``pattern``…), so a
    form can show each message under its input.
    """
    if not isinstance(data, dict):
        return {"kind": _("A rule must be an object with a kind.")}
    kind = data.get("kind")
    if not kind:
        return {"kind": _("Choose the kind of rule.")}
    if kind not in RULE_KINDS:
        return {"kind": _("Unknown kind of rule: %(kind)s.") % {"kind": _show(kind)}}
    errors: dict[str, str] = {}
    params = data.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return {"params": _("Parameters must be an object.")}

    path = data.get("field") or ""
    if kind == "completeness":
        if path:
            errors["field"] = _("Not used by this rule: list the fields under fields.")
    elif problem := _path_problem(path):
        errors["field"] = problem

    message = data.get("message") or ""
    if not isinstance(message, str):
        errors["message"] = _("Must be text.")
    elif len(message) > MAX_MESSAGE_LENGTH:
        errors["message"] = _("At most %(n)s characters.") % {"n": MAX_MESSAGE_LENGTH}

    for name in params:
        if name not in _PARAMS[kind]:
            errors[str(name)] = _("Unknown parameter for this kind of rule.")
    if "ignore_case" in params and not isinstance(params["ignore_case"], bool):
        errors["ignore_case"] = _("Must be true or false.")

    if kind == "regex":
        _validate_pattern(params.get("pattern"), errors)
    elif kind == "length":
        _validate_length(params, errors)
    elif kind == "range":
        _validate_range(params, errors)
    elif kind == "enum":
        _validate_enum(params.get("values"), errors)
    elif kind == "completeness":
        _validate_completeness(params, errors)
    return errors


def _validate_pattern(pattern, errors: dict) -> None:
    if not isinstance(pattern, str) or not pattern:
        errors["pattern"] = _("Give the pattern the value must match.")
    elif len(pattern) > MAX_PATTERN_LENGTH:
        errors["pattern"] = _("At most %(n)s characters.") % {"n": MAX_PATTERN_LENGTH}
    else:
        try:
            compile_pattern(pattern)
        except (PatternError, ValueError, TypeError) as exc:
            reason = exc.args[0] if exc.args else exc
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            errors["pattern"] = _("Not a valid pattern: %(error)s") % {"error": reason}


def _validate_length(params: dict, errors: dict) -> None:
    bounds = {}
    for name in ("min", "max"):
        raw = params.get(name)
        if raw is None or raw == "":
            continue
        number = _whole_number(raw)
        if number is None or number < 0:
            errors[name] = _("Must be a whole number, 0 or more.")
        else:
            bounds[name] = number
    if not any(params.get(name) not in (None, "") for name in ("min", "max")):
        errors["min"] = _("Give a minimum, a maximum or both.")
    elif len(bounds) == 2 and bounds["min"] > bounds["max"]:
        errors["max"] = _("Must not be below the minimum (%(min)s).") % {"min": bounds["min"]}


def _validate_range(params: dict, errors: dict) -> None:
    kinds = {}
    for name in ("min", "max"):
        raw = params.get(name)
        if raw is None or raw == "":
            continue
        kind = _bound_kind(raw)
        if kind is None:
            errors[name] = _("Must be a number or an ISO date (2025-01-31).")
        else:
            kinds[name] = kind
    if not any(params.get(name) not in (None, "") for name in ("min", "max")):
        errors["min"] = _("Give a minimum, a maximum or both.")
        return
    if len(kinds) != 2:
        return
    if kinds["min"] != kinds["max"]:
        errors["max"] = _("Must be of the same kind as the minimum (both numbers or both dates).")
        return
    low, high = _bound(params["min"]), _bound(params["max"])
    if (low > high) if kinds["min"] == "number" else _compare_moments(low, high) > 0:
        errors["max"] = _("Must not be below the minimum (%(min)s).") % {"min": _show(params["min"])}


def _validate_enum(values, errors: dict) -> None:
    if not isinstance(values, list | tuple):
        errors["values"] = _("Give the list of allowed values.")
    elif not values:
        errors["values"] = _("Give at least one allowed value.")
    elif len(values) > MAX_ENUM_VALUES:
        errors["values"] = _("At most %(n)s values.") % {"n": MAX_ENUM_VALUES}
    elif any(_as_text(value) is None for value in values):
        errors["values"] = _("Allowed values must be text or numbers.")


def _validate_completeness(params: dict, errors: dict) -> None:
    name = params.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = _("Name the rule, e.g. “required attributes for channel ecommerce”.")
    fields = params.get("fields")
    if not isinstance(fields, list | tuple) or not fields:
        errors["fields"] = _("List the fields that must all have a value.")
        return
    for path in fields:
        if problem := _path_problem(path):
            errors["fields"] = f"{path}: {problem}" if isinstance(path, str) and path else problem
            return
    if len(set(fields)) != len(fields):
        errors["fields"] = _("A field is listed twice.")


# -- checking -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleFailure:
    """One broken rule on one record. ``value`` is the RAW value: mask personal data before showing it.

    For ``completeness``, ``field`` lists the missing fields (comma-separated), ``value`` maps each to
    what the record held, and ``rule_name`` is the rule's name.
    """

    kind: str
    field: str
    value: Any
    message: str
    rule_name: str = ""

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "field": self.field,
            "value": self.value,
            "message": self.message,
            "rule_name": self.rule_name,
        }

    def as_record_error(self) -> RecordError:
        """The failure in the engine's error taxonomy, for triage next to the remote's rejections."""
        return RecordError(self.message, reason="rule", detail=f"{self.kind}:{self.field}")


Display = Callable[[str, Any], str]


class RuleChecker:
    """Checks records of ONE run against a flow's rules; keeps ``unique`` memory until ``reset()``.

    ``display(field, value) -> str`` renders values inside messages; pass one that masks personal
    fields (the default shows values as they are). The ``unique`` memory holds a 16-byte digest per
    distinct value per rule, never the values themselves.
    """

    def __init__(self, rules: Iterable[Rule | dict], *, display: Display | None = None):
        self.rules: list[Rule] = []
        for index, rule in enumerate(rules, start=1):
            data = rule.as_dict() if isinstance(rule, Rule) else rule
            errors = validate_rule(data)
            if errors:
                name, problem = next(iter(errors.items()))
                raise ConfigError(
                    _("Rule %(n)s: %(param)s: %(problem)s") % {"n": index, "param": name, "problem": problem}
                )
            self.rules.append(rule if isinstance(rule, Rule) else Rule.from_dict(data))
        self._display = display or (lambda _field, value: _show(value))
        self._patterns: dict = {}
        for index, rule in enumerate(self.rules):
            if rule.kind == "regex":
                self._patterns[index] = compile_pattern(
                    rule.params["pattern"], bool(rule.params.get("ignore_case"))
                )
        self._seen: dict[int, set[bytes]] = {i: set() for i, r in enumerate(self.rules) if r.kind == "unique"}
        self._bounds: dict[int, tuple] = {}
        self._allowed: dict[int, frozenset[str]] = {}
        for index, rule in enumerate(self.rules):
            if rule.kind == "range":
                low, high = _bound(rule.params.get("min")), _bound(rule.params.get("max"))
                kind = "number" if isinstance(low if low is not None else high, Decimal) else "date"
                self._bounds[index] = (kind, low, high)
            elif rule.kind == "enum":
                ignore_case = bool(rule.params.get("ignore_case"))
                self._allowed[index] = frozenset(
                    _fold(_as_text(v), ignore_case) for v in rule.params["values"]
                )

    def reset(self) -> None:
        """Forget the ``unique`` values: a new run starts."""
        for seen in self._seen.values():
            seen.clear()

    @property
    def remembered(self) -> int:
        """How many distinct values the ``unique`` rules hold (for figures and tests)."""
        return sum(len(seen) for seen in self._seen.values())

    def check(self, record, *, remember: bool = True) -> list[RuleFailure]:
        """The rules ``record`` breaks (``[]`` when it may be sent). Never raises.

        The ``unique`` values of a record are remembered only when it breaks no rule, i.e. when it will
        be sent: a rejected record does not make the next one with the same value a duplicate.
        ``remember=False`` checks without remembering (the live preview).
        """
        failures: list[RuleFailure] = []
        pending: list[tuple[int, bytes]] = []
        for index, rule in enumerate(self.rules):
            try:
                failure = self._check_one(index, rule, record, pending)
            except Exception as exc:  # a rule that cannot be checked keeps the record back, never the run
                failure = self._fail(
                    rule,
                    rule.field,
                    None,
                    _("%(field)s: could not be checked (%(error)s)")
                    % {"field": rule.field or rule.label, "error": type(exc).__name__},
                )
            if failure is not None:
                failures.append(failure)
        if remember and not failures:
            for index, digest in pending:
                self._seen[index].add(digest)
        return failures

    # Each checker returns a failure or None.

    def _fail(self, rule: Rule, path: str, value, message: str, rule_name: str = "") -> RuleFailure:
        if rule.message:
            message = rule.message.replace("{field}", path).replace("{value}", self._display(path, value))
        return RuleFailure(kind=rule.kind, field=path, value=value, message=message, rule_name=rule_name)

    def _check_one(self, index: int, rule: Rule, record, pending: list) -> RuleFailure | None:
        if rule.kind == "completeness":
            return self._completeness(rule, record)
        value = _get(record, rule.field)
        if rule.kind == "required":
            if is_empty(value):
                return self._fail(
                    rule, rule.field, value, _("%(field)s: is required") % {"field": rule.field}
                )
            return None
        if is_empty(value):
            return None
        if rule.kind == "unique":
            return self._unique(index, rule, value, pending)
        if rule.kind == "length":
            return self._length(rule, value)
        check = {"regex": self._regex, "range": self._range, "enum": self._enum}[rule.kind]
        for item in _items(value):
            if (reason := check(index, rule, item)) is not None:
                return self._fail(rule, rule.field, item, f"{rule.field}: {reason}")
        return None

    def _completeness(self, rule: Rule, record) -> RuleFailure | None:
        missing = {}
        for path in rule.params["fields"]:
            value = _get(record, path)
            if is_empty(value):
                missing[path] = value
        if not missing:
            return None
        name = rule.params["name"]
        message = _("%(name)s: missing %(fields)s") % {"name": name, "fields": ", ".join(missing)}
        return self._fail(rule, ", ".join(missing), missing, message, rule_name=name)

    def _unique(self, index: int, rule: Rule, value, pending: list) -> RuleFailure | None:
        digest = _fingerprint(value, bool(rule.params.get("ignore_case")))
        if digest in self._seen[index]:
            return self._fail(
                rule,
                rule.field,
                value,
                _("%(field)s: %(value)s is already used by another record of this run")
                % {"field": rule.field, "value": self._display(rule.field, value)},
            )
        pending.append((index, digest))
        return None

    def _length(self, rule: Rule, value) -> RuleFailure | None:
        if isinstance(value, list | tuple | dict | set | frozenset):
            size, unit = len(value), _("items")
        else:
            text = _as_text(value)
            size, unit = len(text if text is not None else str(value)), _("characters")
        low, high = _whole_number(rule.params.get("min")), _whole_number(rule.params.get("max"))
        shown = {"field": rule.field, "size": size, "unit": unit}
        if low is not None and size < low:
            message = _("%(field)s: %(size)s %(unit)s, fewer than the minimum %(min)s") % (
                shown | {"min": low}
            )
            return self._fail(rule, rule.field, value, message)
        if high is not None and size > high:
            message = _("%(field)s: %(size)s %(unit)s, more than the maximum %(max)s") % (
                shown | {"max": high}
            )
            return self._fail(rule, rule.field, value, message)
        return None

    def _regex(self, index: int, rule: Rule, value) -> str | None:
        text = _as_text(value)
        if text is None:
            return _("%(value)s is not text") % {"value": self._display(rule.field, value)}
        try:
            matched = self._patterns[index].fullmatch(text)
        except UnicodeError:
            return _("%(value)s holds characters that cannot be checked") % {
                "value": self._display(rule.field, value)
            }
        if matched is None:
            return _("%(value)s does not match the pattern %(pattern)s") % {
                "value": self._display(rule.field, value),
                "pattern": rule.params["pattern"],
            }
        return None

    def _range(self, index: int, rule: Rule, value) -> str | None:
        kind, low, high = self._bounds[index]
        shown = self._display(rule.field, value)
        raw_low, raw_high = rule.params.get("min"), rule.params.get("max")
        if kind == "number":
            number = _to_number(value)
            if number is None:
                return _("%(value)s is not a number") % {"value": shown}
            if low is not None and number < low:
                return _("%(value)s is below the minimum %(min)s") % {"value": shown, "min": raw_low}
            if high is not None and number > high:
                return _("%(value)s is above the maximum %(max)s") % {"value": shown, "max": raw_high}
            return None
        moment = _to_moment(value)
        if moment is None:
            return _("%(value)s is not a date") % {"value": shown}
        if low is not None and _compare_moments(moment, low) < 0:
            return _("%(value)s is before the minimum %(min)s") % {
                "value": shown,
                "min": _show_bound(raw_low),
            }
        if high is not None and _compare_moments(moment, high) > 0:
            return _("%(value)s is after the maximum %(max)s") % {
                "value": shown,
                "max": _show_bound(raw_high),
            }
        return None

    def _enum(self, index: int, rule: Rule, value) -> str | None:
        text = _as_text(value)
        if text is None or _fold(text, bool(rule.params.get("ignore_case"))) not in self._allowed[index]:
            values = rule.params["values"]
            listed = ", ".join(str(_as_text(v)) for v in values[:10]) + (", …" if len(values) > 10 else "")
            return _("%(value)s is not one of the allowed values (%(values)s)") % {
                "value": self._display(rule.field, value),
                "values": listed,
            }
        return None


def _bound(raw):
    """A range bound ready to compare (Decimal, date or aware datetime), ``None`` when not given."""
    if raw is None or raw == "":
        return None
    number = _to_number(raw)
    return number if number is not None else _to_moment(raw)


def _show_bound(raw) -> str:
    return raw.isoformat() if isinstance(raw, date) else str(raw)
