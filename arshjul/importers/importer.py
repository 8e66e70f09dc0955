"""Importing one file: read, validate, store — all of it, or nothing and every problem."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection

from arshjul.config import Config
from arshjul.errors import InputError, Problem, UsageError
from arshjul.importers import personnummer
from arshjul.importers.kinds import BY_NAME
from arshjul.importers.read import read_sheet
from arshjul.importers.records import Context
from arshjul.importers.store import rows_of_earlier_import, save
from arshjul.importers.validate import validate
from arshjul.org import OrgTree


@dataclass(frozen=True)
class ImportResult:
    kind: str
    file: str
    #: distinct records in the file (an identical repeated row counts once)
    rows: int
    inserted: int
    updated: int
    unchanged: int
    #: the same file (the same bytes) was imported before: nothing was done
    already_imported: bool
    #: headers that are no column of this kind (free text among them): never stored
    ignored_columns: tuple[str, ...]
    #: rows not filled in (their kind's ``skip_when_empty`` column empty): not stored, and no
    #: problem — e.g. the prefilled rows of an action worksheet that got no action
    skipped: int = 0


def import_file(
    conn: Connection, config: Config, kind: str, path: Path, *, now: datetime
) -> ImportResult:
    """Import one file of ``kind`` (see SPEC §4) in a savepoint of ``conn``'s transaction.

    Either every record is stored (inserted, or updated by its key) or nothing is and an
    :class:`InputError` lists every problem in the file. The same bytes imported again
    change nothing. Identical repeated rows are stored once; the same key with different
    content is a problem. CSV files may be UTF-8 (with or without BOM), Windows-1252 or
    UTF-16 with a BOM, separated by ``,``, ``;`` or tab; XLSX is read from its first sheet.
    """
    spec = BY_NAME.get(kind)
    if spec is None:
        raise UsageError(f"KIND: {kind!r} is not one of {', '.join(BY_NAME)}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"FILE: {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"FILE: {path}: {exc.strerror}") from None
    sha256 = hashlib.sha256(data).hexdigest()
    earlier = rows_of_earlier_import(conn, kind, sha256)
    if earlier is not None:
        return ImportResult(kind, path.name, earlier, 0, 0, earlier, True, ())

    with conn.begin_nested():
        context = Context(config.codes, now.date(), OrgTree.load(conn).units, conn)
        aliases = config.columns.aliases.get(kind, {})
        records, ignored, skipped, problems = validate(
            read_sheet(path, data), spec, aliases, context
        )
        del data  # with the sheet, hundreds of MB for a large file: not kept while storing
        if problems:
            raise InputError(_presentable(problems))
        # the name is kept (documents say which files they are built from): never a person's
        file_name = personnummer.mask(path.name)
        inserted, updated = save(conn, spec, records, file_name=file_name, sha256=sha256, now=now)
    unchanged = len(records) - inserted - updated
    return ImportResult(
        kind, path.name, len(records), inserted, updated, unchanged, False, tuple(ignored), skipped
    )


def _presentable(problems: list[Problem]) -> list[Problem]:
    """In file order, with every personnummer masked wherever it shows up."""
    masked = [
        replace(
            p,
            column=p.column and personnummer.mask(p.column),
            value=p.value and personnummer.mask(p.value),
            reason=personnummer.mask(p.reason),
        )
        for p in problems
    ]
    return sorted(masked, key=lambda p: p.line or 0)
