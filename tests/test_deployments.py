"""The deployments `arshjul serve` registers: every flow, steps on the wheel's dates."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from prefect.server.schemas.schedules import RRuleSchedule

from arshjul.cli import main
from flows.deployments import DEPLOYMENT, build_deployments
from tests.conftest import NOW, STOCKHOLM


@pytest.fixture(scope="module")
def deployments(config):
    return {d.flow_name: d for d in build_deployments(config, now=NOW)}


def test_every_flow_has_a_deployment_named_arshjul(deployments):
    assert set(deployments) == {
        "compile",
        "analyse",
        "action_plan",
        "safety_report",
        "interim_report",
        "import_inbox",
        "publish_calendars",
        "send_reminders",
        "cycle",
        "sign_off",
    }
    assert {d.name for d in deployments.values()} == {DEPLOYMENT}


def next_runs(schedule) -> list[datetime]:
    """The dates Prefect's server will schedule, computed by the server's own code."""
    server_side = RRuleSchedule(rrule=schedule.rrule, timezone=schedule.timezone)
    return asyncio.run(server_side.get_dates(n=10, start=NOW))


@pytest.mark.parametrize(
    ("flow", "first_run", "parameters"),
    [
        ("compile", datetime(2027, 1, 13, 6, 0), {"year": 2026}),
        ("analyse", datetime(2027, 2, 3, 6, 0), {"year": 2026}),
        ("safety_report", datetime(2027, 2, 22, 6, 0), {"year": 2026}),
        ("interim_report", datetime(2027, 2, 8, 6, 0), {"period": "2026"}),
    ],
)
def test_each_steps_first_run_is_on_the_wheels_date_in_stockholm_time(
    deployments, flow, first_run, parameters
):
    first = deployments[flow].schedules[0]
    assert first.parameters == parameters
    assert first.schedule.timezone == "Europe/Stockholm"
    assert next_runs(first.schedule) == [first_run.replace(tzinfo=STOCKHOLM)]


def test_the_interim_report_runs_for_each_period(deployments):
    periods = [s.parameters["period"] for s in deployments["interim_report"].schedules]
    assert periods == ["2026", "2027-T1", "2027-T2", "2027", "2028-T1", "2028-T2"]


def test_inbox_and_calendars_run_every_morning_before_the_steps(deployments):
    (inbox,) = deployments["import_inbox"].schedules
    (calendars,) = deployments["publish_calendars"].schedules
    assert (inbox.schedule.cron, inbox.schedule.timezone) == ("0 5 * * *", "Europe/Stockholm")
    assert calendars.schedule.cron == "30 5 * * *"
    (reminders,) = deployments["send_reminders"].schedules
    assert reminders.schedule.cron == "0 6 * * *"
    assert deployments["cycle"].schedules == []
    assert deployments["sign_off"].schedules == []  # started by the steps, never on a schedule


def test_serve_without_a_prefect_server_says_how_to_start_one(workdir, monkeypatch, capsys):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: None}):
        assert main(["serve"]) == 2
    assert "prefect server start" in capsys.readouterr().err
