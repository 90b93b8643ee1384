"""The semantic engine on hand-built ParsedConfigs: every finding code, first-match corner cases, input-lists and
nftables multi-table chains; plus first-match evaluation checked against brute force."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from op25b_cfg import api
from op25b_cfg.audit.checks import SEVERITY
from op25b_cfg.audit.drift import intent_drift
from op25b_cfg.audit.engine import audit_parsed
from op25b_cfg.audit.evaluate import Evaluator, Query, iface_representatives
from op25b_cfg.audit.model import (
    Binding,
    Code,
    Filter,
    FlowControlSeen,
    ParsedConfig,
    Severity,
    Unparsed,
    Verdict,
)
from op25b_cfg.audit.space import Point
from op25b_cfg.inventory import Device, FlowControl
from op25b_cfg.netaddr import parse_prefix
from op25b_cfg.rules import ACK, ESTABLISHED, RST, SYN, TCP, UDP, Action, AddrMatch, FlowLimit, PortRange, Rule

INVENTORY = Path(__file__).resolve().parent.parent / "inventory"
ACL4, ACL6 = "OP25B-TEST-V4", "OP25B-TEST-V6"
VT = ("virtual-template", "Virtual-Template1")


def P(text: str) -> AddrMatch:
    return AddrMatch.from_prefix(parse_prefix(text))


def port(*ps: int | tuple[int, int]) -> tuple[PortRange, ...]:
    return tuple(PortRange(p, p) if isinstance(p, int) else PortRange(*p) for p in ps)


class Lines:
    """Numbers hand-built rules like lines of a config."""

    def __init__(self) -> None:
        self.n = 10

    def __call__(
        self, action: Action, family: int = 4, protocol: int | None = TCP, text: str = "", **kw: object
    ) -> Rule:
        self.n += 1
        return Rule(action, family, protocol, line=self.n, text=text or f"{action} #{self.n}", **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def inv():  # type: ignore[no-untyped-def]
    return api.load(INVENTORY)


@pytest.fixture
def ios(inv) -> Device:  # type: ignore[no-untyped-def]
    """bras-tyo-ios1 reduced to its IPv4 pool DYN-TOKYO (100.64.0.0/16, exempt 100.64.200.0/24)."""
    dev: Device = inv.devices["bras-tyo-ios1"]
    return dataclasses.replace(dev, pools=(dev.policy.pool("DYN-TOKYO"),))


def good_v4(L: Lines) -> list[Rule]:
    pool = (P("100.64.0.0/16"),)
    return [
        L(Action.PERMIT, src=(P("100.64.200.0/24"),), dst_ports=port(25), text="permit exempt"),
        L(Action.PERMIT, src=pool, dst=(P("192.0.2.25/32"), P("192.0.2.26/32")), dst_ports=port(25), text="mta"),
        L(Action.PERMIT, src=pool, dst_ports=port(587, 465), text="submission"),
        L(Action.DENY, src=pool, dst_ports=port(25), text="deny tcp POOL any eq 25"),
        L(Action.PERMIT, protocol=None, text="permit ip any any"),
    ]


def config(rules: list[Rule], *, bind: bool = True, direction: str = "in", **bkw: object) -> ParsedConfig:
    pc = ParsedConfig("cisco_ios", {(4, ACL4): Filter(ACL4, 4, rules, line=10)})
    if bind:
        kw: dict[str, object] = {"in_use": True, **bkw}
        pc.bindings.append(Binding(*VT, direction, 4, (ACL4,), line=100, **kw))  # type: ignore[arg-type]
    return pc


def codes(report) -> list[Code]:  # type: ignore[no-untyped-def]
    return [f.code for f in report.findings if f.code is not Code.DRIFT]


def test_compliant_acl(ios: Device) -> None:
    rep = audit_parsed(ios, config(good_v4(Lines())), "")
    assert codes(rep) == []
    assert rep.verdict is Verdict.COMPLIANT
    names = [c for c, _ in rep.checks]
    assert all(ok for _, ok in rep.checks if _ != "drift")
    for check in (
        "applied",
        "smtp-blocked",
        "mta-open",
        "submission-open tcp/587",
        "submission-open tcp/465",
        "exempt",
    ):
        assert any(n.startswith(check) for n in names), check


def test_shadowing_permit_is_named_with_counterexample(ios: Device) -> None:
    L = Lines()
    rules = good_v4(L)
    shadow = L(Action.PERMIT, dst_ports=port((20, 30)), text="permit tcp any any range 20 30")
    rules.insert(3, shadow)
    rep = audit_parsed(ios, config(rules), "")
    assert rep.verdict is Verdict.NONCOMPLIANT
    [f] = [f for f in rep.findings if f.code is Code.SMTP_LEAK]
    assert f.cause == "shadowed" and f.severity is Severity.CRITICAL and f.family == 4 and f.pool == "DYN-TOKYO"
    assert shadow.line in f.lines and "permit tcp any any range 20 30" in f.config_lines
    deny = rules[4]
    assert deny.line in f.lines  # the shadowed deny is named too
    cx = f.counterexample
    assert cx is not None and cx.dst_port == 25 and cx.tcp_flags == "S"
    src = int(parse_prefix(cx.src).network_address)
    assert P("100.64.0.0/16").matches(src) and not P("100.64.200.0/24").matches(src)
    assert cx.dst not in ("192.0.2.25", "192.0.2.26")
    assert f.remediation == "" and "OP25B-V4-" in rep.remediation  # once per device


def test_partial_coverage_is_not_covered(ios: Device) -> None:
    L = Lines()
    rules = good_v4(L)
    rules[3] = L(Action.DENY, src=(P("100.64.0.0/17"),), dst_ports=port(25), text="deny half")
    rep = audit_parsed(ios, config(rules), "")
    [f] = [f for f in rep.findings if f.code is Code.SMTP_LEAK]
    assert f.cause == "not covered"
    assert f.counterexample is not None
    assert P("100.64.128.0/17").matches(int(parse_prefix(f.counterexample.src).network_address))
    assert rules[4].line in f.lines  # falls to the permit any


def test_neq_permit_leaks_but_udp_and_established_do_not(ios: Device) -> None:
    L = Lines()
    rules = good_v4(L)
    rules.insert(0, L(Action.PERMIT, protocol=UDP, dst_ports=port(25)))
    rules.insert(0, L(Action.PERMIT, tcp_flags=ESTABLISHED, text="permit tcp any any established"))
    rep = audit_parsed(ios, config(rules), "")
    assert codes(rep) == [] and rep.verdict is Verdict.COMPLIANT
    neq = L(Action.PERMIT, dst_ports=port((0, 79), (81, 65535)), text="permit tcp any any neq 80")
    rules.insert(0, neq)
    rep = audit_parsed(ios, config(rules), "")
    leaks = [f for f in rep.findings if f.code is Code.SMTP_LEAK]
    assert leaks and leaks[0].lines[0] == neq.line and leaks[0].cause == "shadowed"
    # neq also reopens nothing that is meant to pass: MTA/submission stay open
    assert Code.MTA_BLOCKED not in codes(rep) and Code.SUBMISSION_BLOCKED not in codes(rep)


def test_non_contiguous_wildcard_deny(ios: Device) -> None:
    L = Lines()
    rules = good_v4(L)
    # deny only hosts ending in .1 (100.64.x.1): the rest of the pool leaks
    rules[3] = L(Action.DENY, src=(AddrMatch(4, 0x64400001, 0xFFFF00FF),), dst_ports=port(25))
    rep = audit_parsed(ios, config(rules), "")
    [f] = [f for f in rep.findings if f.code is Code.SMTP_LEAK]
    assert f.counterexample is not None and not f.counterexample.src.endswith(".1")


def test_mta_submission_exempt_blocked(ios: Device) -> None:
    L = Lines()
    pool = (P("100.64.0.0/16"),)
    rules = [
        L(Action.DENY, src=pool, dst_ports=port(587), text="deny 587"),
        L(Action.DENY, src=pool, dst_ports=port(25), text="deny 25 first"),
        L(Action.PERMIT, protocol=None),
    ]
    rep = audit_parsed(ios, config(rules), "")
    got = codes(rep)
    assert got.count(Code.SUBMISSION_BLOCKED) == 1 and Code.MTA_BLOCKED in got and Code.EXEMPT_BLOCKED in got
    sub = next(f for f in rep.findings if f.code is Code.SUBMISSION_BLOCKED)
    assert sub.counterexample is not None and sub.counterexample.dst_port == 587 and sub.lines == [rules[0].line]
    mta = next(f for f in rep.findings if f.code is Code.MTA_BLOCKED)
    assert mta.counterexample is not None and mta.counterexample.dst in ("192.0.2.25", "192.0.2.26")
    assert mta.severity is Severity.HIGH
    ex = next(f for f in rep.findings if f.code is Code.EXEMPT_BLOCKED)
    assert ex.counterexample is not None and ex.counterexample.src.startswith("100.64.200.")
    assert Code.SMTP_LEAK not in got


def test_missing_not_applied_wrong_direction(ios: Device) -> None:
    rules = good_v4(Lines())
    rep = audit_parsed(ios, ParsedConfig("cisco_ios"), "")
    assert codes(rep) == [Code.FILTER_MISSING] and rep.verdict is Verdict.NONCOMPLIANT
    # defined (semantically blocking) but bound nowhere
    assert codes(audit_parsed(ios, config(rules, bind=False), "")) == [Code.NOT_APPLIED]
    # bound, but the template is not used / the interface is shut
    assert codes(audit_parsed(ios, config(rules, in_use=False), "")) == [Code.NOT_APPLIED]
    assert codes(audit_parsed(ios, config(rules, shutdown=True), "")) == [Code.NOT_APPLIED]
    assert codes(audit_parsed(ios, config(rules, direction="out"), "")) == [Code.WRONG_DIRECTION]
    # bound name not defined
    pc = config(rules)
    pc.bindings[0].filters = ("NO-SUCH-ACL",)
    rep = audit_parsed(ios, pc, "")
    assert codes(rep) == [Code.FILTER_MISSING] and rep.findings[0].lines == [100]


def test_unparsed_line_makes_unknown_never_compliant(ios: Device) -> None:
    pc = config(good_v4(Lines()))
    pc.unparsed.append(Unparsed(12, "deny tcp any any eq 25 frobnicate", "unknown keyword frobnicate", ACL4))
    rep = audit_parsed(ios, pc, "")
    assert rep.verdict is Verdict.UNKNOWN and codes(rep) == [Code.UNPARSED]
    assert ("parsed", False) in rep.checks
    # an unparsed line in a filter nobody evaluates changes nothing
    pc = config(good_v4(Lines()))
    pc.unparsed.append(Unparsed(500, "junk", "unknown", "OTHER-ACL"))
    assert audit_parsed(ios, pc, "").verdict is Verdict.COMPLIANT


def test_leak_decided_before_unparsed_line_is_certain(ios: Device) -> None:
    L = Lines()
    rules = [L(Action.PERMIT, protocol=None, text="permit ip any any")]
    pc = config(rules)
    pc.unparsed.append(Unparsed(50, "junk after", "unknown", ACL4))
    assert audit_parsed(ios, pc, "").verdict is Verdict.NONCOMPLIANT
    pc.unparsed.append(Unparsed(5, "junk before", "unknown", ACL4))
    assert audit_parsed(ios, pc, "").verdict is Verdict.UNKNOWN


def test_ipv6_pool_without_ipv6_filter(inv) -> None:  # type: ignore[no-untyped-def]
    dev: Device = inv.devices["bras-tyo-ios1"]  # DYN-TOKYO + DYN-V6
    rep = audit_parsed(dev, config(good_v4(Lines())), "")
    missing = [f for f in rep.findings if f.code is Code.FILTER_MISSING]
    assert [f.family for f in missing] == [6]


def test_input_list_falls_through_to_next_filter(inv) -> None:  # type: ignore[no-untyped-def]
    dev: Device = dataclasses.replace(inv.devices["bng-tyo-mx1"], pools=(inv.policy.pool("DYN-TOKYO"),))
    L = Lines()
    first = [
        L(Action.NEXT, text="term count then count c; next term"),
        L(Action.PERMIT, protocol=UDP, dst_ports=port(53)),
    ]
    second = good_v4(L)
    pc = ParsedConfig(
        "juniper_junos",
        {(4, "F1"): Filter("F1", 4, first, kind="junos-filter", line=1), (4, "F2"): Filter("F2", 4, second, line=20)},
    )
    for kind, name in (("dynamic-profile", "PPPOE-SUBSCRIBER"), ("unit", "ge-0/0/1.100")):
        pc.bindings.append(Binding(kind, name, "in", 4, ("F1", "F2"), line=99))
    rep = audit_parsed(dev, pc, "")
    assert codes(rep) == [] and rep.verdict is Verdict.COMPLIANT
    # a permit term in the first filter shadows the deny of the second
    first.append(L(Action.PERMIT, dst_ports=port((1, 1024)), text="term web then accept"))
    rep = audit_parsed(dev, pc, "")
    leaks = [f for f in rep.findings if f.code is Code.SMTP_LEAK]
    assert len(leaks) == 2 and all(f.cause == "shadowed" and f.lines[0] == first[-1].line for f in leaks)


# ------------------------------------------------------------------------------------------------ nftables


@pytest.fixture
def lnx(inv) -> Device:  # type: ignore[no-untyped-def]
    """bras-tyo-lnx1 in block mode, IPv4 pool only (attachments ppp* and eth1, direction in)."""
    dev: Device = inv.devices["bras-tyo-lnx1"]
    return dataclasses.replace(dev, mode="block", pools=(dev.policy.pool("DYN-TOKYO"),))


def nft_chain(name: str, rules: list[Rule], policy: Action = Action.PERMIT) -> Filter:
    return Filter(name, 0, rules, default=policy, kind="nft-chain", hook="forward", line=1)


def nft_config(*chains: Filter) -> ParsedConfig:
    pc = ParsedConfig("linux_nftables")
    for c in chains:
        pc.filters[(0, c.name)] = c
        pc.bindings.append(Binding("nft-forward", "*", "in", 0, (c.name,), line=c.line))
    return pc


def op25b_rules(L: Lines, iif: tuple[str, ...] = ("ppp*", "eth1"), key: str = "iifname") -> list[Rule]:
    if key == "iifname":
        return [dataclasses.replace(r, iifname=iif) for r in good_v4(L)[:-1]]
    return [dataclasses.replace(r, oifname=iif) for r in good_v4(L)[:-1]]


def test_nft_multi_table_needs_every_chain_to_accept(lnx: Device) -> None:
    L = Lines()
    ours = nft_chain("inet op25b forward", op25b_rules(L))
    other = nft_chain("ip filter forward", [L(Action.PERMIT, protocol=None)])
    assert codes(audit_parsed(lnx, nft_config(ours, other), "")) == []
    # another table drops submission: blocked although our table accepts it
    other.rules.insert(0, L(Action.DENY, dst_ports=port(465), text="tcp dport 465 drop"))
    rep = audit_parsed(lnx, nft_config(ours, other), "")
    assert set(codes(rep)) == {Code.SUBMISSION_BLOCKED}  # at ppp* and at eth1
    # the other table drops port 25 for everyone: no leak even without our deny
    ours.rules.pop(3)
    other.rules.insert(0, L(Action.DENY, dst_ports=port(25), text="tcp dport 25 drop"))
    rep = audit_parsed(lnx, nft_config(ours, other), "")
    assert Code.SMTP_LEAK not in codes(rep) and Code.MTA_BLOCKED in codes(rep)


def test_nft_interfaces_not_covered_direction_flipped(lnx: Device) -> None:
    L = Lines()
    # only eth1 jumps to the filter: ppp* traffic is never filtered
    rep = audit_parsed(lnx, nft_config(nft_chain("fw", op25b_rules(L, ("eth1",)))), "")
    assert codes(rep) == [Code.NOT_APPLIED] and "ppp" in rep.findings[0].message
    # one specific ppp interface is carved out by an earlier accept
    rules = op25b_rules(L)
    rules.insert(0, dataclasses.replace(L(Action.PERMIT, protocol=None), iifname=("ppp7",)))
    rep = audit_parsed(lnx, nft_config(nft_chain("fw", rules)), "")
    [f] = [f for f in rep.findings if f.code is Code.SMTP_LEAK]
    assert "iifname ppp7" in f.message
    # oifname instead of iifname: the filter sees the wrong direction
    rep = audit_parsed(lnx, nft_config(nft_chain("fw", op25b_rules(L, key="oifname"))), "")
    assert Code.WRONG_DIRECTION in codes(rep)


def test_flow_control_values(lnx: Device) -> None:
    dev = dataclasses.replace(lnx, mode="flow-control", flow_control=FlowControl(max_sessions=10, burst=5))
    L = Lines()
    limit = FlowLimit(10, 1, 5)
    rules = op25b_rules(L)
    rules[3] = dataclasses.replace(rules[3], action=Action.LIMIT, limit=limit, tcp_flags=((SYN, SYN),))
    pc = nft_config(nft_chain("fw", [*rules, L(Action.PERMIT, protocol=None)]))
    rep = audit_parsed(dev, pc, "")
    assert codes(rep) == [Code.FLOW_CONTROL_MISSING] * 2  # at ppp* and at eth1
    pc.flow.append(FlowControlSeen("nft-forward", "*", "in", 4, max_sessions=10, new_per_second=1, burst=5, line=7))
    rep = audit_parsed(dev, pc, "")
    assert codes(rep) == [] and rep.verdict is Verdict.COMPLIANT
    pc.flow[0].burst = 50
    rep = audit_parsed(dev, pc, "")
    assert set(codes(rep)) == {Code.FLOW_CONTROL_MISSING} and "burst [50] (intended 5)" in rep.findings[0].message
    # a permit before the limit lets port 25 through unlimited
    pc.flow[0].burst = 5
    rules.insert(0, L(Action.PERMIT, dst_ports=port(25), text="tcp dport 25 accept"))
    pc = nft_config(nft_chain("fw", rules))
    pc.flow.append(FlowControlSeen("nft-forward", "*", "in", 4, max_sessions=10, new_per_second=1, burst=5))
    assert set(codes(audit_parsed(dev, pc, ""))) == {Code.SMTP_LEAK}


def test_drift_names_the_differing_entry() -> None:
    L = Lines()
    want = config(good_v4(L))
    have = config(good_v4(Lines()))
    assert intent_drift(want, have) == []
    have.filters[(4, ACL4)].rules[3] = L(Action.DENY, src=(P("100.64.0.0/17"),), dst_ports=port(25), text="deny x")
    [(msg, line)] = intent_drift(want, have)
    assert "entry 4 is `deny x`" in msg and line == have.filters[(4, ACL4)].rules[3].line
    have.bindings[0].filters = ("OLD",)
    assert any("should use" in m for m, _ in intent_drift(want, have))


def test_severity_table_is_complete() -> None:
    assert set(SEVERITY) == set(Code)
    assert SEVERITY[Code.DRIFT] is Severity.INFO


def test_iface_representatives_are_exact() -> None:
    pats = ["ppp*", "ppp1*", "ppp7", "eth1", "e*"]
    reps = iface_representatives("ppp*", pats)
    # every concrete ppp name behaves like one representative
    for name in ["ppp", "ppp0", "ppp1", "ppp12", "ppp7", "ppp77", "pppX"]:
        sig = tuple((p.endswith("*") and name.startswith(p[:-1])) or name == p for p in pats)
        assert any(tuple((p.endswith("*") and r.startswith(p[:-1])) or r == p for p in pats) == sig for r in reps), name


# ------------------------------------------------------------------------------------------------ first match


BASE = 0x0A000000
small_pattern = st.builds(
    lambda v, m: AddrMatch(4, BASE | (v & m), 0xFFFFFFF8 | m), st.integers(0, 7), st.integers(0, 7)
)
small_rule = st.builds(
    lambda act, src, exc, lo, n, flags: Rule(
        act, 4, TCP, src=tuple(src), src_except=tuple(exc), dst_ports=(PortRange(lo, lo + n),) if n >= 0 else (),
        tcp_flags=flags,
    ),
    st.sampled_from([Action.PERMIT, Action.DENY, Action.NEXT]),
    st.lists(small_pattern, max_size=2),
    st.lists(small_pattern, max_size=1),
    st.integers(20, 30),
    st.integers(-1, 4),
    st.sampled_from([(), ESTABLISHED, ((SYN, SYN),)]),
)  # fmt: skip


def _matches(r: Rule, p: Point) -> bool:
    if r.src and not any(m.matches(p.src) for m in r.src):
        return False
    if any(m.matches(p.src) for m in r.src_except):
        return False
    if r.dst_ports and not any(p.dst_port in x for x in r.dst_ports):
        return False
    return not r.tcp_flags or any(p.flags & m == v for m, v in r.tcp_flags)


@settings(max_examples=40, deadline=None)
@given(st.lists(small_rule, max_size=8), st.sampled_from([Action.PERMIT, Action.DENY]))
def test_first_match_agrees_with_brute_force(rules: list[Rule], default: Action) -> None:
    ev = Evaluator(4)
    universe = (AddrMatch(4, BASE, 0xFFFFFFF8),)
    node = ev.hs.box(protocol=TCP, src=universe, dst_ports=(PortRange(20, 34),))
    q = Query(4, node, universe, (), tuple(range(20, 35)), ())
    res = ev.evaluate([Filter("F", 4, rules, default=default)], q, limit_terminal=True)
    for src, dport, flags in itertools.product(range(8), range(20, 35), (SYN, ACK, RST)):
        p = Point(4, BASE + src, 1, TCP, 1, dport, flags)
        want = next((r for r in rules if r.action is not Action.NEXT and _matches(r, p)), None)
        got = res.decision_of(ev.hs, p)
        assert got is not None
        assert got.rule is want and got.action is (want.action if want else default)


def test_nft_chain_without_any_port25_rule_is_filter_missing(lnx: Device) -> None:
    L = Lines()
    rep = audit_parsed(lnx, nft_config(nft_chain("fw", [L(Action.PERMIT, protocol=UDP)])), "")
    assert set(codes(rep)) == {Code.FILTER_MISSING}
    assert all(f.counterexample is not None for f in rep.findings if f.code is Code.FILTER_MISSING)
    # an explicit accept of everything is a rule that decides: a leak, not covered by any deny
    rep = audit_parsed(lnx, nft_config(nft_chain("fw", [L(Action.PERMIT, protocol=None)])), "")
    assert {(f.code, f.cause) for f in rep.findings if f.code is not Code.DRIFT} == {(Code.SMTP_LEAK, "not covered")}
    # no forward base chain at all
    assert set(codes(audit_parsed(lnx, ParsedConfig("linux_nftables"), ""))) == {Code.FILTER_MISSING}
