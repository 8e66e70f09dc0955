"""When the server runs the steps: from the wheel's deadlines, in Stockholm time."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from arshjul.config import Config, load_config
from arshjul.schedule import step_runs, working_days_before
from tests.conftest import NOW, STOCKHOLM


def test_working_days_before_skips_weekends_and_holidays():
    # Tuesday 20 Jan 2026, five working days back: 13 Jan (Tuesday)
    assert working_days_before(date(2026, 1, 20), 5) == date(2026, 1, 13)
    # 8 Jan 2027 is a Friday; back over Trettondedag jul (6 Jan, Wednesday): 4 Jan... 31 Dec
    # is nyårsafton (not a working day) and 1 Jan a holiday
    assert working_days_before(date(2027, 1, 8), 3) == date(2027, 1, 4)
    assert working_days_before(date(2027, 1, 8), 4) == date(2026, 12, 30)
    # zero: the day itself, moved back to a working day (Saturday 7 Feb 2026 → Friday)
    assert working_days_before(date(2026, 2, 7), 0) == date(2026, 2, 6)


@pytest.fixture(scope="module")
def runs(config: Config):
    return step_runs(config.wheel, now=NOW)


def test_each_step_runs_before_its_first_deadline_with_the_year_it_is_about(runs):
    compile_2027 = next(r for r in runs if r.milestone == "ps-compile")
    # first deadline 20 Jan 2027 (Wednesday), five working days earlier: 13 Jan, 06:00 local
    assert compile_2027.at == datetime(2027, 1, 13, 6, 0, tzinfo=STOCKHOLM)
    assert (compile_2027.step, compile_2027.parameters) == ("compile", {"year": 2026})
    assert compile_2027.slug == "ps-compile-2027-01-13"


def test_interim_runs_carry_their_period(runs):
    interim = [(r.milestone, r.parameters["period"]) for r in runs if r.step == "interim_report"]
    assert interim[:3] == [("ir-year", "2026"), ("ir-t1", "2027-T1"), ("ir-t2", "2027-T2")]


def test_only_future_runs_over_the_years_ahead_in_time_order(runs, config):
    assert all(r.at > NOW for r in runs)
    assert [r.at for r in runs] == sorted(r.at for r in runs)
    years = {r.at.year for r in runs}
    assert years == {2027, 2028}  # 2026's have all passed by 23 November; two years ahead
    stepped = [m for m in config.wheel.milestones if m.step]
    assert len(runs) == 2 * len(stepped)
    # summer time is kept: 06:00 local all year round
    assert {(r.at.hour, r.at.minute) for r in runs} == {(6, 0)}


def test_a_milestones_own_run_rule_and_the_schedule_settings_win(tmp_path):
    (tmp_path / "arshjul.yaml").write_text(
        "schedule: {at: '05:15', lead_working_days: 0, years_ahead: 1}\n"
        "milestones:\n"
        "  - id: ps-analyse\n"
        "    title: Analys\n"
        "    step: analyse\n"
        "    run: {month: 2, nth_working_day: 1}\n"
        "    deadlines: [{level: unit, owner_role: enhetschef, due: {month: 2, day: 10}}]\n",
        "utf-8",
    )
    wheel = load_config(tmp_path).wheel
    runs = {r.slug: r for r in step_runs(wheel, now=NOW)}
    assert runs["ps-analyse-2027-02-01"].at == datetime(2027, 2, 1, 5, 15, tzinfo=STOCKHOLM)
    # without lead days the compile runs on its deadline, 20 Jan 2027
    assert "ps-compile-2027-01-20" in runs
