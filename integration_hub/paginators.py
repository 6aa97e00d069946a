"""Paginators for the lists that grow without bound."""

from __future__ import annotations

from django.core.paginator import EmptyPage, Page
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django_tables2 import LazyPaginator
from django_tables2.rows import BoundRows


class DeepPageLazyPaginator(LazyPaginator):
    """``LazyPaginator`` (no COUNT(*): one row past the page says whether there is a next one) that reads
    a deep page of a table in two steps — the page's primary keys first, with the OFFSET walked over
    the sort's index alone (no join), then those rows with their joins — a "deferred join". On the run
    history, page 2,000 (OFFSET 99,950) no longer joins 100,000 runs to their flow only to skip them."""

    deep_offset = 1000  # from this offset on; shallower pages are read in one query

    def _records(self, bottom: int, stop: int):
        rows = self.object_list
        queryset = getattr(getattr(rows, "data", None), "data", None)
        if bottom < self.deep_offset or not isinstance(rows, BoundRows) or not isinstance(queryset, QuerySet):
            return list(rows[bottom:stop])
        pks = list(queryset.values_list("pk", flat=True)[bottom:stop])
        found = queryset.order_by().in_bulk(pks)
        return list(BoundRows([found[pk] for pk in pks if pk in found], table=rows.table))

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
