"""The action worksheet's rules: what a row is, and its rules against what is stored.

A row is an action (its Åtgärd written), or a unit's decision that a finding needs no action
(Status *Ingen åtgärd*, with a Motivering and no Åtgärd); a prefilled row with neither is not
filled in and is skipped. An action answers a finding of its own unit, and an action id, once
stored, stays with its unit: a unit fills in the worksheet it was given (SPEC §5); a row copied
from another unit's sheet would otherwise tie one unit's action to another's finding, or
overwrite another unit's action.

The worksheet is filled in by enhetschefer, so what is wrong in it is said in Swedish, with the
values a drop-down column allows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence

from sqlalchemy import Connection, select
from sqlalchemy.orm import InstrumentedAttribute

from arshjul.errors import Problem
from arshjul.importers import values as v
from arshjul.importers.records import Context, Records
from arshjul.models import Action, ActionStatus, Finding

#: the worksheet's statuses, as its drop-down lists them
STATUS_SV = {
    "Planerad": ActionStatus.PLANNED,
    "Pågår": ActionStatus.IN_PROGRESS,
    "Klar": ActionStatus.DONE,
    "Struken": ActionStatus.DROPPED,
    "Ingen åtgärd": ActionStatus.NO_ACTION,
}
#: what a status cell may say: Swedish, or the stored English value
STATUS = {**STATUS_SV, **{m.value: m for m in ActionStatus}}
_DECISION = frozenset(v.normalise(k) for k, s in STATUS.items() if s is ActionStatus.NO_ACTION)

#: ids per ``IN (…)``: below every database's limit on bound parameters
CHUNK = 500
UNKNOWN_FINDING = (
    "okänt fynd: inget fynd med detta id i analysen (kör analysen först, eller lämna cellen tom)"
)


def _did_you_mean(shown: str | None) -> str:
    return f" (menade du {shown.replace(' or ', ' eller ')}?)" if shown else ""


#: the importer's own reasons (every kind's), as the worksheet's readers are told them; the
#: rules of this module say theirs in Swedish already
_SWEDISH: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"unknown unit: not in the organisation(?: \(did you mean (.*)\?\))?"),
        lambda m: "okänd enhet: finns inte i organisationen" + _did_you_mean(m[1]),
    ),
    (re.compile(r"empty, but a value is required"), lambda m: "tom, men ett värde krävs"),
    (
        re.compile(r"missing column '.+' \(accepted headers: (.*)\)"),
        lambda m: f"en kolumn saknas: rubriken ska vara någon av {m[1]}",
    ),
    (
        re.compile(r"column '.+' appears twice \(also as (.+)\)"),
        lambda m: f"kolumnen finns två gånger (också som {m[1]})",
    ),
    (
        re.compile(r"same (.+) as line (\d+) but different content \((.*)\)"),
        lambda m: f"samma {m[1]} som rad {m[2]} men annat innehåll ({m[3]})",
    ),
    (re.compile(r"longer than (\d+) characters"), lambda m: f"längre än {m[1]} tecken"),
    (
        re.compile(r"contains (.+): it is published in the action plan; .*"),
        lambda m: (
            f"innehåller {_contact_details(m[1])}: texten publiceras i"
            " handlingsplanen; skriv en roll (Enhetschef) i stället för en persons kontaktuppgifter"
        ),
    ),
    (
        re.compile(r"looks like a personnummer or samordningsnummer: .*"),
        lambda m: (
            "ser ut som ett personnummer eller samordningsnummer: personnummer får inte"
            " läsas in; ta bort det ur arbetsbladet"
        ),
    ),
)


def _contact_details(found: str) -> str:
    """``an e-mail address (e-postadress) and …`` as ``en e-postadress och …``."""
    names = re.findall(r"\(([^)]+)\)", found)
    return " och ".join(f"ett {n}" if n.endswith("nummer") else f"en {n}" for n in names)


def in_swedish(reason: str) -> str:
    """``reason`` as the worksheet's readers are told it: the importer's own reasons in
    Swedish, the rest (already Swedish) as it is."""
    for pattern, said in _SWEDISH:
        match = pattern.fullmatch(reason)
        if match:
            return said(match)
    return reason


def _allowed(parser: v.Parser, column: str, allowed: Collection[str]) -> v.Parser:
    """``parser`` whose refusal lists what the column allows."""

    def parse(value: str) -> object:
        try:
            return parser(value)
        except ValueError:
            raise ValueError(
                f"inte ett tillåtet värde för {column}; tillåtna: {', '.join(allowed)}"
            ) from None

    return parse


def status(parser: v.Parser) -> v.Parser:
    return _allowed(parser, "Status", tuple(STATUS_SV))


def effect(context: Context) -> v.Parser:
    allowed = context.codes.action_effects
    return _allowed(v.code(allowed, "effect"), "Effekt", allowed)


def owner_role(context: Context) -> v.Parser:
    allowed = context.codes.action_owner_roles
    return _allowed(v.code(allowed, "owner role"), "Ansvarig", allowed)


def _swedish_date(context: Context, *, years_ahead: int, out_of_range: str) -> v.Parser:
    """A date as :func:`values.iso_date` takes it, refused in Swedish."""
    parse_date = v.iso_date(context.today, years_ahead=years_ahead)

    def parse(value: str) -> object:
        try:
            return parse_date(value)
        except ValueError as exc:
            reason = str(exc)
            if reason.startswith("not a date"):
                raise ValueError("inte ett datum (ÅÅÅÅ-MM-DD)") from None
            if reason == "no such date":
                raise ValueError("datumet finns inte") from None
            raise ValueError(out_of_range) from None

    return parse


def due_date(context: Context) -> v.Parser:
    """Klart senast: a date, up to ten years ahead (further is a typing error in the year)."""
    latest = context.today.year + 10
    return _swedish_date(
        context,
        years_ahead=10,
        out_of_range=f"utanför {v.EARLIEST.year}–{latest}: kontrollera året (ÅÅÅÅ-MM-DD)",
    )


def status_date(context: Context) -> v.Parser:
    """Statusdatum: the day the unit wrote the status, not after the day of the import (a
    follow-up dated ahead would count for a window it has not reached)."""
    return _swedish_date(
        context,
        years_ahead=0,
        out_of_range=(
            f"utanför {v.EARLIEST.isoformat()}–{context.today.isoformat()} (i dag): Statusdatum"
            " är dagen då statusen skrevs"
        ),
    )


def _unit_of(
    conn: Connection,
    id_column: InstrumentedAttribute[str],
    unit_column: InstrumentedAttribute[str],
    ids: Collection[str],
) -> dict[str, str]:
    """Stored id -> its unit, for those of ``ids`` that are stored."""
    wanted = sorted(ids)
    found: dict[str, str] = {}
    for start in range(0, len(wanted), CHUNK):
        query = select(id_column, unit_column).where(id_column.in_(wanted[start : start + CHUNK]))
        found.update((stored_id, unit) for stored_id, unit in conn.execute(query))
    return found


def _named(context: Context, unit_id: str) -> str:
    unit = context.units.get(unit_id)
    return f"{unit_id!r} ({unit.name})" if unit is not None else repr(unit_id)


def findings_of_the_unit(records: Records, context: Context) -> list[Problem]:
    """A finding id, when given, names a stored finding of the row's own unit."""
    units, findings = records.values["unit_id"], records.values["finding_id"]
    given = {f for f in findings if f is not None}
    if not given:
        return []
    owner = _unit_of(context.conn, Finding.id, Finding.unit_id, given)
    problems = []
    for i, (unit, finding) in enumerate(zip(units, findings, strict=True)):
        if finding is None:
            continue
        if finding not in owner:
            problems.append(records.problem(i, "finding_id", finding, UNKNOWN_FINDING))
        elif unit is not None and owner[finding] != unit:
            reason = (
                f"ett fynd för en annan enhet: det hör till {_named(context, owner[finding])},"
                f" radens enhet är {_named(context, unit)}"
            )
            problems.append(records.problem(i, "finding_id", finding, reason))
    return problems


def ids_stay_with_their_unit(records: Records, context: Context) -> list[Problem]:
    """An action id already stored for one unit is not taken over by another."""
    units, ids = records.values["unit_id"], records.values["action_id"]
    owner = _unit_of(context.conn, Action.action_id, Action.unit_id, {a for a in ids if a})
    return [
        records.problem(
            i,
            "action_id",
            action,
            f"redan id för en åtgärd i {_named(context, owner[action])}: en åtgärd"
            " stannar hos sin enhet; ge den här ett nytt id",
        )
        for i, (unit, action) in enumerate(zip(units, ids, strict=True))
        if action in owner and unit is not None and owner[action] != unit
    ]


def filled_in(cells: Mapping[str, Sequence[str]], rows: int) -> list[bool]:
    """A row is filled in when it has an Åtgärd or a Motivering, or its Status is Ingen
    åtgärd: such a row is checked (:func:`actions_and_decisions`); any other is skipped."""
    empty = [""] * rows
    titles, reasons = cells.get("title", empty), cells.get("reason", empty)
    statuses = cells.get("status", empty)
    return [
        bool(title.strip() or reason.strip()) or v.normalise(state) in _DECISION
        for title, reason, state in zip(titles, reasons, statuses, strict=True)
    ]


def actions_and_decisions(records: Records, context: Context) -> list[Problem]:
    """An action has its Åtgärd; a decision Ingen åtgärd names the finding it answers and
    says why (Motivering), and has no Åtgärd (which would say the opposite)."""
    values = records.values
    problems = []
    for i, (status, title, reason, finding) in enumerate(
        zip(values["status"], values["title"], values["reason"], values["finding_id"], strict=True)
    ):
        if status is ActionStatus.NO_ACTION:
            if reason == "":
                problems.append(
                    records.problem(
                        i,
                        "reason",
                        None,
                        "Status 'Ingen åtgärd' kräver en Motivering: skriv varför fyndet inte"
                        " behöver någon åtgärd",
                    )
                )
            if finding is None:
                problems.append(
                    records.problem(
                        i,
                        "finding_id",
                        None,
                        "Status 'Ingen åtgärd' är ett beslut om ett fynd: ange fyndets Fynd-ID",
                    )
                )
            if title:
                problems.append(
                    records.problem(
                        i,
                        "title",
                        title,
                        "Status 'Ingen åtgärd' men en Åtgärd är ifylld: välj en annan status"
                        " eller töm Åtgärd",
                    )
                )
        elif status is not None and title == "":
            problems.append(
                records.problem(
                    i,
                    "title",
                    None,
                    "tom: en åtgärd behöver sin Åtgärd (eller välj Status 'Ingen åtgärd' och"
                    " skriv en Motivering)",
                )
            )
    return problems
