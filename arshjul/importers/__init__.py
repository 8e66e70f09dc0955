"""Importing input files (SPEC §4): every rule a region's data exports need.

One file is imported whole or not at all; every problem is reported at once; the same file
twice changes nothing; a later export updates records by their key.
"""

from arshjul.importers.importer import ImportResult, import_file
from arshjul.importers.kinds import KINDS

__all__ = ["KINDS", "ImportResult", "import_file"]
