"""`op25b audit` commands (thin: logic lives in importable modules). Registered on the main app."""

from __future__ import annotations

import contextlib
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
    SUMMARY_ABOVE,
    AllRowsOpt,
    DeviceOpt,
    FilterOpt,
    InventoryOpt,
    VerboseOpt,
    _fail,
    _load,
    _setup_logging,
    app,
    err,
)
from op25b_cfg.defaults import DEFAULT_TIME_BUDGET
from op25b_cfg.errors import Op25bError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from op25b_cfg.api import Connection, Device, DeviceReport

DEFAULT_HTML = Path("op25b-audit.html")


class AuditFormat(StrEnum):
    table = "table"
    json = "json"
    junit = "junit"
    html = "html"


AUDIT_HELP = (
    "Prove OP25B on each device's running config: can a subscriber in a dynamic pool reach a foreign port 25?"
    "\n\nThe platform of each device comes from the inventory. A missing, empty, binary or truncated config is"
    " reported for that device (verdict ERROR) and does not stop the run."
    "\n\n--live fetches the running configs from the devices instead (napalm get_config; 'nft list ruleset' on"
    " Linux), --workers at a time, with the connection options of 'op25b push'; a device that cannot be"
    " reached or logged in to is ERROR and the others are still audited. --save DIR keeps what was fetched"
    f" (DIR/<device>/<UTC>.cfg, mode 0600). {opt.CREDENTIALS_HELP}"
    "\n\nExit codes: 0 every device COMPLIANT; 1 findings (a device NONCOMPLIANT); 2 a device UNKNOWN or ERROR,"
    " no device selected, no credentials for --live, or a bad inventory or configs directory."
)


def _refuse_without_live(given: dict[str, object]) -> None:
    """Connection options without ``--live`` are a mistake (nothing would connect): say so, exit 2."""
    names = [name for name, value in given.items() if value]
    if names:
        raise Op25bError(f"{', '.join(names)} only apply with --live (fetching configs from the devices)")


def _audit_live(
    devices: list[Device], conn: Connection, workers: int, save: Path | None, quiet: bool
) -> list[DeviceReport]:
    """Fetch and audit every device with a progress bar; the first Ctrl-C starts no new device."""
    from op25b_cfg.fanout import ctrl_c_sets

    stop = threading.Event()
    progress = opt.device_progress(err, "audit --live", disable=quiet)
    with progress, ctrl_c_sets(stop, opt.stop_notice(err)):
        bar = progress.add_task("fetching", total=len(devices))
        return api.audit_devices(
            devices,
            conn,
            workers=workers,
            save_dir=save,
            stop=stop,
            on_done=lambda r: progress.update(bar, advance=1, description=f"{r.device}: {r.verdict}"),
        )


def _write_report(
    fmt: AuditFormat, reports: Iterable[DeviceReport], meta: tuple[str, str, str], target: Path | None, all_rows: bool
) -> tuple[int, int]:
    """Write the report (``meta``: policy, inventory, configs) to ``target`` (stdout when None); returns (exit
    code, devices).

    JSON, JUnit and HTML are written as each device's report arrives (:func:`op25b_cfg.api.write_audit_report`),
    so a large run does not hold them all; the table needs every row first and, above
    :data:`~op25b_cfg.cli_common.SUMMARY_ABOVE` devices (without ``--all-rows``), lists only those not COMPLIANT."""
    from rich.console import Console

    from op25b_cfg.paths import atomic_open

    policy, inventory, configs = meta
    # a file is written whole or not at all (a full disk leaves the old report), stdout as it comes
    with atomic_open(target) if target is not None else contextlib.nullcontext(sys.stdout) as fh:
        if fmt is AuditFormat.table:
            rows = list(reports)
            console = Console() if target is None else Console(file=fh, width=160, no_color=True, highlight=False)
            summarise = len(rows) > SUMMARY_ABOVE and not all_rows
            return api.write_audit_report(
                rows, console, "table", policy=policy, inventory=inventory, configs=configs, summarise=summarise
            )
        return api.write_audit_report(reports, fh, fmt.value, policy=policy, inventory=inventory, configs=configs)


@app.command(help=AUDIT_HELP)
def audit(
    inventory: InventoryOpt = Path("inventory"),
    configs: Annotated[
        Path | None,
        typer.Option(
            "--configs",
            "-c",
            help="Directory of saved running configs, one file per device: <device>, <device>.cfg, .conf, .txt"
            " (Oxidized/RANCID layout). Default: INVENTORY/running.",
        ),
    ] = None,
    device: DeviceOpt = None,
    filter_: FilterOpt = None,
    fmt: Annotated[
        AuditFormat, typer.Option("--format", help="table (default), json (schema op25b.audit/1), junit or html.")
    ] = AuditFormat.table,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report to FILE (default: stdout; html: op25b-audit.html)."),
    ] = None,
    live: Annotated[
        bool,
        typer.Option("--live", help="Fetch the running configs from the devices instead of reading saved ones."),
    ] = False,
    save: Annotated[
        Path | None,
        typer.Option(
            "--save", help="With --live: also save each fetched config raw to DIR/<device>/<UTC>.cfg (mode 0600)."
        ),
    ] = None,
    workers: opt.WorkersOpt = opt.DEFAULT_WORKERS,
    username: opt.UsernameOpt = None,
    timeout: opt.TimeoutOpt = opt.DEFAULT_TIMEOUT,
    known_hosts: opt.KnownHostsOpt = None,
    verify_host_key: opt.VerifyHostKeyOpt = True,
    ssh_config: opt.SshConfigOpt = None,
    port: opt.PortOpt = None,
    driver_arg: opt.DriverArgOpt = None,
    time_budget: Annotated[
        float,
        typer.Option(
            "--time-budget",
            min=0.1,
            max=86400,
            metavar="SECONDS",
            help="Stop the audit of one device after SECONDS (parse and proof); it is then UNKNOWN with the"
            " reason and the run goes on.",
        ),
    ] = DEFAULT_TIME_BUDGET,
    allow_cleartext: opt.AllowCleartextOpt = False,
    all_rows: AllRowsOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Prove OP25B on each device's running config (see AUDIT_HELP)."""
    _setup_logging(verbose, devices=live)
    api.set_time_budget(time_budget)
    try:
        inv, devices = _load(inventory, device, filter_)
        if live:
            if configs is not None:
                raise Op25bError("--configs and --live exclude each other: audit saved configs or the devices")
            conn = opt.connection_setup(
                username, timeout, known_hosts, verify_host_key, ssh_config, port, driver_arg, allow_cleartext
            )
            source = "live"
        else:
            _refuse_without_live(
                {
                    "--save": save,
                    "--username": username,
                    "--known-hosts": known_hosts,
                    "--no-verify-host-key": not verify_host_key,
                    "--ssh-config": ssh_config,
                    "--port": port,
                    "--driver-arg": driver_arg,
                    "--allow-cleartext": allow_cleartext,
                }
            )
            source = str(configs if configs is not None else inventory / "running")
            reports: Iterable[DeviceReport] = api.iter_audit_saved(devices, source)
    except Op25bError as exc:
        raise _fail(exc) from None
    if live:
        opt.warn_unverified(err, verify_host_key)
        try:
            reports = _audit_live(devices, conn, workers, save, quiet=fmt is not AuditFormat.table)
        except Op25bError as exc:
            raise _fail(exc) from None
    meta = (inv.policy.name, str(inventory), source)
    target = output if output is not None else (DEFAULT_HTML if fmt is AuditFormat.html else None)
    try:
        code, count = _write_report(fmt, reports, meta, target, all_rows)
    except OSError as exc:
        err.print(f"error: cannot write {target}: {exc.strerror or exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_ERROR) from None
    except Op25bError as exc:
        raise _fail(exc) from None
    if target is not None:
        err.print(
            f"{fmt} report written to {target}: {count} device(s), exit code {code}",
            markup=False,
            highlight=False,
        )
    raise typer.Exit(code)
