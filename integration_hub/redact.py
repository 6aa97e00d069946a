"""What must never be read in clear where it does not belong: secrets and personal values.

One home for the patterns: failure messages shown to users without the personal-data right
(``flows.failures.mask_message``), the structured run log and the console/JSON logs
(``integration_hub.log.RedactingFilter``) all use these.
"""

from __future__ import annotations

import re

QUOTED = re.compile(r"(“)([^”]*)(”)|(\")([^\"]*)(\")|(')([^']*)(')")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE = re.compile(r"\+?\d[\d .()-]{7,}\d")
SECRETISH = re.compile(r"password|passwd|secret|token|api.?key|authori[sz]ation|private.?key|cookie", re.I)
# key=value / key: value text whose key names a secret ("password=hunter2", "Authorization: Bearer x").
_SECRET_PAIR = re.compile(
    r"""(?P<key>["']?[\w-]*(?:password|passwd|secret|token|api[_-]?key|authori[sz]ation|private[_-]?key|cookie)[\w-]*["']?)"""
    r"""(?P<sep>\s*[=:]\s*)"""
    r"""(?P<value>(?:bearer\s+|basic\s+|token\s+)?(?:"[^"]*"|'[^']*'|[^\s,;&"'}]+))""",
    re.IGNORECASE,
)
MASK = "***"


def mask_value(value):
    """A personal value shown only enough to recognise its shape: 'j***@example.com', '+33 6** ** ** 12'."""
    if value is None or value == "":
        return value
    text = str(value)
    if "@" in text:
        name, _, domain = text.partition("@")
        return f"{name[:1]}***@{domain}"
    if len(text) <= 4:
        return "***"
    return f"{text[:2]}{'*' * (len(text) - 4)}{text[-2:]}"


def mask_personal(text: str, *, keep_plain_numbers: bool = False) -> str:
    """E-mail addresses and phone numbers in free text, masked. ``keep_plain_numbers``: a run of digits
    with no separator and no "+" is taken for an id (logs are full of them), not a phone number."""
    text = EMAIL.sub(lambda m: mask_value(m.group(0)), text or "")
    return PHONE.sub(lambda m: _phone(m, keep_plain_numbers), text)


_NOT_A_PHONE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,3}(\.\d{1,3}){3}")  # a date and time, an IPv4 address


def _phone(match, keep_plain_numbers: bool) -> str:
    found = match.group(0)
    if _NOT_A_PHONE.match(found) or (keep_plain_numbers and found.isdigit()):
        return found
    return mask_value(found)


def mask_message(message: str) -> str:
    """A message with the values it quotes, e-mail addresses and phone numbers masked."""

    def quoted(match):
        groups = [g for g in match.groups() if g is not None]
        opening, inner, closing = groups[0], groups[1], groups[2]
        return f"{opening}{mask_value(inner)}{closing}"

    return mask_personal(QUOTED.sub(quoted, message or ""))


def mask_secrets(text: str) -> str:
    """``key=value`` and ``Key: value`` pairs whose key names a secret, with the value replaced."""
    if not text:
        return text
    return _SECRET_PAIR.sub(lambda m: f"{m.group('key')}{m.group('sep')}{MASK}", text)


def redact_text(text: str) -> str:
    """Free text (a log message): secrets, e-mail addresses and phone numbers masked."""
    return mask_personal(mask_secrets(text), keep_plain_numbers=True)


def redact(value, depth: int = 0):
    """A log value with secrets (by key) and personal values (by shape) masked, inside dicts and lists."""
    if depth > 6:
        return MASK
    if isinstance(value, dict):
        return {
            key: MASK if SECRETISH.search(str(key)) else redact(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item, depth + 1) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
