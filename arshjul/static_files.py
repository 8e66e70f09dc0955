"""The files a feed server may publish: only under one folder, never hidden, of known types.

Served from memory and re-read when a file changes on disk; each with its ETag (a hash of its
bytes) and its modification time for Last-Modified.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote, urlsplit

CONTENT_TYPES = {
    ".ics": "text/calendar; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
HOME = "/calendar/"
CACHE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Resource:
    body: bytes
    content_type: str
    etag: str
    #: whole seconds since the epoch, as Last-Modified says it
    modified: int

    @cached_property  # formatted once, not on every request
    def last_modified(self) -> str:
        return email.utils.formatdate(self.modified, usegmt=True)


@dataclass(frozen=True)
class Redirect:
    location: str


class StaticFiles:
    """The files under ``root`` a request may name, cached in memory up to ``limit`` bytes."""

    def __init__(self, root: Path, limit: int = CACHE_BYTES):
        self.root = root.resolve()
        self._limit = limit
        self._size = 0
        self._root = str(self.root)
        self._entries: OrderedDict[str, tuple[tuple[int, int, int], Resource]] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, target: str) -> Resource | Redirect | None:
        """What a request target names: a file, a redirect to a folder's page, or nothing."""
        path = urlsplit(target).path
        if path == "/":
            return Redirect(HOME)
        parts = _path_parts(path)
        if parts is None:
            return None
        if not parts[-1]:
            parts[-1] = "index.html"
        elif "." not in parts[-1] and self.root.joinpath(*parts).is_dir():
            return Redirect(path + "/")
        return self._file(parts)

    def _file(self, parts: list[str]) -> Resource | None:
        content_type = CONTENT_TYPES.get(os.path.splitext(parts[-1])[1].lower())
        if content_type is None:
            return None
        file = os.path.join(self._root, *parts)
        try:
            info = os.stat(file)
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        # a link re-pointed elsewhere has another inode: the cached bytes are not reused
        key = (info.st_mtime_ns, info.st_size, info.st_ino)
        with self._lock:
            hit = self._entries.get(file)
            if hit is not None and hit[0] == key:
                self._entries.move_to_end(file)
                return hit[1]
        if not Path(file).resolve().is_relative_to(self.root):
            return None  # a symbolic link out of the folder
        try:
            body = Path(file).read_bytes()
        except OSError:
            return None
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        resource = Resource(body, content_type, etag, int(info.st_mtime))
        self._remember(file, key, resource)
        return resource

    def _remember(self, file: str, key: tuple[int, int, int], resource: Resource) -> None:
        with self._lock:
            old = self._entries.pop(file, None)
            if old is not None:
                self._size -= len(old[1].body)
            if len(resource.body) > self._limit:
                return
            self._entries[file] = (key, resource)
            self._size += len(resource.body)
            while self._size > self._limit:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._size -= len(evicted.body)


def _path_parts(path: str) -> list[str] | None:
    """The segments of a URL path, or None for anything that could leave the folder."""
    if not path.startswith("/"):
        return None
    try:
        decoded = unquote(path, errors="strict")
    except UnicodeDecodeError:
        return None
    if "\\" in decoded or "\x00" in decoded:
        return None
    parts = decoded[1:].split("/")
    # the last segment may be empty: a folder's own page
    if any(not p or p.startswith(".") for p in parts[:-1]) or parts[-1].startswith("."):
        return None
    return parts
