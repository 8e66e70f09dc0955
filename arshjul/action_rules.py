"""What an action's status means for its finding, for the plans and for the status of the
cycle alike (a module of its own: the status is judged below the steps that write the plans)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from arshjul.models import ActionStatus

#: an action with one of these is still to be carried out, and is carried over to next year
OPEN = frozenset({ActionStatus.PLANNED, ActionStatus.IN_PROGRESS})
#: a row with one of these answers its finding: an action not struck out, or the unit's
#: decision Ingen åtgärd (which the import takes only with its reason)
ANSWERS = frozenset(ActionStatus) - {ActionStatus.DROPPED}
#: findings at or above this severity (Medel) must be answered for the plan to be done
MUST_ANSWER = 2

#: the columns the documents count actions in: by status, Klar split by whether the unit
#: wrote it by the action's Klart senast (:func:`standing`); decisions are not actions
STANDINGS = {
    "planned": "Planerad",
    "in_progress": "Pågår",
    "done_in_time": "Klar i tid",
    "done_late": "Klar sent",
    "dropped": "Struken",
}
#: what the documents say a Klar in time or late means: the status page's rule for a step
#: (done by the deadline's date from its evidence) with the worksheet's row as the evidence
DONE_LATE_RULE = (
    "Klar i tid: raden som först sa Klar har ett Statusdatum senast på åtgärdens klart-datum;"
    " klar sent: efter det (en rad utan Statusdatum gäller dagen arbetsbladet lästes in)."
    " Statusdatum är dagen enheten skrev statusen, inte nödvändigtvis dagen arbetet blev klart."
    " En klar åtgärd utan klart-datum räknas som klar i tid."
)


def became_done(updates: Iterable[tuple[ActionStatus, date]]) -> date | None:
    """The day an action became Klar: of its status updates ``(status, day)`` in the order
    of their days, the first Klar after the last that said anything else; None when the last
    is not Klar. An action reopened and finished again became Klar the second time."""
    since: date | None = None
    for status, day in updates:
        if status is not ActionStatus.DONE:
            since = None
        elif since is None:
            since = day
    return since


def done_late(due: date | None, done_on: date | None) -> bool:
    """Klar sent: written Klar after its Klart senast; never without a Klart senast."""
    return due is not None and done_on is not None and done_on > due


def standing(status: ActionStatus, due: date | None, done_on: date | None) -> str:
    """The column of :data:`STANDINGS` an action is counted in."""
    if status is ActionStatus.DONE:
        return "done_late" if done_late(due, done_on) else "done_in_time"
    return status.value
