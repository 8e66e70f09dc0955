"""Every command of the command line is in the README: a command nobody can find is not there."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

from arshjul.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def commands(parser: argparse.ArgumentParser, prefix: str = "arshjul") -> Iterator[str]:
    """``arshjul <command> [<sub-command>]`` for every command the parser knows."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}"
                yield from commands(sub, f"{prefix} {name}")


def test_every_command_and_sub_command_is_in_the_readme():
    readme = README.read_text("utf-8")
    # the README's usage block writes alternatives as `compile|analyse|action-plan`
    spelled = set()
    for line in re.findall(r"arshjul [a-z|-]+(?: [a-z|-]+)?", readme):
        words = [w.split("|") for w in line.split()[1:]]
        for first in words[0]:
            spelled.add(f"arshjul {first}")
            for second in words[1] if len(words) > 1 else []:
                spelled.add(f"arshjul {first} {second}")
    found = list(commands(build_parser()))
    assert len(found) > 15  # the walk found the commands and their sub-commands
    assert [c for c in found if c not in spelled] == []
