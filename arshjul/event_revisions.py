"""SEQUENCE and LAST-MODIFIED of published events, kept per UID in ``calendar_event``.

A client updates an event it already has only when SEQUENCE rises, and a feed exported twice
should not look changed: so each UID's content hash is stored, and sequence and last-modified
move only when the hash does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from arshjul.models import CalendarEvent


@dataclass(frozen=True)
class Content:
    """What an event says now, as the hash of its properties other than its revision."""

    sha256: str
    cancelled: bool


@dataclass(frozen=True)
class Revision:
    sequence: int
    last_modified: datetime


class RevisionLog:
    """The revisions published so far; :meth:`revise` records the new ones."""

    def __init__(self, conn: Connection):
        self._conn = conn
        rows = conn.execute(
            select(
                CalendarEvent.uid,
                CalendarEvent.content_sha256,
                CalendarEvent.sequence,
                CalendarEvent.last_modified,
            )
        )
        self._known = {uid: (sha, Revision(seq, modified)) for uid, sha, seq, modified in rows}

    @property
    def uids(self) -> set[str]:
        return set(self._known)

    def revise(self, contents: Mapping[str, Content], now: datetime) -> dict[str, Revision]:
        """Each UID's revision: the stored one if its content is unchanged, else the next."""
        moment = now.astimezone(UTC).replace(microsecond=0)
        out: dict[str, Revision] = {}
        new: list[dict[str, object]] = []
        changed: list[dict[str, object]] = []
        for uid, content in contents.items():
            stored = self._known.get(uid)
            if stored is not None and stored[0] == content.sha256:
                out[uid] = stored[1]
                continue
            revision = Revision(0 if stored is None else stored[1].sequence + 1, moment)
            row = {
                "content_sha256": content.sha256,
                "sequence": revision.sequence,
                "last_modified": revision.last_modified,
                "cancelled": content.cancelled,
            }
            if stored is None:
                new.append({"uid": uid, **row})
            else:
                changed.append({"key": uid, **row})
            self._known[uid] = (content.sha256, revision)
            out[uid] = revision
        if new:
            self._conn.execute(insert(CalendarEvent), new)
        if changed:
            self._conn.execute(
                update(CalendarEvent).where(CalendarEvent.uid == bindparam("key")), changed
            )
        return out
