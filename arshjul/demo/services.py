"""What each enhet of the demo region does, read from its name, and the planted features.

Which enheter keep waiting lists, what they produce, which have beds: the realism of the
waiting, production and capacity files, as data. The planted features (a unit far under plan,
overcrowded wards, months missing from an export, …) are chosen by position in the
organisation, never by the seed, so tests and documents can rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from arshjul.demo.organisation import DemoUnit, silent_units

#: the demo's own vocabulary; the default code lists in ``codes.yaml`` hold all of them
VISIT, OPERATION, PROCEDURE = "besök", "operation", "åtgärd"
VISITS, BED_DAYS, OPERATIONS, DRG = "besök", "vårddagar", "operationer", "DRG-poäng"
MANAGER, STAFF = "chef", "medarbetare"
PATIENT_SAFETY, PRODUCTION_PLANNING = "patientsäkerhet", "produktionsplanering"

#: mottagningar of these specialities also do procedures (endoscopy, ECG stress tests, …)
_PROCEDURAL = ("hjärt", "gynekolog", "ortoped", "urolog", "hand", "kirurg", "lung")
#: units with no waiting list under the care guarantee's 90 days: emergency care, primary care
#: (its guarantee is an assessment within 3 days), antenatal care
_NO_QUEUE = ("akut", "ambulans", "vårdcentral", "hälsocentral", "barnmorske")


def waiting_activities(name: str) -> tuple[str, ...]:
    """The activities an enhet keeps a waiting list for: specialist mottagningar and
    operating units; none for wards, primary and emergency care."""
    lowered = name.lower()
    if any(word in lowered for word in _NO_QUEUE):
        return ()
    if "operation" in lowered:
        return (OPERATION, PROCEDURE)
    if "dagkirurgi" in lowered:
        return (OPERATION,)
    if "mottagning" in lowered or "öppenvård" in lowered:
        return (VISIT, PROCEDURE) if any(w in lowered for w in _PROCEDURAL) else (VISIT,)
    return ()


def is_inpatient(name: str) -> bool:
    """A vårdavdelning: it has beds, reports capacity and produces vårddagar."""
    lowered = name.lower()
    return "avdelning" in lowered or "stroke" in lowered


@dataclass(frozen=True)
class Production:
    """What a kind of enhet produces: its measures, the first one the main one (it carries
    the cost), monthly volume and cost per unit of the main measure, DRG points per unit."""

    keywords: tuple[str, ...]
    measures: tuple[str, ...]
    #: per month in an ordinary month; inpatient units get theirs from their beds instead
    volume: tuple[float, float]
    cost_per_unit: tuple[float, float]
    #: DRG points per unit of the main measure, when DRG-poäng is among the measures
    drg_per_unit: tuple[float, float] = (0.0, 0.0)


# order matters: the first profile whose keyword occurs in the unit's name wins
PRODUCTION_PROFILES = (
    Production(("avdelning", "stroke"), (BED_DAYS, DRG), (0, 0), (9_000, 14_000), (0.20, 0.30)),
    Production(("operation",), (OPERATIONS, DRG), (250, 500), (30_000, 55_000), (0.9, 1.6)),
    Production(("dagkirurgi",), (OPERATIONS, DRG), (250, 450), (12_000, 20_000), (0.4, 0.7)),
    Production(("förlossning",), (VISITS, DRG), (400, 800), (6_000, 9_000), (0.25, 0.35)),
    Production(("vårdcentral", "hälsocentral"), (VISITS,), (2_500, 5_000), (1_500, 2_400)),
    Production(("akutmottagning",), (VISITS,), (2_000, 4_000), (4_000, 6_500)),
    Production(("ambulans",), (VISITS,), (800, 1_500), (6_000, 9_000)),
)
#: mottagningar, öppenvård, dagvård and anything not recognised above
OUTPATIENT_PRODUCTION = Production((), (VISITS,), (500, 1_800), (2_400, 4_500))


def production_profile(name: str) -> Production:
    lowered = name.lower()
    for profile in PRODUCTION_PROFILES:
        if any(word in lowered for word in profile.keywords):
            return profile
    return OUTPATIENT_PRODUCTION


@dataclass(frozen=True)
class Planted:
    """Features of the demo region that do not depend on the seed.

    - ``long_waits``: an operating unit whose waiting list has many patients over 90 and over
      180 days; it is also ``under_plan``, from the default data year (last year) on: it
      produces 80–86 % of plan (about plan before), so its backlog grows.
    - ``over_plan``: a mottagning that produces 108–112 % of plan every month.
    - ``overcrowded``: two vårdavdelningar at 99–105 % occupancy with many överbeläggningar.
    - ``missing_unit`` has no production and no capacity rows for ``missing_months``
      (March and April of the default data year): its export for them never came.
    - ``low_training``: an enhet where about half the staff have done the patient-safety course.
    - ``no_plan``: an enhet that hands no action-plan worksheet back, the first of the two
      silent units (it neither reports deviations nor plans).
    """

    long_waits: str
    under_plan: str
    over_plan: str
    overcrowded: tuple[str, str]
    missing_unit: str
    missing_months: tuple[date, date]
    low_training: str
    no_plan: str


def plant(organisation: list[DemoUnit], today: date) -> Planted:
    units = [u for u in organisation if u.level == "unit"]
    operating = [u.id for u in units if OPERATION in waiting_activities(u.name)]
    outpatient = [u.id for u in units if production_profile(u.name) is OUTPATIENT_PRODUCTION]
    inpatient = [u.id for u in units if is_inpatient(u.name)]
    data_year = today.year - 1
    return Planted(
        long_waits=operating[-1],
        under_plan=operating[-1],
        over_plan=outpatient[0],
        overcrowded=(inpatient[0], inpatient[len(inpatient) // 2]),
        missing_unit=inpatient[-1],
        missing_months=(date(data_year, 3, 1), date(data_year, 4, 1)),
        low_training=units[len(units) // 4].id,
        no_plan=silent_units(organisation)[0],
    )
