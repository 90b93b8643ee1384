"""The supported Python API of op25b: what the ``op25b`` commands do, as functions.

Everything a runbook needs is here: load the intent, build a device's rule plan, render it, parse a running config
into the vendor-neutral model, audit a running config (a text, a saved file, a directory of saved configs, or the
live device), and push (dry run or commit).
These names and signatures are the stable surface; every other module of ``op25b_cfg`` is internal and may
change. The Nornir tasks in :mod:`op25b_cfg.nornir_tasks` are built on these functions.

Errors: a bad inventory raises :class:`~op25b_cfg.errors.InventoryError` (every problem with file, field and fix);
a device its platform cannot enforce raises :class:`~op25b_cfg.errors.Op25bError` from :func:`render`. The audit
and push functions never raise for one device's problem: it is in the returned report (verdict ERROR, or a
failed :class:`DeviceResult`).

>>> intent = load("inventory")
>>> device = intent.devices["bng-tyo-mx1"]
>>> plan(device).filter_name(4)
'OP25B-V4-b1a88b08'
>>> audit_text(device, render(device)).verdict
<Verdict.COMPLIANT: 'COMPLIANT'>
>>> audit_file(device, "inventory/running/bng-tyo-mx1.cfg").verdict
<Verdict.NONCOMPLIANT: 'NONCOMPLIANT'>
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from op25b_cfg import caches
from op25b_cfg.audit.model import DeviceReport, ParsedConfig, Verdict
from op25b_cfg.audit.runner import SessionFactory, audit_live_device
from op25b_cfg.audit.runner import audit_file as _audit_file
from op25b_cfg.audit.runner import audit_saved as _audit_saved
from op25b_cfg.audit.runner import audit_text as _audit_text
from op25b_cfg.cli_options import Connection, connection_setup
from op25b_cfg.connection.credentials import os_user
from op25b_cfg.defaults import DEFAULT_BACKUP_DIR, DEFAULT_CHANGELOG, DEFAULT_CONFIRM_TIMEOUT
from op25b_cfg.errors import InventoryError, Op25bError
from op25b_cfg.generate import Rendered
from op25b_cfg.generate import generate as _generate
from op25b_cfg.inventory import Device, Inventory, load_inventory
from op25b_cfg.platforms import get_platform
from op25b_cfg.push import PushOptions
from op25b_cfg.push import run_push as _run_push
from op25b_cfg.results import DeviceResult, Outcome, PushReport
from op25b_cfg.rules import FilterPlan, build_plan
from op25b_cfg.window import ChangeWindow


def load(inventory: str | Path) -> Inventory:
    """The intent: the policy and every device of an inventory directory (``policy.yaml``, ``hosts.yaml``,
    optional ``groups.yaml`` / ``defaults.yaml``), validated. What every ``op25b`` command loads first.

    Raises :class:`InventoryError` listing every problem (file, field, message, fix).

    >>> intent = load("inventory")
    >>> intent.policy.name, sorted(intent.devices)[:2]
    ('example-isp-op25b', ['bng-tyo-mx1', 'bras-osa-ros1'])
    >>> [d.name for d in intent.select(where="platform=cisco_ios")]
    ['bras-tyo-ios1']
    """
    return load_inventory(Path(inventory))


def plan(device: Device) -> FilterPlan:
    """The vendor-neutral rule plan of one device: named prefix sets and the ordered rules every platform
    renders. ``plan(d).version`` is the filter version id (format ``op25b.plan/1``, see
    :func:`op25b_cfg.rules.canonical_plan`).

    >>> p = plan(load("inventory").devices["edge-osa-eos1"])
    >>> p.mode, p.version, [r.name for r in p.family_rules(4)]
    ('targeted', 'f88acf66', ['exempt', 'mta', 'submission', 'block', 'default'])
    """
    return build_plan(device)


def render(device: Device) -> str:
    """The complete OP25B configuration of one device in its platform's syntax: exactly the text
    ``op25b generate`` writes to ``<out>/<device>.<ext>``.

    Raises :class:`Op25bError` (with a ``Fix:``) when the platform cannot enforce the device's intent.

    >>> print(render(load("inventory").devices["bras-tyo-ios1"]).splitlines()[1])
    ip access-list extended OP25B-V4-b1a88b08
    """
    return get_platform(device.platform).render(device)


def generate(devices: Sequence[Device], out_dir: str | Path | None = None) -> list[Rendered]:
    """Render ``devices`` as ``op25b generate`` does, writing ``out_dir/<device>.<ext>`` when ``out_dir`` is
    given. A refused device has ``error`` set and is not written; the others are.

    >>> [(r.device, r.version, r.failed) for r in generate(load("inventory").select(["bras-osa-xr1"]))]
    [('bras-osa-xr1', '79b17a7e', False)]
    """
    return _generate(list(devices), Path(out_dir) if out_dir is not None else None)


def parse(device: Device, text: str, *, lazy: bool = False) -> ParsedConfig:
    """One running config of ``device`` (in its platform's syntax) read into the vendor-neutral model the audit
    verifies: filters with their ordered rules, bindings, flow-control objects, and every line not understood
    (``unparsed``). Never raises on bad input. ``lazy`` builds each filter's rules on first read (what the audit
    does: only the filters it evaluates are tokenised).

    >>> dev = load("inventory").devices["bras-tyo-ios1"]
    >>> parsed = parse(dev, render(dev))
    >>> sorted(parsed.filters)[:1], len(parsed.unparsed)
    ([(4, 'OP25B-V4-b1a88b08')], 0)
    """
    return get_platform(device.platform).parse(text, lazy=lazy)


def clear_caches() -> None:
    """Forget every process-wide cache (rule plans, rendered blocks, parsed entries, the audit's memos): for
    long-running callers that load new intents for days, and for measuring cold runs. Results never depend on
    the caches (:mod:`op25b_cfg.caches`)."""
    caches.clear()


def audit_text(device: Device, text: str, source: str = "") -> DeviceReport:
    """Audit one running config text of ``device`` (in its platform's syntax) against its intent. Never raises:
    a truncated or unreadable config is verdict ERROR; anything not understood that could change the answer
    is UNKNOWN.

    >>> dev = load("inventory").devices["bras-tyo-ios1"]
    >>> report = audit_text(dev, "hostname bras-tyo-ios1\\nend\\n", "example")
    >>> report.verdict, sorted({str(f.code) for f in report.findings})
    (<Verdict.NONCOMPLIANT: 'NONCOMPLIANT'>, ['DRIFT', 'FILTER_MISSING'])
    """
    return _audit_text(device, text, source)


def audit_file(device: Device, path: str | Path) -> DeviceReport:
    """Audit one saved running config file (an Oxidized/RANCID backup) of ``device``. Never raises.

    >>> intent = load("inventory")
    >>> audit_file(intent.devices["bras-osa-xr1"], "inventory/running/bras-osa-xr1.cfg").verdict
    <Verdict.COMPLIANT: 'COMPLIANT'>
    """
    return _audit_file(device, Path(path))


def audit_saved(devices: Sequence[Device], configs_dir: str | Path) -> list[DeviceReport]:
    """Audit every device from its saved config in ``configs_dir`` (``<device>``, ``<device>.cfg``, ``.conf``,
    ``.txt``), as ``op25b audit --configs DIR`` does. A missing file is that device's verdict ERROR.

    Raises :class:`Op25bError` only when ``configs_dir`` is not a directory.

    >>> intent = load("inventory")
    >>> reports = audit_saved(intent.select(where="group=osaka"), "inventory/running")
    >>> [(r.device, str(r.verdict)) for r in reports][:2], {str(r.verdict) for r in reports}
    ([('bras-osa-xr1', 'COMPLIANT'), ('edge-osa-eos1', 'COMPLIANT')], {'COMPLIANT'})
    """
    return _audit_saved(devices, Path(configs_dir))


def connect(
    username: str | None = None,
    *,
    timeout: float = 30.0,
    verify_host_key: bool = True,
    known_hosts: str | Path | None = None,
    ssh_config: str | Path | None = None,
    port: int | None = None,
    driver_args: Mapping[str, Any] | None = None,
) -> Connection:
    """Credentials and connection options for live audits and pushes, exactly as the ``op25b`` connection
    options (``--username``, ``--timeout``, ``--known-hosts``, ...) set them. Credentials come from
    ``OP25B_USERNAME`` / ``OP25B_PASSWORD`` (/ ``OP25B_SECRET``) in the environment, else a prompt on a
    terminal; never from inventory files. ``username`` overrides the environment's and the inventory's
    per-device username; ``driver_args`` are napalm optional_args.

    Raises :class:`Op25bError` when no credentials can be had. ``connect().session(device)`` opens nothing
    until used in a ``with`` block.
    """
    conn = connection_setup(
        username,
        timeout,
        Path(known_hosts) if known_hosts is not None else None,
        verify_host_key,
        Path(ssh_config) if ssh_config is not None else None,
        port,
        None,
    )
    return dataclasses.replace(conn, options=dataclasses.replace(conn.options, driver_args=dict(driver_args or {})))


def audit_device(device: Device, connection: Connection, save_dir: str | Path | None = None) -> DeviceReport:
    """Fetch the running config of ``device`` (napalm ``get_config``; ``nft list ruleset`` on Linux) and audit
    it, as ``op25b audit --live`` does for each device. With ``save_dir`` the fetched config is also kept
    (``save_dir/<device>/<UTC>.cfg``, mode 0600). Never raises: an unreachable device is verdict ERROR."""
    return audit_live_device(device, connection.session, Path(save_dir) if save_dir is not None else None)


def push(
    devices: Sequence[Device],
    connection: Connection,
    *,
    commit: bool = False,
    confirm_timeout: int = DEFAULT_CONFIRM_TIMEOUT,
    backup_dir: str | Path = DEFAULT_BACKUP_DIR,
    changelog: str | Path | None = DEFAULT_CHANGELOG,
    cleanup: bool = True,
    workers: int = 10,
    window: ChangeWindow | None = None,
    force: bool = False,
) -> PushReport:
    """Push the intent to ``devices`` as ``op25b push`` does: backup, diff, and with ``commit`` a
    make-before-break merge under the device's commit-confirm timer, post-audit, confirm or roll back, then
    clean-up of old OP25B versions. Without ``commit`` it is a dry run (diff only; nothing on the device
    changes). Every finished device gets a line in ``changelog`` (None: no change log).

    Returns the results in the order of ``devices``; ``report.exit_code`` is the command's. Raises
    :class:`Op25bError` only for what stops the whole run before any device is touched (change log not
    writable).
    """
    opts = PushOptions(
        commit=commit,
        confirm_timeout=confirm_timeout,
        workers=workers,
        backup_dir=Path(backup_dir),
        changelog=Path(changelog) if changelog is not None else None,
        cleanup=cleanup,
        window=window,
        force=force,
        os_user=os_user(),
        username=connection.creds.username,
    )
    return _run_push(devices, opts, connection.session)


__all__ = [
    "DEFAULT_BACKUP_DIR",
    "DEFAULT_CHANGELOG",
    "DEFAULT_CONFIRM_TIMEOUT",
    "Connection",
    "Device",
    "DeviceReport",
    "DeviceResult",
    "FilterPlan",
    "Inventory",
    "InventoryError",
    "Op25bError",
    "Outcome",
    "ParsedConfig",
    "PushReport",
    "Rendered",
    "SessionFactory",
    "Verdict",
    "audit_device",
    "audit_file",
    "audit_saved",
    "audit_text",
    "clear_caches",
    "connect",
    "generate",
    "load",
    "parse",
    "plan",
    "push",
    "render",
]
