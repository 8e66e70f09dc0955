"""Swedish working days and the wheel's date rules, against dates worked out by hand.

2026: New Year Thu 1 Jan, trettondedag jul Tue 6 Jan, långfredag 3 Apr, påskdagen 5 Apr,
annandag påsk 6 Apr, 1 maj Fri, Kristi himmelsfärd Thu 14 May, nationaldagen Sat 6 Jun,
midsommarafton Fri 19 Jun, julafton Thu 24 Dec, juldagen Fri 25 Dec, nyårsafton Thu 31 Dec.
"""

from __future__ import annotations

from datetime import date

import pytest

from arshjul.config import DateRule, Deadline, Milestone, Wheel
from arshjul.workdays import (
    is_working_day,
    non_working_days,
    previous_working_day,
    rule_dates,
    wheel_dates,
)


def day_rule(month: int, day: int, **extra: object) -> DateRule:
    return DateRule.model_validate({"month": month, "day": day, **extra})


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (date(2026, 1, 1), "nyårsdagen"),
        (date(2026, 1, 6), "trettondedag jul"),
        (date(2026, 4, 3), "långfredag"),
        (date(2026, 4, 6), "annandag påsk"),
        (date(2026, 5, 1), "första maj"),
        (date(2026, 5, 14), "Kristi himmelsfärds dag"),
        (date(2025, 6, 6), "nationaldagen on a Friday"),
        (date(2026, 6, 19), "midsommarafton 2026"),
        (date(2025, 6, 20), "midsommarafton 2025"),
        (date(2027, 6, 25), "midsommarafton 2027, the latest possible"),
        (date(2026, 12, 24), "julafton"),
        (date(2026, 12, 25), "juldagen"),
        (date(2025, 12, 26), "annandag jul on a Friday"),
        (date(2026, 12, 31), "nyårsafton"),
        (date(2026, 3, 1), "a Sunday"),
        (date(2026, 2, 28), "a Saturday"),
    ],
)
def test_holidays_eves_and_weekends_are_not_working_days(day, reason):
    assert not is_working_day(day), reason


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (date(2026, 4, 2), "skärtorsdag is a working day"),
        (date(2026, 5, 25), "annandag pingst has not been a holiday since 2005"),
        (date(2026, 6, 18), "the day before midsommarafton"),
        (date(2026, 6, 26), "the Friday after midsommar"),
        (date(2026, 12, 23), "the day before julafton"),
        (date(2026, 12, 30), "the day before nyårsafton"),
        (date(2026, 1, 20), "an ordinary Tuesday"),
    ],
)
def test_ordinary_weekdays_are_working_days(day, reason):
    assert is_working_day(day), reason


def test_the_eves_are_added_to_the_public_holidays():
    days = non_working_days(2026)
    assert {date(2026, 6, 19), date(2026, 12, 24), date(2026, 12, 31)} <= days
    assert date(2026, 6, 18) not in days


@pytest.mark.parametrize(
    ("rule", "year", "expected"),
    [
        (day_rule(4, 6), 2026, date(2026, 4, 2)),  # annandag påsk, weekend, långfredag
        (day_rule(3, 1), 2026, date(2026, 2, 27)),  # ps-report: a Sunday
        (day_rule(6, 19), 2026, date(2026, 6, 18)),  # midsommarafton
        (day_rule(6, 20), 2025, date(2025, 6, 19)),  # midsommarafton 2025
        (day_rule(12, 24), 2026, date(2026, 12, 23)),  # julafton
        (day_rule(12, 26), 2026, date(2026, 12, 23)),  # Sat, juldagen, julafton
        (day_rule(12, 31), 2026, date(2026, 12, 30)),  # nyårsafton
        (day_rule(1, 1), 2027, date(2026, 12, 30)),  # into the previous year
        (day_rule(1, 20), 2026, date(2026, 1, 20)),  # a working day stays
        (day_rule(2, 31), 2026, date(2026, 2, 27)),  # clamped to 28 Feb, a Saturday
        (day_rule(3, 1, shift="none"), 2026, date(2026, 3, 1)),  # shift none keeps a Sunday
        (day_rule(12, 15, year_offset=-1), 2026, date(2025, 12, 15)),
    ],
)
def test_a_day_of_month_moves_to_the_previous_working_day(rule, year, expected):
    assert rule_dates(rule, year) == [expected]


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        (1, date(2026, 1, 30)),  # 31 Jan is a Saturday
        (10, date(2026, 10, 30)),  # 31 Oct is alla helgons dag, a Saturday
        (12, date(2026, 12, 30)),  # 31 Dec is nyårsafton
        (6, date(2026, 6, 30)),
    ],
)
def test_last_working_day_of_a_month(month, expected):
    assert rule_dates(DateRule(month=month, last_working_day=True), 2026) == [expected]


@pytest.mark.parametrize(
    ("month", "n", "expected"),
    [
        # 2, 5, 7, 8, 9, 12, 13, 14, 15, 16: the 1st and the 6th are holidays
        (1, 10, date(2026, 1, 16)),
        (1, 1, date(2026, 1, 2)),
        # 1, 2, 7, 8, 9, 10, 13, 14, 15, 16: långfredag and annandag påsk
        (4, 10, date(2026, 4, 16)),
        # 4, 5, 6, 7, 8, 11, 12, 13, 15, 18: 1 maj and Kristi himmelsfärd
        (5, 10, date(2026, 5, 18)),
        (3, 10, date(2026, 3, 13)),  # no holiday in March
        # December 2026 has 20 working days: a larger n gives the last one
        (12, 20, date(2026, 12, 30)),
        (12, 23, date(2026, 12, 30)),
    ],
)
def test_nth_working_day_of_a_month(month, n, expected):
    assert rule_dates(DateRule(month=month, nth_working_day=n), 2026) == [expected]


def test_previous_working_day_keeps_a_working_day_and_walks_back_over_easter():
    assert previous_working_day(date(2026, 4, 2)) == date(2026, 4, 2)
    assert previous_working_day(date(2026, 4, 6)) == date(2026, 4, 2)


def test_a_rule_over_several_months_gives_one_date_per_month_in_order():
    rule = DateRule(months=(5, 9, 12), day=15)
    assert rule_dates(rule, 2026) == [date(2026, 5, 15), date(2026, 9, 15), date(2026, 12, 15)]
    # 15 May 2027 is a Saturday
    assert rule_dates(rule, 2027)[0] == date(2027, 5, 14)


def test_the_bundled_wheel_of_2026(config):
    dues = wheel_dates(config.wheel, 2026)
    when = {(d.milestone.id, d.deadline.level, d.occurrence): d.date for d in dues}
    assert when["ps-compile", "unit", 0] == date(2026, 1, 20)
    assert when["ps-compile", "department", 0] == date(2026, 1, 23)  # 25 Jan is a Sunday
    assert when["ps-compile", "area", 0] == date(2026, 1, 30)  # 31 Jan is a Saturday
    assert when["ps-compile", "region", 0] == date(2026, 2, 6)  # 7 Feb is a Saturday
    assert when["ps-report", "region", 0] == date(2026, 2, 27)  # 1 Mar is a Sunday
    assert when["ps-action-plan", "unit", 0] == date(2026, 3, 13)  # 15 Mar is a Sunday
    assert when["ps-action-plan", "department", 0] == date(2026, 3, 20)  # 22 Mar is a Sunday
    assert when["ps-follow-up", "unit", 2] == date(2026, 12, 15)
    assert when["training", "unit", 0] == date(2026, 10, 30)  # 31 Oct is a Saturday
    assert when["ps-follow-up", "region", 0] == date(2026, 5, 15)
    assert when["training", "area", 0] == date(2026, 10, 30)
    assert when["monthly", "region", 0] == date(2026, 1, 16)
    assert when["monthly", "region", 3] == date(2026, 4, 16)
    # compile, analyse and action plan for 4 levels, follow-ups 3 times for 4 levels, training
    # for 3 levels
    assert len(dues) == 4 + 4 + 1 + 4 + 3 * 4 + 1 + 1 + 1 + 12 + 3 + 2
    assert [d.date for d in dues] == sorted(d.date for d in dues)


def test_titles_name_the_data_year_and_the_next_year(config):
    dues = {d.milestone.id: d for d in wheel_dates(config.wheel, 2026)}
    assert dues["ps-report"].title == (
        "Patientsäkerhetsberättelse för 2025 fastställd och publicerad"
    )
    assert dues["ps-report"].data_year == 2025
    assert dues["plan-next"].title == "Mål och strategier för 2027 in i verksamhetsplanen"
    assert dues["ir-t1"].title.startswith("Delårsrapport T1 2026 ")


def test_wheel_dates_orders_one_day_by_milestone_and_level():
    rule = DateRule(month=3, day=2)
    wheel = Wheel(
        milestones=(
            Milestone(
                id="b",
                title="B",
                deadlines=(
                    Deadline(level="unit", owner_role="x", due=rule),
                    Deadline(level="area", owner_role="x", due=rule),
                ),
            ),
            Milestone(
                id="a", title="A", deadlines=(Deadline(level="unit", owner_role="x", due=rule),)
            ),
        )
    )
    order = [(d.milestone.id, d.deadline.level) for d in wheel_dates(wheel, 2026)]
    assert order == [("a", "unit"), ("b", "area"), ("b", "unit")]
