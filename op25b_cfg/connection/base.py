"""The :class:`Session` interface every device connection implements (napalm drivers, netmiko Linux).

Every library exception is mapped to :class:`~op25b_cfg.errors.ConnectionError_` (could not reach, log in,
or talk) or :class:`~op25b_cfg.errors.PushError` (a config step failed) with a clear message that never
contains a secret.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from op25b_cfg.connection.devlock import DeviceLock
    from op25b_cfg.intent_protocols import Device


T = TypeVar("T")


class OperationTimeout(Exception):
    """:func:`run_within`: the operation did not finish in time (it may still be running in its thread)."""


def run_within(seconds: float, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, but give up after ``seconds``: raises :class:`OperationTimeout` then, whatever
    the library inside does (a driver that waits 150 s on a hung commit). The call keeps running in a daemon
    thread; the caller closes the connection under it, which makes it end. Exceptions of ``fn`` propagate.

    >>> run_within(1, sum, [1, 2])
    3
    >>> import time
    >>> run_within(0.05, time.sleep, 5)
    Traceback (most recent call last):
    ...
    op25b_cfg.connection.base.OperationTimeout: no answer within 0.05s
    """
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=work, name=f"op25b-op-{getattr(fn, '__name__', 'call')}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise OperationTimeout(f"no answer within {seconds:g}s")
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Credentials:
    """Login secrets. ``repr`` never shows the password."""

    username: str
    password: str = field(repr=False)
    secret: str = field(default="", repr=False)  # enable secret (ios)


@dataclass(frozen=True)
class ConnectOptions:
    timeout: float = 30.0
    verify_host_key: bool = True
    known_hosts: str | None = None  # path; None = ~/.ssh/known_hosts
    port: int | None = None  # overrides the inventory port (lab/emulators)
    ssh_config: str | None = None  # OpenSSH client config file (paramiko/ncclient read it)
    # Extra driver arguments (napalm optional_args, e.g. {"transport": "http"} for an eAPI emulator).
    driver_args: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def library_timeout(self) -> float:
        """The timeout op25b gives a library's own waits (a netmiko read, a PyEZ RPC, the eAPI socket, an SSH
        channel) inside an operation bounded by op25b's ``--timeout`` deadline (:func:`run_within`): the deadline
        plus a margin, so op25b's deadline always fires first and reports the one message it owns ("no answer
        within Ns (--timeout)"); the library's own timeout only ends what op25b no longer waits for.

        >>> ConnectOptions(timeout=3).library_timeout, ConnectOptions(timeout=30).library_timeout
        (5.0, 37.5)
        """
        return self.timeout + max(2.0, self.timeout / 4)


class Session(abc.ABC):
    """One open management session to one device. Use as a context manager."""

    def __init__(self, device: Device, creds: Credentials, opts: ConnectOptions) -> None:
        self.device = device
        self.creds = creds
        self.opts = opts
        self._device_lock: DeviceLock | None = None

    def open_locked(self, port: int, connect: Callable[[], None]) -> None:
        """``connect()`` holding the exclusive lock of this device's ``hostname:port``
        (:mod:`op25b_cfg.connection.devlock`) until :meth:`unlock_device`; subclasses' :meth:`open` goes
        through here. Raises :class:`~op25b_cfg.connection.devlock.DeviceBusy` when another run holds it; a
        failed ``connect`` drops the lock again."""
        from op25b_cfg.connection.devlock import DeviceLock

        if self._device_lock is None:
            lock = DeviceLock(self.device.name, self.device.hostname, port)
            lock.acquire()
            self._device_lock = lock
        try:
            connect()
        except BaseException:
            self.unlock_device()
            raise

    def pass_lock_to(self, other: Session) -> None:
        """Give this session's device lock to ``other`` (not yet open): a reconnect keeps the device locked
        throughout, so no other run can slip in between closing this session and opening that one."""
        other.unlock_device()
        other._device_lock, self._device_lock = self._device_lock, None

    def unlock_device(self) -> None:
        """Drop the device lock (subclasses call it in :meth:`close` and when :meth:`open` fails)."""
        lock, self._device_lock = self._device_lock, None
        if lock is not None:
            lock.release()

    def __enter__(self) -> Session:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abc.abstractmethod
    def open(self) -> None:
        """Connect and log in (host key verified unless opts.verify_host_key is False)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Disconnect; never raises."""

    @abc.abstractmethod
    def get_running(self) -> str:
        """The running configuration as text (``nft list ruleset`` on Linux)."""

    @abc.abstractmethod
    def load_candidate(self, text: str) -> None:
        """Load ``text`` (only the OP25B part) as a merge candidate; nothing is applied yet."""

    @abc.abstractmethod
    def diff(self) -> str:
        """The candidate's diff against running ('' when loading changes nothing)."""

    @abc.abstractmethod
    def discard(self) -> None:
        """Drop the loaded candidate."""

    @abc.abstractmethod
    def commit(self, revert_seconds: int | None) -> None:
        """Apply the candidate. With ``revert_seconds`` and a platform revert timer, the device rolls back by
        itself unless :meth:`confirm` is called in time."""

    @abc.abstractmethod
    def confirm(self) -> None:
        """Make a timed commit permanent (cancel the revert timer); no-op where there is no timer."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Return to the configuration that ran before the last commit."""

    @abc.abstractmethod
    def query(self, step: str, fn: Callable[[Any], T]) -> T:
        """``fn(handle)`` on the open session, under the session's ``--timeout`` deadline, every library
        exception mapped to :class:`~op25b_cfg.errors.ConnectionError_` naming ``step``. ``handle`` is the
        session's native access: the napalm driver object (``cli()``, and ``.device``: pyeapi node, PyEZ
        device, netmiko connection) for napalm sessions; for Linux a function running one command (as root)
        and returning its stdout. Platforms read their counters through it
        (:meth:`op25b_cfg.platforms.base.Platform.read_counters`)."""
