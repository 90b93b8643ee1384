"""The change-window guard (op25b_cfg.window)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from op25b_cfg.window import ChangeWindowError, check_window, parse_window

TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")


def at(y: int, mo: int, d: int, h: int, mi: int, tz: ZoneInfo | None = None) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz or UTC)


def test_saturday_tokyo_window() -> None:
    w = parse_window("Sat 01:00-05:00 Asia/Tokyo")
    assert w.contains(at(2024, 6, 1, 1, 0, TOKYO))  # Saturday, opening minute
    assert w.contains(at(2024, 6, 1, 4, 59, TOKYO))
    assert not w.contains(at(2024, 6, 1, 5, 0, TOKYO))  # end is exclusive
    assert not w.contains(at(2024, 6, 2, 2, 0, TOKYO))  # Sunday
    assert w.contains(at(2024, 5, 31, 17, 30))  # Friday 17:30 UTC = Saturday 02:30 JST
    assert w.next_open(at(2024, 6, 1, 6, 0, TOKYO)) == at(2024, 6, 8, 1, 0, TOKYO)
    assert w.closes(at(2024, 6, 1, 2, 0, TOKYO)) == at(2024, 6, 1, 5, 0, TOKYO)


def test_window_past_midnight_opens_on_listed_days() -> None:
    w = parse_window("Mon-Fri 23:00-02:00 UTC")
    assert w.contains(at(2024, 6, 3, 23, 30))  # Monday night
    assert w.contains(at(2024, 6, 4, 1, 0))  # Tuesday early = Monday's window
    assert w.contains(at(2024, 6, 8, 1, 0))  # Saturday early = Friday's window
    assert not w.contains(at(2024, 6, 3, 1, 0))  # Monday early = Sunday's window: not listed
    assert not w.contains(at(2024, 6, 8, 23, 30))  # Saturday night
    assert w.closes(at(2024, 6, 3, 23, 30)) == at(2024, 6, 4, 2, 0)


def test_days_syntax_and_several_windows() -> None:
    w = parse_window("sat,SUNDAY 00:00-24:00 UTC; daily 02:00-03:00 Europe/Berlin")
    assert w.contains(at(2024, 6, 2, 23, 59))  # Sunday
    assert w.contains(at(2024, 6, 4, 0, 30))  # Tuesday 02:30 Berlin (CEST, UTC+2)
    assert not w.contains(at(2024, 6, 4, 2, 30))
    assert parse_window("Fri-Mon 01:00-02:00 UTC").windows[0].days == frozenset({4, 5, 6, 0})
    assert parse_window("01:00-02:00 UTC").windows[0].days == frozenset(range(7))


def test_daylight_saving_follows_wall_clock() -> None:
    w = parse_window("Sun 02:00-04:00 Europe/Berlin")
    # 2024-03-31: clocks jump 02:00 -> 03:00; 03:30 CEST = 01:30 UTC is inside
    assert w.contains(at(2024, 3, 31, 1, 30))
    # 2024-10-27 (back to CET): 03:30 CET = 02:30 UTC inside, 04:30 CET = 03:30 UTC outside
    assert w.contains(at(2024, 10, 27, 2, 30)) and not w.contains(at(2024, 10, 27, 3, 30))


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("Sat 01:00-05:00", "not understood"),
        ("Sat 01:00-05:00 Mars/Olympus", "unknown time zone"),
        ("Caturday 01:00-05:00 UTC", "is not a day"),
        ("Sat 25:00-05:00 UTC", "not a time of day"),
        ("Sat 01:61-05:00 UTC", "not a time of day"),
        ("Sat 03:00-03:00 UTC", "empty"),
        ("   ", "empty"),
        ("Sat 24:00-05:00 UTC", "not a time of day"),
        ("Sat 01:00-05:00 localtime", "not an explicit time zone"),
        ("Sat 01:00-05:00 Factory", "not an explicit time zone"),
        ("Sat 01:00-05:00 posixrules", "not an explicit time zone"),
        ("Sat 01:00-05:00 right/UTC", "not an explicit time zone"),
    ],
)
def test_bad_specs_explain_the_fix(spec: str, needle: str) -> None:
    with pytest.raises(ChangeWindowError) as ei:
        parse_window(spec)
    assert needle in str(ei.value)
    assert "Fix" in str(ei.value) or "empty" in str(ei.value)


def test_check_window_refuses_outside_unless_forced() -> None:
    w = parse_window("Sat 01:00-05:00 Asia/Tokyo")
    inside, outside = at(2024, 6, 1, 2, 0, TOKYO), at(2024, 6, 3, 12, 0, TOKYO)
    assert check_window(w, False, inside).startswith("inside change window")
    with pytest.raises(ChangeWindowError) as ei:
        check_window(w, False, outside)
    msg = str(ei.value)
    assert "outside the change window" in msg and "nothing was changed" in msg
    assert "Sat 2024-06-08 01:00 JST" in msg and "--force" in msg
    assert check_window(w, True, outside).startswith("OUTSIDE change window")
    assert check_window(None, False, outside) == "no change window given"
