"""Jinja rendering: one sandboxed environment for every document, Swedish number formats.

The environment is sandboxed because regions edit the templates: a template can format data,
never reach into Python objects' internals or the file system.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from types import CodeType, FrameType, TracebackType
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, meta, select_autoescape
from jinja2.sandbox import (
    UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    UNSAFE_COROUTINE_ATTRIBUTES,
    UNSAFE_FUNCTION_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    UNSAFE_METHOD_ATTRIBUTES,
    SandboxedEnvironment,
)

from arshjul.clock import local
from arshjul.config import KIND_SV, LEVEL_SV
from arshjul.resources import bundled

NBSP = "\u00a0"


def number(value: int | float | None, decimals: int = 0) -> str:
    """Swedish style: space between thousands, decimal comma; None as an en dash."""
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", NBSP).replace(".", ",")


def agree(value: int | str, singular: str, plural: str) -> str:
    """The word that agrees with a count: ``singular`` for one, ``plural`` otherwise (zero
    and every other count take the plural in Swedish, as in English). A count as a published
    document prints it (``1``, ``<5``, ``..``) agrees by what it shows: only ``1`` is one."""
    return singular if value in (1, "1") else plural


def counted(value: int, singular: str, plural: str) -> str:
    """``1 avvikelse``, ``2 avvikelser``: a count and the noun that agrees with it."""
    return f"{number(value)} {agree(value, singular, plural)}"


def percent(value: float | None, decimals: int = 1) -> str:
    """``0.123`` as ``12,3 %``."""
    if value is None:
        return "–"
    return f"{number(value * 100, decimals)}{NBSP}%"


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


#: small whole numbers in words, as Swedish prose writes them (the common gender: "en")
NUMBER_WORDS_SV = ("noll", "en", "två", "tre", "fyra", "fem", "sex", "sju", "åtta", "nio", "tio")


def words(value: int) -> str:
    """A number of a rule in a sentence in words (``3`` → ``tre``), so that a published
    document's text holds no digit 1-4 that a reader could take for a suppressed count;
    beyond ten as a number."""
    return NUMBER_WORDS_SV[value] if 0 <= value < len(NUMBER_WORDS_SV) else number(value)


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


#: attribute names that jinja2's sandbox refuses on some kinds of object only
_SPECIAL_ATTRIBUTES = frozenset(
    {"mro"}
    | UNSAFE_FUNCTION_ATTRIBUTES
    | UNSAFE_METHOD_ATTRIBUTES
    | UNSAFE_GENERATOR_ATTRIBUTES
    | UNSAFE_COROUTINE_ATTRIBUTES
    | UNSAFE_ASYNC_GENERATOR_ATTRIBUTES
)
#: objects none of whose attributes a template may read
_INTERNAL_TYPES = (CodeType, TracebackType, FrameType)


class Sandbox(SandboxedEnvironment):
    """jinja2's sandbox, with its attribute check made cheap for the usual case.

    Every ``x.y`` in a template asks ``is_safe_attribute``; jinja2's answer runs a chain of
    type checks each time (a third of a document's rendering). Here an attribute that does not
    start with ``_`` and is none of the names jinja2 refuses on particular objects is decided by
    one check, as jinja2 decides it: refused only on code, traceback and frame objects; the
    rest goes to jinja2's own check.
    """

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_"):
            return False
        if attr in _SPECIAL_ATTRIBUTES:
            return super().is_safe_attribute(obj, attr, value)
        return not isinstance(obj, _INTERNAL_TYPES)


@lru_cache(maxsize=4)
def environment(templates: Path | None = None) -> SandboxedEnvironment:
    """The one environment, on ``templates`` (default: the templates shipped with arshjul)."""
    env = Sandbox(
        loader=FileSystemLoader(str(templates or bundled("templates"))),
        undefined=StrictUndefined,
        # the templates are named page.html.j2: the patterns must include the .j2 suffix
        autoescape=select_autoescape(enabled_extensions=("html.j2", "xml.j2"), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        number=number,
        counted=counted,
        agree=agree,
        percent=percent,
        suppress=suppress,
        words=words,
        iso=iso_date,
        level_sv=LEVEL_SV.get,
        kind_sv=lambda kind: KIND_SV.get(kind, kind),
    )
    env.globals.update(share=share, months_sv=MONTHS_SV)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def compile_templates(template: str) -> None:
    """Compile ``template`` and every template it extends, includes or imports, so that
    processes forked afterwards (:mod:`arshjul.parallel`) inherit them compiled."""
    env = environment()
    todo, seen = [template], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        env.get_template(name)
        source = env.loader.get_source(env, name)[0] if env.loader else ""
        todo.extend(n for n in meta.find_referenced_templates(env.parse(source)) if n)
