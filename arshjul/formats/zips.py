"""Zip archives whose bytes depend only on their content: the container of DOCX and XLSX.

Office files are zip packages; ours are written with fixed timestamps and no extras, so the
same document gives the same bytes (golden tests, and a rewrite that changes nothing changes
no file).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from arshjul.clock import local


class Deflated(NamedTuple):
    """A zip entry's data compressed once: parts every document shares are not compressed
    again for each one."""

    data: bytes
    crc: int
    size: int


def deflate(data: bytes) -> Deflated:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)  # raw deflate, as zip stores it
    return Deflated(packer.compress(data) + packer.flush(), zlib.crc32(data), len(data))


def stable_zip(entries: Iterable[tuple[str, bytes | Deflated]], when: datetime) -> bytes:
    """A zip archive (deflated entries, ASCII names) whose bytes depend only on its entries and
    ``when`` (in local time, which is what zip stores): no wall clock, no umask, no extras."""
    t = local(when)
    dos_time = t.hour << 11 | t.minute << 5 | t.second // 2
    dos_date = (t.year - 1980) << 9 | t.month << 5 | t.day
    out = io.BytesIO()
    directory = []
    for name, data in entries:
        entry = data if isinstance(data, Deflated) else deflate(data)
        encoded = name.encode("ascii")
        fields = (8, dos_time, dos_date, entry.crc, len(entry.data), entry.size, len(encoded))
        offset = out.tell()
        out.write(struct.pack("<4s3H2H3L2H", b"PK\x03\x04", 20, 0, *fields, 0))
        out.write(encoded)
        out.write(entry.data)
        directory.append(
            struct.pack(
                "<4s4H2H3L5H2L",
                b"PK\x01\x02",
                3 << 8 | 20,
                20,
                0,
                *fields,
                0,
                0,
                0,
                0,
                0o644 << 16,
                offset,
            )
            + encoded
        )
    start = out.tell()
    out.write(b"".join(directory))
    size = out.tell() - start
    out.write(
        struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(directory), len(directory), size, start, 0)
    )
    return out.getvalue()
