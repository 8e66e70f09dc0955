"""``arshjul calendar serve``: the exported calendars and the documents, read-only over HTTP.

Standard library only: HTTP/1.1 with keep-alive on asyncio, GET and HEAD. One event loop
serves every client from the files in memory (:mod:`arshjul.static_files`); threads under
the interpreter lock made 50 concurrent clients wait on each other. ETag and Last-Modified
let calendar programs polling every few hours mostly get 304. A request is read within
``client_timeout`` seconds and within size limits, or refused; a client that does not read its
answer for as long is cut off, so that it holds neither a connection nor the answer's bytes.
Every answer is one line on stderr, with the secret part of token paths left out.

The exported pages and feeds link to ``calendar.base_url``. While that is the default
(``http://127.0.0.1:8080``), which names this server only on its default port and to this
machine, the server rewrites those links in what it serves to the address the client asked
for (its Host header): the calendar page served on another port or name still links to itself.
A configured base URL is left as written.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import re
import socket
import sys
import threading
from dataclasses import dataclass
from datetime import UTC
from http import HTTPStatus
from pathlib import Path

from arshjul.ical_text import replace_in_lines
from arshjul.static_files import Redirect, Resource, StaticFiles

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MAX_REQUEST_LINE = 4096
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 100
#: seconds a client may take to send one request, or to take in a part of an answer
CLIENT_TIMEOUT = 10.0
#: the pages may style themselves inline and show inline images; nothing else runs
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"
_TOKEN_IN_PATH = re.compile(r"/t/[^/\s]+/")
#: a Host header links may be built from: a name or an IP address, and a port
_HOST = re.compile(r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


class _Refused(Exception):
    """A request that is answered with an error and the connection's end."""

    def __init__(self, status: HTTPStatus, request_line: str = "-"):
        super().__init__(status.phrase)
        self.status = status
        self.request_line = request_line


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    version: str
    #: header names in lower case
    headers: dict[str, str]

    @property
    def line(self) -> str:
        return f"{self.method} {self.target} {self.version}"

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on a connection; None when the client closed it in between."""
    try:
        raw = await reader.readuntil(b"\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise _Refused(HTTPStatus.BAD_REQUEST) from None
        return None
    except asyncio.LimitOverrunError:
        raise _Refused(HTTPStatus.REQUEST_URI_TOO_LONG) from None
    if len(raw) > MAX_REQUEST_LINE:
        raise _Refused(HTTPStatus.REQUEST_URI_TOO_LONG)
    line = raw.decode("latin-1").rstrip("\r\n")
    parts = line.split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1"):
        raise _Refused(HTTPStatus.BAD_REQUEST, line[:200])
    method, target, version = parts
    headers: dict[str, str] = {}
    size = 0
    while True:
        try:
            header = await reader.readuntil(b"\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            raise _Refused(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, line) from None
        size += len(header)
        if size > MAX_HEADER_BYTES or len(headers) > MAX_HEADERS:
            raise _Refused(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, line)
        if header == b"\r\n":
            return Request(method, target, version, headers)
        name, colon, value = header.decode("latin-1").partition(":")
        if not colon or not name or name != name.strip():
            raise _Refused(HTTPStatus.BAD_REQUEST, line)
        headers[name.lower()] = value.strip()


@dataclass(frozen=True)
class Answer:
    status: HTTPStatus
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def to_bytes(self, *, with_body: bool, close: bool) -> bytes:
        lines = [
            f"HTTP/1.1 {self.status.value} {self.status.phrase}",
            f"Date: {email.utils.formatdate(usegmt=True)}",
            "Server: arshjul",
            *(f"{name}: {value}" for name, value in self.headers),
            f"Content-Length: {len(self.body)}",
        ]
        if close:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head + self.body if with_body else head


def error_answer(status: HTTPStatus) -> Answer:
    text = f"{status.value} {status.phrase}\n".encode()
    return Answer(status, (("Content-Type", "text/plain; charset=utf-8"),), text)


def rebased(resource: Resource, base_url: str, host: str | None) -> Resource:
    """``resource`` with its links to ``base_url`` (the URL the files were written with, an
    origin without a path) pointing to ``host`` instead: pages and feeds; other files, and
    a missing or malformed Host, as they are."""
    old = base_url.split("://", 1)[1].rstrip("/")
    if host is None or host == old or not _HOST.fullmatch(host):
        return resource
    before, after = f"://{old}/", f"://{host}/"
    if resource.content_type.startswith("text/html"):
        body = resource.body.replace(before.encode(), after.encode())
    elif resource.content_type.startswith("text/calendar"):
        body = replace_in_lines(resource.body, before, after)
    else:
        return resource
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Resource(body, resource.content_type, etag, resource.modified)


def answer(files: StaticFiles, request: Request, rebase: str | None = None) -> Answer:
    """What the server says to a GET or HEAD (other methods are refused before); with
    ``rebase``, links to that base URL point to the request's Host."""
    found = files.lookup(request.target)
    if found is None:
        return error_answer(HTTPStatus.NOT_FOUND)
    if isinstance(found, Redirect):
        return Answer(HTTPStatus.FOUND, (("Location", found.location),))
    if rebase is not None:
        found = rebased(found, rebase, request.headers.get("host"))
    validators = (
        ("ETag", found.etag),
        ("Last-Modified", found.last_modified),
        # may be kept, but asked about again before use: the data changes after every step
        ("Cache-Control", "no-cache"),
    )
    if client_has(found, request.headers):
        return Answer(HTTPStatus.NOT_MODIFIED, validators)
    headers = [
        *validators,
        ("Content-Type", found.content_type),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),  # token paths stay private
    ]
    if found.content_type.startswith("text/html"):
        headers.append(("Content-Security-Policy", PAGE_POLICY))
    return Answer(HTTPStatus.OK, tuple(headers), found.body)


def client_has(resource: Resource, headers: dict[str, str]) -> bool:
    """Whether the client's copy is current (RFC 9110 13.1: If-None-Match wins)."""
    tags = headers.get("if-none-match")
    if tags is not None:
        listed = {tag.strip().removeprefix("W/") for tag in tags.split(",")}
        return "*" in listed or resource.etag in listed
    since = headers.get("if-modified-since")
    if since is None:
        return False
    try:
        moment = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return resource.modified <= moment.timestamp()


class FeedServer:
    """The server for the files under ``root``, listening from construction on; it serves in
    the thread that calls :meth:`serve_forever` until :meth:`shutdown` or Ctrl-C. ``rebase``:
    the base URL the files link to, to be rewritten to each request's Host (see above)."""

    def __init__(
        self,
        root: Path,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        client_timeout: float = CLIENT_TIMEOUT,
        rebase: str | None = None,
    ):
        self.files = StaticFiles(root)
        self.client_timeout = client_timeout
        self.rebase = rebase
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # a backlog for 50 clients connecting at once, so that none waits for a SYN retry
        self.socket = socket.create_server((host, port), family=family, backlog=128)
        self.server_name = host
        self.server_port: int = self.socket.getsockname()[1]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._running = threading.Event()
        self._finished = threading.Event()

    @property
    def url(self) -> str:
        host = f"[{self.server_name}]" if ":" in self.server_name else self.server_name
        return f"http://{host}:{self.server_port}"

    def serve_forever(self) -> None:
        try:
            asyncio.run(self._serve())
        finally:
            self._finished.set()

    def shutdown(self) -> None:
        """Stop serving (from another thread) and wait until the server has stopped."""
        if self._running.wait(timeout=10) and self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._finished.wait(timeout=10)

    def server_close(self) -> None:
        self.socket.close()

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server_close()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(
            self._connection, sock=self.socket, limit=MAX_HEADER_BYTES
        )
        async with server:
            self._running.set()
            await self._stop.wait()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername", ("-",))[0])
        # headers and body are one write, but small answers must not wait for Nagle either
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while await self._one_request(peer, reader, writer):
                pass
        except (ConnectionError, TimeoutError):
            # TimeoutError: the client stopped reading the answer it asked for
            writer.transport.abort()
        finally:
            writer.close()
            try:  # what is still buffered for the client goes out, or is dropped
                await asyncio.wait_for(writer.wait_closed(), self.client_timeout)
            except (ConnectionError, TimeoutError):
                writer.transport.abort()

    async def _one_request(
        self, peer: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; whether the connection stays open for another."""
        try:
            request = await asyncio.wait_for(read_request(reader), self.client_timeout)
        except TimeoutError:
            await self._send(writer, peer, "-", error_answer(HTTPStatus.REQUEST_TIMEOUT))
            return False
        except _Refused as refused:
            await self._send(writer, peer, refused.request_line, error_answer(refused.status))
            return False
        if request is None:
            return False
        if request.method not in ("GET", "HEAD"):
            await self._send(writer, peer, request.line, error_answer(HTTPStatus.NOT_IMPLEMENTED))
            return False
        if request.headers.get("content-length", "0") != "0" or "transfer-encoding" in (
            request.headers
        ):
            # a body we would not read would be taken for the next request
            await self._send(writer, peer, request.line, error_answer(HTTPStatus.BAD_REQUEST))
            return False
        result = answer(self.files, request, self.rebase)
        keep = request.keep_alive
        await self._send(
            writer, peer, request.line, result, head=request.method == "HEAD", keep=keep
        )
        return keep

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        peer: str,
        request_line: str,
        result: Answer,
        *,
        head: bool = False,
        keep: bool = False,
    ) -> None:
        # logged first: once the client has its answer, the line is there to read
        when = email.utils.formatdate(usegmt=True)
        line = _TOKEN_IN_PATH.sub("/t/…/", f'"{request_line}" {result.status.value}')
        sys.stderr.write(f"{peer} [{when}] {line} {len(result.body)}\n")
        writer.write(result.to_bytes(with_body=not head, close=not keep))
        # a client that stops reading holds a connection and its answer's bytes: not for long
        await asyncio.wait_for(writer.drain(), self.client_timeout)
