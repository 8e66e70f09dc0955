"""arshjul as an installed package: the wheel holds the templates, the configuration, the wheel
(the årshjul's YAML) and the migrations, and works from outside the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
#: the project's top-level folders that ship inside the package, as arshjul/_data/<folder>
DATA_FOLDERS = ("templates", "config", "calendar", "alembic")
SOURCES = ("pyproject.toml", "README.md", "arshjul", "flows", *DATA_FOLDERS)

#: run with the unpacked wheel first on the path, from a folder outside the checkout
PROBE = """
import sys
from pathlib import Path

import arshjul, flows
from arshjul.config import load_config
from arshjul.db import make_engine, migrate, is_migrated
from arshjul.render import environment

site = Path(sys.argv[1])
assert Path(arshjul.__file__).is_relative_to(site), arshjul.__file__
assert Path(flows.__file__).is_relative_to(site), flows.__file__
config = load_config()
assert config.wheel.milestones and config.settings.region.name, "bundled config"
assert Path(config.path("settings.yaml")).is_relative_to(site), config.path("settings.yaml")
templates = environment()
assert all(Path(p).is_relative_to(site) for p in templates.loader.searchpath)
templates.get_template("safety_report.html.j2")  # and what it extends and imports
engine = make_engine(f"sqlite:///{sys.argv[2]}")
migrate(engine)
assert is_migrated(engine), "the packaged migrations ran"
print("ok")
"""


@pytest.mark.slow
def test_the_wheel_carries_its_data_and_runs_outside_the_source_tree(tmp_path):
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info beside it
    source.mkdir()
    for name in SOURCES:
        original = CHECKOUT / name
        if original.is_dir():
            shutil.copytree(
                original, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(original, source / name)
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob("arshjul-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        shipped = {
            f"arshjul/_data/{path.relative_to(CHECKOUT).as_posix()}"
            for folder in DATA_FOLDERS
            for path in (CHECKOUT / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }
        assert shipped - names == set()
        assert "flows/logging.yml" in names
        # no top-level package but arshjul and flows: a `calendar` one would shadow the
        # standard library's
        assert {name.split("/")[0] for name in names} == {
            "arshjul",
            "flows",
            f"{wheel.name.split('-py3')[0]}.dist-info",
        }
        site = tmp_path / "site"
        archive.extractall(site)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ARSHJUL_"))}
    env.update(PYTHONPATH=str(site), ARSHJUL_HOME=str(tmp_path / "home"), PYTHONSAFEPATH="1")

    def python(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], cwd=elsewhere, env=env, capture_output=True, text=True
        )

    probe = python("-c", PROBE, str(site), str(tmp_path / "probe.sqlite"))
    assert probe.returncode == 0 and probe.stdout == "ok\n", probe.stdout + probe.stderr
    helped = python("-m", "arshjul.cli", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "import input files of one kind" in helped.stdout
    assert list(elsewhere.iterdir()) == []


IMPORT_ALL = """
import importlib, os, pkgutil

before = dict(os.environ)
import arshjul, flows

for package in (arshjul, flows):
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        importlib.import_module(module.name)
changed = {k for k in before.keys() | os.environ.keys() if before.get(k) != os.environ.get(k)}
print(sorted(changed))
"""


def test_importing_any_module_changes_nothing(tmp_path):
    """Nothing runs at import: the entry points (the CLI's main, the tests' conftest, the
    benchmarks) set Prefect's environment themselves."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ARSHJUL_"))}
    env["ARSHJUL_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []
