"""Importers: good files in every accepted shape, the rules of SPEC §4, a corpus of bad files."""

from __future__ import annotations

import codecs
import tracemalloc
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import func, select

from arshjul.errors import ConfigError, InputError, UsageError
from arshjul.importers import KINDS, import_file
from arshjul.importers import personnummer as pnr
from arshjul.importers.kinds import BY_NAME
from arshjul.importers.read import (
    BLOCK,
    LONG_LINE,
    LONGEST_LINE,
    _LongLine,
    _pieces,
    sheets,
    survey,
)
from arshjul.importers.validate import match_header
from arshjul.importers.values import (
    SUGGESTIONS_PER_COLUMN,
    Suggester,
    amount,
    boolean,
    count,
    iso_date,
    month,
    normalise,
    number,
    scale,
)
from arshjul.models import (
    Action,
    ActionStatus,
    Capacity,
    Complaint,
    Deviation,
    DeviationStatus,
    ImportBatch,
    OrgLevel,
    OrgUnit,
    Production,
    Training,
    WaitingSnapshot,
)
from tests.conftest import FIXTURES, NOW
from tests.fixtures.imports.cases import (
    ACTION_HEADER,
    ACTION_OK,
    BAD,
    CAP_HEADER,
    CAP_OK,
    CASES,
    COMPLAINT_HEADER,
    COMPLAINT_OK,
    DEV_HEADER,
    DEV_OK,
    FINDING_E1,
    ORG_HEADER,
    ORGANISATION,
    PROD_HEADER,
    PROD_OK,
    TRAIN_HEADER,
    TRAIN_OK,
    WAIT_HEADER,
    WAIT_OK,
    dev,
    lines,
    store_findings,
)

pytestmark = pytest.mark.both_databases

D2 = "D2;E2;;2025-03-02;läkemedel;Måttlig;;ja;x;Pågående;"
STORED_BY_NEW_KINDS = (WaitingSnapshot, Production, Capacity, Training, Action)


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def rows_in(conn, table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture
def org(conn, config):
    """The small organisation R1 › A1 › V1 › E1, E2."""
    return import_file(conn, config, "organisation", ORGANISATION, now=NOW)


@pytest.fixture
def imp(conn, config, org, tmp_path):
    """Import ``content`` as a file of ``kind``."""

    def run(kind: str, content: bytes, name: str = "file.csv"):
        return import_file(conn, config, kind, write(tmp_path, name, content), now=NOW)

    return run


@pytest.fixture
def findings(conn, org):
    """The stored findings every action file may answer (one of E1, one of E2)."""
    store_findings(conn)


def refusal(imp, kind: str, content: bytes) -> InputError:
    with pytest.raises(InputError) as raised:
        imp(kind, content)
    return raised.value


# --- good files ----------------------------------------------------------------------------


def utf16_be(text: str) -> bytes:
    return codecs.BOM_UTF16_BE + text.encode("utf-16-be")


@pytest.mark.parametrize(
    ("encode", "delimiter", "newline"),
    [
        (lambda t: t.encode("utf-8-sig"), ";", "\r\n"),
        (lambda t: t.encode("utf-8"), ",", "\n"),
        (lambda t: t.encode("cp1252"), "\t", "\r\n"),
        (lambda t: t.encode("utf-16"), ";", "\n"),
        (utf16_be, "\t", "\r\n"),
    ],
    ids=["utf8-bom-semicolon-crlf", "utf8-comma", "cp1252-tab-crlf", "utf16le-bom", "utf16be-bom"],
)
def test_good_files_in_every_encoding_and_delimiter(conn, imp, encode, delimiter, newline):
    rows = [DEV_HEADER, DEV_OK, D2]
    text = newline.join(r.replace(";", delimiter) for r in rows) + newline
    result = imp("deviations", encode(text))
    assert (result.rows, result.inserted, result.updated, result.unchanged) == (2, 2, 0, 0)
    d1, d2 = conn.execute(select(Deviation.__table__).order_by(Deviation.source_id)).all()
    assert (d1.source_id, d1.unit_id, d1.category, d1.consequence, d1.probability) == (
        "D1",
        "E1",
        "Fall",
        1,
        2,
    )
    assert (d1.event_date, d1.reported_date, d1.closed_date) == (
        date(2025, 1, 3),
        date(2025, 1, 5),
        date(2025, 2, 1),
    )
    assert (d1.lex_maria, d1.care_chain, d1.status) == (False, False, DeviationStatus.CLOSED)
    # the code list's spelling, the label's number, x for yes, empty for nothing
    assert (d2.category, d2.consequence, d2.probability) == ("Läkemedel", 2, None)
    assert (d2.lex_maria, d2.care_chain, d2.status) == (True, True, DeviationStatus.IN_PROGRESS)
    assert d2.event_date is None and d2.closed_date is None


def test_quoted_cells_may_hold_delimiters_and_line_breaks(conn, imp):
    content = lines(
        DEV_HEADER + ";Beskrivning",
        DEV_OK + ';"Föll; slog\nhuvudet"',
        '"D2";"E2";;2025-01-05;"Fall";1;1;nej;nej;Ny;;"x"',
    )
    assert imp("deviations", content).inserted == 2
    # a problem after a cell that spans two lines names the physical line
    bad = content.replace(b'"D2";"E2"', b'"D2";"E9"')
    assert [p.line for p in refusal(imp, "deviations", bad).problems] == [4]


def test_trailing_empty_cells_blank_rows_and_times_are_accepted(conn, imp):
    content = lines(
        DEV_HEADER,
        DEV_OK + ";;",
        "",
        ";" * 10,
        "D2;E1;2025-01-03T08:15;2025-01-05 14:30:59;Fall;;;;;Ny;",
    )
    assert imp("deviations", content).inserted == 2
    assert conn.execute(
        select(Deviation.reported_date).where(Deviation.source_id == "D2")
    ).scalar_one() == date(2025, 1, 5)


@pytest.mark.parametrize(
    "text",
    [
        "a;b;c\n1;2;3\n4;5;6\n",
        "a;b;c\r\n1;2;3\r\n4;5;6",
        'a;b;c\n1;"2";3\n4;5;6\n',
        "a;b;c\n1;2;3\n\n4;5;6\n",
    ],
)
def test_plain_and_quoted_files_read_the_same(tmp_path, text):
    path = write(tmp_path, "f.csv", text.encode())
    (sheet,) = sheets(path, survey(path, path.name), path.name)
    # quote-free files without blank lines are split at C speed, numbered by a range; the rest
    # are read by the csv module
    assert isinstance(sheet.lines, range) != ('"' in text or "\n\n" in text)
    assert sheet.header == ["a", "b", "c"]
    assert sheet.columns == [["1", "4"], ["2", "5"], ["3", "6"]]
    assert list(sheet.lines) == ([2, 4] if "\n\n" in text else [2, 3])
    assert sheet.problems == sheet.rejected == []


def test_headers_match_ignoring_case_accents_spaces_hyphens_underscores(conn, imp):
    header = "avvikelse_id,ENHET HSA ID,handelse-datum,rapporteringsdatum,handelsetyp,konsekvens"
    content = lines(header + ",STATUS", "D1,E1,2025-01-03,2025-01-05,fall,mindre,avslutad")
    assert imp("deviations", content).inserted == 1
    assert conn.execute(select(Deviation.category, Deviation.consequence)).one() == ("Fall", 1)


def test_free_text_is_dropped_and_reported(conn, imp):
    content = lines(DEV_HEADER + ";Händelsebeskrivning", DEV_OK + ";Patienten föll vid sängen")
    result = imp("deviations", content)
    assert result.ignored_columns == ("Händelsebeskrivning",)
    stored = conn.execute(select(Deviation.__table__)).one()
    assert not any("föll" in str(value) for value in stored)


def test_reimporting_the_same_file_changes_nothing(conn, imp):
    first = imp("deviations", dev(DEV_OK, D2))
    again = imp("deviations", dev(DEV_OK, D2))
    assert not first.already_imported
    assert again.already_imported
    assert (again.rows, again.inserted, again.updated, again.unchanged) == (2, 0, 0, 2)
    assert rows_in(conn, Deviation) == 2
    assert rows_in(conn, ImportBatch) == 2  # the organisation and the one deviations file


def test_a_later_export_updates_by_source_id_and_unchanged_records_keep_their_batch(conn, imp):
    imp("deviations", dev(DEV_OK, D2))
    changed = DEV_OK.replace(";Avslutad;", ";Pågående;").replace("2025-02-01", "")
    result = imp("deviations", dev(changed, D2, "D3;E1;;2025-03-01;Fall;1;2;nej;nej;Ny;"))
    assert (result.rows, result.inserted, result.updated, result.unchanged) == (3, 1, 1, 1)
    batches = dict(conn.execute(select(Deviation.source_id, Deviation.batch_id)).all())
    latest = conn.execute(select(func.max(ImportBatch.id))).scalar_one()
    assert batches["D1"] == batches["D3"] == latest
    assert batches["D2"] == latest - 1  # not changed, so still the first file's
    d1 = conn.execute(select(Deviation.__table__).where(Deviation.source_id == "D1")).one()
    assert d1.status == DeviationStatus.IN_PROGRESS and d1.closed_date is None
    batch = conn.execute(select(ImportBatch.__table__).where(ImportBatch.id == latest)).one()
    assert (batch.kind, batch.rows, batch.inserted, batch.updated) == ("deviations", 3, 1, 1)
    assert len(batch.sha256) == 64 and batch.file_name == "file.csv"


def test_identical_duplicate_rows_count_once(conn, imp):
    content = lines(DEV_HEADER + ";Beskrivning", DEV_OK + ";första", DEV_OK + ";andra")
    result = imp("deviations", content)  # they differ in free text only, which is dropped
    assert (result.rows, result.inserted) == (1, 1)


def test_every_problem_is_listed_at_once_and_nothing_is_stored(conn, imp):
    content = dev(
        DEV_OK,
        DEV_OK.replace("D1;E1", "D2;E9"),
        DEV_OK.replace("D1;", "D3;").replace("2025-01-05", "2025-13-05"),
        DEV_OK.replace("D1;", "D4;").replace(";Fall;", ";Fallolycka;"),
        "D5;E1;2025-01-03",
        DEV_OK.replace("D1;", "D6;").replace(";nej;nej;", ";nej;kanske;"),
    )
    problems = refusal(imp, "deviations", content).problems
    assert [(p.line, p.column, p.value) for p in problems] == [
        (3, "Enhet HSA-id", "E9"),
        (4, "Rapporteringsdatum", "2025-13-05"),
        (5, "Händelsetyp", "Fallolycka"),
        (6, None, None),
        (7, "Vårdkedja", "kanske"),
    ]
    assert rows_in(conn, Deviation) == 0
    assert rows_in(conn, ImportBatch) == 1  # only the organisation


def test_a_refused_file_leaves_the_callers_transaction_as_it_was(conn, imp):
    refusal(imp, "deviations", dev(DEV_OK, DEV_OK.replace("D1;E1", "D2;E9")))
    assert rows_in(conn, OrgUnit) == 5  # imported before, in the same transaction
    assert imp("deviations", dev(DEV_OK)).inserted == 1


def test_personnummer_is_masked_wherever_it_shows(imp):
    content = lines(
        DEV_HEADER + ";Beskrivning",
        DEV_OK + ";pat 19121212-1212 föll",
        DEV_OK.replace("D1;E1", "D2;8112189876"),  # also an unknown unit
    )
    error = refusal(imp, "deviations", content)
    message = str(error)
    assert "19121212-****" in message and "811218-****" in message
    digits = "".join(ch for ch in message if ch.isdigit() or ch == "\n")
    assert "191212121212" not in digits and "8112189876" not in digits
    assert {(p.line, p.column) for p in error.problems if "personnummer" in p.reason} == {
        (2, "Beskrivning"),
        (3, "Enhet HSA-id"),
    }


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("19121212-1212", ["19121212-****"]),
        ("121212-1212", ["121212-****"]),
        ("1212121212", ["121212-****"]),
        ("121212+1212", ["121212+****"]),  # over 100 years old
        ("pat 811218-9876, 701063-2391", ["811218-****", "701063-****"]),  # samordningsnummer
        ("19121212-1213", []),  # wrong check digit
        ("121312-1212", []),  # no 13th month
        ("SE2321000016-E0001", []),  # HSA-id: "month" 21
        ("2025-01-03", []),
        ("11912121212120", []),  # part of a longer number
        ("AVV-2024-000001", []),
        # issue 15: the same numbers written in other ways
        ("471124\u20138809", ["471124-****"]),  # en dash
        ("471124\u22128809", ["471124-****"]),  # minus sign
        ("471124\u20118809", ["471124-****"]),  # non-breaking hyphen
        ("910805\u00a05626", ["910805 ****"]),  # no-break space
        ("910805\u202f5626", ["910805 ****"]),  # narrow no-break space
        ("850317 - 2341", ["850317 - ****"]),  # spaced dash
        ("850317 \u2013 2341", ["850317 - ****"]),
        ("\uff14\uff17\uff11\uff11\uff12\uff14\uff0d\uff18\uff18\uff10\uff19", ["471124-****"]),
        ("\u0664\u0667\u0661\u0661\u0662\u0664-\u0668\u0668\u0660\u0669", ["471124-****"]),
        ("1966-12-31-7740", ["1966-12-31-****"]),  # written as a date
        ("66-12-31-7740", ["66-12-31-****"]),
        ("850317\u00ad2341", ["850317-****"]),  # soft hyphen
        ("47\u200b1124-8809", ["471124-****"]),  # zero-width space
        ("\ufeff471124-8809", ["471124-****"]),  # a byte-order mark
        # not personnummer: dates, times, HSA-ids, counts, phone numbers, long numbers
        ("1966-12-31-7741", []),  # wrong check digit
        ("2025-01-03 14:30", []),
        ("2025-01-03T08:15:00+01:00", []),
        ("SE2321000016-E0001", []),
        ("1 234 567", []),
        ("12345678901234567890123", []),
        ("070-123 45 67", []),
        ("08-123 456 78", []),
        ("+46 70 123 45 67", []),
        ("0701234568", []),  # the shape of one, but not Luhn-valid
        ("E1-2026-001", []),
        ("Läkemedel \u2013 2025", []),
    ],
)
def test_personnummer_detection(text, found):
    assert pnr.find_in([text]).get(text, []) == found
    masked = pnr.mask(text)
    assert all(m in masked for m in found)
    assert (masked == text) == (not found)


def test_every_dash_space_and_invisible_character_of_unicode_is_normalised():
    import sys
    import unicodedata

    chars = [chr(c) for c in range(sys.maxunicode + 1)]
    dashes = [c for c in chars if unicodedata.category(c) == "Pd"] + ["\u2212"]
    spaces = [c for c in chars if c.isspace()]
    invisible = [c for c in chars if unicodedata.category(c) == "Cf"]
    assert [c for c in dashes if pnr.normalised(f"a{c}b") != "a-b"] == []
    # a line break stays one (never a thousands separator), every other space is a space
    breaks = {c for c in spaces if len(f"a{c}b".splitlines()) == 2}
    assert breaks == set("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
    expected = {c: "a\nb" if c in breaks else "a b" for c in spaces}
    assert [c for c in spaces if pnr.normalised(f"a{c}b") != expected[c]] == []
    assert pnr.normalised("a \r\n  b\t\u2028 c  d") == "a\nb\nc d"
    assert [c for c in invisible if pnr.normalised(f"a{c}b") != "ab"] == []


def test_the_scan_finds_a_number_among_many_values_of_any_script():
    values = ["Fall", "Läkemedel", "Enhet \u00e5tta", "pat 471124\u20138809", "E1", "x\u0000y"]
    assert pnr.find_in(values) == {"pat 471124\u20138809": ["471124-****"]}
    assert pnr.find_in(values[:-1]) == {"pat 471124\u20138809": ["471124-****"]}


def test_a_file_of_one_long_line_is_refused_in_bounded_memory(tmp_path):
    """40 MB without a line break: refused after its first MB or so is looked at, with no more
    than a few blocks of text held at once (the whole line was held, and copied as it grew)."""
    path = tmp_path / "avvikelser.csv"
    path.write_bytes(b"x" * (40 << 20))
    tracemalloc.start()
    try:
        read = list(sheets(path, survey(path, path.name), path.name))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [p.text() for s in read for p in s.problems] == [f"avvikelser.csv, line 1: {LONG_LINE}"]
    assert peak < 4 * BLOCK


def test_lines_up_to_a_megabyte_are_read():
    """Lines of exactly :data:`LONGEST_LINE` characters, ended by every kind of line break,
    at every place in a block."""
    for at in (0, 1, LONGEST_LINE // 2 - 1, LONGEST_LINE // 2):
        for brk in ("\n", "\r\n", "\r"):
            text = "a" * at + brk + brk.join(["x" * LONGEST_LINE] * 3) + brk
            assert "".join(_pieces([text[:5], text[5:]])) == text
            longer = "a" * at + brk + "x" * (LONGEST_LINE + 1) + brk
            with pytest.raises(_LongLine) as raised:
                list(_pieces([longer]))
            assert raised.value.line == 2


def test_two_exports_joined_with_cat_count_each_deviation_once(conn, imp, tmp_path):
    """The second export starts with its byte-order mark, now in the middle of the file: the
    id after it is the id a person sees, not a new one."""
    first = lines(DEV_HEADER, DEV_OK, encoding="utf-8-sig")
    second = lines(DEV_OK, D2, encoding="utf-8-sig")
    result = imp("deviations", first + second)
    assert counts(result) == (2, 2, 0, 0)
    assert conn.execute(
        select(Deviation.source_id).order_by(Deviation.source_id)
    ).scalars().all() == [
        "D1",
        "D2",
    ]
    # zero-width spaces and word joiners are left out too; the same in a workbook
    assert counts(imp("deviations", dev("\u200bD1\u2060" + DEV_OK[2:], D2))) == (2, 0, 0, 2)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(DEV_HEADER.split(";"))
    sheet.append(["\ufeffD2", *D2.split(";")[1:]])
    book.save(tmp_path / "joined.xlsx")
    again = imp("deviations", (tmp_path / "joined.xlsx").read_bytes(), name="joined.xlsx")
    assert counts(again) == (1, 0, 0, 1)


def test_unknown_unit_suggests_close_ids_and_names(imp):
    content = dev(DEV_OK.replace(";E1;", ";E11;"), DEV_OK.replace("D1;E1", "D2;Enhet två"))
    reasons = [p.reason for p in refusal(imp, "deviations", content).problems]
    assert reasons[0] == "unknown unit: not in the organisation (did you mean 'E1'?)"
    assert reasons[1].startswith(
        "unknown unit: not in the organisation (did you mean 'E2' (Enhet två)"
    )


def test_value_parsers():
    assert [boolean(v) for v in ("ja", "JA", "yes", "1", "x", "X")] == [True] * 6
    assert [boolean(v) for v in ("nej", "No", "0")] == [False] * 3
    with pytest.raises(ValueError, match="not a yes/no value"):
        boolean("kanske")
    assert [number(v) for v in ("12", "12,5", "12.5", "-0,25", "1 234,5")] == [
        12.0,
        12.5,
        12.5,
        -0.25,
        1234.5,
    ]
    for bad in ("1,234.5", "12,", "", "ett"):
        with pytest.raises(ValueError, match="not a number"):
            number(bad)
    parse = iso_date(date(2026, 11, 23))
    assert parse("2025-03-01T23:59:59+01:00") == parse("2025-03-01") == date(2025, 3, 1)
    assert parse("2025-03-01 24:00") == parse("2025-03-01T07:05+14:00") == date(2025, 3, 1)
    for bad, reason in [
        ("2025-03-02T25:61", "no such time of day"),
        ("2025-03-02T23:60", "no such time of day"),
        ("2025-03-02 12:00:61", "no such time of day"),
        ("2025-03-02T12:00+15:00", "no such time of day"),
        ("20250301", "not a date"),
        ("2025-03-01 kväll", "not a date"),
        ("2024-02-30", "no such date"),
        ("1989-12-31", "out of range"),
        ("2026-11-24", "in the future"),
    ]:
        with pytest.raises(ValueError, match=reason):
            parse(bad)
    grade = scale({1: "Mindre", 2: "Måttlig"}, "consequence")
    assert (grade("2"), grade("måttlig"), grade("MATTLIG")) == (2, 2, 2)
    assert normalise(" Överordnad HSA-id ") == normalise("overordnad_hsa id") == "overordnadhsaid"


def test_suggestions_stop_after_a_few_distinct_values():
    suggest = Suggester({"fall": "'Fall'"})
    answers = [suggest("fal") for _ in range(SUGGESTIONS_PER_COLUMN + 5)]
    assert answers[0] == " (did you mean 'Fall'?)"
    assert answers.count(answers[0]) == SUGGESTIONS_PER_COLUMN
    assert set(answers[SUGGESTIONS_PER_COLUMN:]) == {""}


@pytest.mark.parametrize(
    ("aliases", "reason"),
    [
        ({"summary": ("Sammanfattning",)}, "deviations.summary: no such column of deviations"),
        ({"category": ("Status",)}, "deviations.category: 'Status' already names column 'status'"),
    ],
)
def test_aliases_must_name_one_column_each(aliases, reason):
    with pytest.raises(ConfigError, match=f"columns.yaml: {reason}"):
        match_header(BY_NAME["deviations"], ["a"], "f.csv", aliases)


def test_organisation_file_order_does_not_matter_and_partial_files_extend_it(conn, config, imp):
    result = imp("organisation", lines(ORG_HEADER, "E3;Enhet tre;enhet;V2", "V2;Ny;verksamhet;A1"))
    assert (result.inserted, result.updated) == (2, 0)
    renamed = imp("organisation", lines(ORG_HEADER, "E2;Enhet 2 (ny);Unit;V1"))
    assert (renamed.inserted, renamed.updated, renamed.unchanged) == (0, 1, 0)
    units = {u.id: u for u in conn.execute(select(OrgUnit.__table__))}
    assert (units["E3"].parent_id, units["E3"].level) == ("V2", OrgLevel.UNIT)
    assert units["E2"].name == "Enhet 2 (ny)"
    # a new export of the whole tree, nothing changed: the units keep their batches
    again = import_file(conn, config, "organisation", ORGANISATION, now=NOW)
    assert again.already_imported


def test_xlsx_input_is_read_from_the_first_sheet(conn, config, org, tmp_path):
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(DEV_HEADER.split(";"))
    sheet.append([*DEV_OK.split(";")[:-1], None])
    sheet.append(["D2", "E1", date(2025, 1, 3), date(2025, 1, 5), "Fall", 1, 2.0, None, "x", "Ny"])
    path = tmp_path / "deviations.xlsx"
    book.save(path)
    assert import_file(conn, config, "deviations", path, now=NOW).inserted == 2


def test_complaints_import(conn, imp):
    result = imp("complaints", lines(COMPLAINT_HEADER, COMPLAINT_OK))
    assert result.inserted == 1 == rows_in(conn, Complaint)
    stored = conn.execute(select(Complaint.__table__)).one()
    assert (stored.channel, stored.category, stored.status.value) == (
        "1177",
        "Kommunikation",
        "answered",
    )


def test_the_compile_fixtures_import(conn, config):
    data = FIXTURES / "compile"
    kinds = ("organisation", "deviations", "complaints")
    results = [import_file(conn, config, k, data / f"{k}.csv", now=NOW) for k in kinds]
    assert [r.inserted for r in results] == [8, 11, 5]


def test_kinds_and_usage_errors(conn, config, tmp_path):
    assert KINDS == (
        "organisation",
        "deviations",
        "complaints",
        "waiting",
        "production",
        "capacity",
        "training",
        "actions",
    )
    with pytest.raises(UsageError, match="'waiting-list' is not one of organisation"):
        import_file(conn, config, "waiting-list", ORGANISATION, now=NOW)
    with pytest.raises(UsageError, match="no such file"):
        import_file(conn, config, "deviations", tmp_path / "missing.csv", now=NOW)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_file_is_refused_with_a_precise_problem_and_stores_nothing(
    conn, config, findings, case
):
    tables = (ImportBatch, OrgUnit, Deviation, Complaint, *STORED_BY_NEW_KINDS)
    before = [rows_in(conn, t) for t in tables]
    with pytest.raises(InputError) as raised:
        import_file(conn, config, case.kind, BAD / case.name, now=NOW)
    located = [(p.line, p.column) for p in raised.value.problems if case.reason in p.reason]
    assert (case.line, case.column) in located, str(raised.value)
    assert [rows_in(conn, t) for t in tables] == before


def test_the_committed_corpus_matches_its_definition():
    assert len(CASES) >= 20
    assert sorted(p.name for p in BAD.iterdir()) == sorted(c.name for c in CASES)
    for case in CASES:
        assert (BAD / case.name).read_bytes() == case.content, case.name


# --- waiting lists, production, capacity, training, actions ----------------------------------


def stored(conn, model, *order):
    return conn.execute(select(model.__table__).order_by(*order)).all()


def counts(result) -> tuple[int, int, int, int]:
    return (result.rows, result.inserted, result.updated, result.unchanged)


def test_new_value_parsers():
    this_month = month(date(2026, 11, 23))
    assert this_month("2026-11") == this_month("2026-11-23T08:00") == date(2026, 11, 1)
    assert this_month("1990-1") == date(1990, 1, 1)
    for bad, reason in [
        ("2026-12", "in the future"),
        ("2026-11-24", "in the future"),
        ("2026-00", "no such month"),
        ("1989-12", "out of range"),
        ("2026-02-30", "no such date"),
        ("november 2026", "not a month as YYYY-MM"),
    ]:
        with pytest.raises(ValueError, match=reason):
            this_month(bad)
    assert [count(v) for v in ("0", "12", "+3", "1 234", "1\xa0234", "12,0")] == [
        0,
        12,
        3,
        1234,
        1234,
        12,
    ]
    for bad, reason in [("-1", "below zero"), ("1,5", "not a whole number"), ("tolv", "like 0")]:
        with pytest.raises(ValueError, match=reason):
            count(bad)
    assert [amount(v) for v in ("0", "18,5", "2\xa0345\xa0678.50")] == [0.0, 18.5, 2345678.5]
    with pytest.raises(ValueError, match="below zero"):
        amount("-0,5")
    assert count("0000000000012") == 12
    for bad in ("12345678901234567890123", "2147483648", "9" * 100_000):
        with pytest.raises(ValueError, match="too large: at most 2 147 483 647"):
            count(bad)
    assert count("2147483647") == 2**31 - 1
    for bad in ("9" * 400, "1e16", "2 000 000 000 000 000"):
        with pytest.raises(ValueError, match="too large|not a number"):
            amount(bad)
    plans = iso_date(date(2026, 11, 23), years_ahead=10)
    assert plans("2036-12-31") == date(2036, 12, 31)
    with pytest.raises(ValueError, match="after 2036-12-31: out of range"):
        plans("2037-01-01")


def test_waiting_snapshot_in_windows_1252_with_semicolons(conn, imp):
    other = "2026-10-31;E1;Operation;120;ja;3"
    content = lines(
        WAIT_HEADER,
        WAIT_OK,
        other,
        "2026-10-31;E2;ÅTGÄRD;7;;1 204",
        WAIT_OK,  # an identical repeated row counts once
        encoding="cp1252",
        newline="\r\n",
    )
    assert counts(imp("waiting", content)) == (3, 3, 0, 0)
    rows = stored(conn, WaitingSnapshot, WaitingSnapshot.unit_id, WaitingSnapshot.wait_days)
    assert [(r.unit_id, r.activity, r.wait_days, r.patient_chosen, r.count) for r in rows] == [
        ("E1", "besök", 45, False, 12),
        ("E1", "operation", 120, True, 3),
        ("E2", "åtgärd", 7, False, 1204),
    ]
    assert {r.snapshot_date for r in rows} == {date(2026, 10, 31)}
    assert imp("waiting", content).already_imported
    # a corrected export of the snapshot: one count changed, a new key added
    later = lines(WAIT_HEADER, WAIT_OK.replace(";12", ";10"), other, "2026-10-31;E2;besök;0;x;")
    assert counts(imp("waiting", later)) == (3, 1, 1, 1)
    by_days = {r.wait_days: r for r in stored(conn, WaitingSnapshot, WaitingSnapshot.id)}
    assert (by_days[45].count, by_days[0].count, by_days[0].patient_chosen) == (10, 1, True)
    assert rows_in(conn, WaitingSnapshot) == 4


def test_a_waiting_list_without_counts_lists_patients_and_adds_them_up(conn, imp):
    header = "Mätdatum;HSA-id;Vårdåtgärd;Väntetid (dagar);Remiss-ID"
    content = lines(
        header,
        "2026-10-31;E1;besök;45;R-1",
        "2026-10-31;E1;besök;45;R-2",
        "2026-10-31;E1;besök;45;R-3",
        "2026-10-31;E1;besök;46;R-4",
    )
    result = imp("waiting", content)
    assert counts(result) == (2, 2, 0, 0) and result.ignored_columns == ("Remiss-ID",)
    rows = stored(conn, WaitingSnapshot, WaitingSnapshot.wait_days)
    assert [(r.wait_days, r.count, r.patient_chosen) for r in rows] == [
        (45, 3, False),
        (46, 1, False),
    ]


def test_production_months_and_decimals(conn, imp):
    content = lines(
        PROD_HEADER,
        PROD_OK,
        "2026-09-01;E1;DRG-poang;95,5;101.25;",
        "2026-09;E2;vårddagar;1\xa0200;;",
    )
    assert counts(imp("production", content)) == (3, 3, 0, 0)
    rows = stored(conn, Production, Production.month, Production.unit_id)
    assert [(r.month, r.unit_id, r.measure, r.planned, r.actual, r.cost_sek) for r in rows] == [
        (date(2026, 9, 1), "E1", "DRG-poäng", 95.5, 101.25, None),
        (date(2026, 9, 1), "E2", "vårddagar", 1200.0, None, None),
        (date(2026, 10, 1), "E1", "besök", 1200.0, 1134.0, 2345678.5),
    ]
    assert imp("production", content).already_imported
    # the month's final figures: the same month, unit and measure is updated
    later = lines(PROD_HEADER, PROD_OK.replace("1 134", "1 180"), "2026-09;E2;vårddagar;1200;;")
    assert counts(imp("production", later)) == (2, 0, 1, 1)
    assert rows_in(conn, Production) == 3
    actual = select(Production.actual).where(Production.month == date(2026, 10, 1))
    assert conn.execute(actual).scalar_one() == 1180.0


def test_capacity_by_unit_and_month(conn, imp):
    content = lines(CAP_HEADER, CAP_OK, "2026-09;E1;18;540;;", encoding="cp1252")
    assert counts(imp("capacity", content)) == (2, 2, 0, 0)
    rows = stored(conn, Capacity, Capacity.month)
    assert [
        (r.month, r.beds, r.patient_days, r.overcrowding_days, r.outlying_days) for r in rows
    ] == [(date(2026, 9, 1), 18.0, 540, None, None), (date(2026, 10, 1), 18.5, 560, 14, 3)]
    later = lines(CAP_HEADER, "2026-09-30;E1;18;540;2;0")
    assert counts(imp("capacity", later)) == (1, 0, 1, 0)
    assert rows_in(conn, Capacity) == 2


def test_training_roster_keeps_people_who_have_not_completed(conn, imp):
    content = lines(
        TRAIN_HEADER,
        TRAIN_OK,
        "P-7f3a9c;E1;chef;produktionsplanering;",
        "P-22b1;E2;Medarbetare;Patientsakerhet;",
    )
    assert counts(imp("training", content)) == (3, 3, 0, 0)
    rows = stored(conn, Training, Training.person_key, Training.course)
    assert [(r.person_key, r.unit_id, r.role, r.course, r.completed_date) for r in rows] == [
        ("P-22b1", "E2", "medarbetare", "patientsäkerhet", None),
        ("P-7f3a9c", "E1", "chef", "patientsäkerhet", date(2026, 3, 14)),
        ("P-7f3a9c", "E1", "chef", "produktionsplanering", None),
    ]
    later = lines(TRAIN_HEADER, TRAIN_OK, "P-7f3a9c;E1;chef;produktionsplanering;2026-11-20")
    assert counts(imp("training", later)) == (2, 0, 1, 1)
    done = select(Training.completed_date).where(Training.course == "produktionsplanering")
    assert conn.execute(done).scalar_one() == date(2026, 11, 20)


def test_a_personnummer_as_pseudonym_is_refused_and_masked(conn, imp):
    error = refusal(
        imp, "training", lines(TRAIN_HEADER, TRAIN_OK.replace("P-7f3a9c", "121212-1212"))
    )
    assert [(p.line, p.column, p.value) for p in error.problems] == [
        (2, "Pseudonym", "121212-****")
    ]
    assert "1212121212" not in "".join(ch for ch in str(error) if ch.isdigit())
    assert rows_in(conn, Training) == 0


def action_workbook(path: Path, rows: list[list[object]]) -> Path:
    """An action worksheet as the worksheet writer makes it: the sheet first, drop-down lists
    validated against a second sheet."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Handlingsplan"
    sheet.append(ACTION_HEADER.split(";"))
    for row in rows:
        sheet.append(row)
    lists = book.create_sheet("Listor")
    for i, role in enumerate(["Enhetschef", "Verksamhetschef"], start=1):
        lists.cell(row=i, column=1, value=role)
    owner = DataValidation(type="list", formula1="=Listor!$A$1:$A$2", allow_blank=True)
    status = DataValidation(type="list", formula1='"Planerad,Pågår,Klar,Struken"')
    due = DataValidation(type="date", operator="greaterThan", formula1="DATE(2026,1,1)")
    for validation, cells in [(owner, "F2:F50"), (status, "H2:H50"), (due, "G2:G50")]:
        sheet.add_data_validation(validation)
        validation.add(cells)
    book.save(path)
    return path


def test_action_worksheet_as_xlsx_skips_rows_not_filled_in(conn, config, findings, tmp_path):
    path = action_workbook(
        tmp_path / "atgarder_E1.xlsx",
        [
            ["E1-2026-001", "E1", FINDING_E1, "Fler fall än 2024", "Fallriskbedömning",
             "Enhetschef", date(2027, 3, 15), "Planerad", None],
            ["E1-2026-002", "E1", None, None, "Utbilda i avvikelserapportering",
             "Verksamhetschef", datetime(2026, 12, 31, 0, 0), "Pågår", "Ej bedömd"],
            ["E1-2026-003", "E1", FINDING_E1, "Fler fall än 2024", None, None, None,
             "Planerad", None],
        ],
    )  # fmt: skip
    result = import_file(conn, config, "actions", path, now=NOW)
    assert counts(result) == (2, 2, 0, 0)
    assert (result.skipped, result.ignored_columns) == (1, ("Fynd",))
    rows = stored(conn, Action, Action.action_id)
    assert [
        (r.action_id, r.finding_id, r.owner_role, r.due_date, r.status, r.effect) for r in rows
    ] == [
        ("E1-2026-001", FINDING_E1, "Enhetschef", date(2027, 3, 15), ActionStatus.PLANNED, None),
        ("E1-2026-002", None, "Verksamhetschef", date(2026, 12, 31), ActionStatus.IN_PROGRESS,
         "Ej bedömd"),
    ]  # fmt: skip
    assert import_file(conn, config, "actions", path, now=NOW).already_imported
    # the follow-up: the same worksheet, now as CSV, one action carried out and judged
    followed_up = ACTION_OK.replace(";Planerad;", ";Klar;God effekt")
    again = import_file(
        conn, config, "actions", write(tmp_path, "a.csv", lines(ACTION_HEADER, followed_up)),
        now=NOW,
    )  # fmt: skip
    assert counts(again) == (1, 0, 1, 0) and again.skipped == 0
    first = conn.execute(select(Action.__table__).where(Action.action_id == "E1-2026-001")).one()
    assert (first.status, first.effect, first.title) == (
        ActionStatus.DONE,
        "God effekt",
        "Fallriskbedömning vid inskrivning",
    )


def test_a_worksheet_with_no_action_filled_in_stores_nothing(conn, imp, findings):
    content = lines(ACTION_HEADER, "E1-2026-001;E1;;;;;;Planerad;", "E1-2026-002;E1;;;;;;;")
    result = imp("actions", content)
    assert (result.rows, result.inserted, result.skipped) == (0, 0, 2)
    assert rows_in(conn, Action) == 0


def test_an_action_id_stays_with_its_unit(conn, imp, findings):
    imp("actions", lines(ACTION_HEADER, ACTION_OK))
    taken_over = ACTION_OK.replace(";E1;", ";E2;").replace(FINDING_E1, "")
    problems = refusal(imp, "actions", lines(ACTION_HEADER, taken_over)).problems
    assert [(p.line, p.column, p.value) for p in problems] == [(2, "Åtgärds-ID", "E1-2026-001")]
    assert problems[0].reason.startswith("redan id för en åtgärd i 'E1' (Enhet ett)")


def test_a_unit_the_checks_let_through_is_caught_before_it_is_stored(conn, imp, monkeypatch):
    """The imported tables have no foreign keys: one query per file stands in for them. Here
    the checks see a unit E9 the database does not have (a defect): nothing is stored."""
    from arshjul.importers import importer
    from arshjul.org import OrgTree, Unit

    real = OrgTree.load

    def with_a_ghost(connection):
        units = [*real(connection).units.values(), Unit("E9", "Spöke", OrgLevel.UNIT, "V1")]
        return OrgTree(units)

    monkeypatch.setattr(importer.OrgTree, "load", with_a_ghost)
    with pytest.raises(RuntimeError, match="deviations: unit 'E9' was staged but is no unit"):
        imp("deviations", dev(DEV_OK, D2.replace(";E2;", ";E9;")))
    assert rows_in(conn, Deviation) == 0


def test_the_worksheets_mistakes_are_told_in_swedish_with_the_allowed_values(imp, findings, config):
    wrong = ACTION_OK.replace(";Planerad;", ";Startad;Stor effekt").replace("2027-03-15", "15/3")
    problems = refusal(imp, "actions", lines(ACTION_HEADER, wrong)).problems
    reasons = {p.column: p.reason for p in problems}
    assert reasons["Klart senast"] == "inte ett datum (ÅÅÅÅ-MM-DD)"
    assert reasons["Status"] == "inte ett tillåtet värde för Status; tillåtna: " + (
        "Planerad, Pågår, Klar, Struken, Ingen åtgärd"
    )
    effects = ", ".join(config.codes.action_effects)
    assert reasons["Effekt"] == f"inte ett tillåtet värde för Effekt; tillåtna: {effects}"


def test_every_message_about_a_worksheet_is_in_swedish(imp, findings):
    """The importer's own reasons too, and where: rad, kolumn, värde."""
    e9 = ACTION_OK.replace(";E1;", ";E9;").replace("Fallriskbedömning", "Ring 070-123 45 67")
    refused = refusal(imp, "actions", lines(ACTION_HEADER, e9))
    assert str(refused).splitlines() == [
        "2 fel i file.csv; inget sparades",
        "  file.csv, rad 2, kolumn 'Enhet HSA-id', värde 'E9': okänd enhet: finns inte i"
        " organisationen",
        "  file.csv, rad 2, kolumn 'Åtgärd', värde 'Ring 070*** vid inskrivning':"
        " innehåller ett telefonnummer:"
        " texten publiceras i handlingsplanen; skriv en roll (Enhetschef) i stället för en"
        " persons kontaktuppgifter",
    ]
    no_owner = "Åtgärds-ID;Enhet HSA-id;Åtgärd;Status"
    [missing] = refusal(imp, "actions", lines(no_owner, "E1-2026-001;E1;Åtgärd;Klar")).problems
    assert missing.reason == (
        "en kolumn saknas: rubriken ska vara någon av owner_role, Ansvarig, Ansvarig roll"
    )
    # another kind's file is told in English, as before
    assert "problem(s) in" in str(refusal(imp, "deviations", lines("Avvikelse-ID", "D1")))
