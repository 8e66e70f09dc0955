"""Writing output files safely: atomically, and only inside the output folder."""

from __future__ import annotations

import functools
import itertools
import os
import re
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")
#: a new, private file that must not exist yet (a link in its place is refused, not followed)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: temporary names unique in this process; the process id makes them unique between processes
_SERIAL = itertools.count()


def slug(value: str) -> str:
    """A file-name-safe form of an id: letters, digits and hyphens only, never empty."""
    cleaned = _UNSAFE.sub("-", value).strip("-")
    return cleaned[:100] or "x"


def _create_temporary(path: Path) -> tuple[int, str]:
    """A new hidden file ``.<name>.<pid>-<n>.tmp`` beside ``path`` (its folder made when
    missing), open for writing. A name left over by a killed run of the same process id is
    skipped."""
    folder = os.fspath(path.parent)
    prefix = f"{folder}/.{path.name}.{os.getpid()}-"
    while True:
        tmp = f"{prefix}{next(_SERIAL)}.tmp"
        try:
            return os.open(tmp, _CREATE, 0o600), tmp
        except FileExistsError:
            continue
        except FileNotFoundError:
            if os.path.isdir(folder):
                raise
            os.makedirs(folder, exist_ok=True)  # the first file of a folder only


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never half.

    The temporary file lives in the same folder so that ``os.replace`` is a rename. A file
    costs five system calls (open, chmod, write, close, rename): the run writes tens of
    thousands.
    """
    fd, tmp = _create_temporary(path)
    try:
        try:
            # created private, then opened up: documents and feeds are meant to be served and
            # shared, whatever the umask
            os.fchmod(fd, 0o644)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_text_changed(path: Path, text: str) -> Path:
    """:func:`write_text_atomic`, unless ``path`` holds ``text`` already: a page every run
    writes again (an index) keeps its time stamp while it says the same."""
    return write_bytes_changed(path, text.encode("utf-8"))


def write_bytes_changed(path: Path, data: bytes) -> Path:
    """:func:`write_bytes_atomic`, unless ``path`` holds ``data`` already (its time stamp, and
    so a web server's Last-Modified and ETag, stay as they are)."""
    try:
        if path.read_bytes() == data:
            return path
    except FileNotFoundError:
        pass
    return write_bytes_atomic(path, data)


def inside(root: Path, *parts: str) -> Path:
    """``root / parts`` (with ``root`` resolved), refusing any part that would lead outside
    ``root``: ``..``, an absolute path, or one holding a path separator. The check is on the
    names alone (no file system call per path: it runs for every document written); links
    inside the output folder are an administrator's, never data's."""
    for part in parts:
        if part == ".." or os.sep in part or (os.altsep and os.altsep in part):
            raise ValueError(f"path {'/'.join(parts)!r} leaves the output folder {root}")
    return _resolved(root if root.is_absolute() else Path.cwd() / root).joinpath(*parts)


@functools.lru_cache(maxsize=32)
def _resolved(root: Path) -> Path:
    return root.resolve()
