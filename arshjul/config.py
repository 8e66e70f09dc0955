"""Configuration: read once from YAML into typed models.

Every file is looked up first in the region's config folder (``ARSHJUL_CONFIG``) and then in
the folder bundled with arshjul, so a region overrides only what it needs. The wheel lives in
``calendar/arshjul.yaml``; a region's ``arshjul.yaml`` in its config folder replaces milestones
by id and adds new ones.
"""

from __future__ import annotations

import os
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from arshjul.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CONFIG = PROJECT_ROOT / "config"
BUNDLED_WHEEL = PROJECT_ROOT / "calendar" / "arshjul.yaml"
TEMPLATES_DIR = PROJECT_ROOT / "templates"

LEVELS = ("region", "area", "department", "unit")
Level = Literal["region", "area", "department", "unit"]
#: Swedish names of the levels, as in documents and calendars
LEVEL_SV = {"region": "region", "area": "område", "department": "verksamhet", "unit": "enhet"}
Step = Literal["compile", "analyse", "action_plan", "safety_report", "interim_report"]


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


class CalendarSettings(Strict):
    base_url: str = Field("http://127.0.0.1:8080", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    refresh_hours: int = Field(12, ge=1)
    reminder_days: tuple[int, ...] = (14, 3)
    #: serve each unit's feed only under a secret token path (``arshjul calendar tokens``)
    unit_tokens: bool = False


class Settings(Strict):
    region: Region
    targets: Targets = Targets()
    calendar: CalendarSettings = CalendarSettings()


# --- codes.yaml ----------------------------------------------------------------------------


class Codes(Strict):
    deviation_categories: tuple[str, ...]
    complaint_categories: tuple[str, ...]
    complaint_channels: tuple[str, ...]
    consequence: dict[int, str]
    probability: dict[int, str]
    #: risk bands: upper bound of score (inclusive) -> name
    risk_bands: dict[int, str]

    def risk_band(self, score: int) -> str:
        for bound in sorted(self.risk_bands):
            if score <= bound:
                return self.risk_bands[bound]
        raise ValueError(f"risk score {score} is above every band")


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
    #: for interim reports: which period of the calendar year the milestone reports on
    period: Literal["T1", "T2", "year"] | None = None
    deadlines: tuple[Deadline, ...]
    reminder_days: tuple[int, ...] | None = None
    removed: bool = False


class Wheel(Strict):
    timezone: str = "Europe/Stockholm"
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


def parse_model(model: type[M], data: Any, path: Path) -> M:
    """Validate ``data`` read from ``path``; errors name the file, the key and the value."""
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

    def validate(self) -> None:
        """Parse every file now, so a bad one fails before any work starts."""
        for name in ("settings", "codes", "columns", "wheel"):
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
