"""One job per device, many devices at once: the concurrency shared by ``op25b push`` and ``op25b audit --live``.

:func:`run_each` runs a per-device function through nornir's
:class:`~nornir.plugins.runners.ThreadedRunner` with ``workers`` threads and returns one result per device,
in the order the devices were given. The per-device function is expected never to raise (it turns every
error into its own result); should it raise anyway (a bug), ``crashed`` makes that device's result and the
other devices carry on.

:func:`ctrl_c_sets` turns the first Ctrl-C, SIGTERM or SIGHUP into a :class:`threading.Event` the
per-device functions check before they start: no new device starts, in-flight ones finish (or roll back).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from op25b_cfg.errors import Op25bError

if TYPE_CHECKING:
    from op25b_cfg.inventory import Device

log = logging.getLogger(__name__)

R = TypeVar("R")


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def ctrl_c_sets(
    event: threading.Event,
    notify: Callable[[str], None] | None = None,
    on_second: Callable[[int], None] | None = None,
) -> Iterator[None]:
    """While active, the first Ctrl-C (SIGINT), SIGTERM or SIGHUP sets ``event`` instead of ending the
    process: no new device starts, in-flight ones finish or roll back. A second one calls ``on_second(signum)``
    (``op25b push`` logs every in-flight device as interrupted and exits) or, without it, raises
    KeyboardInterrupt (unconfirmed changes then revert by their device timers). Only installs handlers in the
    main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if event.is_set():
            if on_second is not None:
                on_second(signum)
                return
            raise KeyboardInterrupt
        event.set()
        if notify:
            with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
                notify(
                    f"interrupted ({name}): starting no new device; in-flight devices finish or roll back"
                    " (Ctrl-C again to abort at once)"
                )

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def management_port(device: Device) -> int:
    """The port op25b reaches ``device`` on: its driver plugin's ``connection_options`` port (napalm for
    routers, netmiko for Linux), else the host's ``port``, else 22 (what the sessions use without --port)."""
    from op25b_cfg.platforms import get_platform

    plugin = device.connection_options.get("napalm" if get_platform(device.platform).napalm_driver else "netmiko")
    return (plugin.port if plugin is not None else None) or device.port or 22


def shared_addresses(devices: Sequence[Device]) -> list[str]:
    """``host:port (a, b)`` for every management address (hostname, :func:`management_port`) that two or more
    of ``devices`` share: two runs on one router through two names would defeat the per-device lock."""
    by_address: dict[tuple[str, int], list[str]] = {}
    for d in devices:
        by_address.setdefault((d.hostname.lower(), management_port(d)), []).append(d.name)
    return [f"{h}:{p} ({', '.join(names)})" for (h, p), names in by_address.items() if len(names) > 1]


def run_each(
    devices: Sequence[Device],
    workers: int,
    work: Callable[[Device], R],
    crashed: Callable[[Device, BaseException | None], R],
    *,
    failed: Callable[[R], bool] = lambda _r: False,
    name: str = "op25b",
) -> list[R]:
    """``work(device)`` for every device, ``workers`` at a time (nornir ThreadedRunner); results in the
    order of ``devices``.

    ``failed`` tells nornir which results count as failed (for its own bookkeeping only). When ``work``
    raises, nornir catches it and ``crashed(device, exception)`` gives that device's result. Raises
    :class:`Op25bError` when a device is given twice (nornir keys hosts by name).
    """
    from nornir.core import Nornir
    from nornir.core.inventory import Defaults, Groups, Host, Hosts, Inventory
    from nornir.core.task import Result, Task
    from nornir.plugins.runners import ThreadedRunner

    by_name = {d.name: d for d in devices}
    if len(by_name) != len(devices):
        raise Op25bError("the same device is selected twice")

    def task(t: Task) -> Result:
        res = work(by_name[t.host.name])
        return Result(host=t.host, result=res, failed=failed(res))

    hosts = Hosts(
        {
            d.name: Host(name=d.name, hostname=d.hostname, port=d.port, username=d.username, platform=d.platform)
            for d in devices
        }
    )
    nr = Nornir(
        inventory=Inventory(hosts=hosts, groups=Groups(), defaults=Defaults()),
        runner=ThreadedRunner(num_workers=max(1, workers)),
    )
    agg = nr.run(task=task, name=name, raise_on_error=False)
    results: list[R] = []
    for d in devices:
        multi = agg.get(d.name)
        if multi and not multi[0].exception:
            results.append(multi[0].result)
        else:  # nornir caught an exception outside the per-device workflow
            exc = multi[0].exception if multi else None
            log.error("%s: internal error %r", d.name, exc)
            results.append(crashed(d, exc))
    return results


__all__ = ["STOP_SIGNALS", "ctrl_c_sets", "management_port", "run_each", "shared_addresses"]
