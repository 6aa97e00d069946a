"""The path language of mappings: where a value sits in a JSON-like record, and where to put it.

A mapping names each source and target field with a path. Paths are parsed once (``parse_path`` is
cached by text) and evaluated for every record, so the parsed form is a flat tuple of steps walked
by one loop, and ``Path.get`` allocates nothing unless a projection builds its list.

Syntax (strict: no space outside quotes, so a path means one thing only):

- ``a.b.c`` — dotted keys of nested objects;
- ``items[0]``, ``items[-1]`` — a list item by index (negative counts from the end);
- ``values.name[locale=fr_FR].data`` — a filter: the FIRST item of the list whose fields match;
  several conditions ``[locale=fr_FR,scope=ecommerce]``; ``null`` matches a field that is None or
  absent; values may be double-quoted (``[code="a,b"]``, ``\\"`` and ``\\\\`` escape inside);
  a text condition matches a text field equal to it, or a number or boolean whose text form
  (``3``, ``1.5``, ``true``) equals it;
- ``lines[*].sku`` — a projection: a list with the rest of the path evaluated on each item, items
  where it finds nothing skipped (a projection inside a projection gives a list of lists);
- ``\\`odd.key\\`.x`` — keys (and filter fields) holding dots, brackets, spaces… between backticks,
  a backtick inside doubled;
- a path may start with a bracket (``[0].sku``) for records that are lists; the empty path is the
  whole record.

A key never indexes a list (``lines.0`` finds nothing: write ``lines[0]``), so a key that looks
like a number is still a key.
"""

from functools import lru_cache

from django.utils.translation import gettext as _

__all__ = ["Path", "PathError", "parse_path"]

_MISSING = object()

# Step kinds, compared by identity in the hot loop.
_KEY = 0
_INDEX = 1
_FILTER = 2
_PROJECT = 3

# What cannot appear in a bare (unquoted) key, filter field or filter value.
_KEY_STOP = frozenset(".[]`")
_FIELD_STOP = frozenset('.[]`,="')
_VALUE_STOP = frozenset('[]`,="')


class PathError(ValueError):
    """A path that does not parse, or a target path that cannot be set.

    ``position`` counts characters from 1 (None for errors that are not about the text), so the
    message can point at the character a person has to fix.
    """

    def __init__(self, message: str, position: int | None = None, reason: str = ""):
        super().__init__(message)
        self.message = message
        self.position = position
        self.reason = reason or message

    def __str__(self):
        return self.message


def _error(position: int, reason: str) -> PathError:
    return PathError(
        _("position %(position)s: %(reason)s") % {"position": position + 1, "reason": reason},
        position + 1,
        reason,
    )


def _expected(position: int, what: str) -> PathError:
    return _error(position, _("expected %(what)s") % {"what": what})


def _field_matches(field_value, wanted) -> bool:
    """Whether one item field matches one filter value (text, or None for ``null``)."""
    if wanted is None:
        return field_value is None
    kind = type(field_value)
    if kind is str:
        return field_value == wanted
    if kind is bool:
        return wanted == ("true" if field_value else "false")
    if kind is int:
        try:
            return wanted == str(field_value)
        except ValueError:  # more digits than Python converts to text: no filter value is that long
            return False
    if field_value is None or isinstance(field_value, dict | list):
        return False
    if isinstance(field_value, str):
        return field_value == wanted
    try:
        return wanted == str(field_value)
    except ValueError:  # an int too long for str()
        return False


def _item_matches(item, conditions) -> bool:
    if not isinstance(item, dict):
        return False
    # A loop, not all() over a generator: filters run for every record, and this is twice as fast.
    for field, wanted in conditions:
        found = item.get(field)
        if type(found) is str:  # the common case, inlined
            if found != wanted:
                return False
        elif not _field_matches(found, wanted):
            return False
    return True


class Path:
    """A parsed path. Immutable; equal when the parsed steps are equal; ``str()`` gives the canonical text."""

    __slots__ = ("_keys", "_steps", "_text")

    def __init__(self, steps: tuple = ()):
        # steps: (kind, argument) pairs; a projection's argument is the Path of the rest.
        self._steps = steps
        self._keys = tuple(arg for _kind, arg in steps) if all(k == _KEY for k, _a in steps) else None
        self._text = None

    @property
    def keys(self) -> tuple | None:
        """The keys of a path made of plain keys only (``a.b`` → ``("a", "b")``); None otherwise."""
        return self._keys

    # --- reading ---------------------------------------------------------------------------

    def get(self, value, default=None):
        """The value at this path in ``value``, or ``default`` when anything is missing or of another shape."""
        keys = self._keys
        if keys is not None:
            for key in keys:
                if type(value) is dict or isinstance(value, dict):
                    value = value.get(key, _MISSING)
                    if value is _MISSING:
                        return default
                else:
                    return default
            return value
        for kind, arg in self._steps:
            if kind == _KEY:
                if not isinstance(value, dict):
                    return default
                value = value.get(arg, _MISSING)
                if value is _MISSING:
                    return default
            elif kind == _INDEX:
                if not isinstance(value, list) or not -len(value) <= arg < len(value):
                    return default
                value = value[arg]
            elif kind == _FILTER:
                if not isinstance(value, list):
                    return default
                for item in value:
                    if _item_matches(item, arg):
                        value = item
                        break
                else:
                    return default
            else:  # projection: the rest of the path on each item
                if not isinstance(value, list):
                    return default
                result = []
                for item in value:
                    found = arg.get(item, _MISSING)
                    if found is not _MISSING:
                        result.append(found)
                return result
        return value

    # --- writing ---------------------------------------------------------------------------

    def set(self, target: dict, value) -> None:
        """Put ``value`` at this path in ``target``, building the objects and filtered items that are missing.

        A filter finds its item or appends one holding the filter's fields (``null`` as None); an
        index must already exist; a projection cannot be set. A missing or None container is built;
        one of another shape (a text where an object is needed) raises ``PathError`` rather than
        being overwritten.
        """
        steps = self._steps
        if not steps:
            raise PathError(_("the whole record cannot be set: name a field"))
        if steps[-1][0] == _FILTER:
            raise PathError(
                _('cannot set "%(path)s": a filter selects an item, name the field to set after it')
                % {"path": self}
            )
        current = target
        if not isinstance(current, dict if steps[0][0] == _KEY else list):
            raise self._shape_error(0, current)
        last = len(steps) - 1
        for position, (kind, arg) in enumerate(steps):
            if kind == _PROJECT:
                raise PathError(_('cannot set "%(path)s": "[*]" reads many items') % {"path": self})
            if kind == _KEY:
                if position == last:
                    current[arg] = value
                    return
                child = current.get(arg)
                if child is None:
                    child = current[arg] = self._new_container(position + 1)
            elif kind == _INDEX:
                if not -len(current) <= arg < len(current):
                    raise PathError(
                        _('cannot set "%(path)s": index %(index)s is not in a list of %(count)s items')
                        % {"path": self, "index": arg, "count": len(current)}
                    )
                if position == last:
                    current[arg] = value
                    return
                child = current[arg]
                if child is None:
                    child = current[arg] = self._new_container(position + 1)
            else:  # filter: the first matching item, or a new one
                for item in current:
                    if _item_matches(item, arg):
                        child = item
                        break
                else:
                    child = dict(arg)
                    current.append(child)
            expected = dict if steps[position + 1][0] == _KEY else list
            if not isinstance(child, expected):
                raise self._shape_error(position + 1, child)
            current = child

    def _new_container(self, position: int):
        return {} if self._steps[position][0] == _KEY else []

    def _shape_error(self, position: int, found) -> PathError:
        wanted = _("an object") if self._steps[position][0] == _KEY else _("a list")
        return PathError(
            _('cannot set "%(path)s": %(wanted)s is needed where there is %(found)s')
            % {"path": self, "wanted": wanted, "found": _describe(found)}
        )

    # --- identity and text -----------------------------------------------------------------

    @property
    def is_empty(self) -> bool:
        return not self._steps

    @property
    def has_projection(self) -> bool:
        """Whether ``get`` returns a list of found values (and ``set`` is refused)."""
        return any(kind == _PROJECT for kind, _arg in self._steps)

    def __eq__(self, other):
        if not isinstance(other, Path):
            return NotImplemented
        return self._steps == other._steps

    def __hash__(self):
        return hash(self._steps)

    def __repr__(self):
        return f"Path({str(self)!r})"

    def __str__(self):
        if self._text is None:
            self._text = _render(self._steps)
        return self._text


def _describe(value) -> str:
    if isinstance(value, str):
        return _("a text")
    if isinstance(value, list):
        return _("a list")
    if isinstance(value, dict):
        return _("an object")
    return _("a value")


# --- canonical text ---------------------------------------------------------------------------


def _is_bare(text: str, stop: frozenset) -> bool:
    return bool(text) and not any(char in stop or char.isspace() for char in text)


def _render_name(name: str, stop: frozenset) -> str:
    if _is_bare(name, stop):
        return name
    return "`" + name.replace("`", "``") + "`"


def _render_value(value) -> str:
    if value is None:
        return "null"
    if _is_bare(value, _VALUE_STOP) and value != "null":
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _render(steps) -> str:
    parts = []
    for kind, arg in steps:
        if kind == _KEY:
            if parts:
                parts.append(".")
            parts.append(_render_name(arg, _KEY_STOP))
        elif kind == _INDEX:
            parts.append(f"[{arg}]")
        elif kind == _FILTER:
            conditions = ",".join(f"{_render_name(f, _FIELD_STOP)}={_render_value(v)}" for f, v in arg)
            parts.append(f"[{conditions}]")
        else:
            parts.append("[*]")
            rest = str(arg)
            if rest:
                parts.append(rest if rest.startswith("[") else "." + rest)
            break
    return "".join(parts)


# --- parsing ----------------------------------------------------------------------------------


class _Parser:
    __slots__ = ("pos", "text")

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def fail_here(self, what: str):
        char = self.peek()
        if char and char.isspace():
            raise _error(
                self.pos, _('unexpected space: put names with spaces in `backticks`, values in "quotes"')
            )
        raise _expected(self.pos, what)

    def parse(self) -> tuple:
        steps = []
        if self.peek() != "[":
            steps.append((_KEY, self.name(_KEY_STOP, _("a key"))))
        while True:
            while self.peek() == "[":
                steps.append(self.bracket())
            char = self.peek()
            if not char:
                break
            if char != ".":
                self.fail_here(_('"." or "["'))
            self.pos += 1
            steps.append((_KEY, self.name(_KEY_STOP, _("a key"))))
        return _link_projections(steps)

    def name(self, stop: frozenset, what: str) -> str:
        """A bare or backtick-quoted name (key or filter field)."""
        text, start = self.text, self.pos
        if self.peek() == "`":
            return self.backticked()
        end = start
        while end < len(text) and text[end] not in stop and not text[end].isspace():
            end += 1
        if end == start:
            self.fail_here(what)
        self.pos = end
        return text[start:end]

    def backticked(self) -> str:
        text, opening = self.text, self.pos
        self.pos += 1
        chunks = []
        while True:
            close = text.find("`", self.pos)
            if close < 0:
                raise _error(opening, _("unclosed backtick"))
            chunks.append(text[self.pos : close])
            if text.startswith("``", close):
                chunks.append("`")
                self.pos = close + 2
            else:
                self.pos = close + 1
                return "".join(chunks)

    def bracket(self):
        text = self.text
        self.pos += 1  # "["
        char = self.peek()
        if char == "*" and text.startswith("]", self.pos + 1):
            self.pos += 2
            return (_PROJECT, None)
        if char == "-" or char.isdigit():
            end = self.pos + 1
            while end < len(text) and text[end].isdigit():
                end += 1
            digits = text[self.pos : end]
            if digits != "-":
                if end < len(text) and text[end] == "]":
                    self.pos = end + 1
                    return (_INDEX, int(digits))
                if end == len(text) or text[end].isspace():
                    self.pos = end
                    self.fail_here('"]"')
        return (_FILTER, self.conditions())

    def conditions(self) -> tuple:
        conditions = []
        seen = set()
        while True:
            start = self.pos
            if not conditions and self.peek() in ("", "]"):
                self.fail_here(_('an index, "*" or a filter such as "field=value"'))
            field = self.name(_FIELD_STOP, _("a field name"))
            if field in seen:
                raise _error(start, _('the field "%(field)s" is filtered twice') % {"field": field})
            seen.add(field)
            if self.peek() != "=":
                self.fail_here('"="')
            self.pos += 1
            conditions.append((field, self.value()))
            char = self.peek()
            if char == "]":
                self.pos += 1
                return tuple(conditions)
            if char != ",":
                self.fail_here(_('"," or "]"'))
            self.pos += 1

    def value(self):
        text, start = self.text, self.pos
        if self.peek() == '"':
            return self.quoted()
        end = start
        while end < len(text) and text[end] not in _VALUE_STOP and not text[end].isspace():
            end += 1
        if end == start:
            self.fail_here(_("a value"))
        self.pos = end
        word = text[start:end]
        return None if word == "null" else word

    def quoted(self) -> str:
        text, opening = self.text, self.pos
        self.pos += 1
        chunks = []
        while True:
            end = self.pos
            while end < len(text) and text[end] not in '"\\':
                end += 1
            chunks.append(text[self.pos : end])
            if end >= len(text):
                raise _error(opening, _("unclosed quote"))
            if text[end] == '"':
                self.pos = end + 1
                return "".join(chunks)
            escaped = text[end + 1 : end + 2]
            if escaped not in ('"', "\\"):
                raise _error(end, _('unknown escape: only \\" and \\\\ are allowed in quotes'))
            chunks.append(escaped)
            self.pos = end + 2


def _link_projections(steps: list) -> tuple:
    """Fold everything after the first ``[*]`` into a sub-path, so ``get`` recurses only there."""
    for position, (kind, _arg) in enumerate(steps):
        if kind == _PROJECT:
            return (*steps[:position], (_PROJECT, Path(_link_projections(steps[position + 1 :]))))
    return tuple(steps)


def parse_path(text: str) -> Path:
    """The ``Path`` that ``text`` spells, or ``PathError`` naming the position and what was expected.

    Cached by text: a flow's paths are parsed once, however many records go through it.
    """
    if not isinstance(text, str):
        raise PathError(_("a path must be a text"))
    return _parse_cached(text)


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Path:
    if not text:
        return _ROOT
    return Path(_Parser(text).parse())


_ROOT = Path(())
