"""Nornir tasks: op25b inside your own runbooks.

Each task finds the intent of ``task.host`` by name in an op25b :class:`~op25b_cfg.inventory.Inventory`
(:func:`op25b_cfg.api.load`; load it once and pass it to every host) and returns a nornir ``Result``:

================  =====================================================================================
task              Result
================  =====================================================================================
op25b_generate    ``result``: the rendered config; with ``out_dir`` the file is written, ``changed`` when
                  its content changed and ``diff`` the unified diff against the old file. ``failed`` when
                  the platform refuses the intent (``result``: the error with its fix).
op25b_audit       ``result``: the :class:`~op25b_cfg.audit.model.DeviceReport` of the saved config in
                  ``configs`` (default ``<inventory>/running``) or, with ``connection``, of the live running
                  config; ``failed`` unless the verdict is COMPLIANT; ``diff``: the device's remediation.
op25b_push        ``result``: the :class:`~op25b_cfg.results.DeviceResult`; ``diff``: the change (and the
                  clean-up of old versions); ``changed`` when a commit was kept, or in a dry run when there
                  is something to change; ``failed`` on failure or roll-back. Dry run unless ``commit=True``.
================  =====================================================================================

A host that is not in the op25b inventory gets a failed ``Result`` naming it. The nornir inventory can be
op25b's own inventory directory (it uses Nornir's SimpleInventory layout)::

    from nornir import InitNornir
    from op25b_cfg import api
    from op25b_cfg.nornir_tasks import op25b_audit, op25b_push

    intent = api.load("inventory")
    nr = InitNornir(inventory={"plugin": "SimpleInventory", "options": {
        "host_file": "inventory/hosts.yaml", "group_file": "inventory/groups.yaml",
        "defaults_file": "inventory/defaults.yaml"}})
    audit = nr.run(task=op25b_audit, intent=intent)
    leaking = nr.filter(filter_func=lambda h: audit[h.name].failed)
    leaking.run(task=op25b_push, intent=intent, connection=api.connect(), commit=True)
"""

from __future__ import annotations

import difflib
from pathlib import Path

from nornir.core.task import Result, Task

from op25b_cfg import api
from op25b_cfg.audit.model import Verdict
from op25b_cfg.errors import Op25bError
from op25b_cfg.inventory import Device, Inventory
from op25b_cfg.platforms import get_platform


def _device(task: Task, intent: Inventory) -> Device | Result:
    device = intent.devices.get(task.host.name)
    if device is None:
        return Result(
            host=task.host,
            failed=True,
            result=f"{task.host.name}: not in the op25b inventory {intent.path}. Fix: add it to its hosts.yaml",
        )
    return device


def op25b_generate(task: Task, intent: Inventory, out_dir: str | Path | None = None) -> Result:
    """Render the OP25B config of ``task.host``; with ``out_dir`` also write ``out_dir/<host>.<ext>``."""
    device = _device(task, intent)
    if isinstance(device, Result):
        return device
    try:
        text = api.render(device)
    except Op25bError as exc:
        return Result(host=task.host, failed=True, result=str(exc))
    if out_dir is None:
        return Result(host=task.host, result=text)
    path = Path(out_dir) / f"{device.name}.{get_platform(device.platform).file_extension}"
    try:
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        if old == text:
            return Result(host=task.host, result=text)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return Result(host=task.host, failed=True, result=f"{path}: cannot be written ({why}). Fix: check out_dir")
    diff = "".join(difflib.unified_diff(old.splitlines(True), text.splitlines(True), str(path), str(path)))
    return Result(host=task.host, result=text, changed=True, diff=diff)


def op25b_audit(
    task: Task,
    intent: Inventory,
    configs: str | Path | None = None,
    connection: api.Connection | None = None,
    save_dir: str | Path | None = None,
) -> Result:
    """Audit ``task.host``: its saved config in ``configs`` (default ``<inventory>/running``), or with
    ``connection`` (:func:`op25b_cfg.api.connect`) its live running config (kept in ``save_dir`` if given)."""
    device = _device(task, intent)
    if isinstance(device, Result):
        return device
    if connection is not None:
        report = api.audit_device(device, connection, save_dir)
    else:
        try:
            (report,) = api.audit_saved([device], configs if configs is not None else intent.path / "running")
        except Op25bError as exc:
            return Result(host=task.host, failed=True, result=str(exc))
    failed = report.verdict is not Verdict.COMPLIANT
    return Result(host=task.host, result=report, failed=failed, diff=report.remediation)


def op25b_push(
    task: Task,
    intent: Inventory,
    connection: api.Connection,
    commit: bool = False,
    confirm_timeout: int = api.DEFAULT_CONFIRM_TIMEOUT,
    backup_dir: str | Path = api.DEFAULT_BACKUP_DIR,
    changelog: str | Path | None = api.DEFAULT_CHANGELOG,
    cleanup: bool = True,
) -> Result:
    """Push the intent to ``task.host`` (:func:`op25b_cfg.api.push` for this one device): a dry run unless
    ``commit``."""
    device = _device(task, intent)
    if isinstance(device, Result):
        return device
    try:
        report = api.push(
            [device],
            connection,
            commit=commit,
            confirm_timeout=confirm_timeout,
            backup_dir=backup_dir,
            changelog=changelog,
            cleanup=cleanup,
            workers=1,
        )
    except Op25bError as exc:
        return Result(host=task.host, failed=True, result=str(exc))
    (res,) = report.results
    diff = "\n".join(d for d in (res.diff, res.cleanup_diff) if d)
    changed = res.changed if commit else bool(diff)
    return Result(host=task.host, result=res, changed=changed, diff=diff, failed=res.failed)


__all__ = ["op25b_audit", "op25b_generate", "op25b_push"]
