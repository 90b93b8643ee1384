"""Semantic checks of the vendor-neutral rule list, independent of any rendered text.

A tiny first-match evaluator runs packets through :func:`build_plan`'s rules and compares the verdict with
what the intent says; structural invariants (order, coverage, families, version) are checked separately.
``assert_plan_invariants`` and ``expected_verdict`` are reused by the hypothesis tests.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path
from typing import Any

import pytest

from op25b_cfg import api
from op25b_cfg.inventory import Device, FlowControl, Inventory
from op25b_cfg.netaddr import Network, collapse, parse_prefix
from op25b_cfg.rules import ACK, SYN, Action, FilterPlan, Rule, build_plan, canonical_plan, version_id

SAMPLE = Path(__file__).resolve().parent.parent / "inventory"
ORDER = ("exempt", "mta", "submission", "block", "limit", "default")


# ---------------------------------------------------------------- evaluator


@dataclasses.dataclass(frozen=True)
class Packet:
    src: ipaddress.IPv4Address | ipaddress.IPv6Address
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address
    dport: int
    proto: int = 6
    flags: int = SYN

    @property
    def family(self) -> int:
        return self.src.version


def rule_matches(rule: Rule, pkt: Packet) -> bool:
    if rule.family != pkt.family:
        return False
    if rule.protocol is not None and rule.protocol != pkt.proto:
        return False
    if rule.src and not any(m.matches(int(pkt.src)) for m in rule.src):
        return False
    if rule.dst and not any(m.matches(int(pkt.dst)) for m in rule.dst):
        return False
    if any(m.matches(int(pkt.src)) for m in rule.src_except) or any(m.matches(int(pkt.dst)) for m in rule.dst_except):
        return False
    if rule.dst_ports and not any(pkt.dport in p for p in rule.dst_ports):
        return False
    return not rule.tcp_flags or any(pkt.flags & mask == value for mask, value in rule.tcp_flags)


def verdict(plan: FilterPlan, pkt: Packet) -> Action:
    """First matching rule's action; NEXT rules are skipped. A family the plan has no filter for is not
    filtered (permit); within a filtered family, nothing matching is an error (the permit-any is missing)."""
    if pkt.family not in plan.families:
        return Action.PERMIT
    for rule in plan.family_rules(pkt.family):
        if rule_matches(rule, pkt) and rule.action is not Action.NEXT:
            return rule.action
    raise AssertionError(f"no rule matches {pkt}: the final permit-any is missing")


def _inside(addr: Any, nets: list[Network]) -> bool:
    return any(addr.version == n.version and addr in n for n in nets)


def expected_verdict(device: Device, pkt: Packet) -> Action:
    """What the intent says should happen to ``pkt``, computed from the Device without build_plan."""
    pol = device.policy
    pools = [p for pool in device.pools for p in pool.all()]
    exempt = [s.prefix for s in pol.exemptions.static] + [o.prefix for o in pol.exemptions.opt_out]
    if pkt.proto != 6 or not _inside(pkt.src, pools):
        return Action.PERMIT
    if pkt.dport in pol.submission_ports:
        return Action.PERMIT
    if pkt.dport != 25 or _inside(pkt.src, exempt) or _inside(pkt.dst, pol.mtas.all()):
        return Action.PERMIT
    if device.mode == "block":
        return Action.DENY
    if device.mode == "targeted":
        return Action.DENY if _inside(pkt.dst, pol.targeted.all()) else Action.PERMIT
    return Action.LIMIT if pkt.flags & SYN else Action.PERMIT


def probe_addresses(nets: list[Network]) -> list[Any]:
    """First, last and a middle address of each prefix."""
    out = []
    for n in nets:
        out += [n.network_address, n.broadcast_address, n.network_address + (n.num_addresses // 2)]
    return out


def packets_for(device: Device) -> list[Packet]:
    """Probe packets from pool, exempt and outside sources to MTA, targeted and other destinations."""
    pol = device.policy
    pools = [p for pool in device.pools for p in pool.all()]
    exempt = [s.prefix for s in pol.exemptions.static] + [o.prefix for o in pol.exemptions.opt_out]
    outside = [parse_prefix("192.0.2.99"), parse_prefix("2001:db8:1::99")]
    srcs = probe_addresses(pools) + probe_addresses(exempt) + probe_addresses(outside)
    dsts = probe_addresses(pol.mtas.all()) + probe_addresses(pol.targeted.all())
    dsts += [ipaddress.ip_address("203.0.113.200"), ipaddress.ip_address("2001:db8:dead::1")]
    ports = sorted({25, 80, 24, 26, *pol.submission_ports})
    pkts = []
    for s in srcs:
        for d in dsts:
            if s.version != d.version:
                continue
            for port in ports:
                pkts.append(Packet(s, d, port))
            pkts.append(Packet(s, d, 25, flags=ACK))
            pkts.append(Packet(s, d, 25, proto=17))
    return pkts


# ---------------------------------------------------------------- invariants


def assert_plan_invariants(device: Device, plan: FilterPlan) -> None:
    """Structural invariants every plan satisfies (also used by the hypothesis tests)."""
    pol = device.policy
    pools = [p for pool in device.pools for p in pool.all()]
    fams = tuple(f for f in (4, 6) if any(p.version == f for p in pools))
    assert plan.families == fams, "a family's filter exists exactly when a served pool has that family"
    assert {r.family for r in plan.rules} == set(fams)
    assert all(s.family in fams for s in plan.sets.values())
    for fam in fams:
        rules = plan.family_rules(fam)
        # a family with several pools has one rule per pool and purpose, named <purpose>-<pool token>
        fam_pool_names = [pool.name for pool in device.pools if any(p.version == fam for p in pool.all())]
        per_pool = len(fam_pool_names) > 1
        names = [r.name.split("-", 1)[0] for r in rules]
        assert names == sorted(names, key=ORDER.index), f"rule order {names}"
        for purpose in set(names) - {"default"}:
            owners = [r.pool for r in rules if r.name.split("-", 1)[0] == purpose]
            assert len(owners) == len(set(owners)), f"one {purpose} rule per pool"
            assert set(owners) <= set(fam_pool_names)
            assert all((r.counter is not None) is device.counters for r in rules if r.name != "default")
            if per_pool:
                mine = [r for r in rules if r.name.startswith(purpose)]
                assert all(r.remark.endswith(f"({r.name.split('-', 1)[1]})") for r in mine), "the pool in the remark"
        last = rules[-1]
        assert (last.action, last.name, last.protocol, last.src, last.dst, last.dst_ports) == (
            Action.PERMIT,
            "default",
            None,
            (),
            (),
            (),
        ), "the last rule is permit any"
        assert sum(r.name == "default" for r in rules) == 1
        fam_pools = collapse(p for p in pools if p.version == fam)
        enforcing = [r for r in rules if r.action in (Action.DENY, Action.LIMIT)]
        if device.mode == "targeted" and not [t for t in pol.targeted.all() if t.version == fam]:
            assert not enforcing, "nothing to deny toward when no target of this family is listed"
        else:
            assert len(enforcing) == len(fam_pool_names), f"one enforcing rule per pool of the family, got {names}"
            enf = enforcing[0]
            assert enforcing == rules[rules.index(enf) : rules.index(enf) + len(enforcing)], "enforcing rules in a row"
            assert all(e.action is (Action.LIMIT if device.mode == "flow-control" else Action.DENY) for e in enforcing)
            covered = collapse(m.prefix() for e in enforcing for m in e.src)  # type: ignore[misc]
            assert covered == fam_pools, "every pool prefix is covered by the enforcing rules"
            assert all([str(p) for p in e.dst_ports] == ["25"] and e.protocol == 6 for e in enforcing)
            assert all(e.log is device.log and (e.counter is not None) is device.counters for e in enforcing)
            before = rules[: rules.index(enf)]
            for r in rules[rules.index(enf) + len(enforcing) :]:
                assert r.name == "default", "only the permit-any follows the enforcing rules"
            for r in before:
                assert r.action is Action.PERMIT, "exempt, MTA and submission permits come before the deny"
            if device.mode == "flow-control":
                assert enf.limit is not None and enf.tcp_flags, "flow control limits new connections only"
                fc = device.flow_control
                assert (enf.limit.max_sessions, enf.limit.new_per_second, enf.limit.burst) == (
                    fc.max_sessions,
                    fc.new_per_second,
                    fc.burst,
                )
        sub = [r for r in rules if r.name.split("-", 1)[0] == "submission"]
        if pol.submission_ports:
            assert len(sub) == len(fam_pool_names)
            assert all(sorted(p.lo for p in r.dst_ports) == sorted(pol.submission_ports) for r in sub)
            assert collapse(m.prefix() for r in sub for m in r.src) == fam_pools  # type: ignore[misc]
        else:
            assert not sub
        mtas = collapse(m for m in pol.mtas.all() if m.version == fam)
        mta_rules = [r for r in rules if r.name.split("-", 1)[0] == "mta"]
        assert all([m.prefix() for m in r.dst] == mtas for r in mta_rules)
        assert len(mta_rules) == (len(fam_pool_names) if mtas else 0)
        exempt = [s.prefix for s in pol.exemptions.static] + [o.prefix for o in pol.exemptions.opt_out]
        carved = collapse(e for e in exempt if e.version == fam and any(e.subnet_of(p) for p in fam_pools))  # type: ignore[arg-type]
        ex_rules = [r for r in rules if r.name.split("-", 1)[0] == "exempt"]
        got = collapse(m.prefix() for r in ex_rules for m in r.src)  # type: ignore[misc]
        assert got == carved, "exemptions inside the pools, and only those, are permitted first"
        for r in rules:
            if r.src_set:
                assert tuple(plan.sets[r.src_set].matches()) == r.src, "a named set and its patterns agree"
            if r.dst_set:
                assert tuple(plan.sets[r.dst_set].matches()) == r.dst
    assert plan.version == version_id(canonical_plan(plan)), "the version id is the hash of the plan's content"
    assert all(plan.version in plan.filter_name(f) for f in fams)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sample() -> Inventory:
    return api.load(SAMPLE)


def with_policy(device: Device, **changes: Any) -> Device:
    """A copy of ``device`` whose policy has ``changes`` (pydantic fields) applied."""
    return dataclasses.replace(device, policy=device.policy.model_copy(update=changes))


# ---------------------------------------------------------------- tests


def test_sample_inventory_plans_hold_invariants(sample: Inventory) -> None:
    for dev in sample.devices.values():
        assert_plan_invariants(dev, build_plan(dev))


@pytest.mark.parametrize("mode", ["block", "targeted", "flow-control"])
def test_verdicts_match_intent_for_every_mode(sample: Inventory, mode: str) -> None:
    for dev in sample.devices.values():
        dev = dataclasses.replace(dev, mode=mode, flow_control=FlowControl(max_sessions=None))
        plan = build_plan(dev)
        assert_plan_invariants(dev, plan)
        pkts = packets_for(dev)
        assert len(pkts) > 100
        wrong = [
            (p, verdict(plan, p), expected_verdict(dev, p))
            for p in pkts
            if verdict(plan, p) != expected_verdict(dev, p)
        ]
        assert not wrong, f"{dev.name} {mode}: {len(wrong)} wrong verdicts, first: {wrong[:3]}"


def test_block_mode_concrete_verdicts(sample: Inventory) -> None:
    """Spot checks written out by hand against the sample policy (Tokyo BRAS serves DYN-TOKYO and DYN-V6)."""
    dev = sample.devices["bras-tyo-ios1"]
    plan = build_plan(dev)
    a = ipaddress.ip_address

    def v(src: str, dst: str, port: int) -> Action:
        return verdict(plan, Packet(a(src), a(dst), port))

    assert v("100.64.1.2", "203.0.113.9", 25) is Action.DENY  # dynamic subscriber, direct SMTP
    assert v("100.64.1.2", "192.0.2.25", 25) is Action.PERMIT  # to the ISP relay
    assert v("100.64.1.2", "203.0.113.9", 587) is Action.PERMIT  # submission
    assert v("100.64.1.2", "203.0.113.9", 465) is Action.PERMIT
    assert v("100.64.200.9", "203.0.113.9", 25) is Action.PERMIT  # ACME static exemption
    assert v("100.65.3.7", "203.0.113.9", 25) is Action.PERMIT  # not a Tokyo pool: untouched
    assert v("2001:db8:8000:1::1", "2001:db8:ffff::1", 25) is Action.DENY
    assert v("2001:db8:8000:4711::9", "2001:db8:ffff::1", 25) is Action.PERMIT  # v6 opt-out
    assert v("2001:db8:8000:1::1", "2001:db8:25::25", 25) is Action.PERMIT


def test_exemption_outside_pools_is_not_rendered(sample: Inventory) -> None:
    dev = sample.devices["bras-osa-xr1"]  # Osaka: ACME (Tokyo pool) is outside its pools
    plan = build_plan(dev)
    exempt_v4 = plan.sets["OP25B-EXEMPT-V4"].prefixes
    assert [str(p) for p in exempt_v4] == ["100.65.3.7/32"]


def test_families_present_only_when_pools_have_them(sample: Inventory) -> None:
    dev = sample.devices["bras-tyo-ios1"]
    v4_only = dataclasses.replace(dev, pools=tuple(p for p in dev.pools if p.ipv4))
    v6_only = dataclasses.replace(dev, pools=tuple(p for p in dev.pools if p.ipv6))
    assert build_plan(v4_only).families == (4,)
    assert build_plan(v6_only).families == (6,)
    assert not build_plan(v4_only).family_sets(6)
    assert not build_plan(v6_only).family_rules(4)
    assert_plan_invariants(v4_only, build_plan(v4_only))
    assert_plan_invariants(v6_only, build_plan(v6_only))


def test_targeted_family_without_targets_denies_nothing(sample: Inventory) -> None:
    dev = sample.devices["edge-osa-eos1"]
    dev = with_policy(dev, targeted=dev.policy.targeted.model_copy(update={"ipv6": []}))
    plan = build_plan(dev)
    assert not [r for r in plan.family_rules(6) if r.action is Action.DENY]
    assert [r for r in plan.family_rules(4) if r.action is Action.DENY]
    assert_plan_invariants(dev, plan)


def test_no_submission_ports_means_no_submission_rule(sample: Inventory) -> None:
    dev = with_policy(sample.devices["bras-tyo-ios1"], submission_ports=[])
    plan = build_plan(dev)
    assert not [r for r in plan.rules if r.name == "submission"]
    assert_plan_invariants(dev, plan)


def test_version_is_stable_for_same_intent(sample: Inventory) -> None:
    dev = sample.devices["bras-tyo-ios1"]
    again = api.load(SAMPLE).devices["bras-tyo-ios1"]
    assert build_plan(dev).version == build_plan(again).version
    reordered = dataclasses.replace(dev, pools=tuple(reversed(dev.pools)))
    assert build_plan(reordered).version == build_plan(dev).version, "pool order is not intent"
    renamed_attach = dataclasses.replace(dev, attach=(), description="other text")
    assert build_plan(renamed_attach).version == build_plan(dev).version, "attachments do not change the filter"


@pytest.mark.parametrize(
    "change",
    [
        "mode",
        "log",
        "counters",
        "mta",
        "submission",
        "exemption",
        "pool",
        "policy_name",
        "flow",
    ],
)
def test_version_changes_when_intent_changes(sample: Inventory, change: str) -> None:
    dev = sample.devices["bras-tyo-lnx1"]  # flow-control device
    pol = dev.policy
    changed: Device
    if change == "mode":
        changed = dataclasses.replace(dev, mode="block")
    elif change == "log":
        changed = dataclasses.replace(dev, log=not dev.log)
    elif change == "counters":
        changed = dataclasses.replace(dev, counters=not dev.counters)
    elif change == "mta":
        changed = with_policy(
            dev, mtas=pol.mtas.model_copy(update={"ipv4": [*pol.mtas.ipv4, parse_prefix("192.0.2.27")]})
        )
    elif change == "submission":
        changed = with_policy(dev, submission_ports=[587])
    elif change == "exemption":
        changed = with_policy(dev, exemptions=pol.exemptions.model_copy(update={"opt_out": []}))
    elif change == "pool":
        changed = dataclasses.replace(dev, pools=dev.pools[:1])
    elif change == "policy_name":
        changed = with_policy(dev, name="other-policy")
    else:
        changed = dataclasses.replace(dev, flow_control=dev.flow_control.model_copy(update={"burst": 99}))
    assert build_plan(changed).version != build_plan(dev).version
    assert build_plan(changed).filter_name(4) != build_plan(dev).filter_name(4)


def test_flow_limit_only_in_flow_control_mode(sample: Inventory) -> None:
    for dev in sample.devices.values():
        plan = build_plan(dev)
        assert (plan.flow is not None) is (dev.mode == "flow-control")
        assert any(r.action is Action.LIMIT for r in plan.rules) is (dev.mode == "flow-control")
