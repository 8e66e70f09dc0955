"""Configuration: read once from YAML into typed models.

Every file is looked up first in the region's config folder (``ARSHJUL_CONFIG``) and then in
the folder bundled with arshjul, so a region overrides only what it needs. The wheel lives in
``calendar/arshjul.yaml``; a region's ``arshjul.yaml`` in its config folder replaces milestones
by id and adds new ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from arshjul.errors import ConfigError
from arshjul.resources import bundled

M = TypeVar("M", bound=BaseModel)

BUNDLED_CONFIG = bundled("config")
BUNDLED_WHEEL = bundled("calendar") / "arshjul.yaml"

LEVELS = ("region", "area", "department", "unit")
Level = Literal["region", "area", "department", "unit"]
#: Swedish names of the levels, as in documents and calendars
LEVEL_SV = {"region": "region", "area": "område", "department": "verksamhet", "unit": "enhet"}
#: the input kinds as a document's reader knows them
KIND_SV = {
    "organisation": "organisation",
    "deviations": "avvikelser",
    "complaints": "klagomål och synpunkter",
    "waiting": "väntelistor",
    "production": "produktion",
    "capacity": "vårdplatser",
    "training": "utbildning",
    "actions": "åtgärder",
}
Step = Literal["compile", "analyse", "action_plan", "safety_report", "interim_report"]
#: what shows a milestone without a step done (:mod:`arshjul.evidence`): the status updates
#: of open actions, or a training roster imported in the year
Evidence = Literal["follow_up", "training"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- settings.yaml -------------------------------------------------------------------------


class Region(Strict):
    id: str
    name: str


class Targets(Strict):
    suppress_below: int = Field(5, ge=1, description="counts 1..n-1 are shown as <n in public")
    complaint_answer_days: int = Field(28, ge=1)
    deviation_closure_days: int = Field(60, ge=1)
    training_coverage: float = Field(0.9, ge=0, le=1)


#: where `arshjul calendar serve` listens by default; as the base URL, links follow the address
#: a client asks the server for (arshjul.feedserver)
DEFAULT_BASE_URL = "http://127.0.0.1:8080"


class CalendarSettings(Strict):
    base_url: str = Field(DEFAULT_BASE_URL, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    refresh_hours: int = Field(12, ge=1)
    reminder_days: tuple[int, ...] = (14, 3)
    #: serve each unit's feed only under a secret token path (``arshjul calendar tokens``)
    unit_tokens: bool = False


class SignOffSettings(Strict):
    """Who fastställer which document (document -> role), and how long a question on a
    Prefect server waits for the answer (after it is asked, or after a refused answer)
    before the version is left awaiting sign-off."""

    roles: dict[str, str] = {
        "safety_report": "Chefläkare",
        "action_plan": "Hälso- och sjukvårdsdirektör",
    }
    wait_hours: float = Field(72, gt=0)

    def role(self, document: str) -> str:
        if document not in self.roles:
            raise ConfigError(f"settings.yaml: key 'sign_off.roles': no role for {document!r}")
        return self.roles[document]


#: an e-mail address as reminders use it: ASCII, so that any SMTP relay takes it
EMAIL_PATTERN = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$"
EmailAddress = Annotated[str, Field(pattern=EMAIL_PATTERN)]
SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class SmtpSettings(Strict):
    """The mail server overdue reminders go through (:mod:`arshjul.reminders`). Off until a
    region sets it up: with ``enabled: false`` a run only reports what it would send."""

    enabled: bool = False
    host: str = Field("localhost", min_length=1)
    #: default by ``security``: 587 (starttls), 465 (ssl), 25 (none)
    port: int | None = Field(None, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    #: log in as this user; the password is read from the environment variable ``password_env``
    username: str | None = None
    password_env: str = Field("ARSHJUL_SMTP_PASSWORD", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    sender: EmailAddress = "arshjul@localhost"
    #: a CA bundle (PEM) to trust instead of the system's, for a region's own certificates
    ca_file: str | None = None
    timeout_seconds: float = Field(30, gt=0)

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> SmtpSettings:
        if self.username is not None and self.security == "none":
            raise ValueError("username needs security starttls or ssl: never log in in clear")
        return self

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else SMTP_PORTS[self.security]


class StandoutRules(Strict):
    """Which enheter a roll-up's analysis names as standing out (:mod:`arshjul.analysis.
    standouts`): strict enough that the list names the few a region must look at, not most of
    its enheter (one late action in a small plan is the unit's own plan's business)."""

    #: at least this many deviations in the risk matrix's highest band make a cluster
    risk_cluster: int = Field(5, ge=1)
    #: last year's actions past their date: at least this many ...
    overdue_actions: int = Field(2, ge=1)
    #: ... and at least this share of the plan's actions
    overdue_share: float = Field(0.5, gt=0, le=1)


class Settings(Strict):
    region: Region
    targets: Targets = Targets()
    standouts: StandoutRules = StandoutRules()
    calendar: CalendarSettings = CalendarSettings()
    sign_off: SignOffSettings = SignOffSettings()
    smtp: SmtpSettings = SmtpSettings()


# --- recipients.yaml -----------------------------------------------------------------------


class Recipients(Strict):
    """Who is e-mailed about overdue steps: a unit's own address, else its owner role's,
    else ``default`` (the region's quality coordinator, who also answers questions)."""

    default: EmailAddress
    #: owner role as the wheel names it (any case) -> address, for every unit
    roles: dict[str, EmailAddress] = {}
    #: unit id (HSA-id) -> address, for every milestone of that unit
    units: dict[str, EmailAddress] = {}

    def address(self, unit_id: str, owner_role: str) -> str:
        if unit_id in self.units:
            return self.units[unit_id]
        by_role = {role.casefold(): address for role, address in self.roles.items()}
        return by_role.get(owner_role.casefold(), self.default)


# --- codes.yaml ----------------------------------------------------------------------------


class Codes(Strict):
    deviation_categories: tuple[str, ...]
    complaint_categories: tuple[str, ...]
    complaint_channels: tuple[str, ...]
    consequence: dict[int, str]
    probability: dict[int, str]
    #: risk bands: upper bound of score (inclusive) -> name
    risk_bands: dict[int, str]
    #: what patients wait for (vårdåtgärd) in waiting-list snapshots
    waiting_activities: tuple[str, ...]
    #: production measures (mått) planned and followed up per month
    production_measures: tuple[str, ...]
    #: roles in the training roster, and the courses every manager is to complete
    training_roles: tuple[str, ...]
    training_courses: tuple[str, ...]
    #: who owns an action (ansvarig), and the judged effect of a carried-out one (effekt)
    action_owner_roles: tuple[str, ...]
    action_effects: tuple[str, ...]

    def risk_band(self, score: int) -> str:
        for bound in sorted(self.risk_bands):
            if score <= bound:
                return self.risk_bands[bound]
        raise ValueError(f"risk score {score} is above every band")


# --- knowledge_areas.yaml ------------------------------------------------------------------

#: where the deviations of a category the mapping does not name are counted
UNMAPPED_KNOWLEDGE_AREA = "Ej kopplat till kunskapsområde"


class KnowledgeAreas(Strict):
    """Deviation category -> the knowledge areas (kunskapsstyrning) whose implementation its
    deviations help follow up; a category may belong to several areas, or to none."""

    categories: dict[str, tuple[Annotated[str, Field(min_length=1)], ...]]

    @property
    def areas(self) -> tuple[str, ...]:
        """Every knowledge area once, in the order the mapping first names it."""
        return tuple(dict.fromkeys(a for areas in self.categories.values() for a in areas))

    def areas_of(self, category: str) -> tuple[str, ...]:
        return self.categories.get(category) or (UNMAPPED_KNOWLEDGE_AREA,)


# --- safety_report.yaml -------------------------------------------------------------------


class SafetyReportText(Strict):
    """The patientsäkerhetsberättelse's narrative, one text per heading (paragraphs separated
    by a blank line); the figures beside them come from the data."""

    provider: str  # vårdgivare
    summary: str  # Sammanfattning
    structure: str  # Struktur
    collaboration: str  # Samverkan för att förebygga vårdskador
    participation: str  # Patienters och närståendes delaktighet
    reporting_duty: str  # Rapporteringsskyldighet
    complaints: str  # Klagomål och synpunkter
    self_inspection: str  # Egenkontroll
    process: str  # Process och åtgärder
    results: str  # Resultat och analys
    goals: str  # Mål och strategier för kommande år
    goal_list: tuple[str, ...] = ()  # the year's goals, one line each


# --- columns.yaml --------------------------------------------------------------------------


class Columns(Strict):
    """Extra spellings of column headers per kind: kind -> canonical column -> aliases."""

    aliases: dict[str, dict[str, tuple[str, ...]]]


# --- the wheel -----------------------------------------------------------------------------


class DateRule(Strict):
    """When a deadline falls in a calendar year.

    Exactly one of ``day``, ``last_working_day`` or ``nth_working_day`` is given, in each of
    ``months`` (``month`` is shorthand for one). ``year_offset`` moves it to another year.
    A day that is not a Swedish working day moves to the previous one unless ``shift`` is
    ``none``.
    """

    month: int | None = Field(None, ge=1, le=12)
    months: tuple[int, ...] = ()
    day: int | None = Field(None, ge=1, le=31)
    last_working_day: bool = False
    nth_working_day: int | None = Field(None, ge=1, le=23)
    year_offset: int = 0
    shift: Literal["previous_working_day", "none"] = "previous_working_day"

    @model_validator(mode="after")
    def _one_form(self) -> DateRule:
        forms = [self.day is not None, self.last_working_day, self.nth_working_day is not None]
        if sum(forms) != 1:
            raise ValueError("give exactly one of day, last_working_day, nth_working_day")
        if (self.month is None) == (not self.months):
            raise ValueError("give either month or months")
        if any(not 1 <= m <= 12 for m in self.months):
            raise ValueError("months must be 1..12")
        return self

    @property
    def all_months(self) -> tuple[int, ...]:
        return (self.month,) if self.month is not None else self.months


class Deadline(Strict):
    level: Level
    owner_role: str
    due: DateRule


class Milestone(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    description: str = ""
    step: Step | None = None
    #: for a milestone without a step: what shows it done, so that it has a status
    evidence: Evidence | None = None
    #: for interim reports: which period of the calendar year the milestone reports on
    period: Literal["T1", "T2", "year"] | None = None
    deadlines: tuple[Deadline, ...]
    reminder_days: tuple[int, ...] | None = None
    removed: bool = False
    #: when the step runs by itself on a server; default: ``schedule.lead_working_days``
    #: before the milestone's earliest deadline
    run: DateRule | None = None

    @model_validator(mode="after")
    def _step_or_evidence(self) -> Milestone:
        if self.step is not None and self.evidence is not None:
            raise ValueError("give a step or an evidence, not both: a step is its own evidence")
        return self

    @property
    def judged_by(self) -> Step | Evidence | None:
        """What the milestone's status is judged by; None: it has no status."""
        return self.step or self.evidence


class StepSchedule(Strict):
    """When the server runs the wheel's steps by themselves (``arshjul serve``)."""

    #: local time of day (the wheel's timezone) every scheduled run starts
    at: str = Field("06:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    #: a step runs this many working days before its milestone's earliest deadline, so that
    #: units have its documents in time to do their part
    lead_working_days: int = Field(5, ge=0, le=40)
    #: how many calendar years ahead the schedules are laid out (renewed at every start)
    years_ahead: int = Field(2, ge=1, le=5)


class Wheel(Strict):
    timezone: str = "Europe/Stockholm"
    schedule: StepSchedule = StepSchedule()
    milestones: tuple[Milestone, ...]

    @model_validator(mode="after")
    def _unique_ids(self) -> Wheel:
        seen: set[str] = set()
        for m in self.milestones:
            if m.id in seen:
                raise ValueError(f"milestone id {m.id!r} appears twice")
            seen.add(m.id)
        return self

    def milestone(self, milestone_id: str) -> Milestone:
        for m in self.milestones:
            if m.id == milestone_id:
                return m
        raise KeyError(milestone_id)


# --- loading -------------------------------------------------------------------------------


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _strings(data: Any, loc: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every text of ``data`` (keys too), with where it is."""
    if isinstance(data, str):
        yield loc, data
    elif isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str):
                yield (*loc, key), key
            yield from _strings(value, (*loc, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _strings(value, (*loc, i))


def _refuse_personnummer(data: Any, path: Path) -> None:
    """A region's texts are published as they are (its name on every page and calendar, the
    categories in every document, the milestones' titles in the calendars): a personnummer
    there is refused as in an input file (SPEC §4), masked in the message."""
    from arshjul.importers import personnummer  # here: the importers read the configuration

    places = list(_strings(data))
    found = personnummer.find_in([text for _, text in places])
    lines = [
        f"{path}: key {_key(loc)!r}, value {personnummer.mask(text)!r}: looks like a"
        " personnummer or samordningsnummer: it would be published; remove it"
        for loc, text in places
        if text in found
    ]
    if lines:
        raise ConfigError("\n".join(lines))


def parse_model(model: type[M], data: Any, path: Path) -> M:
    """Validate ``data`` read from ``path``; errors name the file, the key and the value."""
    _refuse_personnummer(data, path)
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            value = _lookup(data, loc)
            shown = "" if value is None else f", value {value!r}"
            lines.append(f"{path}: key {_key(loc)!r}{shown}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None


def _merge_wheel(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **{k: v for k, v in override.items() if k != "milestones"}}
    by_id = {m["id"]: m for m in base.get("milestones", [])}
    for m in override.get("milestones", []) or []:
        by_id[m.get("id")] = m
    merged["milestones"] = list(by_id.values())
    return merged


class Config:
    """Everything a region configures, parsed once."""

    def __init__(self, config_dir: Path | None = None, wheel_file: Path | None = None):
        self.dir = Path(config_dir) if config_dir else BUNDLED_CONFIG
        self.wheel_file = wheel_file or BUNDLED_WHEEL

    def path(self, name: str) -> Path:
        own = self.dir / name
        return own if own.exists() else BUNDLED_CONFIG / name

    def _load(self, model: type[M], name: str) -> M:
        path = self.path(name)
        return parse_model(model, read_yaml(path), path)

    @cached_property
    def settings(self) -> Settings:
        return self._load(Settings, "settings.yaml")

    @cached_property
    def codes(self) -> Codes:
        return self._load(Codes, "codes.yaml")

    @cached_property
    def knowledge_areas(self) -> KnowledgeAreas:
        """The mapping, checked against the deviation categories of ``codes.yaml``."""
        mapping = self._load(KnowledgeAreas, "knowledge_areas.yaml")
        known = set(self.codes.deviation_categories)
        path = self.path("knowledge_areas.yaml")
        unknown = [
            f"{path}: key 'categories.{c}', value {c!r}: not a deviation category of codes.yaml"
            for c in mapping.categories
            if c not in known
        ]
        if unknown:
            raise ConfigError("\n".join(unknown))
        return mapping

    @cached_property
    def columns(self) -> Columns:
        path = self.path("columns.yaml")
        return parse_model(Columns, {"aliases": read_yaml(path)}, path)

    @cached_property
    def wheel(self) -> Wheel:
        data = read_yaml(self.wheel_file)
        path = self.wheel_file
        override = self.dir / "arshjul.yaml"
        if override.exists():
            data = _merge_wheel(data or {}, read_yaml(override) or {})
            path = override
        return parse_model(Wheel, data, path)

    @cached_property
    def safety_report(self) -> SafetyReportText:
        return self._load(SafetyReportText, "safety_report.yaml")

    @cached_property
    def recipients(self) -> Recipients:
        """The reminder recipients, with every role checked against the wheel's owner roles."""
        recipients = self._load(Recipients, "recipients.yaml")
        known = {d.owner_role.casefold() for m in self.wheel.milestones for d in m.deadlines}
        path = self.path("recipients.yaml")
        unknown = [
            f"{path}: key 'roles.{role}', value {role!r}: not an owner role of the wheel"
            f" (known: {', '.join(sorted(known))})"
            for role in recipients.roles
            if role.casefold() not in known
        ]
        if unknown:
            raise ConfigError("\n".join(unknown))
        return recipients

    def validate(self) -> None:
        """Parse every file now, so a bad one fails before any work starts."""
        names = ("settings", "codes", "knowledge_areas", "columns", "wheel", "safety_report")
        for name in (*names, "recipients"):
            getattr(self, name)


def load_config(config_dir: str | os.PathLike[str] | None = None) -> Config:
    """The configuration in ``config_dir``, or ``ARSHJUL_CONFIG``, or the bundled one."""
    chosen = config_dir or os.environ.get("ARSHJUL_CONFIG")
    if chosen and not Path(chosen).is_dir():
        raise ConfigError(f"ARSHJUL_CONFIG: {chosen}: no such folder")
    config = Config(Path(chosen) if chosen else None)
    config.validate()
    return config


def default_data_year(today: date) -> int:
    """The last full calendar year: the year whose data the cycle compiles by default."""
    return today.year - 1
