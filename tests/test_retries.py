"""Tasks retry what a later attempt can fix (the database unavailable), nothing else."""

from __future__ import annotations

import importlib
import pkgutil
import shutil

import httpx
import pytest
from prefect import Task, flow
from prefect.states import Failed
from sqlalchemy.exc import IntegrityError, OperationalError

import flows
from arshjul.errors import InputError
from flows.steps import is_transient, step_task, unwalked
from tests.conftest import FIXTURES, NOW, Blips


def unavailable() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("connection refused"))


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (unavailable(), True),
        # the Prefect server restarting (a sign-off's run is asked for through it)
        (httpx.ConnectError("connection refused"), True),
        (httpx.ReadTimeout("timed out"), True),
        (IntegrityError("INSERT", {}, Exception("duplicate key")), False),
        (InputError([]), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_an_unavailable_database_is_retried(error, retried):
    assert is_transient(None, None, Failed(data=error)) is retried


def test_every_task_of_the_flows_retries_transient_failures():
    tasks = [
        value
        for info in pkgutil.iter_modules(flows.__path__)
        for value in vars(importlib.import_module(f"flows.{info.name}")).values()
        if isinstance(value, Task)
    ]
    assert len(tasks) >= 15
    for found in tasks:
        assert (found.retries, found.retry_condition_fn) == (2, is_transient), found.name


@pytest.mark.usefixtures("prefect_harness")
def test_a_task_that_meets_an_unavailable_database_succeeds_on_its_retry(monkeypatch):
    attempts = []

    @step_task
    def count_rows() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise unavailable()
        return 42

    @flow
    def counting() -> int:
        return count_rows()

    monkeypatch.setattr(count_rows, "retry_delay_seconds", [0.0])
    assert counting() == 42
    assert len(attempts) == 2


class Untouchable(dict):
    """A region's figures that must reach the task without Prefect looking inside."""

    def items(self):  # type: ignore[override]
        raise AssertionError("Prefect walked the figures")


@pytest.mark.usefixtures("prefect_harness")
def test_figures_passed_unwalked_reach_the_task_as_they_are():
    figures = Untouchable(unit=1)

    @step_task
    def receive(value: dict) -> bool:
        return value is figures

    @flow
    def one(walked: bool) -> bool:
        return receive(figures if walked else unwalked(figures))

    assert one(walked=False) is True
    with pytest.raises(AssertionError, match="walked"):
        one(walked=True)


@pytest.mark.usefixtures("prefect_harness")
def test_the_morning_flows_meet_an_unavailable_database_first_and_complete(
    workdir, monkeypatch, blips: Blips
):
    """Their bodies leave the database to tasks: the first statement fails, the task that
    ran it is tried again, the run completes. (Steps and sign-offs: tests/test_signoff.py.)"""
    from flows.calendars import publish_calendars
    from flows.deployments import import_inbox
    from flows.reminders import send_reminders_flow

    inbox = workdir / "inbox"
    inbox.mkdir()
    shutil.copy(FIXTURES / "compile" / "organisation.csv", inbox)
    monkeypatch.setenv("ARSHJUL_INBOX", str(inbox))
    blips.fail("")
    assert import_inbox(now=NOW) == 1
    blips.fail("")
    assert any(p.suffix == ".ics" for p in publish_calendars(now=NOW))
    blips.fail("")
    # the flow's own retries (half an hour apart, for a refused message) are not what helps
    assert send_reminders_flow.with_options(retries=0)(now=NOW) == 0
    assert len(blips.blipped) == 3
