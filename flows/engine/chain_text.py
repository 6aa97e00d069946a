"""A transform chain as one readable line, the way the designer's mapping rows show and take it:

    trim | replace("-", " ") | to_decimal(2) | multiply(100) | value_map(colours)

Steps are separated by ``|``; a step is a transform key, optionally with arguments in brackets —
positional in the order the transform declares its parameters, or named (``places=2``). An argument is
a JSON value (``"text"``, ``2``, ``true``, ``["a", "b"]``, ``{"R": "Red"}``) or a bare word (``colours``,
``values.name[locale=fr_FR].data``). The same argument syntax writes quality-rule parameters
(``min=0, max=100``). ``format_chain`` writes a chain back so that parse → format → parse is stable.
"""

from __future__ import annotations

import json

from django.utils.translation import gettext as _

from flows.engine.transforms import TRANSFORMS


class ChainTextError(ValueError):
    def __init__(self, position: int, message: str):
        super().__init__(_("position %(p)s: %(m)s") % {"p": position, "m": message})
        self.position = position


_DECODER = json.JSONDecoder()
_STOP = ",)|"


class _Reader:
    def __init__(self, text: str):
        self.text = text
        self.i = 0

    def skip(self):
        while self.i < len(self.text) and self.text[self.i] in " \t\r\n":
            self.i += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.i] if self.i < len(self.text) else ""

    def expect(self, char: str):
        if self.peek() != char:
            found = self.peek() or _("the end")
            raise ChainTextError(self.i + 1, _("expected “%(c)s”, found “%(f)s”") % {"c": char, "f": found})
        self.i += 1

    def word(self) -> str:
        self.skip()
        start = self.i
        while self.i < len(self.text) and (self.text[self.i].isalnum() or self.text[self.i] == "_"):
            self.i += 1
        return self.text[start : self.i]

    def value(self):
        """A JSON value, or a bare word up to the next , ) or | outside brackets."""
        self.skip()
        start = self.i
        if self.i < len(self.text) and self.text[self.i] in '"[{':
            try:
                value, end = _DECODER.raw_decode(self.text, self.i)
            except json.JSONDecodeError as exc:
                raise ChainTextError(
                    start + 1, _("not a valid quoted value or list: %(e)s") % {"e": exc.msg}
                ) from None
            self.i = end
            return value
        depth = 0
        while self.i < len(self.text):
            char = self.text[self.i]
            if char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
            elif char in _STOP and depth <= 0:
                break
            self.i += 1
        raw = self.text[start : self.i].strip()
        if not raw:
            raise ChainTextError(start + 1, _("expected a value"))
        if raw in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[raw]
        try:
            number = json.loads(raw)
        except ValueError:
            return raw
        return number if isinstance(number, int | float) and not isinstance(number, bool) else raw


def _arguments(reader: _Reader, closing: str = ")") -> tuple[list, dict]:
    positional, named = [], {}
    if reader.peek() == closing:
        return positional, named
    while True:
        reader.skip()
        save = reader.i
        name = reader.word()
        if name and reader.peek() == "=":
            reader.i += 1
            if name in named:
                raise ChainTextError(save + 1, _("“%(n)s” is given twice") % {"n": name})
            named[name] = reader.value()
        else:
            reader.i = save
            if named:
                raise ChainTextError(save + 1, _("a positional value cannot follow named ones"))
            positional.append(reader.value())
        if reader.peek() == ",":
            reader.i += 1
            continue
        return positional, named


def parse_arguments(text: str) -> dict:
    """``min=0, max=100`` → {"min": 0, "max": 100} (named arguments only)."""
    text = (text or "").strip()
    if not text:
        return {}
    reader = _Reader(text + ")")
    positional, named = _arguments(reader)
    if positional:
        raise ChainTextError(1, _("name every parameter (name=value)"))
    reader.expect(")")
    if reader.peek():
        raise ChainTextError(reader.i + 1, _("unexpected “%(c)s”") % {"c": reader.peek()})
    return named


def parse_chain(text: str) -> list[dict]:
    """Steps as the transform registry takes them ({"op": …, param: value}). Only the syntax and the
    parameter names are checked here; ``flows.engine.transforms.validate_chain`` checks the values."""
    text = (text or "").strip()
    if not text:
        return []
    reader = _Reader(text)
    steps = []
    while True:
        start = reader.i
        op = reader.word()
        if not op:
            raise ChainTextError(reader.i + 1, _("expected a transform name"))
        spec = TRANSFORMS.get(op)
        if spec is None:
            raise ChainTextError(start + 1, _("unknown transform “%(op)s”") % {"op": op})
        step = {"op": op}
        if reader.peek() == "(":
            reader.i += 1
            positional, named = _arguments(reader)
            reader.expect(")")
            names = [p.name for p in spec.params]
            if len(positional) > len(names):
                raise ChainTextError(
                    start + 1, _("%(op)s takes at most %(n)s values") % {"op": op, "n": len(names)}
                )
            step.update(zip(names, positional, strict=False))
            for name, value in named.items():
                if name not in names:
                    raise ChainTextError(
                        start + 1, _("%(op)s has no parameter “%(p)s”") % {"op": op, "p": name}
                    )
                if name in step:
                    raise ChainTextError(start + 1, _("“%(p)s” is given twice") % {"p": name})
                step[name] = value
        steps.append(step)
        if not reader.peek():
            return steps
        reader.expect("|")


def _literal(value) -> str:
    if (
        isinstance(value, str)
        and value[:1].isalpha()
        and all(c.isalnum() or c in "_.-[]=*`" for c in value)
        and value
        not in (
            "true",
            "false",
            "null",
        )
    ):
        try:
            json.loads(value)
        except ValueError:
            return value  # a bare word reads back as itself
    return json.dumps(value, ensure_ascii=False)


def format_chain(steps: list[dict]) -> str:
    """One line for a chain: declared parameters positionally while none is skipped, then by name."""
    parts = []
    for step in steps or []:
        op = step.get("op", "")
        spec = TRANSFORMS.get(op)
        params = [p.name for p in spec.params] if spec else [k for k in step if k != "op"]
        given = {k: v for k, v in step.items() if k != "op"}
        args, positional = [], True
        for name in params:
            if name not in given:
                positional = False
                continue
            text = _literal(given.pop(name))
            args.append(text if positional else f"{name}={text}")
        args += [f"{name}={_literal(value)}" for name, value in given.items()]
        parts.append(f"{op}({', '.join(args)})" if args else op)
    return " | ".join(parts)


def format_arguments(params: dict) -> str:
    return ", ".join(f"{name}={_literal(value)}" for name, value in (params or {}).items())
