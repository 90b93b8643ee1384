"""The supported Python API of op25b: what the ``op25b`` commands do, as functions.

Everything a runbook needs is here: load the intent, build a device's rule plan, render it, parse a running config
into the vendor-neutral model, audit a running config (a text, a saved file, a directory of saved configs, or the
live device), write the audit reports, and push (dry run or commit). Long runs report each device as it finishes
(``on_done`` callbacks, :func:`iter_audit_saved`) and stop starting devices when a ``stop`` event is set.
These names and signatures are the stable surface; every other module of ``op25b_cfg`` is internal and may
change. The ``op25b`` commands and the Nornir tasks in :mod:`op25b_cfg.nornir_tasks` are built on these functions.

Importing this module is light (the commands import it at start-up): each function imports what it uses, and the
types below are loaded on first use.

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

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from op25b_cfg.defaults import DEFAULT_BACKUP_DIR, DEFAULT_CHANGELOG, DEFAULT_CONFIRM_TIMEOUT, DEFAULT_TIME_BUDGET
from op25b_cfg.errors import InventoryError, Op25bError

if TYPE_CHECKING:
    import threading

    from rich.console import Console

    from op25b_cfg.audit.model import DeviceReport, ParsedConfig, Verdict
    from op25b_cfg.audit.runner import SessionFactory
    from op25b_cfg.connection.setup import Connection
    from op25b_cfg.generate import Rendered
    from op25b_cfg.inventory import Device, Inventory
    from op25b_cfg.platforms.base import Platform
    from op25b_cfg.push import InFlight
    from op25b_cfg.results import DeviceResult, Outcome, PushReport
    from op25b_cfg.rules import FilterPlan
    from op25b_cfg.window import ChangeWindow

# Importing this module stays light (what ``op25b --help`` loads): every function imports the logic it calls, and
# the types named in ``__all__`` are loaded on first access (PEP 562 ``__getattr__`` below).
_LAZY = {
    "Connection": "op25b_cfg.connection.setup",
    "Device": "op25b_cfg.inventory",
    "DeviceReport": "op25b_cfg.audit.model",
    "DeviceResult": "op25b_cfg.results",
    "FilterPlan": "op25b_cfg.rules",
    "InFlight": "op25b_cfg.push",
    "Inventory": "op25b_cfg.inventory",
    "Outcome": "op25b_cfg.results",
    "ParsedConfig": "op25b_cfg.audit.model",
    "Platform": "op25b_cfg.platforms.base",
    "PushReport": "op25b_cfg.results",
    "Rendered": "op25b_cfg.generate",
    "SessionFactory": "op25b_cfg.audit.runner",
    "ChangeWindow": "op25b_cfg.window",
    "Verdict": "op25b_cfg.audit.model",
}


def __getattr__(name: str) -> Any:
    """The public types, imported on first use (``api.Device``, ``from op25b_cfg.api import Verdict``)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
    from op25b_cfg.inventory import load_inventory

    return load_inventory(Path(inventory))


def platforms() -> Mapping[str, type[Platform]]:
    """Every platform op25b can drive, by name: the built-in ones and those installed as plugins (entry point
    group ``op25b.platforms``), each class with its capabilities (``napalm_driver``, ``netmiko_device_type``,
    ``attach_kinds``, ``modes``, ``flow_sessions``, ``flow_rate_kinds``, ``flow_delay``, ``commit_confirm``).
    What ``op25b platforms`` lists.

    >>> registry = platforms()
    >>> "cisco_ios" in registry, registry["juniper_junos"].commit_confirm
    (True, True)
    """
    from op25b_cfg.platforms import PLATFORMS

    return PLATFORMS


def plan(device: Device) -> FilterPlan:
    """The vendor-neutral rule plan of one device: named prefix sets and the ordered rules every platform
    renders. ``plan(d).version`` is the filter version id (format ``op25b.plan/1``, see
    :func:`op25b_cfg.rules.canonical_plan`).

    >>> p = plan(load("inventory").devices["edge-osa-eos1"])
    >>> p.mode, p.version, [r.name for r in p.family_rules(4)]
    ('targeted', 'f88acf66', ['exempt', 'mta', 'submission', 'block', 'default'])
    """
    from op25b_cfg.rules import build_plan

    return build_plan(device)


def render(device: Device) -> str:
    """The complete OP25B configuration of one device in its platform's syntax: exactly the text
    ``op25b generate`` writes to ``<out>/<device>.<ext>``.

    Raises :class:`Op25bError` (with a ``Fix:``) when the platform cannot enforce the device's intent.

    >>> print(render(load("inventory").devices["bras-tyo-ios1"]).splitlines()[1])
    ip access-list extended OP25B-V4-b1a88b08
    """
    from op25b_cfg.platforms import get_platform

    return get_platform(device.platform).render(device)


def generate(devices: Sequence[Device], out_dir: str | Path | None = None) -> list[Rendered]:
    """Render ``devices`` as ``op25b generate`` does, writing ``out_dir/<device>.<ext>`` when ``out_dir`` is
    given. A refused device has ``error`` set and is not written; the others are.

    Raises :class:`Op25bError` only when ``out_dir`` cannot be used.

    >>> [(r.device, r.version, r.failed) for r in generate(load("inventory").select(["bras-osa-xr1"]))]
    [('bras-osa-xr1', '79b17a7e', False)]
    """
    from op25b_cfg.generate import generate as _generate

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
    from op25b_cfg.platforms import get_platform

    return get_platform(device.platform).parse(text, lazy=lazy)


def clear_caches() -> None:
    """Forget every process-wide cache (rule plans, rendered blocks, parsed entries, the audit's memos): for
    long-running callers that load new intents for days, and for measuring cold runs. Results never depend on
    the caches (:mod:`op25b_cfg.caches`)."""
    from op25b_cfg import caches

    caches.clear()


def set_time_budget(seconds: float | None = DEFAULT_TIME_BUDGET) -> None:
    """How long one device's audit (parse and proof) may take in this process before it stops with verdict
    UNKNOWN and the reason (None: no limit; default :data:`DEFAULT_TIME_BUDGET` seconds). Applies to every later
    audit, including the worker processes of :func:`iter_audit_saved`; ``op25b audit --time-budget`` sets it."""
    from op25b_cfg.audit.model import set_time_budget as _set

    _set(seconds)


def audit_text(device: Device, text: str, source: str = "") -> DeviceReport:
    """Audit one running config text of ``device`` (in its platform's syntax) against its intent. Never raises:
    a truncated or unreadable config is verdict ERROR; anything not understood that could change the answer
    is UNKNOWN.

    >>> dev = load("inventory").devices["bras-tyo-ios1"]
    >>> report = audit_text(dev, "hostname bras-tyo-ios1\\nend\\n", "example")
    >>> report.verdict, sorted({str(f.code) for f in report.findings})
    (<Verdict.NONCOMPLIANT: 'NONCOMPLIANT'>, ['DRIFT', 'FILTER_MISSING'])
    """
    from op25b_cfg.audit.runner import audit_text as _audit_text

    return _audit_text(device, text, source)


def audit_file(device: Device, path: str | Path) -> DeviceReport:
    """Audit one saved running config file (an Oxidized/RANCID backup) of ``device``. Never raises.

    >>> intent = load("inventory")
    >>> audit_file(intent.devices["bras-osa-xr1"], "inventory/running/bras-osa-xr1.cfg").verdict
    <Verdict.COMPLIANT: 'COMPLIANT'>
    """
    from op25b_cfg.audit.runner import audit_file as _audit_file

    return _audit_file(device, Path(path))


def iter_audit_saved(
    devices: Sequence[Device], configs_dir: str | Path, workers: int | None = None
) -> Iterator[DeviceReport]:
    """:func:`audit_saved`, each report yielded as soon as it is ready (in the order of ``devices``), so a large
    run never holds them all: what ``op25b audit --configs DIR`` streams into its JSON, JUnit and HTML reports.
    ``workers`` processes share the work (default: one per core, fewer for a few devices).

    Raises :class:`Op25bError` at once when ``configs_dir`` is not a directory.

    >>> intent = load("inventory")
    >>> reports = iter_audit_saved(intent.select(["bras-osa-xr1"]), "inventory/running")
    >>> [(r.device, str(r.verdict)) for r in reports]
    [('bras-osa-xr1', 'COMPLIANT')]
    """
    from op25b_cfg.audit.runner import iter_saved

    return iter_saved(devices, Path(configs_dir), workers)


def audit_saved(devices: Sequence[Device], configs_dir: str | Path, workers: int | None = None) -> list[DeviceReport]:
    """Audit every device from its saved config in ``configs_dir`` (``<device>``, ``<device>.cfg``, ``.conf``,
    ``.txt``), as ``op25b audit --configs DIR`` does. A missing file is that device's verdict ERROR.

    Raises :class:`Op25bError` only when ``configs_dir`` is not a directory.

    >>> intent = load("inventory")
    >>> reports = audit_saved(intent.select(where="group=osaka"), "inventory/running")
    >>> [(r.device, str(r.verdict)) for r in reports][:2], {str(r.verdict) for r in reports}
    ([('bras-osa-xr1', 'COMPLIANT'), ('edge-osa-eos1', 'COMPLIANT')], {'COMPLIANT'})
    """
    return list(iter_audit_saved(list(devices), configs_dir, workers))


def write_audit_report(
    reports: Iterable[DeviceReport],
    fh: IO[str] | Console,
    fmt: str = "json",
    *,
    policy: str = "",
    inventory: str | Path = "",
    configs: str | Path = "",
    summarise: bool = False,
) -> tuple[int, int]:
    """Write the audit report of ``reports`` as ``op25b audit --format FMT`` does; returns (exit code, devices).

    ``fmt``: ``json`` (schema ``op25b.audit/1``), ``junit`` or ``html``, written to the text file ``fh`` as each
    report arrives (an iterator from :func:`iter_audit_saved` is never held whole); ``table``: the rich table
    printed on ``fh``, a :class:`rich.console.Console` (``summarise``: only the devices not COMPLIANT, for large
    runs). ``policy``, ``inventory`` and ``configs`` (a directory, or ``live``) describe the run in the report.
    The exit code is the command's: 0 every device COMPLIANT, 1 one NONCOMPLIANT, 2 one UNKNOWN or ERROR.

    >>> import io
    >>> intent = load("inventory")
    >>> reports = audit_saved(intent.select(["bras-osa-xr1"]), "inventory/running")
    >>> buf = io.StringIO()
    >>> write_audit_report(reports, buf, "json", policy=intent.policy.name), '"op25b.audit/1"' in buf.getvalue()
    ((0, 1), True)
    """
    from op25b_cfg.audit import report as rep

    meta = rep.AuditMeta(policy=policy, inventory=str(inventory), configs=str(configs))
    if fmt == "table":
        from rich.console import Console

        if not isinstance(fh, Console):
            raise Op25bError("the table report is printed on a rich Console. Fix: pass one, or use fmt='json'")
        rows = list(reports)
        rep.render_table(rows, fh, meta, summarise=summarise)
        return rep.exit_code(rows), len(rows)
    if fmt not in rep.WRITERS:
        raise Op25bError(f"unknown audit report format {fmt!r}. Fix: use table, {', '.join(rep.WRITERS)}")
    from op25b_cfg.gc_pause import paused_gc

    # reports and their texts hold no reference cycles; a streamed pool's results wait here while the workers
    # run, and the collector's passes over them cost the main process 0.1-0.4 s per 5,000 devices
    with rep.WRITERS[fmt](fh, meta) as writer, paused_gc():  # type: ignore[arg-type]
        for report in reports:
            writer.add(report)
        writer.close()
    return writer.tally.exit_code(), writer.tally.devices


def connect(
    username: str | None = None,
    *,
    timeout: float = 30.0,
    verify_host_key: bool = True,
    known_hosts: str | Path | None = None,
    ssh_config: str | Path | None = None,
    port: int | None = None,
    driver_args: Mapping[str, Any] | None = None,
    allow_cleartext: bool = False,
) -> Connection:
    """Credentials and connection options for live audits and pushes, exactly as the ``op25b`` connection
    options (``--username``, ``--timeout``, ``--known-hosts``, ...) set them. Credentials come from
    ``OP25B_USERNAME`` / ``OP25B_PASSWORD`` (/ ``OP25B_SECRET``) in the environment, else a prompt on a
    terminal; never from inventory files. ``username`` overrides the environment's and the inventory's
    per-device username; ``driver_args`` are napalm optional_args (a secret in them is refused, and so is a
    host-key switch unless ``verify_host_key`` is off); ``allow_cleartext`` permits a transport that sends the
    password unencrypted (eAPI over http, telnet: labs only).

    Raises :class:`Op25bError` when no credentials can be had or a driver argument is refused, before any
    device is touched. ``connect().session(device)`` opens nothing until used in a ``with`` block.
    """
    from op25b_cfg.connection.base import ConnectOptions
    from op25b_cfg.connection.credentials import load_credentials
    from op25b_cfg.connection.setup import Connection, refuse_unsafe

    args = dict(driver_args or {})
    refuse_unsafe(args, verify_host_key)
    options = ConnectOptions(
        timeout=timeout,
        verify_host_key=verify_host_key,
        known_hosts=str(known_hosts) if known_hosts else None,
        port=port,
        ssh_config=str(ssh_config) if ssh_config else None,
        driver_args=args,
    )
    creds = load_credentials(username=username)
    return Connection(creds, options, override_username=bool(username), allow_cleartext=allow_cleartext)


def audit_device(device: Device, connection: Connection, save_dir: str | Path | None = None) -> DeviceReport:
    """Fetch the running config of ``device`` (napalm ``get_config``; ``nft list ruleset`` on Linux) and audit
    it, as ``op25b audit --live`` does for each device. With ``save_dir`` the fetched config is also kept
    (``save_dir/<device>/<UTC>.cfg``, mode 0600). Never raises: an unreachable device is verdict ERROR."""
    from op25b_cfg.audit.runner import audit_live_device

    return audit_live_device(device, connection.session, Path(save_dir) if save_dir is not None else None)


def audit_devices(
    devices: Sequence[Device],
    connection: Connection,
    *,
    workers: int = 10,
    save_dir: str | Path | None = None,
    stop: threading.Event | None = None,
    on_done: Callable[[DeviceReport], None] | None = None,
) -> list[DeviceReport]:
    """:func:`audit_device` for every device, ``workers`` at a time, as ``op25b audit --live`` does; reports in
    the order of ``devices``. ``on_done(report)`` is called as each device finishes (a progress bar). Once
    ``stop`` is set (e.g. by Ctrl-C) no new device starts: those get verdict ERROR ("not audited").

    Raises :class:`Op25bError` only when ``save_dir`` cannot be created or written, before any device is
    contacted; one device's failure is its verdict ERROR.
    """
    from op25b_cfg.audit.runner import audit_live, prepare_save_dir

    save = Path(save_dir) if save_dir is not None else None
    if save is not None:
        prepare_save_dir(save)
    return audit_live(devices, connection.session, workers=workers, save_dir=save, stop=stop, on_done=on_done)


def change_window(spec: str) -> ChangeWindow:
    """A change window from its ``op25b push --window`` spec (``[DAYS] HH:MM-HH:MM ZONE``, ``;`` between
    several). Raises :class:`Op25bError` naming the fix when the spec is not understood.

    >>> str(change_window("Sat 01:00-05:00 Asia/Tokyo"))
    'Sat 01:00-05:00 Asia/Tokyo'
    """
    from op25b_cfg.window import parse_window

    return parse_window(spec)


def window_status(window: ChangeWindow | None, *, commit: bool, force: bool = False) -> str:
    """The one-line status ``op25b push`` prints about ``window`` ("" when none is given). A commit outside the
    window raises :class:`Op25bError` (naming when it next opens) unless ``force``; a dry run is never refused.
    """
    from op25b_cfg.window import check_window

    if not commit:
        return f"dry-run; window '{window}' not enforced" if window else ""
    return check_window(window, force)


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
    window: ChangeWindow | str | None = None,
    force: bool = False,
    stop: threading.Event | None = None,
    on_done: Callable[[DeviceResult], None] | None = None,
    inflight: InFlight | None = None,
) -> PushReport:
    """Push the intent to ``devices`` as ``op25b push`` does: backup, diff, and with ``commit`` a
    make-before-break merge under the device's commit-confirm timer, post-audit, confirm or roll back, then
    clean-up of old OP25B versions. Without ``commit`` it is a dry run (diff only; nothing on the device
    changes). Every finished device gets a line in ``changelog`` (None: no change log).

    ``window`` (a :func:`change_window` or its spec) is checked before the run and before each device starts;
    ``force`` commits outside it. ``on_done(result)`` is called as each device finishes; once ``stop`` is set
    no new device starts (those are ``skipped``); ``inflight.abort(why)`` (an :class:`InFlight` passed here; a
    second Ctrl-C) logs every device still running as ``interrupted`` and returns their results.

    Returns the results in the order of ``devices``; ``report.exit_code`` is the command's. Raises
    :class:`Op25bError` only for what stops the whole run before any device is touched (bad or closed change
    window, two devices on one management address, change log not writable).
    """
    from op25b_cfg.connection.credentials import os_user
    from op25b_cfg.push import PushOptions, run_push

    win = change_window(window) if isinstance(window, str) else window
    window_status(win, commit=commit, force=force)
    opts = PushOptions(
        commit=commit,
        confirm_timeout=confirm_timeout,
        workers=workers,
        backup_dir=Path(backup_dir),
        changelog=Path(changelog) if changelog is not None else None,
        cleanup=cleanup,
        window=win,
        force=force,
        os_user=os_user(),
        username=connection.creds.username,
    )
    return run_push(devices, opts, connection.session, stop=stop, on_done=on_done, inflight=inflight)


__all__ = [
    "DEFAULT_BACKUP_DIR",
    "DEFAULT_CHANGELOG",
    "DEFAULT_CONFIRM_TIMEOUT",
    "DEFAULT_TIME_BUDGET",
    "ChangeWindow",
    "Connection",
    "Device",
    "DeviceReport",
    "DeviceResult",
    "FilterPlan",
    "InFlight",
    "Inventory",
    "InventoryError",
    "Op25bError",
    "Outcome",
    "ParsedConfig",
    "Platform",
    "PushReport",
    "Rendered",
    "SessionFactory",
    "Verdict",
    "audit_device",
    "audit_devices",
    "audit_file",
    "audit_saved",
    "audit_text",
    "change_window",
    "clear_caches",
    "connect",
    "generate",
    "iter_audit_saved",
    "load",
    "parse",
    "plan",
    "platforms",
    "push",
    "render",
    "set_time_budget",
    "window_status",
    "write_audit_report",
]
