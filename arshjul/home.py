"""Where arshjul keeps its files when no setting names a place: one home, never the folder a
command happens to be started in.

The home is ``ARSHJUL_HOME`` if it is set; else, in a source checkout (the folder above the
``arshjul`` package holds ``pyproject.toml``: ``make install``'s editable install), that folder,
where ``make run`` puts ``var/`` and ``out/``; else (an installed wheel) the user's data folder,
``$XDG_DATA_HOME/arshjul`` or ``~/.local/share/arshjul``. Under it: ``var/arshjul.sqlite`` (the
database), ``var/log/`` (Prefect's server log), ``var/inbox/``, ``var/feed-secret``,
``var/demo/`` (the demo region's files) and ``out/`` (the documents).
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_VARIABLE = "ARSHJUL_HOME"
#: the folder above the package: a source checkout when it holds pyproject.toml
_CHECKOUT = Path(__file__).resolve().parent.parent


def home() -> Path:
    """The home folder (absolute); see the module's docstring for the rule."""
    chosen = os.environ.get(HOME_VARIABLE)
    if chosen:
        return Path(chosen).expanduser().resolve()
    if (_CHECKOUT / "pyproject.toml").is_file():
        return _CHECKOUT
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "arshjul"


def var(*parts: str) -> Path:
    """A path under the home's ``var/`` (the database, logs, inbox, secrets)."""
    return home().joinpath("var", *parts)


def default_out() -> Path:
    return home() / "out"
