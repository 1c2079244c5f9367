"""Admin lists over big tables: pages without reading the whole table.

Django's changelist counts its list with ``COUNT(*)`` on every page to number the pages
(``show_full_result_count = False`` only drops the second, unfiltered count), and reads
page N with ``OFFSET``, joining every skipped row to the tables ``list_select_related``
names. Over a million appointments each of these reads the whole table on every page
(and so does the date drill-down: see ``range_date_hierarchy``). The list's ordering also
needs an index (``Appointment`` has one on ``start, id``), or page 1 sorts the whole table.

``LargeTablePaginator`` instead:

* takes the unfiltered list's size from PostgreSQL's own estimate (the planner's:
  ``pg_class.reltuples`` scaled to the table's current size), as the Django projects that
  hit this do, once the table is past ``estimate_from`` rows; the list then says "about",
  and a page past the estimate's last one still opens, since the estimate may fall short.
  A filtered list is still counted exactly: it costs what its filter costs, and its page
  links must be right;
* reads a page far from the start in two steps ("deferred join"): the page's ids alone,
  from the ordering's index, then those rows with their related rows.

``range_date_hierarchy`` is the admin's date drill-down without the query that lists
every year present (``SELECT DISTINCT date_trunc(...)`` over the whole list): it offers
the years from the first to the last row, then every month and every day.
"""

from __future__ import annotations

import calendar
import datetime

from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import connections
from django.db.models import Max, Min, QuerySet
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.text import capfirst
from django.utils.translation import gettext as _


def estimated_rows(reltuples: float, relpages: int, pages: int) -> int | None:
    """As the planner estimates a table's rows: tuples per page at the last ANALYZE times the pages now.

    None before the first ANALYZE (reltuples is -1 then, PostgreSQL 14+). Rounded, not
    truncated: 250 rows on 19 pages gave 250 / 19 * 19 = 249.99999999999997, "about 249".
    """
    if reltuples < 0:
        return None
    if relpages == 0:
        return round(reltuples)
    return round(reltuples * pages / relpages)


class LargeTablePaginator(Paginator):
    # Below this many rows (estimated) an exact count is cheap, and exact numbers are nicer.
    estimate_from = 50_000
    # Pages starting this many rows in are read ids first (within it, one query is cheaper).
    deferred_join_from = 10_000

    @cached_property
    def count_is_estimate(self) -> bool:
        return self._estimate is not None and self._estimate >= self.estimate_from

    @cached_property
    def count(self) -> int:
        if self.count_is_estimate:
            return self._estimate
        return super().count

    @cached_property
    def _estimate(self) -> int | None:
        """The planner's estimate of the table's rows when the list is the whole table, else None."""
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return None
        query = queryset.query
        if query.where or query.is_sliced or query.distinct or query.combinator or query.group_by is not None:
            return None
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT reltuples, relpages, pg_relation_size(oid) / current_setting('block_size')::int
                   FROM pg_class WHERE oid = %s::regclass""",
                [connection.ops.quote_name(queryset.model._meta.db_table)],
            )
            row = cursor.fetchone()
        return None if row is None else estimated_rows(*row)

    def validate_number(self, number):
        if not self.count_is_estimate:
            return super().validate_number(number)
        # Past the estimate's last page there may still be rows: show them (or an empty page).
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count and not self.count_is_estimate:
            top = self.count  # an estimate may be short of the rows: never cut the last page at it
        rows = self.object_list[bottom:top]
        if bottom >= self.deferred_join_from and isinstance(self.object_list, QuerySet):
            # OFFSET over the ids alone walks the ordering's index; the joins then touch one page.
            ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
            rows = self.object_list.filter(pk__in=ids)
        return self._get_page(rows, number, self)


def range_date_hierarchy(cl) -> dict | None:
    """Django's ``date_hierarchy`` context for ``cl``, with choices that need no scan: the years
    from the first row to the last (one MIN/MAX query, which an index on the field answers,
    as Django runs it too), every month of a chosen year and every day of a chosen month.
    Django lists only the years, months and days that have rows, with a DISTINCT scan of
    the whole list at every level."""
    if not cl.date_hierarchy:
        return None
    field = cl.date_hierarchy
    year_field, month_field, day_field = f"{field}__year", f"{field}__month", f"{field}__day"
    year, month, day = cl.params.get(year_field), cl.params.get(month_field), cl.params.get(day_field)

    def link(filters):
        return cl.get_query_string(filters, [f"{field}__"])

    years = range(0)
    if not (year or month or day):
        bounds = cl.queryset.aggregate(first=Min(field), last=Max(field))
        if bounds["first"] is not None:
            first, last = _local(bounds["first"]), _local(bounds["last"])
            years = range(first.year, last.year + 1)
            if first.year == last.year:  # as Django: start one level down when all rows share it
                year = first.year
                if first.month == last.month:
                    month = first.month
    if year and month and day:
        return date_hierarchy(cl)  # Django runs no query at this level
    if year and month:
        days = calendar.monthrange(int(year), int(month))[1]
        return {
            "show": True,
            "back": {"link": link({year_field: year}), "title": str(year)},
            "choices": [
                {"link": link({year_field: year, month_field: month, day_field: number}),
                 "title": capfirst(formats.date_format(datetime.date(int(year), int(month), number),
                                                       "MONTH_DAY_FORMAT"))}
                for number in range(1, days + 1)
            ],
        }
    if year:
        return {
            "show": True,
            "back": {"link": link({}), "title": _("All dates")},
            "choices": [
                {"link": link({year_field: year, month_field: number}),
                 "title": capfirst(formats.date_format(datetime.date(int(year), number, 1), "YEAR_MONTH_FORMAT"))}
                for number in range(1, 13)
            ],
        }
    return {
        "show": True,
        "back": None,
        "choices": [{"link": link({year_field: str(number)}), "title": str(number)} for number in years],
    }


def _local(value):
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value
