"""`op25b audit` commands (thin: logic lives in importable modules). Registered on the main app."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from op25b_cfg.audit import report as rep
from op25b_cfg.audit.runner import audit_saved
from op25b_cfg.cli import (
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
)
from op25b_cfg.errors import Op25bError

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
    "\n\nExit codes: 0 every device COMPLIANT; 1 findings (a device NONCOMPLIANT); 2 a device UNKNOWN or ERROR,"
    " no device selected, or a bad inventory or configs directory."
)


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
    verbose: VerboseOpt = False,
) -> None:
    """Prove OP25B on each device's running config: can a subscriber in a dynamic pool reach a foreign port 25?

    The platform of each device comes from the inventory. A missing, empty, binary or truncated config is
    reported for that device (verdict ERROR) and does not stop the run.

    Exit codes: 0 every device COMPLIANT; 1 findings (a device NONCOMPLIANT); 2 a device UNKNOWN or ERROR, no
    device selected, or a bad inventory / configs directory.
    """
    _setup_logging(verbose)
    try:
        inv, devices = _load(inventory, device, filter_)
        if not devices:
            raise Op25bError(
                f"no device matches --filter {filter_!r} in {inventory}; nothing was audited."
                " Fix: check the filter with 'op25b inventory show'"
            )
        configs_dir = configs if configs is not None else inventory / "running"
        reports = audit_saved(devices, configs_dir)
    except Op25bError as exc:
        raise _fail(exc) from None
    meta = rep.AuditMeta(policy=inv.policy.name, inventory=str(inventory), configs=str(configs_dir))
    target = output if output is not None else (DEFAULT_HTML if fmt is AuditFormat.html else None)
    try:
        if fmt is AuditFormat.table:
            if target is None:
                rep.render_table(reports, Console(), meta)
            else:
                with target.open("w", encoding="utf-8") as fh:
                    rep.render_table(reports, Console(file=fh, width=160, no_color=True, highlight=False), meta)
        else:
            text = {
                AuditFormat.json: rep.to_json,
                AuditFormat.junit: rep.to_junit,
                AuditFormat.html: rep.to_html,
            }[fmt](reports, meta)
            if target is None:
                sys.stdout.write(text)
            else:
                target.write_text(text, encoding="utf-8")
    except OSError as exc:
        err.print(f"error: cannot write {target}: {exc.strerror or exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_ERROR) from None
    except Op25bError as exc:
        raise _fail(exc) from None
    code = rep.exit_code(reports)
    if target is not None:
        err.print(
            f"{fmt} report written to {target}: {len(reports)} device(s), exit code {code}",
            markup=False,
            highlight=False,
        )
    raise typer.Exit(code)
