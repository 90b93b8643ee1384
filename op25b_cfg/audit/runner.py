"""Feeding running configs to the semantic engine, one device at a time, never failing the whole run.

Two ways in, one audit:

* :func:`audit_saved` reads a directory of saved running configs (one file per device, as Oxidized or
  RANCID keep them) and audits every selected device;
* :func:`audit_text` audits one config text from anywhere: a saved file, or a device (``op25b audit --live``
  and the push post-check call it with ``source="live <host>"``);
* :func:`audit_live` fetches running configs through the shared connection layer, concurrently, and audits
  each with :func:`audit_text` (``op25b audit --live``; ``--save DIR`` keeps them as backups).

A device whose config is missing, empty, binary, truncated, or that the engine cannot audit gets a
:class:`~op25b_cfg.audit.model.DeviceReport` with verdict ERROR and a message naming the file and the fix; the
other devices are audited as usual.

Saved-config lookup, in this order, in the configs directory (the first file that exists wins)::

    <name>  <name>.cfg  <name>.conf  <name>.txt  <name>.<ext>                 (ext: what `op25b generate` writes)
    <hostname>  <hostname>.cfg  <hostname>.conf  <hostname>.txt              (when hostname differs from name)

``<name>`` is the inventory name (Oxidized's node name, RANCID's router.db name); the platform always comes from
the inventory, never from the file.
"""

from __future__ import annotations

import errno
import gc
import itertools
import logging
import os
import signal
import stat
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from op25b_cfg import rendered_cache
from op25b_cfg.audit.model import DeviceReport, Verdict, default_time_budget, set_time_budget
from op25b_cfg.errors import AuditError, Op25bError
from op25b_cfg.gc_pause import paused_gc
from op25b_cfg.inventory import Device
from op25b_cfg.paths import PathError, plain_part, under, writable_dir
from op25b_cfg.platforms import PLATFORMS, get_platform
from op25b_cfg.redact import redact

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session
    from op25b_cfg.rendered_cache import Origin

log = logging.getLogger(__name__)

CONFIG_SUFFIXES: tuple[str, ...] = ("", ".cfg", ".conf", ".txt")
MAX_CONFIG_BYTES = 64 * 1024 * 1024
"""Larger files are refused (a 60k-line BRAS config is about 3 MB)."""
BINARY_RATIO = 0.02
"""More than this share of control or undecodable bytes makes a file binary rather than text."""

AuditFn = Callable[[Device, str, str], DeviceReport]
SessionFactory = Callable[[Device], "Session"]

_ENGINE_LOCK = threading.Lock()
"""The engine's BDD manager and caches are process-wide and not thread-safe: one audit at a time (audits are
CPU-bound, so threads gain nothing by running them together; fetching and pushing stay parallel)."""


# ------------------------------------------------------------------------------------------- finding files


def candidate_names(device: Device) -> list[str]:
    """File names tried for ``device``, in lookup order (see the module docstring).

    The result depends only on the device's name, hostname and platform.
    """
    names = [device.name + s for s in CONFIG_SUFFIXES]
    platform = PLATFORMS.get(device.platform)
    if platform is not None:
        names.append(f"{device.name}.{platform.file_extension}")
    if device.hostname and device.hostname != device.name:
        names += [device.hostname + s for s in CONFIG_SUFFIXES]
    return list(dict.fromkeys(names))


def find_config(configs_dir: Path, device: Device) -> Path | None:
    """The saved config file of ``device`` in ``configs_dir``, or None when there is none.

    Raises :class:`~op25b_cfg.paths.PathError` when a candidate leads outside ``configs_dir``.

    One ``lstat`` per candidate: nothing there is the next candidate, a regular file (not a link) the answer
    (what :func:`~op25b_cfg.paths.under` and ``is_file`` decide for them, at a third of the cost: 5,000 configs
    looked up two candidates each); a link, a directory, any other error or a name that would leave the
    directory take the full check."""
    base = os.fspath(configs_dir)
    for name in candidate_names(device):
        if plain_part(name):
            try:
                st = os.lstat(os.path.join(base, name))
            except OSError as exc:
                if exc.errno in _ABSENT:
                    continue
            else:
                if stat.S_ISREG(st.st_mode):
                    return configs_dir / name
        path = under(configs_dir, name)
        if path.is_file():
            return path
    return None


_ABSENT = frozenset((errno.ENOENT, errno.ENOTDIR))
"""``lstat`` errors meaning no entry of that name (``Path.is_file`` is False for them)."""


# ------------------------------------------------------------------------------------------- checking text

_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
"""Bytes that do not belong in a text config (tab, newlines, form feed and ESC do)."""
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL_BYTES)


def decode_config(data: bytes, where: str) -> str:
    """Text of a saved config. Raises :class:`AuditError` for an empty or binary file.

    UTF-8 (with or without BOM) is expected; a text file with a few bytes in another encoding (a Latin-1 or
    Shift_JIS banner) is read with those bytes replaced, since they cannot change an ACL. CRLF becomes LF.

    >>> decode_config(b"hostname r1\\r\\nend\\r\\n", "r1.cfg")
    'hostname r1\\nend\\n'
    >>> decode_config(b"\\x1f\\x8b\\x08\\x00\\x00\\x00", "r1.cfg")
    Traceback (most recent call last):
    ...
    op25b_cfg.errors.AuditError: r1.cfg: binary file (NUL byte at offset 3), not a saved running config. ...
    """
    if not data.strip():
        raise AuditError(
            f"{where}: empty file ({len(data)} bytes). Fix: check the config backup job (Oxidized/RANCID) for"
            " this device and save its running config again"
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        raise AuditError(
            f"{where}: binary file (NUL byte at offset {nul}), not a saved running config. Fix: save the"
            " plain-text output of 'show running-config' (Junos: 'show configuration'; Linux: 'nft list ruleset')"
        )
    text = data.decode("utf-8-sig", errors="replace")
    # control bytes are ASCII, which UTF-8 decoding keeps one for one: counted on the bytes at C speed
    bad = len(data.translate(None, _NOT_CONTROL)) + text.count("\ufffd")
    if bad > max(1.0, BINARY_RATIO * len(text)):
        raise AuditError(
            f"{where}: binary or undecodable file ({bad} of {len(text)} characters are control bytes or not"
            " UTF-8), not a saved running config. Fix: save the plain-text running config (UTF-8)"
        )
    if "\ufffd" in text:
        log.warning("%s: not valid UTF-8; undecodable bytes replaced", where)
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def truncation_problem(platform: str, text: str) -> str | None:
    """Why ``text`` looks cut off for ``platform`` (None: it looks complete): the platform's
    :meth:`~op25b_cfg.platforms.base.Platform.truncation_problem`.

    >>> print(truncation_problem("cisco_ios", "hostname r1\\ninterface Gi1\\n ip access-group A in\\n"))
    last line is 'ip access-group A in', not 'end': the file looks truncated (a complete ...
    >>> truncation_problem("cisco_ios", "hostname r1\\nend\\n\\nr1#\\n") is None
    True
    >>> truncation_problem("linux_nftables", 'table inet f {\\n chain c {\\n  comment "}"\\n')
    "2 unclosed '{' at the end of the file: the ruleset looks truncated"
    """
    return get_platform(platform).truncation_problem(text)


# ------------------------------------------------------------------------------------------- auditing


def error_report(device: Device, source: str, message: str) -> DeviceReport:
    """A report with verdict ERROR for ``device`` (the message is redacted)."""
    return DeviceReport(
        device=device.name, platform=device.platform, verdict=Verdict.ERROR, error=redact(message), source=source
    )


def _internal_error(device: Device, source: str, where: str, exc: BaseException) -> DeviceReport:
    """An ERROR report for an exception that is not an :class:`Op25bError` (a bug in op25b or a library):
    logged with type and location only, never the config or a secret."""
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    log.error("%s: internal error %s%s", device.name, type(exc).__name__, at)
    return error_report(
        device,
        source,
        f"{where}: internal error in op25b ({type(exc).__name__}{at}). Please report it with the config"
        " (secrets removed)",
    )


def _engine() -> AuditFn:
    """The engine's ``audit_text`` (imported late: the engine pulls in every parser)."""
    from op25b_cfg.audit.engine import audit_text as engine_audit_text

    return engine_audit_text


def audit_text(device: Device, text: str, source: str = "") -> DeviceReport:
    """Audit one running config text of ``device``; the place every source (saved file, ``--live``) goes through.

    Never raises for bad input: a truncated text, an unknown platform or an engine failure gives a report with
    verdict ERROR. An exception that is not an :class:`Op25bError` is a bug in op25b: it is logged (type and
    location, no config data) and reported as an internal error for this device only.
    """
    where = source or device.name
    problem = truncation_problem(device.platform, text)
    if problem is not None:
        return error_report(
            device, source, f"{where}: {problem}. Fix: save the complete running config of {device.name} again"
        )
    try:
        with _ENGINE_LOCK:
            report = _engine()(device, text, source)
    except Op25bError as exc:
        return error_report(device, source, f"{where}: {exc}")
    except Exception as exc:  # a bug must not stop the audit of the other devices
        return _internal_error(device, source, where, exc)
    if not report.source:
        report.source = source
    return report


def audit_bytes(device: Device, data: bytes, source: str) -> DeviceReport:
    """Decode raw config bytes (see :func:`decode_config`) and audit them."""
    try:
        text = decode_config(data, source)
    except AuditError as exc:
        return error_report(device, source, str(exc))
    return audit_text(device, text, source)


def audit_file(device: Device, path: Path) -> DeviceReport:
    """Read and audit one saved config file."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            return error_report(
                device,
                source,
                f"{source}: {size} bytes is larger than {MAX_CONFIG_BYTES} bytes; not a running config."
                " Fix: point --configs at the saved running configs",
            )
        data = path.read_bytes()
    except OSError as exc:
        return error_report(
            device, source, f"{source}: cannot be read ({exc.strerror or exc}). Fix: check the file's permissions"
        )
    return audit_bytes(device, data, source)


def _saved_report(device: Device, configs_dir: Path) -> DeviceReport:
    """Find, read and audit the saved config of one device (ERROR report when there is none)."""
    try:
        path = find_config(configs_dir, device)
    except PathError as exc:
        return error_report(device, str(configs_dir), str(exc))
    if path is None:
        tried = ", ".join(candidate_names(device))
        return error_report(
            device,
            str(configs_dir),
            f"{configs_dir}: no saved running config for {device.name} (looked for {tried}). Fix: add the"
            " file, or check the device name in hosts.yaml against the backup's file names",
        )
    return audit_file(device, path)


def _saved_chunk(
    devices: Sequence[Device], configs_dir: Path, origins: Sequence[Origin | None] | None = None
) -> list[DeviceReport]:
    """:func:`_saved_report` for a chunk of devices: what a worker process runs (module level, so it can be
    pickled under the ``spawn`` start method). A chunk shares one pickled policy between its devices; with
    ``origins`` (:func:`~op25b_cfg.rendered_cache.origin_of` of the devices they are copies of) the rendered
    intents come from the rendered-intent cache, as in the process that loaded the inventory.

    The garbage collector stays paused for the whole chunk, not only for each parse: re-enabled after every
    device, it walked the objects of that audit each time (about a fifth of the CPU of 5,000 small configs).
    An audit's objects hold no reference cycles (see :func:`op25b_cfg.audit.engine.audit_text`;
    ``tests/test_audit_lazy.py`` checks every platform), so they are freed as each report is made; cycles, if
    any, are collected after the chunk."""
    with paused_gc(), rendered_cache.adopted(devices, origins or [None] * len(devices)):
        return [_saved_report(d, configs_dir) for d in devices]


_FORKED: list[Sequence[Device]] = []
"""The devices of the pool being started by :func:`_pooled` with ``fork``: its workers are forked with them in
memory, so a chunk is sent as its bounds in this sequence (:func:`_forked_chunk`), not pickled (pickling the
chunks cost the main process 0.04-0.05 s per 5,000 devices, unpickling them the workers as much again)."""


def _forked_chunk(bounds: tuple[int, int], configs_dir: Path) -> list[DeviceReport]:
    """:func:`_saved_chunk` of the devices ``bounds`` (start, end) of :data:`_FORKED`, as this forked worker
    inherited it."""
    start, end = bounds
    return _saved_chunk(_FORKED[0][start:end], configs_dir)


POOL_MIN_CONFIGS = 200
"""Fewer saved configs than this are audited in this process: starting a worker process (a fresh interpreter
importing the engine) costs about as much as auditing 100-200 configs."""
CHUNK_MAX = 128
CHUNK_MIN = 16


def chunk_sizes(n: int, workers: int) -> list[int]:
    """The sizes of the chunks ``n`` devices are cut into for ``workers`` processes: a quarter of each worker's
    share of what is left, between :data:`CHUNK_MIN` and :data:`CHUNK_MAX`, so chunks shrink towards the end and
    the workers finish close together (equal chunks of 128 left one worker up to a chunk, 0.1-0.2 s, alone).

    >>> chunk_sizes(2000, 2)[:3], chunk_sizes(2000, 2)[-3:], sum(chunk_sizes(2000, 2))
    ([128, 128, 128], [16, 16, 16], 2000)
    >>> chunk_sizes(3, 2)
    [3]
    """
    sizes = []
    left = n
    while left > 0:
        size = min(left, max(CHUNK_MIN, min(CHUNK_MAX, -(-left // (workers * 4)))))
        sizes.append(size)
        left -= size
    return sizes


def audit_workers(configs: int) -> int:
    """How many processes audit ``configs`` saved configs: one per usable core when there are at least
    :data:`POOL_MIN_CONFIGS` (and at least that many per extra process), else 1 (this process)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, configs // POOL_MIN_CONFIGS))


def _init_worker(time_budget: float | None) -> None:  # pragma: no cover - runs in the worker processes
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    gc.enable()  # a forked worker has the parent's state, which may be paused (api.write_audit_report)
    set_time_budget(time_budget)  # the parent's --time-budget (spawned workers start with the default)
    # What the worker starts with (the parent's modules and inventory under fork, the imports under spawn)
    # lives until it exits: frozen, the collector never walks it again (the pass after each chunk walked it
    # all: 5-10% of the CPU of a chunk of small configs), and a forked worker does not touch, and so copy,
    # the parent's pages.
    gc.freeze()


def start_method() -> str:
    """``fork`` on Linux while this process runs no other thread (the workers then start at once, with the
    engine already imported), else ``spawn`` (a fresh interpreter per worker; everything they run is
    importable and picklable, so both work)."""
    if sys.platform == "linux" and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _pooled(
    devices: Sequence[Device], configs_dir: Path, workers: int, method: str | None = None
) -> Iterator[DeviceReport]:
    """Reports of ``devices`` in their order, audited by ``workers`` processes started with ``method``
    (default :func:`start_method`). The CPU-bound audits of saved configs then use every core; live fetches
    stay threaded (:func:`audit_live`)."""
    starts = list(itertools.accumulate(chunk_sizes(len(devices), workers), initial=0))
    bounds = list(itertools.pairwise(starts))
    import multiprocessing  # here: auditing one config or a few needs no process machinery
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    method = method or start_method()
    if method == "fork":
        _engine()  # imported once here and shared by the forked workers
        _FORKED[:] = [devices]  # kept while the pool runs: every worker it forks has them
    ctx = multiprocessing.get_context(method)
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(default_time_budget(),)
    )
    try:
        if method == "fork":
            # the forked workers hold these very device objects, which the rendered-intent cache knows
            results = pool.map(_forked_chunk, bounds, itertools.repeat(configs_dir))
        else:
            chunks = [devices[a:b] for a, b in bounds]
            # spawned workers get copies: tell them which devices they are copies of (rendered_cache.adopted)
            origins = [[rendered_cache.origin_of(d) for d in chunk] for chunk in chunks]  # one object per inventory
            results = pool.map(_saved_chunk, chunks, itertools.repeat(configs_dir), origins)
        for reports in results:
            yield from reports
    except BrokenProcessPool as exc:
        raise AuditError(
            f"an audit worker process died ({exc}); the report is incomplete. Fix: check the machine's memory,"
            " or audit fewer devices at a time (--filter)"
        ) from None
    finally:
        _FORKED.clear()
        pool.shutdown(wait=True, cancel_futures=True)


def iter_saved(devices: Sequence[Device], configs_dir: Path, workers: int | None = None) -> Iterator[DeviceReport]:
    """The report of every device from its saved config in ``configs_dir`` (lookup order: module docstring),
    in the order of ``devices``, each as soon as it is ready. ``workers`` processes (default
    :func:`audit_workers`) share the work when more than one.

    Raises :class:`AuditError` at once when ``configs_dir`` itself is not a directory; every per-device problem
    is a report with verdict ERROR.
    """
    if not configs_dir.is_dir():
        raise AuditError(
            f"{configs_dir}: not a directory of saved running configs. Fix: pass --configs DIR with one file per"
            " device (<device>, <device>.cfg, .conf or .txt)"
        )
    n = audit_workers(len(devices)) if workers is None else workers

    def logged(reports: Iterable[DeviceReport]) -> Iterator[DeviceReport]:
        for report in reports:
            log.info("%s: %s (%s)", report.device, report.verdict, report.source)
            yield report

    if n <= 1:
        return logged(_saved_report(d, configs_dir) for d in devices)
    return logged(_pooled(devices, configs_dir, n))


def audit_saved(devices: Iterable[Device], configs_dir: Path, workers: int | None = None) -> list[DeviceReport]:
    """:func:`iter_saved` as a list."""
    return list(iter_saved(list(devices), configs_dir, workers))


# ------------------------------------------------------------------------------------------- live


def live_source(device: Device) -> str:
    """The ``source`` of a report whose config was fetched from the device: ``live <host>``."""
    return f"live {device.hostname or device.name}"


def prepare_save_dir(path: Path) -> None:
    """Create the ``--save`` directory up front, so an unusable one stops the run before any device is
    contacted. Raises :class:`~op25b_cfg.paths.PathError`."""
    writable_dir(path, "--save")


def audit_live_device(device: Device, open_session: SessionFactory, save_dir: Path | None = None) -> DeviceReport:
    """Fetch the running config of ``device`` (:meth:`Session.get_running`: napalm ``get_config``, ``nft list
    ruleset`` on Linux) and audit it with :func:`audit_text`; never raises.

    ``open_session(device)`` returns an unopened session (``op25b_cfg.connection.factory.make_session``). A
    connection or login failure is a report with verdict ERROR carrying the connection layer's message (no
    secret). With ``save_dir`` the fetched text is also written, raw, as a backup (``op25b push``'s writer:
    ``save_dir/<device>/<UTC timestamp>.cfg``, mode 0600); if that fails the verdict is ERROR and the
    findings are kept.
    """
    from op25b_cfg.backups import write_backup

    source = live_source(device)
    try:
        with open_session(device) as session:
            text = session.get_running()
    except Op25bError as exc:
        return error_report(device, source, str(exc))
    except Exception as exc:  # a library or op25b bug: this device only
        return _internal_error(device, source, source, exc)
    report = audit_text(device, text.replace("\r\n", "\n"), source)
    if save_dir is not None:
        try:
            saved = write_backup(save_dir, device.name, text)
        except Op25bError as exc:
            report.error = redact(
                f"{exc} (the fetched config audited {report.verdict}"
                + (f"; {report.error}" if report.error else "")
                + ")"
            )
            report.verdict = Verdict.ERROR
        else:
            log.info("%s: running config saved to %s", device.name, saved)
    return report


def audit_live(
    devices: Sequence[Device],
    open_session: SessionFactory,
    *,
    workers: int = 10,
    save_dir: Path | None = None,
    stop: threading.Event | None = None,
    on_done: Callable[[DeviceReport], None] | None = None,
) -> list[DeviceReport]:
    """:func:`audit_live_device` for every device, ``workers`` at a time (the runner ``op25b push`` uses:
    :func:`op25b_cfg.fanout.run_each`); reports in the order of ``devices``.

    Once ``stop`` is set (Ctrl-C, see :func:`op25b_cfg.fanout.ctrl_c_sets`) no new device starts: those get
    verdict ERROR ("not audited"). One device failing never stops the others.
    """
    from op25b_cfg.fanout import run_each

    def work(device: Device) -> DeviceReport:
        if stop is not None and stop.is_set():
            report = error_report(device, live_source(device), f"{device.name}: not audited: interrupted (Ctrl-C)")
        else:
            report = audit_live_device(device, open_session, save_dir)
        log.info("%s: %s (%s)", device.name, report.verdict, report.source)
        if on_done is not None:
            on_done(report)
        return report

    def crashed(device: Device, exc: BaseException | None) -> DeviceReport:
        if exc is None:
            return error_report(device, live_source(device), f"{device.name}: internal error in op25b")
        return _internal_error(device, live_source(device), live_source(device), exc)

    return run_each(
        devices, workers, work, crashed, failed=lambda r: r.verdict is Verdict.ERROR, name="op25b audit --live"
    )
