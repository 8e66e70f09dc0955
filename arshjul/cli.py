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
from typing import Any, TextIO

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


class _Progress(logging.StreamHandler[TextIO]):
    """The command's progress lines on stderr."""


def _setup_output(verbose: bool) -> None:
    """Progress lines on stderr; Prefect's own console logging only with --verbose. The
    lines also go to the flow run's log (flows.runtime.log_to_runs)."""
    from flows.runtime import configure_environment

    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    configure_environment()  # Prefect's settings, before anything imports Prefect

    handler = _Progress(sys.stderr)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    # one progress handler however often main() runs in a process (the tests)
    log.handlers[:] = [h for h in log.handlers if not isinstance(h, _Progress)] + [handler]
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
    for returned in files.returned:
        print(f"{'actions':<13} {returned.folder} ({len(returned.files)} worksheets)")
    return 0


def _n(count: int, noun: str) -> str:
    """``1 document``, ``2 documents``: a count and its noun agreeing, by the documents' one
    rule (render.agree)."""
    from arshjul.render import agree

    return f"{count} {agree(count, noun, noun + 's')}"


def cmd_run(args: argparse.Namespace) -> int:
    from flows.runtime import start_ephemeral_server

    start_ephemeral_server()  # booting while the flows are imported
    from arshjul.inputs import LocalPath
    from arshjul.workspace import out_dir
    from flows.cycle import run_flow

    _set_out(args.out)
    where = f"data in {LocalPath(path=args.data)}" if args.data else "the demo region"
    print(f"arshjul run: {where}", file=sys.stderr)
    data = LocalPath(path=args.data) if args.data else None
    summary = run_flow(year=args.year, data=data, approve=args.approve)
    out = out_dir()
    print(f"Data year {summary.year}, data from {summary.data}")  # masked, see LocalPath
    for result in summary.imports:
        print(f"  imported      {result.file}: {_n(result.rows, 'row')}")
    for year, results in summary.handed_back:
        # a unit hands its worksheet back with the plan and again at each follow-up: a row
        # is an action's status on a day, a new one an action
        new, rows = sum(r.inserted for r in results), sum(r.rows for r in results)
        print(
            f"  imported      action plans {year}: {_n(len(results), 'worksheet')},"
            f" {_n(new, 'action')}, {_n(rows, 'status row')}"
        )
    for step, written in summary.cycle.documents.items():
        sheets = sum(p.suffix == ".xlsx" for p in written)
        extra = f" and {_n(sheets, 'worksheet')}" if sheets else ""
        kept = summary.cycle.unchanged.get(step, 0)
        extra += f" ({kept} unchanged, not written again)" if kept else ""
        print(f"  {step:<13} {_n(len(written) - sheets, 'document')}{extra}")
    for period, written in summary.interim.items():
        print(f"  interim       {period}: {_n(len(written), 'document')} (uppskjuten vård)")
    for sign_off in summary.cycle.sign_offs:
        print(f"  sign-off      {describe_sign_off(sign_off)}")
    print(f"  start page    {out / 'index.html'}")
    print(f"  index         {out / str(summary.year) / 'index.html'}")
    feeds = sum(p.suffix == ".ics" for p in summary.calendars)
    print(f"  calendars     {_n(feeds, 'feed')}, {out / 'calendar' / 'index.html'}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from arshjul.inputs import InputFile
    from flows.importing import import_data

    files = [InputFile(kind=args.kind, path=f) for f in args.files]
    missing = [str(f) for f in files if not f.path.is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}", "file")
    import_data(files)
    return 0


def cmd_step(args: argparse.Namespace) -> int:
    """compile, analyse, action-plan: one step of the cycle for a year, all units or one and
    its roll-ups."""
    from flows.action_plan import action_plan_flow
    from flows.analyse import analyse_flow
    from flows.compile import compile_flow

    steps: dict[str, Callable[..., list[Path]]] = {
        "compile": compile_flow,
        "analyse": analyse_flow,
        "action-plan": action_plan_flow,
    }
    written = steps[args.command](year=args.year, unit=args.unit)
    _written(written)
    return 0


def _written(written: list[Path]) -> None:
    print(f"{len(written)} files written, e.g. {written[0]}" if written else "nothing written")


def cmd_report_safety(args: argparse.Namespace) -> int:
    from flows.safety_report import safety_report_flow

    result = safety_report_flow(year=args.year, approve=args.approve)
    print(result.latest)
    print(describe_sign_off(result))
    return 0


def describe_sign_off(result: Any) -> str:
    """One line: the document's version and where its sign-off stands."""
    what = f"{result.document} {result.period} version {result.version}"
    if result.state == "awaiting":
        return f"{what}: awaiting sign-off by {result.role} ({result.path})"
    decided = "approved" if result.state == "approved" else "returned"
    return f"{what}: {decided} by {result.signed_by}, {result.role} ({result.path})"


def cmd_report_interim(args: argparse.Namespace) -> int:
    from arshjul.clock import today
    from arshjul.periods import parse_period
    from flows.interim import interim_report_flow

    parse_period(args.period, today())  # refused here, before a flow run starts
    _written(interim_report_flow(period=args.period, unit=args.unit))
    return 0


def cmd_remind(args: argparse.Namespace) -> int:
    """E-mail reminders for overdue steps: one message per address, the same unit and
    milestone at most once a week."""
    from arshjul import reminders
    from arshjul.clock import now
    from arshjul.workspace import open_workspace
    from flows.reminders import send_reminders_flow

    if args.dry_run:
        ws = open_workspace()
        for digest in reminders.plan(ws.engine, ws.config, ws.out, now=now()):
            print(f"to {digest.recipient}:")
            for reminder in digest.reminders:
                print(f"  {reminder}")
        return 0
    # by hand, a failure is reported at once; the scheduled run retries later
    print(f"{send_reminders_flow.with_options(retries=0)()} messages sent")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    """Every deployment on the Prefect server with its next run in the wheel's timezone;
    with --apply, the wheel's step schedules are laid onto the server's deployments first."""
    from arshjul.clock import now
    from arshjul.config import load_config
    from flows.deployments import apply_step_schedules, next_runs

    config = load_config()
    if args.apply:
        for step, count in apply_step_schedules(config, now=now()).items():
            print(f"{step}: {count} runs scheduled from the wheel", file=sys.stderr)
    timezone = config.wheel.timezone
    for run in next_runs(now=now(), timezone=timezone):
        when = run.at.strftime("%Y-%m-%d %H:%M %Z") if run.at else "by hand only"
        parameters = " ".join(f"{k}={v}" for k, v in sorted(run.parameters.items()))
        paused = "  (paused)" if run.paused else ""
        print(f"{run.deployment:<28} {when:<22} {parameters}{paused}".rstrip())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from arshjul.clock import now
    from arshjul.config import load_config
    from flows.deployments import serve

    serve(load_config(), now=now())
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
    from arshjul.config import DEFAULT_BASE_URL, load_config
    from arshjul.feedserver import FeedServer
    from arshjul.workspace import out_dir

    _set_out(args.out)
    out = out_dir()
    if not (out / CALENDAR_FOLDER / INDEX_PAGE).is_file():
        from flows.calendars import publish_calendars

        print(f"arshjul: nothing exported in {out / CALENDAR_FOLDER}: exporting", file=sys.stderr)
        publish_calendars()
    base_url = load_config().settings.calendar.base_url
    # the default base URL names no real address: links follow the address a client asks for
    rebase = base_url if base_url == DEFAULT_BASE_URL else None
    try:
        server = FeedServer(out, args.host, args.port, rebase=rebase)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc}", "port") from None
    print(f"Serving {server.url}/{CALENDAR_FOLDER}/ from {out} (Ctrl-C stops)", file=sys.stderr)
    if rebase is None and not base_url.startswith(server.url):
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

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], help: str, prefect: bool = True
    ) -> Any:
        """``prefect``: the command runs flows or asks Prefect's API."""
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler, prefect=prefect)
        return p

    p = command("demo", cmd_demo, "write a synthetic region's input files", prefect=False)
    p.add_argument("--out", type=Path, required=True, help="folder for the CSV files")
    p.add_argument("--scale", choices=("small", "large"), default="small")
    p.add_argument("--seed", type=int, default=1)

    p = command("run", cmd_run, "import, run the whole cycle and publish the calendars")
    p.add_argument("--year", type=_year, help="data year (default: the last full year)")
    p.add_argument("--data", type=Path, help="folder of input files (default: the demo region)")
    p.add_argument("--out", type=Path, help="output folder (default: $ARSHJUL_OUT or out/)")
    p.add_argument(
        "--approve",
        action="store_true",
        help="sign off the region's action plan and patientsäkerhetsberättelse automatically",
    )

    p = command("import", cmd_import, "import input files of one kind")
    p.add_argument("kind", choices=KINDS, metavar="KIND", help=f"one of {', '.join(KINDS)}")
    p.add_argument("files", type=Path, nargs="+", metavar="FILE")

    for name, help in (
        ("compile", "compile a year's deviations and complaints"),
        ("analyse", "analyse a year's deviations and complaints: trends, patterns, risks"),
        ("action-plan", "write the action plans and the worksheets units fill in"),
    ):
        p = command(name, cmd_step, help)
        p.add_argument("--year", type=_year, help="data year (default: the last full year)")
        p.add_argument("--unit", metavar="ID", help="only this unit and the units above it")

    p = command(
        "status", cmd_status, "which unit has done which step of a year's cycle", prefect=False
    )
    p.add_argument("--year", type=_year, help="data year (default: the last full year)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")

    report = command("report", lambda a: 2, "the patientsäkerhetsberättelse, the interim reports")
    report_sub = report.add_subparsers(dest="report_command", required=True, parser_class=_Parser)
    p = report_sub.add_parser("safety", help="write the region's patientsäkerhetsberättelse")
    p.set_defaults(handler=cmd_report_safety)
    p.add_argument("--year", type=_year, help="data year (default: the last full year)")
    p.add_argument("--approve", action="store_true", help="sign it off automatically")
    p = report_sub.add_parser("interim", help="write the deferred-care section of a period")
    p.set_defaults(handler=cmd_report_interim)
    p.add_argument("--period", required=True, help="2026-T1 (jan-apr), 2026-T2 (jan-aug), 2026")
    p.add_argument("--unit", metavar="ID", help="only this unit and the units above it")

    p = command("remind", cmd_remind, "e-mail reminders for overdue steps (settings: smtp)")
    p.add_argument("--dry-run", action="store_true", help="list what would be sent, send nothing")

    p = command("schedule", cmd_schedule, "each deployment's next run on the Prefect server")
    p.add_argument(
        "--apply",
        action="store_true",
        help="first replace the step deployments' schedules by the wheel's (work pools)",
    )

    command("serve", cmd_serve, "serve the deployments on their schedules (a Prefect server)")

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
    p.set_defaults(handler=cmd_calendar_tokens, prefect=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_output(args.verbose)
    try:
        if args.prefect:
            from flows.runtime import ephemeral_server_dies_with_this_process

            ephemeral_server_dies_with_this_process()
        return int(args.handler(args))
    except ArshjulError as exc:
        print(f"arshjul: {_message(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("arshjul: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001  (the last line of defence: no traceback for users)
        if args.verbose:
            raise
        print(f"arshjul: failed: {_failure(exc)} (run with -v for details)", file=sys.stderr)
        return 1


#: the library's parameter names (UsageError.field) as the command line spells them
FLAGS = {
    "unit": "--unit",
    "period": "--period",
    "data": "--data",
    "port": "--port",
    "kind": "KIND",
    "file": "FILE",
}


def _message(exc: ArshjulError) -> str:
    if isinstance(exc, UsageError) and exc.field is not None:
        return f"{FLAGS.get(exc.field, exc.field)}: {exc.reason}"
    return str(exc)


def _failure(exc: Exception) -> str:
    """What went wrong, in a line: a database's error without the SQL statement and its
    parameters (SQLAlchemy puts both in its message), never a personnummer."""
    from sqlalchemy.exc import StatementError

    from arshjul.importers.personnummer import mask

    if isinstance(exc, StatementError) and exc.orig is not None:
        lines = str(exc.orig).strip().splitlines() or [""]
        return mask(f"the database: {type(exc.orig).__name__}: {lines[0]}")
    return mask(f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    sys.exit(main())
