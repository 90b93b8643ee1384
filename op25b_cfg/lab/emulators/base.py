"""What every emulator shares: credentials, life cycle, the revert timer and the command log."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from op25b_cfg.lab.emulators.faults import Faults

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from op25b_cfg.intent_protocols import Device

LOOPBACK = "127.0.0.1"


class RevertTimer:
    """A commit-confirm timer: calls ``on_expiry`` after ``seconds * scale`` unless cancelled."""

    def __init__(self, seconds: float, scale: float, on_expiry: Callable[[], None]) -> None:
        self.seconds = seconds
        self.scale = scale
        self._fired = False
        self._timer = threading.Timer(max(seconds * scale, 0.0), self._fire)
        self._timer.daemon = True
        self._on_expiry = on_expiry
        self._started = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self._timer.start()

    def remaining(self) -> float:
        """Seconds left in device time (unscaled), never below 0."""
        if self._fired:
            return 0.0
        elapsed = (time.monotonic() - self._started) / self.scale if self.scale > 0 else self.seconds
        return max(self.seconds - elapsed, 0.0)

    def _fire(self) -> None:
        self._fired = True
        self._on_expiry()

    def cancel(self) -> None:
        self._timer.cancel()


class EmulatorBase:
    """Start/stop, random credentials, fault object, lock and command log for one emulated device.

    ``timer_scale`` multiplies every commit-confirm timer so a test can watch an automatic revert happen
    (``timer_scale=0.01`` turns a 5-minute timer into 3 s) while the device still reports the full time.
    """

    platform = "base"

    def __init__(
        self,
        initial_config: str = "",
        *,
        hostname: str = "emu1",
        username: str | None = None,
        password: str | None = None,
        faults: Faults | None = None,
        timer_scale: float = 1.0,
    ) -> None:
        self.hostname = hostname
        self.username = username or f"op25b-{secrets.token_hex(3)}"
        self.password = password or secrets.token_urlsafe(16)
        self.faults = faults or Faults()
        self.timer_scale = timer_scale
        self.host = LOOPBACK
        self.port = 0
        self.lock = threading.RLock()
        self.stop_event = threading.Event()
        self.commands: list[str] = []
        self.initial_config = initial_config
        self._threads: list[threading.Thread] = []
        self.booted = time.time()
        """When the emulated device last started (epoch seconds): its uptime counts from here (:meth:`reload`)."""

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self) -> EmulatorBase:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:  # never shows the password
        return f"<{type(self).__name__} {self.hostname} {self.host}:{self.port}>"

    @property
    def uptime(self) -> float:
        """Seconds since the device started, as it reports them."""
        return time.time() - self.booted

    def reload(self) -> None:
        """The device restarts: its uptime starts again and every counter it keeps (:class:`AclCounters`
        attributes) is cleared; subclasses also end what does not survive a reload (subscriber sessions)."""
        with self.lock:
            self.booted = time.time()
            for value in vars(self).values():
                if isinstance(value, AclCounters):
                    value.clear()

    # -- helpers for subclasses -------------------------------------------------------------------------
    def record(self, command: str) -> None:
        """Remember a command the client sent (tests may assert on it)."""
        with self.lock:
            self.commands.append(command)

    def spawn(self, target: Callable[[], None], name: str) -> threading.Thread:
        """Start a daemon thread that :meth:`stop` joins."""
        thread = threading.Thread(target=target, name=f"{self.platform}-emu-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()
        return thread

    def join_threads(self, timeout: float = 5.0) -> None:
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]

    # -- interface every emulator implements ------------------------------------------------------------
    @property
    def running_config(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def napalm_optional_args(self) -> dict[str, object]:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- what the emulator lab (``op25b lab emulators``) asks of every emulator class ----------------------
    @classmethod
    def default_config(cls, device: Device) -> str:  # pragma: no cover - overridden
        """A small but realistic running config for ``device`` when the inventory has no saved one (with
        what the device's attachments need to protect subscribers, e.g. a PPPoE group on a Virtual-Template)."""
        raise NotImplementedError

    @classmethod
    def strip_op25b(cls, text: str) -> str:  # pragma: no cover - overridden
        """``text`` without any OP25B object, reference or annotation: the device as it was before op25b."""
        raise NotImplementedError

    @classmethod
    def with_prerequisites(cls, text: str) -> str:  # pragma: no cover - overridden
        """``text`` plus the management configuration the driver needs (an API, archive, SCP), where missing."""
        raise NotImplementedError

    @classmethod
    def apply_change(cls, running: str, change: str) -> str:  # pragma: no cover - overridden
        """The running config after the device merges ``change`` (a candidate in its own syntax, as push and
        the audit's remediation write it), the way this emulator's config store applies it."""
        raise NotImplementedError

    @classmethod
    def lab_optional_args(cls) -> dict[str, object]:
        """napalm ``optional_args`` the lab writes into its hosts.yaml for this emulator (besides the port)."""
        return {}


class AclCounters:
    """Match counters (packets, bytes) by (filter, entry): what an emulated data plane counted, the
    entry being an ACL sequence number or a Junos counter name. Tests add hits with :meth:`add`; a reload
    clears them (:meth:`clear`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, int | str], tuple[int, int]] = {}

    def add(self, acl: str, seq: int | str, packets: int, octets: int | None = None) -> None:
        """``packets`` more matches of entry ``seq`` of ``acl`` (``octets`` default: 60 bytes a packet)."""
        with self._lock:
            p, b = self._hits.get((acl, seq), (0, 0))
            self._hits[(acl, seq)] = (p + packets, b + (octets if octets is not None else 60 * packets))

    def get(self, acl: str, seq: int | str) -> tuple[int, int]:
        with self._lock:
            return self._hits.get((acl, seq), (0, 0))

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()
