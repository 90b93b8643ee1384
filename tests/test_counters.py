"""Counters you can attribute (issue 12 item 1): one counter per (pool, purpose), and every counted entry of a
rendered config, read back by the platform's own parser, maps to the right (pool, purpose).

The multi-pool golden cases (two IPv4 pools DYN-A / DYN-B and one IPv6 pool, tests/platforms/_policies/base.yaml)
are rendered, parsed with the real parser of each platform, and every parsed entry is attributed with
:func:`op25b_cfg.rules.counter_of_rule`, the function ``effect collect`` uses. The attribution is checked against
the inventory independently: the entry's sources lie in that pool, and its action / destination say the purpose.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from op25b_cfg.audit.model import ParsedConfig
from op25b_cfg.inventory import Device, load_inventory
from op25b_cfg.platforms import get_platform
from op25b_cfg.rules import (
    Action,
    Counter,
    Rule,
    build_plan,
    counter_of,
    counter_of_rule,
    plan_counters,
)
from tests.test_golden import Case, discover, materialise

MULTI_POOL = {
    ("arista_eos", "block"),
    ("cisco_ios", "block_interface"),
    ("cisco_iosxr", "block_interface_and_templates"),
    ("juniper_junos", "block_units"),
    ("linux_nftables", "block"),
}
PURPOSES = {"exempt", "mta", "submission", "blocked"}


def _cases() -> list[Any]:
    return [pytest.param(c, id=c.id) for c in discover() if (c.platform, c.name) in MULTI_POOL]


def _device(case: Case, tmp_path: Path) -> Device:
    inv_dir, name = materialise(case, tmp_path)
    return load_inventory(inv_dir).devices[name]


def test_every_platform_has_a_multi_pool_case() -> None:
    assert {c.values[0].platform for c in _cases()} == {p for p, _ in MULTI_POOL}  # type: ignore[union-attr]


@pytest.mark.parametrize("case", _cases())
def test_one_counter_per_pool_and_purpose(case: Case, tmp_path: Path) -> None:
    plan = build_plan(_device(case, tmp_path))
    counters = plan_counters(plan)
    got = {(c.family, c.pool, c.purpose) for c in counters}
    want = {(4, pool, purpose) for pool in ("DYN-A", "DYN-B") for purpose in PURPOSES}
    want |= {(6, "DYN-V6", purpose) for purpose in PURPOSES}
    assert got == want
    assert len(counters) == len(got)  # exactly one each
    names = [(c.family, c.name) for c in counters]
    assert len(set(names)) == len(names)
    assert {c.name for c in counters if c.family == 4} == {
        f"OP25B-{p.upper()}-{pool}" for p in ("exempt", "mta", "submission", "block") for pool in ("DYN-A", "DYN-B")
    }  # a family with two pools: the pool in every counter name
    assert {c.name for c in counters if c.family == 6} == {
        "OP25B-EXEMPT",
        "OP25B-MTA",
        "OP25B-SUBMISSION",
        "OP25B-BLOCK",
    }
    for c in counters:
        assert counter_of(plan, c.name, c.family) == c


def _entries(parsed: ParsedConfig) -> Iterator[tuple[Rule, bool]]:
    """Every entry of the parsed filters and the chains they jump to (each chain once), with whether it returns
    from its chain (RouterOS renders op25b's permits as ``return``)."""
    chains = {id(c): c for f in parsed.filters.values() for c in f.reachable()}
    for chain in chains.values():
        for i, rule in enumerate(chain.rules):
            call = chain.calls.get(i)
            yield rule, call is not None and call.verdict == "return"


def _purpose_of(rule: Rule, mtas: set[Any]) -> str | None:
    """The purpose an entry serves, from its own match (independent of the plan)."""
    ports = {(p.lo, p.hi) for p in rule.dst_ports}
    if rule.action is Action.DENY and ports == {(25, 25)}:
        return "blocked"
    if rule.action is Action.PERMIT and ports and ports <= {(587, 587), (465, 465)}:
        return "submission"
    if rule.action is Action.PERMIT and ports == {(25, 25)}:
        return "mta" if rule.dst and {str(d) for d in rule.dst} <= mtas else "exempt" if not rule.dst else None
    return None


@pytest.mark.parametrize("case", _cases())
def test_every_rendered_entry_maps_to_its_pool_and_purpose(case: Case, tmp_path: Path) -> None:
    dev = _device(case, tmp_path)
    plan = build_plan(dev)
    text = case.expected_config.read_text(encoding="utf-8")
    parsed = get_platform(case.platform).parse(text)
    pools = {p.name: [ipaddress.ip_network(n) for n in p.all()] for p in dev.pools}
    mtas = {str(ipaddress.ip_network(m)) for m in dev.policy.mtas.all()}
    exempt = [p for _, p in dev.exemptions]
    hit: set[Counter] = set()
    entries = 0
    for rule, returns in _entries(parsed):
        purpose = _purpose_of(rule, mtas)
        counter = counter_of_rule(plan, rule, returns=returns)
        if purpose is None:
            assert counter is None, (rule, counter)  # the final permit, the nft jump: no counter
            continue
        entries += 1
        assert counter is not None, rule
        assert (counter.purpose, counter.family) == (purpose, rule.family), (rule, counter)
        for src in rule.src:
            net = src.prefix()
            assert net is not None
            assert any(net.subnet_of(p) for p in pools[counter.pool] if p.version == net.version), (rule, counter)
            if purpose == "exempt":
                assert any(net.subnet_of(e) for e in exempt if e.version == net.version)
        hit.add(counter)
    assert entries >= len(plan_counters(plan))
    assert hit == set(plan_counters(plan))  # every counter is rendered, and found again


def test_single_pool_families_keep_their_plan(tmp_path: Path) -> None:
    """One pool per family (the sample inventory): the same rules, sets and counter names as before, so the same
    version id (tests/test_plan_version.py pins b1a88b08); the pool is known to the counter all the same."""
    inv = load_inventory(Path(__file__).resolve().parent.parent / "inventory")
    plan = build_plan(inv.devices["bras-tyo-ios1"])
    assert plan.version == "b1a88b08"
    assert [r.name for r in plan.rules if r.family == 4] == ["exempt", "mta", "submission", "block", "default"]
    assert {(c.name, c.pool, c.purpose) for c in plan_counters(plan) if c.family == 4} == {
        ("OP25B-EXEMPT", "DYN-TOKYO", "exempt"),
        ("OP25B-MTA", "DYN-TOKYO", "mta"),
        ("OP25B-SUBMISSION", "DYN-TOKYO", "submission"),
        ("OP25B-BLOCK", "DYN-TOKYO", "blocked"),
    }


def _flow_cases() -> list[Any]:
    return [pytest.param(c, id=c.id) for c in discover() if "flow" in c.name and not c.wants_error]


@pytest.mark.parametrize("case", _flow_cases())
def test_flow_control_entries_map_to_limited(case: Case, tmp_path: Path) -> None:
    """Flow control: the limit entries (IOS class-ACL ``permit ... syn``, the Junos policer term, the nft meters)
    count for their pool's ``limited`` counter; with counters off no entry has one. (IOS renders no submission
    entry in flow control, its class ACL only picks port-25 SYNs: that counter is the one not found there.) A permit
    (RouterOS: a ``return`` from op25b's chain) counts for the purpose its own match says, never for ``limited``."""
    dev = _device(case, tmp_path)
    plan = build_plan(dev)
    parsed = get_platform(case.platform).parse(case.expected_config.read_text(encoding="utf-8"))
    mtas = {str(ipaddress.ip_network(m)) for m in dev.policy.mtas.all()}
    found = set()
    for rule, returns in _entries(parsed):
        counter = counter_of_rule(plan, rule, returns=returns)
        if rule.action is Action.LIMIT and dev.counters:
            assert counter is not None and counter.purpose == "limited", (rule, counter)
        permit = replace(rule, action=Action.PERMIT) if returns and rule.action is Action.NEXT else rule
        purpose = _purpose_of(permit, mtas) if not rule.tcp_flags else None  # SYN-only entries: flow control's
        if purpose in ("exempt", "mta", "submission") and dev.counters:
            assert counter is not None and counter.purpose == purpose, (rule, counter)
        if counter is not None:
            found.add(counter)
    assert found <= set(plan_counters(plan))
    if dev.counters:
        assert {c.purpose for c in set(plan_counters(plan)) - found} <= {"submission"}
        assert any(c.purpose == "limited" for c in found)
    else:
        assert not found and not plan_counters(plan)


def test_long_and_odd_pool_names_give_safe_distinct_names() -> None:
    """Pool names may be 64 characters of letters, digits and ``_ . : / -``: set, counter and term names use a
    token of letters, digits, ``_`` and ``-`` (distinct per pool), and every remark fits an IOS remark (100)."""
    import re

    from op25b_cfg.netaddr import parse_prefix
    from op25b_cfg.rules import _plan

    long_a = "a" * 30 + ".b/c:" + "d" * 29  # 64 characters
    long_b = "a" * 30 + "_b_c_" + "d" * 29  # the same token
    pools = ((long_a, (parse_prefix("100.64.0.0/16"),)), (long_b, (parse_prefix("100.65.0.0/16"),)))
    for mode, targets in (("block", ()), ("targeted", (parse_prefix("198.51.100.0/24"),))):
        plan = _plan("isp", mode, pools, (parse_prefix("192.0.2.25/32"),), (), targets, (587,), True, True, None)
        counters = plan_counters(plan)
        assert {c.pool for c in counters} == {long_a, long_b}
        assert len({c.name for c in counters}) == len(counters)
        names = [c.name for c in counters] + list(plan.sets) + [r.name for r in plan.rules]
        assert all(re.fullmatch(r"[A-Za-z0-9_-]+", n) for n in names), names
        assert all(len(f"remark {r.remark}") <= 100 for r in plan.rules)
