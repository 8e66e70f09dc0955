"""The few exception types arshjul raises; the CLI maps them to messages and exit codes.

Exit status 2 means the user can fix it (bad input, bad config, bad option); 1 is anything else.
"""

from __future__ import annotations

from dataclasses import dataclass


class ArshjulError(Exception):
    """Base of every error arshjul raises on purpose."""

    exit_code = 1


class UsageError(ArshjulError):
    """A parameter is wrong (unknown unit, malformed period, …). ``field`` names it as the
    flows' parameters do (``unit``, ``period``, ``data``, ``kind``, ``file``); the command line
    shows its own spelling (``--unit``), a flow run the field."""

    exit_code = 2

    def __init__(self, reason: str, field: str | None = None):
        self.reason, self.field = reason, field
        super().__init__(f"{field}: {reason}" if field else reason)

    def __reduce__(self) -> tuple[type[UsageError], tuple[str, str | None]]:
        # rebuilt from its parts when it comes back from a worker process
        return type(self), (self.reason, self.field)


class ConfigError(ArshjulError):
    """A configuration file is missing or invalid; the message names file, key and value."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input file, located as precisely as we can."""

    file: str
    line: int | None
    column: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        return self.text()

    def text(self, swedish: bool = False) -> str:
        """Where and what; ``swedish``: where in Swedish words (for a file Swedish staff
        filled in, whose reasons are Swedish too)."""
        line, column, value = ("rad", "kolumn", "värde") if swedish else ("line", "column", "value")
        where = self.file
        if self.line is not None:
            where += f", {line} {self.line}"
        if self.column is not None:
            where += f", {column} {self.column!r}"
        if self.value is not None:
            where += f", {value} {self.value!r}"
        return f"{where}: {self.reason}"


class InputError(ArshjulError):
    """An input file was refused; every problem found in it is listed, nothing was stored."""

    exit_code = 2
    #: how many problems the message lists before summarising the rest
    shown = 50

    def __init__(self, problems: list[Problem], swedish: bool = False):
        self.problems, self.swedish = problems, swedish
        super().__init__(self._message())

    def __reduce__(self) -> tuple[type[InputError], tuple[list[Problem], bool]]:
        # rebuilt from its problems, not its message, when it comes back from a worker process
        return type(self), (self.problems, self.swedish)

    def _message(self) -> str:
        files = ", ".join(sorted({p.file for p in self.problems}))
        n, more = len(self.problems), len(self.problems) - self.shown
        if self.swedish:
            head, rest = f"{n} fel i {files}; inget sparades", f"  … och {more} till"
        else:
            head, rest = f"{n} problem(s) in {files}; nothing was stored", f"  … and {more} more"
        lines = [head] + [f"  {p.text(self.swedish)}" for p in self.problems[: self.shown]]
        if more > 0:
            lines.append(rest)
        return "\n".join(lines)


class ConflictError(ArshjulError):
    """The same step for the same unit is already running, or a signed version would change."""

    exit_code = 1


class StepBusy(ConflictError):
    """Another run held the step for the unit past the wait: the message, in Swedish, is what
    the coordinator who started this run reads in the Prefect UI as its state."""
