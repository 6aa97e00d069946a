"""Deadlines of data-subject requests around month ends (Art. 12(3)): one calendar month after receipt,
clamped to the month's last day; an extension of at most two more months, counted from receipt."""

from datetime import date

import pytest

from gdpr.deadlines import add_months, due_date, urgency


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 1, 31), date(2026, 2, 28)),  # no 31 February
        (date(2028, 1, 31), date(2028, 2, 29)),  # leap year
        (date(2028, 1, 29), date(2028, 2, 29)),
        (date(2026, 1, 28), date(2026, 2, 28)),
        (date(2026, 4, 30), date(2026, 5, 30)),  # same day, not the month's end
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 12, 15), date(2027, 1, 15)),  # over the year's end
    ],
)
def test_due_one_calendar_month_after_receipt(received, due):
    assert due_date(received) == due


def test_extension_counts_from_receipt_not_from_the_first_due_date():
    assert due_date(date(2026, 1, 31), 1) == date(2026, 3, 31)
    assert due_date(date(2026, 1, 31), 2) == date(2026, 4, 30)
    # Not 28 Feb + 2 months (28 April): the clamp happens once.
    assert add_months(add_months(date(2026, 1, 31), 1), 2) == date(2026, 4, 28)


@pytest.mark.parametrize("months", [3, -1])
def test_extension_beyond_two_months_is_refused(months):
    with pytest.raises(ValueError):
        due_date(date(2026, 1, 31), months)


def test_urgency():
    due = date(2026, 2, 28)
    assert urgency(due, date(2026, 3, 1)) == "overdue"
    assert urgency(due, date(2026, 2, 28)) == "due_soon"
    assert urgency(due, date(2026, 2, 21)) == "due_soon"
    assert urgency(due, date(2026, 2, 20)) == "on_time"
    assert urgency(due, date(2026, 3, 1), open_=False) == ""
