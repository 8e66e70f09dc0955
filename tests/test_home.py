"""Where arshjul keeps what no setting names (arshjul.home): one home, never the folder a command
is started in; and the database named when it is new or empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from arshjul import home
from arshjul.config import load_config
from arshjul.db import database_url, make_engine, migrate, shown_url
from arshjul.errors import UsageError
from arshjul.importers import import_file
from arshjul.workspace import out_dir
from tests.conftest import FIXTURES, NOW

CHECKOUT = Path(__file__).resolve().parents[1]


def test_arshjul_home_wins_and_every_default_is_under_it(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("ARSHJUL_HOME", str(tmp_path / "home"))
    for name in ("ARSHJUL_DATABASE_URL", "ARSHJUL_OUT"):
        monkeypatch.delenv(name, raising=False)
    chosen = tmp_path / "home"
    assert home.home() == chosen
    assert database_url() == f"sqlite:///{chosen / 'var' / 'arshjul.sqlite'}"
    assert out_dir() == chosen / "out"
    assert list(elsewhere.iterdir()) == []


def test_a_source_checkout_is_its_own_home(monkeypatch):
    monkeypatch.delenv("ARSHJUL_HOME")
    assert home.home() == CHECKOUT


def test_an_installed_package_lives_in_the_users_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("ARSHJUL_HOME")
    # installed, the folder above the package is site-packages: no pyproject.toml there
    monkeypatch.setattr(home, "_CHECKOUT", tmp_path / "site-packages")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert home.home() == tmp_path / "data" / "arshjul"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert home.home() == tmp_path / "user" / ".local" / "share" / "arshjul"


def test_messages_show_a_database_url_without_its_password():
    engine = make_engine("postgresql://arshjul:s3cret@db.region.se/arshjul")
    assert shown_url(engine) == "postgresql+psycopg://arshjul:***@db.region.se/arshjul"


def test_importing_into_a_database_without_organisation_names_the_database(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    migrate(engine)
    deviations = FIXTURES / "compile" / "deviations.csv"
    with (
        engine.begin() as conn,
        pytest.raises(UsageError, match="import the organisation file first") as refused,
    ):
        import_file(conn, load_config(), "deviations", deviations, now=NOW)
    assert f"the database sqlite:///{tmp_path / 'empty.sqlite'} has no organisation" in str(
        refused.value
    )
    engine.dispose()
