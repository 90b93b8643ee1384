"""A test double for the DEVICE side of a push (not for op25b's own code).

:class:`FakeDevice` keeps an IOS/EOS/XR-style running config (indented blocks) and applies a merge the way
those devices do: new blocks are added, lines are added to existing blocks, an interface's
``ip access-group NAME in`` (and friends) replaces the previous one for that direction, ``no <header>``
removes a block, ``no <line>`` inside a block removes that line. It has a commit-confirm timer
(``revert_timer=True``): an unconfirmed timed commit is reverted when the session closes, standing in for the
timer expiring. Faults can be injected per step, and
``mangle`` models a device that silently drops lines when it applies a commit (so the post-change audit of
the real running config fails). ``latency`` adds a sleep to every call (benchmarks).

:class:`FakeSession` is the :class:`~op25b_cfg.connection.base.Session` the push workflow talks to.
Used by tests/test_push_workflow.py and bench/push.py until/besides the protocol emulators.
"""

from __future__ import annotations

import difflib
import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from op25b_cfg.connection.base import ConnectOptions, Credentials, Session
from op25b_cfg.errors import ConnectionError_, PushError
from op25b_cfg.inventory import Device

T = TypeVar("T")

_REPOINT = {
    ("ip", "access-group"): 3,
    ("ipv6", "traffic-filter"): 3,
    ("ipv6", "access-group"): 3,
    ("ipv4", "access-group"): 3,
}


def parse_blocks(text: str) -> list[tuple[str, list[str]]]:
    """Top-level blocks (header, indented child lines) of an indented config; '!' and 'end' skipped."""
    blocks: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.strip().startswith("!") or line.strip() == "end":
            continue
        if line[0] != " ":
            blocks.append((line, []))
        elif blocks:
            blocks[-1][1].append(line)
    return blocks


def render_blocks(blocks: list[tuple[str, list[str]]]) -> str:
    out: list[str] = []
    for header, children in blocks:
        out.append(header)
        out.extend(children)
        out.append("!")
    out.append("end")
    return "\n".join(out) + "\n"


def _repoint_key(line: str) -> tuple[str, ...] | None:
    w = line.split()
    if len(w) == 4 and (w[0], w[1]) in _REPOINT:
        return (w[0], w[1], w[3])
    if len(w) == 3 and w[0] == "service-policy":
        return (w[0], w[1])
    return None


def _strip_comments(text: str) -> str:
    return "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("!"))


def merge(running: str, candidate: str) -> str:
    """``running`` after merging ``candidate`` (see the module doc). Memoised: device-side work should not
    cost the benchmark's CPU (comment lines, which the merge ignores, are left out of the key)."""
    return _merge(running, _strip_comments(candidate))


@functools.lru_cache(maxsize=256)
def _diff(old: str, candidate: str) -> str:
    new = _merge(old, candidate)
    return "\n".join(difflib.unified_diff(old.splitlines(), new.splitlines(), "running", "candidate", lineterm="", n=3))


@functools.lru_cache(maxsize=256)
def _merge(running: str, candidate: str) -> str:
    blocks = parse_blocks(running)
    index = {h: i for i, (h, _) in enumerate(blocks)}
    for header, children in parse_blocks(candidate):
        if header.startswith("no "):
            target = header[3:].split()
            keep = []
            for h, c in blocks:
                hw = h.split()
                same = hw == target or (target[0] == "class-map" and hw[0] == "class-map" and hw[-1] == target[-1])
                if not same:
                    keep.append((h, c))
            blocks = keep
            index = {h: i for i, (h, _) in enumerate(blocks)}
            continue
        if header not in index:
            blocks.append((header, []))
            index[header] = len(blocks) - 1
        existing = blocks[index[header]][1]
        for child in children:
            if child.strip().startswith("no "):  # 'no <line>' inside a block removes that line
                existing[:] = [e for e in existing if e.strip() != child.strip()[3:]]
                continue
            key = _repoint_key(child)
            if key is not None:
                existing[:] = [e for e in existing if _repoint_key(e) != key]
            if child.strip() not in {e.strip() for e in existing}:
                existing.append(child)
    return render_blocks(blocks)


@dataclass
class FakeDevice:
    """One emulated device's state, shared by every session to it (thread-safe)."""

    name: str
    config: str
    username: str = "netops"
    password: str = "fake-pass-Secr3t!"
    revert_timer: bool = True
    latency: float = 0.0
    mangle: Callable[[str], str] | None = None
    faults: dict[str, list[Exception]] = field(default_factory=dict)
    apply_before_fault: set[str] = field(default_factory=set)  # steps whose fault strikes after the change landed
    calls: list[str] = field(default_factory=list)
    commits: int = 0
    pending: str | None = None  # config before an unconfirmed timed commit
    previous: list[str] = field(default_factory=list)  # configs before each commit (rollback targets)
    on_call: Callable[[str], None] | None = None
    show: Callable[[str], str] | None = None  # what an operational command prints (``cli()``)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.config = render_blocks(parse_blocks(self.config))

    def fail(self, step: str, exc: Exception, times: int = 1, after_apply: bool = False) -> None:
        """Make the next ``times`` calls of ``step`` raise ``exc`` (``after_apply``: commit applies first)."""
        self.faults.setdefault(step, []).extend([exc] * times)
        if after_apply:
            self.apply_before_fault.add(step)

    def step(self, name: str) -> Exception | None:
        """Record a call, sleep the latency, and return the fault to raise for it (if any)."""
        if self.latency:
            time.sleep(self.latency)
        with self.lock:
            self.calls.append(name)
            queue = self.faults.get(name)
            exc = queue.pop(0) if queue else None
        if self.on_call is not None:
            self.on_call(name)
        return exc

    def cli(self, commands: list[str]) -> dict[str, str]:
        """napalm ``cli()``: each command's output from :attr:`show` (the latency is the session's query)."""
        if self.show is None:
            raise PushError(f"{self.name}: no operational commands on this fake device")
        return {c: self.show(c) for c in commands}

    def revert_pending(self) -> None:
        """The revert timer fires: back to the config before the unconfirmed commit."""
        with self.lock:
            if self.pending is not None:
                self.config = self.pending
                self.pending = None


class FakeSession(Session):
    """A :class:`Session` to a :class:`FakeDevice`."""

    def __init__(self, device: Device, creds: Credentials, opts: ConnectOptions, fake: FakeDevice) -> None:
        super().__init__(device, creds, opts)
        self.fake = fake
        self.candidate: str | None = None
        self.is_open = False

    def _do(self, step: str) -> None:
        exc = self.fake.step(step)
        if exc is not None:
            raise exc

    def open(self) -> None:
        self._do("open")
        if (self.creds.username, self.creds.password) != (self.fake.username, self.fake.password):
            raise ConnectionError_(
                f"{self.device.name}: connect failed: authentication failed for user '{self.creds.username}'"
            )
        self.is_open = True

    def close(self) -> None:
        self.is_open = False
        self.candidate = None
        self.fake.revert_pending()  # an unconfirmed timed commit: the timer fires

    def _need_open(self) -> None:
        if not self.is_open:
            raise ConnectionError_(f"{self.device.name}: the session is not open")

    def query(self, step: str, fn: Callable[[Any], T]) -> T:
        """``fn(fake device)``: the fake is its own native handle (``cli()``)."""
        self._need_open()
        self._do("query")
        return fn(self.fake)

    def get_running(self) -> str:
        self._need_open()
        self._do("get_running")
        with self.fake.lock:
            return self.fake.config

    def load_candidate(self, text: str) -> None:
        self._need_open()
        self._do("load")
        for line in text.splitlines():
            if "REJECT-ME" in line:
                raise PushError(f"{self.device.name}: load merge candidate failed: % Invalid input: {line.strip()}")
        self.candidate = text

    def diff(self) -> str:
        self._need_open()
        self._do("diff")
        if self.candidate is None:
            return ""
        with self.fake.lock:
            old = self.fake.config
        return _diff(old, _strip_comments(self.candidate))

    def discard(self) -> None:
        self._need_open()
        self._do("discard")
        self.candidate = None

    def commit(self, revert_seconds: int | None) -> None:
        self._need_open()
        fake = self.fake
        exc = fake.step("commit")
        if exc is not None and "commit" not in fake.apply_before_fault:
            raise exc
        if self.candidate is None:
            raise PushError(f"{self.device.name}: commit failed: nothing loaded")
        with fake.lock:
            fake.previous.append(fake.config)
            new = merge(fake.config, self.candidate)
            fake.config = fake.mangle(new) if fake.mangle else new
            fake.commits += 1
            fake.pending = fake.previous[-1] if (revert_seconds and fake.revert_timer) else None
        self.candidate = None
        if exc is not None:  # the change landed, then the connection dropped
            self.is_open = False
            raise exc

    def confirm(self) -> None:
        self._need_open()
        self._do("confirm")
        with self.fake.lock:
            self.fake.pending = None

    def rollback(self) -> None:
        self._need_open()
        self._do("rollback")
        with self.fake.lock:
            if self.fake.previous:
                self.fake.config = self.fake.previous.pop()
            self.fake.pending = None
