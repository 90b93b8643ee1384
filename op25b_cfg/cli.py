"""The ``op25b`` command line. Commands are thin: each parses its options, calls :mod:`op25b_cfg.api` (the
supported Python surface, which does the work) and prints the result (tables, JSON, progress bars, exit codes).

Exit codes (every command):

* 0: success (``audit``: every device compliant)
* 1: the job ran but something is wrong (a device failed to render or push; ``audit``: findings)
* 2: bad input or an error that stopped the job (invalid inventory, unreadable file; ``audit``: UNKNOWN)

Start-up is part of every command's cost: this module and the command modules import only typer, rich's console
and light op25b modules (``api`` among them: it imports its logic inside each function) at the top. Whatever a
command needs beyond that (the inventory's pydantic models, Jinja, the audit engine, push, napalm, nornir, the lab)
is imported when the command calls it, so ``op25b --help``,
``--version`` and ``op25b platforms`` load none of it (tests/test_cli_imports.py checks the module set).
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from op25b_cfg import api
from op25b_cfg.cli_common import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    SUMMARY_ABOVE,
    AllRowsOpt,
    DeviceOpt,
    FilterOpt,
    Format,
    FormatOpt,
    InventoryOpt,
    QuietOpt,
    VerboseOpt,
    _fail,
    _load,
    _setup_logging,
    _table,
    app,
    err,
    inventory_app,
    out,
)
from op25b_cfg.errors import InventoryError, Op25bError, Problem

if TYPE_CHECKING:
    from op25b_cfg.api import Rendered


def _generate_table(results: list[Rendered], out_dir: Path, all_rows: bool) -> None:
    """The generate table: every device, or above :data:`SUMMARY_ABOVE` devices (without ``all_rows``) only
    the failing ones; then the summary line."""
    failed = [r for r in results if r.failed]
    summarise = len(results) > SUMMARY_ABOVE and not all_rows
    rows = failed if summarise else results
    if rows:
        out.print(
            _table(
                f"op25b generate -> {out_dir}" + (" (failing devices)" if summarise else ""),
                ("device", "platform", "mode", "filters", "rules", "lines", "file / error"),
                (
                    (
                        r.device,
                        r.platform,
                        r.mode,
                        r.filters,
                        str(r.rules),
                        str(r.lines),
                        f"[red]{r.error}[/]" if r.failed else r.path,
                    )
                    for r in rows
                ),
            )
        )
    line = f"{len(results) - len(failed)} rendered, {len(failed)} failed"
    if summarise:
        line += f" (to {out_dir}; --all-rows lists every device)"
    out.print(line, highlight=False)


@app.command()
def generate(
    inventory: InventoryOpt = Path("inventory"),
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory for the rendered configs.")] = Path("out"),
    device: DeviceOpt = None,
    filter_: FilterOpt = None,
    fmt: FormatOpt = Format.table,
    all_rows: AllRowsOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Render the OP25B config of every device (or --device / --filter) to OUT/<device>.<ext>."""
    from op25b_cfg.gc_pause import paused_gc

    _setup_logging(verbose)
    try:
        # one pause for loading and rendering, not one each: switching the collector back on between them
        # walks every object of the inventory just built (0.05 s per pass for 10,000 devices)
        with paused_gc():
            _, devices = _load(inventory, device, filter_)
            results = api.generate(devices, out_dir)
    except Op25bError as exc:
        raise _fail(exc) from None
    failed = [r for r in results if r.failed]
    if quiet:
        for r in failed:
            err.print(f"{r.device}: {r.error}", highlight=False, markup=False)
    elif fmt is Format.json:
        print(
            json.dumps(
                {"schema": "op25b.generate/1", "out": str(out_dir), "devices": [r.to_dict() for r in results]}, indent=2
            )
        )
    else:
        _generate_table(results, out_dir, all_rows)
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


@inventory_app.command("validate")
def inventory_validate(inventory: InventoryOpt = Path("inventory"), fmt: FormatOpt = Format.table) -> None:
    """Check the inventory and policy; print every problem with file, field and fix."""
    try:
        inv = api.load(inventory)
    except Op25bError as exc:
        if fmt is not Format.json:
            raise _fail(exc) from None
        problems = exc.problems if isinstance(exc, InventoryError) else [Problem(str(inventory), "", str(exc))]
        doc = {"schema": "op25b.validate/1", "inventory": str(inventory), "valid": False}
        print(json.dumps({**doc, "problems": [dataclasses.asdict(p) for p in problems]}, indent=2))
        raise typer.Exit(EXIT_ERROR) from None
    if fmt is Format.json:
        doc = {"schema": "op25b.validate/1", "inventory": str(inventory), "valid": True, "problems": []}
        summary = {"policy": inv.policy.name, "pools": len(inv.policy.pools), "devices": len(inv.devices)}
        print(json.dumps({**doc, **summary}, indent=2))
        return
    out.print(
        f"{inventory}: valid: policy '{inv.policy.name}', {len(inv.policy.pools)} pools, {len(inv.devices)} devices",
        highlight=False,
    )


@inventory_app.command("show")
def inventory_show(
    inventory: InventoryOpt = Path("inventory"),
    device: DeviceOpt = None,
    filter_: FilterOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Show each device with its values resolved (host -> groups -> defaults -> policy)."""
    try:
        inv, devices = _load(inventory, device, filter_)
    except Op25bError as exc:
        raise _fail(exc) from None
    if fmt is Format.json:
        print(
            json.dumps(
                {
                    "schema": "op25b.inventory/1",
                    "policy": inv.policy.model_dump(mode="json"),
                    "devices": [
                        {
                            "name": d.name,
                            "hostname": d.hostname,
                            "platform": d.platform,
                            "groups": list(d.groups),
                            "pools": [p.name for p in d.pools],
                            "mode": d.mode,
                            "log": d.log,
                            "counters": d.counters,
                            "flow_control": d.flow_control.model_dump(mode="json")
                            if d.mode == "flow-control"
                            else None,
                            "attach": [a.model_dump(mode="json", exclude_none=True) for a in d.attach],
                            "sources": {k: v for k, v in d.sources.items() if k != "site_value"},
                        }
                        for d in devices
                    ],
                },
                indent=2,
            )
        )
        return
    rows = (
        (
            d.name,
            d.hostname,
            d.platform,
            ", ".join(d.groups),
            ", ".join(p.name for p in d.pools),
            d.mode,
            "\n".join(f"{a.kind} {a.name} {a.direction}" for a in d.attach),
            "\n".join(f"{k}: {_short_source(v)}" for k, v in d.sources.items() if k != "site_value"),
        )
        for d in devices
    )
    columns = ("device", "hostname", "platform", "groups", "pools", "mode", "attach", "values from")
    out.print(_table(f"policy '{inv.policy.name}' ({inventory})", columns, rows), highlight=False)


def _short_source(source: str) -> str:
    """``/path/to/groups.yaml: tokyo.data.mode`` -> ``groups.yaml: tokyo.data.mode``."""
    file, sep, field = source.partition(": ")
    return f"{Path(file).name}{sep}{field}"


@app.command()
def platforms(fmt: FormatOpt = Format.table) -> None:
    """List the supported platforms and what each can do."""
    registry = api.platforms()
    if fmt is Format.json:
        rows = [
            {
                "platform": name,
                "napalm_driver": cls.napalm_driver,
                "netmiko_device_type": cls.netmiko_device_type,
                "attach": sorted(cls.attach_kinds),
                "modes": sorted(cls.modes),
                "flow_control_sessions": cls.flow_sessions,
                "flow_control_rate_on": sorted(cls.flow_rate_kinds),
                "flow_control_delay": cls.flow_delay,
                "commit_confirm": cls.commit_confirm,
            }
            for name, cls in registry.items()
        ]
        print(json.dumps(rows, indent=2))
        return
    cells: list[tuple[str, ...]] = []
    for name, cls in registry.items():
        if cls.flow_sessions:
            fc = "sessions + rate"
        elif cls.flow_rate_kinds:
            fc = f"rate only, on {', '.join(sorted(cls.flow_rate_kinds))}"
        else:
            fc = "no"
        cells.append(
            (
                name,
                f"{cls.napalm_driver or '-'} / {cls.netmiko_device_type}",
                ", ".join(sorted(cls.attach_kinds)),
                ", ".join(sorted(cls.modes)),
                fc,
                "yes" if cls.flow_delay else "refused",
                "yes" if cls.commit_confirm else "no",
            )
        )
    columns = ("platform", "napalm / netmiko", "attach", "modes", "flow control", "connect delay", "commit-confirm")
    out.print(_table("op25b platforms", columns, cells))


# Command modules register their commands on ``app`` (they import the shared parts from cli_common, never from
# this module).
from op25b_cfg import cli_audit, cli_effect, cli_lab, cli_push  # noqa: E402,F401


def main() -> None:
    """The console script (pyproject.toml: ``op25b = "op25b_cfg.cli:main"``): :data:`app`, then
    :func:`exit_fast`. Tests and ``python -m op25b_cfg`` call ``app()``, which exits the ordinary way."""
    try:
        app()
    except SystemExit as exc:
        exit_fast(exc.code)
    exit_fast(0)


def exit_fast(code: object) -> NoReturn:
    """Exit with ``code`` once the command has finished, without the interpreter's teardown.

    Tearing down frees every object one by one (a parsed 60k-line config, the inventory): 68 M instructions
    of a 1,450 M-instruction 60k-line audit. What teardown does that a user can see is done here first: the
    ``atexit`` functions (``logging.shutdown`` flushes and closes every handler, ``concurrent.futures`` joins
    its workers, ``tempfile`` finalizers remove their files), then standard output and error are flushed.
    Anything unusual takes the ordinary exit instead, so the exit code and every message stay those of
    ``sys.exit(code)``: a code that is not an int (a message to print), a thread other than this one or a
    child process still alive, or a flush that fails (a closed pipe: Python's own message and status 120).
    Files op25b writes are closed by ``with`` blocks before the command returns (``paths.atomic_write``)."""
    if code is not None and not isinstance(code, int):
        raise SystemExit(code)
    children = sys.modules.get("multiprocessing")
    if threading.active_count() > 1 or (children is not None and children.active_children()):
        raise SystemExit(code)
    try:
        _flush()
        atexit._run_exitfuncs()
        _flush()
    except Exception:  # a closed pipe: let the interpreter report it as it always does
        raise SystemExit(code) from None
    os._exit(code or 0)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


__all__ = ["app", "main"]  # main: the console script entry point (pyproject.toml: op25b = "op25b_cfg.cli:main")
