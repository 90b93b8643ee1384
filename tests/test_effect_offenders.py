"""`op25b effect offenders`: the vendor log formats (tests/platforms/<platform>/log_cases.yaml), counting packets per
source, ranking per pool and period, RADIUS subscriber mapping at the time of the line, and bad input never being
fatal."""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from op25b_cfg.effect.offenders import Tally, _read, line_time, rank, read_logs
from op25b_cfg.effect.radius import Sessions
from op25b_cfg.netaddr import parse_prefix
from op25b_cfg.platforms import PLATFORMS, get_platform
from op25b_cfg.platforms.base import LogLineError
from tests.platform_data import PLATFORM_DATA, contract

ROOT = Path(__file__).resolve().parent.parent
CASES = PLATFORM_DATA
POOLS = [
    ("DYN-TOKYO", [parse_prefix("100.64.0.0/16")]),
    ("DYN-OSAKA", [parse_prefix("100.65.0.0/16")]),
    ("DYN-V6", [parse_prefix("2001:db8:8000::/33")]),
]
ALL = [get_platform(p) for p in PLATFORMS]


def _cases() -> list[Any]:
    out = []
    for path in sorted(CASES.glob("*/log_cases.yaml")):
        for i, case in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))):
            out.append(pytest.param(path.parent.name, case, id=f"{path.parent.name}-{i}"))
    return out


def test_every_platform_has_log_cases() -> None:
    assert {p.parent.name for p in CASES.glob("*/log_cases.yaml")} == set(PLATFORMS)
    assert set(_FORMATS) == set(PLATFORMS)
    for plat in ALL:
        assert plat.log_patterns, plat.name


def test_routeros_log_marker_is_the_rendered_log_prefix() -> None:
    """The RouterOS patterns read the lines of the prefixes op25b renders before each reject (golden block and
    flow-control cases)."""
    golden = CASES / "mikrotik_routeros" / "golden"
    rendered = "".join((golden / c / "expected.rsc").read_text(encoding="utf-8") for c in ("block", "flow_control"))
    prefixes = {line.split("log-prefix=")[1].split()[0] for line in rendered.splitlines() if "log-prefix=" in line}
    assert prefixes == {p.marker.strip() for p in get_platform("mikrotik_routeros").log_patterns}


@pytest.mark.parametrize(("platform", "case"), _cases())
def test_log_case(platform: str, case: dict[str, Any], tmp_path: Path) -> None:
    plat = get_platform(platform)
    expect = case["expect"]
    assert case["source"].startswith(("real:", "format:"))
    if expect == "malformed":
        with pytest.raises(LogLineError):
            plat.parse_log_line(case["line"])
    elif isinstance(expect, dict):
        hit = plat.parse_log_line(case["line"])
        assert hit is not None
        got = {k: getattr(hit, k) for k in expect}
        assert got == {k: (str(v) if k in ("source", "destination") else v) for k, v in expect.items()}
    else:
        assert plat.parse_log_line(case["line"]) is None
    # the same line through the reader that routes among every platform: counted in the right class only
    log = tmp_path / "one.log"
    log.write_text(case["line"] + "\n", encoding="utf-8")
    tally = read_logs([str(log)], ALL)
    classes = {"counted": tally.counted, "other": tally.other, "malformed": tally.malformed, "none": tally.unrecognised}
    want = "counted" if isinstance(expect, dict) else expect
    assert classes == {k: int(k == want) for k in classes}
    if isinstance(expect, dict):
        assert tally.platforms == {platform: 1}
        (((_, address, _), (attempts, lines)),) = tally.counts.items()
        assert (address, attempts, lines) == (
            ipaddress.ip_address(str(expect["source"])).compressed,
            expect["packets"],
            1,
        )


LINES = """\
<190>2026-12-07T10:00:01+09:00 bras1 1: %SEC-6-IPACCESSLOGP: list OP25B-V4-b1a88b08 denied tcp 100.64.1.10(40000) -> 203.0.113.25(25), 3 packets
<190>2026-12-07T10:05:01+09:00 bras1 2: %SEC-6-IPACCESSLOGP: list OP25B-V4-b1a88b08 denied tcp 100.64.1.10(40001) -> 203.0.113.25(25), 2 packets
<190>2026-12-07T10:05:01+09:00 bras1 3: %SEC-6-IPACCESSLOGP: list OP25B-V4-b1a88b08 denied tcp 100.64.1.11(40001) -> 203.0.113.25(25), 1 packet
<190>2026-12-07T10:06:01+09:00 bras1 4: %SEC-6-IPACCESSLOGP: list OP25B-V4-b1a88b08 denied tcp 100.64.1.12(40001) -> 203.0.113.25(25), 1 packet
<190>2026-12-07T10:06:01+09:00 bras1 4: %SEC-6-IPACCESSLOGP: list OP25B-V4-b1a88b08 denied tcp 100.64.1.12(40001) -> 203.0.113.25(25), 1 packet
<190>2026-12-07T10:06:01+09:00 bras1 4: %SEC-6-IPACCESSLOGP: list OP25B-V4-b1a88b08 denied tcp 100.64.1.12(40001) -> 203.0.113.25(25), 1 packet
<190>2026-12-07T11:06:01+09:00 bras1 5: %SEC-6-IPACCESSLOGP: list OP25B-V4-b1a88b08 denied tcp 100.65.3.9(40001) -> 203.0.113.25(25), 1 packet
Dec  7 01:00:00 bras2 kernel: op25b-block: IN=ppp0 OUT=ext0 SRC=2001:0db8:8000:0001:0000:0000:0000:0010 DST=2001:0db8:eeee:0000:0000:0000:0000:0025 LEN=80 TC=0 HOPLIMIT=63 FLOWLBL=0 PROTO=TCP SPT=40000 DPT=25 WINDOW=1 RES=0x00 SYN URGP=0
Dec  7 01:00:00 bras1 6: %IPV6-6-ACCESSLOGP: list OP25B-V6-b1a88b08/40 denied tcp 2001:DB8:8000:1::10(40000) -> 2001:DB8:EEEE::25(25), 4 packets
"""  # noqa: E501


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "op25b_cfg", "effect", "offenders", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_counts_packets_not_lines_per_pool_top_n(tmp_path: Path) -> None:
    log = tmp_path / "bras.log"
    log.write_text(LINES, encoding="utf-8")
    proc = _run(str(log), "-i", "inventory", "--top", "2", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    rows = [(o["pool"], o["rank"], o["address"], o["attempts"], o["lines"]) for o in doc["offenders"]]
    assert rows == [
        ("DYN-OSAKA", 1, "100.65.3.9", 1, 1),
        ("DYN-TOKYO", 1, "100.64.1.10", 5, 2),  # 3 + 2 packets in 2 lines beats 3 lines of 1 packet
        ("DYN-TOKYO", 2, "100.64.1.12", 3, 3),
        ("DYN-V6", 1, "2001:db8:8000:1::10", 5, 2),  # nft full-length and IOS upper-case text: one address
    ]
    assert doc["summary"]["counted"] == 9 and doc["summary"]["attempts"] == 15 and doc["summary"]["malformed"] == 0


def test_period_hour_splits_by_utc_hour(tmp_path: Path) -> None:
    tally = read_logs([_write(tmp_path, LINES)], ALL, period="hour", year=2026)
    got = {(p, a): c[0] for (p, a, _), c in tally.counts.items()}
    assert got[("2026-12-07T01Z", "100.64.1.10")] == 5
    assert got[("2026-12-07T02Z", "100.65.3.9")] == 1
    assert got[("2026-12-07T01Z", "2001:db8:8000:1::10")] == 5
    assert tally.untimed == 0


def _write(tmp_path: Path, text: str, name: str = "x.log") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------------------------------------------- RADIUS

DETAIL = """\
Mon Dec  7 00:00:00 2026
	Acct-Session-Id = "0A0B0001"
	User-Name = "alice@isp.example"
	Acct-Status-Type = Start
	Acct-Authentic = RADIUS
	Service-Type = Framed-User
	Framed-Protocol = PPP
	Framed-IP-Address = 100.64.1.10
	Framed-IPv6-Prefix = 2001:db8:8000:1::/64
	NAS-IP-Address = 192.0.2.1
	NAS-Port-Id = 8
	Acct-Delay-Time = 0
	Timestamp = 1796601600

Mon Dec  7 01:02:00 2026
	Acct-Session-Id = "0A0B0001"
	User-Name = "alice@isp.example"
	Acct-Status-Type = Stop
	Framed-IP-Address = 100.64.1.10
	Acct-Session-Time = 3720
	NAS-IP-Address = 192.0.2.1
	Acct-Delay-Time = 0
	Timestamp = 1796605320

Mon Dec  7 02:05:00 2026
	Acct-Session-Id = "0A0B0002"
	User-Name = "bob@isp.example"
	Acct-Status-Type = Interim-Update
	Framed-IP-Address = 100.64.1.10
	Acct-Session-Time = 300
	NAS-IP-Address = 192.0.2.1
	Acct-Delay-Time = 0
	Timestamp = 1796609100

Mon Dec  7 02:06:00 2026
	Acct-Session-Id = "0A0B0003"
	Acct-Status-Type = Start
	Framed-IP-Address = 100.64.999.1
	Timestamp = 1796609160

this line is garbage
"""
# alice holds 100.64.1.10 (and 2001:db8:8000:1::/64) 00:00-01:02 UTC; bob holds it from 02:00 (interim at 02:05
# with 300 s of session time); nobody holds it 01:02-02:00.

RADIUS_LOG = """\
2026-12-07T00:30:00Z bras1 1: %SEC-6-IPACCESSLOGP: list OP25B-V4-b1a88b08 denied tcp 100.64.1.10(40000) -> 203.0.113.25(25), 3 packets
2026-12-07T01:30:00Z bras1 2: %SEC-6-IPACCESSLOGP: list OP25B-V4-b1a88b08 denied tcp 100.64.1.10(40000) -> 203.0.113.25(25), 2 packets
2026-12-07T02:30:00Z bras1 3: %SEC-6-IPACCESSLOGP: list OP25B-V4-b1a88b08 denied tcp 100.64.1.10(40000) -> 203.0.113.25(25), 7 packets
2026-12-07T00:40:00Z bras1 4: %IPV6-6-ACCESSLOGP: list OP25B-V6-b1a88b08/40 denied tcp 2001:DB8:8000:1::BEEF(40000) -> 2001:DB8:EEEE::25(25), 4 packets
"""  # noqa: E501


def test_radius_maps_address_to_the_subscriber_at_the_time_of_the_line(tmp_path: Path) -> None:
    detail = tmp_path / "detail-20261207"
    detail.write_text(DETAIL, encoding="utf-8")
    sessions = Sessions()
    sessions.read(detail)
    assert len(sessions) == 3 - 1  # the record with a bad address is not a session
    assert [(m[1], m[2].split(":")[0]) for m in sessions.malformed] == [
        (35, "bad address"),
        (41, "a record without attributes"),
    ]
    proc = _run(_write(tmp_path, RADIUS_LOG), "-i", "inventory", "--radius", str(detail), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = {
        (o["address"], o["subscriber"], o["session_id"]): o["attempts"] for o in json.loads(proc.stdout)["offenders"]
    }
    assert rows == {
        ("100.64.1.10", "bob@isp.example", "0A0B0002"): 7,
        ("100.64.1.10", "alice@isp.example", "0A0B0001"): 3,
        ("100.64.1.10", None, None): 2,  # between the sessions: nobody is blamed
        ("2001:db8:8000:1::beef", "alice@isp.example", "0A0B0001"): 4,  # inside alice's Framed-IPv6-Prefix
    }


def test_radius_without_time_names_only_a_sole_holder(tmp_path: Path) -> None:
    detail = tmp_path / "detail"
    detail.write_text(DETAIL, encoding="utf-8")
    sessions = Sessions()
    sessions.read(detail)
    assert sessions.lookup(ipaddress.ip_address("100.64.1.10"), None) is None  # alice, then bob: no guess
    only = sessions.lookup(ipaddress.ip_address("2001:db8:8000:1::1"), None)
    assert only is not None and only.user == "alice@isp.example"


def test_radius_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    proc = _run(_write(tmp_path, RADIUS_LOG), "--radius", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "nope: cannot read the RADIUS accounting file" in proc.stderr and "Fix:" in proc.stderr
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------------------------------- bad input


def test_malformed_lines_are_counted_and_shown_never_fatal(tmp_path: Path) -> None:
    text = LINES + "%SEC-6-IPACCESSLOGP: list OP25B-V4-x denied tcp 100.64.1.10(1 -> 203.0.113.25(25), 1 packet\n"
    text += "%SEC-6-IPACCESSLOGP: list OP25B-V4-x denied tcp 999.64.1.10(1) -> 203.0.113.25(25), 1 packet\n"
    raw = text.encode() + b"\xff\xfe binary \x00 junk\n"
    proc = subprocess.run(
        [sys.executable, "-m", "op25b_cfg", "effect", "offenders", "-"],
        input=raw,
        capture_output=True,
        cwd=ROOT,
        check=False,
    )
    stderr = proc.stderr.decode()
    assert proc.returncode == 0, stderr
    assert "2 malformed" in stderr and "-:10: cisco_ios: not the SEC-6-IPACCESSLOGP format" in stderr
    assert "-:11: cisco_ios: source '999.64.1.10' is not an IP address" in stderr
    assert "100.64.1.10" in proc.stdout.decode()


def test_missing_log_file_exit_2(tmp_path: Path) -> None:
    proc = _run(str(tmp_path / "absent.log"))
    assert proc.returncode == 2 and "absent.log: cannot read the log" in proc.stderr and "Traceback" not in proc.stderr


def test_csv_cells_cannot_be_formulas(tmp_path: Path) -> None:
    detail = tmp_path / "detail"
    detail.write_text(DETAIL.replace('"alice@isp.example"', '"=HYPERLINK(1)"'), encoding="utf-8")
    proc = _run(_write(tmp_path, RADIUS_LOG), "--radius", str(detail), "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert {r["subscriber"] for r in rows} == {"'=HYPERLINK(1)", "bob@isp.example", ""}
    assert rows[0].keys() == {"period", "pool", "rank", "address", "attempts", "lines", "subscriber", "session_id"}


def test_table_output_shows_counts(tmp_path: Path) -> None:
    proc = _run(_write(tmp_path, LINES), "-i", "inventory", "--platform", "cisco_ios")
    assert proc.returncode == 0, proc.stderr
    assert "100.64.1.10" in proc.stdout and "DYN-TOKYO" in proc.stdout
    assert "2001:db8:8000:1::10" in proc.stdout  # the IOS IPv6 line; the nft line is not read with -p cisco_ios
    assert "9 lines" in proc.stderr and "8 OP25B drop lines" in proc.stderr


# ---------------------------------------------------------------------------------------------------- properties


@given(st.lists(st.text(max_size=200), max_size=30))
def test_reader_never_raises_and_classifies_every_line(lines: list[str]) -> None:
    text = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines)
    Sessions().read_stream(io.StringIO(text), "fuzz")  # the RADIUS reader on the same garbage
    t = Tally(period="hour")
    _read(io.StringIO(text), "fuzz", ALL, t, 2026, None)
    assert t.counted + t.other + t.unrecognised + t.malformed == t.lines


_V4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
_V6 = st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n)))
_FORMATS = {p: contract(p)["log_format"] for p in PLATFORMS if contract(p).get("log_format")}
"""Per platform: one logged deny (``log_format`` in tests/platforms/<platform>/contract.yaml)."""


@given(
    st.sampled_from(sorted(_FORMATS)),
    st.lists(st.tuples(_V4 | _V6, _V4, st.integers(0, 65535), st.integers(1, 10**9)), min_size=1, max_size=20),
)
def test_generated_lines_sum_exactly(platform: str, rows: list[tuple[str, str, int, int]]) -> None:
    fmt = _FORMATS[platform]
    text = "".join(fmt.format(s=s, sb=f"[{s}]" if ":" in s else s, d=d, sp=sp, n=n) + "\n" for s, d, sp, n in rows)
    t = Tally(period="all")
    _read(io.StringIO(text), "gen", ALL, t, 2026, None)
    want: dict[str, int] = {}
    for s, _d, _sp, n in rows:
        key = ipaddress.ip_address(s).compressed
        want[key] = want.get(key, 0) + (n if "{n}" in fmt else 1)  # a format without a count: one packet a line
    assert {a: c[0] for (_, a, _), c in t.counts.items()} == want
    ranked = rank(t, POOLS, 1000)
    assert sum(o.attempts for o in ranked) == sum(want.values())


def test_line_time_formats() -> None:
    assert line_time("2026-12-07T10:00:00Z x", 2026) == line_time("Dec  7 10:00:00 x", 2026)
    assert line_time("<13>1 2026-12-07T19:00:00.003+09:00 host app - - x", 2026) == line_time("Dec 07 10:00:00 x", 2026)
    assert line_time("no time here", 2026) is None
    assert line_time("Foo 99 10:00:00 x", 2026) is None


_SESSION = st.tuples(
    st.sampled_from(["100.64.1.1", "100.64.1.2", "2001:db8:8000:1::5"]),
    st.integers(0, 1000),
    st.one_of(st.none(), st.integers(1, 500)),
)


@given(st.lists(_SESSION, max_size=12), st.lists(st.integers(-10, 1600), min_size=1, max_size=20))
def test_radius_lookup_matches_brute_force(sessions: list[tuple[str, int, int | None]], times: list[int]) -> None:
    """Start (and Stop with Acct-Session-Time) records of random sessions: the lookup names the session that held the
    address at each time (the latest started one still open), as a brute-force scan over the sessions does."""
    base = 1_796_601_600
    text = ""
    for i, (addr, start, duration) in enumerate(sessions):
        attr = "Framed-IPv6-Prefix" if ":" in addr else "Framed-IP-Address"
        value = "2001:db8:8000:1::/64" if ":" in addr else addr
        common = f'\tAcct-Session-Id = "s{i}"\n\tUser-Name = "u{i}"\n\t{attr} = {value}\n\tNAS-IP-Address = 192.0.2.1\n'
        text += f"Mon Dec  7 00:00:00 2026\n{common}\tAcct-Status-Type = Start\n\tTimestamp = {base + start}\n\n"
        if duration is not None:
            stop = f"\tAcct-Status-Type = Stop\n\tAcct-Session-Time = {duration}\n"
            stop += f"\tTimestamp = {base + start + duration}\n"
            text += f"Mon Dec  7 00:00:00 2026\n{common}{stop}\n"
    table = Sessions()
    table.read_stream(io.StringIO(text), "gen")
    assert not table.malformed and len(table) == len(sessions)
    for addr in ("100.64.1.1", "100.64.1.2", "2001:db8:8000:1::5"):
        for t in times:
            held = [
                (start, start + duration if duration is not None else 10**9, i)
                for i, (a, start, duration) in enumerate(sessions)
                if a == addr and start <= t < start + (duration if duration is not None else 10**9)
            ]
            want = f"u{max(held)[2]}" if held else None  # the latest start; equal starts: the later end, record
            got = table.lookup(ipaddress.ip_address(addr), float(base + t))
            assert (got.user if got else None) == want, (addr, t)
