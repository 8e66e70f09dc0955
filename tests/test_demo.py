"""The synthetic demo region: deterministic, well-formed, and realistic enough to analyse."""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from arshjul.config import LEVEL_SV, Config
from arshjul.demo import DemoFiles, build_organisation, silent_units, write_demo
from arshjul.importers import import_file
from tests.conftest import NOW, TODAY

Rows = list[dict[str, str]]
LEVELS = ("region", "område", "verksamhet", "enhet")
FREE_TEXT = "Händelsebeskrivning"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, config: Config) -> DemoFiles:
    return write_demo(tmp_path_factory.mktemp("demo") / "data", config, today=TODAY)


def read(path: Path) -> Rows:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


@pytest.fixture(scope="module")
def organisation(demo: DemoFiles) -> Rows:
    return read(demo.organisation)


@pytest.fixture(scope="module")
def deviations(demo: DemoFiles) -> Rows:
    return read(demo.deviations)


@pytest.fixture(scope="module")
def complaints(demo: DemoFiles) -> Rows:
    return read(demo.complaints)


def share(rows: Rows, column: str, value: str) -> float:
    return sum(r[column] == value for r in rows) / len(rows)


# --- files ---------------------------------------------------------------------------------


def test_files_in_import_order_and_nothing_else_left(demo: DemoFiles) -> None:
    assert list(demo.by_kind()) == ["organisation", "deviations", "complaints"]
    folder = demo.organisation.parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "complaints.csv",
        "deviations.csv",
        "organisation.csv",
    ]


def test_same_seed_and_day_give_identical_bytes(tmp_path: Path, config: Config) -> None:
    first = write_demo(tmp_path / "a", config, today=TODAY, seed=7)
    again = write_demo(tmp_path / "b", config, today=TODAY, seed=7)
    other = write_demo(tmp_path / "c", config, today=TODAY, seed=8)
    for kind, path in first.by_kind().items():
        assert path.read_bytes() == again.by_kind()[kind].read_bytes(), kind
    assert first.organisation.read_bytes() == other.organisation.read_bytes()
    assert first.deviations.read_bytes() != other.deviations.read_bytes()
    assert first.complaints.read_bytes() != other.complaints.read_bytes()


def test_excel_style_csv_with_swedish_headers_from_the_aliases(
    demo: DemoFiles, config: Config
) -> None:
    aliases = config.columns.aliases
    for kind, path in demo.by_kind().items():
        raw = path.read_bytes()
        assert raw.startswith("\ufeff".encode()), kind
        header = raw.decode("utf-8-sig").splitlines()[0].split(";")
        known = {alias: column for column, names in aliases[kind].items() for alias in names}
        columns = [known[h] for h in header if h != FREE_TEXT]
        assert sorted(columns) == sorted(aliases[kind]), kind


def test_no_personnummer_like_digit_runs(demo: DemoFiles, config: Config) -> None:
    # the region's own HSA-id (SE + organisationsnummer) is the only 10-digit run allowed
    region_number = re.sub(r"\D", "", config.settings.region.id.partition("-")[0])
    for path in demo.by_kind().values():
        runs = re.findall(r"\d+", path.read_text(encoding="utf-8-sig"))
        assert {r for r in runs if len(r) in (10, 12)} <= {region_number}, path.name
        assert not [r for r in runs if len(r) > 12], path.name


def test_values_in_swedish(deviations: Rows, complaints: Rows, config: Config) -> None:
    assert {r["Status"] for r in deviations} == {"Ny", "Pågående", "Avslutad"}
    assert {r["Status"] for r in complaints} == {"Ny", "Pågående", "Besvarad", "Avslutad"}
    for column in ("Lex Maria", "Vårdkedja"):
        assert {r[column] for r in deviations} == {"ja", "nej"}
    assert {r["Händelsetyp"] for r in deviations} == set(config.codes.deviation_categories)
    assert {r["Kategori"] for r in complaints} == set(config.codes.complaint_categories)
    assert {r["Kanal"] for r in complaints} == set(config.codes.complaint_channels)
    assert all(r[FREE_TEXT] for r in deviations)


# --- organisation --------------------------------------------------------------------------


def test_small_organisation_is_the_bundled_tree(organisation: Rows, config: Config) -> None:
    bundled = yaml.safe_load(config.path("demo_organisation.yaml").read_text(encoding="utf-8"))
    units = sum(len(us) for a in bundled["areas"] for us in a["departments"].values())
    assert Counter(r["Nivå"] for r in organisation) == {
        "region": 1,
        "område": 3,
        "verksamhet": 12,
        "enhet": units,
    }
    region = config.settings.region
    assert organisation[0] == {
        "HSA-id": region.id,
        "Namn": region.name,
        "Nivå": "region",
        "Överordnad": "",
    }
    assert organisation[1]["HSA-id"] == "SE2321000000-O001"
    assert_tree(organisation)


def assert_tree(organisation: Rows) -> None:
    """Unique ids; every parent listed earlier, one level up."""
    level_of: dict[str, str] = {}
    for row in organisation:
        assert row["HSA-id"] not in level_of
        if row["Nivå"] != "region":
            parent_level = level_of[row["Överordnad"]]
            assert LEVELS.index(parent_level) == LEVELS.index(row["Nivå"]) - 1
        level_of[row["HSA-id"]] = row["Nivå"]


def test_large_organisation(config: Config) -> None:
    units = build_organisation(config, "large")
    assert Counter(u.level for u in units) == {
        "region": 1,
        "area": 8,
        "department": 120,
        "unit": 1500,
    }
    assert len({u.name for u in units}) == len(units)
    assert units[-1].id.endswith("-E1500")
    assert_tree(
        [
            {"HSA-id": u.id, "Nivå": LEVEL_SV[u.level], "Överordnad": u.parent_id or ""}
            for u in units
        ]
    )


# --- dates ---------------------------------------------------------------------------------


def test_three_calendar_years_up_to_today(deviations: Rows, complaints: Rows) -> None:
    for rows, column in ((deviations, "Rapporteringsdatum"), (complaints, "Inkommet datum")):
        days = sorted(date.fromisoformat(r[column]) for r in rows)
        assert days[0] < date(TODAY.year - 2, 1, 8)
        assert days[-1] > TODAY - timedelta(days=7)
        months = {(d.year, d.month) for d in days}
        assert len(months) == 24 + TODAY.month
    for row in deviations + complaints:
        dates = [v for k, v in row.items() if k.endswith("datum") and v]
        assert all(date(TODAY.year - 2, 1, 1).isoformat() <= d <= TODAY.isoformat() for d in dates)


def test_deviation_dates_in_order(deviations: Rows) -> None:
    for r in deviations:
        lag = date.fromisoformat(r["Rapporteringsdatum"]) - date.fromisoformat(r["Händelsedatum"])
        assert timedelta(0) <= lag <= timedelta(days=14)
        if r["Status"] == "Avslutad":
            assert r["Avslutad datum"] > r["Rapporteringsdatum"]
        else:
            assert r["Avslutad datum"] == ""


def test_statuses_follow_age(deviations: Rows, complaints: Rows) -> None:
    year_ago = (TODAY - timedelta(days=365)).isoformat()
    old = [r for r in deviations if r["Rapporteringsdatum"] < year_ago]
    assert share(old, "Status", "Avslutad") > 0.97
    recent = [r for r in deviations if r["Rapporteringsdatum"] >= TODAY.isoformat()[:7]]
    assert share(recent, "Status", "Avslutad") < 0.5
    last_days = [r for r in deviations if days_between(r["Rapporteringsdatum"], TODAY) < 3]
    assert {r["Status"] for r in last_days} == {"Ny"}

    answered = [r for r in complaints if r["Besvarat datum"]]
    assert all(r["Status"] in ("Besvarad", "Avslutad") for r in answered)
    waits = [days_between(r["Inkommet datum"], r["Besvarat datum"]) for r in answered]
    within_four_weeks = sum(w <= 28 for w in waits) / len(waits)
    assert 0.7 < within_four_weeks < 0.95
    assert any(r["Status"] in ("Ny", "Pågående") for r in complaints)


def days_between(first: str, then: str | date) -> int:
    later = then if isinstance(then, date) else date.fromisoformat(then)
    return (later - date.fromisoformat(first)).days


# --- volumes and mix -----------------------------------------------------------------------


def test_two_silent_units(demo: DemoFiles, config: Config, deviations: Rows) -> None:
    organisation = build_organisation(config, "small")
    silent = silent_units(organisation)
    assert len(set(silent)) == 2
    per_unit_year = Counter((r["Enhet HSA-id"], r["Rapporteringsdatum"][:4]) for r in deviations)
    per_unit = Counter(r["Enhet HSA-id"] for r in deviations)
    for unit in silent:
        assert all(per_unit_year[unit, str(y)] <= 3 for y in range(TODAY.year - 2, TODAY.year + 1))
    others = [u.id for u in organisation if u.level == "unit" and u.id not in silent]
    assert min(per_unit[u] for u in others) >= 30


def test_volumes(deviations: Rows, complaints: Rows) -> None:
    per_year = len(deviations) / 2.9
    assert 1500 < per_year < 4000
    assert 0.15 < len(complaints) / len(deviations) < 0.25
    by_month = Counter(r["Rapporteringsdatum"][5:7] for r in deviations)
    assert by_month["01"] > by_month["07"] * 1.2  # winter peak, summer dip


def test_consequence_and_probability_mix(deviations: Rows) -> None:
    for grade, expected in zip("1234", (0.55, 0.30, 0.12, 0.03), strict=True):
        assert share(deviations, "Konsekvens", grade) == pytest.approx(expected, abs=0.03)
    assert {r["Sannolikhet"] for r in deviations} == set("1234")


def test_lex_maria_rare_and_serious(deviations: Rows) -> None:
    reported = [r for r in deviations if r["Lex Maria"] == "ja"]
    assert 0.002 < len(reported) / len(deviations) < 0.01
    serious = sum(r["Konsekvens"] in ("3", "4") for r in reported)
    assert serious >= 0.9 * len(reported)


def test_care_chain_share_higher_in_primary_care(deviations: Rows, organisation: Rows) -> None:
    assert 0.05 < share(deviations, "Vårdkedja", "ja") < 0.12
    names = {r["HSA-id"]: r["Namn"] for r in organisation}
    primary = [r for r in deviations if names[r["Enhet HSA-id"]].startswith("Vårdcentral")]
    assert share(primary, "Vårdkedja", "ja") > share(deviations, "Vårdkedja", "ja")


def test_categories_depend_on_unit_type(deviations: Rows, organisation: Rows) -> None:
    common = Counter(r["Händelsetyp"] for r in deviations).most_common(4)
    assert {name for name, _ in common} == {
        "Vård och behandling",
        "Läkemedel",
        "Fall",
        "Kommunikation och information",
    }
    names = {r["HSA-id"]: r["Namn"] for r in organisation}
    primary = [r for r in deviations if names[r["Enhet HSA-id"]].startswith("Vårdcentral")]
    wards = [r for r in deviations if "avdelning" in names[r["Enhet HSA-id"]]]
    assert share(primary, "Händelsetyp", "Remisshantering") > 0.1
    assert share(wards, "Händelsetyp", "Fall") > 3 * share(primary, "Händelsetyp", "Fall")


def test_complaint_channels(complaints: Rows) -> None:
    assert 0 < share(complaints, "Kanal", "IVO") < 0.03
    assert share(complaints, "Kanal", "1177") > 0.3


def test_the_demo_region_imports_without_a_problem(conn, config, tmp_path):
    files = write_demo(tmp_path, config, today=NOW.date())
    results = [import_file(conn, config, k, p, now=NOW) for k, p in files.by_kind().items()]
    assert [r.kind for r in results] == ["organisation", "deviations", "complaints"]
    assert all(r.inserted == r.rows > 0 for r in results)
    assert results[1].ignored_columns == ("Händelsebeskrivning",)
