"""What a document is rendered from, as one SHA-256: its template, the values it is rendered
with, and the version of everything else rendering reads (the templates, arshjul's code, Jinja
and MarkupSafe). Two renders with the same key give the same HTML, so a document whose key is
the one it was last rendered from need not be rendered again to know it would say the same
(:mod:`arshjul.documents`).

The values are walked by their content, never by identity: numbers, text, dates, enums,
mappings and sequences in their order (a template lists them in that order), sets in a fixed
order, dataclasses and pydantic models field by field, and functions (the templates call a few
from their context) by their name, place in the code and what they close over. A value of any
other kind makes the context unkeyable (:class:`Unkeyable`): the document is rendered, never
keyed by chance.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import types
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from typing import Any

from pydantic import BaseModel

_PLAIN = (bool, int, float, str, bytes, date, datetime, time, timedelta, Decimal, type(None))


class Unkeyable(TypeError):
    """A context holding a value :func:`key` cannot walk by content."""


@functools.cache
def code_version() -> str:
    """The SHA-256 of arshjul's code and templates (every file of the package) and the
    versions of Jinja and MarkupSafe: what renders a context, besides the context. Read once
    per process (a change of code is a new process: a restart, as for every upgrade)."""
    digest = hashlib.sha256()
    for name in ("jinja2", "markupsafe"):
        digest.update(f"{name} {metadata.version(name)}\0".encode())

    def walk(folder: Traversable, prefix: str) -> None:
        for item in sorted(folder.iterdir(), key=lambda i: i.name):
            if item.name == "__pycache__":
                continue
            if item.is_dir():
                walk(item, f"{prefix}{item.name}/")
            elif item.name.endswith((".py", ".j2", ".css", ".yaml", ".yml", ".svg")):
                digest.update(f"{prefix}{item.name}\0".encode())
                digest.update(item.read_bytes())

    walk(resources.files("arshjul"), "")
    return digest.hexdigest()


def key(template: str, context: Mapping[str, Any]) -> str:
    """The SHA-256 of rendering ``template`` with ``context`` by this code (:func:`code_version`);
    :class:`Unkeyable` when a value cannot be walked by its content."""
    digest = hashlib.sha256(f"{code_version()}\0{template}\0".encode())
    _feed(digest, dict(context), set())
    return digest.hexdigest()


def _tag(digest: Any, value: object) -> None:
    kind = type(value)
    digest.update(f"<{kind.__module__}.{kind.__qualname__}>".encode())


def _feed(digest: Any, value: Any, walking: set[int]) -> None:
    """Add ``value`` to ``digest``; ``walking``: the functions being walked (one that closes
    over itself, a recursive one, is walked once)."""
    _tag(digest, value)
    if isinstance(value, _PLAIN):
        # repr keeps the type's meaning (1 and True and "1" differ, a datetime's zone is in it)
        digest.update(repr(value).encode("utf-8", "surrogatepass"))
    elif isinstance(value, enum.Enum):
        _feed(digest, value.value, walking)
    elif isinstance(value, Mapping):
        digest.update(f"{len(value)}{{".encode())
        for k, v in value.items():
            _feed(digest, k, walking)
            _feed(digest, v, walking)
    elif isinstance(value, list | tuple):
        digest.update(f"{len(value)}[".encode())
        for item in value:
            _feed(digest, item, walking)
    elif isinstance(value, set | frozenset):
        # a set's order is the process's: its items in the order of their own keys
        items = []
        for item in value:
            own = hashlib.sha256()
            _feed(own, item, walking)
            items.append(own.digest())
        digest.update(f"{len(items)}(".encode() + b"".join(sorted(items)))
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            digest.update(f"{f.name}=".encode())
            _feed(digest, getattr(value, f.name), walking)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            digest.update(f"{name}=".encode())
            _feed(digest, getattr(value, name), walking)
    elif isinstance(value, types.FunctionType):
        # which function (two lambdas of a line differ in their code), and what it closes over
        digest.update(f"{value.__module__}:{value.__qualname__}".encode())
        _feed(digest, value.__code__, walking)
        if id(value) in walking:
            return
        walking.add(id(value))
        _feed(digest, value.__defaults__, walking)
        _feed(digest, value.__kwdefaults__, walking)
        _feed(digest, [cell.cell_contents for cell in value.__closure__ or ()], walking)
        walking.discard(id(value))
    elif isinstance(value, types.CodeType):
        digest.update(f"{value.co_firstlineno}:".encode() + value.co_code)
        _feed(digest, value.co_consts, walking)
    elif isinstance(value, types.MethodType):
        _feed(digest, value.__func__, walking)
        _feed(digest, value.__self__, walking)
    elif isinstance(value, functools.partial):
        _feed(digest, (value.func, value.args, value.keywords), walking)
    elif isinstance(value, types.BuiltinFunctionType | type):
        digest.update(f"{value.__module__}.{value.__qualname__}".encode())
    else:
        raise Unkeyable(f"no key for a {type(value).__qualname__} in a document's context")
