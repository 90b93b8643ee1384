"""What every ``op25b`` command module shares: the typer application and its ``inventory`` group, the consoles,
exit codes, common options, and the helpers that load the selection and report errors. The command modules
(:mod:`op25b_cfg.cli`, ``cli_audit``, ``cli_push``, ``cli_lab``) import from here and register their commands on
:data:`app`; :mod:`op25b_cfg.cli` imports them all (it is the console script's entry point)."""

from __future__ import annotations

import copy
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


class App(typer.Typer):
    """The ``op25b`` application: a call builds the click command of the one command named on the command line,
    not all of them (typer converts every command's parameters on each call: 12-14 ms for all, 1-2 ms for one).
    Help, ``--version``, completion and a name that is no command get the whole group."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        argv = args[0] if args else kwargs.get("args")  # click's main(args=None): the command line
        if list(sys.argv[1:] if argv is None else argv) in ([], ["--help"], ["--version"]):
            return typer.Typer.__call__(_listing(self), *args, **kwargs)
        name = next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), None)
        commands = [c for c in self.registered_commands if command_name(c) == name]
        groups = [g for g in self.registered_groups if g.name == name]
        if not commands and not groups:
            return super().__call__(*args, **kwargs)
        one = copy.copy(self)  # the group's callback (--version) and settings, with only that command
        one.registered_commands, one.registered_groups = commands, groups
        return typer.Typer.__call__(one, *args, **kwargs)


def _listing(group: typer.Typer) -> typer.Typer:
    """A copy of ``group`` for ``op25b``, ``--help`` and ``--version``, which run no command and print at most
    each command's name and help: its commands (and those of its groups) get a callback without parameters of
    the same name and docstring, so typer does not convert every command's parameters (building them all: 60 M
    instructions of a 460 M ``op25b --help``). Help text, order and flags come from the same command infos."""

    def stub(info: Any) -> Any:
        callback = info.callback

        def command() -> None:  # never called: only its name and docstring are read
            raise AssertionError("a listing runs no command")

        command.__name__, command.__doc__ = callback.__name__, callback.__doc__
        listed = copy.copy(info)
        listed.callback = command
        return listed

    one = copy.copy(group)
    one.registered_commands = [stub(c) for c in group.registered_commands]
    one.registered_groups = [copy.copy(g) for g in group.registered_groups]
    for g in one.registered_groups:
        if g.typer_instance is not None:
            g.typer_instance = _listing(g.typer_instance)
    return one


def command_name(info: Any) -> str:
    """The name typer gives a registered command (its own, else the function's, ``_`` as ``-``)."""
    return str(info.name or typer.main.get_command_name(info.callback.__name__))


app = App(
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
