"""The cases of issue 15.8, each built from scratch: a region's input files as a coordinator
would import them, the published documents written by the real code (the
patientsäkerhetsberättelse and every unit's deferred-care section for the year), and the
attacker of ``tests/disclosure_attack.py`` reading them. Each case names the arithmetic the
issue found; the documents must print the small count as ``<5`` and no reader may narrow it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from arshjul import interim, safety_report
from arshjul.config import Config
from arshjul.documents import Provenance
from arshjul.formats.tables import parse_html, read_tables
from arshjul.importers import import_file
from arshjul.interim.document import write_documents as write_interim
from arshjul.interim.figures import gather
from arshjul.org import OrgTree
from arshjul.periods import Period
from arshjul.signoff import Stamp
from arshjul.steps import Run, StepResult, ToSignOff, run_step
from arshjul.workspace import open_workspace
from tests.conftest import NOW
from tests.disclosure_attack import recovered

YEAR = 2025
ORIGIN = Provenance((), NOW, "test-run")
#: Region Fall: three områden, each one verksamhet with one enhet
AREAS = {"N": "Nord", "S": "Syd", "M": "Mitt"}
ORGANISATION = [
    "HSA-id;Namn;Nivå;Överordnad",
    "R1;Region Fall;region;",
    *(
        row
        for k, name in AREAS.items()
        for row in (
            f"A{k};Område {name};område;R1",
            f"V{k};Klinik {name};verksamhet;A{k}",
            f"E{k};Enhet {name};enhet;V{k}",
        )
    ),
]


def publish(conn: Connection, config: Config, out: Path, files: dict[str, list[str]]) -> Path:
    """Import ``files`` (kind -> CSV lines) after the organisation and write the published
    documents of 2025; returns ``out``."""
    for kind, rows in {"organisation": ORGANISATION, **files}.items():
        path = out.parent / f"{kind}.csv"
        path.write_text("\n".join(rows) + "\n", "utf-8")
        import_file(conn, config, kind, path, now=NOW)
    tree = OrgTree.load(conn)
    data = safety_report.report_data(conn, config, tree, YEAR, NOW.date())
    safety_report.write_document(out, config, tree, data, Stamp(1, "draft", "Chefläkare"), ORIGIN)
    period = Period.full_year(YEAR)
    units = [u.id for u in tree.walk(tree.root.id)]
    shown = interim.training.publication(conn, config, tree, period)
    write_interim(out, config, tree, period, gather(conn, tree, period), units, ORIGIN, shown)
    return out


def cell(out: Path, unit: str, document: str, caption: str, row: str, column: str) -> str:
    """A cell as a published document prints it."""
    page = next((out / str(YEAR)).glob(f"*/{unit}/{document}.html"))
    table = next(
        t for t in read_tables(parse_html(page.read_text("utf-8"))) if t.title.startswith(caption)
    )
    head = [c.text for c in table.head[-1]]
    found = next(r for r in (*table.body, *table.foot) if r[0].text == row)
    return found[head.index(column)].text


def complaints(counts: dict[str, int]) -> list[str]:
    """Complaints of 2025 in Enhet Nord, ``counts`` per channel, all answered in 10 days."""
    rows = ["Ärende-ID;Enhet HSA-id;Inkommet datum;Kanal;Kategori;Besvarat datum;Status"]
    categories = ("Kommunikation", "Vård och behandling", "Tillgänglighet", "Resurser")
    n = 0
    for channel, count in counts.items():
        for _ in range(count):
            n += 1
            unit = ("EN", "ES", "EM")[n % 3]
            rows.append(f"K{n};{unit};2025-03-01;{channel};{categories[n % 4]};2025-03-11;Avslutad")
    return rows


def test_ivo_complaints_are_not_523_less_227_155_137(conn, config, tmp_path):
    """Complaints via IVO <5 = 523 − 227 − 155 − 137 = 4."""
    out = publish(
        conn,
        config,
        tmp_path / "out",
        {"complaints": complaints({"1177": 227, "Patientnämnden": 155, "Direkt": 137, "IVO": 4})},
    )
    caption = f"Klagomål och synpunkter per kanal {YEAR}"
    assert cell(out, "R1", "patientsakerhetsberattelse", caption, "IVO", "Antal") == "<5"
    assert cell(out, "R1", "patientsakerhetsberattelse", caption, "Totalt", "Antal") == "523"
    assert recovered(out) == []


def waiting(over_180: dict[str, int]) -> list[str]:
    """Patients waiting at 2025-12-31 (and a year before) per enhet: ``over_180`` of them
    over 180 days, 40 within 90 and 6 between 91 and 180, all for a visit."""
    rows = ["Mätdatum;Enhet HSA-id;Vårdåtgärd;Väntetid dagar;PvV;Antal"]
    for day in ("2024-12-31", "2025-12-31"):
        for unit, n in over_180.items():
            rows += [
                f"{day};{unit};besök;20;nej;40",
                f"{day};{unit};besök;120;nej;6",
                f"{day};{unit};besök;200;nej;{n}",
            ]
    return rows


def test_omrade_nords_over_180_days_is_not_121_less_110_less_7(conn, config, tmp_path):
    """Område Nord "> 180 dagar" <5 = 121 − 110 − 7: the region's section prints the
    områden's rows, each område's own section its total."""
    out = publish(
        conn, config, tmp_path / "out", {"waiting": waiting({"EN": 4, "ES": 7, "EM": 110})}
    )
    caption = "Väntande per område"
    assert cell(out, "R1", "uppskjuten-vard", caption, "Område Nord", "> 180 dagar") == "<5"
    assert cell(out, "R1", "uppskjuten-vard", caption, "Område Mitt", "> 180 dagar") == "110"
    assert cell(
        out, "R1", "uppskjuten-vard", "Väntande per vårdåtgärd", "Totalt", "> 180 dagar"
    ) in ("121", "..")
    assert recovered(out) == []


def test_a_small_count_over_90_days_is_not_149_less_97_3_percent_of_149(conn, config, tmp_path):
    """A <5 beside "utan PvV 149, andel ≤ 90 97,3 %" can only be 4: 97,3 % of 149 is 145."""
    rows = ["Mätdatum;Enhet HSA-id;Vårdåtgärd;Väntetid dagar;PvV;Antal"]
    for day in ("2024-12-31", "2025-12-31"):
        rows += [
            f"{day};EN;besök;20;nej;145",
            f"{day};EN;besök;120;nej;4",
            f"{day};EN;operation;20;nej;60",
            f"{day};EN;operation;120;nej;30",
        ]
    out = publish(conn, config, tmp_path / "out", {"waiting": rows})
    caption = "Väntande per vårdåtgärd"
    assert cell(out, "EN", "uppskjuten-vard", caption, "besök", "Väntande utan PvV") in (
        "149",
        "..",
    )
    assert cell(out, "EN", "uppskjuten-vard", caption, "besök", "> 90 dagar") == "<5"
    assert cell(out, "EN", "uppskjuten-vard", caption, "besök", "Andel ≤ 90 dagar") == "–"
    assert recovered(out) == []


def test_two_deviations_open_at_the_year_end_are_not_27_less_25(conn, config, tmp_path):
    """Status Ny/Pågående <5 beside Avslutad 25 of 27 (92,6 %)."""
    rows = [
        "Avvikelse-ID;Enhet HSA-id;Händelsedatum;Rapporteringsdatum;Händelsetyp;Konsekvens;"
        "Sannolikhet;Lex Maria;Vårdkedja;Status;Avslutad datum"
    ]
    for n in range(27):
        unit = ("EN", "ES", "EM")[n % 3]
        closed = n >= 2
        rows.append(
            f"D{n};{unit};2025-05-{n + 1:02};2025-05-{n + 1:02};Fall;1;2;nej;nej;"
            f"{'Avslutad;2025-06-30' if closed else 'Ny;'}"
        )
    out = publish(conn, config, tmp_path / "out", {"deviations": rows})
    caption = f"Avvikelser per status vid årets slut {YEAR}"
    row = "Ej avslutad vid årets slut"
    assert cell(out, "R1", "patientsakerhetsberattelse", caption, row, "Antal") == "<5"
    assert cell(out, "R1", "patientsakerhetsberattelse", caption, "Totalt", "Antal") == "27"
    assert recovered(out) == []


def test_managers_training_counts_of_one_to_four_are_not_shown_or_given_back(
    conn, config, tmp_path
):
    """Managers' training counts of 1–4 in the deferred-care section: Område Nord has 3
    managers (2 trained), Syd 8 (6), Mitt 9 (7); the region's section, Nord's own and the
    patientsäkerhetsberättelse all print them."""
    rows = ["Pseudonym;Enhet HSA-id;Roll;Kurs;Genomförd"]
    for unit, managers, trained in (("EN", 3, 2), ("ES", 8, 6), ("EM", 9, 7)):
        for p in range(managers):
            for course in ("patientsäkerhet", "produktionsplanering"):
                done = "2025-03-14" if p < trained else ""
                rows.append(f"P-{unit}{p};{unit};chef;{course};{done}")
    out = publish(conn, config, tmp_path / "out", {"training": rows})
    own = "Chefer som genomfört utbildning"
    assert cell(out, "EN", "uppskjuten-vard", own, "Patientsäkerhet", "Chefer") == "<5"
    assert cell(out, "EN", "uppskjuten-vard", own, "Patientsäkerhet", "Genomfört") == "<5"
    per_area = "Vårdplatser och chefers utbildning per område"
    assert cell(out, "R1", "uppskjuten-vard", per_area, "Område Nord", "Chefer") in ("<5", "..")
    assert recovered(out) == []


#: Region Fall with one klinik of three enheter, whose counts share its lines
ONE_CLINIC = [
    "HSA-id;Namn;Nivå;Överordnad",
    "R1;Region Fall;region;",
    "AN;Område Nord;område;R1",
    "VN;Klinik Nord;verksamhet;AN",
    *(f"{e};Enhet {name};enhet;VN" for e, name in (("EN", "Nord"), ("ES", "Syd"), ("EM", "Mitt"))),
]


def test_a_unit_rerun_rewrites_the_sections_whose_marks_it_moved(workdir):
    """A rerun for one enhet must not leave a sibling's section printing a count that the
    new ledger hides. Klinik Nord's enheter wait over 180 days: Nord 9, Syd 9, Mitt 15, all
    printed. Then Mitt's falls to 4 (``<5``) and only Mitt is rerun: the klinik's row of
    enheter hides one complement of the two nines, Nord's; if Nord's own sections still
    printed 9, Mitt = 22 − 9 − 9 (the klinik's total is printed, Syd's too)."""
    ws = open_workspace()
    period = Period.full_year(YEAR)

    def rerun(files: dict[str, list[str]], run_id: str, unit: str | None) -> StepResult:
        with ws.engine.begin() as conn:
            for kind, rows in files.items():
                path = workdir / f"{kind}-{run_id}.csv"
                path.write_text("\n".join(rows) + "\n", "utf-8")
                import_file(conn, ws.config, kind, path, now=NOW)

        def sign_off(_: ToSignOff) -> None:
            raise AssertionError("not a signed step")

        run = Run(ws.config, NOW, run_id)
        return run_step(ws, interim.STEP, period, unit, run, sign_off=sign_off, clock=lambda: NOW)

    first = {"organisation": ONE_CLINIC, "waiting": waiting({"EN": 9, "ES": 9, "EM": 15})}
    rerun(first, "run-1", None)
    assert recovered(ws.out) == []
    # a correction of Mitt's lists alone, and a rerun for Mitt as a coordinator starts it
    result = rerun({"waiting": waiting({"EM": 4})}, "run-2", "EM")
    assert recovered(ws.out) == []
    # Nord's section was written again (its count is hidden now)
    assert {"EM", "VN", "AN", "R1", "EN"} <= {p.parent.name for p in result.written}
    nord = (ws.out / str(YEAR) / "enheter" / "EN").glob("*.html")
    assert all("av körning run-2" in p.read_text("utf-8") for p in nord)
    # and the folder is what a run for the whole region makes of the same data: it finds
    # every section saying what it would say
    assert rerun({}, "run-3", None).written == []
    ws.engine.dispose()


def test_training_of_two_periods_read_together_gives_back_nothing(workdir):
    """Klinik Nord's enheter have 10 managers each. By the end of 2025-T1 Syd's 8 and Mitt's
    6 have completed patientsäkerhet, Nord's none; by the end of 2025-T2 Nord's 2 too (the
    klinik's 16). 2025-T2's section alone hides Nord's 2 (``<5``) and Mitt's 6 beside it
    (``..``, the smallest of its row), but Mitt's 6 of T1 are among Mitt's of T2: Nord's is
    at most 16 − 8 − 6 = 2, so 1..2. Protected with T1's counts, T2 hides what no earlier
    count pins: the klinik's 16 (and the område's and the region's, the same count)."""
    ws = open_workspace()
    rows = ["Pseudonym;Enhet HSA-id;Roll;Kurs;Genomförd"]
    for unit, trained, done in (
        ("EN", 2, "2025-06-10"),
        ("ES", 8, "2025-03-14"),
        ("EM", 6, "2025-03-14"),
    ):
        for p in range(10):
            rows.append(f"P-{unit}{p};{unit};chef;patientsäkerhet;{done if p < trained else ''}")
    with ws.engine.begin() as conn:
        for kind, lines in {"organisation": ONE_CLINIC, "training": rows}.items():
            path = workdir / f"{kind}.csv"
            path.write_text("\n".join(lines) + "\n", "utf-8")
            import_file(conn, ws.config, kind, path, now=NOW)

    def sign_off(_: ToSignOff) -> None:
        raise AssertionError("not a signed step")

    for part in ("T1", "T2"):
        run = Run(ws.config, NOW, f"run-{part}")
        period = Period(YEAR, part)
        run_step(ws, interim.STEP, period, None, run, sign_off=sign_off, clock=lambda: NOW)
    assert recovered(ws.out) == []
    own = "Chefer som genomfört utbildning"

    def trained(part: str, unit: str) -> str:
        page = next((ws.out / f"{YEAR}-{part}").glob(f"*/{unit}/uppskjuten-vard.html"))
        table = next(t for t in read_tables(parse_html(page.read_text("utf-8"))) if t.title == own)
        return next(r for r in table.body if r[0].text == "Patientsäkerhet")[2].text

    assert [trained("T1", u) for u in ("EN", "ES", "EM", "VN")] == ["0", "8", "6", "14"]
    assert [trained("T2", u) for u in ("EN", "ES", "EM", "VN", "AN", "R1")] == [
        "<5",
        "8",
        "6",
        "..",
        "..",
        "..",
    ]
    ws.engine.dispose()
