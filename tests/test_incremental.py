"""Incremental runs (issue 18.3): a unit's own counts are stored for the version of its records
and counted again only when those changed; a document is written only when what it says
changed, and otherwise keeps the footer of the run that made it.

The region is the hand-made tree of ``tests/fixtures/compile`` (R1 › A1 › V1 › E1, E2 and
R1 › A2 › V2 › E3). Its deviations reported in 2025: E1 4 (D01–D04), E2 2 (D05, D06), E3 2
(D07, D08; D09 was reported in 2024), V2 1 (D10); by status today Avslutad 6 (D01, D02, D03,
D06, D07, D08), Ny 1 (D04), Pågående 2 (D05, D10). The change: one file of two rows of E1,
D04 closed and D12 reported, both 2025.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, select

from arshjul import analysis, compilation, figures
from arshjul.figures import StoredCounts, count_own, decode, encode, roll_up
from arshjul.importers import import_file
from arshjul.models import DeviationStatus, StepRun
from arshjul.org import OrgTree
from arshjul.periods import Period
from arshjul.steps import Run, Step, StepResult, ToSignOff, run_step
from arshjul.workspace import Workspace, open_workspace
from tests.conftest import FIXTURES, NOW

YEAR = 2025
PERIOD = Period.full_year(YEAR)
CHANGE = (
    "Avvikelse-ID;Enhet HSA-id;Händelsedatum;Rapporteringsdatum;Händelsetyp;Status;"
    "Avslutad datum\n"
    "D04;E1;2025-12-30;2025-12-31;Läkemedel;Avslutad;2026-01-15\n"
    "D12;E1;2025-08-01;2025-08-01;Fall;Ny;\n"
)
#: the units above E1, whose roll-ups count it
E1_AND_ABOVE = {"E1", "V1", "A1", "R1"}
OTHERS = {"E2", "E3", "V2", "A2"}


# --- stored counts -------------------------------------------------------------------------


@pytest.fixture
def imported(conn: Connection, config) -> Connection:
    for kind in ("organisation", "deviations", "complaints"):
        import_file(conn, config, kind, FIXTURES / "compile" / f"{kind}.csv", now=NOW)
    return conn


def test_a_unit_is_counted_again_only_when_its_records_changed(imported, config, tmp_path):
    conn = imported
    tree = OrgTree.load(conn)
    first = StoredCounts()
    own = count_own(conn, YEAR, first)
    # every unit with records was counted and waits to be stored; V1, A1, A2, R1 have none
    assert {u for _, u in first.fresh} == {"E1", "E2", "E3", "V2"}
    assert own == count_own(conn, YEAR)
    first.store(conn)

    again = StoredCounts()
    assert count_own(conn, YEAR, again) == own
    assert again.fresh == {}  # nothing counted: every unit's counts were read back

    import_file(conn, config, "deviations", _write(tmp_path, CHANGE), now=NOW + timedelta(1))
    changed = StoredCounts()
    totals = roll_up(tree, count_own(conn, YEAR, changed))
    assert set(changed.fresh) == {(YEAR, "E1")}  # the others' stored counts were added up
    # by hand: E1 4 + D12; its roll-ups with it, the others as they were
    deviations = {u: f.deviations for u, f in totals.items()}
    assert deviations == {
        "E1": 5, "E2": 2, "V1": 7, "A1": 7, "E3": 2, "V2": 3, "A2": 3, "R1": 10,
    }  # fmt: skip
    assert totals["R1"].by_status == Counter(
        {DeviationStatus.CLOSED: 7, DeviationStatus.NEW: 1, DeviationStatus.IN_PROGRESS: 2}
    )
    assert totals["E1"].by_month == Counter({1: 2, 2: 1, 8: 1, 12: 1})
    # the same as counting everything again
    assert totals == roll_up(tree, count_own(conn, YEAR))


def test_stored_counts_read_back_as_counted_in_their_order(imported):
    own = count_own(imported, YEAR)
    for figures_ in own.values():
        back = decode(encode(figures_))
        assert back == figures_
        for name, value in vars(figures_).items():
            if isinstance(value, Counter):  # the order keys of equal counts are listed in
                assert list(getattr(back, name).items()) == list(value.items()), name
                assert [type(k) for k in getattr(back, name)] == [type(k) for k in value]


def test_counts_stored_by_other_counting_code_are_counted_again(imported, monkeypatch):
    stored = StoredCounts()
    count_own(imported, YEAR, stored)
    stored.store(imported)
    monkeypatch.setattr(figures, "_CODE", "another version of arshjul/figures.py")
    again = StoredCounts()
    count_own(imported, YEAR, again)
    assert {u for _, u in again.fresh} == {"E1", "E2", "E3", "V2"}


def _write(folder: Path, text: str) -> Path:
    path = folder / "rattelse.csv"
    path.write_text(text, "utf-8")
    return path


# --- documents written only when they change -----------------------------------------------


@pytest.fixture
def ws(workdir: Path) -> Iterator[Workspace]:
    ws = open_workspace()
    with ws.engine.begin() as conn:
        for kind in ("organisation", "deviations", "complaints"):
            import_file(conn, ws.config, kind, FIXTURES / "compile" / f"{kind}.csv", now=NOW)
    yield ws
    ws.engine.dispose()


def run(
    ws: Workspace, step: Step, run_id: str, now: datetime, unit: str | None = None
) -> StepResult:
    def sign_off(_: ToSignOff) -> None:
        raise AssertionError("not a signed step")

    return run_step(
        ws, step, PERIOD, unit, Run(ws.config, now, run_id), sign_off=sign_off, clock=lambda: now
    )


def files(out: Path) -> dict[Path, tuple[int, bytes]]:
    """Every file under ``out``: its mtime and bytes."""
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}


def documents_of(out: Path, units: set[str]) -> set[Path]:
    parts = {p: p.relative_to(out).parts for p in files(out)}
    return {p for p, part in parts.items() if len(part) > 3 and part[2] in units}


def step_runs(ws: Workspace, run_id: str) -> dict[str, tuple[int, str | None]]:
    with ws.engine.connect() as conn:
        rows = conn.execute(
            select(StepRun.unit_id, StepRun.documents, StepRun.unchanged_since).where(
                StepRun.run_id == run_id
            )
        )
        return {unit: (documents, since) for unit, documents, since in rows}


@pytest.mark.parametrize("step", [compilation.STEP, analysis.STEP], ids=lambda s: s.name)
def test_a_rerun_on_the_same_data_writes_nothing_and_records_the_check(ws, step):
    first = run(ws, step, "run-1", NOW)
    assert len(first.written) == 8 and first.kept == []
    before = files(ws.out)

    later = NOW + timedelta(hours=2)
    again = run(ws, step, "run-2", later)
    assert again.written == [] and len(again.kept) == 8
    assert {k.run_id for k in again.kept} == {"run-1"}
    assert files(ws.out) == before  # not one byte nor time stamp, the index pages included
    # the documents still name the run that made what they say
    region = ws.out / "2025" / "region" / "R1"
    html = next(region.glob("*.html")).read_text("utf-8")
    assert "av körning run-1 (arshjul)" in html and "run-2" not in html
    # and the step's record says that run-2 checked every unit and found them unchanged
    assert step_runs(ws, "run-2") == dict.fromkeys(first.units, (0, "run-1"))
    assert step_runs(ws, "run-1") == dict.fromkeys(first.units, (1, None))


def test_after_one_unit_changed_its_documents_and_roll_ups_are_written_not_its_siblings(ws):
    run(ws, compilation.STEP, "run-1", NOW)
    before = files(ws.out)
    later = NOW + timedelta(hours=2)
    with ws.engine.begin() as conn:
        import_file(conn, ws.config, "deviations", _write(ws.out.parent, CHANGE), now=later)

    result = run(ws, compilation.STEP, "run-2", later)
    assert {p.parent.name for p in result.written} == E1_AND_ABOVE
    assert {k.path.parent.name for k in result.kept} == OTHERS
    after = files(ws.out)
    siblings = documents_of(ws.out, OTHERS)
    assert len(siblings) >= 4 * 3  # each an HTML, a DOCX and its tables at least
    for path in siblings:
        assert after[path] == before[path], path
    for unit in E1_AND_ABOVE:
        html = next(p for p in after if p.parent.name == unit and p.name == "sammanstallning.html")
        text = html.read_text("utf-8")
        # written by run-2, from the new file among the others
        assert "av körning run-2 (arshjul)" in text
        assert "rattelse.csv (avvikelser, 2 rader" in text
    # a sibling's footer names neither run-2 nor the file that did not touch it
    e2 = (ws.out / "2025" / "enheter" / "E2" / "sammanstallning.html").read_text("utf-8")
    assert "av körning run-1 (arshjul)" in e2 and "rattelse.csv" not in e2
    assert step_runs(ws, "run-2") == {
        **dict.fromkeys(E1_AND_ABOVE, (1, None)),
        **dict.fromkeys(OTHERS, (0, "run-1")),
    }


def test_a_deleted_format_is_written_again(ws):
    run(ws, compilation.STEP, "run-1", NOW)
    docx = ws.out / "2025" / "enheter" / "E2" / "sammanstallning.docx"
    docx.unlink()
    again = run(ws, compilation.STEP, "run-2", NOW + timedelta(hours=1))
    assert [p.parent.name for p in again.written] == ["E2"]
    assert docx.exists()
