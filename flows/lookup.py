"""Keyed hashes of a record's identifying values, kept on its ID link so that Trace finds the record by
a SKU, an order number or an e-mail address — even when the link's values are encrypted (personal data).

A value is normalised (trimmed, case-folded, inner spaces collapsed), then hashed with a keyed BLAKE2b
(a MAC) whose key is derived from ``HUB_LOOKUP_KEY`` (apart from the encryption keys): the hashes say nothing about the values to
whoever reads the database without that key, and looking one up is one ``LIKE`` on a short column, never
a decryption of every link.

Identifying fields are the mapped target fields whose name says so (sku, e-mail, order, number, code,
reference, phone, EAN/GTIN…) and the flow's matching key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import cache
from hashlib import blake2b

from django.conf import settings

from flows.engine.paths import PathError, parse_path

IDENTIFYING = re.compile(
    r"sku|e.?mail|order|number|^no$|code|ref|phone|mobile|ean|gtin|upc|barcode|isbn|increment|login|username",
    re.IGNORECASE,
)
MAX_KEYS = 8  # per record


@cache
def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"integration-hub/trace-lookup", hashlib.sha256).digest()[:32]


def normalise(value) -> str:
    return " ".join(str(value).split()).casefold()


def lookup_key(value, key: bytes | None = None) -> str:
    """The keyed hash of one value, as kept on the links (16 hex characters)."""
    key = key or _key(settings.HUB_LOOKUP_KEY)
    return blake2b(normalise(value).encode(), key=key, digest_size=8).hexdigest()


# Personal-data tags whose values identify a person (the GDPR erasure finds their rows by them).
IDENTIFYING_TAGS = ("email", "phone", "other_id", "national_id")


def paths_of(definition: dict) -> list:
    """The target paths of a flow version whose values identify a record."""
    names = {definition.get("target_key") or ""}
    for mapping in definition.get("mappings") or []:
        target = mapping.get("target") or ""
        last = re.split(r"[.\[\]]", target.rstrip("]"))[-1] if target else ""
        if last and (IDENTIFYING.search(last) or mapping.get("personal") in IDENTIFYING_TAGS):
            names.add(target)
    paths = []
    for name in sorted(n for n in names if n):
        try:
            paths.append(parse_path(name))
        except PathError:
            continue
    return paths[:MAX_KEYS]


def source_paths_of(definition: dict) -> list:
    """The source paths of the mappings tagged as identifying a person (e-mail, phone, ids…), and the
    flow's source key: how a failed record whose mapping broke is still found by its source values."""
    names = {definition.get("source_key") or ""}
    for mapping in definition.get("mappings") or []:
        if mapping.get("personal") in IDENTIFYING_TAGS:
            names.add((mapping.get("source") or "").strip())
    paths = []
    for name in sorted(n for n in names if n):
        try:
            paths.append(parse_path(name))
        except PathError:
            continue
    return paths[:MAX_KEYS]


def hasher():
    """The keyed hash, ready to copy per value (keying BLAKE2b costs more than hashing a short value)."""
    return _hasher(settings.HUB_LOOKUP_KEY)


@cache
def _hasher(secret: str):
    return blake2b(key=_key(secret), digest_size=8)


_SKIP = (dict, list, bool)


def keys_of(record: dict, paths: list, base=None) -> str:
    """The space-separated keyed hashes of ``record``'s identifying values ("" when it has none).

    ``base``: ``hasher()``, fetched once by a caller hashing many records."""
    base = base or hasher()
    keys = []
    for path in paths:
        value = path.get(record)
        if value is None or value == "" or isinstance(value, _SKIP):
            continue
        digest = base.copy()
        digest.update(" ".join(str(value).split()).casefold().encode())
        keys.append(digest.hexdigest())
    return " ".join(keys)
