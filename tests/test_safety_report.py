"""Patientsäkerhetsberättelse: headings, figures from hand-counted data, suppression, text."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, time, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Connection, insert

from arshjul import render, safety_report
from arshjul.action_rules import DONE_LATE_RULE
from arshjul.config import Config, load_config
from arshjul.documents import Kept, Provenance
from arshjul.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    Complaint,
    ComplaintStatus,
    Deviation,
    DeviationStatus,
    Finding,
    ImportBatch,
    OrgLevel,
    OrgUnit,
    Training,
)
from arshjul.org import OrgTree
from arshjul.signoff import Stamp
from tests.conftest import NOW, STOCKHOLM
from tests.disclosure_attack import recovered

pytestmark = pytest.mark.both_databases

YEAR = 2025
#: the day the fixture's files were imported: before the report's day in the wheel
IMPORTED = datetime(2026, 2, 2, 9, 30, tzinfo=STOCKHOLM)
#: ps-report, 1 March 2026, a Sunday: the Friday before
MILESTONE = date(2026, 2, 27)

HEADINGS = [
    "Sammanfattning",
    "Struktur",
    "Samverkan för att förebygga vårdskador",
    "Patienters och närståendes delaktighet",
    "Rapporteringsskyldighet",
    "Klagomål och synpunkter",
    "Egenkontroll",
    "Process och åtgärder",
    "Resultat och analys",
    "Mål och strategier för kommande år",
]


def squeeze(text: str) -> str:
    """Runs of ASCII white space as one space (NBSP, part of Swedish numbers, is kept)."""
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


class Document(HTMLParser):
    """The parts of a rendered document the tests read: h2 headings in order, tables by
    caption (rows of cell texts), and the text of the body."""

    def __init__(self, html: str):
        super().__init__()
        self.html = html
        self.headings: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.text = ""
        self._tag: str | None = None
        self._caption = ""
        self._row: list[str] | None = None
        self._cell: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("h2", "caption"):
            self._tag, self._caption = tag, ""
            if tag == "h2":
                self.headings.append("")
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h2", "caption"):
            if tag == "caption":
                self.tables[squeeze(self._caption)] = []
            self._tag = None
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(squeeze(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[list(self.tables)[-1]].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text += data
        if self._tag == "h2":
            self.headings[-1] += data.strip()
        elif self._tag == "caption":
            self._caption += data
        if self._cell is not None:
            self._cell += data

    def table(self, caption: str) -> dict[str, list[str]]:
        """Rows by their first cell (the header row included)."""
        return {row[0]: row[1:] for row in self.tables[caption]}


# --- data: a small region whose figures are counted by hand ---------------------------------

UNITS = [
    ("R1", "Region Test", OrgLevel.REGION, None),
    ("A1", "Område Ett", OrgLevel.AREA, "R1"),
    ("A2", "Område Två", OrgLevel.AREA, "R1"),
    ("V1", "Verksamhet Ett", OrgLevel.DEPARTMENT, "A1"),
    ("V2", "Verksamhet Två", OrgLevel.DEPARTMENT, "A2"),
    ("E1", "Enhet Ett A", OrgLevel.UNIT, "V1"),
    ("E2", "Enhet Ett B", OrgLevel.UNIT, "V1"),
    ("E3", "Enhet Två A", OrgLevel.UNIT, "V2"),
]


def build(conn: Connection) -> OrgTree:
    """2025: 18 deviations (A1 12, A2 6), 9 complaints, 10 managers on the patient-safety
    roster (9 trained in time), actions of three plans, and findings of the year."""
    batch = conn.execute(
        insert(ImportBatch).values(
            kind="test",
            file_name="test",
            sha256="0" * 64,
            rows=0,
            inserted=0,
            updated=0,
            imported_at=IMPORTED,
        )
    ).inserted_primary_key[0]
    conn.execute(
        insert(OrgUnit),
        [
            {"id": i, "name": n, "level": lv, "parent_id": p, "batch_id": batch}
            for i, n, lv, p in UNITS
        ],
    )
    deviations = []

    def deviation(
        unit: str,
        category: str,
        c: int | None,
        p: int | None,
        n: int,
        reported: date = date(YEAR, 3, 1),
        lex_maria: int = 0,
        care_chain: int = 0,
    ):
        for i in range(n):
            deviations.append(
                {
                    "source_id": f"D{len(deviations)}",
                    "unit_id": unit,
                    "reported_date": reported,
                    "category": category,
                    "consequence": c,
                    "probability": p,
                    "lex_maria": i < lex_maria,
                    "care_chain": i < care_chain,
                    "status": DeviationStatus.CLOSED,
                    "batch_id": batch,
                }
            )

    deviation("E1", "Fall", 2, 2, 7)  # risk 4: måttlig
    deviation("E1", "Läkemedel", 3, 3, 3, lex_maria=1)  # 9: hög
    deviation("E2", "Vård och behandling", 4, 4, 2)  # 16: mycket hög
    deviation("E3", "Dokumentation", 1, 1, 6, care_chain=6)  # 1: låg
    deviation("E3", "Fall", 2, 2, 5, reported=date(YEAR - 1, 6, 1))  # another year
    conn.execute(insert(Deviation), deviations)

    complaints = []

    def complaint(unit: str, channel: str, category: str, n: int, days: int | None):
        received = date(YEAR, 4, 1)
        for _ in range(n):
            complaints.append(
                {
                    "source_id": f"K{len(complaints)}",
                    "unit_id": unit,
                    "received_date": received,
                    "channel": channel,
                    "category": category,
                    "answered_date": received + timedelta(days) if days is not None else None,
                    "status": ComplaintStatus.ANSWERED if days is not None else ComplaintStatus.NEW,
                    "batch_id": batch,
                }
            )

    complaint("E1", "1177", "Kommunikation", 5, 10)
    complaint("E3", "Patientnämnden", "Vård och behandling", 3, 40)
    complaint("E2", "Direkt", "Tillgänglighet", 1, None)
    conn.execute(insert(Complaint), complaints)

    training = []

    def trained(unit: str, person: str, role: str, course: str, done: date | None):
        training.append(
            {
                "person_key": person,
                "unit_id": unit,
                "role": role,
                "course": course,
                "completed_date": done,
                "batch_id": batch,
            }
        )

    for i in range(6):  # E1: six managers, the sixth completed only in 2026
        trained("E1", f"c{i}", "chef", "patientsäkerhet", date(YEAR if i < 5 else YEAR + 1, 5, 1))
    trained("E1", "c0", "chef", "produktionsplanering", date(YEAR, 5, 1))
    for i in range(10):
        trained("E1", f"m{i}", "medarbetare", "patientsäkerhet", date(YEAR, 5, 1))
    for i in range(4):
        trained("E3", f"d{i}", "chef", "patientsäkerhet", date(YEAR, 9, 1))
    conn.execute(insert(Training), training)

    actions = []

    def action(
        action_id: str,
        unit: str,
        finding: str | None,
        status: ActionStatus,
        written: date | None = None,
    ):
        actions.append(
            {
                "action_id": action_id,
                "unit_id": unit,
                "finding_id": finding,
                "title": "Åtgärd",
                "owner_role": "Enhetschef",
                "due_date": date(YEAR, 6, 30),
                "status": status,
                "effect": None,
                "status_date": written,
                "batch_id": batch,
            }
        )

    # the plan from the analysis of 2024, carried out in 2025, all due 30 June 2025: A1 4
    # klara + 2 pågår, A2 1 planerad. Klar i tid is written Klar on or before the due date
    # (20 and 30 June), klar sent after it (1 July; egen-atgard without a Statusdatum on the
    # import's day, 2026-02-02)
    klar = {1: date(YEAR, 6, 20), 2: date(YEAR, 6, 30), 3: date(YEAR, 7, 1)}
    for i, status in enumerate([ActionStatus.DONE] * 3 + [ActionStatus.IN_PROGRESS] * 2):
        action(f"E1-2024-00{i + 1}", "E1", f"{YEAR - 1}:E1:risk:hög", status, klar.get(i + 1))
    action("egen-atgard", "E2", None, ActionStatus.DONE)  # no year: counts with this plan
    action("E3-2024-001", "E3", None, ActionStatus.PLANNED)
    # an older plan: one still open (carried over), one done
    action("E1-2023-001", "E1", None, ActionStatus.IN_PROGRESS)
    action("E1-2023-002", "E1", None, ActionStatus.DONE)
    # the plan from this year's analysis, already begun
    action("E3-2025-001", "E3", f"{YEAR}:E3:care_chain:avvikelser", ActionStatus.PLANNED)
    conn.execute(insert(Action), actions)

    def finding(
        unit: str,
        kind: str,
        severity: int,
        title: str,
        year: int = YEAR,
        key: str = "x",
        value: float | None = None,
        baseline: float | None = None,
    ):
        return {
            "id": f"{year}:{unit}:{kind}:{key}",
            "year": year,
            "unit_id": unit,
            "kind": kind,
            "title": title,
            "measure": "avvikelser",
            "value": value,
            "baseline": baseline,
            "severity": severity,
            "run_id": "test",
        }

    conn.execute(
        insert(Finding),
        [
            finding(
                "R1", "risk", 2, "2 avvikelser med risknivån mycket hög (konsekvens × sannolikhet)"
            ),
            finding("A2", "care_chain", 3, "6 avvikelser i vårdkedjan (100,0\u00a0% av alla)"),
            finding(
                "A1", "trend", 1, "Markant ökning av avvikelser: 12 mot 7,0 i snitt tidigare år"
            ),
            finding("E1", "risk", 3, "Enhetens eget fynd"),
            finding("R1", "trend", 3, "Fjolårets fynd", year=YEAR - 1),
            # the enheter that stand out: E2 and E1 in Område Ett, E3 in Område Två
            finding("E2", "under_reporting", 3, "Inga avvikelser", key="avvikelser", value=0),
            finding(
                "E1", "actions", 3, "2 av 3 åtgärder försenade", key="overdue", value=2, baseline=3
            ),
            finding("E3", "spc", 2, "Utanför styrgränserna", key="beyond", value=3.0),
            finding("E3", "risk", 2, "5 avvikelser med risknivån mycket hög", value=5),
            finding("E3", "spc", 2, "Fjolårets signal", year=YEAR - 1, key="run", value=3.0),
        ],
    )
    return OrgTree.load(conn)


ORIGIN = Provenance((), NOW, "test-run")


def write(conn: Connection, config: Config, out: Path, stamp: Stamp | None = None) -> Document:
    tree = build(conn)
    data = safety_report.report_data(conn, config, tree, YEAR, NOW.date())
    stamp = stamp or Stamp(1, "draft", "Chefläkare")
    written = safety_report.write_document(out, config, tree, data, stamp, ORIGIN)
    html = next(p for p in written if p.name == safety_report.FILE_NAME)
    assert html == out / str(YEAR) / "region" / "R1" / "patientsakerhetsberattelse.html"
    return Document(html.read_text("utf-8"))


@pytest.fixture
def doc(conn: Connection, config: Config, tmp_path: Path) -> Document:
    return write(conn, config, tmp_path)


# --- tests ---------------------------------------------------------------------------------


def test_the_headings_are_skrs_in_order_after_the_table_of_contents(doc):
    assert doc.headings == ["Innehåll", *HEADINGS]


def test_deviation_figures_are_counted_and_small_ones_suppressed(doc):
    areas = doc.table(f"Avvikelser, lex Maria och klagomål per område {YEAR}")
    # complaints: E1 5, E2 1; 9 - 6 would give Område Två's <5 back, so the 6 is hidden too
    assert areas["Område Ett"] == ["12", "<5", "0", ".."]
    assert areas["Område Två"] == ["6", "0", "6", "<5"]
    assert areas["Region Test"] == ["18", "<5", "6", "9"]
    categories = doc.table(f"Avvikelser per händelsetyp {YEAR}")
    assert categories["Fall"] == ["7", "38,9\u00a0%"]
    assert categories["Dokumentation"] == ["6", "33,3\u00a0%"]
    # 3 and 2: the counts and their shares (which would reveal them) are hidden
    assert categories["Läkemedel"] == ["<5", "–"]
    assert categories["Vård och behandling"] == ["<5", "–"]
    assert categories["Trycksår"] == ["0", "0,0\u00a0%"]
    assert categories["Totalt"][0] == "18"
    bands = doc.table(f"Avvikelser per risknivå (konsekvens × sannolikhet) {YEAR}")
    assert [row[0] for name, row in bands.items() if name.startswith(("låg", "måttlig"))] == [
        "6",
        "7",
    ]
    assert [row[0] for name, row in bands.items() if name.startswith(("hög", "mycket hög"))] == [
        "<5",
        "<5",
    ]
    consequences = doc.table(f"Avvikelser per konsekvens {YEAR}")
    assert consequences["Mindre"][0] == "6" and consequences["Katastrofal"][0] == "<5"


def test_reporting_duty_and_care_chain(doc):
    assert f"Under {YEAR} anmäldes <5 händelser till IVO enligt lex Maria." in doc.text
    care = doc.table(f"Avvikelser i vårdkedjan per område {YEAR}")
    assert care["Område Två"] == ["6", "100,0\u00a0%"]
    assert care["Område Ett"] == ["0", "0,0\u00a0%"]
    assert care["Region Test"] == ["6", "33,3\u00a0%"]


def test_complaints_by_channel_and_answer_times(doc):
    channels = doc.table(f"Klagomål och synpunkter per kanal {YEAR}")
    # 9 - 5 would leave Patientnämnden's and Direkt's <5 at 4 together: 1..3 each
    assert channels["1177"] == ["..", "–"]
    assert channels["Patientnämnden"] == ["<5", "–"]
    assert channels["Direkt"] == ["<5", "–"]
    assert channels["IVO"] == ["0", "0,0\u00a0%"]
    assert channels["Totalt"][0] == "9"
    categories = doc.table(f"Klagomål och synpunkter per kategori {YEAR}")
    assert categories["Kommunikation"][0] == ".."
    # 9 received, 8 answered, 5 within 28 days (5/9), median of 5×10 and 3×40 days; the 5
    # is hidden: 9 - 5 - 0 would leave the two <5 (3 later, 1 unanswered) at 4 together
    text = squeeze(doc.text)
    assert (
        ".. av 9 klagomål och synpunkter (–) besvarades inom 28 dagar. Andelen räknas"
        " på alla som inkom under året: <5 besvarades senare, 0 avslutades utan svarsdatum och"
        " <5 var inte besvarade; de räknas som inte besvarade i tid."
        " Mediantid till svar för de besvarade: 10 dagar."
    ) in text
    assert "– av dem besvarades inom 28 dagar" in text


def test_status_at_the_year_end_says_what_it_cannot_know(doc):
    # every deviation is Avslutad without a closing date: when it closed is not known
    statuses = doc.table(f"Avvikelser per status vid årets slut {YEAR}")
    assert statuses[f"Status {YEAR}-12-31"] == ["Antal", "Andel"]
    assert statuses[f"Avslutad senast {YEAR}-12-31"] == ["0", "0,0\u00a0%"]
    assert statuses["Ej avslutad vid årets slut"] == ["0", "0,0\u00a0%"]
    assert statuses["Avslutad, avslutsdatum saknas"] == ["18", "100,0\u00a0%"]
    assert "om den då var Ny eller Pågående går inte att veta" in squeeze(doc.text)


def test_the_enheter_that_stand_out_are_counted_per_area_and_suppressed(doc):
    table = doc.table(f"Enheter som sticker ut per område {YEAR}")
    assert table["Område"] == [
        "Möjlig underrapportering",
        "Signal i styrdiagrammet",
        "Kluster av allvarliga risker",
        "Försenade åtgärder",
        "Enheter",
    ]
    # Område Ett: E2 under-reporting, E1 late actions (2 of 3); Område Två: E3 a signal and 5
    # of the highest risk; every count 1-4 is shown as <5
    # the region's 3 enheter = Område Ett's 2 + Område Två's 1: three <5 would pin each
    # other (2..3, 1..2), so Område Ett's is written .. (it may be any count)
    assert table["Område Ett"] == ["<5", "0", "0", "<5", ".."]
    assert table["Område Två"] == ["0", "<5", "<5", "0", "<5"]
    # and the region's: the reasons' <5 (each enhet counted for a reason is among the
    # enheter) would bound the region's enheter from below
    assert table["Region Test"] == ["<5", "<5", "<5", "<5", ".."]
    text = squeeze(doc.text)
    assert ".. enheter sticker ut i årets analys" in text
    assert '<a href="analys.html">regionens analys</a>' in doc.html
    # the rule's number in words: a digit 1-4 in a published text reads as a count
    assert "(minst fem avvikelser med den högsta risknivån)" in text
    assert "(minst två av åtgärderna i förra årets handlingsplan" in text


def test_training_coverage_of_managers_against_the_target(doc):
    table = doc.table(f"Chefer med utbildning i patientsäkerhet {YEAR} (mål 90\u00a0%)")
    # E1: 6 managers, 5 in time (one in 2026); E3: 4 of 4; co-workers do not count
    # 10 - 6 and 9 - 5 would give Område Två's <5 back: the region's counts are hidden, as
    # the region's deferred-care section for the year hides them (the same counts)
    assert table["Region Test"] == ["..", "..", "–", "–"]
    assert table["Område Ett"] == ["6", "5", "83,3\u00a0%", "Nej"]
    assert table["Område Två"] == ["<5", "<5", "–", "–"]


def test_actions_by_status_per_area_and_the_open_ones_carried_over(doc):
    plan = doc.table(f"Handlingsplan utifrån analysen av {YEAR - 1} (genomförs {YEAR})")
    assert plan["Område"] == ["Planerad", "Pågår", "Klar i tid", "Klar sent", "Struken", "Totalt"]
    # 7 - 6 would give Område Två's total back; Klar: 2 in time, 2 late (see the fixture)
    assert plan["Område Ett"] == ["0", "<5", "<5", "<5", "0", ".."]
    assert plan["Område Två"] == ["<5", "0", "0", "0", "0", "<5"]
    assert plan["Region Test"] == ["<5", "<5", "<5", "<5", "0", "7"]
    this_year = doc.table(f"Handlingsplan utifrån analysen av {YEAR}")
    assert this_year["Region Test"][-1] == "<5"
    carried = doc.table(
        f"Öppna åtgärder från äldre handlingsplaner (före {YEAR - 1}) som förs över"
    )
    assert carried["Område"] == ["Planerad", "Pågår", "Totalt"]
    assert carried["Område Ett"] == ["0", "<5", "<5"]
    # the statuses are those at the report's day in the wheel, not the run's (NOW) nor those
    # at the end of the report's year
    assert (
        "Status per 2026-02-27, patientsäkerhetsberättelsens datum i årshjulet: för varje"
        " åtgärd i tabellerna den status enheten senast skrev med Statusdatum till och med den"
        f" dagen (en rad utan Statusdatum gäller dagen arbetsbladet lästes in), inte läget vid"
        f" årets slut {YEAR}." in squeeze(doc.text)
    )


def test_findings_of_the_region_and_areas_most_severe_first_with_counts_suppressed(doc):
    table = doc.tables["Fynd med medel eller hög allvarlighet, regionen och områdena"]
    assert table[1:] == [
        # 6 is the value of a hidden count (Område Ett's complaints): no sentence prints it,
        # nor the share beside it (with the 6 deviations shown it would give the 6 back)
        ["Hög", "Område Två", ".. avvikelser i vårdkedjan (..\u00a0% av alla)"],
        [
            "Medel",
            "Region Test",
            # 2 is also the value of a small count a table writes .. (Område Ett's
            # enheter): a sentence writes it .. too, not <5
            ".. avvikelser med risknivån mycket hög (konsekvens × sannolikhet)",
        ],
    ]
    assert "Enhetens eget fynd" not in doc.text and "Fjolårets fynd" not in doc.text
    goals = doc.text[doc.text.index("Prioriterade risker") :]
    assert "Område Två: .. avvikelser i vårdkedjan" in goals and "risknivån" not in goals


def test_no_count_from_one_to_four_is_shown(doc):
    for caption, rows in doc.tables.items():
        for row in rows:
            for cell in row[1:]:
                assert cell not in {"1", "2", "3", "4"}, (caption, row)


def test_narrative_comes_from_config(doc, config):
    text = " ".join(doc.text.split())
    assert config.safety_report.summary.split("\n")[0] in text
    assert "Chefläkaren samordnar regionens patientsäkerhetsarbete" in text
    for goal in config.safety_report.goal_list:
        assert goal in text


def test_a_region_overrides_the_narrative(conn, tmp_path, monkeypatch):
    own = tmp_path / "region-config"
    own.mkdir()
    fields = Config().safety_report.model_dump()
    fields["summary"] = "Vårt eget stycke ett.\nVårt eget stycke två."
    fields["goal_list"] = ["Noll fallskador."]
    (own / "safety_report.yaml").write_text(yaml.safe_dump(fields, allow_unicode=True), "utf-8")
    monkeypatch.setenv("ARSHJUL_CONFIG", str(own))
    doc = write(conn, load_config(), tmp_path / "out")
    assert "Vårt eget stycke ett." in doc.text and "Noll fallskador." in doc.text
    assert "Alla chefer ska ha genomgått" not in doc.text
    html = (tmp_path / "out" / str(YEAR) / "region" / "R1" / safety_report.FILE_NAME).read_text()
    assert "<p>Vårt eget stycke ett.</p>\n<p>Vårt eget stycke två.</p>" in html


def test_the_document_shows_its_version_and_state(conn, config, tmp_path):
    doc = write(conn, config, tmp_path)
    assert "Version 1. Utkast – väntar på fastställande av chefläkare." in " ".join(
        doc.text.split()
    )


def test_the_document_states_its_rule_for_small_counts(doc):
    assert (
        "Antal 1–4 visas som <5. För att de inte ska kunna räknas fram döljs även andra värden"
        " (markerade ..); ett värde markerat .. kan vara vilket antal som helst, också 1–4."
        " Andelar som skulle avslöja ett dolt värde visas inte."
    ) in squeeze(doc.text)


def test_no_hidden_count_can_be_worked_out_from_the_tables_and_shares(doc, tmp_path):
    # before complementary suppression: 9 complaints - Område Ett's 6 gave Område Två's <5
    assert recovered(tmp_path) == []


@pytest.mark.parametrize(
    ("value", "written"),
    [(0, "noll"), (1, "en"), (3, "tre"), (10, "tio"), (11, "11"), (1200, "1\u00a0200")],
)
def test_the_numbers_of_a_rule_are_written_in_words(value, written):
    assert render.words(value) == written


def test_klar_counts_in_time_or_late_by_the_day_written_klar_against_the_due_date(doc, conn):
    # the fixture's actions, all due 2025-06-30: written Klar 20 June and 30 June (the due
    # date itself: in time), 1 July (late), and two without a Statusdatum, as of the import
    # (2026-02-02: late)
    counts = safety_report.count_actions(conn, MILESTONE, STOCKHOLM)
    assert counts[("E1", YEAR - 1, "done_in_time")] == 2
    assert counts[("E1", YEAR - 1, "done_late")] == 1
    assert counts[("E2", None, "done_late")] == 1
    assert counts[("E1", YEAR - 2, "done_late")] == 1
    assert ("E1", YEAR - 1, "done") not in counts  # no plain Klar column
    assert DONE_LATE_RULE in squeeze(doc.text)


def followed_up(conn: Connection, action_id: str, rows: list[tuple[ActionStatus, date]]) -> None:
    """E3's action of the 2024 plan, due 2025-06-30, handed back as ``rows`` of (status,
    Statusdatum), each imported that day; ``action`` keeps the last, as the importer does."""
    batches = [
        conn.execute(
            insert(ImportBatch).values(
                kind="actions",
                file_name=f"{action_id}.csv",
                sha256=hashlib.sha256(f"{action_id}@{day}".encode()).hexdigest(),
                rows=0,
                inserted=0,
                updated=0,
                imported_at=datetime.combine(day, time(9), STOCKHOLM),
            )
        ).inserted_primary_key[0]
        for _, day in rows
    ]
    conn.execute(
        insert(ActionUpdate),
        [
            {"action_id": action_id, "status": status, "status_date": day, "batch_id": batch}
            for (status, day), batch in zip(rows, batches, strict=True)
        ],
    )
    (status, day), batch = rows[-1], batches[-1]
    conn.execute(
        insert(Action).values(
            action_id=action_id,
            unit_id="E3",
            title="Åtgärd",
            owner_role="Enhetschef",
            due_date=date(YEAR, 6, 30),
            status=status,
            status_date=day,
            batch_id=batch,
        )
    )


def e3_follow_ups(conn: Connection) -> OrgTree:
    """The fixture, with two more of E3's 2024 actions: one Pågår in December and written Klar
    on 10 March 2026 (after the report's day), one first handed back in April 2026."""
    tree = build(conn)
    ongoing, done = ActionStatus.IN_PROGRESS, ActionStatus.DONE
    followed_up(conn, "E3-2024-002", [(ongoing, date(2025, 12, 15)), (done, date(2026, 3, 10))])
    followed_up(conn, "E3-2024-003", [(ActionStatus.PLANNED, date(2026, 4, 1))])
    return tree


def test_an_action_done_after_the_reports_day_is_not_done_at_it(conn):
    e3_follow_ups(conn)
    at_milestone = safety_report.count_actions(conn, MILESTONE, STOCKHOLM)
    # 002 is Pågår on 27 Feb; 003 was in no worksheet yet: only 001 is Planerad
    assert at_milestone[("E3", YEAR - 1, "in_progress")] == 1
    assert at_milestone[("E3", YEAR - 1, "planned")] == 1
    assert ("E3", YEAR - 1, "done_late") not in at_milestone
    # as they stand in November: 002 Klar (late: due 30 June 2025), 003 Planerad
    now = safety_report.count_actions(conn, NOW.date(), STOCKHOLM)
    assert now[("E3", YEAR - 1, "done_late")] == 1
    assert now[("E3", YEAR - 1, "planned")] == 2
    assert ("E3", YEAR - 1, "in_progress") not in now


def test_a_rerun_after_the_reports_day_writes_the_same_document(conn, config, tmp_path):
    tree = e3_follow_ups(conn)

    def write_on(today: date, run_id: str) -> tuple[Path | Kept, str]:
        data = safety_report.report_data(conn, config, tree, YEAR, today)
        origin = Provenance((), datetime.combine(today, time(9), STOCKHOLM), run_id)
        stamp = Stamp(1, "draft", "Chefläkare")
        written = safety_report.write_document(tmp_path, config, tree, data, stamp, origin)
        path = tmp_path / str(YEAR) / "region" / "R1" / safety_report.FILE_NAME
        html = next(p for p in written if p == path or p == Kept(path, "run-feb"))
        return html, path.read_text("utf-8")

    written, html = write_on(MILESTONE, "run-feb")
    assert isinstance(written, Path)
    text = squeeze(Document(html).text)
    assert "Status per 2026-02-27, patientsäkerhetsberättelsens datum i årshjulet:" in text
    assert "<5 var inte besvarade; de räknas" in text  # undated at the milestone
    # 002 written Klar in March and 003 handed back in April change nothing in November
    kept, again = write_on(NOW.date(), "run-nov")
    assert kept == Kept(written, "run-feb") and again == html
    # a run before the report's day says it judged on its own day, complaints too
    early = squeeze(Document(write_on(date(2026, 2, 10), "run-early")[1]).text)
    assert (
        "Status per 2026-02-10, dagen patientsäkerhetsberättelsen gjordes, före"
        " patientsäkerhetsberättelsens datum i årshjulet (2026-02-27):"
    ) in early
    assert "<5 var inte besvarade per 2026-02-10;" in early
