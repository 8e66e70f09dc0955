"""Action plans: the worksheet round trip, carry-over, the effect check, roll-ups, the flow."""

from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Connection, create_engine, insert, select

from arshjul.action_plan import worksheet
from arshjul.action_plan.document import write_documents
from arshjul.action_plan.plans import (
    EffectCheck,
    Plan,
    PlannedAction,
    build_plans,
    gap_closed,
    load_actions,
    measure_after,
    tally,
)
from arshjul.action_rules import DONE_LATE_RULE, became_done, done_late
from arshjul.analysis.findings import Finding, store_findings
from arshjul.config import Config
from arshjul.db import make_engine, migrate
from arshjul.documents import provenance, unit_dir
from arshjul.importers import import_file
from arshjul.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    Deviation,
    DeviationStatus,
    ImportBatch,
    OrgLevel,
    OrgUnit,
    SignOff,
    StepRun,
    Training,
)
from arshjul.org import OrgTree
from arshjul.periods import Period
from tests.conftest import NOW, STOCKHOLM, TODAY

pytestmark = pytest.mark.both_databases

NOON = time(12)

YEAR = 2025
#: region R1 with two områden; E1 and E2 in V1 (område A1), E3 in V2 (område A2)
ORG = [
    ("R1", "Region Syntet", OrgLevel.REGION, None),
    ("A1", "Område Norr", OrgLevel.AREA, "R1"),
    ("A2", "Område Söder", OrgLevel.AREA, "R1"),
    ("V1", "Medicin", OrgLevel.DEPARTMENT, "A1"),
    ("V2", "Kirurgi", OrgLevel.DEPARTMENT, "A2"),
    ("E1", "Avdelning 1", OrgLevel.UNIT, "V1"),
    ("E2", "Avdelning 2", OrgLevel.UNIT, "V1"),
    ("E3", "Avdelning 3", OrgLevel.UNIT, "V2"),
]


def finding(
    unit: str, kind: str, key: str, value: float, baseline: float | None, year: int = YEAR
) -> Finding:
    title = f"{unit}: {kind} {key} {year}"
    return Finding(year, unit, kind, key, title, "avvikelser", value, baseline, 2)


#: the findings planted for YEAR
FINDINGS = [
    finding("E1", "trend", "avvikelser", 240, 120),
    finding("E1", "risk", "mycket hög", 3, None),
    finding("E1", "care_chain", "avvikelser", 0.25, None),
    finding("E2", "under_reporting", "avvikelser", 0, 180),
    finding("V1", "trend", "avvikelser", 400, 300),
]


def batch(conn: Connection, kind: str = "synthetic") -> int:
    return conn.execute(
        insert(ImportBatch)
        .values(
            kind=kind,
            file_name=f"{kind}.csv",
            sha256=kind.ljust(64, "0"),
            rows=0,
            inserted=0,
            updated=0,
            imported_at=NOW,
        )
        .returning(ImportBatch.id)
    ).scalar_one()


def load_region(conn: Connection, findings: list[Finding] = FINDINGS) -> OrgTree:
    batch(conn, "organisation")
    conn.execute(
        insert(OrgUnit),
        [dict(zip(("id", "name", "level", "parent_id"), u, strict=True)) for u in ORG],
    )
    for year in sorted({f.year for f in findings}):
        in_year = [f for f in findings if f.year == year]
        store_findings(conn, year, [u[0] for u in ORG], in_year, "run-analyse")
    return OrgTree.load(conn)


def add_actions(conn: Connection, *actions: dict[str, Any]) -> None:
    b = batch(conn, "actions-by-hand")
    defaults = {"owner_role": "Enhetschef", "due_date": None, "effect": None, "batch_id": b}
    conn.execute(insert(Action), [defaults | a for a in actions])


def build(conn: Connection, config: Config, tree: OrgTree) -> dict[str, Plan]:
    return build_plans(conn, config, tree, YEAR)


def write_html(
    conn: Connection, config: Config, tree: OrgTree, out: Path, unit_ids: list[str]
) -> dict[str, str]:
    origin = provenance(conn, ("actions",), now=NOW, run_id="test-run")
    plans = build(conn, config, tree)
    written = write_documents(
        out, config, tree, Period.full_year(YEAR), plans, unit_ids, origin, TODAY
    )
    return {p.parent.name: p.read_text("utf-8") for p in written}


# --- the round trip ------------------------------------------------------------------------


def fill_in(path: Path, filled: Path) -> None:
    """What a unit does in Excel: write two actions, one on a prepared finding row, one on a
    spare row answering another finding, choosing values from the drop-down lists."""
    book = load_workbook(path)
    sheet, lists = book.worksheets[0], book[worksheet.LISTS_SHEET]
    column = {cell.value: cell.column for cell in sheet[1]}
    statuses = [c.value for c in lists["A"][1:]]
    roles = [c.value for c in lists["B"][1:]]
    effects = [c.value for c in lists["C"][1:]]
    finding_ids = [(r, sheet.cell(r, column["Fynd-ID"]).value) for r in range(2, sheet.max_row + 1)]
    first = next(r for r, f in finding_ids if f == "2025:E1:trend:avvikelser")
    for header, value in {
        "Åtgärd": "Dubbelkontroll vid läkemedelsgivning",
        "Ansvarig": roles[0],
        "Klart senast": date(2026, 3, 31),  # passed: overdue unless done
        "Status": statuses[1],  # Pågår
    }.items():
        sheet.cell(first, column[header], value)
    spare = next(r for r, f in finding_ids if f is None)  # the first empty row, its id ready
    for header, value in {
        "Fynd-ID": "2025:E1:care_chain:avvikelser",
        "Åtgärd": "Gemensam rutin med kommunen för utskrivning",
        "Ansvarig": "Vårdutvecklare",
        "Klart senast": date(2026, 12, 31),
        "Status": "Klar",
        "Statusdatum": date(2026, 11, 20),  # the day the enhetschef wrote Klar
        "Effekt": effects[2],
    }.items():
        sheet.cell(spare, column[header], value)
    book.save(filled)


def test_a_filled_worksheet_is_imported_and_shows_in_the_next_documents(
    conn, config, tmp_path: Path
):
    tree = load_region(conn)
    plans = build(conn, config, tree)
    [path] = worksheet.write_worksheets(
        tmp_path, tree, Period.full_year(YEAR), plans, config.codes, ["E1"], NOW
    )
    assert (
        path
        == unit_dir(tmp_path, Period.full_year(YEAR), tree["E1"]) / "handlingsplan-arbetsblad.xlsx"
    )
    filled = tmp_path / "ifylld.xlsx"
    fill_in(path, filled)

    result = import_file(conn, config, "actions", filled, now=NOW)

    assert (result.inserted, result.updated) == (2, 0)
    stored = conn.execute(
        select(Action.action_id, Action.finding_id, Action.status, Action.effect).order_by(
            Action.action_id
        )
    ).all()
    assert stored == [
        ("E1-2025-003", "2025:E1:trend:avvikelser", ActionStatus.IN_PROGRESS, None),
        ("E1-2025-004", "2025:E1:care_chain:avvikelser", ActionStatus.DONE, "Viss effekt"),
    ]

    html = write_html(conn, config, tree, tmp_path, ["E1", "V1", "A1", "R1"])
    unit = html["E1"]
    assert "Dubbelkontroll vid läkemedelsgivning" in unit
    assert "Pågår <strong>(försenad)</strong>" in unit
    assert "Gemensam rutin med kommunen för utskrivning" in unit and "Viss effekt" in unit
    assert (
        unit.count("Saknas: varken åtgärd eller beslut om ingen åtgärd") == 1
    )  # the risk finding: a visible gap
    # the area's roll-up: V1 with E1's two actions, E2 named as a unit without a plan
    area = html["A1"]
    assert '<td>Medicin</td><td class="n">5</td><td class="n">40\u00a0%</td>' in area
    assert "Avdelning 2 (E2)" in area and "Avdelning 1 (E1)" not in area
    region = html["R1"]
    assert "Område Norr" in region and "Område Söder" in region
    assert "Avdelning 2 (E2)" in region and "Medicin (V1)" in region

    # the rerun's worksheet shows what was entered, under the same ids, and new ids after
    plans = build(conn, config, tree)
    worksheet.write_worksheets(
        tmp_path, tree, Period.full_year(YEAR), plans, config.codes, ["E1"], NOW
    )
    rows = list(load_workbook(path).worksheets[0].iter_rows(min_row=2, values_only=True))
    by_id = {r[0]: r for r in rows}
    assert by_id["E1-2025-003"][4:8] == (
        "Dubbelkontroll vid läkemedelsgivning",
        "Enhetschef",
        NOW.replace(2026, 3, 31, 0, 0, tzinfo=None),
        "Pågår",
    )
    assert by_id["E1-2025-004"][2] == "2025:E1:care_chain:avvikelser"
    # Klar, the Statusdatum written, its effect, no Motivering
    written = NOW.replace(2026, 11, 20, 0, 0, tzinfo=None)
    assert by_id["E1-2025-004"][7:] == ("Klar", written, "Viss effekt", None)
    updates = conn.execute(
        select(ActionUpdate.action_id, ActionUpdate.status_date).order_by(ActionUpdate.id)
    ).all()
    assert updates == [("E1-2025-003", None), ("E1-2025-004", date(2026, 11, 20))]
    assert len(by_id) == len(rows)  # no id twice
    assert by_id["E1-2025-005"][2] == "2025:E1:risk:mycket hög"  # new ids after the highest
    # importing the rewritten worksheet as it is changes nothing
    again = import_file(conn, config, "actions", path, now=NOW)
    assert (again.inserted, again.updated) == (0, 0)


def test_actions_from_csv_under_the_same_rules(conn, config, tmp_path: Path):
    tree = load_region(conn)
    # before: E1, E2 and V1 have findings and no plan; no actions at all
    before = write_html(conn, config, tree, tmp_path, ["A1"])["A1"]
    assert "<p>3 enheter har fynd 2025 men varken åtgärd" in before
    assert "<b>0</b>åtgärder</div>" in before and "<b>0</b>försenade</div>" in before
    path = tmp_path / "atgarder.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(["Åtgärds-ID", "Enhet HSA-id", "Fynd-ID", "Åtgärd", "Ansvarig", "Status"])
        writer.writerow(
            [
                "E2-2025-001",
                "E2",
                "2025:E2:under_reporting:avvikelser",
                "Utbilda",
                "Enhetschef",
                "Planerad",
            ]
        )
    import_file(conn, config, "actions", path, now=NOW)
    html = write_html(conn, config, tree, tmp_path, ["E2", "A1"])
    assert (
        "Utbilda" in html["E2"]
        and "Saknas: varken åtgärd eller beslut om ingen åtgärd" not in html["E2"]
    )
    assert "Avdelning 2 (E2)" not in html["A1"]  # E2 has a plan now; E1 has none
    assert "<p>2 enheter har fynd 2025 men varken åtgärd" in html["A1"]
    # one of each: the noun agrees (render.counted), under a key figure and in a sentence
    assert "<b>1</b>åtgärd</div>" in html["E2"] and "<b>1</b>åtgärd</div>" in html["A1"]
    e1 = tmp_path / "e1.csv"
    e1.write_text(
        "Åtgärds-ID;Enhet HSA-id;Fynd-ID;Åtgärd;Ansvarig;Status\n"
        "E1-2025-001;E1;2025:E1:trend:avvikelser;Rutin;Enhetschef;Planerad\n",
        encoding="utf-8",
    )
    import_file(conn, config, "actions", e1, now=NOW)
    area = write_html(conn, config, tree, tmp_path, ["A1"])["A1"]
    assert "<p>1 enhet har fynd 2025 men varken åtgärd" in area  # V1 alone
    assert "<b>2</b>åtgärder</div>" in area
    assert "Avdelning 1 (E1)" in html["A1"]


def test_klar_is_in_time_or_late_by_the_day_the_unit_wrote_it_klar(conn, config, tmp_path):
    """Klar i tid or klar sent, the status page's rule with the worksheet's row as evidence:
    the Statusdatum of the first row that says Klar (after the last that said anything else)
    against Klart senast. Three worksheets handed back in turn, dates by hand:

    - E1-2025-001, due 2026-03-31: Pågår 03-20, Klar 04-10, Klar 05-10: written Klar 04-10,
      ten days after its date: late (not by the 05-10 follow-up that kept it Klar)
    - E1-2025-002, due 2026-06-30: Klar 06-30, its date itself: in time
    - E1-2025-003, due 2026-03-31: Klar 02-01, Pågår 03-01 (reopened), Klar 04-05: late
    - E1-2025-004, no due date, Klar: in time (there is no date to be late against)
    """
    tree = load_region(conn)
    header = "Åtgärds-ID;Enhet HSA-id;Fynd-ID;Åtgärd;Ansvarig;Klart senast;Status;Statusdatum\n"
    trend, risk = "2025:E1:trend:avvikelser", "2025:E1:risk:mycket hög"
    returns = {
        date(2026, 3, 20): [
            f"E1-2025-001;E1;{trend};Rutin;Enhetschef;2026-03-31;Pågår;2026-03-20",
            f"E1-2025-003;E1;{risk};Genomgång;Enhetschef;2026-03-31;Pågår;2026-03-01",
        ],
        date(2026, 4, 12): [
            f"E1-2025-001;E1;{trend};Rutin;Enhetschef;2026-03-31;Klar;2026-04-10",
            f"E1-2025-003;E1;{risk};Genomgång;Enhetschef;2026-03-31;Klar;2026-04-05",
        ],
        date(2026, 7, 1): [
            f"E1-2025-001;E1;{trend};Rutin;Enhetschef;2026-03-31;Klar;2026-05-10",
            f"E1-2025-002;E1;{trend};Checklista;Enhetschef;2026-06-30;Klar;2026-06-30",
            "E1-2025-004;E1;;Egen idé;Enhetschef;;Klar;2026-06-01",
        ],
    }
    # an earlier Klar of 003, before it was reopened on 03-01
    early = tmp_path / "tidig.csv"
    early.write_text(
        header + f"E1-2025-003;E1;{risk};Genomgång;Enhetschef;2026-03-31;Klar;2026-02-01\n",
        encoding="utf-8",
    )
    import_file(conn, config, "actions", early, now=datetime(2026, 2, 2, 12, tzinfo=STOCKHOLM))
    for day, rows in returns.items():
        sheet = tmp_path / f"{day}.csv"
        sheet.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
        import_file(conn, config, "actions", sheet, now=datetime.combine(day, NOON, STOCKHOLM))
    actions = {a.action_id: a for a in load_actions(conn)}
    assert {k: (a.done_on, a.standing) for k, a in actions.items()} == {
        "E1-2025-001": (date(2026, 4, 10), "done_late"),
        "E1-2025-002": (date(2026, 6, 30), "done_in_time"),
        "E1-2025-003": (date(2026, 4, 5), "done_late"),
        "E1-2025-004": (date(2026, 6, 1), "done_in_time"),
    }
    e1 = tally(build(conn, config, tree)["E1"], TODAY)
    assert e1.by_status == {"done_late": 2, "done_in_time": 2}
    unit = write_html(conn, config, tree, tmp_path, ["E1"])["E1"]
    assert unit.count("Klar sent (efter 2026-03-31)") == 2
    assert unit.count("Klar i tid</td>") == 2 and "<td>Klar</td>" not in unit
    assert DONE_LATE_RULE in unit
    region = write_html(conn, config, tree, tmp_path, ["R1"])["R1"]
    assert '<th class="n">Klar i tid</th><th class="n">Klar sent</th>' in region


def test_became_done_is_the_first_klar_after_the_last_other_status():
    d = date(2026, 1, 1)
    done, going = ActionStatus.DONE, ActionStatus.IN_PROGRESS
    assert became_done([]) is None
    assert became_done([(going, d)]) is None
    assert became_done([(going, d), (done, d + timedelta(1)), (done, d + timedelta(5))]) == (
        d + timedelta(1)
    )
    assert became_done([(done, d), (going, d + timedelta(2)), (done, d + timedelta(9))]) == (
        d + timedelta(9)
    )
    assert became_done([(done, d), (going, d + timedelta(2))]) is None
    assert not done_late(date(2026, 3, 31), date(2026, 3, 31))
    assert done_late(date(2026, 3, 31), date(2026, 4, 1))
    assert not done_late(None, date(2026, 4, 1))


# --- carry-over ----------------------------------------------------------------------------


def test_a_decision_ingen_atgard_answers_its_finding_and_is_no_action(conn, config, tmp_path):
    tree = load_region(conn)
    sheet = tmp_path / "beslut.csv"
    sheet.write_text(
        "Åtgärds-ID;Enhet HSA-id;Fynd-ID;Åtgärd;Ansvarig;Klart senast;Status;Motivering\n"
        "E1-2025-001;E1;2025:E1:risk:mycket hög;;Enhetschef;;Ingen åtgärd;"
        "En och samma händelse, redan utredd\n"
        "E1-2025-002;E1;2025:E1:trend:avvikelser;Dubbelkontroll;Enhetschef;2026-06-30;Pågår;\n",
        encoding="utf-8",
    )
    import_file(conn, config, "actions", sheet, now=NOW)
    plans = build(conn, config, tree)
    e1 = tally(plans["E1"], TODAY)
    # three findings: one with an action, one decided, one unanswered; one action
    assert (e1.findings, e1.with_action, e1.decided, e1.actions) == (3, 1, 1, 1)
    assert e1.by_status == {ActionStatus.IN_PROGRESS: 1}
    unit = write_html(conn, config, tree, tmp_path, ["E1"])["E1"]
    assert "Ingen åtgärd: En och samma händelse, redan utredd" in unit
    assert (
        unit.count("Saknas: varken åtgärd eller beslut om ingen åtgärd") == 1
    )  # the care-chain finding
    # every imported row is an update of its action, dated by its batch
    updates = conn.execute(
        select(ActionUpdate.action_id, ActionUpdate.status, ImportBatch.imported_at)
        .join(ImportBatch, ImportBatch.id == ActionUpdate.batch_id)
        .order_by(ActionUpdate.id)
    ).all()
    assert updates == [
        ("E1-2025-001", ActionStatus.NO_ACTION, NOW),
        ("E1-2025-002", ActionStatus.IN_PROGRESS, NOW),
    ]


def test_open_actions_of_last_year_are_carried_over_with_their_status(conn, config, tmp_path: Path):
    old = finding("E1", "trend", "avvikelser", 200, 120, year=YEAR - 1)
    tree = load_region(conn, [*FINDINGS, old])
    add_actions(
        conn,
        dict(
            action_id="E1-2024-001",
            unit_id="E1",
            finding_id=old.id,
            title="Ny rutin",
            status=ActionStatus.PLANNED,
            due_date=date(2025, 6, 30),
        ),
        dict(
            action_id="E1-2024-002",
            unit_id="E1",
            finding_id=old.id,
            title="Införd checklista",
            status=ActionStatus.IN_PROGRESS,
            due_date=date(2027, 1, 31),
        ),
        dict(
            action_id="E1-2024-003",
            unit_id="E1",
            finding_id=old.id,
            title="Klar sedan länge",
            status=ActionStatus.DONE,
        ),
        dict(
            action_id="E1-2024-004",
            unit_id="E1",
            finding_id=None,
            title="Struken idé",
            status=ActionStatus.DROPPED,
        ),
    )
    plan = build(conn, config, tree)["E1"]

    assert [(a.action_id, a.status_sv, a.overdue(TODAY)) for a in plan.carried] == [
        ("E1-2024-001", "Planerad", True),
        ("E1-2024-002", "Pågår", False),
    ]
    assert plan.other == ()
    unit = write_html(conn, config, tree, tmp_path, ["E1"])["E1"]
    carried = unit.split("Överförda åtgärder från tidigare år")[1].split("Effektuppföljning")[0]
    assert carried.count("överförd från 2024") == 2
    assert "Ny rutin" in carried and "Planerad <strong>(försenad)</strong>" in carried
    assert "Införd checklista" in carried and "Pågår</td>" in carried
    assert "Klar sedan länge" not in carried and "Struken idé" not in unit
    # the worksheet carries them too, under their own ids, with the old finding named
    plans = build(conn, config, tree)
    [path] = worksheet.write_worksheets(
        tmp_path, tree, Period.full_year(YEAR), plans, config.codes, ["E1"], NOW
    )
    rows = {r[0]: r for r in load_workbook(path).worksheets[0].iter_rows(values_only=True)}
    assert rows["E1-2024-001"][3] == f"Överförd från 2024: {old.title}"
    assert rows["E1-2024-002"][7] == "Pågår"
    assert "E1-2024-003" not in rows


def test_the_plan_says_the_day_its_overdue_actions_are_judged_on_in_every_table(
    conn, config, tmp_path: Path
):
    tree = load_region(conn, FINDINGS)
    # due 30 June 2026: overdue on the run day, 23 November 2026, not before 1 July
    add_actions(
        conn,
        dict(
            action_id="E1-2025-001",
            unit_id="E1",
            finding_id=FINDINGS[0].id,
            title="Ny rutin",
            status=ActionStatus.PLANNED,
            due_date=date(2026, 6, 30),
        ),
    )
    region = write_html(conn, config, tree, tmp_path, ["E1", "V1", "A1", "R1"])["R1"]
    assert "läget 2026-11-23." in region
    # the tables read alone (their CSV files) say it too
    tables = {
        p.name: p.read_text("utf-8-sig").splitlines()
        for p in tmp_path.rglob("handlingsplan-tabeller/*.csv")
        if p.parent.parent.name == "R1"
    }
    assert tables["02-atgarder-i-region-syntet-och-alla-enheter-under-vars-klart.csv"] == [
        "Enhet;Handlingsplan;Åtgärd;Ansvarig;Klart senast;Status 2026-11-23;Effekt",
        "Avdelning 1;2025;Ny rutin;Enhetschef;2026-06-30;Planerad (försenad);–",
    ]
    per_area = tables["01-atgarder-per-status-andel-fynd-med-atgard-och-forsenade.csv"]
    header = per_area[0].split(";")
    assert header[10] == "Försenade per 2026-11-23"
    assert [row.split(";")[10] for row in per_area[1:]] == ["1", "0", "1"]
    assert "har passerats per 2026-11-23, den mest försenade först</caption>" in region


# --- the effect check ----------------------------------------------------------------------


def test_effect_of_finished_actions_before_and_after(conn, config, tmp_path: Path):
    rise = finding("E1", "trend", "avvikelser", 240, 120, year=YEAR - 1)
    risk = finding("E1", "risk", "mycket hög", 3, None, year=YEAR - 1)
    tree = load_region(conn, [rise, risk, finding("E1", "trend", "avvikelser", 200, 120)])
    # one deviation of the highest risk in YEAR: the risk finding is no longer flagged
    conn.execute(
        insert(Deviation).values(
            source_id="D1",
            unit_id="E1",
            reported_date=date(YEAR, 5, 1),
            category="Fall",
            consequence=4,
            probability=4,
            lex_maria=False,
            care_chain=False,
            status=DeviationStatus.CLOSED,
            batch_id=batch(conn),
        )
    )
    add_actions(
        conn,
        dict(
            action_id="E1-2024-001",
            unit_id="E1",
            finding_id=rise.id,
            title="Bemanning",
            status=ActionStatus.DONE,
            effect="Viss effekt",
        ),
        dict(
            action_id="E1-2024-002",
            unit_id="E1",
            finding_id=risk.id,
            title="Riskronder",
            status=ActionStatus.DONE,
            effect="God effekt",
        ),
        dict(
            action_id="E1-2025-001",
            unit_id="E1",
            finding_id="2025:E1:trend:avvikelser",
            title="Uppföljning",
            status=ActionStatus.DONE,
        ),
    )
    effects = {e.action.action_id: e for e in build(conn, config, tree)["E1"].effects}

    trend = effects["E1-2024-001"]
    assert (trend.finding.value, trend.after, trend.flagged_again) == (240, 200, True)
    assert trend.change == "närmare jämförelsevärdet"  # 80 from 120 instead of 120
    risk_check = effects["E1-2024-002"]
    assert (risk_check.after, risk_check.flagged_again) == (1, False)  # measured, not flagged
    assert (risk_check.change, risk_check.flagged_text) == ("lägre", "ej längre flaggat")
    pending = effects["E1-2025-001"]
    assert (pending.after, pending.flagged_again) == (None, None)
    assert pending.change == "mäts när 2026 har analyserats"

    unit = write_html(conn, config, tree, tmp_path, ["E1"])["E1"]
    section = unit.split("<h2>Effektuppföljning</h2>")[1]
    assert "240 (2024)" in section and "200 (2025)" in section and "flaggas igen" in section
    assert "3 (2024)" in section and "1 (2025)" in section and "God effekt" in section
    assert "Ej bedömd" in section  # the 2025 action has no judged effect yet


@pytest.mark.parametrize(
    ("kind", "before", "baseline", "after", "closed", "change"),
    [
        ("trend", 240, 120, 200, 1 / 3, "närmare jämförelsevärdet"),  # 40 of the gap of 120
        ("trend", 240, 120, 100, 7 / 6, "jämförelsevärdet nått"),
        ("trend", 240, 120, 300, -0.5, "längre från jämförelsevärdet"),
        ("trend", 240, 120, 240, 0.0, "oförändrat"),
        # a share past its target is better, not "farther from" it
        ("answer_time", 0.6, 0.8, 0.9, 1.5, "jämförelsevärdet nått"),
        ("under_reporting", 0, 60, 15, 0.25, "närmare jämförelsevärdet"),
        ("risk", 4, None, 1, 0.75, "lägre"),
        ("care_chain", 0.1, None, 0.125, -0.25, "högre"),
        # 2 of 3 actions overdue, a year later 1 (of whatever): the total is no yardstick
        ("actions", 2, 3, 1, 0.5, "lägre"),
        ("risk", 4, None, None, None, "–"),
    ],
)
def test_the_effect_check_judges_the_change_by_the_findings_yardstick(
    kind: str,
    before: float,
    baseline: float | None,
    after: float | None,
    closed: float | None,
    change: str,
) -> None:
    assert gap_closed(kind, before, after, baseline) == pytest.approx(closed)
    stored = finding("E1", kind, "k", before, baseline, year=2024)
    done = PlannedAction("E1-2024-001", "E1", stored.id, "t", "Enhetschef", None,
                                     ActionStatus.DONE, None)  # fmt: skip
    check = EffectCheck(done, stored, 2025, after, False)
    assert check.change == change
    assert (check.baseline_text == "–") == (baseline is None or kind == "actions")


def test_measure_after_knows_each_finding_kind(conn, config):
    """The same measure as the analysis of the year after, for every finding kind."""
    tree = load_region(conn, [])
    b = batch(conn)
    rows = [
        dict(
            source_id=f"D{k}",
            unit_id="E1",
            reported_date=date(YEAR, 1 + k % 12, 1),
            category="Fall" if k < 4 else "Läkemedel",
            consequence=4 if k == 0 else 1,
            probability=4 if k == 0 else 1,
            lex_maria=False,
            care_chain=k < 3,
            status=DeviationStatus.CLOSED,
            batch_id=b,
        )
        for k in range(12)
    ]
    conn.execute(insert(Deviation), rows)
    # two managers on the roster of E1, one trained by the end of YEAR, one the year after
    conn.execute(
        insert(Training),
        [
            dict(person_key=f"P{k}", unit_id="E1", role="chef", course="patientsäkerhet",
                 completed_date=date(YEAR + k, 6, 1), batch_id=b)
            for k in range(2)
        ],
    )  # fmt: skip
    wanted = [
        finding("E1", "trend", "avvikelser", 1, 1, year=YEAR - 1),
        finding("E1", "surge", "avvikelse:Fall", 1, 1, year=YEAR - 1),
        finding("E1", "spc", "run", 1, 1, year=YEAR - 1),
        finding("E1", "under_reporting", "avvikelser", 1, 1, year=YEAR - 1),
        finding("E1", "risk", "mycket hög", 1, None, year=YEAR - 1),
        finding("E1", "care_chain", "avvikelser", 1, None, year=YEAR - 1),
        finding("E1", "answer_time", "klagomal", 1, 1, year=YEAR - 1),
        finding("E1", "training", "patientsäkerhet:chef", 0.5, 0.9, year=YEAR - 1),
    ]
    stored = wanted
    after = measure_after(conn, config, tree, YEAR, stored)
    assert {f.kind: after[f.id] for f in stored} == {
        "trend": 12,
        "surge": 4,
        "spc": 1.0,  # one a month
        "under_reporting": 12,
        "risk": 1,
        "care_chain": 0.25,
        "answer_time": None,  # no complaints
        "training": 0.5,
    }


# --- the flow ------------------------------------------------------------------------------


def seed_workdir(workdir: Path) -> None:
    engine = make_engine(f"sqlite:///{workdir / 'arshjul.sqlite'}")
    try:
        migrate(engine)
        with engine.begin() as conn:
            load_region(conn)
    finally:
        engine.dispose()


def query(workdir: Path, statement: Any) -> list[Any]:
    engine = create_engine(f"sqlite:///{workdir / 'arshjul.sqlite'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement).all())
    finally:
        engine.dispose()


@pytest.mark.usefixtures("prefect_harness")
def test_flow_writes_every_unit_then_reruns_one_unit_and_its_roll_ups(workdir: Path, config):
    from flows.action_plan import action_plan_flow

    seed_workdir(workdir)
    out = workdir / "out"

    # approve: under the test server a sign-off would otherwise wait for a person
    written = action_plan_flow(year=YEAR, now=NOW, publish=False, approve=True)

    documents = [p for p in written if p.name == "handlingsplan.html"]
    sheets = [p for p in written if p.name == worksheet.FILE_NAME]
    assert len(documents) == len(sheets) == len(ORG)
    region_doc = out / str(YEAR) / "region" / "R1" / "handlingsplan.html"
    assert "Fastställd av" in region_doc.read_text("utf-8")
    e3 = out / str(YEAR) / "enheter" / "E3" / "handlingsplan.html"
    e3_before = e3.stat().st_mtime_ns

    later = NOW + timedelta(hours=1)
    again = action_plan_flow(year=YEAR, unit="E1", now=later, publish=False, approve=True)

    # the same data: the plans of E1, V1 and A1 say what they said and are not written again
    # (nor their worksheets); the region's is written as the next draft, found to say what
    # its approved version 1 says, and that version stands (below); its worksheet follows it
    assert sorted((p.parent.name, p.name) for p in again) == [
        ("R1", worksheet.FILE_NAME),
        ("R1", "handlingsplan.html"),
    ]
    assert e3.stat().st_mtime_ns == e3_before
    steps = query(workdir, select(StepRun.unit_id).where(StepRun.step == "action_plan"))
    assert len(steps) == len(ORG) + 4
    decisions = query(workdir, select(SignOff.document, SignOff.unit_id, SignOff.version))
    # the rerun changed nothing in the region's plan: its approved version 1 stands
    assert decisions == [("action_plan", "R1", 1)]
    assert "Version 1.</strong>\nFastställd av" in region_doc.read_text("utf-8")


@pytest.mark.usefixtures("prefect_harness")
def test_each_run_records_its_own_times_not_the_now_its_documents_are_for(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
):
    """A cycle gives every step its start as ``now``; the step log keeps when each run began
    and finished by the wall clock, here one that ticks a minute at every reading."""
    import flows.runner
    from flows.action_plan import action_plan_flow

    seed_workdir(workdir)
    minutes = iter(range(1, 100))
    monkeypatch.setattr(flows.runner, "wall_clock", lambda: NOW + timedelta(minutes=next(minutes)))
    action_plan_flow(year=YEAR, now=NOW, publish=False, approve=True)
    action_plan_flow(year=YEAR, unit="E1", now=NOW, publish=False, approve=True)

    runs = query(
        workdir,
        select(StepRun.started_at, StepRun.finished_at)
        .where(StepRun.step == "action_plan", StepRun.unit_id == "E1")
        .order_by(StepRun.id),
    )
    at = [tuple(int((t - NOW) / timedelta(minutes=1)) for t in run) for run in runs]
    # the first run read the clock first at its start (1), then (taking the lock) until its
    # end; the second run began after the first had finished
    (began, ended), (again, last) = at
    assert 1 == began < ended < again < last
