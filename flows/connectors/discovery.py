"""Field inference from sample records, with personal-data guesses (pure functions, no I/O)."""

import re
from datetime import date, datetime

from django.utils.translation import gettext_lazy

from flows.connectors.base import Field

# Personal-data categories the hub recognises, with their names for people.
PERSONAL_CATEGORIES = {
    "email": gettext_lazy("e-mail"),
    "phone": gettext_lazy("phone"),
    "name": gettext_lazy("name"),
    "address": gettext_lazy("address"),
    "birthdate": gettext_lazy("birth date"),
    "national_id": gettext_lazy("national id"),
    "iban": gettext_lazy("bank account"),
    "ip_address": gettext_lazy("IP address"),
}

# Name patterns → personal-data category. Checked in order; the first match wins.
_PERSONAL_NAME_PATTERNS = [
    ("email", re.compile(r"e[-_]?mail", re.I)),
    ("phone", re.compile(r"phone|mobile|telephone|\btel\b|fax", re.I)),
    ("birthdate", re.compile(r"birth|\bdob\b", re.I)),
    ("national_id", re.compile(r"ssn|social.?security|national.?id|passport|\bnir\b|tax.?id|vat", re.I)),
    ("iban", re.compile(r"iban|bank.?account|\bbic\b", re.I)),
    ("address", re.compile(r"street|address|\bcity\b|zip|postcode|postal|\bcountry", re.I)),
    (
        "name",
        re.compile(r"first.?name|last.?name|firstname|lastname|full.?name|surname|given.?name|^name$", re.I),
    ),
    ("ip_address", re.compile(r"\bip\b|ip.?address|remote.?addr", re.I)),
]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.I)
_PHONE = re.compile(r"^\+?[\d\s().-]{8,20}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def value_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, str):
        if _DATETIME.match(value):
            return "datetime"
        if _DATE.match(value):
            return "date"
    return "string"


def guess_personal(name: str, values: list) -> str:
    """A personal-data category for a field, from its name or, failing that, its values."""
    leaf = name.rsplit(".", 1)[-1]
    for category, pattern in _PERSONAL_NAME_PATTERNS:
        if pattern.search(leaf):
            if category == "name" and leaf.lower() == "name" and not _looks_like_person(values):
                continue  # "name" of a product is not personal data
            return category
    strings = [v for v in values if isinstance(v, str) and v]
    if strings and all(_EMAIL.match(v) for v in strings):
        return "email"
    if strings and all(_PHONE.match(v) for v in strings) and any(c in strings[0] for c in "+ ("):
        return "phone"
    return ""


def _looks_like_person(values) -> bool:
    strings = [v for v in values if isinstance(v, str)]
    return bool(strings) and all(
        1 < len(v.split()) <= 4 and v[:1].isupper() and not any(c.isdigit() for c in v) for v in strings
    )


def infer_fields(samples: list[dict], prefix: str = "", depth: int = 0) -> list[Field]:
    """Fields seen in ``samples`` (nested objects flattened to dotted paths, two levels deep)."""
    seen: dict[str, list] = {}
    for record in samples:
        if isinstance(record, dict):
            for key, value in record.items():
                seen.setdefault(str(key), []).append(value)
    fields: list[Field] = []
    for key, values in seen.items():
        path = f"{prefix}{key}"
        non_null = [v for v in values if v is not None]
        types = {value_type(v) for v in non_null} or {"string"}
        kind = types.pop() if len(types) == 1 else "string"
        if kind == "object" and depth < 2:
            fields.extend(infer_fields(non_null, prefix=f"{path}.", depth=depth + 1))
            continue
        fields.append(
            Field(
                name=path,
                type=kind,
                required=len(non_null) == len(samples) and bool(samples),
                personal=guess_personal(path, non_null),
                example=_example(non_null),
            )
        )
    return fields


def _example(values):
    for v in values:
        if isinstance(v, str | int | float | bool):
            return v if not isinstance(v, str) else v[:80]
    return None
