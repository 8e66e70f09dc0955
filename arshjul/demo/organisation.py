"""The demo region's organisation tree: the bundled one (small) or a generated one (large).

HSA-ids are derived from the region's id, ``SE2321000000-DEMO`` giving ``SE2321000000-O001``
(område), ``-V001`` (verksamhet) and ``-E0001`` (enhet), so they are the same on every run.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product
from typing import Literal

from arshjul.config import Config, Level, Strict, parse_model, read_yaml

Scale = Literal["small", "large"]

#: in the large region: 8 områden of 15 verksamheter, 1,500 enheter spread evenly over those
LARGE_AREAS = ("Nord", "Syd", "Öst", "Väst", "Mitt", "Kust", "Fjäll", "Skog")
LARGE_DEPARTMENTS_PER_AREA = 15
LARGE_UNITS = 1500

#: verksamhet name -> its enheter's names, for the large region (place names are added)
DEPARTMENT_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Medicinkliniken",
        (
            "Medicinavdelning",
            "Akutvårdsavdelning",
            "Hjärtmottagning",
            "Strokeenhet",
            "Lungmottagning",
            "Diabetesmottagning",
            "Dialysenhet",
        ),
    ),
    ("Primärvård", ("Vårdcentral",)),
    (
        "Kirurgkliniken",
        (
            "Kirurgavdelning",
            "Dagkirurgi",
            "Operationsenhet",
            "Kirurgmottagning",
            "Urologmottagning",
        ),
    ),
    (
        "Psykiatri",
        (
            "Psykiatrisk avdelning",
            "Psykiatrisk öppenvård",
            "Beroendemottagning",
            "Ätstörningsenhet",
        ),
    ),
    (
        "Ortopedkliniken",
        (
            "Ortopedavdelning",
            "Ortopedmottagning",
            "Operationsenhet ortopedi",
            "Handkirurgisk mottagning",
        ),
    ),
    ("Geriatriska kliniken", ("Geriatrisk avdelning", "Minnesmottagning", "Geriatrisk dagvård")),
    ("Akutkliniken", ("Akutmottagning", "Ambulanssjukvård", "Akutvårdsavdelning")),
    (
        "Barn- och ungdomskliniken",
        ("Barnavdelning", "Barnmottagning", "Neonatalavdelning", "BUP-mottagning"),
    ),
    (
        "Kvinnokliniken",
        ("Förlossning", "BB-avdelning", "Gynekologisk mottagning", "Barnmorskemottagning"),
    ),
)

# combined into Swedish-looking place names: Bergvik, Sjöholm, Tallmark, …
_PLACE_STARTS = (
    "Berg Sjö Ek Björk Lund Strand Ås Dal Hag Sand Lin Tall Gran Al Ny Öster Väster Norr Söder"
    " Stor Lill Fors Hed Kvarn Mo Rön Ham Klock Måns Ör"
).split()
_PLACE_ENDS = (
    "by vik berg dal köping holm sund hamn torp ås näs stad lunda ryd fors mark tuna sele"
).split()

#: area name -> its verksamheter, each with its enheter's names
Tree = list[tuple[str, list[tuple[str, list[str]]]]]


@dataclass(frozen=True)
class DemoUnit:
    id: str
    name: str
    level: Level
    parent_id: str | None


class _Ids:
    """Numbers the nodes of one level in the order they are created."""

    def __init__(self, region_id: str):
        self.base = region_id.partition("-")[0]
        self.counts = {"O": 0, "V": 0, "E": 0}

    def next(self, letter: str, width: int) -> str:
        self.counts[letter] += 1
        return f"{self.base}-{letter}{self.counts[letter]:0{width}d}"


def build_organisation(config: Config, scale: Scale) -> list[DemoUnit]:
    """Region first, then every område, verksamhet and enhet, parents before children."""
    region = config.settings.region
    root = DemoUnit(region.id, region.name, "region", None)
    tree = _bundled_tree(config) if scale == "small" else _generated_tree()
    ids = _Ids(region.id)
    areas, departments, units = [], [], []
    for area_name, area_departments in tree:
        area = DemoUnit(ids.next("O", 3), area_name, "area", root.id)
        areas.append(area)
        for department_name, unit_names in area_departments:
            department = DemoUnit(ids.next("V", 3), department_name, "department", area.id)
            departments.append(department)
            units += [DemoUnit(ids.next("E", 4), n, "unit", department.id) for n in unit_names]
    return [root, *areas, *departments, *units]


def silent_units(organisation: list[DemoUnit]) -> tuple[str, str]:
    """The two enheter that report (almost) no deviations: a third and two thirds down the
    list, so they sit in different områden and do not depend on the seed."""
    units = [u.id for u in organisation if u.level == "unit"]
    return units[len(units) // 3], units[2 * len(units) // 3]


class _BundledArea(Strict):
    name: str
    departments: dict[str, tuple[str, ...]]


class _BundledOrganisation(Strict):
    areas: tuple[_BundledArea, ...]


def _bundled_tree(config: Config) -> Tree:
    path = config.path("demo_organisation.yaml")
    parsed = parse_model(_BundledOrganisation, read_yaml(path), path)
    return [
        (area.name, [(name, list(units)) for name, units in area.departments.items()])
        for area in parsed.areas
    ]


def _generated_tree() -> Tree:
    # a fixed seed: the large organisation is the same whatever seed the records use
    places = _place_names(random.Random("arshjul large organisation"))
    per_department = _even_split(LARGE_UNITS, len(LARGE_AREAS) * LARGE_DEPARTMENTS_PER_AREA)
    tree: Tree = []
    for area_name in LARGE_AREAS:
        departments = []
        for d in range(LARGE_DEPARTMENTS_PER_AREA):
            kind, unit_kinds = DEPARTMENT_KINDS[d % len(DEPARTMENT_KINDS)]
            town = next(places)
            units = [_unit_name(unit_kinds, i, town, places) for i in range(next(per_department))]
            departments.append((f"{kind} {town}", units))
        tree.append((f"Område {area_name}", departments))
    return tree


def _unit_name(kinds: tuple[str, ...], i: int, town: str, places: Iterator[str]) -> str:
    if kinds == ("Vårdcentral",):
        return f"Vårdcentral {next(places)}"
    rounds, k = divmod(i, len(kinds))
    return f"{kinds[k]} {town}" + (f" {rounds + 1}" if rounds else "")


def _place_names(rng: random.Random) -> Iterator[str]:
    """Swedish-looking place names, each used once (540 of them, the region needs ~330)."""
    names = [a + b for a, b in product(_PLACE_STARTS, _PLACE_ENDS)]
    rng.shuffle(names)
    return iter(names)


def _even_split(total: int, buckets: int) -> Iterator[int]:
    """``total`` split into ``buckets`` sizes that differ by at most one."""
    size, extra = divmod(total, buckets)
    for b in range(buckets):
        yield size + (1 if b < extra else 0)
