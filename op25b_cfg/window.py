"""The change-window guard: ``op25b push --commit --window SPEC`` refuses to change devices outside the window.

Syntax (case-insensitive)::

    SPEC   := WINDOW ( ";" WINDOW )*
    WINDOW := [DAYS] HH:MM-HH:MM ZONE
    DAYS   := daily | DAY ( "," DAY | "-" DAY )*        e.g. Sat  |  Sat,Sun  |  Mon-Fri  |  Mon-Wed,Fri
    DAY    := Mon | Tue | Wed | Thu | Fri | Sat | Sun   (full names accepted)
    ZONE   := an IANA time zone (Asia/Tokyo, Europe/Berlin, UTC)

Examples: ``"Sat 01:00-05:00 Asia/Tokyo"``, ``"Mon-Fri 23:00-02:00 UTC"`` (an end at or before the start
means the window runs past midnight into the next day: it *opens* on the days listed), ``"daily
02:00-04:00 Europe/Berlin; Sun 00:00-06:00 Europe/Berlin"``. Days omitted means daily. The zone is required:
an implicit local zone is how a change window is silently missed. ``24:00`` is accepted as an end time.
Times are wall-clock times in the zone, so the window follows daylight-saving changes.

The window is checked when the run starts, and again before each device starts: devices not yet started when
the window closes are skipped (never half-applied), in-flight ones finish. ``--force`` overrides.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from op25b_cfg.errors import Op25bError

log = logging.getLogger(__name__)

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WINDOW = re.compile(
    r"^\s*(?:(?P<days>[A-Za-z,\-\s]+?)\s+)?(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s+(?P<tz>\S+)\s*$"
)
SYNTAX = "[DAYS] HH:MM-HH:MM ZONE, e.g. 'Sat 01:00-05:00 Asia/Tokyo' or 'Mon-Fri 23:00-02:00 UTC'"


class ChangeWindowError(Op25bError):
    """The window spec is invalid, or a change was refused because now is outside the window."""


def _day(text: str, spec: str) -> int:
    t = text.strip().lower()
    if t in _DAYS:
        return _DAYS.index(t)
    if t in _FULL:
        return _FULL.index(t)
    raise ChangeWindowError(
        f"--window {spec!r}: {text.strip()!r} is not a day. Fix: use Mon Tue Wed Thu Fri Sat Sun (or daily)"
    )


def _parse_days(text: str | None, spec: str) -> frozenset[int]:
    if text is None or text.strip().lower() in ("daily", "every day", "*"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            a, _, b = part.partition("-")
            lo, hi = _day(a, spec), _day(b, spec)
            d = lo
            while True:
                days.add(d)
                if d == hi:
                    break
                d = (d + 1) % 7
        else:
            days.add(_day(part, spec))
    if not days:
        raise ChangeWindowError(f"--window {spec!r}: no day given. Fix: write {SYNTAX}")
    return frozenset(days)


def _minutes(text: str, spec: str, allow_24: bool) -> int:
    h, _, m = text.partition(":")
    hh, mm = int(h), int(m)
    if mm > 59 or hh > 24 or (hh == 24 and (mm or not allow_24)):
        raise ChangeWindowError(f"--window {spec!r}: {text!r} is not a time of day. Fix: use HH:MM, 00:00-23:59")
    return hh * 60 + mm


@dataclass(frozen=True)
class Window:
    """One recurring window: opens at ``start`` (minutes after local midnight) on each of ``days``
    (0 = Monday) and lasts until ``end`` (the next day when ``end <= start``)."""

    days: frozenset[int]
    start: int
    end: int
    zone: ZoneInfo
    text: str

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def contains(self, when: datetime) -> bool:
        """True when the aware datetime ``when`` lies inside the window."""
        local = when.astimezone(self.zone)
        minute = local.hour * 60 + local.minute + local.second / 60
        wd = local.weekday()
        if not self.crosses_midnight:
            return wd in self.days and self.start <= minute < self.end
        return (wd in self.days and minute >= self.start) or ((wd - 1) % 7 in self.days and minute < self.end)

    def next_open(self, when: datetime) -> datetime:
        """The next time the window opens after ``when`` (in the window's zone)."""
        local = when.astimezone(self.zone)
        for i in range(0, 9):
            day = local.date() + timedelta(days=i)
            if day.weekday() in self.days:
                opens = datetime.combine(day, datetime.min.time(), self.zone).replace(
                    hour=self.start // 60, minute=self.start % 60
                )
                if opens > local:
                    return opens
        raise AssertionError("a window with at least one day opens within 8 days")  # pragma: no cover

    def closes(self, when: datetime) -> datetime | None:
        """When the window that contains ``when`` closes (None when ``when`` is outside)."""
        if not self.contains(when):
            return None
        local = when.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        day = local.date()
        if self.crosses_midnight and minute >= self.start:
            day += timedelta(days=1)
        end = self.end
        if end == 24 * 60:
            day, end = day + timedelta(days=1), 0
        return datetime.combine(day, datetime.min.time(), self.zone).replace(hour=end // 60, minute=end % 60)


@dataclass(frozen=True)
class ChangeWindow:
    """One or more :class:`Window` s (``;``-separated in the spec); inside any of them is inside."""

    windows: tuple[Window, ...]
    spec: str

    def contains(self, when: datetime) -> bool:
        return any(w.contains(when) for w in self.windows)

    def next_open(self, when: datetime) -> datetime:
        return min((w.next_open(when) for w in self.windows), key=lambda d: d.astimezone(UTC))

    def closes(self, when: datetime) -> datetime | None:
        ends = [c for w in self.windows if (c := w.closes(when)) is not None]
        return max(ends, key=lambda d: d.astimezone(UTC)) if ends else None

    def __str__(self) -> str:
        return self.spec


_IMPLICIT_ZONES = frozenset({"localtime", "Factory", "posixrules"})


def _zone(name: str, spec: str) -> ZoneInfo:
    """The IANA zone ``name``; ``localtime`` (whatever this machine is set to), ``Factory`` (no zone) and the
    ``posix/`` and ``right/`` copies are refused: a change window must name its zone.

    >>> _zone("Asia/Tokyo", "x").key
    'Asia/Tokyo'
    >>> _zone("localtime", "Sat 01:00-05:00 localtime")
    Traceback (most recent call last):
    ...
    op25b_cfg.window.ChangeWindowError: --window 'Sat 01:00-05:00 localtime': 'localtime' is not an explicit ...
    """
    if name in _IMPLICIT_ZONES or name.startswith(("posix/", "right/")):
        raise ChangeWindowError(
            f"--window {spec!r}: {name!r} is not an explicit time zone (it depends on this machine's setup)."
            " Fix: name the zone, e.g. Asia/Tokyo or UTC"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ChangeWindowError(
            f"--window {spec!r}: unknown time zone {name!r}. Fix: use an IANA name such as Asia/Tokyo or UTC"
        ) from None


def parse_window(spec: str) -> ChangeWindow:
    """Parse a ``--window`` spec (see the module doc); :class:`ChangeWindowError` naming the fix otherwise.

    >>> w = parse_window("Sat 01:00-05:00 Asia/Tokyo")
    >>> w.contains(datetime(2024, 6, 1, 2, 0, tzinfo=ZoneInfo("Asia/Tokyo")))   # a Saturday
    True
    >>> w.contains(datetime(2024, 6, 1, 20, 0, tzinfo=UTC))   # Sunday 05:00 in Tokyo: closed
    False
    """
    if not spec or not spec.strip():
        raise ChangeWindowError(f"--window is empty. Fix: write {SYNTAX}")
    windows = []
    for part in spec.split(";"):
        if not part.strip():
            continue
        m = _WINDOW.match(part)
        if not m:
            raise ChangeWindowError(f"--window {spec!r}: {part.strip()!r} is not understood. Fix: write {SYNTAX}")
        zone = _zone(m["tz"], spec)
        start = _minutes(m["start"], spec, allow_24=False)
        end = _minutes(m["end"], spec, allow_24=True)
        if start == end:
            raise ChangeWindowError(f"--window {spec!r}: the window {part.strip()!r} is empty (start = end)")
        windows.append(Window(_parse_days(m["days"], spec), start, end, zone, part.strip()))
    if not windows:
        raise ChangeWindowError(f"--window is empty. Fix: write {SYNTAX}")
    return ChangeWindow(tuple(windows), spec.strip())


def check_window(window: ChangeWindow | None, force: bool, now: datetime | None = None) -> str:
    """Refuse a change outside ``window`` unless ``force``. Returns a one-line status for the user.

    Raises :class:`ChangeWindowError` (naming when the window next opens) when outside and not forced.
    """
    if window is None:
        return "no change window given"
    now = now or datetime.now(UTC)
    if window.contains(now):
        closes = window.closes(now)
        return f"inside change window '{window}' (closes {closes:%a %Y-%m-%d %H:%M %Z})" if closes else "inside"
    nxt = window.next_open(now)
    if force:
        log.info("outside change window %s; --force given, proceeding", window)
        return f"OUTSIDE change window '{window}' (--force given; next opens {nxt:%a %Y-%m-%d %H:%M %Z})"
    raise ChangeWindowError(
        f"now ({now.astimezone(nxt.tzinfo):%a %Y-%m-%d %H:%M %Z}) is outside the change window '{window}';"
        f" nothing was changed. Fix: run again when it opens ({nxt:%a %Y-%m-%d %H:%M %Z}), or pass --force"
    )
