"""What the contract suite needs to know about one vendor preset (:class:`VendorCase`), the registry of
cases, and small helpers the cases share. See the package docstring for how to add a vendor."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from flows.connectors.base import Connector, WriteMode
from flows.connectors.paths import get_path
from sandbox.seed import dataset

DATA = dataset(42)  # what every sandbox is seeded with (``running(seed=42)``, the default)

# (connector, page size, monkeypatch) -> None: make ``connector`` read pages of that size.
PageSizer = Callable[[Connector, int, pytest.MonkeyPatch], None]
# (connector, entity, records of a full read, k) -> ids of the k records changed in the sandbox.
Changer = Callable[[Connector, str, list[dict], int], list[str]]


@dataclass(frozen=True, kw_only=True)
class VendorCase:
    """One vendor preset, checked against its sandbox stand-in by ``test_contract.py``."""

    key: str  # the connector's registry key (``get_connector_class``); the test id
    sandbox: str  # the stand-in's name for ``sandbox.testing.running``
    # The registry key when it differs from ``key``: a second case of one preset (another transport).
    connector: str = ""
    params: Callable[[str], dict]  # the connector's parameters, from the stand-in's base URL
    secrets: dict  # the right secrets
    wrong_secrets: dict  # merged over ``secrets``: the stand-in must refuse them
    # A refused connection test or read is answered after at most this many requests (one: the token
    # request, or the call itself): a refusal is never retried.
    refusal_requests: int = 1

    # Full read: the entity, the seeded value of ``key_path`` of each of its records (``seeded``
    # is exactly what a full read must return), how to set a page size, and an odd page size that
    # leaves a short last page.
    read_entity: str
    key_path: str
    seeded: frozenset[str]
    set_page_size: PageSizer
    page_size: int = 33

    # Incremental: how to change ``changes`` records of ``read_entity`` in the stand-in. With
    # ``since_inclusive`` the vendor's documented bound also returns the records stamped at the
    # bound itself (say why on the case); otherwise a read ``since`` returns only later changes.
    change: Changer
    changes: int = 3
    since_inclusive: bool = False

    # Write: ``good_records(n)`` gives n records the stand-in accepts, ``bad_record`` one it
    # refuses on its own (a validation error of the vendor, not of the hub).
    write_entity: str
    good_records: Callable[[int], list[dict]]
    bad_record: dict
    good_count: int = 4

    # GDPR: the e-mail of a seeded person, or None when the vendor keeps no persons (the connector
    # then declares no subject entities). ``subject_found_in``: the subject entities that person has
    # records in (default: every declared one).
    subject_email: str | None = None
    subject_found_in: tuple[str, ...] | None = None

    # An id no record of ``read_entity`` has (``fetch`` leaves it out).
    unknown_id: str = "999999999"

    # Extras: ``running(options={sandbox: options})``, and a hook run on every connector built.
    options: dict = field(default_factory=dict)
    prepare: Callable[[Connector], None] | None = None

    def __str__(self) -> str:
        return self.key

    @property
    def connector_key(self) -> str:
        return self.connector or self.key


_cases: dict[str, VendorCase] = {}


def register(case: VendorCase) -> VendorCase:
    """Add a case to the suite (called by the modules of ``tests/contract/cases/``)."""
    if case.key in _cases and _cases[case.key] is not case:
        raise ValueError(f"a contract case {case.key!r} is registered already")
    _cases[case.key] = case
    return case


def cases() -> list[VendorCase]:
    """Every registered case, by key (imports every module of ``tests.contract.cases`` first)."""
    from tests.contract import cases as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return [_cases[key] for key in sorted(_cases)]


# --- helpers for the cases -----------------------------------------------------------------------


def patch_constant(target: str) -> PageSizer:
    """A page sizer for a connector whose page size is a module constant (``"pkg.module.NAME"``)."""

    def set_size(connector: Connector, size: int, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(target, size)

    return set_size


def set_attributes(*names: str) -> PageSizer:
    """A page sizer for a connector whose page sizes are attributes (HubSpot's ``list_page_size``)."""

    def set_size(connector: Connector, size: int, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in names:
            monkeypatch.setattr(connector, name, size)

    return set_size


def set_parameter(name: str) -> PageSizer:
    """A page sizer for a connector whose page size is one of its parameters (Odoo's ``page_size``)."""

    def set_size(connector: Connector, size: int, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(connector.params, name, size)

    return set_size


def spread(records: list, k: int) -> list:
    """``k`` records spread over ``records`` (not all on the first page)."""
    step = max(1, len(records) // k)
    return [records[(step // 2 + i * step) % len(records)] for i in range(k)]


def update_each(patch: Callable[[dict, int], dict], mode: WriteMode = WriteMode.UPDATE) -> Changer:
    """A changer that writes ``patch(record, i)`` over k records of the read through the connector
    (the vendor's own API), and returns their ids."""

    def change(connector: Connector, entity: str, records: list[dict], k: int) -> list[str]:
        id_field = connector.entity(entity).id_field
        chosen = spread(records, k)
        results = connector.write(entity, [patch(record, i) for i, record in enumerate(chosen)], mode)
        assert all(r.ok for r in results), [str(r.error) for r in results if not r.ok]
        return [str(get_path(record, id_field)) for record in chosen]

    return change
