"""Jinja rendering: one sandboxed environment for every document, Swedish number formats.

The environment is sandboxed because regions edit the templates: a template can format data,
never reach into Python objects' internals or the file system.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from arshjul.clock import local
from arshjul.config import LEVEL_SV, TEMPLATES_DIR

NBSP = "\u00a0"


def number(value: int | float | None, decimals: int = 0) -> str:
    """Swedish style: space between thousands, decimal comma; None as an en dash."""
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", NBSP).replace(".", ",")


def percent(value: float | None, decimals: int = 1) -> str:
    """``0.123`` as ``12,3 %``."""
    if value is None:
        return "–"
    return f"{number(value * 100, decimals)}{NBSP}%"


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def suppress(value: int, below: int = 5) -> str:
    """Counts 1..below-1 as ``<below`` (published documents); zero and larger as numbers."""
    if 0 < value < below:
        return f"<{below}"
    return number(value)


def iso_date(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return local(value).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


MONTHS_SV = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


@lru_cache(maxsize=4)
def environment(templates: Path = TEMPLATES_DIR) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(templates)),
        undefined=StrictUndefined,
        # the templates are named page.html.j2: the patterns must include the .j2 suffix
        autoescape=select_autoescape(enabled_extensions=("html.j2", "xml.j2"), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        number=number, percent=percent, suppress=suppress, iso=iso_date, level_sv=LEVEL_SV.get
    )
    env.globals.update(share=share, months_sv=MONTHS_SV)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
