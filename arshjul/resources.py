"""The files arshjul ships with: the templates, the bundled configuration, the wheel's YAML and
the migrations, found with :mod:`importlib.resources` wherever the package is.

They stay in the project's top-level ``templates/``, ``config/``, ``calendar/`` and ``alembic/``;
``arshjul/_data/`` links to them in the source tree, and setuptools copies them there into the
wheel (``[tool.setuptools.package-data]``), so a source checkout and an installed package read
them the same way.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def bundled(folder: str) -> Path:
    """The shipped ``folder`` (``templates``, ``config``, ``calendar`` or ``alembic``)."""
    found = resources.files("arshjul").joinpath("_data", folder)
    # Jinja's loader and Alembic read folders: the package must be on the file system (any
    # pip install is; a zip import is not)
    if not isinstance(found, Path):
        raise RuntimeError(f"arshjul's {folder} is not a folder on disk: {found}")
    return found
