"""The registry of transforms a business admin chains in a mapping: safe, typed, and pure.

No transform evaluates code: a step is data (``{"op": "replace", "old": "-", "new": " "}``), each
parameter is checked against its declared type before a chain is saved, and the only patterns run
on record data are RE2 patterns, whose matching time is linear in the input (see ``regex_extract``).

The life of a chain:

- ``validate_chain(chain)`` gives per step ``{parameter or "op": message}`` for the forms;
- ``clean_chain(chain)`` gives the normalised steps (``"2"`` becomes ``2``, defaults filled in,
  patterns compiled once) or raises ``ChainError``; a clean step is a ``CleanStep``, a ``dict`` whose
  ``Decimal`` parameters store as text with ``DjangoJSONEncoder`` and clean back the same;
- ``apply_chain(value, chain, context)`` runs the steps on one value; a failure due to the data
  raises ``RecordError`` (the record goes to triage with the message), never another exception.

Type rules, the same for every transform (each description says what its transform takes):

- **Empty stays empty**: a ``None`` input skips every transform except ``default``, ``concatenate``
  and ``first_non_empty``, so an optional source field never fails a record by being absent.
- **Input kinds**: text, number (``int``, ``float``, ``Decimal``), boolean, list, object (dict), date,
  date and time. A transform refuses (``RecordError``) the kinds it does not list.
- **Text transforms take numbers too**, as their plain text (``12``, ``0.1``, ``1.50``), but never
  booleans (``True`` could be ``"true"``, ``"1"`` or ``"yes"``: map them with ``bool_map``), lists
  or objects.
- **Number transforms take numeric text** (``" 12.5 "``, ``-3``, ``1e3``; a dot as the decimal
  separator, no thousands separator) and compute in ``Decimal`` (floats are read by their shortest
  text, so ``0.1`` is exactly 0.1). Arithmetic (``round``, ``multiply``, ``divide``, ``unit_convert``)
  always returns a ``Decimal``: chain ``to_int`` for a whole number. NaN, infinities and numbers
  above 10^100 are refused.
- **Lists** are taken only by ``join``, ``pick``, ``default`` and ``first_non_empty`` (and given
  back only by ``split`` without an index, ``pick`` and lookups that return one); objects only by
  ``pick``, ``default`` and ``first_non_empty``.
"""

import html
import json
import math
import re
import zoneinfo
from collections.abc import Callable, Container
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from functools import lru_cache
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.utils.html import strip_tags
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from flows.connectors.errors import ConfigError, RecordError
from flows.engine.paths import PathError, parse_path
from flows.engine.patterns import PatternError, compile_pattern

__all__ = [
    "PARAM_TYPES",
    "RETURN_TYPES",
    "TRANSFORMS",
    "ChainError",
    "CleanStep",
    "Param",
    "Transform",
    "TransformContext",
    "apply_chain",
    "clean_chain",
    "clean_step",
    "transform_choices",
    "try_transform",
    "validate_chain",
    "validate_step",
]

PARAM_TYPES = (
    "text",
    "integer",
    "decimal",
    "boolean",
    "choice",
    "list",
    "mapping",
    "regex",
    "timezone",
    "date_format",
    "path",
    "value_map",
)
RETURN_TYPES = ("text", "integer", "decimal", "number", "boolean", "date", "datetime", "list", "any")

# Input kinds, and the Python types that are exactly of each (subclasses go through _kind()).
TEXT, NUMBER, BOOLEAN, LIST, OBJECT, DATE, DATETIME, ANY = (
    "text",
    "number",
    "boolean",
    "list",
    "object",
    "date",
    "datetime",
    "any",
)
_EXACT_TYPES = {
    TEXT: (str,),
    NUMBER: (int, float, Decimal),
    BOOLEAN: (bool,),
    LIST: (list,),
    OBJECT: (dict,),
    DATE: (date,),
    DATETIME: (datetime,),
}
_KIND_LABELS = {
    TEXT: gettext_lazy("text"),
    NUMBER: gettext_lazy("a number"),
    BOOLEAN: gettext_lazy("true/false"),
    LIST: gettext_lazy("a list"),
    OBJECT: gettext_lazy("an object"),
    DATE: gettext_lazy("a date"),
    DATETIME: gettext_lazy("a date and time"),
}

# Bounds that keep one hostile record (or parameter) from costing a worker memory or minutes.
_MAX_TEXT_RESULT = 1_000_000  # characters a text transform may produce
_MAX_NUMBER_TEXT = 200  # characters of a numeric text
_MAX_ADJUSTED = 100  # numbers are refused above 10^100
_MAX_PARAM_TEXT = 1000
_MAX_LIST_ITEMS = 200
_MAX_MAPPING_ITEMS = 2000
_SHOWN_CHARS = 40  # of an offending value, in messages

# Arithmetic: decimal128's precision, half-up by default (what people expect of prices), and the
# conditions that would give NaN or infinity raised instead (caught and reported per record).
_DECIMALS = Context(
    prec=34,
    rounding=ROUND_HALF_UP,
    Emax=999_999,
    Emin=-999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?")
_INTEGER_TEXT = re.compile(r"[+-]?\d{1,30}")
_TITLE_WORD = re.compile(r"(?:^|(?<=[\s-]))\w")

ROUNDINGS = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
    "floor": ROUND_FLOOR,
    "ceiling": ROUND_CEILING,
}
_ROUNDING_CHOICES = (
    ("half_up", gettext_lazy("Half up (2.345 → 2.35)")),
    ("half_even", gettext_lazy("Half even, banker's (2.345 → 2.34)")),
    ("down", gettext_lazy("Toward zero (truncate)")),
    ("up", gettext_lazy("Away from zero")),
    ("floor", gettext_lazy("Down (floor)")),
    ("ceiling", gettext_lazy("Up (ceiling)")),
)

# Units per dimension, as the size of one unit in the dimension's base unit (exact definitions).
UNITS = {
    "g": ("mass", Decimal(1)),
    "kg": ("mass", Decimal(1000)),
    "lb": ("mass", Decimal("453.59237")),
    "oz": ("mass", Decimal("28.349523125")),
    "mm": ("length", Decimal(1)),
    "cm": ("length", Decimal(10)),
    "m": ("length", Decimal(1000)),
    "in": ("length", Decimal("25.4")),
    "ml": ("volume", Decimal(1)),
    "l": ("volume", Decimal(1000)),
}
_UNIT_CHOICES = (
    ("g", gettext_lazy("grams (g)")),
    ("kg", gettext_lazy("kilograms (kg)")),
    ("lb", gettext_lazy("pounds (lb)")),
    ("oz", gettext_lazy("ounces (oz)")),
    ("mm", gettext_lazy("millimetres (mm)")),
    ("cm", gettext_lazy("centimetres (cm)")),
    ("m", gettext_lazy("metres (m)")),
    ("in", gettext_lazy("inches (in)")),
    ("ml", gettext_lazy("millilitres (ml)")),
    ("l", gettext_lazy("litres (l)")),
)

# strftime/strptime directives that mean the same on every platform and locale-free.
_DATE_DIRECTIVES = frozenset("aAbBdfGHIjmMpSuUVwWyYzZ%")

_BOOL_TRUE = ("true", "yes", "y", "1", "on")
_BOOL_FALSE = ("false", "no", "n", "0", "off")


# --- the declarations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One parameter of a transform, as the forms show it and ``validate_step`` checks it.

    Beyond the name and type: ``min_value``/``max_value`` for numbers, ``allow_blank`` for a required
    text that may be empty (a join separator), ``item_type`` (``"text"`` or ``"path"``) for lists,
    ``check`` an extra test of the cleaned value returning a message or None.
    """

    name: str
    type: str
    required: bool = True
    default: Any = None
    choices: tuple | None = None
    label: Any = ""
    help: Any = ""
    min_value: Any = None
    max_value: Any = None
    allow_blank: bool = False
    item_type: str = "text"
    check: Callable[[Any], str | None] | None = None

    def __post_init__(self):
        if self.type not in PARAM_TYPES:
            raise ValueError(f"unknown parameter type {self.type!r}")
        if self.type == "choice" and not self.choices:
            raise ValueError(f"choice parameter {self.name!r} needs choices")

    @property
    def choice_values(self) -> tuple:
        return tuple(value for value, _label in self.choices or ())


@dataclass(frozen=True, eq=False)
class Transform:
    """A registered transform: what it takes, what it gives, and the pure function doing it.

    ``func(value, step, context)`` receives a non-None value of an accepted kind (unless
    ``passes_none`` is False) and the ``CleanStep``; ``prepare(params)`` builds what a step
    reuses for every record (a compiled pattern), kept as ``step.prepared``; ``check(params)``
    returns cross-parameter errors; ``returns_for(params)`` narrows ``returns`` when the output
    type depends on the parameters.
    """

    key: str
    label: Any
    description: Any
    params: tuple
    accepts: frozenset
    returns: str
    func: Callable
    category: str = "text"
    passes_none: bool = True
    may_return_none: bool = False
    prepare: Callable | None = None
    check: Callable | None = None
    returns_for: Callable | None = None

    def __post_init__(self):
        if self.returns not in RETURN_TYPES:
            raise ValueError(f"unknown return type {self.returns!r}")
        types = set()
        for kind in self.accepts:
            types.update(_EXACT_TYPES.get(kind, ()))
        object.__setattr__(self, "_types", frozenset(types))
        object.__setattr__(self, "_accepts_any", ANY in self.accepts)

    def result_type(self, params: dict | None = None) -> str:
        """The output type of this transform with these (clean) parameters."""
        if self.returns_for is not None and params is not None:
            return self.returns_for(params)
        return self.returns

    @property
    def accepts_label(self) -> str:
        if self._accepts_any:
            return _("any value")
        labels = [str(_KIND_LABELS[kind]) for kind in _KIND_ORDER if kind in self.accepts]
        if len(labels) == 1:
            return labels[0]
        return _("%(kinds)s or %(last)s") % {"kinds": ", ".join(labels[:-1]), "last": labels[-1]}


_KIND_ORDER = (TEXT, NUMBER, BOOLEAN, LIST, OBJECT, DATE, DATETIME)

TRANSFORMS: dict[str, Transform] = {}

_CATEGORIES = {
    "text": gettext_lazy("Text"),
    "number": gettext_lazy("Numbers"),
    "date": gettext_lazy("Dates"),
    "lookup": gettext_lazy("Lookups"),
    "structure": gettext_lazy("Fields and lists"),
}


def _register(spec: Transform) -> Transform:
    if spec.key in TRANSFORMS:
        raise ValueError(f"transform {spec.key!r} registered twice")
    TRANSFORMS[spec.key] = spec
    return spec


def transform_choices(grouped: bool = False) -> list:
    """``(key, label)`` pairs in registration order, or grouped by category for a select's optgroups."""
    if not grouped:
        return [(spec.key, spec.label) for spec in TRANSFORMS.values()]
    groups: dict[str, list] = {}
    for spec in TRANSFORMS.values():
        groups.setdefault(spec.category, []).append((spec.key, spec.label))
    return [(_CATEGORIES[category], choices) for category, choices in groups.items()]


@dataclass(slots=True)
class TransformContext:
    """What a chain may reach beyond its value: the whole source record and the two lookups.

    ``value_map(name, key)`` and ``link_lookup(system, entity, source_id)`` are given by the engine
    (they read the database); either may raise ``RecordError`` (a value not in the map) or
    ``ConfigError`` (no such map), which ``apply_chain`` lets through unchanged.
    """

    record: Any = None
    value_map: Callable[[str, str], Any] | None = None
    link_lookup: Callable[[str, str, str], Any] | None = None
    # The run's clock, fixed for deterministic previews and tests; no transform reads it yet.
    now: datetime | None = None


_NO_CONTEXT = TransformContext()


class CleanStep(dict):
    """A validated, normalised step. Still a plain dict to read and store; ``spec`` and ``prepared`` ride along."""

    __slots__ = ("prepared", "spec")

    def __reduce__(self):
        # Compiled patterns do not pickle: a copy is a plain dict, cleaned again when applied.
        return (dict, (dict(self),))


class ChainError(ConfigError, ValueError):
    """A chain (or step) that does not validate. ``errors`` is the per-step list ``validate_chain`` gives."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        parts = []
        for number, step_errors in enumerate(errors, start=1):
            for name, message in step_errors.items():
                parts.append(
                    _("step %(number)s, %(name)s: %(message)s")
                    % {"number": number, "name": name, "message": message}
                )
        super().__init__("; ".join(parts) or _("invalid chain"), reason="chain")


# --- showing values in messages ----------------------------------------------------------------


def _show(value) -> str:
    """An offending value as a message shows it: quoted text cut to a few words, or what it is."""
    if isinstance(value, str):
        text = value if len(value) <= _SHOWN_CHARS else value[: _SHOWN_CHARS - 1] + "…"
        return json.dumps(text, ensure_ascii=False)
    if value is None:
        return _("an empty value")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value.bit_length() > 10_000:  # str() refuses more than 4,300 digits
            return _("a very large number")
        text = str(value)
        return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"
    if isinstance(value, float | Decimal):
        return str(value)[:_SHOWN_CHARS]
    if isinstance(value, list):
        return _("a list")
    if isinstance(value, dict):
        return _("an object")
    if isinstance(value, date):
        return value.isoformat()
    return _("a value of another kind")


def _error(op: str, message: str, value=None, **params) -> RecordError:
    return RecordError(message % {"op": op, "value": _show(value), **params}, reason="transform", detail=op)


def _kind(value) -> str:
    """The input kind of any value (subclasses included); ``other`` for what no transform takes."""
    if value is None:
        return "none"
    if isinstance(value, str):
        return TEXT
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int | float | Decimal):
        return NUMBER
    if isinstance(value, list):
        return LIST
    if isinstance(value, dict):
        return OBJECT
    if isinstance(value, datetime):
        return DATETIME
    if isinstance(value, date):
        return DATE
    return "other"


def _is_empty(value) -> bool:
    """None, blank text, an empty list or object: what ``default`` and ``first_non_empty`` skip."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | dict):
        return not value
    return False


# --- conversions shared by the transforms --------------------------------------------------------


def _plain_number(value, op: str) -> str:
    """A number's plain text: ``12``, ``0.1`` (a float's shortest form), ``1.50`` (a Decimal's digits)."""
    if isinstance(value, int):
        if value.bit_length() > 1000:
            raise _error(op, _("%(op)s: %(value)s is too large"), value)
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _error(op, _("%(op)s: %(value)s is not a finite number"), value)
        value = Decimal(repr(value))
    if not value.is_finite():
        raise _error(op, _("%(op)s: %(value)s is not a finite number"), value)
    if value.as_tuple().exponent >= -_MAX_ADJUSTED and value.adjusted() <= _MAX_ADJUSTED:
        return format(value, "f")
    return str(value)


def _text(value, op: str) -> str:
    """The text a text transform works on: text itself, or a number's plain text (kinds checked before)."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    return _plain_number(value, op)


def _key_text(value, op: str) -> str:
    """The text a lookup key is: booleans as ``true``/``false``, numbers plain."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _text(value, op)


def _parse_number(value):
    """A finite Decimal from a number or numeric text, or None. Booleans are refused by the callers."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_NUMBER_TEXT or not _NUMBER_TEXT.fullmatch(text):
            return None
        try:
            number = Decimal(text)
        except DecimalException:
            return None
    elif isinstance(value, int):
        if value.bit_length() > 400:
            return Decimal("1E+999")  # refused as too large below
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            return None
        number = value
    else:
        return None
    return number


def _decimal(value, op: str, whole: bool = False) -> Decimal:
    number = _parse_number(value)
    if number is None:
        raise _not_a_number(op, value, whole)
    if number.adjusted() > _MAX_ADJUSTED:
        raise _error(op, _("%(op)s: %(value)s is too large"), value)
    return number


def _not_a_number(op: str, value, whole: bool) -> RecordError:
    if whole:
        return _error(op, _("%(op)s: %(value)s is not a whole number"), value)
    return _error(op, _("%(op)s: %(value)s is not a number"), value)


def _out_of_range(op: str, value) -> RecordError:
    return _error(op, _("%(op)s: the result for %(value)s is out of range"), value)


def _too_long(op: str) -> RecordError:
    return _error(op, _("%(op)s: the result is longer than %(max)s characters"), max=_MAX_TEXT_RESULT)


def _limit(op: str, text: str) -> str:
    if len(text) > _MAX_TEXT_RESULT:
        raise _too_long(op)
    return text


# --- text transforms ------------------------------------------------------------------------------

_TEXTLIKE = frozenset({TEXT, NUMBER})


def _text_spec(key, label, description, func, params=(), **kwargs) -> Transform:
    return _register(
        Transform(
            key=key,
            label=label,
            description=description,
            params=tuple(params),
            accepts=kwargs.pop("accepts", _TEXTLIKE),
            returns=kwargs.pop("returns", "text"),
            func=func,
            category=kwargs.pop("category", "text"),
            **kwargs,
        )
    )


_text_spec(
    "trim",
    gettext_lazy("Trim spaces"),
    gettext_lazy("Removes spaces, tabs and line breaks at both ends. Takes text or a number (as its text)."),
    lambda value, step, context: _text(value, "trim").strip(),
)
_text_spec(
    "lower",
    gettext_lazy("Lower case"),
    gettext_lazy("Puts every letter in lower case. Takes text or a number (as its text)."),
    lambda value, step, context: _text(value, "lower").lower(),
)
_text_spec(
    "upper",
    gettext_lazy("Upper case"),
    gettext_lazy("Puts every letter in upper case. Takes text or a number (as its text)."),
    lambda value, step, context: _text(value, "upper").upper(),
)
_text_spec(
    "title",
    gettext_lazy("Title case"),
    gettext_lazy(
        "Capitalises the first letter of each word (after a space or a hyphen: “jean-luc picard” → "
        "“Jean-Luc Picard”) and lowers the others. Takes text or a number."
    ),
    lambda value, step, context: _TITLE_WORD.sub(
        lambda match: match.group().upper(), _text(value, "title").lower()
    ),
)
_text_spec(
    "slugify",
    pgettext_lazy("transform", "Slug"),
    gettext_lazy(
        "Makes an identifier for URLs: lower case, accents removed, spaces as hyphens, other signs "
        "dropped (“Crème Brûlée!” → “creme-brulee”). Takes text or a number."
    ),
    lambda value, step, context: slugify(_text(value, "slugify"), allow_unicode=step["allow_unicode"]),
    params=[
        Param(
            "allow_unicode",
            "boolean",
            required=False,
            default=False,
            label=gettext_lazy("Keep non-Latin letters"),
            help=gettext_lazy("Keep letters such as é or ж instead of reducing them to a to z."),
        )
    ],
)


def _replace(value, step, context):
    text = _text(value, "replace")
    old, new = step["old"], step["new"]
    if len(new) > len(old) and len(text) + text.count(old) * (len(new) - len(old)) > _MAX_TEXT_RESULT:
        raise _too_long("replace")
    return text.replace(old, new)


_text_spec(
    "replace",
    gettext_lazy("Replace"),
    gettext_lazy(
        "Replaces every occurrence of a text by another, exactly as typed (no pattern). "
        "Takes text or a number."
    ),
    _replace,
    params=[
        Param("old", "text", label=gettext_lazy("Text to find")),
        Param("new", "text", required=False, default="", label=gettext_lazy("Replace with")),
    ],
)


def _compile_pattern(pattern: str):
    return compile_pattern(pattern)  # RE2: linear time whatever the pattern (flows.engine.patterns)


def _regex_extract(value, step, context):
    text = _text(value, "regex_extract")
    try:
        match = step.prepared.search(text)
    except UnicodeError:
        raise _error(
            "regex_extract", _("%(op)s: %(value)s holds characters that cannot be searched"), value
        ) from None
    if match is None:
        return None
    return match.group(step["group"])


def _check_regex_extract(params) -> dict:
    groups = _compile_pattern(params["pattern"]).groups
    if params["group"] > groups:
        return {
            "group": _("the pattern has only %(count)s group(s) (0 is the whole match)") % {"count": groups}
        }
    return {}


_text_spec(
    "regex_extract",
    gettext_lazy("Extract with a pattern"),
    gettext_lazy(
        "Finds the first match of a regular expression (RE2 syntax: no back-references nor "
        "look-arounds) and gives the whole match (group 0) or one group. Empty when nothing "
        "matches, so a “default” step can follow. Takes text or a number."
    ),
    _regex_extract,
    params=[
        Param("pattern", "regex", label=gettext_lazy("Pattern"), help=gettext_lazy("e.g. ([0-9]+) cm")),
        Param(
            "group",
            "integer",
            required=False,
            default=0,
            min_value=0,
            max_value=99,
            label=gettext_lazy("Group"),
            help=gettext_lazy("0 for the whole match, 1 for the first parenthesised group…"),
        ),
    ],
    may_return_none=True,
    prepare=lambda params: _compile_pattern(params["pattern"]),
    check=_check_regex_extract,
)


def _split(value, step, context):
    parts = _text(value, "split").split(step["separator"])
    if step["trim"]:
        parts = [part.strip() for part in parts]
    index = step["index"]
    if index is None:
        return parts
    return parts[index] if -len(parts) <= index < len(parts) else None


_text_spec(
    "split",
    gettext_lazy("Split"),
    gettext_lazy(
        "Cuts a text at each separator. Gives the list of parts, or only the part at a position "
        "(0 is the first, -1 the last; empty when there is no such part). Takes text or a number."
    ),
    _split,
    params=[
        Param("separator", "text", label=gettext_lazy("Separator")),
        Param(
            "index",
            "integer",
            required=False,
            min_value=-1000,
            max_value=1000,
            label=gettext_lazy("Keep part number"),
            help=gettext_lazy("Leave empty to keep the whole list."),
        ),
        Param(
            "trim",
            "boolean",
            required=False,
            default=True,
            label=gettext_lazy("Trim each part"),
        ),
    ],
    returns="any",
    returns_for=lambda params: "list" if params.get("index") is None else "text",
    may_return_none=True,
)


def _join(value, step, context):
    if not isinstance(value, list):
        return _text(value, "join")
    parts = []
    for item in value:
        if item is None:
            continue
        if isinstance(item, bool) or not isinstance(item, str | int | float | Decimal):
            raise _error("join", _("%(op)s: the list holds %(value)s, which is not text"), item)
        parts.append(_text(item, "join"))
    return _limit("join", step["separator"].join(parts))


_text_spec(
    "join",
    gettext_lazy("Join a list"),
    gettext_lazy(
        "Joins the items of a list with a separator (empty items skipped). Items must be texts or "
        "numbers. A single text or number is given back as text."
    ),
    _join,
    params=[Param("separator", "text", allow_blank=True, label=gettext_lazy("Separator"))],
    accepts=frozenset({TEXT, NUMBER, LIST}),
    category="structure",
)


def _truncate(value, step, context):
    text = _text(value, "truncate")
    length = step["length"]
    if len(text) <= length:
        return text
    ellipsis = step["ellipsis"]
    return text[: length - len(ellipsis)] + ellipsis


_text_spec(
    "truncate",
    gettext_lazy("Shorten"),
    gettext_lazy(
        "Cuts a text to a maximum number of characters, the optional ending (such as “…”) "
        "included. Takes text or a number."
    ),
    _truncate,
    params=[
        Param("length", "integer", min_value=1, max_value=1_000_000, label=gettext_lazy("Maximum length")),
        Param("ellipsis", "text", required=False, default="", label=gettext_lazy("Ending when cut")),
    ],
    check=lambda params: (
        {"ellipsis": _("must be shorter than the maximum length")}
        if len(params["ellipsis"]) >= params["length"]
        else {}
    ),
)


def _strip_html(value, step, context):
    try:
        text = strip_tags(_text(value, "strip_html"))
    except SuspiciousOperation:
        raise _error("strip_html", _("%(op)s: %(value)s has too deeply nested tags"), value) from None
    return html.unescape(text)


_text_spec(
    "strip_html",
    gettext_lazy("Remove HTML"),
    gettext_lazy(
        "Removes HTML tags and turns entities such as &amp;amp; into their characters. "
        "Takes text or a number."
    ),
    _strip_html,
)


# --- values from the record ---------------------------------------------------------------------

_INPUT = object()  # the "{}" placeholder: the step's input value


def _template_error(position: int, message: str) -> ValueError:
    return ValueError(_("position %(position)s: %(reason)s") % {"position": position + 1, "reason": message})


@lru_cache(maxsize=512)
def _parse_template(template: str) -> tuple:
    """``{path}`` placeholders, ``{}`` for the input, ``{{``/``}}`` for braces; nothing else is special."""
    parts: list = []
    literal: list[str] = []
    position, end = 0, len(template)
    while position < end:
        char = template[position]
        if char == "}":
            if not template.startswith("}}", position):
                raise _template_error(position, _('a single "}" must be written "}}"'))
            literal.append("}")
            position += 2
            continue
        if char != "{":
            literal.append(char)
            position += 1
            continue
        if template.startswith("{{", position):
            literal.append("{")
            position += 2
            continue
        close, quote = position + 1, ""
        while close < end:
            inner = template[close]
            if quote:
                if quote == '"' and inner == "\\":
                    close += 1
                elif inner == quote:
                    quote = ""
            elif inner in '`"':
                quote = inner
            elif inner == "}":
                break
            elif inner == "{":
                raise _template_error(close, _('a "{" cannot open inside a field'))
            close += 1
        else:
            raise _template_error(position, _('"{" is not closed'))
        text = template[position + 1 : close]
        if text:
            try:
                path = parse_path(text)
            except PathError as error:
                raise ValueError(
                    _("position %(position)s: %(reason)s")
                    % {"position": position + 1 + error.position, "reason": error.reason}
                ) from None
            if path.has_projection:
                raise _template_error(position, _('"[*]" gives a list, which cannot go into a text'))
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(path if text else _INPUT)
        position = close + 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def _check_template(template: str) -> str | None:
    try:
        _parse_template(template)
    except ValueError as error:
        return str(error)
    return None


def _concatenate(value, step, context):
    record = context.record
    pieces = []
    for part in step.prepared:
        if type(part) is str:
            pieces.append(part)
            continue
        found = value if part is _INPUT else part.get(record)
        if found is None:
            continue
        if isinstance(found, str):
            pieces.append(found)
        elif isinstance(found, bool) or not isinstance(found, int | float | Decimal):
            field = "{}" if part is _INPUT else f"{{{part}}}"
            raise _error("concatenate", _("%(op)s: %(field)s is %(value)s, not text"), found, field=field)
        else:
            pieces.append(_plain_number(found, "concatenate"))
    return _limit("concatenate", "".join(pieces))


_register(
    Transform(
        key="concatenate",
        label=gettext_lazy("Combine fields"),
        description=gettext_lazy(
            "Builds a text from fields of the record: “{firstname} {lastname}”. Each {…} is a path "
            "in the source record, {} is the value of this step; write {{ and }} for braces. "
            "Missing fields give nothing; a field holding a list, an object or true/false fails the record."
        ),
        params=(
            Param(
                "format",
                "text",
                label=gettext_lazy("Text with fields"),
                help=gettext_lazy("e.g. {firstname} {lastname}"),
                check=_check_template,
            ),
        ),
        accepts=frozenset({ANY}),
        returns="text",
        func=_concatenate,
        category="structure",
        passes_none=False,
        prepare=lambda params: _parse_template(params["format"]),
    )
)


def _default(value, step, context):
    return step["value"] if _is_empty(value) else value


_register(
    Transform(
        key="default",
        label=gettext_lazy("Default value"),
        description=gettext_lazy(
            "Gives a fixed text when the value is empty (missing, blank text, empty list or "
            "object); any other value goes through unchanged."
        ),
        params=(Param("value", "text", label=gettext_lazy("Default value")),),
        accepts=frozenset({ANY}),
        returns="any",
        func=_default,
        category="structure",
        passes_none=False,
    )
)


def _first_non_empty(value, step, context):
    if step["include_input"] and not _is_empty(value):
        return value
    record = context.record
    for path in step.prepared:
        found = path.get(record)
        if not _is_empty(found):
            return found
    return None


_register(
    Transform(
        key="first_non_empty",
        label=gettext_lazy("First non-empty field"),
        description=gettext_lazy(
            "Gives the first value that is not empty: this step's value (unless told not to), then "
            "the listed fields of the record in order. Empty when all are. Takes any value."
        ),
        params=(
            Param(
                "paths",
                "list",
                item_type="path",
                label=gettext_lazy("Fields to try"),
                help=gettext_lazy("One path per line, e.g. values.name[locale=fr_FR].data"),
            ),
            Param(
                "include_input",
                "boolean",
                required=False,
                default=True,
                label=gettext_lazy("Try this step's value first"),
            ),
        ),
        accepts=frozenset({ANY}),
        returns="any",
        func=_first_non_empty,
        category="structure",
        passes_none=False,
        may_return_none=True,
        prepare=lambda params: tuple(parse_path(text) for text in params["paths"]),
    )
)


def _pick(value, step, context):
    return step.prepared.get(value)


_register(
    Transform(
        key="pick",
        label=gettext_lazy("Field inside the value"),
        description=gettext_lazy(
            "Reads a field inside the value when it is an object or a list, with a path: “amount” "
            "of {amount, unit}, “[0]” of a list. Empty when the field is absent."
        ),
        params=(
            Param(
                "path", "path", label=gettext_lazy("Path inside the value"), help=gettext_lazy("e.g. amount")
            ),
        ),
        accepts=frozenset({LIST, OBJECT}),
        returns="any",
        func=_pick,
        category="structure",
        may_return_none=True,
        prepare=lambda params: parse_path(params["path"]),
    )
)


# --- numbers ---------------------------------------------------------------------------------------

_NUMERIC = frozenset({TEXT, NUMBER})


def _to_int(value, step, context):
    if type(value) is int:
        return value
    number = _decimal(value, "to_int", whole=True)
    if number != number.to_integral_value():
        raise _not_a_number("to_int", value, whole=True)
    return int(number)


_EXPONENTS = {places: Decimal(1).scaleb(-places) for places in range(13)}


def _quantize(op, value, number, places, rounding) -> Decimal:
    try:
        return number.quantize(_EXPONENTS[places], rounding=ROUNDINGS[rounding], context=_DECIMALS)
    except DecimalException:
        raise _out_of_range(op, value) from None


def _to_decimal(value, step, context):
    number = _decimal(value, "to_decimal")
    if step["places"] is None:
        return number
    return _quantize("to_decimal", value, number, step["places"], step["rounding"])


def _round(value, step, context):
    return _quantize("round", value, _decimal(value, "round"), step["places"], step["rounding"])


def _multiply(value, step, context):
    number = _decimal(value, "multiply")
    try:
        return _DECIMALS.multiply(number, step["factor"])
    except DecimalException:
        raise _out_of_range("multiply", value) from None


def _divide(value, step, context):
    number = _decimal(value, "divide")
    try:
        return _DECIMALS.divide(number, step["divisor"])
    except DecimalException:
        raise _out_of_range("divide", value) from None


def _unit_convert(value, step, context):
    number = _decimal(value, "unit_convert")
    source, target = UNITS[step["from"]][1], UNITS[step["to"]][1]
    try:
        return _DECIMALS.divide(_DECIMALS.multiply(number, source), target)
    except DecimalException:
        raise _out_of_range("unit_convert", value) from None


def _check_units(params) -> dict:
    source, target = UNITS[params["from"]][0], UNITS[params["to"]][0]
    if source != target:
        return {
            "to": _("cannot convert %(source)s to %(target)s")
            % {"source": _DIMENSIONS[source], "target": _DIMENSIONS[target]}
        }
    return {}


_DIMENSIONS = {
    "mass": gettext_lazy("a mass"),
    "length": gettext_lazy("a length"),
    "volume": gettext_lazy("a volume"),
}


def _places_param(required: bool, default) -> Param:
    return Param(
        "places",
        "integer",
        required=required,
        default=default,
        min_value=0,
        max_value=12,
        label=gettext_lazy("Decimal places"),
    )


def _rounding_param() -> Param:
    return Param(
        "rounding",
        "choice",
        required=False,
        default="half_up",
        choices=_ROUNDING_CHOICES,
        label=gettext_lazy("Rounding"),
    )


def _number_spec(key, label, description, func, params=(), returns="decimal", **kwargs) -> Transform:
    return _register(
        Transform(
            key=key,
            label=label,
            description=description,
            params=tuple(params),
            accepts=_NUMERIC,
            returns=returns,
            func=func,
            category="number",
            **kwargs,
        )
    )


_number_spec(
    "to_int",
    gettext_lazy("Whole number"),
    gettext_lazy(
        "Reads a whole number from a number or a text such as “12” or “12.0”; “12.5” or “12,5” "
        "fail the record (round first to accept decimals)."
    ),
    _to_int,
    returns="integer",
)
_number_spec(
    "to_decimal",
    gettext_lazy("Decimal number"),
    gettext_lazy(
        "Reads an exact decimal number from a number or a text such as “12.50” (a dot as the "
        "separator), rounded to the given decimal places if any."
    ),
    _to_decimal,
    params=[_places_param(False, None), _rounding_param()],
)
_number_spec(
    "round",
    gettext_lazy("Round"),
    gettext_lazy("Rounds a number (or numeric text) to the given decimal places; gives a decimal number."),
    _round,
    params=[_places_param(False, 0), _rounding_param()],
)
_number_spec(
    "multiply",
    gettext_lazy("Multiply"),
    gettext_lazy(
        "Multiplies a number (or numeric text) exactly, e.g. by 100 for units to cents; gives a "
        "decimal number."
    ),
    _multiply,
    params=[Param("factor", "decimal", label=gettext_lazy("Factor"))],
)
_number_spec(
    "divide",
    gettext_lazy("Divide"),
    gettext_lazy(
        "Divides a number (or numeric text), e.g. by 100 for cents to units; gives a decimal "
        "number (34 significant digits: round after it if needed)."
    ),
    _divide,
    params=[
        Param(
            "divisor",
            "decimal",
            label=gettext_lazy("Divisor"),
            check=lambda value: _("must not be zero") if value == 0 else None,
        )
    ],
)
_number_spec(
    "unit_convert",
    gettext_lazy("Convert units"),
    gettext_lazy(
        "Converts a mass (g, kg, lb, oz), a length (mm, cm, m, in) or a volume (ml, l) exactly; "
        "gives a decimal number."
    ),
    _unit_convert,
    params=[
        Param("from", "choice", choices=_UNIT_CHOICES, label=pgettext_lazy("unit conversion", "From")),
        Param("to", "choice", choices=_UNIT_CHOICES, label=pgettext_lazy("unit conversion", "To")),
    ],
    check=_check_units,
)


# --- dates ------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _zone_names() -> frozenset:
    # "localtime" depends on the machine: a flow must mean the same wherever it runs.
    return frozenset(zoneinfo.available_timezones()) - {"localtime"}


@lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


_SAMPLE_MOMENT = datetime(2001, 2, 3, 4, 5, 6, 7000, tzinfo=UTC)


def _check_date_format(pattern: str) -> str | None:
    position = pattern.find("%")
    while position >= 0:
        directive = pattern[position + 1 : position + 2]
        if not directive:
            return _('ends with a lone "%"')
        if directive not in _DATE_DIRECTIVES:
            return _('"%%%(directive)s" is not a supported directive') % {"directive": directive}
        position = pattern.find("%", position + 2)
    if "\x00" in pattern:
        return _("is not a valid date format")
    try:
        _SAMPLE_MOMENT.strftime(pattern)
    except (ValueError, UnicodeError):
        return _("is not a valid date format")
    return None


def _check_parse_format(params) -> dict:
    pattern = params["format"]
    if not pattern:
        return {}
    try:
        datetime.strptime(_SAMPLE_MOMENT.strftime(pattern), pattern)
    except re.error:  # strptime builds a pattern with one group per directive
        return {"format": _("cannot read dates: a directive appears twice")}
    except ValueError as error:
        return {"format": _("cannot read dates: %(reason)s") % {"reason": error}}
    return {}


def _iso(text: str, op: str, value):
    if len(text) > 64:
        raise _error(op, _("%(op)s: %(value)s is not an ISO 8601 date"), value)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise _error(op, _("%(op)s: %(value)s is not an ISO 8601 date"), value) from None


def _parse_date(value, step, context):
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = value.strip()
        pattern = step["format"]
        if not pattern:
            moment = _iso(text, "parse_date", value)
        else:
            try:
                if len(text) > 200:
                    raise ValueError
                moment = datetime.strptime(text, pattern)
            except (ValueError, OverflowError, re.error):
                raise _error(
                    "parse_date", _("%(op)s: %(value)s does not match %(format)s"), value, format=pattern
                ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone(step["timezone"]))
    return moment


_register(
    Transform(
        key="parse_date",
        label=gettext_lazy("Read a date"),
        description=gettext_lazy(
            "Reads a date and time from text, in ISO 8601 (2024-03-01, 2024-03-01T10:00:00+01:00) or "
            "in the given format (%d/%m/%Y %H:%M). A value without an offset is taken in the given "
            "time zone. Takes text, a date or a date and time; gives a date and time with its zone."
        ),
        params=(
            Param(
                "format",
                "date_format",
                required=False,
                default="",
                label=gettext_lazy("Format"),
                help=gettext_lazy("Empty for ISO 8601; e.g. %d/%m/%Y %H:%M"),
            ),
            Param(
                "timezone",
                "timezone",
                required=False,
                default="UTC",
                label=gettext_lazy("Time zone of the input"),
                help=gettext_lazy("e.g. Europe/Paris; used when the text has no offset"),
            ),
        ),
        accepts=frozenset({TEXT, DATE, DATETIME}),
        returns="datetime",
        func=_parse_date,
        category="date",
        check=_check_parse_format,
    )
)


def _format_date(value, step, context):
    if isinstance(value, str):
        value = _iso(value.strip(), "format_date", value)
    zone = step["timezone"]
    try:
        if zone and isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(_zone(zone))
        pattern = step["format"]
        return value.strftime(pattern) if pattern else value.isoformat()
    except (ValueError, OverflowError):
        raise _error("format_date", _("%(op)s: %(value)s cannot be written in this format"), value) from None


_register(
    Transform(
        key="format_date",
        label=gettext_lazy("Write a date"),
        description=gettext_lazy(
            "Writes a date or a date and time as text, in ISO 8601 or the given format, after "
            "moving it to the given time zone (a value without zone is written as it is). Takes a "
            "date, a date and time, or ISO 8601 text."
        ),
        params=(
            Param(
                "format",
                "date_format",
                required=False,
                default="",
                label=gettext_lazy("Format"),
                help=gettext_lazy("Empty for ISO 8601; e.g. %d/%m/%Y"),
            ),
            Param(
                "timezone",
                "timezone",
                required=False,
                default="",
                label=gettext_lazy("Output time zone"),
                help=gettext_lazy("Empty to keep the value's own zone"),
            ),
        ),
        accepts=frozenset({TEXT, DATE, DATETIME}),
        returns="text",
        func=_format_date,
        category="date",
    )
)


# --- lookups ----------------------------------------------------------------------------------------


def _prepare_bool_map(params) -> tuple:
    return (
        frozenset(item.strip().casefold() for item in params["true_values"]),
        frozenset(item.strip().casefold() for item in params["false_values"]),
    )


def _check_bool_map(params) -> dict:
    errors = {}
    both = _prepare_bool_map(params)
    overlap = both[0] & both[1]
    if overlap:
        errors["false_values"] = _("%(values)s cannot be both true and false") % {
            "values": ", ".join(sorted(overlap))
        }
    if (params["true_output"] is None) != (params["false_output"] is None):
        name = "false_output" if params["false_output"] is None else "true_output"
        errors[name] = _("give both outputs, or neither for true/false")
    return errors


def _bool_map(value, step, context):
    if isinstance(value, bool):
        result = value
    else:
        key = _key_text(value, "bool_map").strip().casefold()
        trues, falses = step.prepared
        if key in trues:
            result = True
        elif key in falses:
            result = False
        else:
            raise _error("bool_map", _("%(op)s: %(value)s is neither true nor false"), value)
    if step["true_output"] is None:
        return result
    return step["true_output"] if result else step["false_output"]


_register(
    Transform(
        key="bool_map",
        label=gettext_lazy("Yes/no"),
        description=gettext_lazy(
            "Reads yes/no values: the texts listed as true or false (any case), booleans as they "
            "are, numbers by their text. Gives true/false, or the two output texts if given. "
            "Any other value fails the record."
        ),
        params=(
            Param(
                "true_values",
                "list",
                required=False,
                default=list(_BOOL_TRUE),
                label=gettext_lazy("Texts meaning yes"),
            ),
            Param(
                "false_values",
                "list",
                required=False,
                default=list(_BOOL_FALSE),
                label=gettext_lazy("Texts meaning no"),
            ),
            Param("true_output", "text", required=False, label=gettext_lazy("Output for yes")),
            Param("false_output", "text", required=False, label=gettext_lazy("Output for no")),
        ),
        accepts=frozenset({TEXT, NUMBER, BOOLEAN}),
        returns="any",
        returns_for=lambda params: "boolean" if params.get("true_output") is None else "text",
        func=_bool_map,
        category="lookup",
        prepare=_prepare_bool_map,
        check=_check_bool_map,
    )
)


def _map(value, step, context):
    key = _key_text(value, "map")
    mapping = step["mapping"]
    if key in mapping:
        return mapping[key]
    missing = step["missing"]
    if missing == "keep":
        return value
    if missing == "empty":
        return None
    raise _error("map", _("%(op)s: %(value)s is not in the table"), value)


_register(
    Transform(
        key="map",
        label=gettext_lazy("Translate values (table)"),
        description=gettext_lazy(
            "Replaces a value by the one the table gives for it (keys compared as text: 1 is “1”, "
            "true is “true”). A value not in the table is kept, emptied or fails the record."
        ),
        params=(
            Param("mapping", "mapping", label=gettext_lazy("Table")),
            Param(
                "missing",
                "choice",
                required=False,
                default="error",
                choices=(
                    ("error", gettext_lazy("Fail the record")),
                    ("keep", gettext_lazy("Keep the value")),
                    ("empty", gettext_lazy("Leave empty")),
                ),
                label=gettext_lazy("Value not in the table"),
            ),
        ),
        accepts=frozenset({TEXT, NUMBER, BOOLEAN}),
        returns="any",
        func=_map,
        category="lookup",
        may_return_none=True,
    )
)


def _value_map(value, step, context):
    if context.value_map is None:
        raise _error("value_map", _("%(op)s: value maps cannot be read here"))
    return context.value_map(step["map"], _key_text(value, "value_map"))


_register(
    Transform(
        key="value_map",
        label=gettext_lazy("Translate values (value map)"),
        description=gettext_lazy(
            "Looks the value up in a shared value map (keys as text: 1 is “1”, true is “true”); "
            "the map decides what happens to a value it lacks."
        ),
        params=(Param("map", "value_map", label=gettext_lazy("Value map")),),
        accepts=frozenset({TEXT, NUMBER, BOOLEAN}),
        returns="any",
        func=_value_map,
        category="lookup",
        may_return_none=True,
    )
)


def _link_lookup(value, step, context):
    if context.link_lookup is None:
        raise _error("link_lookup", _("%(op)s: links cannot be read here"))
    return context.link_lookup(step["system"], step["entity"], _key_text(value, "link_lookup"))


_register(
    Transform(
        key="link_lookup",
        label=gettext_lazy("Linked record's id"),
        description=gettext_lazy(
            "Gives the id, in another system, of the record linked to this id (a customer's id in "
            "the ERP from its id in the shop). Takes text or a number."
        ),
        params=(
            Param("system", "text", label=gettext_lazy("Target system")),
            Param("entity", "text", label=gettext_lazy("Entity"), help=gettext_lazy("e.g. customer")),
        ),
        accepts=_TEXTLIKE,
        returns="any",
        func=_link_lookup,
        category="lookup",
        may_return_none=True,
    )
)


# --- validation --------------------------------------------------------------------------------------


class _Invalid(Exception):
    pass


def _clean_text(param: Param, raw) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise _Invalid(_("must be a text"))
    text = raw if isinstance(raw, str) else str(raw)
    if len(text) > _MAX_PARAM_TEXT:
        raise _Invalid(_("is too long (%(max)s characters at most)") % {"max": _MAX_PARAM_TEXT})
    if param.required and not text and not param.allow_blank:
        raise _Invalid(_("this parameter is required"))
    return text


def _clean_integer(param: Param, raw) -> int:
    if isinstance(raw, bool):
        raise _Invalid(_("must be a whole number"))
    if isinstance(raw, int):
        number = raw
    elif isinstance(raw, str) and _INTEGER_TEXT.fullmatch(raw.strip()):
        number = int(raw.strip())
    elif isinstance(raw, float | Decimal) and _parse_number(raw) is not None and raw == int(raw):
        number = int(raw)
    else:
        raise _Invalid(_("must be a whole number"))
    _check_bounds(param, number)
    return number


def _clean_decimal(param: Param, raw) -> Decimal:
    number = None if isinstance(raw, bool) else _parse_number(raw)
    if number is None:
        raise _Invalid(_("must be a number (with a dot for decimals)"))
    if number.adjusted() > 30:
        raise _Invalid(_("is too large"))
    _check_bounds(param, number)
    return number


def _check_bounds(param: Param, number) -> None:
    if param.min_value is not None and number < param.min_value:
        raise _Invalid(_("must be at least %(min)s") % {"min": param.min_value})
    if param.max_value is not None and number > param.max_value:
        raise _Invalid(_("must be at most %(max)s") % {"max": param.max_value})


def _clean_boolean(param: Param, raw) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.strip().casefold()
        if word in ("true", "1", "yes", "on"):
            return True
        if word in ("false", "0", "no", "off"):
            return False
    raise _Invalid(_("must be true or false"))


def _clean_choice(param: Param, raw) -> str:
    value = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if value not in param.choice_values:
        raise _Invalid(
            _("%(value)s is not one of: %(choices)s")
            % {"value": _show(raw), "choices": ", ".join(param.choice_values)}
        )
    return value


def _clean_list(param: Param, raw) -> list:
    if isinstance(raw, str):
        raw = [line for line in raw.replace("\r", "").split("\n") if line.strip()]
    if not isinstance(raw, list | tuple):
        raise _Invalid(_("must be a list of texts"))
    if len(raw) > _MAX_LIST_ITEMS:
        raise _Invalid(_("has too many items (%(max)s at most)") % {"max": _MAX_LIST_ITEMS})
    items = []
    for number, item in enumerate(raw, start=1):
        if isinstance(item, bool) or not isinstance(item, str | int | Decimal):
            raise _Invalid(_("item %(number)s must be a text") % {"number": number})
        text = item if isinstance(item, str) else str(item)
        if len(text) > _MAX_PARAM_TEXT:
            raise _Invalid(_("item %(number)s is too long") % {"number": number})
        if param.item_type == "path":
            try:
                text = str(parse_path(text))
            except PathError as error:
                raise _Invalid(
                    _("item %(number)s: %(reason)s") % {"number": number, "reason": error.message}
                ) from None
        items.append(text)
    if param.required and not items:
        raise _Invalid(_("this parameter is required"))
    return items


def _clean_mapping(param: Param, raw) -> dict:
    if isinstance(raw, list | tuple):
        if not all(isinstance(pair, list | tuple) and len(pair) == 2 for pair in raw):
            raise _Invalid(_("must be a table of texts"))
        raw = dict(raw) if all(_hashable_text(key) for key, _value in raw) else None
    if not isinstance(raw, dict):
        raise _Invalid(_("must be a table of texts"))
    if len(raw) > _MAX_MAPPING_ITEMS:
        raise _Invalid(_("has too many entries (%(max)s at most)") % {"max": _MAX_MAPPING_ITEMS})
    table = {}
    for key, value in raw.items():
        if not _hashable_text(key) or not (value is None or _hashable_text(value)):
            raise _Invalid(_("must be a table of texts"))
        table[str(key)] = value if value is None or isinstance(value, str) else str(value)
    if param.required and not table:
        raise _Invalid(_("this parameter is required"))
    return table


def _hashable_text(value) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _clean_regex(param: Param, raw) -> str:
    pattern = _clean_text(param, raw)
    try:
        _compile_pattern(pattern)
    except PatternError as error:
        reason = error.args[0] if error.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise _Invalid(_("is not a valid pattern: %(reason)s") % {"reason": reason}) from None
    except (UnicodeError, TypeError, ValueError):
        raise _Invalid(_("is not a valid pattern")) from None
    return pattern


def _clean_timezone(param: Param, raw) -> str:
    name = _clean_text(param, raw).strip()
    if name not in _zone_names():
        raise _Invalid(_("%(value)s is not a known time zone (e.g. Europe/Paris)") % {"value": _show(name)})
    return name


def _clean_date_format(param: Param, raw) -> str:
    pattern = _clean_text(param, raw)
    message = _check_date_format(pattern)
    if message:
        raise _Invalid(message)
    return pattern


def _clean_path(param: Param, raw) -> str:
    text = _clean_text(param, raw)
    try:
        return str(parse_path(text))
    except PathError as error:
        raise _Invalid(error.message) from None


def _clean_value_map(param: Param, raw) -> str:
    name = _clean_text(param, raw).strip()
    if not name:
        raise _Invalid(_("this parameter is required"))
    return name


_CLEANERS = {
    "text": _clean_text,
    "integer": _clean_integer,
    "decimal": _clean_decimal,
    "boolean": _clean_boolean,
    "choice": _clean_choice,
    "list": _clean_list,
    "mapping": _clean_mapping,
    "regex": _clean_regex,
    "timezone": _clean_timezone,
    "date_format": _clean_date_format,
    "path": _clean_path,
    "value_map": _clean_value_map,
}


def _clean(step, value_maps: Container[str] | None) -> tuple[CleanStep | None, dict[str, str]]:
    if not isinstance(step, dict):
        return None, {"op": _("a step must be an object with an “op”")}
    op = step.get("op")
    if not op:
        return None, {"op": _("choose a transform")}
    spec = TRANSFORMS.get(op) if isinstance(op, str) else None
    if spec is None:
        return None, {"op": _("unknown transform %(op)s") % {"op": _show(op)}}
    errors: dict[str, str] = {}
    clean = CleanStep(op=op)
    known = {"op"}
    for param in spec.params:
        known.add(param.name)
        raw = step.get(param.name)
        if raw is None or (isinstance(raw, str) and raw == "" and not param.allow_blank):
            if param.required:
                errors[param.name] = _("this parameter is required")
            else:
                default = param.default
                clean[param.name] = list(default) if isinstance(default, list) else default
            continue
        try:
            value = _CLEANERS[param.type](param, raw)
            if param.type == "value_map" and value_maps is not None and value not in value_maps:
                raise _Invalid(_("there is no value map named %(name)s") % {"name": _show(value)})
            if param.check is not None:
                message = param.check(value)
                if message:
                    raise _Invalid(message)
        except _Invalid as error:
            errors[param.name] = str(error)
            continue
        clean[param.name] = value
    for name in step:
        if name not in known:
            errors[str(name)] = _("unknown parameter of %(op)s") % {"op": op}
    if not errors and spec.check is not None:
        errors.update(spec.check(clean))
    if errors:
        return None, errors
    clean.spec = spec
    clean.prepared = spec.prepare(clean) if spec.prepare is not None else None
    return clean, {}


def validate_step(step: dict, *, value_maps: Container[str] | None = None) -> dict[str, str]:
    """``{parameter or "op": message}`` for what is wrong with one step; empty when it is fine.

    ``value_maps``, when given, is the names of the existing value maps (the forms pass it).
    """
    return _clean(step, value_maps)[1]


def validate_chain(chain: list[dict], *, value_maps: Container[str] | None = None) -> list[dict[str, str]]:
    """``validate_step`` for each step, in order (so the list is as long as the chain)."""
    if not isinstance(chain, list | tuple):
        return [{"op": _("a chain must be a list of steps")}]
    return [validate_step(step, value_maps=value_maps) for step in chain]


def clean_step(step: dict, *, value_maps: Container[str] | None = None) -> CleanStep:
    """The normalised step (numbers from text converted, defaults filled in), or ``ChainError``."""
    clean, errors = _clean(step, value_maps)
    if errors:
        raise ChainError([errors])
    return clean


def clean_chain(chain: list[dict], *, value_maps: Container[str] | None = None) -> list[CleanStep]:
    """The normalised chain, or ``ChainError`` carrying ``validate_chain``'s per-step errors."""
    if not isinstance(chain, list | tuple):
        raise ChainError([{"op": _("a chain must be a list of steps")}])
    results = [_clean(step, value_maps) for step in chain]
    if any(errors for _clean_step, errors in results):
        raise ChainError([errors for _clean_step, errors in results])
    return [clean for clean, _errors in results]


# --- applying ----------------------------------------------------------------------------------------


def apply_chain(value, chain: list, context: TransformContext | None = None):
    """``value`` through each step in order; ``RecordError`` when the data does not fit a step.

    Steps should come from ``clean_chain`` (checked and compiled once); a raw step is cleaned on
    the way, at a cost, and raises ``ChainError`` if invalid.
    """
    if context is None:
        context = _NO_CONTEXT
    for step in chain:
        if type(step) is not CleanStep:
            step = clean_step(step)
        spec = step.spec
        if value is None:
            if spec.passes_none:
                continue
        elif type(value) not in spec._types and not spec._accepts_any and _kind(value) not in spec.accepts:
            raise _error(
                spec.key, _("%(op)s: expects %(expected)s, got %(value)s"), value, expected=spec.accepts_label
            )
        value = spec.func(value, step, context)
    return value


def try_transform(value_text, step: dict, context: TransformContext | None = None) -> tuple[bool, Any]:
    """For the designer's “try it” box: ``(True, result)`` or ``(False, message)``, never an exception."""
    try:
        clean = clean_step(step)
    except ChainError as error:
        return False, "; ".join(f"{name}: {message}" for name, message in error.errors[0].items())
    try:
        return True, apply_chain(value_text, [clean], context)
    except (RecordError, ConfigError) as error:
        return False, error.message
