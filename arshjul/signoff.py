"""Sign-off (fastställande): numbered versions of a document, each decided at most once.

Design
------
* A document that needs a sign-off (the region's patientsäkerhetsberättelse, the region's
  action plan) is written under its plain name, e.g. ``patientsakerhetsberattelse.html`` — always
  the latest version — and copied to ``patientsakerhetsberattelse-v<N>.html``.
* A version is *decided* when ``sign_off`` holds a row for it: approved (fastställd) or
  returned (återremitterad, with a comment). The table has at most one row per version (its
  unique index), so the decision is the record and is never updated.
* The current draft is version ``N = 1 + the highest decided version``. A rerun while N is
  undecided rewrites N's files; once N is decided, the next run writes N+1. A decided
  version's file is never written again: :func:`write_draft` and :func:`record` refuse with
  :class:`ConflictError`.
* A rerun whose document says what the last approved version says (the same data; only the
  footer's run and time differ) makes no new version: the approved one stands
  (:func:`still_approved`), so rerunning an unchanged cycle never asks for sign-off again.
* A version without a row is awaiting sign-off: the document itself says "Utkast – väntar på
  fastställande". On a Prefect server the question is kept in ``sign_off_request`` (one row
  per document, the version asked about and the flow run that asks) until the version is
  decided or the asking run ends without a decision; ``sign_off`` stays append-only.
* Every document carries a sign-off block between :data:`BLOCK_START` and :data:`BLOCK_END`
  (``{% include "sign_off.html.j2" %}`` with ``sign_off`` a :class:`Stamp` in the context).
  When a version is decided, the block is rendered again with the decision and replaced in
  the version's HTML; the sha256 recorded is that of the decided file, so anyone can check
  that ``-v<N>.html`` is the document as it was fastställd.
* A published document's PDF (:data:`arshjul.documents.PUBLISHED`) follows its HTML: each
  version has its ``-v<N>.pdf``, written again when the version is decided.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from arshjul.documents import PUBLISHED, docx_path, pdf_path
from arshjul.errors import ConflictError
from arshjul.files import write_bytes_atomic
from arshjul.formats.docx import write_docx
from arshjul.formats.pdf import write_pdf
from arshjul.formats.tables import parse_html
from arshjul.models import SignOff, SignOffRequest, SignOffState
from arshjul.render import render

SIGN_OFF = SignOff.__table__

BLOCK_START = "<!-- arshjul:sign-off -->"
BLOCK_END = "<!-- /arshjul:sign-off -->"
BLOCK_TEMPLATE = "sign_off.html.j2"

#: ``signed_by`` of an approval given with ``--approve`` (the demo; no person decided)
AUTOMATIC = "automatiskt godkänd (arshjul run --approve)"

#: what a person is asked to fastställa, in Swedish (``document`` is a code name)
DOCUMENT_NAMES = {
    "safety_report": "patientsäkerhetsberättelse",
    "action_plan": "handlingsplan",
}


def title(document: str, period: str, version: int) -> str:
    """``Fastställ patientsäkerhetsberättelse 2025, version 1``: the question, in Swedish."""
    return f"Fastställ {DOCUMENT_NAMES[document]} {period}, version {version}"


@dataclass(frozen=True)
class Stamp:
    """What a document says about its sign-off."""

    version: int
    state: Literal["draft", "approved", "returned"]
    role: str
    signed_by: str | None = None
    at: datetime | None = None
    comment: str | None = None


@dataclass(frozen=True)
class Draft:
    """One version of one document: ``latest`` is the plain name, ``path`` the versioned."""

    document: str
    period: str
    unit_id: str
    version: int
    latest: Path

    @property
    def path(self) -> Path:
        return versioned_path(self.latest, self.version)

    @property
    def key(self) -> dict[str, Any]:
        """The version's columns in ``sign_off`` and ``sign_off_request``."""
        return {
            "document": self.document,
            "period": self.period,
            "unit_id": self.unit_id,
            "version": self.version,
        }

    def result(
        self,
        state: Literal["approved", "returned", "awaiting"],
        role: str,
        signed_by: str | None = None,
        at: datetime | None = None,
        comment: str | None = None,
        sha256: str | None = None,
    ) -> SignOffResult:
        """Where this version stands."""
        return SignOffResult(
            self.document,
            self.period,
            self.unit_id,
            self.version,
            state,
            self.path,
            self.latest,
            role,
            signed_by,
            at,
            comment,
            sha256,
        )


@dataclass(frozen=True)
class Decision:
    approved: bool
    signed_by: str
    role: str
    at: datetime
    comment: str | None = None


@dataclass(frozen=True)
class SignOffResult:
    """Where a version stands after a sign-off was asked for."""

    document: str
    period: str
    unit_id: str
    version: int
    state: Literal["approved", "returned", "awaiting"]
    path: Path  # the version's own file
    latest: Path
    role: str
    signed_by: str | None = None
    at: datetime | None = None
    comment: str | None = None
    sha256: str | None = None


def versioned_path(latest: Path, version: int) -> Path:
    """``x.html`` → ``x-v3.html``."""
    return latest.with_name(f"{latest.stem}-v{version}{latest.suffix}")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _key(document: str, period: str, unit_id: str) -> tuple[ColumnElement[bool], ...]:
    return (SignOff.document == document, SignOff.period == period, SignOff.unit_id == unit_id)


def current_version(conn: Connection, document: str, period: str, unit_id: str) -> int:
    """The version a run writes now: one above the highest decided version."""
    highest = conn.execute(
        select(func.max(SignOff.version)).where(*_key(document, period, unit_id))
    ).scalar_one()
    return (highest or 0) + 1


def draft_stamp(conn: Connection, document: str, period: str, unit_id: str, role: str) -> Stamp:
    """The stamp of the version a run writes now (for the template's context)."""
    return Stamp(current_version(conn, document, period, unit_id), "draft", role)


def decided(conn: Connection, draft: Draft) -> Row[Any] | None:
    """The decision recorded for ``draft``'s version (a ``sign_off`` row), if any."""
    return conn.execute(
        select(SIGN_OFF).where(
            *_key(draft.document, draft.period, draft.unit_id), SignOff.version == draft.version
        )
    ).first()


def _refuse_decided(conn: Connection, draft: Draft) -> None:
    row = decided(conn, draft)
    if row is not None:
        raise ConflictError(
            f"{draft.path}: version {draft.version} of {draft.document} {draft.period} was"
            f" {'fastställd' if row.state is SignOffState.APPROVED else 'återremitterad'}"
            f" {row.at:%Y-%m-%d} (sha256 {row.sha256}); a decided version is never overwritten"
        )


def write_draft(
    conn: Connection, document: str, period: str, unit_id: str, latest: Path, version: int
) -> Draft:
    """Copy the just written ``latest`` to version ``version``'s file; refuses a decided one."""
    draft = Draft(document, period, unit_id, version, latest)
    _refuse_decided(conn, draft)
    write_bytes_atomic(draft.path, latest.read_bytes())
    _pdfs_follow(latest, draft)
    return draft


def _pdfs_follow(source: Path, draft: Draft, *, render: bool = False) -> None:
    """A published document's two PDFs (the version's and the latest's) become that of
    ``source``, one of its two HTML files: written from it when ``render`` or missing, else
    copied."""
    if draft.latest.name not in PUBLISHED:
        return
    pdf = pdf_path(source)
    if render or not pdf.exists():
        write_pdf(pdf, source.read_text("utf-8"))
    data = pdf.read_bytes()
    for html in {draft.path, draft.latest} - {source}:
        write_bytes_atomic(pdf_path(html), data)


def open_draft(conn: Connection, document: str, period: str, unit_id: str, latest: Path) -> Draft:
    """The current version of the document just written at ``latest``, kept as its own file."""
    version = current_version(conn, document, period, unit_id)
    return write_draft(conn, document, period, unit_id, latest, version)


def stamp_html(html: str, stamp: Stamp) -> str:
    """``html`` with its sign-off block showing ``stamp``."""
    start, end = html.find(BLOCK_START), html.find(BLOCK_END)
    if start < 0 or end < start or html.count(BLOCK_START) != 1:
        raise ValueError(f"the document has no single sign-off block ({BLOCK_TEMPLATE})")
    block = render(BLOCK_TEMPLATE, sign_off=stamp)
    return html[:start] + block.strip() + html[end + len(BLOCK_END) :]


def record(conn: Connection, draft: Draft, decision: Decision, run_id: str) -> SignOffResult:
    """Record the decision on ``draft``: stamp its version's file (and the latest, which is
    the same version) and store the sha256 of the stamped file. Refuses a decided version.
    Call it inside a transaction: if writing the files fails, the row is rolled back."""
    _refuse_decided(conn, draft)
    state: Literal["approved", "returned"] = "approved" if decision.approved else "returned"
    stamp = Stamp(
        draft.version, state, decision.role, decision.signed_by, decision.at, decision.comment
    )
    data = stamp_html(draft.path.read_text("utf-8"), stamp).encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    # the row first: a version decided by another run meanwhile fails here, files untouched
    try:
        conn.execute(
            insert(SignOff).values(
                **draft.key,
                state=SignOffState.APPROVED if decision.approved else SignOffState.RETURNED,
                role=decision.role,
                signed_by=decision.signed_by,
                comment=decision.comment,
                sha256=digest,
                run_id=run_id,
                at=decision.at,
            )
        )
    except IntegrityError:
        raise ConflictError(
            f"{draft.path}: version {draft.version} was decided by another run meanwhile"
        ) from None
    # the question is answered: nothing waits for this version any more
    conn.execute(delete(SignOffRequest).where(*_request_key(draft)))
    write_bytes_atomic(draft.path, data)
    write_bytes_atomic(draft.latest, data)
    # the DOCX beside the latest version, for editing, and the PDFs show the decision too
    write_docx(docx_path(draft.latest), parse_html(data.decode("utf-8")), created=decision.at)
    _pdfs_follow(draft.path, draft, render=True)
    return draft.result(
        state, decision.role, decision.signed_by, decision.at, decision.comment, digest
    )


def recorded_by(conn: Connection, draft: Draft, run_id: str) -> SignOffResult | None:
    """The decision on ``draft``'s version that run ``run_id`` recorded, if it did: a retry
    of the run's recording whose first commit went through although the database's answer
    was lost finds its own decision here and does not record again."""
    row = decided(conn, draft)
    if row is None or row.run_id != run_id:
        return None
    state: Literal["approved", "returned"] = (
        "approved" if row.state is SignOffState.APPROVED else "returned"
    )
    return draft.result(state, row.role, row.signed_by, row.at, row.comment, row.sha256)


def awaiting(draft: Draft, role: str) -> SignOffResult:
    """The result for a version left undecided (its document says it awaits sign-off)."""
    return draft.result("awaiting", role)


def history(conn: Connection, document: str, period: str, unit_id: str) -> list[Row[Any]]:
    """Every decision on the document (``sign_off`` rows), oldest version first."""
    rows = conn.execute(
        select(SIGN_OFF).where(*_key(document, period, unit_id)).order_by(SignOff.version)
    )
    return list(rows)


def _content(html: str) -> str:
    """What a version says, without what every run changes: its sign-off block (version
    number, state) and its footer (which run wrote it, when)."""
    start, end = html.find(BLOCK_START), html.find(BLOCK_END)
    if 0 <= start < end:
        html = html[:start] + html[end + len(BLOCK_END) :]
    return _FOOTER.sub("", html)


_FOOTER = re.compile(r"<footer>.*?</footer>", re.DOTALL)


def still_approved(
    conn: Connection, document: str, period: str, unit_id: str, latest: Path
) -> SignOffResult | None:
    """When the document just written at ``latest`` says what its last approved version says
    (a rerun on the same data), that version stands: ``latest`` becomes its file again and no
    new version is made. None when the content changed or the last decision was a return."""
    version = current_version(conn, document, period, unit_id) - 1
    if version < 1:
        return None
    draft = Draft(document, period, unit_id, version, latest)
    row = decided(conn, draft)
    if row is None or row.state is not SignOffState.APPROVED or not draft.path.exists():
        return None
    approved = draft.path.read_bytes()
    if _content(approved.decode("utf-8")) != _content(latest.read_text("utf-8")):
        return None
    write_bytes_atomic(latest, approved)
    write_docx(docx_path(latest), parse_html(approved.decode("utf-8")), created=row.at)
    _pdfs_follow(draft.path, draft)
    return draft.result("approved", row.role, row.signed_by, row.at, row.comment, row.sha256)


# --- versions waiting for a decision on a Prefect server ------------------------------------


@dataclass(frozen=True)
class Request:
    """A version waiting for its decision (a ``sign_off_request`` row)."""

    draft: Draft
    #: :func:`content_sha256` of the version when asked
    content_sha256: str
    role: str
    asked_by_run: str
    asked_at: datetime
    #: the ``sign_off`` flow run that waits for the decision; None until it exists
    flow_run_id: str | None

    def still_asked(self, conn: Connection) -> bool:
        """Whether this is still the open question, its version's file saying what it said
        when asked (a rerun of the step may have rewritten it, and asked again)."""
        now = pending(conn, self.draft.document, self.draft.period, self.draft.unit_id)
        return (
            now is not None
            and (now.draft.version, now.content_sha256, now.asked_by_run)
            == (self.draft.version, self.content_sha256, self.asked_by_run)
            and self.draft.path.exists()
            and content_sha256(self.draft.path) == self.content_sha256
        )


def _request_key(draft: Draft) -> tuple[ColumnElement[bool], ...]:
    return (
        SignOffRequest.document == draft.document,
        SignOffRequest.period == draft.period,
        SignOffRequest.unit_id == draft.unit_id,
    )


def _request(row: Row[Any]) -> Request:
    draft = Draft(row.document, row.period, row.unit_id, row.version, Path(row.latest))
    return Request(
        draft, row.content_sha256, row.role, row.asked_by_run, row.asked_at, row.flow_run_id
    )


def content_sha256(path: Path) -> str:
    """The SHA-256 of what the document at ``path`` says (:func:`_content`: not which run
    wrote it when, nor its sign-off block)."""
    return hashlib.sha256(_content(path.read_text("utf-8")).encode("utf-8")).hexdigest()


def ask(
    conn: Connection, draft: Draft, role: str, run_id: str, now: datetime
) -> tuple[Request, Request | None]:
    """Note that ``draft`` waits for a decision by ``role``, asked by the step run ``run_id``;
    returns the open question, and the one it replaced, if any. A question open for the same
    version whose file says the same is kept, with the run asking it; one about other words
    (a rerun on other data rewrote the version) or an older version is replaced."""
    digest = content_sha256(draft.path)
    held = pending(conn, draft.document, draft.period, draft.unit_id)
    if held is not None and (held.draft.version, held.content_sha256) == (draft.version, digest):
        return held, None
    conn.execute(delete(SignOffRequest).where(*_request_key(draft)))
    conn.execute(
        insert(SignOffRequest).values(
            **draft.key,
            latest=str(draft.latest.resolve()),
            content_sha256=digest,
            role=role,
            asked_by_run=run_id,
            asked_at=now,
            flow_run_id=None,
        )
    )
    return Request(draft, digest, role, run_id, now, None), held


def pending(conn: Connection, document: str, period: str, unit_id: str) -> Request | None:
    """The question open for the document, if any."""
    row = conn.execute(
        select(SignOffRequest.__table__).where(
            SignOffRequest.document == document,
            SignOffRequest.period == period,
            SignOffRequest.unit_id == unit_id,
        )
    ).first()
    return None if row is None else _request(row)


def every_pending(conn: Connection) -> list[Request]:
    """Every open question, oldest first."""
    rows = conn.execute(select(SignOffRequest.__table__).order_by(SignOffRequest.asked_at))
    return [_request(row) for row in rows]


def _this(request: Request) -> tuple[ColumnElement[bool], ...]:
    """The row of ``request`` itself, not of a question that replaced it."""
    return (
        *_request_key(request.draft),
        SignOffRequest.version == request.draft.version,
        SignOffRequest.asked_by_run == request.asked_by_run,
    )


def asked_by(conn: Connection, request: Request, flow_run_id: str | None) -> Request:
    """Note ``flow_run_id`` as the run that asks ``request``'s question."""
    conn.execute(update(SignOffRequest).where(*_this(request)).values(flow_run_id=flow_run_id))
    return dataclasses.replace(request, flow_run_id=flow_run_id)


def withdraw(conn: Connection, request: Request) -> None:
    """Close ``request``'s question undecided: the version stays awaiting sign-off until the
    step is run again, which asks again."""
    conn.execute(delete(SignOffRequest).where(*_this(request)))
