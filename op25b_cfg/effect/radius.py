"""Who had an address when: subscriber sessions from FreeRADIUS ``detail`` accounting files.

A ``detail`` file holds one accounting request per record: a line with the time it was written
(``Fri Dec 15 18:00:24 2000``), then one ``Attribute = value`` line per attribute (indented), then a blank
line. The reader uses, per record:

* ``Acct-Status-Type``: ``Start``, ``Interim-Update`` (``Alive``) or ``Stop``; other types are skipped;
* ``Acct-Session-Id`` (the session), ``User-Name`` (the subscriber), ``NAS-IP-Address`` / ``NAS-Identifier``
  (with the session id, the key of a session);
* ``Framed-IP-Address``, ``Framed-IPv6-Prefix`` and ``Delegated-IPv6-Prefix`` (the addresses the session holds);
* the time of the event: ``Event-Timestamp``, else ``Timestamp`` (what FreeRADIUS adds, Unix seconds), else the
  record's first line (read as UTC), less ``Acct-Delay-Time``;
* ``Acct-Session-Time``: an Interim-Update or Stop without a Start seen gives the session's start.

A session holds its addresses from its start until its Stop (open ended without one). :meth:`Sessions.lookup`
answers "who held this address at this time", so a log line is mapped to the subscriber who had the address
when the line was written, not to whoever holds it now. A record that cannot be read is counted in
:attr:`Sessions.malformed` (with the file and line), never an error.
"""

from __future__ import annotations

import bisect
import calendar
import ipaddress
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from op25b_cfg.errors import Op25bError

log = logging.getLogger(__name__)

_ATTR = re.compile(r"\s+([A-Za-z0-9][A-Za-z0-9-]*)\s*=\s*(.*?)\s*$")
_STATUS = {"start": "start", "interim-update": "interim", "alive": "interim", "stop": "stop"}
_ADDRESS_ATTRS = ("Framed-IP-Address", "Framed-IPv6-Prefix", "Delegated-IPv6-Prefix")
_EVENT_TS = ("%b %d %Y %H:%M:%S %Z", "%b %d %Y %H:%M:%S")
OPEN_END = float("inf")


class RadiusError(Op25bError):
    """A RADIUS accounting file cannot be read at all (missing, a directory, unreadable)."""


@dataclass(frozen=True, slots=True)
class Session:
    """One subscriber session: who, which session, and when it held its addresses (Unix seconds, ``end``
    :data:`OPEN_END` while no Stop was seen)."""

    user: str
    session_id: str
    start: float
    end: float


@dataclass
class _Building:
    user: str = ""
    start: float | None = None
    end: float | None = None
    seen: float = 0.0
    networks: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = field(default_factory=set)


def _unquote(value: str) -> str:
    """``"alice"`` -> ``alice`` (detail files quote strings)."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _event_time(attrs: dict[str, str], header: str) -> float | None:
    """The time of the accounting event, Unix seconds; None when the record gives none."""
    raw = attrs.get("Event-Timestamp")
    if raw is not None:
        raw = _unquote(raw)
        if raw.isdigit():
            return float(raw)
        for fmt in _EVENT_TS:
            try:
                return float(calendar.timegm(time.strptime(" ".join(raw.split()), fmt)))
            except ValueError:
                continue
    raw = attrs.get("Timestamp")
    if raw is not None and _unquote(raw).isdigit():
        return float(_unquote(raw)) - _delay(attrs)
    try:
        return float(calendar.timegm(time.strptime(" ".join(header.split()), "%a %b %d %H:%M:%S %Y"))) - _delay(attrs)
    except ValueError:
        return None


def _delay(attrs: dict[str, str]) -> float:
    raw = _unquote(attrs.get("Acct-Delay-Time", "0"))
    return float(raw) if raw.isdigit() else 0.0


def _networks(attrs: dict[str, str]) -> set[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The addresses a record assigns (Framed-IP-Address as a /32). Raises ValueError for a bad one."""
    nets: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
    for name in _ADDRESS_ATTRS:
        raw = attrs.get(name)
        if raw is not None:
            nets.add(ipaddress.ip_network(_unquote(raw), strict=False))
    return nets


class Sessions:
    """Address-to-subscriber mapping over time, built from accounting records (:meth:`read`)."""

    def __init__(self) -> None:
        self._building: dict[tuple[str, str], _Building] = {}
        self._index: dict[tuple[int, int], list[tuple[float, float, Session]]] | None = None
        self._lengths: dict[int, list[int]] = {}
        self.records = 0
        self.malformed: list[tuple[str, int, str]] = []
        """(file, line, reason) of each record that could not be used."""

    # ------------------------------------------------------------------ reading

    def read(self, path: Path) -> None:
        """Add the records of one ``detail`` file. Raises RadiusError when the file cannot be opened."""
        try:
            with path.open(encoding="utf-8", errors="replace") as fh:
                self.read_stream(fh, str(path))
        except (OSError, UnicodeError) as exc:
            raise RadiusError(
                f"{path}: cannot read the RADIUS accounting file: {exc.strerror if isinstance(exc, OSError) else exc}."
                " Fix: give a FreeRADIUS detail file (radacct/<nas>/detail-YYYYMMDD)"
            ) from exc

    def read_stream(self, fh: IO[str], name: str) -> None:
        """Add the records of an open ``detail`` stream (``name`` for messages)."""
        header, first = "", 0
        attrs: dict[str, str] = {}
        for number, line in enumerate(fh, 1):
            if not line.strip():
                if header or attrs:
                    self._record(header, attrs, name, first)
                header, attrs = "", {}
                continue
            if not line[0].isspace() and not header and not attrs:
                header, first = line.strip(), number
                continue
            m = _ATTR.match(line)
            if m is None:
                self.malformed.append((name, number, "not an 'Attribute = value' line"))
                continue
            attrs[m.group(1)] = m.group(2)
            if not first:
                first = number
        if header or attrs:
            self._record(header, attrs, name, first)

    def _record(self, header: str, attrs: dict[str, str], name: str, line: int) -> None:
        self.records += 1
        if not attrs:
            self.malformed.append((name, line, "a record without attributes"))
            return
        status = _STATUS.get(_unquote(attrs.get("Acct-Status-Type", "")).lower())
        if status is None:
            return  # Accounting-On/Off and the like: no session
        session_id = _unquote(attrs.get("Acct-Session-Id", ""))
        when = _event_time(attrs, header)
        if not session_id or when is None:
            self.malformed.append((name, line, "no Acct-Session-Id" if not session_id else "no time"))
            return
        try:
            nets = _networks(attrs)
        except ValueError as exc:
            self.malformed.append((name, line, f"bad address: {exc}"))
            return
        nas = _unquote(attrs.get("NAS-IP-Address", attrs.get("NAS-Identifier", "")))
        b = self._building.setdefault((nas, session_id), _Building())
        b.user = _unquote(attrs.get("User-Name", "")) or b.user
        b.networks |= nets
        b.seen = max(b.seen, when)
        raw_duration = _unquote(attrs.get("Acct-Session-Time", ""))
        if status == "start":
            b.start = when if b.start is None else min(b.start, when)
        elif raw_duration.isdigit():
            began = when - int(raw_duration)
            b.start = began if b.start is None else min(b.start, began)
        if status == "stop":
            b.end = when
        elif b.start is None:
            b.start = when  # an Interim-Update without a duration: known to hold the address from now on
        self._index = None

    # ------------------------------------------------------------------ lookup

    def _build_index(self) -> dict[tuple[int, int], list[tuple[float, float, Session]]]:
        index: dict[tuple[int, int], list[tuple[float, float, Session]]] = {}
        lengths: dict[int, set[int]] = {4: set(), 6: set()}
        for (_nas, sid), b in self._building.items():
            start = b.start if b.start is not None else b.seen
            session = Session(b.user, sid, start, b.end if b.end is not None else OPEN_END)
            for net in b.networks:
                lengths[net.version].add(net.prefixlen)
                # an address is keyed (family, address); a prefix (family * 1000 + length, network)
                exact = net.prefixlen == net.max_prefixlen
                key = (net.version if exact else net.version * 1000 + net.prefixlen, int(net.network_address))
                index.setdefault(key, []).append((session.start, session.end, session))
        for entries in index.values():
            entries.sort(key=lambda e: (e[0], e[1]))
        self._lengths = {fam: sorted(lens, reverse=True) for fam, lens in lengths.items()}
        self._index = index
        return index

    def lookup(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address, when: float | None) -> Session | None:
        """The session that held ``address`` at ``when`` (Unix seconds): the exact address first, then the
        longest prefix holding it. None when no session did, or when ``when`` is unknown and the address was
        held by more than one session (a guess would blame the wrong subscriber)."""
        index = self._index if self._index is not None else self._build_index()
        value, fam, bits = int(address), address.version, address.max_prefixlen
        for plen in self._lengths.get(fam, ()):
            net = value >> (bits - plen) << (bits - plen)
            key = (fam, net) if plen == bits else (fam * 1000 + plen, net)
            entries = index.get(key)
            if not entries:
                continue
            if when is None:
                owners = {e[2].user for e in entries}
                return entries[0][2] if len(owners) == 1 else None
            # the latest session that started at or before `when` and had not stopped yet
            i = bisect.bisect_right(entries, when, key=lambda e: e[0])
            for start, end, session in reversed(entries[:i]):
                if start <= when < end:
                    return session
        return None

    def __len__(self) -> int:
        return len(self._building)
