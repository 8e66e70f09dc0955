"""One run of a step of the cycle: the pieces every step shares, and the order they run in.

Every step module has one shape (:class:`Step`): ``gather(conn, tree, period, run)`` reads what
its documents show, ``write(ws, period, gathered, units)`` writes them from that alone; the
analysis also stores its findings, and the action plan and the patientsäkerhetsberättelse put
the region's document forward for sign-off. :func:`run_step` runs one: the parameters are
checked first (an unknown unit or an organisation not imported is refused before anything is
counted), the units chosen, the step locked for the unit asked for (or all), then gathered,
stored, written, signed off, and recorded with the step's own times as the lock is given back.

How each piece runs is the caller's (``call``): as a Prefect task that retries when the
database was unavailable (flows/steps.py), or as a plain timed call (bench/plain.py). Each
piece opens its own connection, so a retried piece starts over cleanly; they are few (four,
five for the analysis), as each task costs a run some API calls to Prefect.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Generic, ParamSpec, Protocol, TypeVar

from sqlalchemy import Connection

from arshjul import locks, signoff, status
from arshjul.clock import local
from arshjul.config import Config
from arshjul.documents import Kept, Provenance, provenance, unit_dir, write_year_index
from arshjul.figures import StoredCounts
from arshjul.org import OrgTree
from arshjul.periods import Period
from arshjul.workspace import Workspace

F = TypeVar("F")
P = ParamSpec("P")
R = TypeVar("R")

#: how long a run waits for another run of the same step and units before it is refused
LOCK_WAIT = timedelta(minutes=5)


@dataclass(frozen=True)
class Run:
    """This run of a step: the configuration, the moment its documents are about (they say
    they were made then, and open items are aged to its day) and the flow run doing it."""

    config: Config
    now: datetime
    run_id: str
    #: the units' stored counts: read by the gather, those it counted afresh kept by the store
    counts: StoredCounts = field(default_factory=StoredCounts, compare=False)

    @property
    def today(self) -> date:
        return local(self.now).date()


@dataclass(frozen=True)
class Gathered(Generic[F]):
    """What a step read from the database; its documents are written from this alone."""

    tree: OrgTree
    figures: F
    #: the imported files and the run the documents name
    origin: Provenance
    #: where the region's document stands in its sign-off (steps that have one)
    stamp: signoff.Stamp | None


@dataclass(frozen=True)
class Signed:
    """The region's document a step puts forward for sign-off."""

    #: the document's name in ``sign_off`` and ``settings.yaml: sign_off.roles``
    document: str
    file_name: str


@dataclass(frozen=True)
class Step(Generic[F]):
    """A step of the cycle as :func:`run_step` runs it."""

    #: what the step is recorded (``step_run``) and locked as
    name: str
    #: the step's document in Swedish, for coordinators' messages
    title_sv: str
    #: the imported kinds its documents name as their sources
    sources: tuple[str, ...]
    gather: Callable[[Connection, OrgTree, Period, Run], F]
    #: the documents of ``units``; returns the files written and those kept as they were
    write: Callable[[Workspace, Period, Gathered[F], Sequence[str]], list[Path | Kept]]
    #: what the step keeps in the database besides its documents; returns the rows stored
    store: Callable[[Connection, Period, Gathered[F], Sequence[str], Run], int] | None = None
    signed: Signed | None = None
    #: the step writes the region's document only (never one unit's)
    region_only: bool = False
    #: each unit's document, when one unit's counts decide what other units' documents hide
    #: (one suppression ledger for the tree): a run for a unit checks every unit whose
    #: document exists too, and writes those whose content changed, so that no sibling keeps
    #: printing a count the new ledger hides
    shared_marks_in: str | None = None


def unit_documents(
    writer: Callable[
        [Path, Config, OrgTree, Period, F, Sequence[str], Provenance], list[Path | Kept]
    ],
) -> Callable[[Workspace, Period, Gathered[F], Sequence[str]], list[Path | Kept]]:
    """A step's ``write`` that is its document of each unit, written by
    ``writer(out, config, tree, period, figures, units, origin)``."""

    def write(
        ws: Workspace, period: Period, gathered: Gathered[F], units: Sequence[str]
    ) -> list[Path | Kept]:
        tree, figures, origin = gathered.tree, gathered.figures, gathered.origin
        return writer(ws.out, ws.config, tree, period, figures, units, origin)

    return write


@dataclass(frozen=True)
class ToSignOff:
    """A document just written, to be kept as a version and decided."""

    document: str
    period: str
    unit_id: str
    path: Path
    role: str


@dataclass(frozen=True)
class StepResult:
    step: str
    period: Period
    #: the units whose documents were written or found unchanged
    units: list[str]
    written: list[Path]
    #: documents not written again: they said what this run's would say
    kept: list[Kept]
    #: rows the step stored besides its documents (the analysis's findings)
    stored: int
    sign_off: signoff.SignOffResult | None
    #: units that did the step for the period for the first time: the calendars change
    newly_done: int


class Call(Protocol):
    """Runs one piece of a step: ``call(piece, *args)`` returns ``piece(*args)``."""

    def __call__(self, piece: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...


def plainly(piece: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    return piece(*args, **kwargs)


# --- the pieces ----------------------------------------------------------------------------


def prepare(
    ws: Workspace,
    step: Step[F],
    period: Period,
    unit: str | None,
    run: Run,
    clock: Callable[[], datetime],
) -> tuple[OrgTree, list[str]]:
    """The organisation, and the units whose documents the step writes: ``unit`` and the
    units above it, or every unit; for a unit of a step whose units share their suppression
    marks also every unit whose document exists. A usage error for an unknown unit or when
    no organisation was imported. Then the step is this run's for the unit asked for (or for
    all it writes when they share marks): it waits for another run that has it (see
    :mod:`arshjul.locks`) until :func:`finish` or :func:`release_lock`."""
    with ws.engine.connect() as conn:
        tree = OrgTree.load(conn)
    units = [tree.root.id] if step.region_only else tree.affected(unit)
    shared = step.shared_marks_in
    if unit and shared:
        ids = set(units)
        units += [
            u.id
            for u in tree.walk(tree.root.id)
            if u.id not in ids and (unit_dir(ws.out, period, u) / shared).exists()
        ]
    locks.acquire(
        ws.engine,
        step=step.name,
        period=period.label,
        unit_ids=[unit] if unit and not shared else units,
        run_id=run.run_id,
        clock=clock,
        title=step.title_sv,
        wait=LOCK_WAIT,
    )
    return tree, units


def release_lock(ws: Workspace, step: Step[F], period: Period, run: Run) -> None:
    """Give the step back when the run failed."""
    locks.release(ws.engine, step=step.name, period=period.label, run_id=run.run_id)


def gather(ws: Workspace, step: Step[F], tree: OrgTree, period: Period, run: Run) -> Gathered[F]:
    with ws.engine.connect() as conn:
        figures = step.gather(conn, tree, period, run)
        origin = provenance(conn, step.sources, now=run.now, run_id=run.run_id, tree=tree)
        stamp = None
        if step.signed is not None:
            role = run.config.settings.sign_off.role(step.signed.document)
            stamp = signoff.draft_stamp(
                conn, step.signed.document, period.label, tree.root.id, role
            )
    return Gathered(tree, figures, origin, stamp)


def store(
    ws: Workspace, step: Step[F], period: Period, gathered: Gathered[F], units: list[str], run: Run
) -> int:
    """Keep the counts the gather made afresh (:class:`arshjul.figures.StoredCounts`) and
    what the step keeps besides its documents; returns the step's rows stored."""
    with ws.engine.begin() as conn:
        run.counts.store(conn)
        return step.store(conn, period, gathered, units, run) if step.store else 0


def write(
    ws: Workspace, step: Step[F], period: Period, gathered: Gathered[F], units: list[str]
) -> list[Path | Kept]:
    """The step's documents, then the year's index of them; a run that wrote none (all said
    what they say already) made none appear, so the index stays as it is (it looks at every
    unit's folder: ~1.5 s of a unit's rerun at ``large``)."""
    done = step.write(ws, period, gathered, units)
    index = ws.out / period.label / "index.html"
    if any(isinstance(d, Path) for d in done) or not index.exists():
        write_year_index(ws.out, gathered.tree, period, ws.config.settings.region.name)
    return done


def by_unit(
    ws: Workspace, period: Period, tree: OrgTree, units: list[str], done: list[Path | Kept]
) -> list[tuple[str, int, str | None]]:
    """Each unit's documents written, and when none was: the run that wrote those kept."""
    folders = {unit_dir(ws.out, period, tree[u]): u for u in units}
    written = dict.fromkeys(units, 0)
    kept: dict[str, str] = {}
    for d in done:
        unit = folders.get(d.parent if isinstance(d, Path) else d.path.parent)
        if unit is None:
            continue
        if isinstance(d, Kept):
            kept.setdefault(unit, d.run_id)
        else:
            written[unit] += 1
    return [(u, n, None if n else kept.get(u)) for u, n in written.items()]


def finish(
    ws: Workspace,
    step: Step[F],
    period: Period,
    unit_documents: list[tuple[str, int, str | None]],
    started: datetime,
    finished: datetime,
    run: Run,
) -> int:
    """Record the step as done by this run for each unit (with its documents written, or the
    run whose unchanged documents it kept) and give the step back, in one transaction (a
    retry records once); returns how many units did it for the first time."""
    with ws.engine.begin() as conn:
        newly_done = status.record_done(
            conn,
            step=step.name,
            period=period.label,
            unit_documents=unit_documents,
            run_id=run.run_id,
            started_at=started,
            finished_at=finished,
        )
        locks.release_in(conn, step=step.name, period=period.label, run_id=run.run_id)
    return newly_done


def to_sign_off(ws: Workspace, signed: Signed, period: Period, tree: OrgTree) -> ToSignOff:
    root = tree.root
    return ToSignOff(
        document=signed.document,
        period=period.label,
        unit_id=root.id,
        path=unit_dir(ws.out, period, root) / signed.file_name,
        role=ws.config.settings.sign_off.role(signed.document),
    )


# --- the order -----------------------------------------------------------------------------


def run_step(
    ws: Workspace,
    step: Step[F],
    period: Period,
    unit: str | None,
    run: Run,
    *,
    sign_off: Callable[[ToSignOff], signoff.SignOffResult],
    clock: Callable[[], datetime],
    call: Call = plainly,
) -> StepResult:
    """Run ``step`` for ``period`` for ``unit`` and the units above it (None: every unit).
    ``clock`` times the step (its own start and finish, recorded); ``run.now`` is the moment
    its documents are about."""
    started = clock()
    tree, units = call(prepare, ws, step, period, unit, run, clock)
    try:
        gathered = call(gather, ws, step, tree, period, run)
        stored = call(store, ws, step, period, gathered, units, run)
        done = call(write, ws, step, period, gathered, units)
        decided = None
        if step.signed is not None:
            decided = sign_off(to_sign_off(ws, step.signed, period, tree))
        documents = by_unit(ws, period, tree, units, done)
        newly_done = call(finish, ws, step, period, documents, started, clock(), run)
    except BaseException:
        call(release_lock, ws, step, period, run)
        raise
    written = [d for d in done if isinstance(d, Path)]
    kept = [d for d in done if isinstance(d, Kept)]
    return StepResult(step.name, period, units, written, kept, stored, decided, newly_done)
