"""Finding input files in a data folder by kind."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from arshjul.errors import UsageError

SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx")


def find_input_files(folder: Path, kinds: Sequence[str]) -> list[tuple[str, Path]]:
    """``(kind, file)`` for every file in ``folder`` whose name starts with a kind, in the
    order of ``kinds`` (organisation first), then by name."""
    if not folder.is_dir():
        raise UsageError(f"--data: {folder}: no such folder")
    found: list[tuple[str, Path]] = []
    for kind in kinds:
        matches = sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in SUFFIXES and p.stem.lower().startswith(kind)
        )
        found.extend((kind, p) for p in matches)
    if not found:
        names = ", ".join(f"{k}.csv" for k in kinds)
        raise UsageError(f"--data: {folder}: no input files (expected names like {names})")
    return found
