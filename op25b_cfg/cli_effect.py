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

from op25b_cfg import cli_options as opt
from op25b_cfg.cli import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    SUMMARY_ABOVE,
    AllRowsOpt,
    DeviceOpt,
    FilterOpt,
    HelpGroup,
    InventoryOpt,
    VerboseOpt,
    _fail,
    _load,
    _setup_logging,
    app,
    err,
    out,
)
from op25b_cfg.defaults import DEFAULT_CHANGELOG
from op25b_cfg.errors import Op25bError

if TYPE_CHECKING:
    from op25b_cfg.effect.collect import Collected

effect_app = typer.Typer(
    cls=HelpGroup,
    help="Measure what OP25B does: read the filters' counters into a database and report them per pool.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(effect_app, name="effect")

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
    "Report the stored counters over a period: per pool blocked attempts (per hour and day), the share of port-25"
    " attempts blocked and sent to the relays, submission traffic, flow-control limit hits; per device, with the"
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
    out.print(table)


@effect_app.command("collect", help=COLLECT_HELP)
def collect(
    inventory: InventoryOpt = Path("inventory"),
    device: DeviceOpt = None,
    filter_: FilterOpt = None,
    db: DbOpt = DEFAULT_DB,
    workers: opt.WorkersOpt = opt.DEFAULT_WORKERS,
    username: opt.UsernameOpt = None,
    timeout: opt.TimeoutOpt = opt.DEFAULT_TIMEOUT,
    known_hosts: opt.KnownHostsOpt = None,
    verify_host_key: opt.VerifyHostKeyOpt = True,
    ssh_config: opt.SshConfigOpt = None,
    port: opt.PortOpt = None,
    driver_arg: opt.DriverArgOpt = None,
    allow_cleartext: opt.AllowCleartextOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only devices that failed.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    from op25b_cfg.connection.factory import quiet_library_logs
    from op25b_cfg.effect.collect import collect as run_collect
    from op25b_cfg.effect.db import EffectDB
    from op25b_cfg.fanout import ctrl_c_sets

    _setup_logging(verbose)
    try:
        _, devices = _load(inventory, device, filter_)
        quiet_library_logs(verbose)
        conn = opt.connection_setup(
            username, timeout, known_hosts, verify_host_key, ssh_config, port, driver_arg, allow_cleartext
        )
        store = EffectDB.open(db)
    except Op25bError as exc:
        raise _fail(exc) from None
    opt.warn_unverified(err, verify_host_key)
    stop = threading.Event()
    progress = opt.device_progress(err, "effect collect", disable=quiet)
    with store, progress, ctrl_c_sets(stop, opt.stop_notice(err)):
        bar = progress.add_task("reading", total=len(devices))
        results = run_collect(
            devices,
            conn.session,
            store,
            workers=workers,
            stop=stop,
            on_done=lambda r: progress.update(bar, advance=1, description=f"{r.device}: {len(r.samples)} counter(s)"),
        )
    failed = [r for r in results if not r.ok]
    if quiet:
        for r in failed:
            err.print(r.error, highlight=False, markup=False)
    else:
        _collect_rows(results)
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


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
    all_rows: AllRowsOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    from rich.console import Console

    from op25b_cfg.changelog import ChangeLog
    from op25b_cfg.effect import report as rep
    from op25b_cfg.effect.db import EffectDB
    from op25b_cfg.paths import atomic_open

    _setup_logging(verbose)
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
        raise _fail(exc) from None
    target = output if output is not None else (Path("op25b-effect.html") if fmt is ReportFormat.html else None)
    try:
        with atomic_open(target) if target is not None else contextlib.nullcontext(sys.stdout) as fh:
            if fmt is ReportFormat.table:
                console = out if target is None else Console(file=fh, width=160, no_color=True, highlight=False)
                many = len({d.device for d in result.devices}) > SUMMARY_ABOVE
                rep.render_table(result, console, summarise=many and not all_rows)
            else:
                fh.write({"json": rep.to_json, "html": rep.to_html, "csv": rep.to_csv}[fmt.value](result))
    except OSError as exc:
        err.print(f"error: cannot write {target}: {exc.strerror or exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_ERROR) from None
    if target is not None:
        err.print(f"{fmt} report written to {target}", markup=False, highlight=False)
    raise typer.Exit(EXIT_FINDINGS if result.gaps else EXIT_OK)
