"""Top offenders for the abuse desk: who keeps trying direct SMTP, from the log lines OP25B rules write.

:func:`read_logs` reads syslog text (files, ``-`` for stdin, ``.gz`` files) and hands each line to the platform
whose OP25B log marker it holds (:attr:`~op25b_cfg.platforms.base.Platform.log_patterns`, through
:meth:`~op25b_cfg.platforms.base.Platform.parse_log_line`: the vendor formats live in the platform packages,
none here). It counts blocked attempts per source address, summing the packet count the line reports
(``3 packets``; one per line where the format has none), never lines. :func:`rank` groups the counts by pool
and period and keeps the top N of each; with RADIUS accounting (:mod:`op25b_cfg.effect.radius`) each address is
named by the subscriber who held it when the line was written.

Time of a line: the syslog header at its start, read by :func:`line_time`: RFC 5424 / ISO 8601
(``2026-12-07T10:00:00+09:00``), RFC 3164 / journald short (``Dec  7 10:00:00``, read in UTC in the year given,
since the header carries none) or ``dmesg -T`` (``[Mon Dec  7 10:00:00 2026]``). A line without one (plain
``dmesg``) is counted in period ``unknown`` and mapped to a subscriber only when a single one ever held the
address.

Lines are never fatal: a line that holds a platform's marker but not its format is *malformed* (counted, the
first few reported with file and line number), an address that is not an IP address too; every other line is
*unrecognised* (another message) or *other* (a known format for another rule, a permit, another port).
"""

from __future__ import annotations

import calendar
import contextlib
import csv
import gzip
import io
import ipaddress
import json
import re
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from op25b_cfg.errors import Op25bError
from op25b_cfg.platforms.base import LogLineError, Platform

if TYPE_CHECKING:
    from collections.abc import Callable

    from op25b_cfg.effect.radius import Sessions
    from op25b_cfg.netaddr import Network
    from op25b_cfg.platforms.base import LogHit

FORMAT = "op25b.offenders/1"
MALFORMED_SHOWN = 20
NO_POOL = "-"
"""The pool column of an address in none of the policy's pools (or when no inventory is given)."""

_MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}
_HEADER = re.compile(
    r"(?:<\d{1,3}>(?:1 )?)?(?:"
    r"(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)(?:\.\d+)?(?P<tz>Z|[+-]\d\d:?\d\d)?"
    r"|(?P<bsd>[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d)"
    r"|\[(?P<dmesg>[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d \d{4})\])"
)


class LogReadError(Op25bError):
    """A log input cannot be opened or read at all."""


_TIMES: dict[str, float | None] = {}
"""Header text -> time: a log of a million lines has at most one header per second."""


def line_time(line: str, year: int) -> float | None:
    """The Unix time of a syslog line's header, or None when it has none.

    >>> line_time("<189>2026-12-07T10:00:00+09:00 bras1 ...", 2026)
    1796605200.0
    >>> line_time("Dec  7 01:00:00 bras1 kernel: op25b-block: ...", 2026)
    1796605200.0
    >>> line_time("[Mon Dec  7 01:00:00 2026] op25b-block: ...", 2026), line_time("[  12.5] x", 2026)
    (1796605200.0, None)
    """
    m = _HEADER.match(line)
    if m is None:
        return None
    key = m.group(0) if m.group("bsd") is None else f"{year} {m.group('bsd')}"
    if key in _TIMES:
        return _TIMES[key]
    value = _header_time(m, year)
    if len(_TIMES) > 200_000:
        _TIMES.clear()
    _TIMES[key] = value
    return value


def _header_time(m: re.Match[str], year: int) -> float | None:
    try:
        if m.group("iso"):
            t = float(calendar.timegm(time.strptime(m.group("iso").replace(" ", "T"), "%Y-%m-%dT%H:%M:%S")))
            tz = m.group("tz")
            if tz and tz != "Z":
                sign = -1 if tz[0] == "+" else 1
                t += sign * (int(tz[1:3]) * 3600 + int(tz[-2:]) * 60)
            return t
        if m.group("bsd"):
            mon, day, clock = m.group("bsd").split()
            return float(calendar.timegm(time.strptime(f"{year}-{_MONTHS[mon]}-{day} {clock}", "%Y-%m-%d %H:%M:%S")))
        return float(calendar.timegm(time.strptime(" ".join(m.group("dmesg").split()), "%a %b %d %H:%M:%S %Y")))
    except (ValueError, KeyError):
        return None


def period_of(when: float | None, period: str) -> str:
    """The period label of a time: ``all``, a UTC day ``2026-12-07`` or hour ``2026-12-07T10Z``.

    >>> period_of(1796605200.0, "day"), period_of(1796605200.0, "hour"), period_of(None, "hour")
    ('2026-12-07', '2026-12-07T01Z', 'unknown')
    """
    if period == "all":
        return "all"
    if when is None:
        return "unknown"
    return time.strftime("%Y-%m-%d" if period == "day" else "%Y-%m-%dT%HZ", time.gmtime(when))


@dataclass(frozen=True, slots=True)
class Offender:
    """One ranked source address in one pool and period."""

    period: str
    pool: str
    rank: int
    address: str
    attempts: int
    """Blocked packets (the sum of the lines' packet counts)."""
    lines: int
    subscriber: str | None = None
    session_id: str | None = None


@dataclass
class Tally:
    """What reading the logs found. ``counts`` maps (period, address, session key) to [attempts, lines]."""

    period: str = "all"
    lines: int = 0
    counted: int = 0
    other: int = 0
    unrecognised: int = 0
    malformed: int = 0
    untimed: int = 0
    malformed_examples: list[tuple[str, int, str]] = field(default_factory=list)
    counts: dict[tuple[str, str, tuple[str, str] | None], list[int]] = field(default_factory=dict)
    platforms: dict[str, int] = field(default_factory=dict)

    def bad(self, name: str, number: int, reason: str) -> None:
        self.malformed += 1
        if len(self.malformed_examples) < MALFORMED_SHOWN:
            self.malformed_examples.append((name, number, reason))


@contextlib.contextmanager
def _open(name: str) -> Iterator[IO[str]]:
    """The text of one input: a file, a gzip file (``.gz``) or stdin (``-``, left open), undecodable bytes replaced."""
    if name == "-":
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        try:
            yield stdin
        finally:
            stdin.detach()  # stdin itself stays open
        return
    path = Path(name)
    try:
        fh: IO[str] = (  # closed by the `with fh` below
            gzip.open(path, "rt", encoding="utf-8", errors="replace")  # noqa: SIM115
            if path.suffix == ".gz"
            else path.open(encoding="utf-8", errors="replace")
        )
    except OSError as exc:
        raise LogReadError(f"{name}: cannot read the log: {exc.strerror}. Fix: give a readable log file or -") from exc
    with fh:
        yield fh


def read_logs(
    inputs: Sequence[str],
    platforms: Sequence[Platform],
    *,
    period: str = "all",
    year: int | None = None,
    sessions: Sessions | None = None,
) -> Tally:
    """Count the OP25B drops in ``inputs`` (paths, ``-`` for stdin) for the given platforms.

    Raises LogReadError when an input cannot be opened or read; a bad line never raises."""
    tally = Tally(period=period)
    year = year if year is not None else time.gmtime().tm_year
    for name in inputs or ["-"]:
        try:
            with _open(name) as fh:
                _read(fh, name, platforms, tally, year, sessions)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise LogReadError(f"{name}: cannot read the log: {exc}. Fix: give a readable log file or -") from exc
    return tally


def _routes(platforms: Sequence[Platform]) -> list[tuple[str, Platform, Callable[[str], LogHit | None]]]:
    """(marker, platform, reader) for every log pattern: a line goes to the platform whose marker it holds (a
    substring test per marker is several times cheaper than one regex alternation over them). The reader is the
    platform's :meth:`~Platform.parse_log_line`, or, where the platform keeps the base one (which reads the first
    pattern whose marker the line holds), that pattern's own parse: the same answer without a second search for
    the marker."""
    out: list[tuple[str, Platform, Callable[[str], LogHit | None]]] = []
    for plat in platforms:
        default = type(plat).parse_log_line is Platform.parse_log_line
        for pattern in plat.log_patterns:
            out.append((pattern.marker, plat, pattern.parse if default else plat.parse_log_line))
    return out


def _read(
    fh: Iterable[str], name: str, platforms: Sequence[Platform], tally: Tally, year: int, sessions: Sessions | None
) -> None:
    routes = _routes(platforms)
    # per (platform, period, source as printed, subscriber): [attempts, lines, first line number]; the source text
    # is validated and made canonical once per distinct text afterwards, not once per line
    raw: dict[tuple[str, str, str, tuple[str, str] | None], list[int]] = {}
    timed = tally.period != "all" or sessions is not None
    where: _When | None = _When(tally.period, year, sessions) if timed else None
    bad_before = tally.malformed
    other = 0
    number = 0
    for number, line in enumerate(fh, 1):  # number: the line count afterwards
        for marker, plat, reader in routes:  # noqa: B007 - plat, reader: those of the marker found
            if marker in line:
                break
        else:
            continue
        try:
            hit = reader(line)
        except LogLineError as exc:
            tally.bad(name, number, f"{plat.name}: {exc}")
            continue
        if hit is None:
            other += 1
            continue
        key = (plat.name, "all", hit.source, None) if where is None else where.key(plat.name, hit.source, line)
        slot = raw.get(key)
        if slot is None:
            raw[key] = [hit.packets, 1, number]
        else:
            slot[0] += hit.packets
            slot[1] += 1
    counted = 0
    addresses: dict[str, tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, str] | None] = {}
    for (plat_name, label, source, who), (attempts, lines, first) in raw.items():
        if source not in addresses:
            addresses[source] = _address(source)
        known = addresses[source]
        if known is None:
            for _ in range(lines):
                tally.bad(name, first, f"{plat_name}: source {source[:60]!r} is not an IP address")
            continue
        slot = tally.counts.setdefault((label, known[1], who), [0, 0])
        slot[0] += attempts
        slot[1] += lines
        counted += lines
        tally.platforms[plat_name] = tally.platforms.get(plat_name, 0) + lines
    tally.lines += number
    tally.counted += counted
    tally.other += other
    tally.unrecognised += number - counted - other - (tally.malformed - bad_before)
    if where is not None:
        tally.untimed += where.untimed


class _When:
    """The period and subscriber part of a count's key, for runs that need a line's time."""

    def __init__(self, period: str, year: int, sessions: Sessions | None) -> None:
        self.period, self.year, self.sessions = period, year, sessions
        self.labels: dict[float | None, str] = {}
        self.addresses: dict[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None] = {}
        self.untimed = 0

    def key(self, platform: str, source: str, line: str) -> tuple[str, str, str, tuple[str, str] | None]:
        when = line_time(line, self.year)
        if when is None and self.period != "all":
            self.untimed += 1
        label = self.labels.get(when)
        if label is None:
            label = self.labels[when] = period_of(when, self.period)
        who = None
        if self.sessions is not None:
            if source not in self.addresses:
                parsed = _address(source)
                self.addresses[source] = parsed[0] if parsed else None
            addr = self.addresses[source]
            session = self.sessions.lookup(addr, when) if addr is not None else None
            who = (session.user, session.session_id) if session is not None else None
        return platform, label, source, who


def _address(text: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, str] | None:
    """The address and its canonical text (``2001:DB8::A`` and ``2001:0db8:0:0:0:0:0:000a`` are one source)."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return addr, addr.compressed


def pool_of(address: str, pools: Sequence[tuple[str, Sequence[Network]]]) -> str:
    """The first pool (in policy order) holding ``address``, or :data:`NO_POOL`.

    >>> from op25b_cfg.netaddr import parse_prefix
    >>> pools = [("DYN-TOKYO", [parse_prefix("100.64.0.0/16")]), ("DYN-V6", [parse_prefix("2001:db8:8000::/33")])]
    >>> pool_of("100.64.1.10", pools), pool_of("2001:db8:8000:1::10", pools), pool_of("192.0.2.1", pools)
    ('DYN-TOKYO', 'DYN-V6', '-')
    """
    addr = ipaddress.ip_address(address)
    for name, nets in pools:
        if any(addr.version == n.version and addr in n for n in nets):
            return name
    return NO_POOL


def rank(tally: Tally, pools: Sequence[tuple[str, Sequence[Network]]], top: int) -> list[Offender]:
    """The ``top`` source addresses by blocked attempts per (period, pool), most first (ties by address).
    With RADIUS sessions, an address held by two subscribers in one period is two rows."""
    groups: dict[tuple[str, str], list[tuple[int, int, str, tuple[str, str] | None]]] = {}
    pool_cache: dict[str, str] = {}
    for (label, address, who), (attempts, lines) in tally.counts.items():
        pool = pool_cache.get(address)
        if pool is None:
            pool = pool_cache[address] = pool_of(address, pools)
        groups.setdefault((label, pool), []).append((attempts, lines, address, who))
    out: list[Offender] = []
    for (label, pool), rows in sorted(groups.items()):
        rows.sort(key=lambda r: (-r[0], _sort_key(r[2]), r[3] or ("", "")))
        for i, (attempts, lines, address, who) in enumerate(rows[:top], 1):
            out.append(
                Offender(label, pool, i, address, attempts, lines, who[0] if who else None, who[1] if who else None)
            )
    return out


def _sort_key(address: str) -> tuple[int, int]:
    addr = ipaddress.ip_address(address)
    return addr.version, int(addr)


# ---------------------------------------------------------------------- output


def summary(tally: Tally) -> dict[str, Any]:
    """The counts of what was read, for every output format."""
    return {
        "lines": tally.lines,
        "counted": tally.counted,
        "attempts": sum(v[0] for v in tally.counts.values()),
        "other": tally.other,
        "unrecognised": tally.unrecognised,
        "malformed": tally.malformed,
        "untimed": tally.untimed,
        "by_platform": dict(sorted(tally.platforms.items())),
        "malformed_examples": [{"file": f, "line": n, "reason": r} for f, n, r in tally.malformed_examples],
    }


def to_json(tally: Tally, offenders: list[Offender]) -> str:
    return json.dumps(
        {
            "format": FORMAT,
            "period": tally.period,
            "summary": summary(tally),
            "offenders": [asdict(o) for o in offenders],
        },
        indent=2,
    )


CSV_COLUMNS = ("period", "pool", "rank", "address", "attempts", "lines", "subscriber", "session_id")


def to_csv(offenders: list[Offender]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for o in offenders:
        writer.writerow([_csv_safe(str(v) if v is not None else "") for v in (getattr(o, c) for c in CSV_COLUMNS)])
    return buf.getvalue()


def _csv_safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (user names come from RADIUS, i.e. from subscribers).

    >>> _csv_safe("=cmd()"), _csv_safe("alice")
    ("'=cmd()", 'alice')
    """
    risky = value[:1] in ("=", "+", "-", "@") and len(value) > 1 and not _is_number(value)
    return "'" + value if risky else value


def _is_number(value: str) -> bool:
    return value.lstrip("-").isdigit()


def table_rows(offenders: list[Offender]) -> Iterator[tuple[str, ...]]:
    for o in offenders:
        yield (o.period, o.pool, str(o.rank), o.address, o.subscriber or "", str(o.attempts), str(o.lines))


TABLE_COLUMNS = ("period", "pool", "#", "address", "subscriber", "attempts", "lines")
