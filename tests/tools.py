"""Helpers for tests that run programs: system programs, and the feed server in a thread."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from arshjul.feedserver import FeedServer


def require_program(name: str) -> str:
    """The path of program ``name``; without it the test skips, or fails when CI=true."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (.ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def require_calc() -> str:
    """The path of soffice with LibreOffice Calc (it opens no spreadsheet without it, and says
    only "source file could not be loaded"); skips, or fails when CI=true, as
    :func:`require_program`."""
    soffice = require_program("soffice")
    if not (Path(os.path.realpath(soffice)).parent / "libsclo.so").exists():
        reason = "LibreOffice Calc is not installed (.ci/run installs libreoffice-calc-nogui)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return soffice


def node_with(folder: Path, *modules: str) -> str:
    """The path of node, with ``modules`` installed in ``folder`` (``npm ci`` when missing)."""
    node = require_program("node")
    if not all((folder / "node_modules" / m).is_dir() for m in modules):
        npm = require_program("npm")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=folder, check=True, timeout=300)
    return node


def pdf_pages(path: Path) -> list[str]:
    """The text of each page of a PDF, as poppler's pdftotext reads it (in layout order)."""
    program = require_program("pdftotext")
    done = subprocess.run(
        [program, "-layout", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.split("\f")[:-1]  # each page ends with a form feed


@contextmanager
def feed_server(root: Path, **options: Any) -> Iterator[FeedServer]:
    """The feed server for ``root`` on a free loopback port, in a thread of this process."""
    httpd = FeedServer(root, "127.0.0.1", 0, **options)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
