"""Importing one file: read, validate, store — all of it, or nothing and every problem."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection

from arshjul.config import Config
from arshjul.errors import InputError, Problem, UsageError
from arshjul.importers import personnummer
from arshjul.importers.kinds import BY_NAME
from arshjul.importers.read import sheets, survey
from arshjul.importers.records import Context
from arshjul.importers.store import Staging, page_cache, rows_of_earlier_import, store
from arshjul.importers.validate import Validator, repeated_keys
from arshjul.importers.values import mask_contact_details
from arshjul.org import OrgTree, no_organisation


@dataclass(frozen=True)
class ImportResult:
    kind: str
    #: the file's name, any personnummer in it masked
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
    #: rows not filled in (their kind's ``filled_in``): not stored, and no
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
        raise UsageError(f"{kind!r} is not one of {', '.join(BY_NAME)}", "kind")
    # the name is shown and kept (documents say which files they are built from): never a
    # person's identity number in it
    file_name = personnummer.mask(path.name)
    try:
        surveyed = survey(path, file_name)
    except FileNotFoundError:
        raise UsageError(f"{personnummer.mask(str(path))}: no such file", "file") from None
    except OSError as exc:
        raise UsageError(f"{personnummer.mask(str(path))}: {exc.strerror}", "file") from None
    earlier = rows_of_earlier_import(conn, kind, surveyed.sha256)
    if earlier is not None:
        return ImportResult(kind, file_name, earlier, 0, 0, earlier, True, ())

    with page_cache(conn), conn.begin_nested():
        tree = OrgTree.load(conn)
        if not tree and kind != "organisation":  # every other kind names units
            raise UsageError(no_organisation(tree.database))
        context = Context(config.codes, now.date(), tree.units, conn)
        aliases = config.columns.aliases.get(kind, {})
        validator: Validator | None = None
        staging: Staging | None = None
        for sheet in sheets(path, surveyed, file_name, whole=spec.whole_file):
            if validator is None:  # the first sheet has the file's header
                validator = Validator(spec, sheet.header, file_name, aliases, context)
                if validator.header_ok:
                    tally = spec.tally is not None and spec.tally not in validator.positions
                    staging = Staging(conn, spec, tally=tally)
            records = validator.check(sheet)
            if records is not None and staging is not None:
                staging.add(records)
        assert validator is not None  # there is always a sheet
        if staging is not None and staging.tally is None:
            later = repeated_keys(validator, staging)
            found = validator.found
            found.checks = [p for p in found.checks if p.line not in later]
        problems = validator.found.all()
        if problems:
            raise InputError(_presentable(problems, spec.swedish), swedish=bool(spec.swedish))
        assert staging is not None  # a header without problems
        rows, inserted, updated = store(
            conn, staging, file_name=file_name, sha256=surveyed.sha256, now=now
        )
    unchanged = rows - inserted - updated
    return ImportResult(
        kind,
        file_name,
        rows,
        inserted,
        updated,
        unchanged,
        False,
        tuple(validator.ignored),
        validator.skipped,
    )


#: a value longer than this is shown cut short: a message is read on a terminal
SHOWN = 100


def _shortened(value: str) -> str:
    return value if len(value) <= SHOWN else value[: SHOWN - 1] + "…"


def _presentable(
    problems: list[Problem], swedish: Callable[[str], str] | None = None
) -> list[Problem]:
    """With every personnummer masked wherever it shows up, and contact details in values
    (messages end up in logs and in Prefect's database); the reasons in Swedish for a kind
    filled in by Swedish staff."""
    say = swedish or str
    return [
        replace(
            p,
            column=p.column and personnummer.mask(p.column),
            value=p.value and _shortened(mask_contact_details(personnummer.mask(p.value))),
            reason=personnummer.mask(say(p.reason)),
        )
        for p in problems
    ]
