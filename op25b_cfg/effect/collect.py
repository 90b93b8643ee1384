"""``op25b effect collect``: read every selected device's OP25B counters and store them.

Each device is read through the shared connection layer (the session ``op25b push`` and ``audit --live``
use), with its platform's one counter hook, :meth:`~op25b_cfg.platforms.base.Platform.read_counters`. The
readings are attributed to pools and purposes (:mod:`op25b_cfg.effect.attribute`) against the device's
current plan and stored in one transaction per device (:meth:`op25b_cfg.effect.db.EffectDB.add`). A device
that cannot be read is reported and the others go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from op25b_cfg.effect.attribute import attribute
from op25b_cfg.effect.model import Sample
from op25b_cfg.errors import Op25bError
from op25b_cfg.platforms import get_platform
from op25b_cfg.redact import redact

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session
    from op25b_cfg.effect.db import EffectDB
    from op25b_cfg.inventory import Device

log = logging.getLogger(__name__)

SessionFactory = Callable[["Device"], "Session"]


@dataclass
class Collected:
    """What one device gave: its samples (empty on error), the filters seen, and an error message."""

    device: str
    samples: list[Sample] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)
    resets: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def read_device(device: Device, open_session: SessionFactory, now: Callable[[], float] = time.time) -> Collected:
    """Read and attribute one device's counters; never raises (an error is in :attr:`Collected.error`)."""
    from op25b_cfg.rules import build_plan

    platform = get_platform(device.platform)
    try:
        with open_session(device) as session:
            readings = platform.read_counters(session)
        stamp = now()
    except Op25bError as exc:
        return Collected(device.name, error=redact(str(exc)))
    except Exception as exc:  # a library or op25b bug: this device only
        log.exception("%s: reading counters failed", device.name)
        return Collected(device.name, error=redact(f"{device.name}: internal error in op25b ({type(exc).__name__})"))
    plan = build_plan(device)
    samples = [s for r in readings if (s := attribute(device, plan, r, stamp)) is not None]
    if not samples:
        return Collected(
            device.name,
            filters=sorted({r.filter for r in readings}),
            error=f"{device.name}: no OP25B counters found (is the filter pushed, with counters on?)",
        )
    return Collected(device.name, samples, sorted({r.filter for r in readings}))


def collect(
    devices: Sequence[Device],
    open_session: SessionFactory,
    db: EffectDB,
    *,
    workers: int = 10,
    stop: threading.Event | None = None,
    on_done: Callable[[Collected], None] | None = None,
) -> list[Collected]:
    """:func:`read_device` for every device, ``workers`` at a time (:func:`op25b_cfg.fanout.run_each`), each
    device's samples stored as soon as it is read; results in the order of ``devices``. Once ``stop`` is set
    no new device starts."""
    from op25b_cfg.fanout import run_each

    lock = threading.Lock()  # one writer: SQLite allows one, and the increase of a counter needs its last reading

    def work(device: Device) -> Collected:
        if stop is not None and stop.is_set():
            result = Collected(device.name, error=f"{device.name}: not read: interrupted (Ctrl-C)")
        else:
            result = read_device(device, open_session)
        if result.samples:
            try:
                with lock:
                    result.resets = sum(inc.reset for inc in db.add(result.samples))
            except Op25bError as exc:
                result.error = str(exc)
        log.info("%s: %d counter(s)%s", device.name, len(result.samples), f", {result.error}" * bool(result.error))
        if on_done is not None:
            on_done(result)
        return result

    def crashed(device: Device, exc: BaseException | None) -> Collected:
        return Collected(device.name, error=f"{device.name}: internal error in op25b")

    return run_each(devices, workers, work, crashed, failed=lambda r: not r.ok, name="op25b effect collect")
