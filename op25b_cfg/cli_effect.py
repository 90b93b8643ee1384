"""`op25b effect` commands: what the OP25B rules did. Thin: the logic lives in :mod:`op25b_cfg.effect`.

Each command is a function of its own registered on ``effect_app`` (``offenders`` here), so commands written
on other branches merge as further functions on the same sub-app.
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from op25b_cfg.cli import EXIT_OK, HelpGroup, _fail, _setup_logging, _table, app, err, out
from op25b_cfg.errors import Op25bError

if TYPE_CHECKING:
    from op25b_cfg.effect.offenders import Offender, Tally
    from op25b_cfg.effect.radius import Sessions
    from op25b_cfg.netaddr import Network

effect_app = typer.Typer(
    cls=HelpGroup,
    help="Effect verification: what the OP25B rules did (top offenders from their log lines).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(effect_app, name="effect")


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
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")] = False,
) -> None:
    """Top sources of blocked port-25 attempts per pool, from the log lines the OP25B rules write.

    Reads IOS, IOS-XR, EOS, Junos and nftables (kernel log) lines, counting the packets each line reports, and
    ranks the sources per pool and period. Lines that cannot be read are counted and shown, never fatal."""
    _setup_logging(verbose)
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
            from op25b_cfg.inventory import load_inventory

            pools = [(p.name, p.all()) for p in load_inventory(inventory).policy.pools]
        started = time.perf_counter()
        tally = off.read_logs(logs or ["-"], plats, period=period.value, year=year, sessions=sessions)
        ranked = off.rank(tally, pools, top)
    except Op25bError as exc:
        raise _fail(exc) from exc
    if fmt is OffendersFormat.json:
        print(off.to_json(tally, ranked))
    elif fmt is OffendersFormat.csv:
        print(off.to_csv(ranked), end="")
    else:
        _print_table(tally, ranked, time.perf_counter() - started, sessions)
    raise typer.Exit(EXIT_OK)


def _print_table(tally: Tally, ranked: list[Offender], elapsed: float, sessions: Sessions | None) -> None:
    from rich.text import Text

    from op25b_cfg.effect import offenders as mod
    from op25b_cfg.redact import printable

    table = _table("op25b effect offenders", mod.TABLE_COLUMNS, ())
    for row in mod.table_rows(ranked):
        table.add_row(*(Text(printable(c)) for c in row))  # Text: a RADIUS user name is never rich markup
    out.print(table)
    s = mod.summary(tally)
    err.print(
        f"{s['lines']} lines in {elapsed:.1f}s: {s['counted']} OP25B drop lines ({s['attempts']} attempts),"
        f" {s['other']} other rules, {s['unrecognised']} unrecognised, {s['malformed']} malformed"
        + (f", {s['untimed']} without a time" if s["untimed"] else ""),
        markup=False,
        highlight=False,
    )
    for ex in s["malformed_examples"]:
        err.print(f"  malformed: {ex['file']}:{ex['line']}: {printable(ex['reason'])}", markup=False, highlight=False)
    if sessions is not None:
        unmapped = sum(1 for o in ranked if o.subscriber is None)
        if unmapped:
            err.print(f"{unmapped} ranked address(es) held by no RADIUS session at that time", markup=False)
