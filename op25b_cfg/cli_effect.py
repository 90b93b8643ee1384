"""`op25b effect` commands (thin: the logic lives in :mod:`op25b_cfg.effect`). Registered on the main app."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from op25b_cfg import cli_common as com
from op25b_cfg import cli_options as opt
from op25b_cfg.defaults import DEFAULT_CHANGELOG
from op25b_cfg.errors import Op25bError

if TYPE_CHECKING:
    from op25b_cfg.effect.collect import Collected
    from op25b_cfg.effect.offenders import Offender, Tally
    from op25b_cfg.effect.radius import Sessions
    from op25b_cfg.netaddr import Network

effect_app = typer.Typer(
    cls=com.HelpGroup,
    help="Measure what OP25B does: read the filters' counters into a database and report them per pool; rank the"
    " top offenders from the rules' log lines.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
com.app.add_typer(effect_app, name="effect")

DEFAULT_DB = "op25b.db"  # == op25b_cfg.effect.db.DEFAULT_DB (not imported: --help loads no SQLAlchemy)
DbOpt = Annotated[
    str,
    typer.Option(
        "--db",
        help="The effect database: a SQLite file (created when missing) or a PostgreSQL URL"
        " (postgresql://user@host/dbname; the password from the URL, PGPASSWORD or ~/.pgpass).",
    ),
]

COLLECT_HELP = (
    "Read the OP25B counters of every selected device (--workers at a time) and store them in --db."
    "\n\nIOS: show ip access-lists / show ipv6 access-list; IOS-XR: show access-lists ipv4 / ipv6; Junos: the"
    " get-firewall-filter-information RPC; EOS: eAPI show ip access-lists / show ipv6 access-lists (JSON);"
    " nftables: nft -j list table inet op25b. Each counter is stored with its device, filter version, pool,"
    " purpose, packets, bytes and time; a counter that went down (reload) or belongs to a new filter version is a"
    f" reset, never subtracted. Connection options as for 'op25b push'. {opt.CREDENTIALS_HELP}"
    "\n\nExit codes: 0 every device read; 1 a device could not be read (the others are stored); 2 bad input"
    " (inventory, nothing selected, credentials, database)."
)

REPORT_HELP = (
    "Report the stored counters over a period: per pool blocked packets (per hour and day), the share of port-25"
    " packets blocked and sent to the relays, submission traffic, flow-control limit hits; per device, with the"
    " devices whose block never matched (deployment gaps); and with --change (or --compare) the rates before and"
    " after a push from the change log. The HTML page has one SVG chart per pool and no script."
    "\n\nExit codes: 0 report written; 1 a deployment gap was found; 2 bad input (period, database, change id)."
)


def _collect_rows(results: list[Collected]) -> None:
    from rich.table import Table
    from rich.text import Text

    from op25b_cfg.redact import printable

    table = Table(title="op25b effect collect")
    for col in ("device", "counters", "resets", "filters", "error"):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.device,
            str(len(r.samples)),
            str(r.resets),
            printable(", ".join(r.filters)),
            Text(printable(r.error), style="red"),
        )
    com.out.print(table)


@effect_app.command("collect", help=COLLECT_HELP)
@opt.connection_options
def collect(
    inventory: com.InventoryOpt = Path("inventory"),
    device: com.DeviceOpt = None,
    filter_: com.FilterOpt = None,
    db: DbOpt = DEFAULT_DB,
    *,
    conn: opt.ConnectionArgs,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only devices that failed.")] = False,
    verbose: com.VerboseOpt = False,
) -> None:
    from op25b_cfg.connection.factory import quiet_library_logs
    from op25b_cfg.effect.collect import collect as run_collect
    from op25b_cfg.effect.db import EffectDB
    from op25b_cfg.fanout import ctrl_c_sets

    com._setup_logging(verbose)
    try:
        _, devices = com._load(inventory, device, filter_)
        quiet_library_logs(verbose)
        connection = conn.setup()
        store = EffectDB.open(db)
    except Op25bError as exc:
        raise com._fail(exc) from None
    opt.warn_unverified(com.err, conn.verify_host_key)
    stop = threading.Event()
    progress = opt.device_progress(com.err, "effect collect", disable=quiet)
    with store, progress, ctrl_c_sets(stop, opt.stop_notice(com.err)):
        bar = progress.add_task("reading", total=len(devices))
        results = run_collect(
            devices,
            connection.session,
            store,
            workers=conn.workers,
            stop=stop,
            on_done=lambda r: progress.update(bar, advance=1, description=f"{r.device}: {len(r.samples)} counter(s)"),
        )
    failed = [r for r in results if not r.ok]
    if quiet:
        for r in failed:
            com.err.print(r.error, highlight=False, markup=False)
    else:
        _collect_rows(results)
    raise typer.Exit(com.EXIT_FINDINGS if failed else com.EXIT_OK)


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    html = "html"
    csv = "csv"


@effect_app.command("report", help=REPORT_HELP)
def report(
    db: DbOpt = DEFAULT_DB,
    since: Annotated[
        str, typer.Option("--since", help="Start: ISO date/time (UTC unless a zone is given) or an age: 24h, 7d.")
    ] = "7d",
    until: Annotated[str, typer.Option("--until", help="End (exclusive), as --since; default now.")] = "now",
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="Series buckets: hour or day (default: hour up to 7 days).")
    ] = None,
    change: Annotated[
        str | None, typer.Option("--change", help="Compare before/after this push (run_id in the change log).")
    ] = None,
    compare: Annotated[
        bool, typer.Option("--compare", help="Compare before/after the last committed push inside the period.")
    ] = False,
    window: Annotated[
        str | None,
        typer.Option(
            "--window", help="Length of each side of the comparison, e.g. 24h (default: the period, at most 7d)."
        ),
    ] = None,
    changelog: Annotated[Path, typer.Option("--changelog", help="The push change log.")] = DEFAULT_CHANGELOG,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", help="table (default), json (op25b.effect/1), html or csv.")
    ] = (ReportFormat.table),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE (default: stdout; html: op25b-effect.html).")
    ] = None,
    all_rows: com.AllRowsOpt = False,
    verbose: com.VerboseOpt = False,
) -> None:
    from rich.console import Console

    from op25b_cfg.changelog import ChangeLog
    from op25b_cfg.effect import report as rep
    from op25b_cfg.effect.db import EffectDB
    from op25b_cfg.paths import atomic_open

    com._setup_logging(verbose)
    now = time.time()
    try:
        start, end = rep.parse_time(since, now), rep.parse_time(until, now)
        span = None if window is None else now - rep.parse_time(window, now)
        if window is not None and (span is None or span <= 0):
            raise rep.ReportError(f"--window {window!r}: write an age such as 24h or 7d")
        chosen = bucket or ("hour" if end - start <= 7 * 86400 else "day")
        if "://" not in db and not Path(db).is_file():
            raise rep.ReportError(f"database {db} does not exist. Fix: run 'op25b effect collect --db {db}' first")
        with EffectDB.open(db) as store:
            mark = None
            if change is not None or compare:
                mark = rep.find_change(list(ChangeLog(changelog).records()), change, start, end)
            result = rep.build(store, start, end, chosen, mark, span)
    except Op25bError as exc:
        raise com._fail(exc) from None
    target = output if output is not None else (Path("op25b-effect.html") if fmt is ReportFormat.html else None)
    try:
        with atomic_open(target) if target is not None else contextlib.nullcontext(sys.stdout) as fh:
            if fmt is ReportFormat.table:
                console = com.out if target is None else Console(file=fh, width=160, no_color=True, highlight=False)
                many = len({d.device for d in result.devices}) > com.SUMMARY_ABOVE
                rep.render_table(result, console, summarise=many and not all_rows)
            else:
                fh.write({"json": rep.to_json, "html": rep.to_html, "csv": rep.to_csv}[fmt.value](result))
    except OSError as exc:
        com.err.print(f"error: cannot write {target}: {exc.strerror or exc}", markup=False, highlight=False)
        raise typer.Exit(com.EXIT_ERROR) from None
    if target is not None:
        com.err.print(f"{fmt} report written to {target}", markup=False, highlight=False)
    raise typer.Exit(com.EXIT_FINDINGS if result.gaps else com.EXIT_OK)


class OffendersFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class Period(StrEnum):
    all = "all"
    day = "day"
    hour = "hour"


@effect_app.command("offenders")
def effect_offenders(
    logs: Annotated[
        list[str] | None,
        typer.Argument(help="Syslog files (.gz too), '-' or nothing for stdin.", show_default=False),
    ] = None,
    inventory: Annotated[
        Path | None,
        typer.Option("--inventory", "-i", help="Inventory directory: addresses are grouped by its policy's pools."),
    ] = None,
    radius: Annotated[
        list[Path] | None,
        typer.Option(
            "--radius",
            help="FreeRADIUS detail accounting file (repeatable): name each address by the subscriber who held it"
            " at the time of the log line.",
        ),
    ] = None,
    platform: Annotated[
        list[str] | None,
        typer.Option("--platform", "-p", help="Only this platform's log formats (repeatable; default: all)."),
    ] = None,
    top: Annotated[int, typer.Option("--top", "-n", min=1, help="Addresses shown per pool and period.")] = 10,
    period: Annotated[Period, typer.Option("--period", help="Rank per UTC day or hour, or over all.")] = Period.all,
    year: Annotated[
        int | None,
        typer.Option(
            "--year", min=1970, max=9999, help="Year of RFC 3164 timestamps, which carry none (default: this year)."
        ),
    ] = None,
    fmt: Annotated[OffendersFormat, typer.Option("--format", help="Output format.")] = OffendersFormat.table,
    verbose: com.VerboseOpt = False,
) -> None:
    """Top sources of blocked port-25 attempts per pool, from the log lines the OP25B rules write.

    Reads IOS, IOS-XR, EOS, Junos and nftables (kernel log) lines, counting the packets each line reports, and
    ranks the sources per pool and period. Lines that cannot be read are counted and shown, never fatal."""
    com._setup_logging(verbose)
    from op25b_cfg.effect import offenders as off
    from op25b_cfg.platforms import PLATFORMS, get_platform

    try:
        plats = [get_platform(p) for p in (platform or list(PLATFORMS))]
        sessions = None
        if radius:
            from op25b_cfg.effect.radius import Sessions

            sessions = Sessions()
            for path in radius:
                sessions.read(path)
        pools: list[tuple[str, list[Network]]] = []
        if inventory is not None:
            from op25b_cfg import api

            pools = [(p.name, p.all()) for p in api.load(inventory).policy.pools]
        started = time.perf_counter()
        tally = off.read_logs(logs or ["-"], plats, period=period.value, year=year, sessions=sessions)
        ranked = off.rank(tally, pools, top)
    except Op25bError as exc:
        raise com._fail(exc) from exc
    if fmt is OffendersFormat.json:
        print(off.to_json(tally, ranked))
    elif fmt is OffendersFormat.csv:
        print(off.to_csv(ranked), end="")
    else:
        _print_table(tally, ranked, time.perf_counter() - started, sessions)
    raise typer.Exit(com.EXIT_OK)


def _print_table(tally: Tally, ranked: list[Offender], elapsed: float, sessions: Sessions | None) -> None:
    from rich.text import Text

    from op25b_cfg.effect import offenders as mod
    from op25b_cfg.redact import printable

    table = com._table("op25b effect offenders", mod.TABLE_COLUMNS, ())
    for row in mod.table_rows(ranked):
        table.add_row(*(Text(printable(c)) for c in row))  # Text: a RADIUS user name is never rich markup
    com.out.print(table)
    s = mod.summary(tally)
    com.err.print(
        f"{s['lines']} lines in {elapsed:.1f}s: {s['counted']} OP25B drop lines ({s['attempts']} attempts),"
        f" {s['other']} other rules, {s['unrecognised']} unrecognised, {s['malformed']} malformed"
        + (f", {s['untimed']} without a time" if s["untimed"] else ""),
        markup=False,
        highlight=False,
    )
    for ex in s["malformed_examples"]:
        com.err.print(
            f"  malformed: {ex['file']}:{ex['line']}: {printable(ex['reason'])}", markup=False, highlight=False
        )
    if sessions is not None:
        unmapped = sum(1 for o in ranked if o.subscriber is None)
        if unmapped:
            com.err.print(f"{unmapped} ranked address(es) held by no RADIUS session at that time", markup=False)
