"""Timing and memory of what the benchmark runs: in this process, or a child process tree.

Peak memory of a process tree is sampled from ``/proc`` (Linux): every process below the child
is found by its parent id, and its ``VmHWM`` (the kernel's own peak RSS of that process) and
its PSS (for the tree's sum) are read until it ends, so a grandchild such as Prefect's
ephemeral API server is measured too. The largest waited-for descendant from
``getrusage(RUSAGE_CHILDREN)`` is kept as a cross-check.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
PROC = Path("/proc")
SAMPLE_SECONDS = 0.1


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def script() -> str:
    """The installed ``arshjul`` script of this environment."""
    return str(Path(sys.executable).with_name("arshjul"))


def self_peak_mib() -> float:
    """Peak RSS of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class TreeRun:
    """A child process tree's wall time, exit status, output and memory."""

    command: list[str]
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    #: pid -> (short command line, peak RSS in MiB) of every process seen in the tree
    peaks: dict[int, tuple[str, float]] = field(default_factory=dict)
    #: the largest sum of the tree's current PSS seen in one sample (shared pages counted
    #: once, so forked workers do not count their parent's memory again)
    tree_peak_mib: float = 0.0
    #: the largest waited-for descendant, from getrusage (a cross-check of ``peaks``)
    rusage_peak_mib: float = 0.0

    def check(self) -> TreeRun:
        if self.returncode != 0:
            raise RuntimeError(
                f"{' '.join(self.command)} failed ({self.returncode}):\n"
                f"{self.stdout[-3000:]}\n{self.stderr[-3000:]}"
            )
        return self

    @property
    def largest_mib(self) -> float:
        return max([peak for _, peak in self.peaks.values()] + [self.rusage_peak_mib])

    def by_command(self) -> list[tuple[str, float]]:
        """(command, largest peak RSS in MiB) per command line, largest first; a command run
        by several processes (forked workers share their parent's) says how many."""
        groups: dict[str, list[float]] = {}
        for name, peak in self.peaks.values():
            groups.setdefault(name, []).append(peak)
        named = [
            (name if len(peaks) == 1 else f"{name} (×{len(peaks)} processes)", max(peaks))
            for name, peaks in groups.items()
        ]
        return sorted(named, key=lambda p: -p[1])


def _status_kib(pid: int, key: str) -> float | None:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return None


def _pss_kib(pid: int) -> float | None:
    """The process's proportional set size: its private pages plus its share of the pages
    it shares (a forked worker shares most of its parent's), so the tree's sum is real."""
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return float(line.split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return None


def _cmdline(pid: int) -> str:
    try:
        parts = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [
        Path(p.decode(errors="replace")).name if i == 0 else p.decode(errors="replace")
        for i, p in enumerate(parts[:6])
        if p
    ]
    return " ".join(words)[:80]


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # the command may hold spaces and parentheses: the fields follow the last ')'
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


class _Sampler(threading.Thread):
    def __init__(self, root: int, run: TreeRun):
        super().__init__(daemon=True)
        self.root = root
        self.run_ = run
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            total = 0.0
            for pid in _descendants(self.root):
                hwm = _status_kib(pid, "VmHWM")
                pss = _pss_kib(pid)
                if hwm is None or pss is None:
                    continue
                total += pss / 1024
                name, seen = self.run_.peaks.get(pid, (_cmdline(pid), 0.0))
                self.run_.peaks[pid] = (name, max(seen, hwm / 1024))
            self.run_.tree_peak_mib = max(self.run_.tree_peak_mib, total)
            self.stopped.wait(SAMPLE_SECONDS)


def run_tree(
    command: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float = 3600
) -> TreeRun:
    """Run ``command`` to its end, sampling the memory of its process tree meanwhile."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run = TreeRun(list(command), 0.0, 0, "", "")
    sampler = _Sampler(process.pid, run)
    sampler.start()
    try:
        run.stdout, run.stderr = process.communicate(timeout=timeout)
    finally:
        sampler.stopped.set()
        sampler.join()
    run.seconds = time.perf_counter() - start
    run.returncode = process.returncode
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of the children is a maximum over all of them: it only says something new
    # when this tree held the largest child so far
    run.rusage_peak_mib = after / 1024 if after > before else 0.0
    return run


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Prefect's and arshjul's settings, plus ``extra``: a child
    then runs Prefect in ephemeral mode, as ``arshjul run`` on a fresh machine does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ARSHJUL_"))}
    env.update(extra)
    return env
