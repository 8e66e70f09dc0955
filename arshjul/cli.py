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


def _port(text: str) -> int:
    if not (text.isdigit() and 0 <= int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
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
    print(f"  documents  {len(summary.documents)} compilations and analyses, index {index}")
    feeds = sum(p.suffix == ".ics" for p in summary.calendars)
    print(f"  calendars  {feeds} feeds, index {out / 'calendar' / 'index.html'}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from flows.importing import import_data

    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        raise UsageError(f"FILE: no such file: {', '.join(missing)}")
    import_data([(args.kind, f) for f in args.files])
    return 0


def cmd_step(args: argparse.Namespace) -> int:
    """compile, analyse: one step of the cycle for a year, all units or one and its roll-ups."""
    from flows.analyse import analyse_flow
    from flows.compile import compile_flow

    step = {"compile": compile_flow, "analyse": analyse_flow}[args.command]
    written = step(year=args.year, unit=args.unit)
    print(f"{len(written)} documents written, e.g. {written[0]}" if written else "nothing written")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Every unit's state for every deadline of a year's cycle, on standard output."""
    from arshjul import status
    from arshjul.clock import now
    from arshjul.config import default_data_year
    from arshjul.org import OrgTree
    from arshjul.workspace import open_workspace

    moment = now()
    year = args.year or default_data_year(moment.date())
    ws = open_workspace()
    with ws.engine.connect() as conn:
        rows = status.step_status(conn, ws.config, OrgTree.load(conn), year, now=moment)
    formats = {"table": status.as_table, "csv": status.as_csv, "json": status.as_json}
    sys.stdout.write(formats[args.format](rows))
    return 0


def cmd_calendar_export(args: argparse.Namespace) -> int:
    from flows.calendars import publish_calendars

    _set_out(args.out)
    for path in publish_calendars():
        print(path)
    return 0


def cmd_calendar_serve(args: argparse.Namespace) -> int:
    from arshjul.calendar_site import CALENDAR_FOLDER, INDEX_PAGE
    from arshjul.config import load_config
    from arshjul.feedserver import FeedServer
    from arshjul.workspace import out_dir

    _set_out(args.out)
    out = out_dir()
    if not (out / CALENDAR_FOLDER / INDEX_PAGE).is_file():
        from flows.calendars import publish_calendars

        print(f"arshjul: nothing exported in {out / CALENDAR_FOLDER}: exporting", file=sys.stderr)
        publish_calendars()
    try:
        server = FeedServer(out, args.host, args.port)
    except OSError as exc:
        raise UsageError(f"--port: cannot listen on {args.host}:{args.port}: {exc}") from None
    base_url = load_config().settings.calendar.base_url
    print(f"Serving {server.url}/{CALENDAR_FOLDER}/ from {out} (Ctrl-C stops)", file=sys.stderr)
    if not base_url.startswith(server.url):
        print(f"  links in the feeds point to {base_url} (calendar.base_url)", file=sys.stderr)
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("arshjul: server stopped", file=sys.stderr)
    return 0


def cmd_calendar_tokens(args: argparse.Namespace) -> int:
    from arshjul.calendar_site import unit_feed_links
    from arshjul.feed_tokens import load_secret
    from arshjul.org import OrgTree
    from arshjul.workspace import open_workspace

    ws = open_workspace()
    if not ws.config.settings.calendar.unit_tokens:
        raise UsageError(
            "unit feeds have no secret links: set calendar.unit_tokens: true in settings.yaml"
            " and run arshjul calendar export"
        )
    with ws.engine.connect() as conn:
        tree = OrgTree.load(conn)
    links = unit_feed_links(ws.config, tree, load_secret())
    if not links:
        raise UsageError("no units: import the organisation first (arshjul import organisation)")
    for unit, url in links:
        print(f"{unit.id}\t{unit.name}\t{url}")
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

    for name, help in (
        ("compile", "compile a year's deviations and complaints"),
        ("analyse", "analyse a year's deviations and complaints: trends, patterns, risks"),
    ):
        p = command(name, cmd_step, help)
        p.add_argument("--year", type=_year, help="data year (default: the last full year)")
        p.add_argument("--unit", metavar="ID", help="only this unit and the units above it")

    p = command("status", cmd_status, "which unit has done which step of a year's cycle")
    p.add_argument("--year", type=_year, help="data year (default: the last full year)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")

    cal = command("calendar", lambda a: 2, "milestone calendars")
    cal_sub = cal.add_subparsers(dest="calendar_command", required=True, parser_class=_Parser)
    p = cal_sub.add_parser("export", help="write the iCalendar feeds and their index page")
    p.set_defaults(handler=cmd_calendar_export)
    p.add_argument("--out", type=Path, help="output folder (feeds go to OUT/calendar)")
    p = cal_sub.add_parser("serve", help="serve the feeds and documents over HTTP")
    p.set_defaults(handler=cmd_calendar_serve)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8080, help="port (default 8080)")
    p.add_argument("--out", type=Path, help="output folder to serve (default: $ARSHJUL_OUT)")
    p = cal_sub.add_parser("tokens", help="list every unit's secret feed link")
    p.set_defaults(handler=cmd_calendar_tokens)
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
