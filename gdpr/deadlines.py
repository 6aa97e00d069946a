"""Deadlines of data-subject requests (Art. 12(3)): one month after receipt, extendable by two more.

"One month" is the same day of the next month, or that month's last day when it has no such day
(31 January → 28 or 29 February), as the EU's rules on periods (Regulation 1182/71) and the EDPB read it.
"""

from __future__ import annotations

import calendar
from datetime import date

MAX_EXTENSION_MONTHS = 2
DUE_SOON_DAYS = 7


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months, clamped to the target month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_date(received_on: date, extended_months: int = 0) -> date:
    """The date by which the request must be answered; an extension counts from receipt too."""
    if not 0 <= extended_months <= MAX_EXTENSION_MONTHS:
        raise ValueError(f"an extension is 0 to {MAX_EXTENSION_MONTHS} months, not {extended_months}")
    return add_months(received_on, 1 + extended_months)


def urgency(due_on: date, today: date, *, open_: bool = True) -> str:
    """ "overdue", "due_soon" (within a week), "on_time" — or "" for a closed request."""
    if not open_:
        return ""
    if today > due_on:
        return "overdue"
    if (due_on - today).days <= DUE_SOON_DAYS:
        return "due_soon"
    return "on_time"
