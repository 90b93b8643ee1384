"""Every process-wide cache is declared in the module that uses it and registered with ``op25b_cfg.caches``:
``api.clear_caches()`` (``caches.clear()``) empties every one of them after real work filled them."""

from __future__ import annotations

import dataclasses
import ipaddress
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from op25b_cfg import api, caches, rules
from op25b_cfg.audit import checks, drift, evaluate
from op25b_cfg.dialects import cisco
from op25b_cfg.inventory_model import Exemptions
from op25b_cfg.platforms import base

REPO = Path(__file__).resolve().parent.parent
NAMED = {
    "rules.PLANS": rules.PLANS,
    "platforms.base.PLAN_BLOCKS": base.PLAN_BLOCKS,
    "platforms.base.RENDERED": base.RENDERED,
    "platforms.base.CHECKED": base.CHECKED,
    "platforms.base.TEMPLATES": base.TEMPLATES,
    "platforms.base.VERIFIED_TEMPLATES": base.VERIFIED_TEMPLATES,
    "dialects.cisco.FAST_ACES": cisco.FAST_ACES,
    "audit.evaluate.FILTER_IDS": evaluate.FILTER_IDS,
    "audit.evaluate.EVALS": evaluate.EVALS,
    "audit.checks.QUERIES": checks.QUERIES,
    "audit.checks.POLICY_SETS": checks.POLICY_SETS,
    "audit.checks.POLICY_SETS_BY_ID": checks.POLICY_SETS_BY_ID,
    "audit.checks.BY_ID": checks.BY_ID,
    "audit.checks.QUESTIONS": checks.QUESTIONS,
    "audit.checks.PREFERRED": checks.PREFERRED,
    "audit.checks.PASSED": checks.PASSED,
    "audit.drift.INTENDED_RULES": drift.INTENDED_RULES,
}


def test_every_cache_is_registered() -> None:
    registered = {id(c) for c in caches._CACHES}
    assert [name for name, c in NAMED.items() if id(c) not in registered] == []


def test_clear_empties_every_cache_a_render_and_an_audit_filled() -> None:
    inv = api.load(REPO / "inventory")
    for dev in inv.devices.values():
        text = api.render(dev)
        api.audit_text(dev, text)
    filled = [name for name, c in NAMED.items() if c]
    assert {
        "rules.PLANS",
        "platforms.base.RENDERED",
        "platforms.base.CHECKED",
        "audit.evaluate.EVALS",
        "dialects.cisco.FAST_ACES",
    } <= set(filled)
    api.clear_caches()
    assert [name for name, c in NAMED.items() if c] == []


def test_a_loaded_device_is_checked_once_and_a_changed_copy_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader checks every device it validates (``CHECKED`` holds it: rendering does not check it again); a
    copy with another value is another object, checked when rendered: an attachment its platform cannot take is
    refused, though the device it was copied from passed."""
    monkeypatch.setenv("OP25B_NO_CACHE", "1")  # the validating load, not the cache's
    api.clear_caches()
    inv = api.load(REPO / "inventory")
    assert all(base.CHECKED[(d.platform, id(d))] is d for d in inv.devices.values())
    dev = next(d for d in inv.devices.values() if d.platform == "cisco_ios")
    copy = dataclasses.replace(dev, attach=dev.attach[:1])
    assert (copy.platform, id(copy)) not in base.CHECKED
    api.render(copy)  # an attachment it can take: checked and rendered
    assert base.CHECKED[(copy.platform, id(copy))] is copy
    unit = type(dev.attach[0])(kind="unit", name="ge-0/0/1.100", direction="in")
    with pytest.raises(api.Op25bError, match=r"cannot attach a filter to a unit .*Fix: "):
        api.render(dataclasses.replace(dev, attach=(unit,)))
    assert (dev.platform, id(dev)) in base.CHECKED


def _variants(text: str) -> list[str]:
    """The rendered config, without its first port-25 deny, without its attachment lines, each also after
    some comment lines (every line number shifts)."""
    deny = re.sub(
        r"^.*(deny tcp .* eq 25|tcp dport 25 .*reject|action=reject .*dst-port=25).*\n", "", text, count=1, flags=re.M
    )
    unbound = re.sub(
        r"^.*(access-group|traffic-filter|input OP25B|jump subscriber|jump-target=OP25B).*\n", "", text, flags=re.M
    )
    return [v for body in (text, deny, unbound) for v in (body, "#\n" * 3 + body)]


def test_memos_never_change_a_report() -> None:
    """The process-wide memos serve devices by content: every sample device's config and its variants (a deny
    or the attachment removed, every line shifted) audited with every cache emptied first, then all of them
    warm in a random order, twice: the same reports."""
    inv = api.load(REPO / "inventory")
    jobs = [(dev, v) for dev in inv.devices.values() for v in _variants(api.render(dev))]
    cold = []
    for dev, text in jobs:
        api.clear_caches()
        cold.append(api.audit_text(dev, text))
    assert {r.verdict.value for r in cold} >= {"COMPLIANT", "NONCOMPLIANT"}
    order = list(range(len(jobs))) * 2
    random.Random(7).shuffle(order)
    for i in order:
        assert api.audit_text(*jobs[i]) == cold[i], jobs[i][0].name


_PREFIXES = [
    (ipaddress.ip_network(f"198.51.100.{16 * i}/28"), ipaddress.ip_network(f"203.0.113.{16 * j}/28"))
    for i in range(3)
    for j in range(2)
]
_MTAS = (ipaddress.ip_network("192.0.2.25/32"),)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_PREFIXES) - 1), st.booleans()), min_size=1, max_size=40))
def test_questions_by_identity_are_the_questions_by_content(ops: list[tuple[int, bool]]) -> None:
    """query_of, replies and preferred keyed on the identity of prefix tuples (checks.BY_ID) answer what they
    answer for the same prefixes in a new list (content keys only), however tuples of other prefixes are made
    and dropped in between (a freed tuple's id is reused by the next one of its size)."""
    ev = evaluate.Evaluator(4)
    kept = []
    for which, keep in ops:
        src = tuple([*_PREFIXES[which]])  # a new object each time
        got = (
            checks.query_of(ev, src=src, dst_except=_MTAS, ports=(25,), flags=evaluate.SYN_ONLY),
            checks.replies(ev, src=src, dst=_MTAS, port=25, sports=(1024, 65535)),
            checks.preferred(src, _MTAS, 4),
        )
        again = (
            checks.query_of(ev, src=src, dst_except=_MTAS, ports=(25,), flags=evaluate.SYN_ONLY),
            checks.replies(ev, src=src, dst=_MTAS, port=25, sports=(1024, 65535)),
            checks.preferred(src, _MTAS, 4),
        )
        want = (
            checks.query_of(ev, src=list(src), dst_except=list(_MTAS), ports=(25,), flags=evaluate.SYN_ONLY),
            checks.replies(ev, src=list(src), dst=list(_MTAS), port=25, sports=(1024, 65535)),
            checks.preferred(list(src), list(_MTAS), 4),
        )
        assert got == want == again
        if keep:
            kept.append(src)
        del src, got, again, want


def test_policy_sets_by_identity_follow_the_device() -> None:
    """policy_sets keyed on the policy, pool and exemption objects: a device with other pools (a new object)
    gets its own sets, the same as a cold computation."""
    inv = api.load(REPO / "inventory")
    dev = next(iter(inv.devices.values()))
    first = checks.policy_sets(dev, 4)
    pool = dev.pools[0]
    other = dataclasses.replace(pool, ipv4=[ipaddress.ip_network("198.51.100.0/24")])
    moved = dataclasses.replace(dev, pools=(other, *dev.pools[1:]))
    got = checks.policy_sets(moved, 4)
    assert got[0][0][1] == (ipaddress.ip_network("198.51.100.0/24"),)
    assert checks.policy_sets(dev, 4) is first
    api.clear_caches()
    assert checks.policy_sets(moved, 4) == got
    assert checks.policy_sets(dev, 4) == first


_SAMPLE = next(iter(api.load(REPO / "inventory").devices.values()))
_SCOPED = Exemptions(
    static=[{"name": "ST", "prefix": "198.51.100.32/29", "devices": ["r1", "r2", "r3"]}],
    opt_out=[
        {"subscriber": "c1", "prefix": "198.51.100.7", "devices": ["r1"]},
        {"subscriber": "c2", "prefix": "198.51.100.7", "devices": ["r3"]},  # r1's prefixes, another name
        {"subscriber": "c6", "prefix": "2001:db8:8000:4711::/64", "devices": ["r2"]},
    ],
)
_V6 = (ipaddress.ip_network("2001:db8:8000::/48"), ipaddress.ip_network("2001:db8:9000::/48"))
_SPECS = [
    (name, picks, mode, ports, fam)
    for name in ("r1", "r2", "r3")
    for picks in ((0,), (1,), (0, 1))
    for mode in ("block", "targeted", "flow-control")
    for ports in ((), (587,), (587, 465))
    for fam in (4, 6)
]
_COLD: list[checks.Questions] = []


def _questions_of(spec: tuple[str, tuple[int, ...], str, tuple[int, ...], int]) -> checks.Questions:
    """questions() for a sample device renamed (so other exemptions apply), with new pool objects of the given
    prefixes, mode and ports."""
    name, picks, mode, ports, fam = spec
    dev = _SAMPLE
    policy = dataclasses.replace(dev.policy, exemptions=_SCOPED)
    pools = tuple(dataclasses.replace(dev.pools[0], name="P", ipv4=[_PREFIXES[i][0]], ipv6=[_V6[i]]) for i in picks)
    moved = dataclasses.replace(dev, name=name, policy=policy, pools=pools, mode=mode)
    return checks.questions(moved, evaluate.Evaluator(fam), mode, ports)


@settings(max_examples=15, deadline=None)
@given(st.permutations(range(len(_SPECS))), st.lists(st.booleans(), min_size=len(_SPECS), max_size=len(_SPECS)))
def test_questions_by_identity_are_a_cold_computation(order: list[int], keep: list[bool]) -> None:
    """checks.questions, memoised on the identity of a device's policy sets and applying exemptions: for devices
    that differ in name (so in the exemptions that apply), pools (new objects, some dropped so their ids are
    reused), mode, submission ports and family, asked in any order, a warm process answers what it answers
    for each one with every cache emptied first."""
    if not _COLD:
        for spec in _SPECS:
            api.clear_caches()
            _COLD.append(_questions_of(spec))
    kept = []
    for i in order:
        got = _questions_of(_SPECS[i])
        assert got == _COLD[i], _SPECS[i]
        if keep[i]:
            kept.append(got)
