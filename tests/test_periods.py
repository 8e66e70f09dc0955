"""Reporting periods: parsing against today, bounds, months and last year's period."""

from __future__ import annotations

from datetime import date

import pytest

from arshjul.errors import UsageError
from arshjul.periods import (
    Period,
    latest_period,
    month_span_sv,
    next_month,
    parse_period,
    sections_due,
)
from tests.conftest import TODAY


@pytest.mark.parametrize(
    ("text", "first", "last", "months"),
    [
        ("2026-T1", date(2026, 1, 1), date(2026, 4, 30), 4),
        ("2026-T2", date(2026, 1, 1), date(2026, 8, 31), 8),  # cumulative: jan–aug
        ("2025", date(2025, 1, 1), date(2025, 12, 31), 12),
        (" 2024-T1 ", date(2024, 1, 1), date(2024, 4, 30), 4),
    ],
)
def test_periods_start_in_january_and_end_in_april_august_or_december(text, first, last, months):
    p = parse_period(text, TODAY)
    assert (p.first, p.last, len(p.months)) == (first, last, months)
    assert p.months[0] == first and p.last_month == last.replace(day=1)
    assert p.label == text.strip()


def test_the_same_period_last_year():
    p = parse_period("2026-T2", TODAY)
    assert p.previous == Period(2025, "T2")
    assert p.previous.last == date(2025, 8, 31)
    assert Period(2026, "year").previous.label == "2025"


@pytest.mark.parametrize(
    ("text", "today"),
    [
        ("2026", TODAY),  # the year ends 31 December
        ("2027-T1", TODAY),
        ("2026-T1", date(2026, 4, 30)),  # the last day itself is not over
        ("2026-T2", date(2026, 8, 31)),
    ],
)
def test_a_period_not_yet_ended_is_refused(text, today):
    with pytest.raises(UsageError, match=rf"^period: '{text}' has not ended yet") as err:
        parse_period(text, today)
    assert err.value.exit_code == 2


def test_a_period_is_reported_from_the_day_after_it_ends():
    assert parse_period("2026-T1", date(2026, 5, 1)).label == "2026-T1"
    assert parse_period("2025", date(2026, 1, 1)).label == "2025"


@pytest.mark.parametrize(
    "text", ["2026-T3", "2026T1", "26-T1", "2026-t1", "2026-01", "", "T1", "2026-T1-x", "0999"]
)
def test_a_malformed_period_is_refused_naming_the_field_and_value(text):
    with pytest.raises(UsageError) as err:
        parse_period(text, TODAY)
    assert err.value.field == "period" and repr(text) in str(err.value)
    assert err.value.exit_code == 2


def test_swedish_titles_and_month_runs():
    assert Period(2026, "T1").title_sv == "januari–april 2026"
    assert Period(2026, "T2").short_sv == "jan–aug 2026"
    assert Period(2025, "year").title_sv == "helåret 2025"
    months = [date(2026, m, 1) for m in (1, 2, 3, 6, 8)]
    assert month_span_sv(months) == "jan–mar, jun, aug"
    assert next_month(date(2025, 12, 1)) == date(2026, 1, 1)


@pytest.mark.parametrize(
    ("today", "label"),
    [
        (date(2026, 4, 30), "2025"),  # T1 ends today: not over yet
        (date(2026, 5, 1), "2026-T1"),
        (date(2026, 8, 31), "2026-T1"),
        (date(2026, 9, 1), "2026-T2"),
        (date(2026, 11, 23), "2026-T2"),
        (date(2027, 1, 1), "2026"),
    ],
)
def test_the_latest_ended_period_is_what_a_report_without_period_is_about(today, label):
    assert latest_period(today).label == label


@pytest.mark.parametrize(
    ("year", "today", "labels"),
    [
        # make run on 5 Dec 2026: 2025's tertials and year, and 2026's two ended tertials
        (2025, date(2026, 12, 5), ["2025-T1", "2025-T2", "2025", "2026-T1", "2026-T2"]),
        # in March 2026 no tertial of 2026 has ended yet
        (2025, date(2026, 3, 1), ["2025-T1", "2025-T2", "2025"]),
        # on the last day of April 2026 its T1 has not ended; the next day it has
        (2025, date(2026, 4, 30), ["2025-T1", "2025-T2", "2025"]),
        (2025, date(2026, 5, 1), ["2025-T1", "2025-T2", "2025", "2026-T1"]),
        # an older data year: its own periods, then this year's
        (2022, date(2026, 6, 1), ["2022-T1", "2022-T2", "2022", "2026-T1"]),
    ],
)
def test_a_run_writes_the_sections_of_every_ended_period_its_wheels_judge(year, today, labels):
    assert [p.label for p in sections_due(year, today)] == labels
