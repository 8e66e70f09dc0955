"""The attacker of issue 15.8: what a reader of the *published files* can work out of a count
the documents hide.

It reads every published document under an output folder (the patientsäkerhetsberättelse and
the deferred-care sections, their HTML; :func:`formats_agree` checks that the DOCX, CSV, XLSX
and PDF carry the same cells), and writes down what a reader knows, with its own names for the
counts, so that the same count printed in two tables or two documents is one unknown:

* each cell: a number, ``<5`` (1..4), ``..`` (as the document's rule says: any count ≥ 0, or
  under the older rule 0 or ≥ 5), ``–``/``saknas`` (no count);
* the sums a reader can write down: foot rows and ``Totalt`` columns, total = PvV + utan PvV,
  utan PvV = ≤ 90 + > 90, > 180 ≤ > 90, the units below against the unit, the områden
  against the region, the trained against the managers, the answers of the complaints, a
  change as the difference of two counts (also the drivers named in the summary);
* a rounded percentage as bounds: ``97,3 %`` of a known 149 is 144,9..145,1 of it;
* totals in sentences (``523 klagomål``, ``63 av 95``), and the same count in other tables
  and documents of the same date (region against område, safety report against deferred
  care, a month's row against the same month's period end in another period's document);
* the managers' training across periods: a unit's managers are the same count in every
  period's section (the roster's managers), and its trained by a later period's end are at
  least those by an earlier one's (:func:`_trained_in_order`).

Then every unknown's interval of integers is narrowed along all of it until nothing moves
(interval propagation). A ``<5`` is *recovered* when its interval is narrower than 1..4.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from pathlib import Path

from arshjul.formats.tables import Cell, Table, parse_html, read_tables, text_of

#: the published documents (SPEC §5); signed copies (-v1) are the same document
PUBLIC = ("patientsakerhetsberattelse", "uppskjuten-vard")
SIGNED_COPY = re.compile(r"-v\d+$")
SMALL, HIDDEN = "<5", ".."
MONTHS = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")
INF = math.inf

Key = tuple[str, ...]
Term = tuple[int, Key]  # coefficient, unknown


@dataclass
class Knowledge:
    """Every count a reader has met, and what holds between them."""

    #: how each count was printed: a number, SMALL or HIDDEN; where (for the report)
    printed: dict[Key, list[tuple[str, str]]] = field(default_factory=dict)
    #: sum(coef * count) + constant == 0
    equations: list[tuple[list[Term], Fraction]] = field(default_factory=list)
    #: a <= b
    orders: list[tuple[Key, Key]] = field(default_factory=list)
    #: lo <= part / whole <= hi
    ratios: list[tuple[Key, Key, Fraction, Fraction]] = field(default_factory=list)
    #: the rule the documents state: "..": any count (True) or 0 or >= 5 (False)
    hidden_any: bool = True

    def cell(self, key: Key, text: str, where: str) -> Key | None:
        """A count as printed; None when it is no count (``–``, ``saknas``, empty)."""
        text = text.strip().rstrip("*").strip()
        if text in (SMALL, HIDDEN) or _integer(text) is not None:
            self.printed.setdefault(key, []).append((text, where))
            return key
        return None

    def sum(self, total: Key | None, parts: Iterable[Key | None]) -> None:
        parts = list(parts)
        if total is not None and parts and None not in parts:
            self.equations.append(([(1, total), *((-1, p) for p in parts if p)], Fraction(0)))

    def covers(self, total: Key | None, parts: Iterable[Key | None]) -> None:
        """``total`` = the parts and perhaps more (the unit's own rows, units without data):
        the units below against the unit."""
        parts = [p for p in parts if p is not None]
        if total is not None and parts:
            self.sum(total, [*parts, ("rest", *total, str(len(self.equations)))])

    def diff(self, a: Key | None, b: Key | None, d: int | None) -> None:
        """a - b = d"""
        if a is not None and b is not None and d is not None:
            self.equations.append(([(1, a), (-1, b)], Fraction(-d)))

    def le(self, a: Key | None, b: Key | None) -> None:
        if a is not None and b is not None:
            self.orders.append((a, b))

    def ratio(self, part: Key | None, whole: Key | None, text: str) -> None:
        """``text`` (``97,3 %``) is part / whole rounded to its decimals."""
        m = re.fullmatch(r"([\d\s\u00a0]+)(?:,(\d+))?\s?%", text.strip())
        if part is None or whole is None or m is None:
            return
        decimals = len(m.group(2) or "")
        value = Fraction(int(re.sub(r"\D", "", m.group(1) + (m.group(2) or ""))), 10**decimals)
        half = Fraction(1, 2 * 10**decimals)
        self.ratios.append((part, whole, (value - half) / 100, (value + half) / 100))


def _integer(text: str) -> int | None:
    t = text.replace("\u00a0", " ").replace("−", "-").strip()
    if re.fullmatch(r"[-+]?\d{1,3}( \d{3})+|[-+]?\d+", t):
        return int(t.replace(" ", "").replace("+", ""))
    return None


# --- reading the documents ---------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    path: Path
    unit: str  # the unit's name
    end: date  # the period's (the year's) last day
    tables: list[Table]
    items: list[str]  # list items and paragraphs, as read
    rule: str


def read_doc(path: Path) -> Doc:
    root = parse_html(path.read_text("utf-8"))
    texts = [text_of(el) for el in root.iter("p", "li", "td")]
    unit = text_of(next(root.iter("p"), root))
    for el in root.iter("p"):
        if "path" in (el.get("class") or "").split():
            unit = text_of(el).split(" · ")[0]
    unit = re.sub(r" \((enhet|verksamhet|område|region)\)$", "", unit)
    if path.name.startswith("uppskjuten-vard"):
        span = next(m for t in texts if (m := re.search(r"\d{4}-\d\d-\d\d–(\d{4}-\d\d-\d\d)", t)))
        end = date.fromisoformat(span.group(1))
    else:
        year = re.search(r"\d{4}", text_of(next(root.iter("h1"))))
        assert year is not None, path
        end = date(int(year.group()), 12, 31)
    rule = " ".join(text_of(el) for el in root.iter("p") if "rule" in (el.get("class") or ""))
    items = [text_of(el) for el in root.iter("p", "li")]
    return Doc(path, unit, end, read_tables(root), items, rule)


def public_documents(out: Path) -> Iterator[Path]:
    for page in sorted(out.rglob("*.html")):
        if page.name.startswith(PUBLIC) and not SIGNED_COPY.search(page.stem):
            yield page


def _year_back(d: date) -> str:
    return f"{d.year - 1}-{d.month:02}"


def _month(d: date) -> str:
    return f"{d.year}-{d.month:02}"


def _managers(unit: str) -> Key:
    """A unit's managers: the managers on the training roster (roll chef), whatever the
    period: every section and the safety report of a run count the same roster."""
    return ("train", "roster", unit, "managers")


def _trained_in_order(k: Knowledge) -> None:
    """The trained of a unit and course by a later period's end are those by an earlier
    one's and perhaps more (a section counts those who completed the course by its last
    day): every period's sections read together."""
    by_course: dict[tuple[str, str], list[Key]] = {}
    for key in {*k.printed, *(part for part, *_ in k.ratios)}:
        if key[0] == "train" and key[1] != "roster":
            by_course.setdefault((key[2], key[3]), []).append(key)
    for keys in by_course.values():
        keys.sort(key=lambda key: key[1])
        for earlier, later in zip(keys, keys[1:], strict=False):
            k.le(earlier, later)


def _head(table: Table) -> list[str]:
    return [c.text for c in table.head[-1]] if table.head else []


def _rows(table: Table) -> Iterator[tuple[str, dict[str, Cell], bool]]:
    """(label, cells by column header, in the foot)"""
    head = _head(table)
    for rows, foot in ((table.body, False), (table.foot, True)):
        for r in rows:
            yield r[0].text, dict(zip(head, r, strict=False)), foot


#: the waiting table's columns: header (without its year) -> the count's name
WAIT_COLUMNS = {
    "Väntande totalt": "total",
    "Varav PvV": "chosen",
    "Väntande utan PvV": "guarantee",
    "> 90 dagar": "over_90",
    "> 180 dagar": "over_180",
}


def _wait(k: Knowledge, month: str, unit: str, row: str, name: str, cell: Cell | None, where: str):
    if cell is None:
        return None
    return k.cell(("wait", month, unit, row, name), cell.text, where)


def _waiting_line(
    k: Knowledge, doc: Doc, unit: str, row: str, cells: dict[str, Cell], where: str
) -> dict[str, Key | None]:
    """One row of the per-activity or per-unit waiting table: its counts and what holds."""
    cur, prev = _month(doc.end), _year_back(doc.end)
    got = {n: _wait(k, cur, unit, row, n, cells.get(h), where) for h, n in WAIT_COLUMNS.items()}
    prev_over = _wait(
        k, prev, unit, row, "over_90", cells.get(f"> 90 dagar {doc.end.year - 1}"), where
    )
    le90 = ("wait", cur, unit, row, "le90")
    if got["guarantee"] and got["over_90"]:
        k.sum(got["guarantee"], [le90, got["over_90"]])
    k.sum(got["total"], [got["chosen"], got["guarantee"]])
    k.le(got["over_180"], got["over_90"])
    if (s := cells.get("Andel ≤ 90 dagar")) is not None:
        k.ratio(le90, got["guarantee"], s.text)
    if (s := cells.get(f"Andel ≤ 90 dagar {doc.end.year - 1}")) is not None:
        k.ratio(("wait", prev, unit, row, "le90"), ("wait", prev, unit, row, "guarantee"), s.text)
        k.sum(
            ("wait", prev, unit, row, "guarantee"),
            [("wait", prev, unit, row, "le90"), ("wait", prev, unit, row, "over_90")],
        )
    change = cells.get("Förändring > 90 dagar")
    k.diff(
        got["over_90"],
        prev_over or ("wait", prev, unit, row, "over_90"),
        _integer(change.text) if change else None,
    )
    return {**got, "prev_over_90": prev_over}


def read_interim(k: Knowledge, doc: Doc) -> None:
    cur = _month(doc.end)
    for t in doc.tables:
        where = f"{doc.path}: {t.title}"
        if t.title.startswith("Väntande per vårdåtgärd"):
            lines = {
                label: _waiting_line(
                    k, doc, doc.unit, "Totalt" if foot else label, cells, f"{where}: {label}"
                )
                for label, cells, foot in _rows(t)
            }
            total = lines.pop("Totalt", None)
            for name in (*WAIT_COLUMNS.values(), "prev_over_90"):
                if total and total[name] and lines:
                    k.sum(total[name], [w[name] for w in lines.values() if w[name]])
        elif t.title.startswith("Väntande per "):  # per område, verksamhet or enhet below
            below = [
                _waiting_line(k, doc, label, "Totalt", cells, f"{where}: {label}")
                for label, cells, _ in _rows(t)
            ]
            for name in ("guarantee", "over_90", "over_180"):
                k.covers(("wait", cur, doc.unit, "Totalt", name), [w[name] for w in below])
        elif "vid månadens slut" in t.title:
            # the month table, and the charts' data (Kategori, Värde) in documents without it
            chart = "guarantee" if t.title.startswith("Väntande utan PvV") else "over_90"
            for label, cells, _ in _rows(t):
                ym = f"{doc.end.year}-{MONTHS.index(label.rstrip('*')) + 1:02}"
                for h, c in cells.items():
                    name = WAIT_COLUMNS.get(h) or (chart if h == "Värde" else None)
                    if name:
                        k.cell(("wait", ym, doc.unit, "Totalt", name), c.text, f"{where}: {label}")
        elif t.title == "Chefer som genomfört utbildning":
            for label, cells, _ in _rows(t):
                managers = k.cell(_managers(doc.unit), cells["Chefer"].text, where)
                trained = k.cell(
                    ("train", cur, doc.unit, label.lower()), cells["Genomfört"].text, where
                )
                k.le(trained, managers)
                k.ratio(trained, managers, cells["Andel"].text)
        elif t.title.startswith("Vårdplatser och chefers utbildning per"):
            managers = []
            trained: dict[str, list[Key]] = {}  # course -> the units' trained
            for label, cells, _ in _rows(t):
                m = k.cell(_managers(label), cells["Chefer"].text, where)
                managers.append(m)
                for h, c in cells.items():
                    if h.startswith("Andel "):
                        n = ("train", cur, label, h[6:].lower())
                        trained.setdefault(h[6:].lower(), []).append(n)
                        k.ratio(n, m, c.text)
            k.covers(_managers(doc.unit), managers)
            # the unit's trained are its units' and perhaps its own (printed in their sections)
            for course, parts in trained.items():
                k.covers(("train", cur, doc.unit, course), parts)
    # the summary: "Väntande mer än 90 dagar: 385 mot 363 samma period 2024 (…). Störst
    # förändring: Enhet A (+59), Enhet B (+5)."
    names = {
        "Väntande (exkl. patientvald väntan)": "guarantee",
        "Väntande mer än 90 dagar": "over_90",
    }
    for item in doc.items:
        m = re.match(r"(.+?): (\S+(?: \d{3})*) mot (\S+(?: \d{3})*) samma period", item)
        if m is None or m.group(1) not in names:
            continue
        name = names[m.group(1)]
        now = k.cell(("wait", cur, doc.unit, "Totalt", name), m.group(2), f"{doc.path}: {item}")
        before = k.cell(
            ("wait", _year_back(doc.end), doc.unit, "Totalt", name),
            m.group(3),
            f"{doc.path}: {item}",
        )
        del now, before
        for unit, d in re.findall(r"(?:förändring: |, )([^,(]+?) \(([-+−]\d[\d ]*)\)", item):
            k.diff(
                ("wait", cur, unit, "Totalt", name),
                ("wait", _year_back(doc.end), unit, "Totalt", name),
                _integer(d),
            )


SAFETY_FIGURES = {
    "Avvikelser": "deviations",
    "Lex Maria": "lex_maria",
    "Vårdkedjan": "care_chain",
    "Klagomål och synpunkter": "complaints",
}


def read_safety(k: Knowledge, doc: Doc) -> None:
    y, region = str(doc.end.year), doc.unit
    cur = _month(doc.end)

    def fig(unit: str, name: str) -> Key:
        return ("fig", y, unit, name)

    for t in doc.tables:
        where = f"{doc.path}: {t.title}"
        rows = list(_rows(t))
        head = _head(t)
        caption = re.sub(r" \d{4}$", "", t.title)
        if caption in ("Avvikelser i vårdkedjan per område", "Lex Maria-anmälningar per område"):
            name = SAFETY_FIGURES[head[1]]
            keys = [
                k.cell(fig(label, name), cells[head[1]].text, where) for label, cells, _ in rows
            ]
            for (label, cells, _), key in zip(rows, keys, strict=True):
                k.ratio(key, fig(label, "deviations"), cells[head[2]].text)
            k.covers(keys[-1], keys[:-1])
        elif caption == "Avvikelser, lex Maria och klagomål per område":
            for h in head[1:]:
                keys = [
                    k.cell(fig(label, SAFETY_FIGURES[h]), cells[h].text, where)
                    for label, cells, _ in rows
                ]
                k.covers(keys[-1], keys[:-1])
            for label, _, _ in rows:
                k.le(fig(label, "lex_maria"), fig(label, "deviations"))
                k.le(fig(label, "care_chain"), fig(label, "deviations"))
        elif head[1:3] == ["Antal", "Andel"]:  # a count table over the region's total
            total = fig(region, "complaints" if caption.startswith("Klagomål") else "deviations")
            parts = []
            for label, cells, foot in rows:
                if foot:
                    k.cell(total, cells["Antal"].text, where)
                    continue
                key = k.cell(("count", y, caption, label), cells["Antal"].text, where)
                parts.append(key)
                k.ratio(key, total, cells["Andel"].text)
            k.sum(total, parts)
        elif caption.startswith("Chefer med utbildning i patientsäkerhet"):
            managers, trained = [], []
            for label, cells, _ in rows:
                m = k.cell(_managers(label), cells["Chefer"].text, where)
                n = k.cell(
                    ("train", cur, label, "patientsäkerhet"), cells["Med utbildning"].text, where
                )
                k.le(n, m)
                k.ratio(n, m, cells["Andel"].text)
                managers.append(m)
                trained.append(n)
            k.covers(managers[0], managers[1:])
            k.covers(trained[0], trained[1:])
        elif caption.startswith(("Handlingsplan", "Öppna åtgärder")):
            for h in head[1:]:
                keys = [
                    k.cell(("actions", y, caption, label, h), cells[h].text, where)
                    for label, cells, _ in rows
                ]
                k.covers(keys[-1], keys[:-1])
            for label, _, _ in rows:
                k.sum(
                    ("actions", y, caption, label, "Totalt"),
                    [("actions", y, caption, label, h) for h in head[1:-1]],
                )
        elif caption == "Enheter som sticker ut per område":
            for h in head[1:]:
                keys = [
                    k.cell(("standouts", y, label, h), cells[h].text, where)
                    for label, cells, _ in rows
                ]
                k.covers(keys[-1], keys[:-1])
            for label, _, _ in rows:
                for h in head[1:-1]:
                    k.le(("standouts", y, label, h), ("standouts", y, label, head[-1]))
        elif caption.startswith("Fynd med"):
            for cells in t.body:
                _finding(k, y, cur, cells[1].text, cells[2].text, f"{where}: {cells[2].text}")
    for item in doc.items:
        _safety_sentence(k, y, cur, region, item, f"{doc.path}: {item}")


_N = r"(<5|\.\.|\d{1,3}(?: \d{3})*)"


def _finding(k: Knowledge, y: str, cur: str, unit: str, text: str, where: str) -> None:
    if m := re.fullmatch(_N + r" avvikelser? i vårdkedjan \((.+) av alla\)", text):
        k.ratio(
            k.cell(("fig", y, unit, "care_chain"), m.group(1), where),
            ("fig", y, unit, "deviations"),
            m.group(2),
        )
    if m := re.match(r"(.+) av cheferna \(" + _N + " av " + _N + r"\)", text):
        n = k.cell(("train", cur, unit, "patientsäkerhet"), m.group(2), where)
        managers = k.cell(_managers(unit), m.group(3), where)
        k.ratio(n, managers, m.group(1))


def _safety_sentence(k: Knowledge, y: str, cur: str, region: str, text: str, where: str) -> None:
    def fig(name: str, n: str) -> Key | None:
        return k.cell(("fig", y, region, name), n, where)

    if m := re.match(_N + r" avvikelser? rapporterades, varav " + _N + " anmäldes", text):
        fig("deviations", m.group(1))
        fig("lex_maria", m.group(2))
    if m := re.match(_N + r" klagomål och synpunkter togs emot; (.+?) av dem", text):
        fig("complaints", m.group(1))
        k.ratio(("answers", y, "within"), ("fig", y, region, "complaints"), m.group(2))
    if m := re.match(r"(\S+ ?%) av cheferna har genomgått", text):
        k.ratio(
            ("train", cur, region, "patientsäkerhet"),
            _managers(region),
            m.group(1),
        )
    if m := re.match(_N + r" enhet(?:er)? sticker ut", text):
        k.cell(("standouts", y, region, "Enheter"), m.group(1), where)
    if m := re.search(r"gällde " + _N + r" avvikelser? vårdkedjan \((.+?) av alla", text):
        k.ratio(fig("care_chain", m.group(1)), ("fig", y, region, "deviations"), m.group(2))
    if m := re.search(r"anmäldes " + _N + " händelser? till IVO", text):
        fig("lex_maria", m.group(1))
    if m := re.search(r"kom " + _N + " klagomål och synpunkter från", text):
        fig("complaints", m.group(1))
    answers = (
        _N
        + " av "
        + _N
        + r" klagomål och synpunkter \((.+?)\) besvarades inom \d+ dagar\..*?: "
        + _N
        + " besvarades senare, "
        + _N
        + " avslutades utan svarsdatum och "
        + _N
        + r" var inte besvarade(?: per [\d-]+)?(?: \(varav "
        + _N
        + " ännu)?"
    )
    if m := re.search(answers, text):
        within, received, pct, late, closed, open_, still = m.groups()
        keys = {
            name: k.cell(("answers", y, name), n, where) if n else None
            for name, n in (
                ("within", within),
                ("late", late),
                ("closed", closed),
                ("open", open_),
                ("still", still),
            )
        }
        k.cell(("fig", y, region, "complaints"), received, where)
        k.ratio(keys["within"], ("fig", y, region, "complaints"), pct)
        k.sum(
            ("fig", y, region, "complaints"),
            [keys[n] for n in ("within", "late", "closed", "open")],
        )
        k.le(keys["still"], keys["open"])


def knowledge(out: Path) -> Knowledge:
    k = Knowledge()
    rules = []
    for page in public_documents(out):
        doc = read_doc(page)
        rules.append(doc.rule)
        if page.name.startswith("uppskjuten-vard"):
            read_interim(k, doc)
        else:
            read_safety(k, doc)
    _trained_in_order(k)
    # the older rule: ".." is never 1..4 (those are <5); the current one: any count
    k.hidden_any = all("vilket antal som helst" in r for r in rules)
    return k


# --- what a reader works out -------------------------------------------------------------


class Contradiction(AssertionError):
    """The attacker's equations do not hold for what is printed: its reading is wrong."""


def solve(k: Knowledge, below: int = 5) -> dict[Key, tuple[float, float]]:
    """Each count's interval of integers, narrowed along everything a reader knows."""
    b: dict[Key, list[float]] = {}
    small: set[Key] = set()
    hidden: set[Key] = set()
    for key, seen in k.printed.items():
        values = {_integer(t) for t, _ in seen} - {None}
        if len(values) > 1:
            raise Contradiction(f"{key} printed as {sorted(values)}: {seen}")
        if values:
            v = values.pop()
            assert v is not None
            b[key] = [v, v]
        elif any(t == SMALL for t, _ in seen):
            b[key] = [1, below - 1]
            small.add(key)
        else:
            b[key] = [0, INF]
            hidden.add(key)

    def get(key: Key) -> list[float]:
        return b.setdefault(key, [0, INF])

    def put(key: Key, lo: float, hi: float) -> bool:
        cur = get(key)
        if lo > -INF:
            lo = max(cur[0], math.ceil(lo - 1e-9))
        if hi < INF:
            hi = min(cur[1], math.floor(hi + 1e-9))
        lo, hi = max(lo, cur[0]), min(hi, cur[1])
        if key in hidden and not k.hidden_any:
            if lo > 0:
                lo = max(lo, below)
            if hi < below:
                hi = 0
        if lo > hi:
            raise Contradiction(f"{key}: {lo}..{hi} from what is printed")
        if [lo, hi] == cur:
            return False
        b[key] = [lo, hi]
        return True

    def linear(terms: list[Term], const: Fraction) -> bool:
        moved = False
        for i, (c, key) in enumerate(terms):
            lo = hi = -float(const)
            for j, (cj, kj) in enumerate(terms):
                if j == i:
                    continue
                jlo, jhi = get(kj)
                lo -= cj * (jhi if cj > 0 else jlo)
                hi -= cj * (jlo if cj > 0 else jhi)
            if c < 0:
                lo, hi = -hi, -lo
            moved |= put(key, lo, hi)
        return moved

    changed = True
    rounds = 0
    while changed and rounds < 500:
        changed, rounds = False, rounds + 1
        for terms, const in k.equations:
            changed |= linear(terms, const)
        for a, c in k.orders:
            changed |= put(a, 0, get(c)[1])
            changed |= put(c, get(a)[0], INF)
        for part, whole, lo, hi in k.ratios:
            plo, phi = get(part)
            wlo, whi = get(whole)
            changed |= put(part, float(lo) * wlo, float(hi) * whi if whi < INF else INF)
            if hi > 0 and lo > 0:
                changed |= put(whole, plo / float(hi), phi / float(lo) if phi < INF else INF)
            elif hi > 0:
                changed |= put(whole, plo / float(hi), INF)
    return {key: (lo, hi) for key, (lo, hi) in b.items()}


def recovered(out: Path, below: int = 5) -> list[str]:
    """Every ``<5`` of the published documents under ``out`` whose interval a reader narrows
    below 1..4, with where it is printed."""
    k = knowledge(out)
    bounds = solve(k, below)
    found = []
    for key, seen in k.printed.items():
        if any(t == SMALL for t, _ in seen) and bounds[key] != (1, below - 1):
            lo, hi = bounds[key]
            found.append(f"{seen[0][1]}: {'/'.join(key)} is {lo:g}..{hi:g}")
    return found
