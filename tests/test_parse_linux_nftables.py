"""nftables parser: data-driven cases (tests/platforms/linux_nftables/parser_cases/<case>/config + expected.json; a new
folder is a new test; ``--update-golden`` rewrites expected.json), flattening semantics checked packet by
packet, and a lab test that loads our rendered table into nft in a fresh network namespace and parses
``nft list ruleset``."""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from op25b_cfg.audit.model import Filter, ParsedConfig
from op25b_cfg.audit.parsers import parse
from op25b_cfg.rules import ACK, SYN, Action, Rule
from tests.labutil import need_nft
from tests.platform_data import data_dir
from tests.test_parse_juniper_junos import case_dirs, run_case

PLATFORM = "linux_nftables"


@pytest.mark.parametrize("case", case_dirs(PLATFORM), ids=lambda p: p.name)
def test_case(case: Path, update_golden: bool) -> None:
    run_case(PLATFORM, case, update_golden)


def _ifmatch(names: tuple[str, ...], negate: bool, name: str) -> bool:
    if not names:
        return True
    hit = any(name.startswith(n[:-1]) if n.endswith("*") else n == name for n in names)
    return hit != negate


def _matches(r: Rule, src: str, dst: str, dport: int, iif: str, oif: str, flags: int) -> bool:
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if r.family != s.version or (r.protocol is not None and r.protocol != 6):
        return False
    if (r.src and not any(a.matches(int(s)) for a in r.src)) or any(a.matches(int(s)) for a in r.src_except):
        return False
    if (r.dst and not any(a.matches(int(d)) for a in r.dst)) or any(a.matches(int(d)) for a in r.dst_except):
        return False
    if r.dst_ports and not any(dport in p for p in r.dst_ports):
        return False
    if r.src_ports and not any(40000 in p for p in r.src_ports):
        return False
    if r.tcp_flags and not any(flags & m == v for m, v in r.tcp_flags):
        return False
    return _ifmatch(r.iifname, r.iifname_negate, iif) and _ifmatch(r.oifname, r.oifname_negate, oif)


def _run(f: Filter, *pkt: Any) -> Action | None:
    """nftables semantics for one packet: a verdict, or None when the chain returns."""
    for i, r in enumerate(f.rules):
        if not _matches(r, *pkt):
            continue
        call = f.calls.get(i)
        if call is not None:
            if call.target is None:
                return None
            got = _run(call.target, *pkt)
            if got is not None:
                return got
            if call.verdict == "goto":
                return None
            continue
        if r.action in (Action.NEXT, Action.LIMIT):
            continue
        return r.action
    return None


def verdict(f: Filter, src: str, dst: str, dport: int, iif: str, oif: str = "eth0", flags: int = SYN) -> Action:
    """Evaluation of a parsed base chain (calls followed) for one TCP packet (LIMIT and NEXT rules fall
    through; the policy decides what returns)."""
    got = _run(f, src, dst, dport, iif, oif, flags)
    return f.default if got is None else got


def _base(pc: ParsedConfig, name: str) -> Filter:
    return next(f for f in pc.filters.values() if f.name == name)


def test_jump_goto_return_flattening() -> None:
    """Expected verdicts worked out by hand from nftables semantics for the jump_goto_return case."""
    pc = parse(PLATFORM, (data_dir(PLATFORM, "parser_cases") / "jump_goto_return" / "config").read_text())
    base = _base(pc, "inet t forward")
    d, p = Action.DENY, Action.PERMIT
    cases = [
        # (src, dst, dport, iif, expected)
        ("100.64.1.1", "203.0.113.1", 25, "ppp0", d),  # subs: pool -> 25 dropped
        ("100.64.200.1", "203.0.113.1", 25, "ppp0", d),  # subs returns; forward's own port-25 drop applies
        ("100.64.200.1", "203.0.113.1", 587, "ppp0", p),  # subs returned before 587 accept: policy accept
        ("100.64.1.1", "203.0.113.1", 587, "ppp0", p),  # subs accepts 587
        ("100.64.1.1", "192.0.2.25", 25, "eth1", p),  # edge returns for the MTA; goto: forward's rest skipped
        ("100.64.1.1", "203.0.113.1", 25, "eth1", d),  # edge rejects port 25
        ("100.64.1.1", "203.0.113.1", 80, "eth1", p),  # anonymous chain returns before the port-80 drop
        ("198.51.100.1", "203.0.113.1", 25, "eth7", d),  # neither jump: forward drops port 25
        ("2001:db8::1", "2001:db8:1::1", 25, "ppp3", d),  # IPv6 from ppp: forward's drop
    ]
    for src, dst, port, iif, want in cases:
        assert verdict(base, src, dst, port, iif) is want, (src, dst, port, iif)


def test_rendered_flow_control_table() -> None:
    pc = parse(PLATFORM, (data_dir(PLATFORM, "parser_cases") / "generated_flow_control" / "config").read_text())
    assert [(b.kind, b.name, b.direction, b.family, b.filters) for b in pc.bindings] == [
        ("nft-forward", "*", "in", 0, ("inet op25b forward",))
    ]
    assert {(f.family, f.max_sessions, f.new_per_second, f.burst) for f in pc.flow} == {(4, 10, 1, 5), (6, 10, 1, 5)}
    base = _base(pc, "inet op25b forward")
    rules = [r for f in base.reachable() for r in f.rules]
    limits = [r for r in rules if r.action is Action.LIMIT]
    assert [r.limit.ipv6_subscriber_length for r in limits if r.family == 6 and r.limit] == [64]
    assert verdict(base, "100.64.5.5", "192.0.2.25", 25, "ppp9") is Action.PERMIT
    assert verdict(base, "100.64.5.5", "203.0.113.5", 25, "ppp9") is Action.PERMIT  # limited, not blocked
    assert all(r.iifname == ("eth1", "ppp*") for r in base.rules)
    assert pc.unparsed == []


def test_rendered_block_table_blocks() -> None:
    pc = parse(PLATFORM, (data_dir(PLATFORM, "parser_cases") / "generated_block" / "config").read_text())
    base = _base(pc, "inet op25b forward")
    assert verdict(base, "100.65.9.9", "203.0.113.5", 25, "eth2") is Action.DENY
    assert verdict(base, "100.65.9.9", "203.0.113.5", 25, "eth3") is Action.PERMIT  # not attached
    assert verdict(base, "100.65.3.7", "203.0.113.5", 25, "eth2") is Action.PERMIT  # opt-out
    assert verdict(base, "100.65.9.9", "203.0.113.5", 465, "eth2") is Action.PERMIT
    assert verdict(base, "100.65.9.9", "203.0.113.5", 25, "eth2", flags=ACK) is Action.DENY


def test_multiple_forward_chains_each_bound() -> None:
    pc = parse(PLATFORM, (data_dir(PLATFORM, "parser_cases") / "multi_table_forward" / "config").read_text())
    assert [b.filters[0] for b in pc.bindings] == ["ip6 v6only forward", "inet op25b forward", "ip legacy fwd"]
    assert all(b.kind == "nft-forward" and b.name == "*" for b in pc.bindings)
    assert any("every one of them accepts" in n for n in pc.notes)


def test_listed_ruleset_equals_rendered_file() -> None:
    """The captured `nft list ruleset` of our table parses to the same rules as the file we rendered."""
    a = parse(PLATFORM, (data_dir(PLATFORM, "parser_cases") / "generated_flow_control" / "config").read_text())
    b = parse(PLATFORM, (data_dir(PLATFORM, "parser_cases") / "listed_flow_control" / "config").read_text())
    assert _norm(a) == _norm(b)


def _norm(pc: ParsedConfig) -> Any:
    return (
        {
            k: [
                (replace(r, line=None, text="", remark=""), c and (c.verdict, c.target and c.target.name))
                for g in f.reachable()
                for i, r in enumerate(g.rules)
                for c in [g.calls.get(i)]
            ]
            for k, f in pc.filters.items()
        },
        [replace(b, line=None) for b in pc.bindings],
        [(f.family, f.max_sessions, f.new_per_second, f.burst) for f in pc.flow],
    )


def kernel_listing(src: Path) -> str:
    """``nft list ruleset`` after ``nft -f src`` in a new network namespace (removed with its process)."""
    nft = need_nft()
    proc = subprocess.run(
        ["unshare", "-n", "sh", "-c", f'"{nft}" -f "{src}" && "{nft}" list ruleset'],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_live_nft_list_ruleset(tmp_path: Path) -> None:
    """Load our rendered table into nft inside a new network namespace and parse what nft lists back."""
    src = data_dir(PLATFORM, "parser_cases") / "generated_flow_control" / "config"
    listed = parse(PLATFORM, kernel_listing(src))
    assert listed.unparsed == []
    assert _norm(listed) == _norm(parse(PLATFORM, src.read_text()))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "}}}} {{{{",
        "table inet t { chain c { type filter hook forward priority 0; policy drop;\n tcp dport { 25,",
        "table inet t {\n chain c {\n jump c\n }\n chain f { type filter hook forward priority 0;\n jump c\n }\n}",
        "\x00\xff\xfe garbage \\\n$undefined @x",
        'table ip t { chain c { type filter hook forward priority 0; ip saddr "unterminated\n } }',
        "table inet t {\r\n\tchain f {\r\n\t\ttype filter hook forward priority 0; policy accept;\r\n"
        "\t\ttcp dport 25 drop\r\n\t}\r\n}\r\n",
    ],
)
def test_never_raises(text: str) -> None:
    assert isinstance(parse(PLATFORM, text), ParsedConfig)


def test_crlf_and_truncation_reported() -> None:
    pc = parse(
        PLATFORM,
        "table inet t {\r\n\tchain f {\r\n\t\ttype filter hook forward priority 0;\r\n\t\ttcp dport 25 drop\r\n",
    )
    rules = _base(pc, "inet t f").rules
    assert [r.action for r in rules] == [Action.DENY, Action.DENY]
    assert any("not closed" in u.reason for u in pc.unparsed)


def test_jump_loop_is_reported() -> None:
    text = (
        "table inet t {\n chain a {\n jump b\n }\n chain b {\n jump a\n }\n"
        " chain f {\n type filter hook forward priority 0; policy accept;\n jump a\n }\n}\n"
    )
    pc = parse(PLATFORM, text)
    assert any("loop" in u.reason and u.filter == "inet t f" for u in pc.unparsed)


def test_large_ruleset_parses() -> None:
    body = "\n".join(
        f"\t\tip saddr 10.{i // 250 % 250}.{i % 250}.0/24 tcp dport {1 + i % 60000} accept" for i in range(20000)
    )
    text = f"table ip big {{\n\tchain f {{\n\t\ttype filter hook forward priority 0; policy drop;\n{body}\n\t}}\n}}\n"
    pc = parse(PLATFORM, text)
    base = _base(pc, "ip big f")
    assert len(base.rules) == 20000 and base.default is Action.DENY


@pytest.mark.parametrize(
    "case", ["vmaps_and_concatenations", "bitmask_semantics", "notrack_exact", "ct_before_conntrack", "nat_on_path"]
)
def test_listing_of_a_case_parses_as_the_file(case: str) -> None:
    """Load a case into the kernel (fresh network namespace) and parse what ``nft list ruleset`` prints: the
    listing's spelling (vmap and concatenated elements across lines, `|` in bitmask values, reordered vmap
    elements) gives the same rules (compared per chain as multisets: the kernel sorts map elements, whose keys
    are disjoint), bindings and lines not understood as the file."""
    src = data_dir(PLATFORM, "parser_cases") / case / "config"
    listed, written = parse(PLATFORM, kernel_listing(src)), parse(PLATFORM, src.read_text())
    (lf, lb, lflow), (wf, wb, wflow) = _norm(listed), _norm(written)
    assert {k: sorted(map(repr, v)) for k, v in lf.items()} == {k: sorted(map(repr, v)) for k, v in wf.items()}
    assert (lb, lflow) == (wb, wflow)
    assert [u.reason for u in listed.unparsed] == [u.reason for u in written.unparsed]
