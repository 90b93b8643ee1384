"""Which pool and purpose a device counter counts, from its name or from what it matches: the one place that
reads a device's counters back to what :func:`op25b_cfg.rules.build_plan` wrote (each counted plan rule carries
its counter name, :attr:`Rule.counter`, and its pool, :attr:`Rule.pool`; :func:`~op25b_cfg.rules.counter_purpose`
reads the purpose from the rule's name). ``op25b effect collect`` uses it; tests/test_counters.py reads every
counter of every platform's rendered multi-pool filters back through it.

Vendor-neutral: a platform's reader gives each counter its id and, where the device output shows it, the
:class:`~op25b_cfg.rules.Rule` the entry matches. When the filter is the device's current version, the plan
says what the counter is: the plan rule the entry was rendered from (:func:`plan_rule`), or the plan rule
carrying that counter name (e.g. a Junos ``count``); its pool is the rule's pool. Otherwise (a filter of an
older version, a counter the plan does not know) the purpose comes, in this order, from

1. a purpose word in the counter's name (``OP25B-BLOCK...``, ``...-submission-...``),
2. the entry's own rule: a port-25 deny is ``blocked``, a port-25 permit to given destinations ``mta``, a
   port-25 permit to any destination ``exempt``, a permit to other ports ``submission``, a limit ``limited``;

and the pool from a pool's name or name token (:func:`~op25b_cfg.rules.pool_tokens`) in the counter's name,
else the device's pools whose prefixes the counter's source addresses overlap (an exemption: the pools it lies
in), else all the device's pools. Several pools are one ``+``-joined name (``osaka+tokyo``): when a rendered
filter merges pools, its counters cannot be split between them. Either way a limit's count is a hit
(``limited``) only when the reading counts what the limit dropped (:attr:`CounterReading.dropped`), else
``flow_applies`` (:func:`limit_purpose`). Counters that count none of the purposes (the final permit, foreign
entries) are dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from op25b_cfg.effect.model import CounterReading, Sample
from op25b_cfg.rules import SMTP, Action, AddrMatch, FilterPlan, Rule, counter_purpose, pool_tokens

if TYPE_CHECKING:
    from op25b_cfg.inventory import Device

_PURPOSE_WORDS = {
    "block": "blocked",
    "blocked": "blocked",
    "limit": "limited",
    "limited": "limited",
    "mta": "mta",
    "relay": "mta",
    "submission": "submission",
    "exempt": "exempt",
}
_WORD = re.compile(r"[A-Za-z0-9]+")
VERSION = re.compile(r"(?<![0-9a-f])([0-9a-f]{8})(?![0-9a-f])")


def filter_version(name: str) -> str:
    """The 8-hex-digit version id in a filter or table name ('' when it has none).

    >>> filter_version("OP25B-V4-1a2b3c4d"), filter_version("op25b golden-isp 5c0e5d20 mode block")
    ('1a2b3c4d', '5c0e5d20')
    >>> filter_version("CUSTOMER-ACL")
    ''
    """
    found = VERSION.search(name.lower())
    return found.group(1) if found else ""


def purpose_of_name(counter: str) -> str | None:
    """The purpose a counter's name states, if any.

    >>> purpose_of_name("OP25B-BLOCK"), purpose_of_name("op25b-submission-tokyo"), purpose_of_name("20")
    ('blocked', 'submission', None)
    """
    for word in _WORD.findall(counter.lower()):
        if word in _PURPOSE_WORDS:
            return _PURPOSE_WORDS[word]
    return None


def purpose_of_rule(rule: Rule) -> str | None:
    """The purpose of a filter entry from what it matches (None: not an OP25B counter).

    >>> from op25b_cfg.rules import PortRange
    >>> purpose_of_rule(Rule(Action.DENY, 4, 6, dst_ports=(PortRange(25, 25),)))
    'blocked'
    >>> purpose_of_rule(Rule(Action.PERMIT, 4, 6, dst_ports=(PortRange(587, 587),)))
    'submission'
    >>> purpose_of_rule(Rule(Action.PERMIT, 4, None)) is None
    True
    """
    if rule.pool:  # a plan rule: its name says
        return counter_purpose(rule.name)
    if rule.protocol != 6 or not rule.dst_ports:
        return None
    smtp = any(SMTP in p for p in rule.dst_ports)
    if rule.action is Action.LIMIT:
        return "limited"
    if rule.action is Action.DENY:
        return "blocked" if smtp else None
    if rule.action is Action.PERMIT:
        if not smtp:
            return "submission"
        return "mta" if rule.dst else "exempt"
    return None


def limit_purpose(purpose: str | None, dropped: bool) -> str | None:
    """A limit's count is a hit (``limited``) only when it counts what the limit dropped; a count of every
    packet the limit applies to (the policed class ACL, the limit term's ``count``) is ``flow_applies``.
    A drop count with no other purpose (a policer's) is a hit.

    >>> limit_purpose("limited", False), limit_purpose("limited", True), limit_purpose(None, True)
    ('flow_applies', 'limited', 'limited')
    >>> limit_purpose("blocked", True), limit_purpose(None, False)
    ('blocked', None)
    """
    if dropped and purpose in (None, "limited"):
        return "limited"
    return "flow_applies" if purpose == "limited" else purpose


def _overlaps(a: AddrMatch, prefix: AddrMatch) -> bool:
    common = a.mask & prefix.mask
    return (a.value & common) == (prefix.value & common)


def pools_of(device: Device, sources: tuple[AddrMatch, ...]) -> list[str]:
    """Names of the device's pools whose prefixes overlap any of ``sources`` (all pools for no sources)."""
    if not sources:
        return [p.name for p in device.pools]
    pools = tuple((p.name, tuple(AddrMatch.from_prefix(n) for n in p.all())) for p in device.pools)
    return list(_overlapping(pools, sources))


@lru_cache(maxsize=65536)
def _overlapping(
    pools: tuple[tuple[str, tuple[AddrMatch, ...]], ...], sources: tuple[AddrMatch, ...]
) -> tuple[str, ...]:
    """Names of ``pools`` (name, prefixes) with a prefix overlapping any of ``sources``; memoised: every device
    of a fleet shares a few pools and entries."""
    return tuple(
        name
        for name, prefixes in pools
        if any(_overlaps(s, p) for s in sources for p in prefixes if s.family == p.family)
    )


def names_pool(counter: str, pool: str) -> bool:
    """Whether a counter's name contains the pool's name as a whole word.

    >>> names_pool("OP25B-BLOCK-DYN-TOKYO", "DYN-TOKYO"), names_pool("OP25B-BLOCK-DYN-TOKYO2", "DYN-TOKYO")
    (True, False)
    """
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(pool)}(?![A-Za-z0-9])", counter, re.IGNORECASE) is not None


def filter_family(plan: FilterPlan | None, name: str) -> int | None:
    """The address family of an op25b filter name (``OP25B-V6-...``), None when it does not say.

    >>> filter_family(None, "OP25B-V6-1a2b3c4d"), filter_family(None, "inet op25b 1a2b3c4d")
    (6, None)
    """
    if plan is not None:
        for fam in plan.families:
            if plan.filter_name(fam) == name:
                return fam
    found = re.search(r"-V([46])-", name, re.IGNORECASE)
    return int(found.group(1)) if found else None


def pool_of(device: Device, counter: str, rule: Rule | None) -> str:
    """The pool (or ``+``-joined pools) a counter counts; see the module doc."""
    if rule is not None and rule.pool:  # a plan rule
        return rule.pool
    pools = tuple(p.name for p in device.pools)
    tokens = pool_tokens(pools)  # what a counter name holds (the plan's tokens where no two pools clash)
    named = sorted(n for n, t in zip(pools, tokens, strict=True) if names_pool(counter, n) or names_pool(counter, t))
    if named:
        return "+".join(named)
    found = pools_of(device, rule.src if rule is not None else ())
    return "+".join(sorted(found or [p.name for p in device.pools]))


def plan_rule(plan: FilterPlan, entry: Rule) -> Rule | None:
    """The rule of ``plan`` a device's filter entry was rendered from: same family, protocol, destination ports
    within the rule's, sources and destinations among the rule's (a rule renders as one entry per source,
    destination and port on ACL platforms). The action is not compared: a flow-control class ACL writes the
    exemption and relay rules as ``deny`` (left out of the policed class), not as blocks.

    >>> from op25b_cfg.rules import PortRange
    >>> smtp = (PortRange(25, 25),)
    >>> exempt = Rule(Action.PERMIT, 4, 6, "exempt", src=(AddrMatch(4, 1, 0xFFFFFFFF),), dst_ports=smtp)
    >>> plan = FilterPlan("p", "flow-control", "aaaa0001", {}, (exempt,), (4,))
    >>> plan_rule(plan, Rule(Action.DENY, 4, 6, src=(AddrMatch(4, 1, 0xFFFFFFFF),), dst_ports=smtp)).name
    'exempt'
    """
    for rule in plan.rules:
        if rule.family != entry.family or rule.protocol != entry.protocol:
            continue
        if not all(any(p.lo <= q.lo and q.hi <= p.hi for p in rule.dst_ports) for q in entry.dst_ports):
            continue
        if bool(rule.dst_ports) != bool(entry.dst_ports):
            continue
        same_sides = bool(entry.src) == bool(rule.src) and bool(entry.dst) == bool(rule.dst)
        if same_sides and set(entry.src) <= set(rule.src) and set(entry.dst) <= set(rule.dst):
            return rule
    return None


def named_rule(plan: FilterPlan, counter: str, family: int | None) -> Rule | None:
    """The plan rule whose counter ``counter`` is: the one of that name, else the one it is an instance of
    (``<name>-<instance>``, e.g. a Junos interface-specific filter's counter), the longest such name (a pool
    token may end in ``-2``: ``OP25B-BLOCK-a_b-2`` is the second ``a_b`` token's, not an instance of the first's).

    >>> from op25b_cfg.netaddr import parse_prefix as pp
    >>> from op25b_cfg.rules import _plan
    >>> plan = _plan("isp", "block", (("a/b", (pp("100.64.0.0/16"),)), ("a_b", (pp("100.65.0.0/16"),))),
    ...              (), (), (), (), False, True, None)
    >>> named_rule(plan, "OP25B-BLOCK-a_b-2", 4).pool, named_rule(plan, "OP25B-BLOCK-a_b-ge-0/0/0.100-i", 4).pool
    ('a_b', 'a/b')
    """
    found = [
        r
        for r in plan.rules
        if r.counter is not None
        and (counter == r.counter or counter.startswith(f"{r.counter}-"))
        and family in (None, r.family)
    ]
    return max(found, key=lambda r: len(r.counter or ""), default=None)


def attribute(
    device: Device, plan: FilterPlan | None, reading: CounterReading, time: float, uptime: float | None = None
) -> Sample | None:
    """The stored sample for one reading (with the device's ``uptime`` at ``time``), or None when it counts no
    OP25B purpose."""
    rule = reading.rule
    if rule is not None and plan is not None and filter_version(reading.filter) == plan.version:
        rendered = plan_rule(plan, rule)  # the current filter: the plan says what each entry is for
        if rendered is not None:
            rule = rendered
    if rule is None and plan is not None:
        family = filter_family(plan, reading.filter)
        rule = named_rule(plan, reading.counter, family)
        if rule is None and reading.dropped:  # a policer: the limit of its filter's family
            limits = [r for r in plan.rules if r.action is Action.LIMIT and family in (None, r.family)]
            rule = limits[0] if len(limits) == 1 else None
    purpose = purpose_of_name(reading.counter)
    if purpose is None and rule is not None:
        purpose = purpose_of_rule(rule)
    purpose = limit_purpose(purpose, reading.dropped)
    if purpose is None:
        return None
    return Sample(
        device=device.name,
        filter_version=filter_version(reading.filter),
        counter=f"{reading.filter} {reading.counter}",
        pool=pool_of(device, reading.counter, rule),
        purpose=purpose,
        packets=reading.packets,
        bytes=reading.bytes or 0,
        time=time,
        uptime=uptime,
    )
