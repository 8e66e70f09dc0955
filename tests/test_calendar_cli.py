"""``arshjul calendar export|serve|tokens`` through the real entry points."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from arshjul.cli import main
from arshjul.feed_tokens import SECRET_ENV
from arshjul.ical_text import replace_in_lines
from tests.conftest import FIXTURES

pytestmark = pytest.mark.usefixtures("prefect_harness")


def export(out: Path) -> dict[str, bytes]:
    assert main(["calendar", "export", "--out", str(out)]) == 0
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_export_writes_the_feeds_and_the_index_and_repeats_itself_exactly(workdir, capsys):
    assert main(["import", "organisation", str(FIXTURES / "compile" / "organisation.csv")]) == 0
    first = export(workdir / "site")
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(first)
    assert "calendar/region.ics" in first and "calendar/index.html" in first
    assert any(name.startswith("calendar/unit-") for name in first)
    assert any(name.startswith("calendar/role-") for name in first)
    # the clock is fixed (ARSHJUL_NOW): nothing changed, so not a byte of a feed changes, not
    # even DTSTAMP (the index page names the run that wrote it)
    again = export(workdir / "site")
    assert again.keys() == first.keys()
    assert {n: c for n, c in again.items() if n.endswith(".ics")} == {
        n: c for n, c in first.items() if n.endswith(".ics")
    }


def test_tokens_are_listed_only_when_unit_feeds_are_secret(workdir, capsys):
    assert main(["calendar", "tokens"]) == 2
    assert "calendar.unit_tokens" in capsys.readouterr().err


def test_tokens_list_each_units_secret_link(workdir, monkeypatch, capsys):
    own = workdir / "region-config"
    own.mkdir()
    (own / "settings.yaml").write_text(
        "region: {id: R1, name: Region Test}\ncalendar: {unit_tokens: true}\n", "utf-8"
    )
    monkeypatch.setenv("ARSHJUL_CONFIG", str(own))
    monkeypatch.setenv(SECRET_ENV, "a test secret of some length")
    assert main(["import", "organisation", str(FIXTURES / "compile" / "organisation.csv")]) == 0
    files = export(workdir / "out")
    capsys.readouterr()
    assert main(["calendar", "tokens"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert rows and all(len(row) == 3 for row in rows)
    for unit_id, _name, url in rows:
        path = url.removeprefix("http://127.0.0.1:8080/")
        assert path.startswith("calendar/t/") and path.endswith(f"/unit-{unit_id}.ics")
        assert path in files, "the listed link is a feed the export wrote"
    assert not any(name.startswith("calendar/unit-") for name in files)


def test_serve_serves_what_was_exported_until_interrupted(workdir):
    export(workdir / "out")
    script = Path(sys.executable).with_name("arshjul")
    server = subprocess.Popen(
        [str(script), "calendar", "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal, even when the suite itself runs in the background (where a
        # shell starts it with SIGINT ignored, which its children would inherit)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
        assert first.startswith("Serving http://127.0.0.1:"), first
        base = first.split()[1].removesuffix("/calendar/")
        # the default base URL: links lead to the address the server was asked at
        written = (workdir / "out" / "calendar" / "region.ics").read_bytes()
        here = base.removeprefix("http://")
        with urllib.request.urlopen(f"{base}/calendar/region.ics", timeout=10) as response:
            assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
            assert response.read() == replace_in_lines(written, "://127.0.0.1:8080/", f"://{here}/")
        with urllib.request.urlopen(f"{base}/calendar/", timeout=10) as response:
            page = response.read().decode()
        assert f'href="webcal://{here}/calendar/region.ics"' in page
        assert "127.0.0.1:8080" not in page
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert '"GET /calendar/region.ics HTTP/1.1" 200' in err
    assert "Traceback" not in err


@pytest.mark.parametrize("port", ["70000", "http", "-1"])
def test_serve_refuses_a_bad_port(workdir, port, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["calendar", "serve", "--port", port])
    assert exit_.value.code == 2
    assert "port" in capsys.readouterr().err
