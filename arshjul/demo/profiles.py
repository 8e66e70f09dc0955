"""What kinds of units report what: the realism of the demo region, as data.

Weights are looked up by name, so a region that replaces the code lists in ``codes.yaml`` still
gets demo data: names without a weight here get ``DEFAULT_WEIGHT``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

DEFAULT_WEIGHT = 3.0

#: how often each deviation category is reported anywhere (per cent, roughly)
DEVIATION_CATEGORY_WEIGHTS: Mapping[str, float] = {
    "Vård och behandling": 22,
    "Läkemedel": 17,
    "Fall": 10,
    "Kommunikation och information": 14,
    "Dokumentation": 7,
    "Diagnostik och provtagning": 6,
    "Remisshantering": 4,
    "Medicinteknisk produkt": 4,
    "Vårdrelaterad infektion": 3,
    "Trycksår": 2,
    "Hot och våld": 2,
    "Informationssäkerhet": 3,
    "Organisation och samverkan": 6,
}

COMPLAINT_CATEGORY_WEIGHTS: Mapping[str, float] = {
    "Vård och behandling": 32,
    "Kommunikation": 22,
    "Tillgänglighet": 15,
    "Vårdansvar och organisation": 10,
    "Administrativ hantering": 8,
    "Dokumentation och sekretess": 6,
    "Resurser": 4,
    "Ekonomi": 3,
}

#: IVO is the rare route: most complaints come through 1177, the patient committee or directly
CHANNEL_WEIGHTS: Mapping[str, float] = {"1177": 45, "Patientnämnden": 30, "Direkt": 24, "IVO": 1}

#: consequence 1..4 (Mindre..Katastrofal) and probability 1..4 (Mycket liten..Mycket stor)
CONSEQUENCE_WEIGHTS = (55, 30, 12, 3)
PROBABILITY_WEIGHTS = (30, 42, 21, 7)
#: chance of a lex Maria report to IVO given the consequence: almost only 3 and 4
LEX_MARIA_CHANCE = (0.0, 0.0003, 0.02, 0.08)

#: days between the event and its report: mostly the same day, sometimes days later
REPORT_LAG_DAYS = (0, 1, 2, 3, 5, 7, 14)
REPORT_LAG_WEIGHTS = (62, 15, 8, 5, 4, 4, 2)

#: reporting volume by month: a winter peak and a summer dip while staff are on holiday
SEASON = (1.15, 1.10, 1.05, 1.00, 0.98, 0.93, 0.72, 0.86, 1.02, 1.05, 1.05, 1.09)


@dataclass(frozen=True)
class UnitType:
    """A kind of enhet, recognised by words in its name."""

    name: str
    keywords: tuple[str, ...]
    #: deviations per month, a unit's own rate is drawn between these
    monthly_deviations: tuple[float, float]
    #: complaints relative to deviations, compared with other unit types
    complaint_weight: float
    #: share of deviations that involve the municipality (vårdkedjan)
    care_chain: float
    #: weekend days get this share of a weekday's reports (outpatient units are closed)
    weekend_activity: float
    deviation_boost: Mapping[str, float] = field(default_factory=dict)
    complaint_boost: Mapping[str, float] = field(default_factory=dict)


# order matters: the first type whose keyword occurs in the unit's name wins
UNIT_TYPES: tuple[UnitType, ...] = (
    UnitType(
        "primary_care",
        ("vårdcentral", "hälsocentral"),
        (3, 6),
        complaint_weight=2.0,
        care_chain=0.15,
        weekend_activity=0.05,
        deviation_boost={
            "Remisshantering": 4,
            "Diagnostik och provtagning": 1.5,
            "Fall": 0.2,
            "Trycksår": 0.1,
            "Vårdrelaterad infektion": 0.3,
        },
        complaint_boost={"Tillgänglighet": 2},
    ),
    UnitType(
        "geriatrics",
        ("geriatri",),
        (6, 11),
        complaint_weight=0.8,
        care_chain=0.22,
        weekend_activity=0.7,
        deviation_boost={"Fall": 3, "Trycksår": 3, "Organisation och samverkan": 1.5},
    ),
    UnitType(
        "psychiatry",
        ("psykiatri", "beroende", "ätstörning"),
        (4, 9),
        complaint_weight=1.2,
        care_chain=0.08,
        weekend_activity=0.6,
        deviation_boost={"Hot och våld": 6, "Trycksår": 0.1, "Fall": 0.5},
    ),
    UnitType(
        "ward",
        ("avdelning", "förlossning", "stroke", "dialys"),
        (8, 15),
        complaint_weight=0.6,
        care_chain=0.06,
        weekend_activity=0.8,
        deviation_boost={
            "Fall": 2.5,
            "Trycksår": 3,
            "Vårdrelaterad infektion": 2,
            "Remisshantering": 0.3,
        },
    ),
    UnitType(
        "emergency",
        ("akut", "ambulans"),
        (5, 9),
        complaint_weight=1.8,
        care_chain=0.10,
        weekend_activity=0.9,
        deviation_boost={
            "Organisation och samverkan": 2,
            "Kommunikation och information": 1.3,
            "Hot och våld": 2,
        },
        complaint_boost={"Tillgänglighet": 1.5},
    ),
    UnitType(
        "surgery",
        ("operation", "dagkirurgi"),
        (4, 8),
        complaint_weight=0.5,
        care_chain=0.03,
        weekend_activity=0.2,
        deviation_boost={
            "Medicinteknisk produkt": 3,
            "Vårdrelaterad infektion": 2,
            "Remisshantering": 0.3,
        },
    ),
)

#: mottagningar and anything not recognised above
OUTPATIENT = UnitType(
    "outpatient",
    ("mottagning", "öppenvård"),
    (1.5, 4),
    complaint_weight=1.2,
    care_chain=0.05,
    weekend_activity=0.05,
    deviation_boost={"Remisshantering": 2.5, "Fall": 0.3, "Trycksår": 0.1},
)

ALL_UNIT_TYPES = (*UNIT_TYPES, OUTPATIENT)


def unit_type(name: str) -> UnitType:
    lowered = name.lower()
    for kind in UNIT_TYPES:
        if any(word in lowered for word in kind.keywords):
            return kind
    return OUTPATIENT


def cumulative(weights: Sequence[float]) -> list[float]:
    """Cumulative weights for ``random.choices``: cheaper than plain weights in a loop."""
    return list(accumulate(weights))


def category_weights(
    names: Sequence[str], base: Mapping[str, float], boost: Mapping[str, float]
) -> list[float]:
    """Cumulative weights of ``names``: how common each is, times the unit type's boost."""
    return cumulative([base.get(n, DEFAULT_WEIGHT) * boost.get(n, 1.0) for n in names])


#: Händelsebeskrivning: short, invented, nothing that identifies anyone
DESCRIPTIONS: Mapping[str, tuple[str, ...]] = {
    "Vård och behandling": (
        "Fördröjd bedömning av patient",
        "Behandling startade senare än planerat",
    ),
    "Läkemedel": ("Dos gavs vid fel tidpunkt", "Ordinerat läkemedel saknades på avdelningen"),
    "Fall": ("Patient föll vid förflyttning", "Fall i korridor utan synlig skada"),
    "Kommunikation och information": (
        "Oklar överrapportering vid skiftbyte",
        "Information nådde inte mottagande enhet",
    ),
    "Dokumentation": ("Anteckning saknades i journalen", "Ordination dokumenterad på fel ställe"),
    "Diagnostik och provtagning": ("Provrör med fel etikett", "Provsvar saknades vid rond"),
    "Remisshantering": ("Remiss skickades inte", "Remissvar dröjde flera veckor"),
    "Medicinteknisk produkt": ("Infusionspump larmade utan orsak", "Utrustning saknades vid behov"),
    "Vårdrelaterad infektion": (
        "Misstänkt vårdrelaterad infektion",
        "Brist i basala hygienrutiner",
    ),
    "Trycksår": ("Trycksår upptäckt vid omvårdnad", "Riskbedömning för trycksår ej gjord"),
    "Hot och våld": ("Hotfull situation i väntrummet", "Medarbetare utsatt för verbalt hot"),
    "Informationssäkerhet": ("Utskrift lämnad framme", "Fel mottagare för meddelande"),
    "Organisation och samverkan": (
        "Otillräcklig bemanning under natten",
        "Oklar ansvarsfördelning mot kommunen",
    ),
}
GENERIC_DESCRIPTIONS = ("Händelse under vårdtillfälle", "Avsteg från rutin")
