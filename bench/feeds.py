"""Calendar feeds under load: ``arshjul calendar serve`` in its own process, and concurrent
keep-alive clients on loopback asking for one feed again and again.

The server runs as a person starts it (the installed script, its log lines on stderr going to a
file); the clients are asyncio streams in this process, so the two sides do not share an
interpreter lock. Latency is from the request's first byte sent to the answer's last byte read.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Load:
    clients: int
    seconds: float
    requests: int
    feed_bytes: int
    #: latencies in milliseconds
    p50: float
    p95: float
    p99: float
    worst: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, int]:
    """Status and body length of one HTTP/1.1 answer with Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    await reader.readexactly(length)
    return status, length


async def _client(port: int, path: str, until: float, latencies: list[float]) -> tuple[int, int]:
    """One keep-alive connection asking for ``path`` until ``until``; (errors, body bytes)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n".encode()
    errors = size = 0
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            writer.write(request)
            status, size = await _read_answer(reader)
            latencies.append((time.perf_counter() - start) * 1000)
            errors += status != 200
    finally:
        writer.close()
        await writer.wait_closed()
    return errors, size


async def _load(port: int, path: str, clients: int, seconds: float) -> Load:
    latencies: list[float] = []
    start = time.perf_counter()
    results = await asyncio.gather(
        *(_client(port, path, start + seconds, latencies) for _ in range(clients))
    )
    elapsed = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=100)
    return Load(
        clients=clients,
        seconds=elapsed,
        requests=len(latencies),
        feed_bytes=max(size for _, size in results),
        p50=cuts[49],
        p95=cuts[94],
        p99=cuts[98],
        worst=max(latencies),
        errors=sum(e for e, _ in results),
    )


def _wait_listening(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the feed server ended: {log.read_text(errors='replace')[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the feed server did not listen within 60 s")


def measure(
    env: Mapping[str, str], cwd: Path, *, path: str, clients: int = 50, seconds: float = 5.0
) -> Load:
    """Start the server on the exported calendars of ``env``'s ARSHJUL_OUT, warm it with one
    round, then load it for ``seconds``."""
    port = free_port()
    script = Path(sys.executable).with_name("arshjul")
    log = cwd / "feedserver.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [str(script), "calendar", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env=dict(env),
            stdout=sink,
            stderr=sink,
        )
        try:
            _wait_listening(port, server, log)
            asyncio.run(_load(port, path, clients, 0.5))  # files read into memory, warm
            return asyncio.run(_load(port, path, clients, seconds))
        finally:
            server.terminate()
            server.wait(timeout=10)
