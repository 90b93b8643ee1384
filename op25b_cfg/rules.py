"""The vendor-neutral rule model, and the one function that builds it from the intent.

Every platform renders the :class:`FilterPlan` that :func:`build_plan` returns, and the auditor parses
running configs into the same :class:`Rule` type. Nothing platform-specific decides what is permitted.

Rule order (per address family, first match wins)::

    1 permit tcp EXEMPT      -> any     dport 25        exemptions that lie inside the pools
    2 permit tcp POOL        -> MTA     dport 25        the ISP's own relays
    3 permit tcp POOL        -> any     dport 587,465   submission stays open
    4 deny   tcp POOL        -> any     dport 25        mode block     (log, counter)
      deny   tcp POOL        -> TARGET  dport 25        mode targeted  (log, counter)
      limit  tcp POOL        -> any     dport 25        mode flow-control (per-source limits)
    5 permit ip  any         -> any                     everything else is untouched

Counters you can attribute: with counters on, every rule of steps 1-4 carries one counter, and each counter
belongs to one (pool, purpose). Where a family has one pool, each step is one rule (sets ``OP25B-POOL-V4``,
``OP25B-EXEMPT-V4``; counters ``OP25B-EXEMPT``, ``-MTA``, ``-SUBMISSION``, ``-BLOCK``, ``-LIMIT``). Where a family
has several pools, each of steps 1-4 is one rule per pool, in policy order, with the pool's own sets
(``OP25B-POOL-V4-<pool>``, ``OP25B-EXEMPT-V4-<pool>``, the exemptions carved per pool) and counters
(``OP25B-BLOCK-<pool>``; ``<pool>`` is :func:`pool_token`). Consecutive rules with one action and one match but
their sources are one rule over the union of the sources, so the split changes nothing a packet meets (the audit
proves the same semantics either way). :mod:`op25b_cfg.effect.attribute` maps a device's counter, by its name or
by the entry it counts, back to the plan rule and so to its (pool, purpose) (:func:`counter_purpose`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from op25b_cfg import caches
from op25b_cfg.netaddr import Network, collapse

if TYPE_CHECKING:
    from op25b_cfg.intent_protocols import Device

TCP = 6
UDP = 17
ICMP = 1
ICMPV6 = 58
SMTP = 25

# TCP flag bits, as in the TCP header.
FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
FlagMatch = tuple[tuple[int, int], ...]
"""Alternatives of (mask, value) over the TCP flags byte; a packet matches when any alternative does.
``()`` matches every packet."""
ESTABLISHED: FlagMatch = ((ACK, ACK), (RST, RST))
NEW_CONNECTION: FlagMatch = ((SYN, SYN),)


SYN_RETRANSMISSIONS = (1, 3, 7, 15, 31, 63)
"""When a Linux client sends its SYN again while no answer comes (seconds after its first SYN), with the default
``net.ipv4.tcp_syn_retries=6``: initial RTO 1 s, doubled each time; it gives up 127 s after the first SYN. Linux
6.5 and later (``net.ipv4.tcp_syn_linear_timeouts=4``) first retries four times a second apart: 1, 2, 3, 4, 5,
7, 11, 19, 35, 67 s, giving up after about 134 s (measured in the namespace lab on 6.18)."""
MAX_CONNECT_DELAY = SYN_RETRANSMISSIONS[-1]
"""The longest connection delay (seconds) after which every Linux client still sends a SYN."""


class Action(StrEnum):
    PERMIT = "permit"
    DENY = "deny"
    LIMIT = "limit"
    """Flow control: packets over the per-source limits are dropped, the rest go on to the next rule."""
    NEXT = "next"
    """No verdict (Junos ``next term``, a counter-only nft rule): evaluation goes on."""


@dataclass(frozen=True, slots=True)
class PortRange:
    """An inclusive port range.

    >>> str(PortRange(25, 25)), str(PortRange(20, 30))
    ('25', '20-30')
    """

    lo: int
    hi: int

    def __str__(self) -> str:
        return str(self.lo) if self.lo == self.hi else f"{self.lo}-{self.hi}"

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.lo <= port <= self.hi


@dataclass(frozen=True, slots=True)
class AddrMatch:
    """An address pattern: the bits set in ``mask`` must equal ``value``. A prefix has a contiguous mask;
    Cisco wildcard masks may be non-contiguous.

    >>> from op25b_cfg.netaddr import parse_prefix
    >>> a = AddrMatch.from_prefix(parse_prefix("192.0.2.0/24"))
    >>> str(a), a.is_prefix
    ('192.0.2.0/24', True)
    >>> str(AddrMatch(4, 0x0A000001, 0xFF0000FF))
    '10.0.0.1/0.255.255.0'
    """

    family: int
    value: int
    mask: int

    @staticmethod
    def from_prefix(net: Network) -> AddrMatch:
        return AddrMatch(net.version, int(net.network_address), int(net.netmask))

    @property
    def bits(self) -> int:
        return 32 if self.family == 4 else 128

    @property
    def is_prefix(self) -> bool:
        inv = ~self.mask & ((1 << self.bits) - 1)
        return (inv & (inv + 1)) == 0

    def prefix(self) -> Network | None:
        """The prefix this pattern is, or None for a non-contiguous mask."""
        return _prefix_of(self.family, self.value, self.mask)

    def matches(self, addr: int) -> bool:
        return (addr & self.mask) == self.value

    def __str__(self) -> str:
        pfx = self.prefix()
        if pfx is not None:
            return str(pfx)
        make = ipaddress.IPv4Address if self.family == 4 else ipaddress.IPv6Address
        inv = ~self.mask & ((1 << self.bits) - 1)
        return f"{make(self.value)}/{make(inv)}"


@lru_cache(maxsize=65536)
def _prefix_of(family: int, value: int, mask: int) -> Network | None:
    bits = 32 if family == 4 else 128
    inv = ~mask & ((1 << bits) - 1)
    if inv & (inv + 1):
        return None
    plen = bin(mask).count("1")
    return ipaddress.IPv4Network((value, plen)) if family == 4 else ipaddress.IPv6Network((value, plen))


@dataclass(frozen=True, slots=True)
class PrefixSet:
    """A named set of prefixes of one family (Junos prefix-list, nft set, object-group)."""

    name: str
    family: int
    prefixes: tuple[Network, ...]

    def matches(self) -> tuple[AddrMatch, ...]:
        return tuple(AddrMatch.from_prefix(p) for p in self.prefixes)


@dataclass(frozen=True, slots=True)
class FlowLimit:
    """Per-source limits for port 25: concurrent sessions (None: not capped) and new connections/second;
    ``connect_delay_s``: every new connection is held back that many seconds (None: not delayed)."""

    max_sessions: int | None
    new_per_second: int
    burst: int
    ipv6_subscriber_length: int = 64
    connect_delay_s: int | None = None


@dataclass(frozen=True)
class Rule:
    """One ordered rule. Empty address/port tuples mean *any*; ``protocol`` None means any IP protocol.

    ``name`` is a short purpose label (generator: exempt, mta, submission, block, limit, default; parsers:
    the Junos term name or the ACL sequence number). ``src_set`` / ``dst_set`` name the :class:`PrefixSet`
    a rule was built from (renderers with named sets use them); ``src`` / ``dst`` always hold the concrete
    patterns. ``line`` and ``text`` locate a parsed rule in the running config it came from.

    ``iifname`` / ``oifname`` restrict a rule to packets entering / leaving through the named interfaces
    (nftables ``iifname`` / ``oifname``); empty means any interface. A name ending in ``*`` is an nft
    wildcard (``ppp*`` matches ``ppp0``). ``iifname_negate`` / ``oifname_negate`` invert the test
    (``iifname != { ... }``: any interface except those). Only the nftables parser sets them.
    """

    action: Action
    family: int
    protocol: int | None = None
    name: str = ""
    src: tuple[AddrMatch, ...] = ()
    dst: tuple[AddrMatch, ...] = ()
    src_except: tuple[AddrMatch, ...] = ()
    dst_except: tuple[AddrMatch, ...] = ()
    src_ports: tuple[PortRange, ...] = ()
    dst_ports: tuple[PortRange, ...] = ()
    tcp_flags: FlagMatch = ()
    src_set: str | None = None
    dst_set: str | None = None
    log: bool = False
    counter: str | None = None
    remark: str = ""
    limit: FlowLimit | None = None
    line: int | None = None
    text: str = ""
    # Parser-only fields (repr=False keeps them out of rule reprs); not part of the generator's plans.
    iifname: tuple[str, ...] = field(default=(), repr=False)
    oifname: tuple[str, ...] = field(default=(), repr=False)
    iifname_negate: bool = field(default=False, repr=False)
    oifname_negate: bool = field(default=False, repr=False)
    pool: str = field(default="", repr=False, compare=False)
    """Generator only: the pool whose counter this rule is (not part of the canonical plan: a pool's name reaches
    the config, and so the version id, through the rule's sets and counter only where its family has several
    pools)."""


@dataclass(frozen=True)
class FilterPlan:
    """Everything a platform renders for one device: named prefix sets and the ordered rules."""

    policy_name: str
    mode: str
    version: str
    sets: dict[str, PrefixSet]
    rules: tuple[Rule, ...]
    families: tuple[int, ...]
    flow: FlowLimit | None = None
    submission_ports: tuple[int, ...] = field(default=())

    def family_rules(self, family: int) -> list[Rule]:
        return [r for r in self.rules if r.family == family]

    def family_sets(self, family: int) -> list[PrefixSet]:
        return [s for s in self.sets.values() if s.family == family]

    def filter_name(self, family: int) -> str:
        """Versioned filter name, e.g. ``OP25B-V4-1a2b3c4d``: a changed intent gets a new name, so a push can
        build the new filter before it re-points the attachment (make-before-break)."""
        return f"OP25B-V{family}-{self.version}"

    @property
    def header(self) -> str:
        return f"{self.policy_name} {self.version} mode {self.mode}"


PLAN_FORMAT = "op25b.plan/1"
"""Version tag of the canonical plan serialisation that filter version ids hash (see :func:`canonical_plan`)."""

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def version_id(canonical: str) -> str:
    """The 8-hex-digit version id of a canonical plan text: the first 32 bits of its SHA-256 (UTF-8).

    >>> version_id("op25b.plan/1\\n{}")
    '603460f9'
    """
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


def canonical_plan(plan: FilterPlan) -> str:
    """The canonical serialisation of a plan, whose :func:`version_id` is ``plan.version``.

    Format ``op25b.plan/1``: the tag, a newline, then :func:`plan_document` as JSON with sorted keys, no
    whitespace, UTF-8 (non-ASCII characters not escaped). It depends only on what the plan means, never on
    Python class or field names; changing it means a new tag and renames every filter once.

    >>> from op25b_cfg.netaddr import parse_prefix
    >>> plan = _plan("isp", "block", (("P", (parse_prefix("192.0.2.0/24"),)),), (), (), (), (587,), False, False, None)
    >>> print(canonical_plan(plan))  # doctest: +ELLIPSIS
    op25b.plan/1
    {"mode":"block","policy":"isp","rules":[{"action":"permit","dst_ports":[587],...,"submission_ports":[587]}
    >>> version_id(canonical_plan(plan)) == plan.version
    True
    """
    return f"{PLAN_FORMAT}\n{_dumps(plan_document(plan))}"


def plan_document(plan: FilterPlan) -> dict[str, Any]:
    """The plan as plain data, the content of format ``op25b.plan/1``:

    * ``policy``, ``mode``: strings; ``flow`` (flow-control only): a limit, see below;
      ``submission_ports`` (when any): integers in intent order.
    * ``sets``: ``{name: {"family": 4|6, "prefixes": [canonical prefix text, ...]}}``.
    * ``rules``: in evaluation order, each ``{"action", "family", "protocol", "name", "src", "dst",
      "src_set", "dst_set", "src_except", "dst_except", "src_ports", "dst_ports", "tcp_flags", "log",
      "counter", "remark", "limit", "iifname", "oifname", "iifname_negate", "oifname_negate"}``; a member that
      is null, false, ``""`` or ``[]`` is left out. Addresses are canonical text (``192.0.2.0/24``,
      ``2001:db8::/32``; a non-contiguous mask as ``address/wildcard``); a rule that names a set gives no
      addresses for that side (the set holds them). A port is an integer, a range ``[lo, hi]``; TCP flags are
      ``[[mask, value], ...]``. A limit is ``{"max_sessions"?, "new_per_second", "burst",
      "ipv6_subscriber_length", "connect_delay_s"?}`` (members marked ? only when set). The position of a
      parsed rule in a config (``line``, ``text``) is not part of the plan.

    Raises ValueError when a rule's addresses differ from the set it names.
    """
    for rule in plan.rules:
        for name, addrs in ((rule.src_set, rule.src), (rule.dst_set, rule.dst)):
            if name is not None and (name not in plan.sets or plan.sets[name].matches() != addrs):
                raise ValueError(f"rule {rule.name!r}: addresses differ from set {name!r}")
    doc: dict[str, Any] = {
        "policy": plan.policy_name,
        "mode": plan.mode,
        "sets": {ps.name: _set_doc(ps) for ps in plan.sets.values()},
        "rules": [_rule_doc(r) for r in plan.rules],
    }
    if plan.flow is not None:
        doc["flow"] = _flow_doc(plan.flow)
    if plan.submission_ports:
        doc["submission_ports"] = list(plan.submission_ports)
    return doc


def _set_doc(ps: PrefixSet) -> dict[str, Any]:
    return {"family": ps.family, "prefixes": [str(p) for p in ps.prefixes]}


def _flow_doc(flow: FlowLimit) -> dict[str, Any]:
    doc = {
        "new_per_second": flow.new_per_second,
        "burst": flow.burst,
        "ipv6_subscriber_length": flow.ipv6_subscriber_length,
    }
    if flow.max_sessions is not None:
        doc["max_sessions"] = flow.max_sessions
    if flow.connect_delay_s is not None:
        doc["connect_delay_s"] = flow.connect_delay_s
    return doc


def _rule_doc(rule: Rule) -> dict[str, Any]:
    """One rule of :func:`plan_document`: only members that are set."""
    doc: dict[str, Any] = {"action": rule.action.value, "family": rule.family}
    members: tuple[tuple[str, Any], ...] = (
        ("protocol", rule.protocol),
        ("name", rule.name),
        ("src", [str(a) for a in rule.src] if rule.src_set is None else None),
        ("dst", [str(a) for a in rule.dst] if rule.dst_set is None else None),
        ("src_set", rule.src_set),
        ("dst_set", rule.dst_set),
        ("src_except", [str(a) for a in rule.src_except]),
        ("dst_except", [str(a) for a in rule.dst_except]),
        ("src_ports", [p.lo if p.lo == p.hi else [p.lo, p.hi] for p in rule.src_ports]),
        ("dst_ports", [p.lo if p.lo == p.hi else [p.lo, p.hi] for p in rule.dst_ports]),
        ("tcp_flags", [list(alt) for alt in rule.tcp_flags]),
        ("log", rule.log),
        ("counter", rule.counter),
        ("remark", rule.remark),
        ("limit", _flow_doc(rule.limit) if rule.limit is not None else None),
        ("iifname", list(rule.iifname)),
        ("oifname", list(rule.oifname)),
        ("iifname_negate", rule.iifname_negate),
        ("oifname_negate", rule.oifname_negate),
    )
    doc.update((k, v) for k, v in members if v is not None and v is not False and v != "" and v != [])
    return doc


def _set_name(kind: str, family: int) -> str:
    return f"OP25B-{kind}-V{family}"


PoolSpec = tuple[tuple[str, tuple[Network, ...]], ...]
"""Pools as (name, prefixes), in policy order."""


@lru_cache(maxsize=4096)
def _plan(
    policy_name: str,
    mode: str,
    pools: PoolSpec,
    mtas: tuple[Network, ...],
    exempt: tuple[Network, ...],
    targets: tuple[Network, ...],
    submission: tuple[int, ...],
    log: bool,
    counters: bool,
    flow: FlowLimit | None,
) -> FilterPlan:
    sets: dict[str, PrefixSet] = {}
    rules: list[Rule] = []
    set_docs: list[tuple[str, str]] = []
    rule_docs: list[str] = []
    families = tuple(f for f in (4, 6) if any(p.version == f for _, nets in pools for p in nets))
    for fam in families:
        part = _family(
            fam,
            tuple((name, fam_nets) for name, nets in pools if (fam_nets := tuple(p for p in nets if p.version == fam))),
            tuple(m for m in mtas if m.version == fam),
            tuple(e for e in exempt if e.version == fam),
            tuple(t for t in targets if t.version == fam),
            mode,
            submission,
            log,
            counters,
            flow,
        )
        sets.update((ps.name, ps) for ps in part.sets)
        rules += part.rules
        set_docs += zip((ps.name for ps in part.sets), part.set_docs, strict=True)
        rule_docs += part.rule_docs
    # == canonical_plan(plan), assembled from the per-family JSON fragments, members in sorted key order
    members = [f'"flow":{_dumps(_flow_doc(flow))}'] if flow is not None else []
    members += [f'"mode":{_dumps(mode)}', f'"policy":{_dumps(policy_name)}', f'"rules":[{",".join(rule_docs)}]']
    members.append('"sets":{' + ",".join(doc for _, doc in sorted(set_docs)) + "}")
    if submission:
        members.append(f'"submission_ports":{_dumps(list(submission))}')
    digest = version_id(PLAN_FORMAT + "\n{" + ",".join(members) + "}")
    return FilterPlan(policy_name, mode, digest, sets, tuple(rules), families, flow, submission)


def _carve(exempt: tuple[Network, ...], prefixes: tuple[Network, ...]) -> list[Network]:
    """Each exemption's intersection with each prefix (the longer of two overlapping prefixes), with integer
    range tests: the same result as :func:`op25b_cfg.netaddr.intersect` over every pair, several times faster."""
    ranges = [(int(p.network_address), int(p.broadcast_address), p) for p in prefixes]
    out = []
    for e in exempt:
        lo, hi = int(e.network_address), int(e.broadcast_address)
        for plo, phi, p in ranges:
            if lo <= phi and plo <= hi and e.version == p.version:
                out.append(e if e.prefixlen >= p.prefixlen else p)
    return out


@dataclass(frozen=True)
class _FamilyPart:
    sets: tuple[PrefixSet, ...]
    rules: tuple[Rule, ...]
    set_docs: tuple[str, ...]
    """``"<name>":{...}`` per set: one member of the canonical document's ``sets``."""
    rule_docs: tuple[str, ...]
    """The canonical JSON of each rule."""


@lru_cache(maxsize=4096)
def _family(
    fam: int,
    pools: PoolSpec,
    mtas: tuple[Network, ...],
    exempt: tuple[Network, ...],
    targets: tuple[Network, ...],
    mode: str,
    submission: tuple[int, ...],
    log: bool,
    counters: bool,
    flow: FlowLimit | None,
) -> _FamilyPart:
    """The sets and rules of one address family (all arguments already of that family; ``pools`` not empty).
    Cached separately from :func:`_plan`, since plans that differ in one family share the other.

    One pool: one rule per step. Several pools: steps 1-4 have one rule per pool (see the module docstring)."""
    sets: dict[str, PrefixSet] = {}
    smtp = (PortRange(SMTP, SMTP),)
    split = len(pools) > 1
    tokens = pool_tokens(tuple(name for name, _ in pools)) if split else ("",)
    # per pool: (pool name, token, pool set, exemption set or None)
    parts: list[tuple[str, str, PrefixSet, PrefixSet | None]] = []
    for (pool_name, nets), token in zip(
        pools if split else ((pools[0][0], tuple(p for _, n in pools for p in n)),), tokens, strict=True
    ):
        suffix = f"-{token}" if split else ""
        pool = PrefixSet(_set_name("POOL", fam) + suffix, fam, tuple(collapse(nets)))
        sets[pool.name] = pool
        carved = collapse(_carve(exempt, pool.prefixes))
        ex = PrefixSet(_set_name("EXEMPT", fam) + suffix, fam, tuple(carved)) if carved else None
        parts.append((pool_name, token, pool, ex))

    def tcp(
        action: Action,
        name: str,
        part: tuple[str, str, PrefixSet, PrefixSet | None],
        src: PrefixSet,
        remark: str,
        dst: PrefixSet | None = None,
        dst_ports: tuple[PortRange, ...] = smtp,
        **kw: Any,
    ) -> Rule:
        """One tcp rule of one pool from a prefix set (to a prefix set, or any), counted as OP25B-<NAME>[-<pool>]
        when counters are on."""
        pool_name, token, _, _ = part
        return Rule(
            action,
            fam,
            TCP,
            f"{name}-{token}" if token else name,
            src=src.matches(),
            src_set=src.name,
            dst=dst.matches() if dst is not None else (),
            dst_set=dst.name if dst is not None else None,
            dst_ports=dst_ports,
            counter=(f"OP25B-{name.upper()}-{token}" if token else f"OP25B-{name.upper()}") if counters else None,
            remark=f"{remark} ({token})" if token else remark,  # the token: an IOS remark holds 100 characters
            pool=pool_name,
            **kw,
        )

    rules: list[Rule] = []
    for part in parts:
        if part[3] is not None:
            sets[part[3].name] = part[3]
            rules.append(tcp(Action.PERMIT, "exempt", part, part[3], "exempt static customers and opt-outs"))
    fam_mtas = collapse(m for m in mtas if m.version == fam)
    if fam_mtas:
        mta = PrefixSet(_set_name("MTA", fam), fam, tuple(fam_mtas))
        sets[mta.name] = mta
        rules += [tcp(Action.PERMIT, "mta", part, part[2], "ISP mail relays", mta) for part in parts]
    if submission:
        ports = tuple(PortRange(p, p) for p in submission)
        remark = "mail submission stays open"
        rules += [tcp(Action.PERMIT, "submission", part, part[2], remark, dst_ports=ports) for part in parts]
    if mode == "block":
        remark = "block direct SMTP from dynamic pools"
        rules += [tcp(Action.DENY, "block", part, part[2], remark, log=log) for part in parts]
    elif mode == "targeted":
        fam_targets = collapse(t for t in targets if t.version == fam)
        if fam_targets:
            tgt = PrefixSet(_set_name("TARGET", fam), fam, tuple(fam_targets))
            sets[tgt.name] = tgt
            remark = "block direct SMTP to targeted destinations"
            rules += [tcp(Action.DENY, "block", part, part[2], remark, tgt, log=log) for part in parts]
    else:
        assert flow is not None
        remark = "per-subscriber SMTP flow control"
        rules += [
            tcp(Action.LIMIT, "limit", part, part[2], remark, log=log, tcp_flags=NEW_CONNECTION, limit=flow)
            for part in parts
        ]
    rules.append(Rule(Action.PERMIT, fam, None, "default", remark="all other traffic"))
    return _FamilyPart(
        tuple(sets.values()),
        tuple(rules),
        tuple(f"{_dumps(ps.name)}:{_dumps(_set_doc(ps))}" for ps in sets.values()),
        tuple(_dumps(_rule_doc(r)) for r in rules),
    )


PLANS: dict[tuple[object, ...], tuple[object, tuple[object, ...], FilterPlan]] = caches.register({})
"""Rule plans by the intent they are built from (:func:`op25b_cfg.rules.build_plan`); the policy and pools
objects are kept in the value."""
PLANS_MAX = 65536


def build_plan(device: Device) -> FilterPlan:
    """The rule list for one device, from its resolved intent. Pure and cached: devices with the same
    pools and settings share one plan.

    The version id is a hash of the plan's content, so the same intent always yields the same filter names
    (a re-push is a no-op) and any change yields new ones.
    """
    pol = device.policy
    fc = device.flow_control
    flow_key = (
        (fc.max_sessions, fc.new_per_second, fc.burst, fc.ipv6_subscriber_length, fc.connect_delay_s)
        if device.mode == "flow-control"
        else None
    )
    # Fast path: devices loaded from one inventory share the Policy and Pool objects. Keyed by identity (the
    # objects are kept alive in the value, so an id is never reused while cached), cheap to hash.
    # The exemptions that apply on this device: one tuple object per applying set (Exemptions.applying), also
    # kept alive in the value.
    applying = device.exemptions
    key = (
        id(pol),
        tuple(id(p) for p in device.pools),
        device.mode,
        device.log,
        device.counters,
        flow_key,
        id(applying),
    )
    hit = PLANS.get(key)
    if hit is not None and hit[0] is pol and hit[1][1] is applying:
        return hit[2]
    exempt = tuple(prefix for _, prefix in applying)
    pools = tuple((pool.name, tuple(pool.all())) for pool in device.pools)
    plan = _plan(
        pol.name,
        device.mode,
        pools,
        tuple(pol.mtas.all()),
        exempt,
        tuple(pol.targeted.all()),
        tuple(pol.submission_ports),
        device.log,
        device.counters,
        FlowLimit(*flow_key) if flow_key is not None else None,
    )
    if len(PLANS) >= PLANS_MAX:
        PLANS.clear()
    PLANS[key] = (pol, (device.pools, applying), plan)
    return plan


# ---------------------------------------------------------------------------------------------------- counters

_TOKEN_BAD = re.compile(r"[^A-Za-z0-9_-]")
PURPOSES = {"exempt": "exempt", "mta": "mta", "submission": "submission", "block": "blocked", "limit": "limited"}
"""Rule purpose (the first part of a generated rule's name) -> counter purpose."""


def pool_tokens(names: tuple[str, ...]) -> tuple[str, ...]:
    """The pool part of set, rule and counter names, one per pool: the name with every character other than
    letters, digits, ``_`` and ``-`` made ``_``, cut to 32 characters; a token equal (ignoring case) to an earlier
    one gets ``-2``, ``-3``, ... so every pool of a plan has its own.

    >>> pool_tokens(("DYN-TOKYO", "dyn-tokyo", "pool/v4.a", "pool_v4_a"))
    ('DYN-TOKYO', 'dyn-tokyo-2', 'pool_v4_a', 'pool_v4_a-2')
    """
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        base = token = _TOKEN_BAD.sub("_", name)[:32]
        n = 1
        while token.lower() in seen:
            n += 1
            token = f"{base}-{n}"
        seen.add(token.lower())
        out.append(token)
    return tuple(out)


def counter_purpose(rule_name: str) -> str | None:
    """The purpose a plan rule's counter counts, from the rule's name as :func:`build_plan` writes it (the purpose
    word, then ``-<pool token>`` where the family has several pools); None for a rule without one (the final
    permit). The counter's name and pool are on the rule (:attr:`Rule.counter`, :attr:`Rule.pool`);
    :mod:`op25b_cfg.effect.attribute` reads a device's counters back to these.

    >>> counter_purpose("block-DYN-A"), counter_purpose("submission"), counter_purpose("default")
    ('blocked', 'submission', None)
    """
    return PURPOSES.get(rule_name.split("-", 1)[0])
