"""The ``arshjul`` command line (SPEC §6).

Exit status 0 on success, 2 on bad input or usage (the message says where), 1 otherwise.
Steps run as Prefect flows, in Prefect's ephemeral mode unless ``PREFECT_API_URL`` is set.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from arshjul import __version__
from arshjul.errors import ArshjulError, UsageError

log = logging.getLogger("arshjul")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(2, f"arshjul: {message}\n")


def _year(text: str) -> int:
    if not (text.isdigit() and len(text) == 4):
        raise argparse.ArgumentTypeError(f"{text!r} is not a year like 2025")
    return int(text)


def _setup_output(verbose: bool) -> None:
    """Progress lines on stderr; Prefect's own console logging only with --verbose."""
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    import flows  # noqa: F401  (sets Prefect's environment before Prefect is imported)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


# --- commands ------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from arshjul.clock import today
    from arshjul.config import load_config
    from arshjul.demo import write_demo

    files = write_demo(args.out, load_config(), today=today(), seed=args.seed, scale=args.scale)
    for kind, path in files.by_kind().items():
        print(f"{kind:<13} {path}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from flows.cycle import run_flow

    _set_out(args.out)
    where = f"data in {args.data}" if args.data else "the demo region"
    print(f"arshjul run: {where}", file=sys.stderr)
    summary = run_flow(year=args.year, data=args.data)
    out = Path(os.environ.get("ARSHJUL_OUT", "out"))
    print(f"Data year {summary.year}, data from {summary.data}")
    for result in summary.imports:
        print(f"  imported   {result.file}: {result.rows} rows")
    index = out / str(summary.year) / "index.html"
    print(f"  documents  {len(summary.documents)} compilations, index {index}")
    print(f"  calendars  {len(summary.calendars)} feeds in {out / 'calendar'}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from flows.importing import import_data

    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        raise UsageError(f"FILE: no such file: {', '.join(missing)}")
    import_data([(args.kind, f) for f in args.files])
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    from flows.compile import compile_flow

    written = compile_flow(year=args.year, unit=args.unit)
    print(f"{len(written)} documents written, e.g. {written[0]}" if written else "nothing written")
    return 0


def cmd_calendar_export(args: argparse.Namespace) -> int:
    from flows.calendars import publish_calendars

    _set_out(args.out)
    for path in publish_calendars():
        print(path)
    return 0


def _set_out(out: Path | None) -> None:
    if out is not None:
        os.environ["ARSHJUL_OUT"] = str(out)


# --- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from arshjul.importers import KINDS

    parser = _Parser(prog="arshjul", description="The patient-safety annual cycle (årshjul).")
    parser.add_argument("--version", action="version", version=f"arshjul {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show Prefect's logs")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, handler: Callable[[argparse.Namespace], int], help: str) -> Any:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        return p

    p = command("demo", cmd_demo, "write a synthetic region's input files")
    p.add_argument("--out", type=Path, required=True, help="folder for the CSV files")
    p.add_argument("--scale", choices=("small", "large"), default="small")
    p.add_argument("--seed", type=int, default=1)

    p = command("run", cmd_run, "import, run the whole cycle and publish the calendars")
    p.add_argument("--year", type=_year, help="data year (default: the last full year)")
    p.add_argument("--data", type=Path, help="folder of input files (default: the demo region)")
    p.add_argument("--out", type=Path, help="output folder (default: $ARSHJUL_OUT or out/)")

    p = command("import", cmd_import, "import input files of one kind")
    p.add_argument("kind", choices=KINDS, metavar="KIND", help=f"one of {', '.join(KINDS)}")
    p.add_argument("files", type=Path, nargs="+", metavar="FILE")

    p = command("compile", cmd_compile, "compile a year's deviations and complaints")
    p.add_argument("--year", type=_year, help="data year (default: the last full year)")
    p.add_argument("--unit", metavar="ID", help="only this unit and the units above it")

    cal = command("calendar", lambda a: 2, "milestone calendars")
    cal_sub = cal.add_subparsers(dest="calendar_command", required=True, parser_class=_Parser)
    p = cal_sub.add_parser("export", help="write the iCalendar feeds")
    p.set_defaults(handler=cmd_calendar_export)
    p.add_argument("--out", type=Path, help="output folder (feeds go to OUT/calendar)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_output(args.verbose)
    try:
        return int(args.handler(args))
    except ArshjulError as exc:
        print(f"arshjul: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("arshjul: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001  (the last line of defence: no traceback for users)
        if args.verbose:
            raise
        print(
            f"arshjul: failed: {type(exc).__name__}: {exc} (run with -v for details)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
