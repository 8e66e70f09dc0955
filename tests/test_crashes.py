"""Crashes (issue 9): ``arshjul run`` killed with SIGKILL at several points and started again ends
with the same database content and the same files as a run that was never interrupted.

Slow (a whole run is tens of seconds): marked ``slow``, run by ``make test`` and ``.ci/run``.
What legitimately differs between two runs is left out of the comparison: row ids, run ids
and the batches rows belong to, and in the documents the provenance lines that name the run.
Steps a killed run had finished are recorded twice (two runs did them), so step_run is
compared as the set of (step, period, unit, state): how many documents a run wrote, and which
earlier run's documents it found unchanged, depend on where the first run was killed. A write
cut off by the kill leaves its hidden temporary file (``.name.xxxx.tmp``) next to the finished
file the rerun writes.
"""

from __future__ import annotations

import io
import os
import re
import signal
import sqlite3
import subprocess
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.disclosure_attack import recovered
from tests.test_privacy import small_counts_in_public_documents
from tests.test_reliability import arshjul, cli_env, finished
from tests.tools import pdf_pages

# a whole run takes 30-90 s on two busy cores: more than the suite's 300 s per test in all
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

DATA = FIXTURES / "compile"
#: columns whose values differ between two runs of the same data by design (a signed
#: document's sha256 covers its footer, which names the run that wrote it)
RUN_COLUMNS = {"id", "run_id", "batch_id", "started_at", "finished_at", "acquired_at", "sha256"}
#: what two runs' records of the same step share (see the module docstring)
STEP_RUN_KEY = ["step", "period", "unit_id", "state"]
#: a file being written (files.write_bytes_atomic): a killed run leaves it behind, hidden
TEMPORARY = re.compile(r"\..+\.tmp")
#: a run id (Prefect's UUID) wherever a document or feed shows it
_RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def database_content(folder: Path) -> dict[str, Counter[tuple[object, ...]]]:
    with sqlite3.connect(folder / "arshjul.sqlite") as db:
        names = [
            n
            for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if n != "alembic_version"
        ]
        content = {}
        for name in names:
            columns = [c[1] for c in db.execute(f"PRAGMA table_info({name})")]
            kept = (
                STEP_RUN_KEY if name == "step_run" else [c for c in columns if c not in RUN_COLUMNS]
            )
            rows = db.execute(f"SELECT {', '.join(kept)} FROM {name}").fetchall()
            content[name] = Counter(set(rows) if name == "step_run" else rows)
        return content


def normalised(data: bytes, suffix: str) -> bytes:
    if suffix in (".docx", ".xlsx"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = b"".join(n.encode() + archive.read(n) for n in sorted(archive.namelist()))
    return _RUN_ID.sub("RUN", data.decode("utf-8", "replace")).encode()


def output_files(folder: Path) -> dict[str, bytes]:
    out = folder / "out"
    return {
        str(p.relative_to(out)): normalised(content(p), p.suffix)
        for p in sorted(out.rglob("*"))
        if p.is_file() and not TEMPORARY.fullmatch(p.name)
    }


def content(path: Path) -> bytes:
    """A file's bytes; a PDF's text, page by page (the run id is in its compressed pages)."""
    if path.suffix == ".pdf":
        return "\f".join(pdf_pages(path)).encode()
    return path.read_bytes()


def run(folder: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    # the server could resume a paused sign-off: approve, so the run never waits for a person
    return arshjul(["run", "--approve", "--data", str(DATA)], env, folder)


@pytest.fixture(scope="module")
def prefect_api(prefect_harness: None) -> str:
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> Path:
    folder = tmp_path_factory.mktemp("uninterrupted")
    code, output = finished(run(folder, cli_env(folder, prefect_api)))
    assert code == 0, output
    return folder


def first_file(pattern: str) -> Callable[[Path], bool]:
    return lambda folder: any((folder / "out").glob(pattern))


def imported(folder: Path) -> bool:
    try:
        with sqlite3.connect(folder / "arshjul.sqlite") as db:
            return db.execute("SELECT count(*) FROM import_batch").fetchone()[0] > 0
    except sqlite3.Error:
        return False


#: where a run is killed: while importing, in the middle of the compile step (some of its
#: documents written), in the action-plan step, and while the calendars are written
KILL_POINTS = {
    "importing": imported,
    "compiling": first_file("2025/enheter/*/sammanstallning.html"),
    "action-plan": first_file("2025/*/*/handlingsplan-arbetsblad.xlsx"),
    "calendars": first_file("calendar/*.ics"),
}


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_run_killed_and_started_again_ends_as_an_uninterrupted_one(
    tmp_path, prefect_api, uninterrupted, point
):
    env = cli_env(tmp_path, prefect_api)
    killed = run(tmp_path, env)
    deadline = time.monotonic() + 240
    while not KILL_POINTS[point](tmp_path):
        assert killed.poll() is None, f"the run ended before {point}: {finished(killed)[1]}"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.communicate()
    assert killed.returncode == -signal.SIGKILL

    code, output = finished(run(tmp_path, env))
    assert code == 0, output
    assert database_content(tmp_path) == database_content(uninterrupted)
    assert output_files(tmp_path) == output_files(uninterrupted)
    # what a killed write leaves is hidden: never served, never taken for a document
    for left in (tmp_path / "out").rglob(".*.tmp"):
        assert (left.parent / left.name[1:].rsplit(".", 2)[0]).is_file()


def test_the_uninterrupted_runs_public_documents_suppress_small_counts(uninterrupted):
    assert small_counts_in_public_documents(uninterrupted / "out") == []
    assert recovered(uninterrupted / "out") == []
