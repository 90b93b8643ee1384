"""Fault injection shared by every emulator.

A :class:`Faults` object is handed to an emulator at construction and may be changed by the test at run
time (the emulator reads it on every request). Phases name the point of a push where a fault strikes:

``open``     the session set-up (first command / RPC after login)
``load``     loading the candidate (eos: config lines in a session; junos: load-configuration;
             ios: the SCP upload of the merge file)
``commit``   the (first) commit (eos: ``commit timer``/``commit``; junos: commit-configuration;
             ios: ``copy <file> running-config`` / ``configure replace``)
``confirm``  the confirming commit (eos: session commit while a timer is pending; junos: commit while a
             confirmed commit is pending; ios: ``configure confirm``)
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

PHASES = ("open", "load", "commit", "confirm")


class EmulatorDropped(Exception):
    """Raised inside an emulator to make it drop the client's connection without an answer."""


@dataclass
class Faults:
    """What should go wrong. All fields may be changed while the emulator runs.

    - ``wrong_password``: every login is refused, whatever the credentials.
    - ``drop_on``: phases at which the device closes the connection without answering.
    - ``drop_after_apply``: with ``drop_on``, the device first performs the request (e.g. the commit,
      with its revert timer) and then drops; default: the request is lost before it takes effect.
    - ``hang_on``: phases at which the device stops answering (the client must time out). The
      connection stays open until the emulator stops or ``release()`` is called.
    - ``reject_pattern``: a regular expression; a config line matching it is refused with the
      platform's usual error (eos: invalid input; junos: syntax error; ios: ``% Invalid input``).
    """

    wrong_password: bool = False
    drop_on: set[str] = field(default_factory=set)
    drop_after_apply: bool = False
    hang_on: set[str] = field(default_factory=set)
    reject_pattern: str | None = None
    _release: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        bad = (set(self.drop_on) | set(self.hang_on)) - set(PHASES)
        if bad:
            raise ValueError(f"unknown fault phase(s) {sorted(bad)}; use {PHASES}")

    def rejects(self, line: str) -> bool:
        """True when ``line`` must be refused by the device."""
        return bool(self.reject_pattern) and re.search(self.reject_pattern or "", line) is not None

    def release(self) -> None:
        """Let hung requests return (they then drop the connection) and stop hanging."""
        self.hang_on.clear()
        self._release.set()

    def wait_hang(self, stop: threading.Event) -> None:
        """Block a request that must hang until the emulator stops or :meth:`release` is called."""
        while not stop.is_set() and not self._release.is_set():
            stop.wait(0.05)

    def strike(self, phase: str, stop: threading.Event, applied: bool) -> None:
        """Apply the faults of ``phase``: hang, or raise :class:`EmulatorDropped`.

        Called twice per request: with ``applied=False`` before the device acts and ``applied=True``
        after; a drop happens at the point chosen by ``drop_after_apply``.
        """
        if not applied and phase in self.hang_on:
            self.wait_hang(stop)
            raise EmulatorDropped(phase)
        if phase in self.drop_on and applied == self.drop_after_apply:
            raise EmulatorDropped(phase)
