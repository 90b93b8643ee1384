"""``op25b generate``: render every selected device to ``<out>/<device>.<ext>``."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from op25b_cfg.errors import Op25bError
from op25b_cfg.gc_pause import paused_gc
from op25b_cfg.inventory import Device
from op25b_cfg.paths import PathError, atomic_write, under, writable_dir
from op25b_cfg.platforms import get_platform
from op25b_cfg.rules import build_plan

log = logging.getLogger(__name__)


@dataclass
class Rendered:
    """The result for one device: where the config went, or why it failed."""

    device: str
    platform: str
    mode: str
    version: str = ""
    filters: str = ""
    rules: int = 0
    lines: int = 0
    path: str = ""
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def render_device(device: Device) -> tuple[str, Rendered]:
    """Render one device's OP25B config. Returns the text and the summary (error set on failure)."""
    res = Rendered(device=device.name, platform=device.platform, mode=device.mode)
    try:
        plan = build_plan(device)
        text = get_platform(device.platform).render(device, plan)
    except Op25bError as exc:
        res.error = str(exc)
        return "", res
    res.version = plan.version
    res.filters = ", ".join(plan.filter_name(f) for f in plan.families)
    res.rules = len(plan.rules)
    res.lines = text.count("\n")
    return text, res


WRITERS = 8
"""Threads writing config files while rendering goes on: a file write waits on the disk, not the CPU (on an
ext4 mounted with ``discard``, overwriting 10,000 files one at a time took 24-30 s, with 8 threads 4-6 s)."""


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` (UTF-8) to ``path`` unless the file already holds exactly that; True when written.

    A re-run that changes nothing rewrites nothing (file times stay, and no block is freed and allocated again);
    a write is atomic (:func:`op25b_cfg.paths.atomic_write`): a failure (a full disk) leaves no partial file.
    """
    data = text.encode("utf-8")
    try:
        if os.stat(path).st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    atomic_write(path, data, durable=False)  # a generated config can be generated again
    return True


def generate(devices: list[Device], out_dir: Path | None) -> list[Rendered]:
    """Render ``devices``; write each to ``out_dir/<device>.<ext>`` when ``out_dir`` is given.

    Files are written by :data:`WRITERS` threads while the next devices render. Each is written atomically: a
    write that fails (a full disk) leaves no partial file and is reported as that device's error. From
    :data:`POOL_MIN_DEVICES` devices on, every usable core renders and writes a share of them
    (:func:`generate_workers`). Results are in the order of ``devices`` either way. Raises :class:`PathError`
    when ``out_dir`` cannot be used at all.
    """
    if out_dir is not None:
        writable_dir(out_dir, "-o")
    workers = generate_workers(len(devices))
    with paused_gc():  # plans, texts and results hold no reference cycles
        results = _generate_forked(devices, out_dir, workers) if workers > 1 else _generate(devices, out_dir)
    for res in results:
        if res.failed:
            log.error("%s: %s", res.device, res.error)
    return results


def _generate(devices: list[Device], out_dir: Path | None) -> list[Rendered]:
    results = []
    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="op25b-write") as pool:
        writes: list[Future[None]] = []
        batch: list[tuple[Rendered, str, str]] = []
        for dev in devices:
            text, res = render_device(dev)
            if not res.failed and out_dir is not None:
                batch.append((res, f"{dev.name}.{get_platform(dev.platform).file_extension}", text))
                if len(batch) == WRITE_BATCH:
                    writes.append(pool.submit(_write_batch, out_dir, batch))
                    batch = []
            results.append(res)
        if batch and out_dir is not None:
            writes.append(pool.submit(_write_batch, out_dir, batch))
        for done in writes:
            done.result()
    return results


WRITE_BATCH = 32
"""Files per thread task (a task per file costs more to hand over than a small write)."""


def _write_batch(out_dir: Path, batch: list[tuple[Rendered, str, str]]) -> None:
    """Write each rendered config to ``out_dir/<name>``; a failure is that device's error (a full disk: no file
    was left).

    The path is checked here (:func:`~op25b_cfg.paths.under`: a symbolic link leading out is refused), in the
    writer thread, not while rendering: looking up a new name waits for the directory's lock, which every file
    creation holds while ext4 allocates its inode (0.04-0.4 ms each, more after many deletions), so a check
    in the rendering thread stalled rendering behind the writers (4.6 s of 10,000 ``lstat`` calls under cProfile).
    """
    for res, name, text in batch:
        try:
            path = under(out_dir, name)
            write_if_changed(path, text)
        except PathError as exc:
            res.error = str(exc)
        except OSError as exc:
            res.error = f"cannot write {out_dir}/{res.device}: {exc.strerror or exc}; no file was left"
        else:
            res.path = str(path)


POOL_MIN_DEVICES = 2000
"""From this many devices on, :func:`generate` forks a worker process per further usable core, each rendering
and writing a share of the devices. Measured with cold render caches (load 3.8): 1,000 devices 0.116 s in one
process and 0.122 s with a worker, 2,000 devices 0.380 s and 0.232 s (docs/decisions.md, issue 10)."""


def generate_workers(devices: int) -> int:
    """How many processes render ``devices`` devices: one per usable core when there are at least
    :data:`POOL_MIN_DEVICES`, on Linux, while this process runs no other thread (the workers are forked and
    inherit the devices without copying them; forking a process with threads is not safe), else 1.

    >>> generate_workers(1)
    1
    """
    if devices < POOL_MIN_DEVICES or sys.platform != "linux" or threading.active_count() != 1:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), devices // (POOL_MIN_DEVICES // 2)))


_INHERITED: list[Device] = []
"""The devices of a forked :func:`generate`, set just before the fork: the workers read their share from here
(shared copy-on-write), so no device is pickled."""


def _worker_part(out_dir: Path | None, start: int, stop: int) -> list[Rendered]:  # pragma: no cover - a worker
    """What a forked worker runs: render and write ``_INHERITED[start:stop]``; its results go back pickled."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    return _generate(_INHERITED[start:stop], out_dir)


def _generate_forked(devices: list[Device], out_dir: Path | None, workers: int) -> list[Rendered]:
    """:func:`_generate` with the devices cut into ``workers`` consecutive shares: this process renders the
    first, a forked worker each of the others (forked before this process starts any thread, and after it
    rendered the first device, so they start with Jinja imported and its environment built). Same files, same
    results, in order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    global _INHERITED
    log.info("rendering %d devices in %d processes", len(devices), workers)
    bounds = [len(devices) * k // workers for k in range(workers + 1)]
    render_device(devices[0])  # kept in the render cache: rendering it again below is a look-up
    _INHERITED = devices
    pool = ProcessPoolExecutor(max_workers=workers - 1, mp_context=multiprocessing.get_context("fork"))
    try:
        shares = list(itertools.pairwise(bounds[1:]))
        parts = [pool.submit(_worker_part, out_dir, a, b) for a, b in shares]
        results = _generate(devices[: bounds[1]], out_dir)
        for part, (a, b) in zip(parts, shares, strict=True):
            got = part.result()
            if [r.device for r in got] != [d.name for d in devices[a:b]]:  # a worker that saw other devices
                raise Op25bError(
                    f"a generate worker rendered the wrong devices ({len(got)} of {b - a}). Fix: run generate again"
                )
            results += got
    except BrokenProcessPool as exc:
        raise Op25bError(
            f"a generate worker process died ({exc}); not every config was written. Fix: check the machine's"
            " memory, or generate fewer devices at a time (--filter)"
        ) from None
    finally:
        _INHERITED = []
        pool.shutdown(wait=True, cancel_futures=True)
    return results
