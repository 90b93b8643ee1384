"""What every ``op25b`` command module shares: the typer application and its ``inventory`` group, the consoles,
exit codes, common options, and the helpers that load the selection and report errors. The command modules
(:mod:`op25b_cfg.cli`, ``cli_audit``, ``cli_push``, ``cli_lab``) import from here and register their commands on
:data:`app`; :mod:`op25b_cfg.cli` imports them all (it is the console script's entry point)."""

from __future__ import annotations

import logging
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from op25b_cfg import __version__, api
from op25b_cfg.errors import InventoryError, Op25bError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rich.table import Table

    from op25b_cfg.api import Device, Inventory


class HelpGroup(TyperGroup):
    """A command group whose command list shows each command's first help paragraph, wrapped, never cut."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:  # typer vendors click: its types are private
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                text = cmd.short_help or (cmd.help or "").split("\n\n")[0]
                rows.append((name, " ".join(text.split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class OneCommandTyper(typer.Typer):
    """A typer application that, called as the console script calls it (``app()``: the arguments from
    ``sys.argv``), builds the click objects of the one command named on the command line, not of all of them.

    Building every command's click objects (each command's parameters read from its signature and type hints)
    cost 102 M instructions per call, about 7% of a 60k-line audit. The command runs and prints exactly as in
    the whole group: its usage line, help and errors come from the command itself and the group's own
    options and callback are kept. Whenever the first argument is not exactly one command or group name
    (``--help``, ``--version``, no argument, a typo that deserves "No such command", shell completion) the whole
    group is built. Calls with explicit arguments and ``typer.testing.CliRunner`` (which builds the command
    with ``typer.main.get_command``) always see the whole group."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = sys.argv[1] if len(sys.argv) > 1 and not args and not kwargs else None
        commands = [c for c in self.registered_commands if name is not None and _command_name(c) == name]
        groups = [g for g in self.registered_groups if name is not None and g.name == name]
        if len(commands) + len(groups) != 1:
            return super().__call__(*args, **kwargs)
        every = self.registered_commands, self.registered_groups
        self.registered_commands, self.registered_groups = commands, groups
        try:
            return super().__call__()
        finally:
            self.registered_commands, self.registered_groups = every


def _command_name(command: Any) -> str | None:
    """The name a registered typer command is invoked by (typer's rule: the function's name, ``_`` -> ``-``)."""
    if command.name:
        return str(command.name)
    callback = command.callback
    return None if callback is None else typer.main.get_command_name(callback.__name__)


app = OneCommandTyper(
    cls=HelpGroup,
    help="Generate, push and audit Outbound Port 25 Blocking (OP25B) on ISP routers, BRAS and Linux hosts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # plain click help: wrapped, never cut with "..." on a narrow terminal; and rendering it with rich costs
    # 80 ms of imports (markdown, pygments)
    rich_markup_mode=None,
)
inventory_app = typer.Typer(
    cls=HelpGroup,
    help="Validate and inspect the intent (policy + devices).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(inventory_app, name="inventory")

# Piped (not a terminal, no COLUMNS): tables as wide as their content, so no name is split across lines.
out = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 10_000)
err = Console(stderr=True, soft_wrap=True)

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class Format(StrEnum):
    table = "table"
    json = "json"


InventoryOpt = Annotated[
    Path,
    typer.Option(
        "--inventory", "-i", help="Inventory directory (policy.yaml, hosts.yaml, groups.yaml, defaults.yaml)."
    ),
]
DeviceOpt = Annotated[list[str] | None, typer.Option("--device", "-d", help="Only this device (repeatable).")]
FilterOpt = Annotated[
    str | None,
    typer.Option("--filter", "-f", help="Only devices matching KEY=VALUE (platform, group, mode, site, name)."),
]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only failures (on stderr) and nothing on success.")
]
SUMMARY_ABOVE = 50
"""A table run with more devices than this shows a summary and the failing devices unless ``--all-rows``."""
AllRowsOpt = Annotated[
    bool,
    typer.Option(
        "--all-rows",
        help=f"Table output: one row per device even above {SUMMARY_ABOVE} devices (default: a summary and the"
        " failing devices).",
    ),
]


def _version(value: bool) -> None:
    if value:
        print(f"op25b {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Generate, push and audit Outbound Port 25 Blocking (OP25B) on ISP routers, BRAS and Linux hosts."""


def _setup_logging(verbose: bool, devices: bool = False) -> None:
    """Log to stderr (INFO with ``--verbose``). ``devices``: a command that talks to devices also quiets the
    device libraries' own chatter (paramiko logs every client that hangs up as an ERROR) unless ``verbose``."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if devices:
        from op25b_cfg.connection.factory import quiet_library_logs

        quiet_library_logs(verbose)


def _fail(exc: Op25bError) -> typer.Exit:
    from op25b_cfg.redact import printable

    if isinstance(exc, InventoryError):
        err.print(f"[bold red]error:[/] {len(exc.problems)} problem(s) in the inventory:", highlight=False)
        for p in exc.problems:
            err.print(f"  {printable(str(p))}", highlight=False, markup=False)
    else:
        err.print("[bold red]error:[/] ", end="", highlight=False)
        err.print(printable(str(exc)), highlight=False, markup=False)
    return typer.Exit(EXIT_ERROR)


def _load(path: Path, names: list[str] | None, where: str | None) -> tuple[Inventory, list[Device]]:
    """The inventory and the selected devices; nothing selected is an error (exit 2) in every command."""
    inv = api.load(path)
    devices = inv.select(names, where)
    if not devices:
        raise Op25bError(
            f"no device matches --filter {where!r} in {path}; nothing selected."
            " Fix: check the filter with 'op25b inventory show'"
        )
    return inv, devices


def _table(title: str, columns: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> Table:
    """A rich table (imported here: only commands that print one pay for it); cells fold, never cut."""
    from rich.table import Table

    table = Table(title=title)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table
