"""`op25b push` (thin: the workflow lives in op25b_cfg.push). Registered on the main app."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from op25b_cfg import api
from op25b_cfg import cli_options as opt
from op25b_cfg.cli_common import (
    EXIT_ERROR,
    DeviceOpt,
    FilterOpt,
    InventoryOpt,
    VerboseOpt,
    _fail,
    _load,
    _setup_logging,
    app,
    err,
    out,
)
from op25b_cfg.defaults import DEFAULT_BACKUP_DIR, DEFAULT_CHANGELOG, DEFAULT_CONFIRM_TIMEOUT
from op25b_cfg.errors import Op25bError

if TYPE_CHECKING:
    from rich.table import Table

    from op25b_cfg.api import DeviceResult

PUSH_HELP = (
    "Put the OP25B intent on devices: dry-run (show the diff) unless --commit."
    "\n\nPer device: back up the running config, load only the OP25B part as a merge candidate, diff; with"
    " --commit: commit with the platform's revert timer, audit the new running config, confirm only if"
    " COMPLIANT, otherwise roll back; then remove old OP25B filter versions nothing uses any more."
    f"\n\n{opt.CREDENTIALS_HELP}"
    "\n\nOne op25b at a time per device: a device whose lock another run holds is not touched (it fails with"
    " 'busy'). The first Ctrl-C, SIGTERM or SIGHUP starts no new device and lets in-flight ones finish or roll"
    " back; a second one logs every in-flight device as interrupted and exits at once. Every device operation"
    " ends within --timeout (a commit within --timeout plus the time to roll back)."
    "\n\nExit codes: 0 every device ok (unchanged, dry-run or committed); 1 a device failed, was rolled back,"
    " was busy or was skipped (stop signal, window closed); 2 bad input or a refusal before any device was touched"
    " (inventory, two devices on one management address, --window syntax, outside the change window without"
    " --force, no credentials, change log not writable); 128+N aborted by a second signal N (130 Ctrl-C, 143"
    " SIGTERM, 129 SIGHUP)."
)


class PushFormat(StrEnum):
    table = "table"
    json = "json"


_STYLE = {
    "unchanged": "dim",
    "dry-run": "cyan",
    "committed": "green",
    "rolled-back": "yellow",
    "failed": "red",
    "skipped": "magenta",
    "interrupted": "red",
}
"""Table style per :class:`op25b_cfg.results.Outcome` value."""


def _print_diffs(results: list[DeviceResult]) -> None:
    from rich.rule import Rule

    from op25b_cfg.redact import printable

    for r in results:
        if not (r.diff or r.cleanup_diff):
            continue
        # piped output has no width (tables as wide as their content): a rule there is one short line, not 10,000
        out.print(Rule(f"{r.device} ({r.platform})", style="cyan"), width=out.width if out.is_terminal else 80)
        for text in (r.diff, r.cleanup_diff):
            if text:
                out.print(printable(text), markup=False, highlight=False)


def _removed(r: DeviceResult) -> str:
    """The 'old removed' cell: objects removed (+ stale attachment lines), 'preview' in a dry run."""
    if r.cleanup_removed or r.cleanup_detached:
        n = str(len(r.cleanup_removed))
        return f"{n} (+{len(r.cleanup_detached)} detached)" if r.cleanup_detached else n
    return "preview" if r.cleanup_diff else "-"


def _table(results: list[DeviceResult], title: str) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title)
    for col in ("device", "platform", "result", "changed", "diff", "old removed", "verdict", "state"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(
            r.device,
            r.platform,
            f"[{_STYLE[r.outcome]}]{r.outcome}[/]",
            "yes" if r.changed else "no",
            str(r.diff_lines),
            _removed(r),
            r.verdict or "-",
            Text(r.state),
        )
    return table


def _print_errors(results: list[DeviceResult]) -> None:
    from rich.text import Text

    from op25b_cfg.redact import printable

    for r in results:
        if r.error:
            head = "" if r.error.startswith(r.device) else f"{r.device}: "
            out.print(Text.assemble((head, "bold"), (printable(r.error), "red")))


@app.command(help=PUSH_HELP)
def push(
    inventory: InventoryOpt = Path("inventory"),
    device: DeviceOpt = None,
    filter_: FilterOpt = None,
    commit: Annotated[bool, typer.Option("--commit", help="Apply the change (default: dry-run, diff only).")] = False,
    confirm_timeout: Annotated[
        int,
        typer.Option(
            "--confirm-timeout",
            min=0,
            max=7200,
            help="Seconds of the device revert timer (ios/junos: whole minutes, rounded up); 0: no timer.",
        ),
    ] = DEFAULT_CONFIRM_TIMEOUT,
    window: Annotated[
        str | None,
        typer.Option(
            "--window",
            help="Change window, e.g. 'Sat 01:00-05:00 Asia/Tokyo' or 'Mon-Fri 23:00-02:00 UTC' ([DAYS] HH:MM-HH:MM"
            " ZONE; ';' separates several). --commit outside it is refused.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Commit even outside the --window.")] = False,
    workers: opt.WorkersOpt = opt.DEFAULT_WORKERS,
    backup_dir: Annotated[
        Path, typer.Option("--backup-dir", help="Raw running-config backups (files mode 0600).")
    ] = DEFAULT_BACKUP_DIR,
    changelog: Annotated[
        Path, typer.Option("--changelog", help="Append-only JSON-lines change log.")
    ] = DEFAULT_CHANGELOG,
    cleanup: Annotated[
        bool, typer.Option("--cleanup/--no-cleanup", help="Remove old OP25B filter versions nothing uses any more.")
    ] = True,
    username: opt.UsernameOpt = None,
    timeout: opt.TimeoutOpt = opt.DEFAULT_TIMEOUT,
    known_hosts: opt.KnownHostsOpt = None,
    verify_host_key: opt.VerifyHostKeyOpt = True,
    ssh_config: opt.SshConfigOpt = None,
    port: opt.PortOpt = None,
    driver_arg: opt.DriverArgOpt = None,
    allow_cleartext: opt.AllowCleartextOpt = False,
    show_diff: Annotated[
        bool | None, typer.Option("--show-diff/--no-show-diff", help="Print each device's diff (default: yes).")
    ] = None,
    fmt: Annotated[PushFormat, typer.Option("--format", help="table (default) or json (op25b.push/1).")] = (
        PushFormat.table
    ),
    verbose: VerboseOpt = False,
) -> None:
    from op25b_cfg.fanout import ctrl_c_sets

    _setup_logging(verbose, devices=True)
    try:
        _, devices = _load(inventory, device, filter_)
        if not devices:
            err.print("error: no device selected", highlight=False)
            raise typer.Exit(EXIT_ERROR)
        win = api.change_window(window) if window else None
        status = api.window_status(win, commit=commit, force=force)
        conn = opt.connection_setup(
            username, timeout, known_hosts, verify_host_key, ssh_config, port, driver_arg, allow_cleartext
        )
    except Op25bError as exc:
        raise _fail(exc) from None
    if status:
        err.print(status, highlight=False, markup=False)
    opt.warn_unverified(err, verify_host_key)
    stop = threading.Event()
    progress = opt.device_progress(err, "push", disable=fmt is PushFormat.json)
    inflight = api.InFlight()

    def abort(signum: int) -> None:
        """A second stop signal: log every in-flight device as interrupted, then exit at once."""
        name = signal.Signals(signum).name
        done = inflight.abort(f"a second {name}")
        with contextlib.suppress(Exception):  # SIGHUP: the terminal may be gone
            progress.stop()
            for r in done:
                err.print(f"{r.device}: {r.outcome}: {r.state}", highlight=False, markup=False)
            err.print(f"aborted by a second {name}; change log: {changelog}", highlight=False, markup=False)
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(128 + signum)  # at once: the worker threads may be stuck in a device call

    try:
        with progress, ctrl_c_sets(stop, opt.stop_notice(err), abort):
            bar = progress.add_task("commit" if commit else "dry-run", total=len(devices))
            report = api.push(
                devices,
                conn,
                commit=commit,
                confirm_timeout=confirm_timeout,
                backup_dir=backup_dir,
                changelog=changelog,
                cleanup=cleanup,
                workers=workers,
                window=win,
                force=force,
                stop=stop,
                on_done=lambda r: progress.update(bar, advance=1, description=f"{r.device}: {r.outcome}"),
                inflight=inflight,
            )
    except Op25bError as exc:
        raise _fail(exc) from None

    if fmt is PushFormat.json:
        print(
            json.dumps(
                {
                    "schema": "op25b.push/1",
                    "run_id": report.run_id,
                    "commit": report.commit,
                    "summary": report.summary(),
                    "exit_code": report.exit_code,
                    "devices": [r.to_dict() for r in report.results],
                },
                indent=2,
            )
        )
    else:
        if show_diff is None or show_diff:
            _print_diffs(report.results)
        mode = "COMMIT" if commit else "dry-run (nothing changed; --commit to apply)"
        out.print(_table(report.results, f"op25b push: {mode}"))
        _print_errors(report.results)
        out.print(report.summary(), highlight=False)
        out.print(f"change log: {changelog}   backups: {backup_dir}/<device>/", highlight=False)
    raise typer.Exit(report.exit_code)
