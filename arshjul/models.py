"""The database schema (SQLAlchemy 2), the same for SQLite and PostgreSQL.

Records keep no free text and no personal identifiers: the importers drop free-text columns
and refuse personnummer before anything reaches these tables.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class AwareDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns timezone-aware UTC (SQLite keeps no offset by itself)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # stable constraint names, so Alembic migrations work the same on SQLite and PostgreSQL
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def _enum(cls: type[enum.Enum]) -> Enum:
    # stored as the member's value in a plain string column: no native enum types to migrate
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=20,
        values_callable=lambda e: [m.value for m in e],
    )


class OrgLevel(enum.StrEnum):
    REGION = "region"  # the whole region; the root of the tree
    AREA = "area"  # område
    DEPARTMENT = "department"  # verksamhet
    UNIT = "unit"  # enhet, where deviations are reported and actions are owned


class DeviationStatus(enum.StrEnum):
    NEW = "new"  # Ny: reported, not yet handled
    IN_PROGRESS = "in_progress"  # Pågående: under investigation
    CLOSED = "closed"  # Avslutad: handled and closed


class ComplaintStatus(enum.StrEnum):
    NEW = "new"  # Ny: received, not yet handled
    IN_PROGRESS = "in_progress"  # Pågående: being investigated
    ANSWERED = "answered"  # Besvarad: the person has had an answer
    CLOSED = "closed"  # Avslutad: closed with or without an answer


class ActionStatus(enum.StrEnum):
    PLANNED = "planned"  # Planerad: decided, not started
    IN_PROGRESS = "in_progress"  # Pågår: being carried out
    #: Klar: carried out; its effect is to be checked. In time or late by the day the unit
    #: wrote it Klar against its Klart senast (arshjul.action_rules.standing), as a step is
    #: klar i tid or klar sent on the status page
    DONE = "done"
    DROPPED = "dropped"  # Struken: will not be done (the reason belongs in the minutes)
    #: Ingen åtgärd: not an action but the unit's decision that its finding needs none, with
    #: the reason (``Action.reason``); it answers the finding as an action would
    NO_ACTION = "no_action"


class SignOffState(enum.StrEnum):
    APPROVED = "approved"  # Godkänd: the version is fixed and is never overwritten
    RETURNED = "returned"  # Återsänd: sent back with a comment; a new version will follow


class RunState(enum.StrEnum):
    RUNNING = "running"  # started, not finished (or crashed)
    DONE = "done"  # finished and its documents were written
    FAILED = "failed"  # finished with an error


#: The unit and the import batch of a record imported in bulk (deviations, complaints, waiting
#: lists, production, capacity, training, actions, and the histories of the last two): no
#: foreign keys. On PostgreSQL the two per-row checks were half of an import's upsert
#: (BENCHMARKS.md); integrity holds without them: the importer refuses every unit id of a file
#: not in ``org_unit`` (in the transaction that stores it) and checks the stored rows once more
#: with one query (``importers.store``); the batch is the one it has just made; and no unit or
#: batch is ever deleted (the organisation file only adds and updates units).
IMPORTED_UNIT_ID = String(64)
IMPORTED_BATCH_ID = Integer


class ImportBatch(Base):
    """One imported file. The checksum makes a re-import of the same file a no-op."""

    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    inserted: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(AwareDateTime())

    __table_args__ = (Index("ix_import_batch_kind_sha256", "kind", "sha256", unique=True),)


class OrgUnit(Base):
    """A node of the organisation tree, identified by its HSA-id."""

    __tablename__ = "org_unit"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[OrgLevel] = mapped_column(_enum(OrgLevel))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))


class Deviation(Base):
    """An avvikelse: one incident report, identified by the reporting system's id."""

    __tablename__ = "deviation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64), unique=True)
    unit_id: Mapped[str] = mapped_column(IMPORTED_UNIT_ID)
    event_date: Mapped[date | None] = mapped_column(Date)
    reported_date: Mapped[date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(100))
    consequence: Mapped[int | None] = mapped_column(SmallInteger)
    probability: Mapped[int | None] = mapped_column(SmallInteger)
    lex_maria: Mapped[bool] = mapped_column(Boolean, default=False)
    care_chain: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[DeviationStatus] = mapped_column(_enum(DeviationStatus))
    closed_date: Mapped[date | None] = mapped_column(Date)
    batch_id: Mapped[int] = mapped_column(IMPORTED_BATCH_ID)

    __table_args__ = (
        Index("ix_deviation_unit_id_reported_date", "unit_id", "reported_date"),
        # a year's deviations, for the counts of the compilation and the analysis
        Index("ix_deviation_reported_date", "reported_date"),
        # each unit's batches (arshjul.unit_data), read from the index alone: 0.05 s of CPU
        # instead of 1.3 s for 768k deviations on SQLite
        Index("ix_deviation_unit_id_batch_id", "unit_id", "batch_id"),
    )


class Complaint(Base):
    """A klagomål or synpunkt from a patient or next of kin."""

    __tablename__ = "complaint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64), unique=True)
    unit_id: Mapped[str] = mapped_column(IMPORTED_UNIT_ID)
    received_date: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(100))
    answered_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[ComplaintStatus] = mapped_column(_enum(ComplaintStatus))
    batch_id: Mapped[int] = mapped_column(IMPORTED_BATCH_ID)

    __table_args__ = (
        Index("ix_complaint_unit_id_received_date", "unit_id", "received_date"),
        Index("ix_complaint_received_date", "received_date"),
        Index("ix_complaint_unit_id_batch_id", "unit_id", "batch_id"),
    )


class StepRun(Base):
    """One step done for one unit: the evidence of who did what, when, by which run."""

    __tablename__ = "step_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[str] = mapped_column(String(30))
    #: the data year, or the period (``2026-T1``) for interim reports
    period: Mapped[str] = mapped_column(String(10))
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_unit.id"))
    run_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[RunState] = mapped_column(_enum(RunState))
    started_at: Mapped[datetime] = mapped_column(AwareDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    #: documents this run wrote for the unit; 0 when they said what they say already
    documents: Mapped[int] = mapped_column(Integer, default=0)
    #: when the run wrote none: the run that wrote the documents it found unchanged (their
    #: footer names that run, which made what they say)
    unchanged_since: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_step_run_step_period_unit_id", "step", "period", "unit_id"),)


class UnitFigures(Base):
    """A unit's own counts of a data year (``arshjul.figures.Figures`` as JSON), stored with
    the version of the unit's records they are of (``arshjul.unit_data.version``): a run
    counts again only the units whose records changed since."""

    __tablename__ = "unit_figures"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[str] = mapped_column(IMPORTED_UNIT_ID, primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    figures: Mapped[str] = mapped_column(Text)


class WaitingSnapshot(Base):
    """Patients waiting on one snapshot date, by unit, activity and days waited."""

    __tablename__ = "waiting"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_date: Mapped[date] = mapped_column(Date)
    unit_id: Mapped[str] = mapped_column(IMPORTED_UNIT_ID)
    activity: Mapped[str] = mapped_column(String(40))
    wait_days: Mapped[int] = mapped_column(Integer)
    patient_chosen: Mapped[bool] = mapped_column(Boolean)
    count: Mapped[int] = mapped_column(Integer)
    batch_id: Mapped[int] = mapped_column(IMPORTED_BATCH_ID)

    __table_args__ = (
        Index(
            "uq_waiting_key",
            "snapshot_date",
            "unit_id",
            "activity",
            "wait_days",
            "patient_chosen",
            unique=True,
        ),
    )


class Production(Base):
    """Planned and actual production and its cost, per unit, month and measure."""

    __tablename__ = "production"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    unit_id: Mapped[str] = mapped_column(IMPORTED_UNIT_ID)
    measure: Mapped[str] = mapped_column(String(40))
    planned: Mapped[float | None] = mapped_column(Float)
    actual: Mapped[float | None] = mapped_column(Float)
    cost_sek: Mapped[float | None] = mapped_column(Float)
    batch_id: Mapped[int] = mapped_column(IMPORTED_BATCH_ID)

    __table_args__ = (Index("uq_production_key", "month", "unit_id", "measure", unique=True),)


class Capacity(Base):
    """Beds and their use per unit and month."""

    __tablename__ = "capacity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    unit_id: Mapped[str] = mapped_column(IMPORTED_UNIT_ID)
    beds: Mapped[float | None] = mapped_column(Float)
    patient_days: Mapped[int | None] = mapped_column(Integer)
    overcrowding_days: Mapped[int | None] = mapped_column(Integer)
    outlying_days: Mapped[int | None] = mapped_column(Integer)
    batch_id: Mapped[int] = mapped_column(IMPORTED_BATCH_ID)

    __table_args__ = (Index("uq_capacity_key", "month", "unit_id", unique=True),)


class Training(Base):
    """A completed course, by a pseudonymised person."""

    __tablename__ = "training"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_key: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[str] = mapped_column(IMPORTED_UNIT_ID)
    role: Mapped[str] = mapped_column(String(20))
    course: Mapped[str] = mapped_column(String(40))
    completed_date: Mapped[date | None] = mapped_column(Date)
    batch_id: Mapped[int] = mapped_column(IMPORTED_BATCH_ID)

    __table_args__ = (Index("uq_training_key", "person_key", "course", unique=True),)


class Finding(Base):
    """Something the analysis found for a unit; its id is stable across reruns."""

    __tablename__ = "finding"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_unit.id"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    measure: Mapped[str] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)
    baseline: Mapped[float | None] = mapped_column(Float)
    severity: Mapped[int] = mapped_column(SmallInteger)
    run_id: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_finding_year_unit_id", "year", "unit_id"),)


class Action(Base):
    """An åtgärd in a unit's action plan, linked to the finding it answers."""

    __tablename__ = "action"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[str] = mapped_column(String(64), unique=True)
    unit_id: Mapped[str] = mapped_column(IMPORTED_UNIT_ID)
    finding_id: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    owner_role: Mapped[str] = mapped_column(String(60))
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[ActionStatus] = mapped_column(_enum(ActionStatus))
    effect: Mapped[str | None] = mapped_column(String(60))
    #: Motivering: why; required for a decision ``NO_ACTION``
    reason: Mapped[str | None] = mapped_column(String(500))
    #: Statusdatum: the day the unit wrote the status, as the worksheet gives it (None: not
    #: given)
    status_date: Mapped[date | None] = mapped_column(Date)
    batch_id: Mapped[int] = mapped_column(IMPORTED_BATCH_ID)

    __table_args__ = (Index("ix_action_unit_id", "unit_id"),)


class ActionUpdate(Base):
    """An action's status as one returned worksheet gave it: every imported row is one,
    changed or not, dated by the day the unit wrote in it (Statusdatum) and by its import (the
    batch). The follow-ups are judged by the written day; ``action`` keeps only the latest."""

    __tablename__ = "action_update"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[ActionStatus] = mapped_column(_enum(ActionStatus))
    #: Statusdatum as written in the row; None when the row gave none
    status_date: Mapped[date | None] = mapped_column(Date)
    batch_id: Mapped[int] = mapped_column(IMPORTED_BATCH_ID)

    __table_args__ = (Index("ix_action_update_action_id", "action_id"),)


class TrainingImport(Base):
    """Which units a training roster file listed, and how many rows each: a roster imported
    again unchanged changes no ``training`` row, but it still records the unit's coverage."""

    __tablename__ = "training_import"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(IMPORTED_BATCH_ID)
    unit_id: Mapped[str] = mapped_column(IMPORTED_UNIT_ID)
    rows: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_training_import_batch_id", "batch_id"),)


class SignOff(Base):
    """An approval or return of one version of a document by a named role."""

    __tablename__ = "sign_off"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[str] = mapped_column(String(40))  # e.g. safety_report, action_plan
    period: Mapped[str] = mapped_column(String(10))
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_unit.id"))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[SignOffState] = mapped_column(_enum(SignOffState))
    role: Mapped[str] = mapped_column(String(60))
    signed_by: Mapped[str] = mapped_column(String(120))
    comment: Mapped[str | None] = mapped_column(String(2000))
    sha256: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(AwareDateTime())

    __table_args__ = (
        Index("uq_sign_off_version", "document", "period", "unit_id", "version", unique=True),
    )


class SignOffRequest(Base):
    """A version waiting for its decision, and the Prefect flow run that asks for it.

    Kept in arshjul's own database so that a wait of days survives restarts of ``arshjul
    serve``, of workers and of the Prefect server (flows/signoff.py); deleted when the
    version is decided, or when the run asking for it ended without a decision."""

    __tablename__ = "sign_off_request"

    document: Mapped[str] = mapped_column(String(40), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_unit.id"), primary_key=True)
    #: the version asked about: always the current one (one above the highest decided)
    version: Mapped[int] = mapped_column(Integer)
    #: the document under its plain name, which is the version's own file too
    latest: Mapped[str] = mapped_column(String(1000))
    #: what the version said when asked (signoff.content_sha256): a rerun that rewrites it to
    #: say something else asks again, so nobody decides on a text other than the one asked
    content_sha256: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(60))
    #: the flow run of the step that wrote the version
    asked_by_run: Mapped[str] = mapped_column(String(64))
    asked_at: Mapped[datetime] = mapped_column(AwareDateTime())
    #: the ``sign_off`` flow run that waits for the decision (None until it is created)
    flow_run_id: Mapped[str | None] = mapped_column(String(64))


class CalendarEvent(Base):
    """What was last published for one event UID: SEQUENCE rises only when content changes."""

    __tablename__ = "calendar_event"

    uid: Mapped[str] = mapped_column(String(200), primary_key=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer)
    last_modified: Mapped[datetime] = mapped_column(AwareDateTime())
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)


class ReminderSent(Base):
    """An overdue reminder e-mailed for a unit and milestone; at most one a week."""

    __tablename__ = "reminder_sent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_unit.id"))
    milestone_id: Mapped[str] = mapped_column(String(60))
    due_date: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(AwareDateTime())
    recipient: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("ix_reminder_sent_unit_id_milestone_id", "unit_id", "milestone_id"),)


class StepLock(Base):
    """A step running for a unit and period: a second run of it waits or is refused.

    Held for the length of one flow run; a lock whose process is gone, or older than any run
    could be (the run crashed and never released it), is taken over, see :mod:`arshjul.locks`.
    """

    __tablename__ = "step_lock"

    step: Mapped[str] = mapped_column(String(30), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64))
    #: ``host:pid`` of the process holding it
    holder: Mapped[str] = mapped_column(String(300))
    acquired_at: Mapped[datetime] = mapped_column(AwareDateTime())
