"""Paginators for the lists that grow without bound."""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import EmptyPage, Page
from django.db import connections
from django.db.models import QuerySet
from django.db.models.lookups import In
from django.db.models.sql.where import AND
from django.utils.translation import gettext as _
from django_tables2 import LazyPaginator
from django_tables2.rows import BoundRows


class DeepPageLazyPaginator(LazyPaginator):
    """``LazyPaginator`` (no COUNT(*): one row past the page says whether there is a next one) that reads
    a deep page of a table in two steps — the page's primary keys first, with the OFFSET walked over
    the sort's index alone (no join), then those rows with their joins — a "deferred join". On the run
    history, page 2,000 (OFFSET 99,950) no longer joins 100,000 runs to their flow only to skip them."""

    deep_offset = 1000  # from this offset on; shallower pages are read in one query
    max_split = 32  # at most this many index walks merged (``split``)

    def __init__(self, *args, split: str | None = None, **kwargs):
        """``split``: a column (``flow_id``) the query narrows with ``IN (values)`` (a user's flows,
        ``permissions.restrict_through``): a deep page's keys are then read per value (``WHERE flow_id = 3
        ORDER BY … LIMIT offset + page``, each from an index on (column, sort)) and merged in one
        UNION ALL, so that PostgreSQL walks only the rows of those flows instead of every run to
        find theirs."""
        super().__init__(*args, **kwargs)
        self.split = split

    def _records(self, bottom: int, stop: int):
        rows = self.object_list
        queryset = getattr(getattr(rows, "data", None), "data", None)
        if bottom < self.deep_offset or not isinstance(rows, BoundRows) or not isinstance(queryset, QuerySet):
            return list(rows[bottom:stop])
        pks = self._split_keys(queryset, bottom, stop)
        if pks is None:
            pks = list(queryset.values_list("pk", flat=True)[bottom:stop])
        found = queryset.order_by().in_bulk(pks)
        return list(BoundRows([found[pk] for pk in pks if pk in found], table=rows.table))

    def _split_keys(self, queryset: QuerySet, bottom: int, stop: int) -> list | None:
        """The page's primary keys through one merged index walk per ``split`` value, or ``None``
        when that does not apply (no split, one value or too many, an order on another table's
        column, a database that cannot order and slice inside a UNION, no ``field IN values`` among
        the query's conditions)."""
        if not self.split or not connections[queryset.db].features.supports_slicing_ordering_in_compound:
            return None
        field = self.split
        order = [str(o) for o in queryset.query.order_by]
        names = [o.lstrip("-") for o in order]
        if not order or not all(_plain_column(queryset.model, n) for n in names):
            return None
        base, values = _without_membership(queryset, field)
        if base is None or not 1 < len(values) <= self.max_split:
            return None
        columns = ["pk", *(n for n in names if n != "pk")]
        parts = [base.filter(**{field: v}).values_list(*columns).order_by(*order)[:stop] for v in values]
        merged = parts[0].union(*parts[1:], all=True).order_by(*order)
        return [row[0] for row in merged[bottom:stop]]

    def page(self, number):
        # As LazyPaginator.page, the records read through ``_records``.
        number = self.validate_number(number or 1)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        look_ahead_items = (self.look_ahead - 1) * self.per_page + 1
        objects = self._records(bottom, top + self.orphans + look_ahead_items)
        objects_count = len(objects)
        if objects_count > (self.per_page + self.orphans):
            self._num_pages = number + (objects_count // self.per_page)
            objects = objects[: self.per_page]
        elif (number != 1) and (objects_count <= self.orphans):
            raise EmptyPage(_("That page contains no results"))
        else:
            self._num_pages = number
            self._final_num_pages = number
        return Page(objects, number, self)


def _plain_column(model, name: str) -> bool:
    """A column of ``model``'s own table that orders by its value (not a relation's ordering)."""
    if name == "pk":
        return True
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:  # an annotation or a lookup across tables: not split
        return False
    return getattr(field, "concrete", False) and not field.is_relation


def _without_membership(queryset: QuerySet, attname: str) -> tuple[QuerySet | None, list]:
    """A copy of ``queryset`` without its top-level condition ``attname IN values``, and those
    values (each walk puts ``attname = value`` instead — the same rows: kept beside it, PostgreSQL
    multiplies the two selectivities, expects a quarter of the rows and sorts a bitmap scan instead
    of walking the index); ``(None, [])`` when the query has no such condition."""
    base = queryset.all()
    where = base.query.where
    if where.connector != AND or where.negated:
        return None, []
    for child in where.children:
        target = getattr(getattr(child, "lhs", None), "target", None)
        if (
            isinstance(child, In)
            and getattr(target, "attname", None) == attname
            and isinstance(child.rhs, list | tuple)
        ):
            where.children = [c for c in where.children if c is not child]
            return base, list(child.rhs)
    return None, []
