"""The BDD header space: set algebra against brute force over small address/port spaces."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from op25b_cfg.audit.space import DPORT, DST, SRC, HeaderSpace, Point, flags_text, port_prefixes, space
from op25b_cfg.netaddr import parse_prefix
from op25b_cfg.rules import ACK, ESTABLISHED, RST, SYN, TCP, Action, AddrMatch, PortRange, Rule

BASE4 = 0x0A000000  # 10.0.0.0: the tests vary only the low 4 bits of the address
LOW = 4
SRCS = [BASE4 + i for i in range(1 << LOW)]
PORTS = list(range(16, 40))


def _pt(src: int, dport: int, *, dst: int = 0xC0000201, proto: int = TCP, flags: int = SYN) -> Point:
    return Point(4, src, dst, proto, 40000, dport, flags)


# a pattern: the high 28 bits fixed to 10.0.0.0/28, any (possibly non-contiguous) mask on the low 4 bits
def _pattern(v: int, m: int) -> AddrMatch:
    return AddrMatch(4, BASE4 | (v & m), 0xFFFFFFF0 | m)


patterns = st.builds(
    _pattern,
    st.integers(0, 15),
    st.integers(0, 15),
)
ranges = st.builds(lambda lo, n: PortRange(lo, min(39, lo + n)), st.integers(16, 39), st.integers(0, 10))
box = st.tuples(st.lists(patterns, max_size=3), st.lists(patterns, max_size=2), st.lists(ranges, max_size=2))


def _in_box(b: tuple[list[AddrMatch], list[AddrMatch], list[PortRange]], src: int, port: int) -> bool:
    """Brute-force membership inside the small universe (10.0.0.0/28, ports 16-39)."""
    src_ok = (not b[0] or any(m.matches(src) for m in b[0])) and not any(m.matches(src) for m in b[1])
    return src_ok and (not b[2] or any(port in r for r in b[2]))


def _node(hs: HeaderSpace, b: tuple[list[AddrMatch], list[AddrMatch], list[PortRange]]) -> object:
    universe = hs.box(protocol=TCP, src=[AddrMatch(4, BASE4, 0xFFFFFFF0)], dst_ports=[PortRange(16, 39)])
    return universe & hs.box(protocol=TCP, src=b[0], src_except=b[1], dst_ports=b[2])


@settings(max_examples=40, deadline=None)
@given(st.lists(box, min_size=1, max_size=3), st.lists(box, min_size=1, max_size=3))
def test_union_intersection_difference_match_brute_force(a: list, b: list) -> None:  # type: ignore[type-arg]
    hs = space(4)
    na = hs.union(_node(hs, x) for x in a)
    nb = hs.union(_node(hs, x) for x in b)
    for op, want in (
        (na & nb, lambda s, p: any(_in_box(x, s, p) for x in a) and any(_in_box(x, s, p) for x in b)),
        (na & ~nb, lambda s, p: any(_in_box(x, s, p) for x in a) and not any(_in_box(x, s, p) for x in b)),
        (na | nb, lambda s, p: any(_in_box(x, s, p) for x in a) or any(_in_box(x, s, p) for x in b)),
    ):
        expected = {(s, p) for s, p in itertools.product(SRCS, PORTS) if want(s, p)}
        got = {(s, p) for s, p in itertools.product(SRCS, PORTS) if hs.contains(op, _pt(s, p))}
        assert got == expected
        # outside the small universe nothing is ever in these sets
        assert not hs.contains(op, _pt(0x0B000001, 25))
        assert not hs.contains(op, _pt(BASE4, 40))
        assert hs.is_empty(op) == (not expected)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 65535), st.integers(0, 65535))
def test_port_prefixes_cover_exactly_the_range(a: int, b: int) -> None:
    lo, hi = min(a, b), max(a, b)
    parts = port_prefixes(lo, hi)
    total = sum(((~m) & 0xFFFF) + 1 for _, m in parts)
    assert total == hi - lo + 1
    for v, m in parts:
        assert v & ~m & 0xFFFF == 0
        assert lo <= v and (v | (~m & 0xFFFF)) <= hi
    assert len(parts) <= 30


def test_non_contiguous_wildcard_mask() -> None:
    hs = space(4)
    # 10.0.0.1 0.255.255.0: every 10.x.y.1
    node = hs.addrs(SRC, [AddrMatch(4, 0x0A000001, 0xFF0000FF)])
    assert hs.contains(node & hs.value(DPORT, 25), _pt(0x0A123401, 25))
    assert hs.contains(node & hs.value(DPORT, 25), _pt(0x0AFFFF01, 25))
    assert not hs.contains(node, _pt(0x0A123402, 25))
    assert not hs.contains(node, _pt(0x0B000001, 25))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_random_wildcard_masks_match_like_addrmatch(value: int, mask: int, addr: int) -> None:
    hs = space(4)
    m = AddrMatch(4, value & mask, mask)
    node = hs.addrs(DST, [m])
    assert hs.contains(node, _pt(BASE4, 25, dst=addr)) == m.matches(addr)
    assert hs.contains(node, _pt(BASE4, 25, dst=value & mask))


def test_rule_sets_ipv6_except_and_flags() -> None:
    hs = space(6)
    pool = AddrMatch.from_prefix(parse_prefix("2001:db8:8000::/33"))
    hole = AddrMatch.from_prefix(parse_prefix("2001:db8:8000:4711::/64"))
    rule = Rule(Action.PERMIT, 6, TCP, src=(pool,), src_except=(hole,), dst_ports=(PortRange(25, 25),))
    node = hs.rule(rule)
    inside = int(parse_prefix("2001:db8:8000:1::/64").network_address) + 5
    exempt = int(hole.value) + 5
    assert hs.contains(node, Point(6, inside, 1, TCP, 1, 25, SYN))
    assert not hs.contains(node, Point(6, exempt, 1, TCP, 1, 25, SYN))
    assert not hs.contains(node, Point(6, inside, 1, TCP, 1, 26, SYN))
    est = hs.rule(Rule(Action.PERMIT, 6, TCP, tcp_flags=ESTABLISHED))
    assert hs.contains(est, Point(6, inside, 1, TCP, 1, 25, ACK))
    assert hs.contains(est, Point(6, inside, 1, TCP, 1, 25, RST))
    assert not hs.contains(est, Point(6, inside, 1, TCP, 1, 25, SYN))
    # a rule of the other family selects nothing here
    assert hs.is_empty(hs.rule(Rule(Action.PERMIT, 4, None)))


def test_pick_prefers_given_values_and_decodes_fields() -> None:
    hs = space(4)
    node = hs.box(
        protocol=TCP, src=[AddrMatch.from_prefix(parse_prefix("100.64.0.0/16"))], dst_ports=[PortRange(25, 25)]
    )
    p = hs.pick(node, {SRC: [0x6440000A], DST: [0xCB00711D], "sport": [40000], "flags": [SYN]})
    assert p == Point(4, 0x6440000A, 0xCB00711D, TCP, 40000, 25, SYN)
    assert p.src_text() == "100.64.0.10" and p.dst_text() == "203.0.113.29"
    # a preferred value outside the set is skipped, and the pick is still inside the set
    q = hs.pick(node, {SRC: [0x0A000001]})
    assert q is not None and hs.contains(node, q)
    assert hs.pick(hs.false) is None
    assert flags_text(SYN | ACK) == "SA"


@settings(max_examples=60, deadline=None)
@given(
    b=box, prefer_src=st.lists(st.integers(0, 15), max_size=3), prefer_port=st.lists(st.integers(10, 45), max_size=3)
)
def test_pick_memo_gives_what_a_fresh_walk_gives(
    b: tuple[list[AddrMatch], list[AddrMatch], list[PortRange]], prefer_src: list[int], prefer_port: list[int]
) -> None:
    """``pick`` remembers its answer per (set, preferences): the remembered packet is the one a fresh walk of the
    BDD picks, for the same set built again and for other preferences of the same set."""
    hs = space(4)
    node = hs.box(protocol=TCP, src=b[0], src_except=b[1], dst_ports=b[2])
    prefer = {SRC: [BASE4 + v for v in prefer_src], DPORT: prefer_port}
    first = hs.pick(node, prefer)
    again = hs.pick(
        hs.box(protocol=TCP, src=b[0], src_except=b[1], dst_ports=b[2]), {k: list(v) for k, v in prefer.items()}
    )
    if hs.is_empty(node):
        assert first is None and again is None
        return
    assert first == again == hs._pick(node, prefer)
    assert hs.pick(node) == hs._pick(node, {})
    assert first is not None and hs.contains(node, first)


def test_first_audits_in_parallel_threads_share_one_bdd_manager() -> None:
    """``audit --live`` audits its first devices in parallel threads: they must all get the one manager (two
    managers made `self.manager != other.manager` errors, an ERROR verdict for a compliant device). Run in a
    fresh interpreter so the manager does not exist yet."""
    import subprocess
    import sys

    code = (
        "import threading\nfrom op25b_cfg.audit import space\nb = threading.Barrier(8)\nout = []\n"
        "def f():\n    b.wait()\n    out.append(space.manager())\n"
        "ts = [threading.Thread(target=f) for _ in range(8)]\n[t.start() for t in ts]\n[t.join() for t in ts]\n"
        "print(len({id(m) for m in out}))\n"
    )
    for _ in range(3):
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
        assert res.stdout.strip() == "1", res.stdout + res.stderr
