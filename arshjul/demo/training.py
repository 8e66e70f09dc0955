"""The demo region's training roster: who must take which course, and who has.

Every manager takes both courses: the områdeschef at the område, the verksamhetschef (and
sometimes a biträdande) at the verksamhet, the enhetschef and 0–2 biträdande enhetschefer at
the enhet, all with the role ``chef``. Staff (``medarbetare``) at every enhet take the
patient-safety course. One row per person and course; ``completed_date`` is empty when the
course is not done. The production-planning course started on 1 September two years back.

Coverage varies by enhet: most have 90 % or more of their staff trained, about a third fewer
(65–88 %), the planted ``low_training`` enhet half; managers' chances follow their enhet's.
Person keys are pseudonyms like ``KX7M-2PQD``: never more than four digits in a row, so
nothing looks like a personnummer.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from math import ceil, floor

from arshjul.demo.organisation import DemoUnit
from arshjul.demo.records import YEARS_BACK, Row
from arshjul.demo.services import (
    MANAGER,
    PATIENT_SAFETY,
    PRODUCTION_PLANNING,
    STAFF,
    Planted,
)

TRAINING_HEADER = ("Pseudonym", "Enhet HSA-id", "Roll", "Kurs", "Genomförd datum")

#: staff on an enhet's roster, and its managers besides the enhetschef
STAFF_PER_UNIT = (8, 24)
DEPUTIES = (0, 1, 1, 2)
#: share of an enhet's staff trained: most at the 90 % target or above, some below it
COVERAGE, LOW_COVERAGE, LOW_COVERAGE_SHARE = (0.9, 1.0), (0.65, 0.88), 0.3
PLANTED_COVERAGE = 0.5
#: chance that a manager has done each course (times the enhet's staff coverage)
MANAGER_CHANCE = {PATIENT_SAFETY: 0.95, PRODUCTION_PLANNING: 0.75}
#: letters and digits that cannot be mistaken for each other
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class _Roster:
    managers: int
    staff: int
    #: staff who have done the patient-safety course
    trained: int
    #: the unit's staff coverage, which the managers' chances follow
    coverage: float


def training_rows(
    rng: random.Random, organisation: list[DemoUnit], planted: Planted, today: date
) -> Iterator[Row]:
    """Rows of ``TRAINING_HEADER``, unit by unit in the order of the organisation."""
    since = {
        PATIENT_SAFETY: date(today.year - YEARS_BACK, 1, 1).toordinal(),
        PRODUCTION_PLANNING: date(today.year - 2, 9, 1).toordinal(),
    }
    last = today.toordinal()
    keys = _Pseudonyms(rng)

    def completed(course: str, done: bool) -> str:
        return date.fromordinal(rng.randint(since[course], last)).isoformat() if done else ""

    for unit in organisation:
        roster = _roster(rng, unit, planted)
        managers = [keys.next() for _ in range(roster.managers)]
        for course in (PATIENT_SAFETY, PRODUCTION_PLANNING):
            chance = MANAGER_CHANCE[course] * roster.coverage
            for person in managers:
                yield (person, unit.id, MANAGER, course, completed(course, rng.random() < chance))
        trained = set(rng.sample(range(roster.staff), roster.trained))
        for i in range(roster.staff):
            yield (
                keys.next(),
                unit.id,
                STAFF,
                PATIENT_SAFETY,
                completed(PATIENT_SAFETY, i in trained),
            )


def _roster(rng: random.Random, unit: DemoUnit, planted: Planted) -> _Roster:
    """The managers and staff of one unit of any level; staff only at enheter."""
    if unit.level != "unit":
        managers = {"region": 0, "area": 1, "department": 1 + rng.choice((0, 1))}[unit.level]
        return _Roster(managers, 0, 0, 1.0)
    staff = rng.randint(*STAFF_PER_UNIT)
    if unit.id == planted.low_training:
        trained = round(PLANTED_COVERAGE * staff)
    elif rng.random() < LOW_COVERAGE_SHARE:
        trained = floor(rng.uniform(*LOW_COVERAGE) * staff)
    else:
        trained = ceil(rng.uniform(*COVERAGE) * staff)
    return _Roster(1 + rng.choice(DEPUTIES), staff, trained, trained / staff)


class _Pseudonyms:
    """Unique person keys ``XXXX-XXXX`` from the stream."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def next(self) -> str:
        while True:
            key = "".join(self.rng.choices(_ALPHABET, k=8))
            key = f"{key[:4]}-{key[4:]}"
            if key not in self.used:
                self.used.add(key)
                return key
