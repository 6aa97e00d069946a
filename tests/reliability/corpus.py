"""The bad-input corpus: every table of bad inputs registers here under a category, so the suite can
count what it tries (``test_corpus.py`` asserts the total and prints it by category)."""

from __future__ import annotations

import pytest

REGISTRY: dict[str, list[str]] = {}


def cases(category: str, items: list) -> list:
    """Register ``items`` (``pytest.param`` with an id) under ``category``; returns them for parametrize."""
    ids = REGISTRY.setdefault(category, [])
    for item in items:
        assert isinstance(item, type(pytest.param())), "give every bad input as pytest.param(…, id=…)"
        assert item.id, "every bad input has an id"
        ids.append(item.id)
    return items


def counts() -> dict[str, int]:
    return {category: len(ids) for category, ids in sorted(REGISTRY.items())}


# Hostile strings tried wherever a person or a file can type text.
TEMPLATE = "{{ settings.SECRET_KEY }}"
TEMPLATE_TAG = "{% load static %}{% debug %}"
SQL = "x'; DROP TABLE flows_flow; --"
TRAVERSAL = "../../etc/passwd"
NUL = "a\x00b"
RTL = "price\u202egpj.exe"
LONG = "x" * 100_000
