"""What an action's status means for its finding, for the plans and for the status of the
cycle alike (a module of its own: the status is judged below the steps that write the plans)."""

from __future__ import annotations

from arshjul.models import ActionStatus

#: an action with one of these is still to be carried out, and is carried over to next year
OPEN = frozenset({ActionStatus.PLANNED, ActionStatus.IN_PROGRESS})
#: a row with one of these answers its finding: an action not struck out, or the unit's
#: decision Ingen åtgärd (which the import takes only with its reason)
ANSWERS = frozenset(ActionStatus) - {ActionStatus.DROPPED}
#: findings at or above this severity (Medel) must be answered for the plan to be done
MUST_ANSWER = 2
