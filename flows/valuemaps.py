"""Value maps as CSV: the import and export behind the console, the API and config as code."""

from __future__ import annotations

import csv
import io

from django.utils.translation import gettext as _

MAX_ENTRIES = 20000


class ValueMapImportError(ValueError):
    """A CSV that cannot be imported; the message names the line."""


def entries_to_csv(entries: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["source", "target"])
    for key, value in sorted(entries.items()):
        writer.writerow([_cell(key), _cell(value)])
    return out.getvalue()


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """A cell a spreadsheet will not run as a formula: a leading ``'`` (taken off again on import)."""
    text = "" if value is None else str(value)
    return f"'{text}" if _escaped(text) or text[:1] in _FORMULA else text


def _escaped(text: str) -> bool:
    return text[:1] == "'" and (text[1:2] in _FORMULA or _escaped(text[1:]))


def _uncell(text: str) -> str:
    return text[1:] if _escaped(text) else text


def entries_from_csv(text: str) -> dict:
    """Two columns (source, target), a header row allowed; every problem names its line."""
    from flows.designer import invisible_problem

    entries: dict[str, str] = {}
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        for line, row in enumerate(reader, start=1):
            if not row or all(not c.strip() for c in row):
                continue
            if line == 1 and [c.strip().lower() for c in row[:2]] == ["source", "target"]:
                continue
            if len(row) != 2:
                raise ValueMapImportError(
                    _("Line %(n)s: %(c)s columns; give exactly two (source, target).")
                    % {"n": line, "c": len(row)}
                )
            row = [_uncell(c) for c in row]
            key = row[0]
            problem = next((p for p in map(invisible_problem, row) if p), "")
            if problem:
                raise ValueMapImportError(_("Line %(n)s: %(p)s") % {"n": line, "p": problem})
            if key in entries:
                raise ValueMapImportError(
                    _("Line %(n)s: “%(k)s” appears twice.") % {"n": line, "k": key[:60]}
                )
            entries[key] = row[1]
            if len(entries) > MAX_ENTRIES:
                raise ValueMapImportError(_("More than %(n)s entries.") % {"n": MAX_ENTRIES})
    except csv.Error as exc:
        raise ValueMapImportError(_("Line %(n)s: %(e)s") % {"n": reader.line_num, "e": exc}) from exc
    return entries
