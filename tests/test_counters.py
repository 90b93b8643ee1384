"""Counters you can attribute (issue 12 item 1): one counter per (pool, purpose), and every counter of a rendered
config, read back the way ``op25b effect collect`` reads it, is attributed to exactly its (pool, purpose).

One place writes counter names (:func:`op25b_cfg.rules.build_plan`: :attr:`Rule.counter`, :attr:`Rule.pool`) and
one reads them back (:func:`op25b_cfg.effect.attribute.attribute`, what ``effect collect`` calls). For each
platform's multi-pool golden case (two IPv4 pools DYN-A / DYN-B and one IPv6 pool, tests/platforms/_policies/
base.yaml) the rendered config is loaded into the platform's emulator (nftables: a kernel in a fresh network
namespace), every OP25B entry is given its own count, the device's answer in its own format (``show
access-lists`` text, eAPI JSON, the Junos RPC's XML, ``display acl``, RouterOS ``print as-value stats``, ``nft -j``) is
read with the platform's counter reader, and each reading is attributed. The attribution is checked against an
oracle that does not use it: the entry as the platform's own config parser reads it (its sources lie in the
pool; its action, ports and destination say the purpose), and the counts summed per (pool, purpose).
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from op25b_cfg import api
from op25b_cfg.audit.model import ParsedConfig
from op25b_cfg.effect.attribute import attribute
from op25b_cfg.effect.model import CounterReading
from op25b_cfg.inventory import Device
from op25b_cfg.platforms import get_platform
from op25b_cfg.rules import Action, FilterPlan, Rule, counter_purpose
from tests.labutil import need, need_nft
from tests.test_golden import Case, discover, materialise

MULTI_POOL = {
    ("arista_eos", "block"),
    ("cisco_ios", "block_interface"),
    ("cisco_iosxr", "block_interface_and_templates"),
    ("huawei_vrp", "block_interfaces"),
    ("juniper_junos", "block_units"),
    ("linux_nftables", "block"),
    ("mikrotik_routeros", "block"),
}
PURPOSES = {"exempt", "mta", "submission", "blocked"}


def _cases() -> list[Any]:
    return [pytest.param(c, id=c.id) for c in discover() if (c.platform, c.name) in MULTI_POOL]


def _device(case: Case, tmp_path: Path) -> Device:
    inv_dir, name = materialise(case, tmp_path)
    return api.load(inv_dir).devices[name]


def test_every_platform_has_a_multi_pool_case() -> None:
    from op25b_cfg.platforms import BUILTIN_NAMES

    builtin = set(BUILTIN_NAMES)
    assert {c.values[0].platform for c in _cases()} == {p for p, _ in MULTI_POOL} == builtin


def test_every_platform_reads_its_counters_and_is_tested_against_its_device() -> None:
    """Every built-in platform has a counter reader (``effect collect``), and a test reading it end to end from
    its emulator through its session (nftables: the real kernel in the namespace lab), besides this file's."""
    from op25b_cfg.platforms import BUILTIN_NAMES, builtin_classes
    from op25b_cfg.platforms.base import Platform

    tests = Path(__file__).resolve().parent
    end_to_end = {
        "cisco_ios": tests / "test_effect_collect.py",
        "cisco_iosxr": tests / "test_effect_collect.py",
        "arista_eos": tests / "test_effect_collect.py",
        "juniper_junos": tests / "test_effect_collect.py",
        "huawei_vrp": tests / "platforms" / "huawei_vrp" / "test_huawei_vrp_counters.py",
        "mikrotik_routeros": tests / "platforms" / "mikrotik_routeros" / "test_routeros_counters.py",
        "linux_nftables": tests / "test_effect_lab.py",
    }
    assert set(end_to_end) == set(BUILTIN_NAMES)
    for cls in builtin_classes():
        assert cls.read_counters is not Platform.read_counters, cls.name
        text = end_to_end[cls.name].read_text(encoding="utf-8")
        assert "collect" in text, cls.name  # op25b effect collect, the whole path
        if cls.name != "linux_nftables":
            assert get_platform(cls.name).emulator() is not None, cls.name


# ------------------------------------------------------------------ names written by the plan, read back by collect


def _by_name(device: Device, plan: FilterPlan) -> dict[tuple[int, str], tuple[str, str]]:
    """Every counted plan rule's counter, read back by its name alone (as a Junos ``count`` or an nft named
    counter comes back): (family, counter name) -> the (pool, purpose) :func:`attribute` gives it."""
    out = {}
    for rule in plan.rules:
        if rule.counter is None:
            continue
        reading = CounterReading(plan.filter_name(rule.family), rule.counter, 0)
        sample = attribute(device, plan, reading, 0.0)
        assert sample is not None, rule.counter
        out[(rule.family, rule.counter)] = (sample.pool, sample.purpose)
    return out


@pytest.mark.parametrize("case", _cases())
def test_one_counter_per_pool_and_purpose(case: Case, tmp_path: Path) -> None:
    dev = _device(case, tmp_path)
    plan = api.plan(dev)
    named = _by_name(dev, plan)
    want = {(4, pool, purpose) for pool in ("DYN-A", "DYN-B") for purpose in PURPOSES}
    want |= {(6, "DYN-V6", purpose) for purpose in PURPOSES}
    assert {(fam, *v) for (fam, _), v in named.items()} == want
    assert len(named) == len(want)  # exactly one counter each
    assert {name for fam, name in named if fam == 4} == {
        f"OP25B-{p.upper()}-{pool}" for p in ("exempt", "mta", "submission", "block") for pool in ("DYN-A", "DYN-B")
    }  # a family with two pools: the pool in every counter name
    assert {name for fam, name in named if fam == 6} == {"OP25B-EXEMPT", "OP25B-MTA", "OP25B-SUBMISSION", "OP25B-BLOCK"}
    for rule in plan.rules:  # what the name reads back to is what the plan wrote
        if rule.counter is not None:
            assert named[(rule.family, rule.counter)] == (rule.pool, counter_purpose(rule.name))


def test_single_pool_families_keep_their_plan(tmp_path: Path) -> None:
    """One pool per family (the sample inventory): the same rules, sets and counter names as before, so the same
    version id (tests/test_plan_version.py pins b1a88b08); the pool is known to the counter all the same."""
    inv = api.load(Path(__file__).resolve().parent.parent / "inventory")
    dev = inv.devices["bras-tyo-ios1"]
    plan = api.plan(dev)
    assert plan.version == "b1a88b08"
    assert [r.name for r in plan.rules if r.family == 4] == ["exempt", "mta", "submission", "block", "default"]
    assert {(name, *v) for (fam, name), v in _by_name(dev, plan).items() if fam == 4} == {
        ("OP25B-EXEMPT", "DYN-TOKYO", "exempt"),
        ("OP25B-MTA", "DYN-TOKYO", "mta"),
        ("OP25B-SUBMISSION", "DYN-TOKYO", "submission"),
        ("OP25B-BLOCK", "DYN-TOKYO", "blocked"),
    }


def test_long_and_odd_pool_names_give_safe_distinct_names_that_read_back() -> None:
    """Pool names may be 64 characters of letters, digits and ``_ . : / -``: set, counter and term names use a
    token of letters, digits, ``_`` and ``-`` (distinct per pool), every remark fits an IOS remark (100), and
    each counter name reads back to its own pool (not the other pool with the same token)."""
    from op25b_cfg.inventory_model import Pool
    from op25b_cfg.netaddr import parse_prefix
    from op25b_cfg.rules import _plan

    sample = api.load(Path(__file__).resolve().parent.parent / "inventory").devices["bras-tyo-ios1"]
    long_a = "a" * 30 + ".b/c:" + "d" * 29  # 64 characters
    long_b = "a" * 30 + "_b_c_" + "d" * 29  # the same token
    pools = ((long_a, (parse_prefix("100.64.0.0/16"),)), (long_b, (parse_prefix("100.65.0.0/16"),)))
    for mode, targets in (("block", ()), ("targeted", (parse_prefix("198.51.100.0/24"),))):
        plan = _plan("isp", mode, pools, (parse_prefix("192.0.2.25/32"),), (), targets, (587,), True, True, None)
        counted = [r for r in plan.rules if r.counter is not None]
        assert {r.pool for r in counted} == {long_a, long_b}
        assert len({r.counter for r in counted}) == len(counted)
        names = [r.counter or "" for r in counted] + list(plan.sets) + [r.name for r in plan.rules]
        assert all(re.fullmatch(r"[A-Za-z0-9_-]+", n) for n in names), names
        assert all(len(f"remark {r.remark}") <= 100 for r in plan.rules)
        device = replace(
            sample, pools=tuple(Pool(name=n, ipv4=[ipaddress.IPv4Network(x) for x in p]) for n, p in pools)
        )
        assert {(fam, *v) for (fam, _), v in _by_name(device, plan).items()} == {
            (4, pool, purpose) for pool in (long_a, long_b) for purpose in ("mta", "submission", "blocked")
        }


# ------------------------------------------------------------------ the devices' own answers, read back by collect

Counts = Iterator[int]


def _emulator(platform: str, text: str) -> Any:
    cls = get_platform(platform).emulator()
    assert cls is not None, platform
    return cls(initial_config=text, hostname="golden")


def _cisco(platform: str, dialect: str) -> Callable[[str, FilterPlan, Counts], list[CounterReading]]:
    def read(text: str, plan: FilterPlan, counts: Counts) -> list[CounterReading]:
        from op25b_cfg.dialects.cisco_blocks import acl_entries
        from op25b_cfg.dialects.cisco_counters import parse_show_access_lists

        emu = _emulator(platform, text)
        for _, acl, entries in acl_entries(emu.running.root):
            for seq, _ in entries:
                emu.counters.add(acl, seq, next(counts))
        show = get_platform(platform).module("emulator").show_access_lists
        return parse_show_access_lists(show(emu, 4) + show(emu, 6), dialect)

    return read


def _eos(text: str, plan: FilterPlan, counts: Counts) -> list[CounterReading]:
    from op25b_cfg.dialects.cisco_blocks import acl_entries
    from op25b_cfg.platforms.arista_eos.counters import COMMANDS, parse_acl_json

    emu = _emulator("arista_eos", text)
    for _, acl, entries in acl_entries(emu.running.root):
        for seq, _ in entries:
            emu.counters.add(acl, seq, next(counts))
    answers, error = emu.run_cmds(list(COMMANDS), "json")
    assert error is None, error
    return parse_acl_json(answers)


def _junos(text: str, plan: FilterPlan, counts: Counts) -> list[CounterReading]:
    from lxml import etree

    from op25b_cfg.platforms.juniper_junos.counters import parse_firewall_information

    emu = _emulator("juniper_junos", text)
    for rule in plan.rules:
        if rule.counter is not None:
            emu.counters.add(plan.filter_name(rule.family), rule.counter, next(counts))
    return parse_firewall_information(etree.fromstring(emu._firewall_information(None)))


def _vrp(text: str, plan: FilterPlan, counts: Counts) -> list[CounterReading]:
    from op25b_cfg.platforms.huawei_vrp.counters import COMMANDS, parse_display_acl
    from op25b_cfg.platforms.huawei_vrp.emulator import acl_entries, display_acl

    emu = _emulator("huawei_vrp", text)
    for _, acl, entries in acl_entries(emu.running):
        for seq, _ in entries:
            emu.counters.add(acl, seq, next(counts))
    return [r for fam, cmd in COMMANDS for r in parse_display_acl(display_acl(emu, cmd) or "", fam)]


def _routeros(text: str, plan: FilterPlan, counts: Counts) -> list[CounterReading]:
    from op25b_cfg.platforms.mikrotik_routeros.counters import MENUS, parse_stats, stats_command
    from op25b_cfg.platforms.mikrotik_routeros.emulator import filter_entries

    emu = _emulator("mikrotik_routeros", text)
    for _, chain, rows in filter_entries(emu):
        for item_id, _ in rows:
            emu.counters.add(chain, item_id, next(counts))
    return [
        r
        for family, (lists, rules) in MENUS.items()
        for r in parse_stats(
            emu.run(f"{lists} print terse show-ids without-paging"),
            emu.run(f"{rules} print terse show-ids without-paging"),
            emu.run(stats_command(rules)),
            family,
        )
    ]


def _nft(text: str, plan: FilterPlan, counts: Counts) -> list[CounterReading]:
    """The kernel's own ``nft -j`` listing of the rendered table, each counter preset to its count."""
    from op25b_cfg.platforms.linux_nftables.counters import TABLE, parse_json_listing

    nft = need_nft()
    need(shutil.which("unshare") is not None, "unshare (util-linux) not found")
    counted = re.sub(r"\bcounter\b(?! packets)", lambda _: f"counter packets {next(counts)} bytes 0", text)
    listing = subprocess.run(
        ["unshare", "-n", "sh", "-c", '"$0" -f - && "$0" -j list table inet op25b', nft],
        input=counted,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return parse_json_listing(listing, f"{TABLE} {plan.header}")


READ = {
    "cisco_ios": _cisco("cisco_ios", "ios"),
    "cisco_iosxr": _cisco("cisco_iosxr", "xr"),
    "arista_eos": _eos,
    "juniper_junos": _junos,
    "huawei_vrp": _vrp,
    "mikrotik_routeros": _routeros,
    "linux_nftables": _nft,
}
"""Per platform: load the rendered config into the device (its emulator; nftables: the kernel), give every OP25B
counter its own count, and read the device's answer with the platform's counter reader (the parse step of its
``read_counters``)."""


def _entries(parsed: ParsedConfig) -> Iterator[tuple[Rule, bool]]:
    """Every entry of the parsed filters and the chains they jump to (each chain once), with whether it returns
    from its chain (RouterOS renders op25b's permits as ``return``)."""
    chains = {id(c): c for f in parsed.filters.values() for c in f.reachable()}
    for chain in chains.values():
        for i, rule in enumerate(chain.rules):
            call = chain.calls.get(i)
            yield rule, call is not None and call.verdict == "return"


def _purpose_of(rule: Rule, mtas: set[str]) -> str | None:
    """The purpose an entry serves, from its own match (independent of the plan and of the attribution)."""
    ports = {(p.lo, p.hi) for p in rule.dst_ports}
    if rule.action is Action.DENY and ports == {(25, 25)}:
        return "blocked"
    if rule.action is Action.PERMIT and ports and ports <= {(587, 587), (465, 465)}:
        return "submission"
    if rule.action is Action.PERMIT and ports == {(25, 25)}:
        return "mta" if rule.dst and {str(d) for d in rule.dst} <= mtas else "exempt" if not rule.dst else None
    return None


def _pool_of(rule: Rule, pools: dict[str, list[Any]]) -> str:
    """The one pool all of the entry's sources lie in (independent of the attribution)."""
    nets = [s.prefix() for s in rule.src]
    found = [
        name
        for name, prefixes in pools.items()
        if nets and all(n is not None and any(n.subnet_of(p) for p in prefixes if p.version == n.version) for n in nets)
    ]
    assert len(found) == 1, (rule, found)
    return found[0]


@pytest.mark.parametrize("case", _cases())
def test_every_counter_the_device_shows_is_attributed_to_exactly_its_pool_and_purpose(
    case: Case, tmp_path: Path
) -> None:
    dev = _device(case, tmp_path)
    plan = api.plan(dev)
    text = case.expected_config.read_text(encoding="utf-8")
    readings = READ[case.platform](text, plan, iter(range(1001, 100_000, 7)))
    # the oracle: each entry as the platform's config parser reads it (by counter name where it has one)
    parsed = list(_entries(get_platform(case.platform).parse(text)))
    by_counter = {(r.family, r.counter): r for r, _ in parsed if r.counter}
    pools = {p.name: [ipaddress.ip_network(n) for n in p.all()] for p in dev.pools}
    mtas = {str(ipaddress.ip_network(m)) for m in dev.policy.mtas.all()}
    want: dict[tuple[str, str], int] = {}
    got: dict[tuple[str, str], int] = {}
    for reading in readings:
        entry = reading.rule
        if entry is None:
            family = 6 if "-V6-" in reading.filter else 4
            entry = by_counter[(family, reading.counter)]
        if entry.action is Action.NEXT:  # a RouterOS return from op25b's chain: op25b lets the packet go on
            entry = replace(entry, action=Action.PERMIT)
        purpose = _purpose_of(entry, mtas)
        sample = attribute(dev, plan, reading, 0.0)
        if purpose is None:
            assert sample is None, (reading, sample)  # the final permit, the forward jump: no OP25B purpose
            continue
        assert sample is not None, reading
        assert (sample.pool, sample.purpose) == (_pool_of(entry, pools), purpose), reading
        assert sample.packets == reading.packets > 0
        key = (sample.pool, sample.purpose)
        want[key] = want.get(key, 0) + reading.packets
        got[key] = got.get(key, 0) + sample.packets
    assert got == want
    every = {(pool, purpose) for pool in ("DYN-A", "DYN-B", "DYN-V6") for purpose in PURPOSES}
    assert set(got) == every  # every (pool, purpose) the plan counts is on the device and read back


def _flow_cases() -> list[Any]:
    """The flow-control golden cases whose filters a device lists without subscribers: a Junos dynamic profile's
    filter exists only per subscriber session (its instances: tests/test_effect_limits.py)."""
    return [
        pytest.param(c, id=c.id)
        for c in discover()
        if "flow" in c.name
        and not c.wants_error
        and (c.platform, c.name) != ("juniper_junos", "flow_control_dynamic_profile")
    ]


@pytest.mark.parametrize("case", _flow_cases())
def test_flow_control_counters_are_limit_counts_or_what_their_entry_passes(case: Case, tmp_path: Path) -> None:
    """Flow control, read back as collect reads it: the limit entries' counts (IOS class-ACL ``permit ... syn``,
    the Junos limit term's ``count``, the nft limit rules, RouterOS's ``reject`` after ``dst-limit``) are
    ``limited`` where they count what the limit dropped and ``flow_applies`` where they count what it applies to;
    the exemption, relay and submission entries count their own purpose, never a limit's. With counters off no
    reading is attributed."""
    dev = _device(case, tmp_path)
    plan = api.plan(dev)
    text = case.expected_config.read_text(encoding="utf-8")
    readings = READ[case.platform](text, plan, iter(range(1001, 100_000, 7)))
    samples = [(r, s) for r in readings if (s := attribute(dev, plan, r, 0.0)) is not None]
    if not dev.counters:
        assert samples == []
        return
    purposes = {s.purpose for _, s in samples}
    assert purposes & {"limited", "flow_applies"}, [(r.counter, s.purpose) for r, s in samples]
    assert "blocked" not in purposes  # flow control blocks nothing outright
    mtas = {str(ipaddress.ip_network(m)) for m in dev.policy.mtas.all()}
    for reading, sample in samples:
        assert sample.pool in {p.name for p in dev.pools}, sample
        if sample.purpose == "limited":
            assert reading.dropped, reading  # a hit only where the count is of what the limit dropped
        entry = reading.rule
        if entry is not None and entry.action in (Action.PERMIT, Action.NEXT) and not entry.tcp_flags:
            own = _purpose_of(replace(entry, action=Action.PERMIT), mtas)
            if own is not None:  # an exemption, relay or submission entry: its own purpose
                assert sample.purpose == own, (reading, sample)
