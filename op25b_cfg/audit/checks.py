"""The audit's checks and their counterexamples: the questions a device's policy asks (queries per pool and
family), and for each intended attachment, family and pool whether SMTP leaks, whether the MTA, submission and
exemption traffic passes, flow control; each finding with a concrete packet and the deciding lines."""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from op25b_cfg import caches
from op25b_cfg.audit.evaluate import (
    CONNECTION,
    MEMO_MAX,
    MEMO_RULES,
    REPLY,
    SENTINEL,
    SYN_ONLY,
    ChainResult,
    Decision,
    Evaluator,
    Iface,
    Query,
    iface_representatives,
    may_match,
    reachable_filters,
)
from op25b_cfg.audit.lazy import resolve_named
from op25b_cfg.audit.model import (
    Binding,
    Code,
    Filter,
    Finding,
    FlowControlSeen,
    Packet,
    ParsedConfig,
    Severity,
    Unparsed,
)
from op25b_cfg.audit.space import DPORT, DST, SPORT, SRC, HeaderSpace, Node, Point, flags_text
from op25b_cfg.netaddr import Network, collapse, intersect
from op25b_cfg.rules import ACK, SMTP, SYN, TCP, Action, AddrMatch, FlagMatch, PortRange, Rule

if TYPE_CHECKING:
    from op25b_cfg.inventory import Device, FlowControl

log = logging.getLogger(__name__)

# Process-wide caches (registered with :mod:`op25b_cfg.caches`, which empties them all)

QUERIES: dict[tuple[object, ...], Query] = caches.register({})
"""Queries by content: the devices of one policy ask the same questions (same pools, MTAs, ports)."""
QUERIES_MAX = 4096
PoolSets = tuple[tuple[str, tuple[Network, ...], tuple[Network, ...]], ...]
PolicySets = tuple[PoolSets, tuple[Network, ...], tuple[Network, ...]]
POLICY_SETS: dict[tuple[object, ...], PolicySets] = caches.register({})
"""The address sets of a policy per family (MTAs, targeted prefixes, pools), by content."""
POLICY_SETS_BY_ID: dict[tuple[object, ...], tuple[object, tuple[object, ...], PolicySets]] = caches.register({})
""":data:`POLICY_SETS` by the identity of the policy, pool and applying-exemptions objects (as
:func:`op25b_cfg.rules.build_plan`'s cache: the devices of one inventory share them); those objects are kept in
the value, so an id is never reused while cached."""
BY_ID: dict[tuple[object, ...], tuple[tuple[tuple[object, ...], ...], object]] = caches.register({})
""":func:`query_of`, :func:`replies` and :func:`preferred` by the identity of the prefix tuples they are asked
about (:func:`policy_sets` hands every device of a policy the same tuples): hashing the prefixes again for the
content key was about 5% of auditing a small config. Only tuples (of immutable prefixes) are keyed so, and they
are kept in the value: the same object is the same content, and an id is never reused while cached."""
QUESTIONS: dict[tuple[object, ...], tuple[object, object, Questions]] = caches.register({})
""":func:`questions` by the identity of the policy sets and applying exemptions they are built from (kept in the
value, so an id is never reused while cached) and the other inputs by value."""
PREFERRED: dict[tuple[object, ...], dict[str, list[int]]] = caches.register({})
"""Counterexample preferences (documentation addresses, ports) by content."""
PASSED: dict[tuple[object, ...], Query] = caches.register({})
"""Must-pass checks already proven for (chain contents, check, question)."""


SEVERITY: dict[Code, Severity] = {
    Code.SMTP_LEAK: Severity.CRITICAL,
    Code.FILTER_MISSING: Severity.CRITICAL,
    Code.NOT_APPLIED: Severity.CRITICAL,
    Code.WRONG_DIRECTION: Severity.HIGH,
    Code.MTA_BLOCKED: Severity.HIGH,
    Code.SUBMISSION_BLOCKED: Severity.HIGH,
    Code.EXEMPT_BLOCKED: Severity.HIGH,
    Code.FLOW_CONTROL_MISSING: Severity.HIGH,
    Code.UNPARSED: Severity.MEDIUM,
    Code.DRIFT: Severity.INFO,
}
"""The one severity of each finding code (documented in the README)."""

MAX_LEAK_FINDINGS = 5
"""At most this many SMTP_LEAK findings (distinct deciding rules) per attachment, family and pool."""

_PREFER_DST = {
    4: [0xCB00711D, 0xC633641D, 0xC000021D],  # 203.0.113.29, 198.51.100.29, 192.0.2.29
    6: [0x20010DB8FFFF00000000000000000025, 0x20010DB8000100000000000000000025],
}


# ---------------------------------------------------------------------------------------------- the audit


def _matches(prefixes: Iterable[Network]) -> tuple[AddrMatch, ...]:
    return tuple(AddrMatch.from_prefix(p) for p in prefixes)


def _packet(p: Point) -> Packet:
    return Packet(p.family, p.src_text(), p.dst_text(), p.protocol, p.dst_port, p.src_port, flags_text(p.flags))


def preferred(src: Sequence[Network], dst: Sequence[Network], family: int, sport: int = 40000) -> dict[str, list[int]]:
    """Counterexample preferences: an address inside the pool, a documentation destination, a SYN (memoised by
    content; callers must not mutate the result)."""
    parts = (src, dst)
    id_key, known = _by_id(("prefer", family, sport), parts)
    if known is not None:
        return known  # type: ignore[return-value]
    key = (tuple(src), tuple(dst), family, sport)
    hit = PREFERRED.get(key)
    if hit is None:
        hit = _prefer_new(src, dst, family, sport)
        if len(PREFERRED) >= QUERIES_MAX:
            PREFERRED.clear()
        PREFERRED[key] = hit
    _keep_by_id(id_key, parts, hit)
    return hit


def _prefer_new(src: Sequence[Network], dst: Sequence[Network], family: int, sport: int) -> dict[str, list[int]]:
    srcs = [int(n.network_address) + min(10, n.num_addresses - 1) for n in src]
    dsts = [int(n.network_address) + min(25, n.num_addresses - 1) for n in dst] + _PREFER_DST[family]
    return {SRC: srcs, DST: dsts, SPORT: [sport], "flags": [SYN, ACK]}


@dataclass
class AuditCtx:
    """State of one device's audit."""

    device_name: str
    platform: str
    mode: str
    parsed: ParsedConfig
    findings: list[Finding] = field(default_factory=list)
    checks: list[tuple[str, bool]] = field(default_factory=list)
    uncertain: set[int] = field(default_factory=set)  # ids of findings an unparsed line could overturn
    evaluated: dict[tuple[int, str], Filter] = field(default_factory=dict)
    bindings_used: list[Binding] = field(default_factory=list)
    bindings_at: dict[tuple[str, str | None], list[Binding]] | None = None  # see _candidates
    text: str = ""  # the running config (to tell whether a filter is referenced by anything else)
    intended: frozenset[tuple[str, str, str]] = frozenset()  # (kind, name, direction) of the intended attachments
    line_starts: list[int] | None = None  # offsets in ``text`` where each line starts (see _named_elsewhere)

    def add(
        self,
        code: Code,
        message: str,
        *,
        family: int | None = None,
        pool: str | None = None,
        binding: str | None = None,
        lines: Sequence[tuple[int | None, str]] = (),
        counterexample: Packet | None = None,
        cause: str | None = None,
        unproven: Sequence[Unparsed] = (),
    ) -> Finding:
        if unproven:
            nums = sorted({u.line for u in unproven})
            shown = ", ".join(map(str, nums[:3])) + (f" and {len(nums) - 3} more" if len(nums) > 3 else "")
            message += f" (not proven: line {shown}, not understood, could decide these packets first)"
        f = Finding(
            code,
            SEVERITY[code],
            self.device_name,
            message,
            family=family,
            pool=pool,
            binding=binding,
            lines=[n for n, _ in lines if n is not None],
            config_lines=[t for n, t in lines if n is not None],
            counterexample=counterexample,
            cause=cause,
        )
        self.findings.append(f)
        if unproven:
            self.uncertain.add(id(f))
        return f


def _att_label(kind: str, name: str, direction: str) -> str:
    return f"{kind} {name} {direction}"


def unparsed_of(ctx: AuditCtx, names: Iterable[str]) -> list[Unparsed]:
    """The unparsed lines inside the filters called ``names`` (any family), in line order. Their rules are
    built first: a lazily parsed config reports a filter's unparsed lines when its rules are first read."""
    wanted = set(names)
    resolve_named(ctx.parsed, wanted)
    return sorted((u for u in ctx.parsed.unparsed if u.filter in wanted), key=lambda u: u.line)


_LINE_ORDERED = frozenset({"acl", "class-map"})
"""Filter kinds whose evaluation order is their line order. A Junos filter's terms may be spread over set
lines, and an nft base chain holds the flattened rules of the chains it jumps to, so for them the position of
a line not understood relative to a rule is unknown."""


def _unparsed_before(ctx: AuditCtx, chain: Sequence[Filter], d: Decision | None) -> list[Unparsed]:
    """The lines not understood that may decide some of ``d``'s packets before ``d`` does (None: every such
    line in ``chain``); empty when ``d`` is proven. The packets passed every filter of ``chain`` before
    ``d.filter``, so any such line there counts; inside ``d.filter`` a default decision (the implicit deny, a
    chain policy) passed every line of it, a rule only the lines before it (where line order is evaluation
    order, else all of them).

    Every line not understood in a filter counts for every family the filter is evaluated for: the parser
    could not tell which packets it selects.
    """
    unparsed = unparsed_of(ctx, (f.name for f in chain))
    if not unparsed or d is None:
        return unparsed
    names: set[str] = set()
    for flt in chain:
        if flt is d.filter:
            break
        names.add(flt.name)
    own = d.filter
    line = d.rule.line if d.rule is not None else None
    if line is None or own.kind not in _LINE_ORDERED:
        return [u for u in unparsed if u.filter in names or u.filter == own.name]
    return [u for u in unparsed if u.filter in names or (u.filter == own.name and u.line <= line)]


def _candidates(ctx: AuditCtx, kind: str, name: str, family: int) -> list[Binding]:
    """The bindings of ``kind`` (and ``name``, except nft-forward) usable for ``family``, in config order."""
    if ctx.bindings_at is None:  # indexed once per audit: a BNG config has thousands of bindings
        ctx.bindings_at = {}
        for b in ctx.parsed.bindings:
            ctx.bindings_at.setdefault((b.kind, b.name), []).append(b)
            if b.kind == "nft-forward":
                ctx.bindings_at.setdefault((b.kind, None), []).append(b)
    found = ctx.bindings_at.get((kind, None if kind == "nft-forward" else name), [])
    return [b for b in found if b.family in (family, 0)]


def _blocks_pool(ev: Evaluator, flt: Filter, q: Query) -> bool:
    res = ev.evaluate([flt], q, limit_terminal=True)
    return any(d.action in (Action.DENY, Action.LIMIT) and d.rule is not None for d in res.decisions)


def _iface_patterns(chains: Sequence[Sequence[Filter]]) -> tuple[set[str], set[str]]:
    """The ``iifname`` and ``oifname`` patterns of every rule the chains reach."""
    iif_p: set[str] = set()
    oif_p: set[str] = set()
    for chain in chains:
        for flt in reachable_filters(chain):
            for r in flt.rules:
                iif_p.update(getattr(r, "iifname", ()) or ())
                oif_p.update(getattr(r, "oifname", ()) or ())
    return iif_p, oif_p


def _iface_reps(
    kind: str, name: str, direction: str, chains: Sequence[Sequence[Filter]], uplinks: Sequence[str] = ()
) -> list[Iface | None]:
    """Interface pairs that tell apart every way the chains' interface matches can treat the attachment's
    traffic; with ``uplinks`` (direction in) only packets that leave through one of them."""
    if kind != "nft-forward":
        return [None]
    iif_p, oif_p = _iface_patterns(chains)
    iifs = iface_representatives(name if direction == "in" else "*", iif_p)
    if direction == "in" and uplinks:
        oifs = sorted({o for u in uplinks for o in iface_representatives(u, oif_p)})
    else:
        oifs = iface_representatives(name if direction == "out" else "*", oif_p)
    return [Iface(i, o) for i in iifs for o in oifs]


def _reply_iface_reps(t: _Target) -> list[Iface | None]:
    """Interface pairs of the replies of ``t``'s must-pass connections (nft-forward only): for direction in
    they enter through an uplink (the inventory's ``uplinks``, else an interface no rule names, as the forward
    checks assume for the egress) and leave through the attachment's interface; for direction out the other way
    round (leaving through any interface)."""
    iif_p, oif_p = _iface_patterns(t.chains)
    if t.direction == "out":
        iifs = iface_representatives(t.name, iif_p)
        oifs = iface_representatives("*", oif_p)
    else:
        iifs = sorted({i for u in t.uplinks for i in iface_representatives(u, iif_p)}) or [SENTINEL]
        oifs = iface_representatives(t.name, oif_p)
    return [Iface(i, o) for i in iifs for o in oifs]


@dataclass
class _Target:
    """One attachment x family under test."""

    kind: str
    name: str
    direction: str
    family: int
    label: str
    chains: list[list[Filter]]
    bindings: list[Binding]
    uplinks: tuple[str, ...] = ()  # nftables: the egress interfaces checked (empty: any)
    _where: tuple[object, ...] | None = field(default=None, init=False, repr=False)

    def where_key(self, ev: Evaluator) -> tuple[object, ...] | None:
        """The part of a check's key (:func:`_ok_key`) that is the target's: the attachment, its egress and the
        interned contents of its chains; None for long chains (see :data:`MEMO_RULES`). Computed at the first
        check (a target's chains do not change during its audit)."""
        if self._where is None:
            if sum(len(f.rules) for chain in self.chains for f in chain) > MEMO_RULES:
                self._where = ()
            else:
                ids = tuple(tuple(ev.filter_id(f) for f in chain) for chain in self.chains)
                self._where = (self.kind, self.name, self.direction, self.family, self.uplinks, ids)
        return self._where or None


def structural(
    ctx: AuditCtx,
    ev: Evaluator,
    plan_name: str,
    kind: str,
    name: str,
    direction: str,
    fam: int,
    pool: Sequence[Network],
    uplinks: tuple[str, ...] = (),
) -> _Target | None:
    """FILTER_MISSING / NOT_APPLIED / WRONG_DIRECTION for one attachment and family; the target to evaluate
    semantically when the filter is applied (with the device's ``uplinks``)."""
    parsed = ctx.parsed
    label = _att_label(kind, name, direction)
    check = f"applied {kind}:{name}:{direction} v{fam}"
    cands = _candidates(ctx, kind, name, fam)
    same = cands if kind == "nft-forward" else [b for b in cands if b.direction == direction]
    if not same:
        other = [b for b in cands if b.direction != direction]
        if other:
            b = other[0]
            ctx.add(
                Code.WRONG_DIRECTION,
                f"IPv{fam} filter {', '.join(b.filters)} is bound to {kind} {name} in direction {b.direction},"
                f" but the intent filters direction {direction} (traffic from subscribers passes unfiltered)",
                family=fam,
                binding=label,
                lines=[(b.line, f"{kind} {name}: filter {', '.join(b.filters)} {b.direction}")],
            )
        else:
            found = _unapplied_op25b(ctx, ev, fam, pool, plan_name)
            if found is not None:
                defined, why = found
                ctx.add(
                    Code.NOT_APPLIED,
                    f"IPv{fam} filter {defined.name} (line {defined.line}) implements OP25B for the pool but is not"
                    f" applied at {label}: {why}. Bind it at {label}",
                    family=fam,
                    binding=label,
                    lines=[(defined.line, f"filter {defined.name} (not bound to {kind} {name})")],
                )
            else:
                ctx.add(
                    Code.FILTER_MISSING,
                    f"no IPv{fam} filter is bound to {label}: nothing blocks port 25 there",
                    family=fam,
                    binding=label,
                )
        ctx.checks.append((check, False))
        return None
    usable = [b for b in same if b.in_use is not False and not b.shutdown]
    if not usable:
        b = same[0]
        why = "is shut down" if b.shutdown else "is not used by anything that instantiates it"
        ctx.add(
            Code.NOT_APPLIED,
            f"IPv{fam} filter {', '.join(b.filters)} is bound to {kind} {name}, but {kind} {name} {why}",
            family=fam,
            binding=label,
            lines=[(b.line, f"{kind} {name}: filter {', '.join(b.filters)} {b.direction}")],
        )
        ctx.checks.append((check, False))
        return None
    chains: list[list[Filter]] = []
    ok = True
    for b in usable:
        if not b.filters:
            ok = False
            ctx.add(
                Code.FILTER_MISSING,
                f"IPv{fam} subscribers created on {kind} {name} through the stanza at line {b.line} get no filter"
                " (another stanza of it is filtered): nothing blocks port 25 for them",
                family=fam,
                binding=label,
                lines=[(b.line, f"{kind} {name}: family without filter {b.direction}")],
            )
            continue
        chain: list[Filter] = []
        for fname in b.filters:
            flt = parsed.filter(fam, fname)
            if flt is None:
                ok = False
                ctx.add(
                    Code.FILTER_MISSING,
                    f"{label} references IPv{fam} filter {fname}, which is not defined"
                    " (an undefined filter permits everything)",
                    family=fam,
                    binding=label,
                    lines=[(b.line, f"{kind} {name}: filter {fname} {b.direction}")],
                )
            else:
                chain.append(flt)
                ctx.evaluated[(fam, flt.name)] = flt
        chains.append(chain)
        ctx.bindings_used.append(b)
    ctx.checks.append((check, ok))
    if not ok:
        return None
    return _Target(kind, name, direction, fam, label, chains, usable, uplinks)


def _unapplied_op25b(
    ctx: AuditCtx, ev: Evaluator, fam: int, pool: Sequence[Network], plan_name: str
) -> tuple[Filter, str] | None:
    """A filter to name in NOT_APPLIED, with why it does not act, or None (then nothing is there: FILTER_MISSING).

    The intended filter (by its versioned name) if defined. Else a filter that implements OP25B for ``pool`` and
    is not in use for another purpose, so that binding it cannot break anything:

    * evaluated alone, a rule of it drops tcp/25 from the pool, and it lets other traffic of the pool through
      (tcp/80; a management ACL that drops everything but its own sources is no OP25B filter);
    * it is not an nft base chain (those are hooked: in use), and no binding in effect (a template in use, an
      interface not shut down) names it except at the device's intended attachments (where it does OP25B);
    * nothing else in the config names it: no line outside its own definition and its idle bindings mentions it
      (``access-class`` on vty lines, a class-map, SNMP, NTP, route-maps, an nft jump or verdict map...).
    """
    parsed = ctx.parsed
    own = parsed.filter(fam, plan_name)
    if own is not None:
        return own, _idle_reason(parsed, own)
    if not pool:
        return None
    smtp = query_of(ev, src=pool, ports=(SMTP,), flags=SYN_ONLY)
    other = query_of(ev, src=pool, ports=(80,), flags=SYN_ONLY)
    for flt in parsed.filters.values():
        if flt.family not in (fam, 0) or flt.hook is not None:
            continue
        bound = [b for b in parsed.bindings if flt.name in b.filters]
        if any(_in_effect(b) and (b.kind, b.name, b.direction) not in ctx.intended for b in bound):
            continue  # it filters somewhere the intent does not name: in use for another purpose
        if not _blocks_pool(ev, flt, smtp):
            continue
        if ev.hs.is_empty(ev.evaluate([flt], other, limit_terminal=True).region(ev.hs, Action.PERMIT)):
            continue
        if _named_elsewhere(ctx, flt, bound):  # (its bindings at intended attachments are OP25B's own)
            continue
        return flt, _idle_reason(parsed, flt)
    return None


def _in_effect(b: Binding) -> bool:
    return b.in_use is not False and not b.shutdown


def _idle_reason(parsed: ParsedConfig, flt: Filter) -> str:
    """Why ``flt`` does not act where the intent wants it: where it is bound, and which of those do not act."""
    bound = [b for b in parsed.bindings if flt.name in b.filters]
    if not bound:
        return "no base chain jumps to it" if flt.kind == "nft-chain" else "it is not bound anywhere"
    active = [f"{b.kind} {b.name} {b.direction}" for b in bound if _in_effect(b)]
    idle = [
        f"{b.kind} {b.name} ({'shut down' if b.shutdown else 'nothing instantiates it'})"
        for b in bound
        if not _in_effect(b)
    ]
    parts = [f"it filters only {', '.join(active)}"] if active else []
    if idle:
        parts.append(f"it is bound to {', '.join(idle)}, which does not act")
    return "; ".join(parts)


def _named_elsewhere(ctx: AuditCtx, flt: Filter, bound: Sequence[Binding]) -> bool:
    """Whether a line of the running config other than ``flt``'s own definition and ``bound`` (its bindings that
    do not count as another use) names it as a whole word."""
    if not ctx.text or flt.kind == "nft-chain":
        return False  # the nft parser lists a regular chain only when nothing jumps to it
    body = [n for n in (flt.line, *(r.line for r in flt.rules)) if n is not None]
    first, last = (min(body), max(body)) if body else (0, -1)
    own = {b.line for b in bound if b.line is not None}
    text = ctx.text
    if ctx.line_starts is None:  # offsets of the line starts, once per audit
        ctx.line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
    word = re.compile(rf"(?<![\w.:/-]){re.escape(flt.name)}(?![\w.:/-])")
    for m in word.finditer(text):  # one scan of the whole text
        number = bisect.bisect_right(ctx.line_starts, m.start())
        if first <= number <= last or number in own:
            continue
        start = ctx.line_starts[number - 1]
        end = text.find("\n", m.end())
        line = text[start : end if end >= 0 else len(text)]
        if "firewall " in line and f"filter {flt.name} " in line + " ":  # a Junos set-style line of the filter itself
            continue
        return True
    return False


def _ok_key(ev: Evaluator, check: str, t: _Target, q: Query, limit_terminal: bool) -> tuple[object, ...] | None:
    """Key of a check's outcome: it depends only on the attachment, the chains' contents, the question and
    ``limit_terminal``. None for long chains (see :data:`MEMO_RULES`)."""
    where = t.where_key(ev)
    return None if where is None else (check, *where, id(q), limit_terminal)


def _remember_ok(key: tuple[object, ...] | None, q: Query) -> None:
    if key is not None:
        if len(PASSED) >= MEMO_MAX:
            PASSED.clear()
        PASSED[key] = q  # the query is kept alive, so its id in the key is not reused


def leak_check(
    ctx: AuditCtx,
    ev: Evaluator,
    t: _Target,
    q: Query,
    pool: str,
    nets: Sequence[Network],
    prefer: dict[str, list[int]],
    limit_terminal: bool,
) -> bool:
    """SMTP_LEAK (or, when no rule looks at the pool's packets, NOT_APPLIED / FILTER_MISSING / WRONG_DIRECTION)
    findings for one pool; True when nothing leaks."""
    ok_key = _ok_key(ev, "leak", t, q, limit_terminal)
    if ok_key is not None and PASSED.get(ok_key) is q:
        return True
    hs = ev.hs
    for iface in _iface_reps(t.kind, t.name, t.direction, t.chains, t.uplinks):
        results = [ev.evaluate(chain, q, limit_terminal=limit_terminal, iface=iface) for chain in t.chains]
        if t.kind == "nft-forward":  # every forward base chain must accept a packet
            leak = q.node
            for res in results:
                leak = leak & res.region(hs, Action.PERMIT)
        else:  # each binding (Junos dynamic-profile stanza) is another way subscribers come up: any one leaks
            leak = hs.false
            for res in results:
                leak = leak | (q.node & res.region(hs, Action.PERMIT))
        if hs.is_empty(leak):
            continue
        if t.kind == "nft-forward" and all(d.rule is None for res in results for d in res.decisions):
            # no rule of any forward chain even looks at these packets: the filter is not hooked for them.
            # Every decision is a chain's default, so every line not understood in the chains could overturn it.
            unsure = [u for chain in t.chains for u in _unparsed_before(ctx, chain, None)]
            lines: list[tuple[int | None, str]] = [
                (b.line, f"forward chain {', '.join(b.filters)}") for b in t.bindings
            ]
            if _wrong_direction_nft(ev, t, q, limit_terminal):
                code = Code.WRONG_DIRECTION
                msg = (
                    f"IPv{t.family} port-25 blocking in the forward chain matches the other direction of"
                    f" {t.name} (oifname/iifname swapped): traffic from pool {pool} passes unfiltered"
                )
            elif any(_blocks_pool(ev, f, q) for chain in t.chains for f in chain):
                code = Code.NOT_APPLIED  # a forward chain blocks port 25 of the pool, but only on other interfaces
                msg = (
                    f"no rule of the forward chain(s) handles IPv{t.family} traffic of {iface.label() if iface else ''}"
                    f" ({t.label}): the port-25 filter is not applied to it; extend its interface match to {t.name}"
                )
            elif (found := _unapplied_op25b(ctx, ev, t.family, nets, "")) is not None:
                idle, why = found
                code = Code.NOT_APPLIED
                msg = (
                    f"chain {idle.name} (line {idle.line}) implements OP25B for pool {pool} but is not applied:"
                    f" {why}. Jump to it from the forward chain for {t.label}"
                    f' (e.g. `iifname "{t.name}" jump {idle.name.rsplit(" ", 1)[-1]}`)'
                )
                lines = [(idle.line, f"chain {idle.name} (nothing jumps to it)")]
            else:  # no chain anywhere blocks it
                code = Code.FILTER_MISSING
                msg = f"no rule of the forward chain(s) blocks IPv{t.family} port 25 from pool {pool} for any interface"
            ctx.add(
                code,
                msg,
                family=t.family,
                pool=pool,
                binding=t.label,
                counterexample=_packet(_must_pick(hs, leak, prefer)),
                lines=lines,
                unproven=unsure,
            )
            return False
        first = results[0]
        n = 0
        for d in first.decisions:
            if d.action is not Action.PERMIT or n >= MAX_LEAK_FINDINGS:
                continue
            part = d.region & leak
            if hs.is_empty(part):
                continue
            n += 1
            shadowed: Rule | None = None
            if d.rule is not None:
                for r in ev.later_blocks(first, d, q, limit_terminal):
                    x = part & ev.rule_node(r)
                    if not hs.is_empty(x):
                        shadowed, part = r, x
                        break
            pt = _must_pick(hs, part, prefer)
            lines = []
            for res in results:
                dd = res.decision_of(hs, pt)
                if dd is not None:
                    lines.append((dd.line(), dd.text()))
            where = f" ({iface.label()})" if iface is not None and iface.label() else ""
            if shadowed is not None:
                cause = "shadowed"
                lines.append((shadowed.line, shadowed.text))
                msg = (
                    f"IPv{t.family} SMTP from pool {pool} leaks through {t.label}{where}: {_packet(pt)} is permitted"
                    f" by line {d.line()} `{d.text()}`, which shadows the deny at line {shadowed.line}"
                    f" `{shadowed.text}`"
                )
            else:
                cause = "not covered"
                msg = (
                    f"IPv{t.family} SMTP from pool {pool} leaks through {t.label}{where}: {_packet(pt)} is not"
                    f" covered by any deny and is permitted by line {d.line()} `{d.text()}`"
                )
            # the packet must pass every chain: a line not understood before its decision in any of them could
            # drop it
            unsure = [u for res in results for u in _unparsed_before(ctx, res.chain, res.decision_of(hs, pt))]
            ctx.add(
                Code.SMTP_LEAK,
                msg,
                family=t.family,
                pool=pool,
                binding=t.label,
                lines=lines,
                counterexample=_packet(pt),
                cause=cause,
                unproven=unsure,
            )
        return False
    _remember_ok(ok_key, q)
    return True


def _wrong_direction_nft(ev: Evaluator, t: _Target, q: Query, limit_terminal: bool) -> bool:
    """A block exists for the attachment's name on the swapped side (oifname for direction in), with the other
    side an interface no rule names: it matches the other direction of the traffic (the rule itself or the
    jump that reaches it names the interface)."""
    other = "out" if t.direction == "in" else "in"
    for iface in _iface_reps(t.kind, t.name, other, t.chains):
        if iface is None or (iface.iif if t.direction == "in" else iface.oif) != SENTINEL:
            continue
        for chain in t.chains:
            res = ev.evaluate(chain, q, limit_terminal=limit_terminal, iface=iface)
            if any(d.rule is not None and d.action in (Action.DENY, Action.LIMIT) for d in res.decisions):
                return True
    return False


def _must_pick(hs: HeaderSpace, node: Node, prefer: dict[str, list[int]]) -> Point:
    p = hs.pick(node, prefer)
    assert p is not None
    return p


def open_check(
    ctx: AuditCtx,
    ev: Evaluator,
    t: _Target,
    q: Query,
    code: Code,
    what: str,
    pool: str | None,
    prefer: dict[str, list[int]],
    reply: _Reply | None = None,
) -> bool:
    """Traffic that must pass (MTA, submission, exempt): a finding for the first rule that drops some of it.
    ``what`` names the traffic, ``pool`` the pool it comes from (None: ``what`` says where); ``reply`` the
    server's answers, which must pass too (nft-forward, see :func:`_reply_check`)."""
    # the notrack lines are not in the chains' contents, and the replies depend on them (see _reply_unsure)
    ok_key = None if ctx.parsed.notrack else _ok_key(ev, "open", t, q, False)
    if ok_key is not None and PASSED.get(ok_key) is q:
        return True
    hs = ev.hs
    drop = _first_drop(ev, t, q, _iface_reps(t.kind, t.name, t.direction, t.chains, t.uplinks))
    if drop is not None:
        iface, res, d = drop
        pt = _must_pick(hs, d.region, prefer)
        where = f" ({iface.label()})" if iface is not None and iface.label() else ""
        msg = f"is dropped at {t.label}{where}: {_packet(pt)} is denied by line {d.line()} `{d.text()}`"
        _blocked(ctx, t, code, what, pool, msg, d, _packet(pt), _unparsed_before(ctx, res.chain, d))
        return False
    held = _first_delay(ev, t, q, _iface_reps(t.kind, t.name, t.direction, t.chains, t.uplinks))
    if held is not None:
        iface, res, d = held
        assert d.rule is not None and d.rule.limit is not None
        pt = _must_pick(hs, d.region, prefer)
        where = f" ({iface.label()})" if iface is not None and iface.label() else ""
        msg = (
            f"is held back {d.rule.limit.connect_delay_s} s at {t.label}{where}: {_packet(pt)} meets the connection"
            f" delay at line {d.line()} `{d.text()}` (it must never be delayed)"
        )
        unsure = _unparsed_before(ctx, res.chain, d)
        _blocked(ctx, t, code, what, pool, msg, d, _packet(pt), unsure, cause="delayed")
        return False
    if (
        reply is not None
        and t.kind == "nft-forward"
        and not _reply_check(ctx, ev, t, q, prefer, reply, code, what, pool)
    ):
        return False
    _remember_ok(ok_key, q)
    return True


def _blocked(
    ctx: AuditCtx,
    t: _Target,
    code: Code,
    what: str,
    pool: str | None,
    msg: str,
    d: Decision,
    packet: Packet,
    unproven: Sequence[Unparsed],
    cause: str | None = None,
) -> None:
    """A must-pass finding decided by ``d``: "IPv<n> <what> [from pool <pool>] <msg>"."""
    ctx.add(
        code,
        f"IPv{t.family} {what}{f' from pool {pool}' if pool else ''} {msg}",
        family=t.family,
        pool=pool,
        binding=t.label,
        lines=[(d.line(), d.text())],
        counterexample=packet,
        unproven=unproven,
        cause=cause,
    )


def _first_delay(
    ev: Evaluator, t: _Target, q: Query, ifaces: Sequence[Iface | None]
) -> tuple[Iface | None, ChainResult, Decision] | None:
    """The first decision over ``q`` of any chain of ``t`` that is a connection delay (nftables), with limits
    terminal, per interface pair; None at once where no chain holds a delay."""
    if not any(
        r.limit is not None and r.limit.connect_delay_s for c in t.chains for f in reachable_filters(c) for r in f.rules
    ):
        return None
    for iface in ifaces:
        for chain in t.chains:
            res = ev.evaluate(chain, q, limit_terminal=True, iface=iface)
            for d in res.decisions:
                if d.action is Action.LIMIT and d.rule is not None and d.rule.limit and d.rule.limit.connect_delay_s:
                    return iface, res, d
    return None


def _first_drop(
    ev: Evaluator, t: _Target, q: Query, ifaces: Sequence[Iface | None]
) -> tuple[Iface | None, ChainResult, Decision] | None:
    """The first DENY decision over ``q`` of any chain of ``t`` (rates not terminal), per interface pair."""
    for iface in ifaces:
        for chain in t.chains:
            res = ev.evaluate(chain, q, limit_terminal=False, iface=iface)
            for d in res.decisions:
                if d.action is Action.DENY:
                    return iface, res, d
    return None


def _reply_check(
    ctx: AuditCtx,
    ev: Evaluator,
    t: _Target,
    fwd: Query,
    prefer: dict[str, list[int]],
    reply: _Reply,
    code: Code,
    what: str,
    pool: str | None,
) -> bool:
    """The replies of the must-pass connections ``fwd`` (nft-forward): every base chain on the path must accept
    them too (a drop-policy chain with nothing that accepts established traffic drops the SYN-ACK, and the
    connection times out). The counterexample is the subscriber's SYN whose reply is dropped. ACL platforms are
    not asked: their filter is bound to one interface direction, and the replies cross another binding (the
    uplink's) that the audit does not hold."""
    hs = ev.hs
    q = reply.query
    unsure, untracked = _reply_unsure(ctx, ev, t, fwd, q)
    drop = _first_drop(ev, t, q, _reply_iface_reps(t))
    if drop is not None:
        iface, res, d = drop
        pt = _must_pick(hs, d.region, reply.prefer)
        iif = iface.iif if iface is not None else None
        via = (
            "an uplink no rule names (no uplinks in the inventory)"
            if iif == SENTINEL
            else str(iif).replace(SENTINEL, "*")
        )
        msg = (
            f"cannot connect through {t.label}: {_syn_of(pt)} is accepted, but the reply {_packet(pt)} (entering"
            f" through {via}) is dropped by line {d.line()} `{d.text()}`"
        )
        _blocked(ctx, t, code, what, pool, msg, d, _syn_of(pt), [*_unparsed_before(ctx, res.chain, d), *unsure])
        return False
    if unsure:
        syn = _packet(_must_pick(hs, untracked, prefer))
        u = unsure[0]
        ctx.add(
            code,
            f"IPv{t.family} {what}{f' from pool {pool}' if pool else ''} through {t.label}: the replies to {syn}"
            f" are not proven to pass: line {u.line} `{u.text}` can leave the connection untracked, and its"
            " replies are then `ct state invalid` (the SYN-ACK) or `new` (later segments, picked up mid-stream), which"
            " a `ct` match on the path may treat otherwise",
            family=t.family,
            pool=pool,
            binding=t.label,
            lines=[(x.line, x.text) for x in unsure],
            counterexample=syn,
            unproven=unsure,
        )
        return False
    return True


_CT_MATCH = re.compile(r"\bct\s+(?:state|status|count|direction)\b")


def _reply_unsure(ctx: AuditCtx, ev: Evaluator, t: _Target, fwd: Query, reply: Query) -> tuple[list[Unparsed], Node]:
    """The ``notrack`` lines that can leave packets of the connections ``fwd`` untracked while a rule on the
    path that may see their replies ``reply`` matches the connection state (the replies of such a connection
    are ``ct state invalid``, the SYN-ACK, or ``new``, later segments conntrack picks up mid-stream: not
    modelled), and the packets of ``fwd`` they touch."""
    hs = ev.hs
    touched = hs.false
    anyflags = replace(reply, flags=())  # the reply's state is the question: its flags say nothing here
    if not ctx.parsed.notrack or not any(
        _CT_MATCH.search(r.text or "") and may_match(r, anyflags)
        for chain in t.chains
        for f in reachable_filters(chain)
        for r in f.rules
    ):
        return [], touched
    out: list[Unparsed] = []
    for u, rules in ctx.parsed.notrack:
        hit = hs.union(fwd.node & ev.rule_node(r) for r in rules if r.family in (0, ev.family))
        if not hs.is_empty(hit):
            out.append(u)
            touched = touched | hit
    return out, touched


def _syn_of(reply: Point) -> Packet:
    """The subscriber's SYN that opens the connection ``reply`` answers."""
    return Packet(reply.family, reply.dst_text(), reply.src_text(), reply.protocol, reply.src_port, reply.dst_port, "S")


@dataclass(frozen=True)
class _Reply:
    """The replies of a must-pass question and the preferences to pick one."""

    query: Query
    prefer: dict[str, list[int]]


def replies(
    ev: Evaluator,
    *,
    src: Sequence[Network],
    dst: Sequence[Network] = (),
    dst_except: Sequence[Network] = (),
    port: int,
    sports: tuple[int, int],
) -> _Reply:
    """The server's replies to the connections tcp ``src``:``sports`` -> ``dst`` minus ``dst_except``:``port``:
    from the server side and ``port`` to ``src`` and ``sports``, SYN-ACK then ACK (memoised like :func:`query_of`)."""
    parts = (src, dst, dst_except)
    id_key, known = _by_id(("reply", ev.family, port, sports), parts)
    if known is not None:
        return known  # type: ignore[return-value]
    key = ("reply", ev.family, tuple(src), tuple(dst), tuple(dst_except), port, sports)
    hit = QUERIES.get(key)
    if hit is None:
        s, d, de = _matches(dst), _matches(src), _matches(dst_except)
        node = ev.hs.box(
            protocol=TCP,
            src=s,
            src_except=de,
            dst=d,
            dst_ports=(PortRange(*sports),),
            src_ports=(PortRange(port, port),),
            flags=REPLY,
        )
        hit = Query(ev.family, node, s, d, (), REPLY, (PortRange(*sports),))
        if len(QUERIES) >= QUERIES_MAX:
            QUERIES.clear()
        QUERIES[key] = hit
    fwd = preferred(src, dst, ev.family)
    prefer = {SRC: fwd[DST], DST: fwd[SRC], SPORT: [port], DPORT: [max(sports[0], min(40000, sports[1]))]}
    reply = _Reply(hit, {**prefer, "flags": [SYN | ACK, ACK]})
    _keep_by_id(id_key, parts, reply)
    return reply


def exempt_check(
    ctx: AuditCtx,
    ev: Evaluator,
    t: _Target,
    exempts: Sequence[tuple[str, Network]],
    q: Query,
    mtas: Sequence[Network],
    sports: tuple[int, int],
) -> bool:
    """tcp/25 from every static exemption and opt-out that applies on the device (wherever its prefix lies: in a
    pool or not) to any foreign host passes ``t``. One question for all of them (``q``, see :func:`questions`);
    only when it fails, one per exemption, so each blocked one is named (at most :data:`MAX_LEAK_FINDINGS`)."""
    # the notrack lines are not in the chains' contents, and the replies depend on them (see _reply_unsure)
    ok_key = None if ctx.parsed.notrack else _ok_key(ev, "open", t, q, False)
    if ok_key is not None and PASSED.get(ok_key) is q:
        return True
    before = len(ctx.findings)
    for name, prefix in exempts:
        one = query_of(ev, src=[prefix], dst_except=mtas, ports=(SMTP,), flags=CONNECTION, sports=sports)
        what = f"SMTP of exemption {name} ({prefix})"
        reply = replies(ev, src=[prefix], dst_except=mtas, port=SMTP, sports=sports)
        open_check(ctx, ev, t, one, Code.EXEMPT_BLOCKED, what, None, preferred([prefix], [], t.family), reply)
        if len(ctx.findings) - before >= MAX_LEAK_FINDINGS:
            break
    if len(ctx.findings) == before:
        _remember_ok(ok_key, q)
        return True
    return False


def flow_check(ctx: AuditCtx, kind: str, name: str, direction: str, fam: int, fc: FlowControl, sessions: bool) -> bool:
    seen: list[FlowControlSeen] = [
        f
        for f in ctx.parsed.flow
        if f.binding_kind == kind
        and f.family in (fam, 0)
        and (kind == "nft-forward" or (f.binding_name == name and f.direction == direction))
    ]
    want_rate, want_burst = fc.new_per_second, fc.burst
    want_sess = fc.max_sessions if sessions else None
    problems = []
    if not seen:
        problems.append("no per-subscriber limit found")
    else:
        rates = {f.new_per_second for f in seen if f.new_per_second is not None}
        bursts = {f.burst for f in seen if f.burst is not None}
        sess = {f.max_sessions for f in seen if f.max_sessions is not None}
        if want_rate not in rates:
            problems.append(f"new connections/second {sorted(rates) or 'none'} (intended {want_rate})")
        if want_burst not in bursts:
            problems.append(f"burst {sorted(bursts) or 'none'} (intended {want_burst})")
        if want_sess is not None and want_sess not in sess:
            problems.append(f"max sessions {sorted(sess) or 'none'} (intended {want_sess})")
        keys = {k for f in seen for k in f.ipv6_keys} if fam == 6 else set()
        if keys and keys != {fc.ipv6_subscriber_length}:
            have = " and ".join(f"/{k}" for k in sorted(keys))
            problems.append(
                f"limits counted per source {have} (intended per subscriber /{fc.ipv6_subscriber_length}:"
                f" {_key_effect(min(keys), fc.ipv6_subscriber_length)})"
            )
        delays = {f.connect_delay_s for f in seen if f.connect_delay_s is not None}
        if fc.connect_delay_s is not None and fc.connect_delay_s not in delays:
            have = ", ".join(f"{d} s" for d in sorted(delays)) or "none"
            problems.append(f"connection delay {have} (intended {fc.connect_delay_s} s)")
    label = _att_label(kind, name, direction)
    ctx.checks.append((f"flow-control {kind}:{name}:{direction} v{fam}", not problems))
    if problems:
        ctx.add(
            Code.FLOW_CONTROL_MISSING,
            f"IPv{fam} per-subscriber SMTP flow control at {label}: {'; '.join(problems)}",
            family=fam,
            binding=label,
            lines=[(f.line, f.text) for f in seen],
        )
    return not problems


def _key_effect(have: int, want: int) -> str:
    """What an IPv6 limit counted per source /``have`` does to subscribers of /``want``.

    >>> _key_effect(128, 64)
    'a subscriber gets the limit once per address it uses'
    >>> _key_effect(56, 64)
    'the subscribers in one /56 share one limit'
    """
    if have > want:
        return "a subscriber gets the limit once per address it uses"
    return f"the subscribers in one /{have} share one limit"


def delay_check(
    ctx: AuditCtx, ev: Evaluator, t: _Target, q: Query, pool: str, prefer: dict[str, list[int]], delay: int
) -> bool:
    """FLOW_CONTROL_MISSING when some new port-25 connection of the pool (``q``: its SYNs to foreign servers)
    meets a limit other than the connection delay of ``delay`` seconds first (the delay missing for part of the
    pool, after the session cap or the rate limit, or with another value); True when every one is delayed.
    Packets that pass or are denied are the leak check's."""
    hs = ev.hs
    for iface in _iface_reps(t.kind, t.name, t.direction, t.chains, t.uplinks):
        results = [ev.evaluate(chain, q, limit_terminal=True, iface=iface) for chain in t.chains]
        delayed, other, denied = hs.false, hs.false, hs.false
        for res in results:
            for d in res.decisions:
                if d.action is Action.DENY:
                    denied = denied | d.region
                elif d.action is Action.LIMIT and d.rule is not None and d.rule.limit is not None:
                    if d.rule.limit.connect_delay_s == delay:
                        delayed = delayed | d.region
                    else:
                        other = other | d.region
        undelayed = q.node & other & ~delayed & ~denied
        if hs.is_empty(undelayed):
            continue
        pt = _must_pick(hs, undelayed, prefer)
        d = next(dd for res in results if (dd := res.decision_of(hs, pt)) is not None and dd.rule is not None)
        assert d.rule is not None and d.rule.limit is not None
        has = d.rule.limit.connect_delay_s
        why = "without a connection delay" if has is None else f"with a connection delay of {has} s"
        where = f" ({iface.label()})" if iface is not None and iface.label() else ""
        ctx.add(
            Code.FLOW_CONTROL_MISSING,
            f"IPv{t.family} new port-25 connections from pool {pool} are not held back {delay} s at"
            f" {t.label}{where}: {_packet(pt)} meets line {d.line()} `{d.text()}` first, a limit {why}",
            family=t.family,
            pool=pool,
            binding=t.label,
            lines=[(d.line(), d.text())],
            counterexample=_packet(pt),
            unproven=[u for res in results for u in _unparsed_before(ctx, res.chain, res.decision_of(hs, pt))],
        )
        return False
    return True


def _pool_sets(device: Device, fam: int) -> PoolSets:
    """(pool name, its prefixes of ``fam``, the exempt parts of them) per pool with prefixes of ``fam``."""
    exempt = [prefix for _, prefix in device.exemptions]
    out = []
    for pool in device.pools:
        nets = tuple(pool.family(fam))
        if not nets:
            continue
        carved = collapse(x for e in exempt if e.version == fam for p in nets if (x := intersect(e, p)) is not None)
        out.append((pool.name, nets, tuple(carved)))
    return tuple(out)


def policy_sets(device: Device, fam: int) -> PolicySets:
    """(:func:`_pool_sets`, the MTAs, the targeted destinations) of ``fam``, memoised by the identity of the
    objects they come from (:data:`POLICY_SETS_BY_ID`), then by their inputs: the devices of one policy share
    them (the same tuples, which :func:`query_of` and the others key on)."""
    pol, applying = device.policy, device.exemptions
    id_key = (fam, id(pol), tuple(map(id, device.pools)), id(applying))
    known = POLICY_SETS_BY_ID.get(id_key)
    if known is not None and known[0] is pol and known[1][1] is applying:
        return known[2]
    key = (
        fam,
        tuple((p.name, tuple(p.ipv4), tuple(p.ipv6)) for p in device.pools),
        tuple(prefix for _, prefix in applying),
        tuple(pol.mtas.family(fam)),
        tuple(pol.targeted.family(fam)),
    )
    hit = POLICY_SETS.get(key)
    if hit is None:
        hit = (
            _pool_sets(device, fam),
            tuple(collapse(pol.mtas.family(fam))),
            tuple(collapse(pol.targeted.family(fam))),
        )
        if len(POLICY_SETS) >= QUERIES_MAX:
            POLICY_SETS.clear()
        POLICY_SETS[key] = hit
    if len(POLICY_SETS_BY_ID) >= QUERIES_MAX:
        POLICY_SETS_BY_ID.clear()
    POLICY_SETS_BY_ID[id_key] = (pol, (device.pools, applying), hit)
    return hit


@dataclass(frozen=True)
class PoolQuestions:
    """What the checks ask about one pool (see :func:`questions`); each question with the preferences of its
    counterexample (and, for must-pass traffic, the server's replies)."""

    name: str
    nets: tuple[Network, ...]
    leak: Query | None  # its port-25 SYNs to foreign servers (None: targeted mode without targeted prefixes)
    leak_prefer: dict[str, list[int]]
    mta: tuple[Query, dict[str, list[int]], _Reply] | None  # tcp/25 to the ISP's MTAs (None: no MTAs)
    submission: tuple[tuple[int, Query, dict[str, list[int]], _Reply], ...]  # per submission port


@dataclass(frozen=True)
class Questions:
    """Every question the checks of one family ask about a device's policy: the same for every device of a
    policy, mode and pools."""

    pools: tuple[PoolQuestions, ...]
    all_pool: tuple[Network, ...]  # every pool's prefixes
    mtas: tuple[Network, ...]
    exempts: tuple[tuple[str, Network], ...]  # (name, prefix) of the exemptions of the family that apply
    exempt: Query | None  # tcp/25 from all of them to any non-MTA host (None: no exemption)


def questions(device: Device, ev: Evaluator, mode: str, ports: tuple[int, ...]) -> Questions:
    """The :class:`Questions` of ``device`` for ``ev``'s family, in ``mode`` with submission ``ports``: built
    from :func:`query_of`, :func:`preferred` and :func:`replies` (the same objects), memoised in
    :data:`QUESTIONS` by the identity of the device's policy sets and applying exemptions (a device asks a dozen
    questions per attachment and family; looking each one up cost about as much as the checks themselves)."""
    fam = ev.family
    sets, applying = policy_sets(device, fam), device.exemptions
    sports = device.policy.must_pass_source_ports
    key = (fam, id(sets), id(applying), mode, sports, ports)
    hit = QUESTIONS.get(key)
    if hit is not None and hit[0] is sets and hit[1] is applying:
        return hit[2]
    pools, mtas, targets = sets
    out = []
    for name, nets, carved in pools:
        to = targets if mode == "targeted" else ()  # targeted mode asks about the targeted prefixes only
        leak = (
            query_of(ev, src=nets, src_except=carved, dst=to, dst_except=mtas, ports=(SMTP,), flags=SYN_ONLY)
            if to or mode != "targeted"
            else None
        )
        mta = None
        if mtas:
            mta = (
                query_of(ev, src=nets, dst=mtas, ports=(SMTP,), flags=CONNECTION, sports=sports),
                preferred(nets, mtas, fam),
                replies(ev, src=nets, dst=mtas, port=SMTP, sports=sports),
            )
        submission = tuple(
            (
                port,
                query_of(ev, src=nets, ports=(port,), flags=CONNECTION, sports=sports),
                preferred(nets, (), fam),
                replies(ev, src=nets, port=port, sports=sports),
            )
            for port in ports
        )
        prefer = preferred(nets, to, fam)
        out.append(PoolQuestions(name, nets, leak, prefer, mta, submission))
    exempts = tuple((n, p) for n, p in applying if p.version == fam)
    prefixes = tuple(p for _, p in exempts)
    exempt = (
        query_of(ev, src=prefixes, dst_except=mtas, ports=(SMTP,), flags=CONNECTION, sports=sports) if exempts else None
    )
    found = Questions(tuple(out), tuple(n for _, nets, _ in pools for n in nets), mtas, exempts, exempt)
    if len(QUESTIONS) >= QUERIES_MAX:
        QUESTIONS.clear()
    QUESTIONS[key] = (sets, applying, found)
    return found


def _by_id(head: tuple[object, ...], parts: tuple[Sequence[Network], ...]) -> tuple[tuple[object, ...], object]:
    """The :data:`BY_ID` key of a question about ``parts`` (``head``: its other fields) and what it holds (None:
    not known). A key names live objects only (they are kept in the value), so a hit means the very objects
    the value was computed for; only tuples of prefixes are kept (:func:`_keep_by_id`), so the same content."""
    key = (*head, *map(id, parts))
    hit = BY_ID.get(key)
    return key, (hit[1] if hit is not None else None)


def _keep_by_id(key: tuple[object, ...], parts: tuple[Sequence[Network], ...], value: object) -> None:
    """Remember ``value`` under ``key`` when every part is a tuple (immutable: a list could change under its id)."""
    if all(type(p) is tuple for p in parts):
        if len(BY_ID) >= QUERIES_MAX:
            BY_ID.clear()
        BY_ID[key] = (parts, value)  # type: ignore[assignment]


def query_of(
    ev: Evaluator,
    *,
    src: Sequence[Network],
    src_except: Sequence[Network] = (),
    dst: Sequence[Network] = (),
    dst_except: Sequence[Network] = (),
    ports: Sequence[int],
    flags: FlagMatch,
    sports: tuple[int, int] | None = None,
) -> Query:
    """The question as a set of packets: tcp from ``src`` minus ``src_except`` to ``dst`` (empty: any) minus
    ``dst_except``, to one of ``ports``, with ``flags``, from source ports ``sports`` (None: any)."""
    parts = (src, src_except, dst, dst_except)
    id_key, known = _by_id(("query", ev.family, tuple(ports), flags, sports), parts)
    if known is not None:
        return known  # type: ignore[return-value]
    key = (ev.family, tuple(src), tuple(src_except), tuple(dst), tuple(dst_except), tuple(ports), flags, sports)
    hit = QUERIES.get(key)
    if hit is not None:
        _keep_by_id(id_key, parts, hit)
        return hit
    s, se, d, de = _matches(src), _matches(src_except), _matches(dst), _matches(dst_except)
    node = ev.hs.box(
        protocol=TCP,
        src=s,
        src_except=se,
        dst=d,
        dst_except=de,
        dst_ports=tuple(PortRange(p, p) for p in ports),
        src_ports=(PortRange(*sports),) if sports is not None else (),
        flags=flags,
    )
    q = Query(ev.family, node, s, d, tuple(ports), flags)
    if len(QUERIES) >= QUERIES_MAX:
        QUERIES.clear()
    QUERIES[key] = q
    _keep_by_id(id_key, parts, q)
    return q
