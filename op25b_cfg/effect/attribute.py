"""Which pool and purpose a device counter counts, from its name or from what it matches.

Vendor-neutral: a platform's reader gives each counter its id and, where the device output shows it, the
:class:`~op25b_cfg.rules.Rule` the entry matches. The purpose comes, in this order, from

1. a purpose word in the counter's name (``OP25B-BLOCK...``, ``...-submission-...``),
2. the plan rule the entry was rendered from, when the filter is the device's current version
   (:func:`plan_rule`), or the plan rule carrying that counter name (:attr:`Rule.counter`, e.g. a Junos
   ``count``); else the entry's own rule: a port-25 deny is ``blocked``, a port-25 permit to given
   destinations ``mta``, a port-25 permit to any destination ``exempt``, a permit to other ports
   ``submission``, a limit ``limited``;

and the pool from a pool name in the counter's name, else the device's pools whose prefixes the counter's
source addresses overlap (an exemption: the pools it lies in), else all the device's pools. Several pools
are one ``+``-joined name (``osaka+tokyo``): when a rendered filter merges pools, its counters cannot be
split between them. Counters that count none of the purposes (the final permit, foreign entries) are dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from op25b_cfg.effect.model import RULE_PURPOSE, CounterReading, Sample
from op25b_cfg.rules import SMTP, Action, AddrMatch, FilterPlan, Rule

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
    if rule.name in RULE_PURPOSE:
        return RULE_PURPOSE[rule.name]
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
    named = sorted(p.name for p in device.pools if names_pool(counter, p.name))
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


def attribute(device: Device, plan: FilterPlan | None, reading: CounterReading, time: float) -> Sample | None:
    """The stored sample for one reading, or None when it counts no OP25B purpose."""
    rule = reading.rule
    if rule is not None and plan is not None and filter_version(reading.filter) == plan.version:
        rendered = plan_rule(plan, rule)  # the current filter: the plan says what each entry is for
        if rendered is not None:
            rule = rendered
    if rule is None and plan is not None:
        family = filter_family(plan, reading.filter)
        rule = next(
            (
                r
                for r in plan.rules
                if r.counter is not None and r.counter == reading.counter and family in (None, r.family)
            ),
            None,
        )
    purpose = purpose_of_name(reading.counter)
    if purpose is None and rule is not None:
        purpose = purpose_of_rule(rule)
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
    )
