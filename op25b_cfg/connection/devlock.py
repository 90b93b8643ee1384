"""One op25b at a time per device: an exclusive lock per management address and port, across processes.

Every session (push, ``audit --live``) takes the lock of its device's ``host:port`` when it opens and drops
it when it closes. The lock is an ``fcntl.flock`` on a file in op25b's own lock directory:
``$OP25B_LOCK_DIR``, else ``$XDG_RUNTIME_DIR/op25b/locks``, else ``~/.cache/op25b/locks`` (mode 0700). The
kernel drops the lock when the process ends, however it ends, so a crashed run never leaves a device locked;
a run removes its lock file when it is done.
The lock is not shared between users with different lock directories (run pushes as one service user).

A device whose lock is held is not touched: :class:`DeviceBusy` names the holder's pid and start time.
The file name is derived from ``host:port`` (only ``[A-Za-z0-9._-]`` kept, plus a hash of the exact
address), so no host name can reach outside the lock directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import time
from pathlib import Path

from op25b_cfg.errors import ConnectionError_


class DeviceBusy(ConnectionError_):
    """Another op25b process (or session) is working on this device right now."""


def lock_dir() -> Path:
    """The directory op25b keeps its device locks in (see the module doc)."""
    env = os.environ.get("OP25B_LOCK_DIR")
    if env:
        return Path(env)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "op25b" / "locks"
    return Path.home() / ".cache" / "op25b" / "locks"


def lock_name(host: str, port: int) -> str:
    """A file name for the lock of ``host:port``: readable, a single path component, unique per address.

    >>> lock_name("bras-1.example.net", 22)[:26]
    'bras-1.example.net_22-48c9'
    >>> "/" in lock_name("../../etc/passwd", 22), lock_name("A", 22) != lock_name("a", 22)
    (False, True)
    """
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", host)[:64].lstrip(".") or "_"
    digest = hashlib.sha256(f"{host}:{port}".encode()).hexdigest()[:12]
    return f"{readable}_{port}-{digest}.lock"


class DeviceLock:
    """The exclusive lock of one device address; :meth:`acquire` never waits."""

    def __init__(self, device: str, host: str, port: int) -> None:
        self.device = device
        self.host = host
        self.port = port
        self.path = lock_dir() / lock_name(host, port)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`DeviceBusy` (held elsewhere) / ConnectionError_ (no lock dir)."""
        for _ in range(5):
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another op25b session"
                os.close(fd)
                raise DeviceBusy(
                    f"{self.where}: busy: {holder} is working on this device (lock {self.path}); op25b does not"
                    " touch a device another run is changing. Fix: wait until that run ends, then re-run"
                ) from None
            try:  # the holder before us removes the file when it is done: lock the file that is there now
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except OSError:
                same = False
            if same:
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                os.pwrite(fd, f"op25b pid {os.getpid()} since {stamp}".encode(), 0)
                self._fd = fd
                return
            os.close(fd)
        raise DeviceBusy(f"{self.where}: busy: its lock {self.path} keeps changing. Fix: re-run")

    @property
    def where(self) -> str:
        return f"{self.device} ({self.host}:{self.port})"

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise ConnectionError_(
                f"{self.where}: cannot create the device lock {self.path} ({exc.strerror or exc}). Fix: make"
                " OP25B_LOCK_DIR (or XDG_RUNTIME_DIR, ~/.cache) writable"
            ) from None

    def release(self) -> None:
        """Drop the lock and remove its file (idempotent; never raises)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)  # while still holding it: a waiting run re-checks the file it locked
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None
