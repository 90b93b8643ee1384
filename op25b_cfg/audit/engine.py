"""The semantic engine: does the running config enforce the device's OP25B intent?

Contract::

    audit_parsed(device: Device, parsed: ParsedConfig, running_text: str, source: str = "") -> DeviceReport
    audit_text(device: Device, text: str, source: str = "") -> DeviceReport   # parse + audit_parsed

For every intended attachment of the device and every address family its pools have, the engine finds the
:class:`~op25b_cfg.audit.model.Binding` there (same kind, name and direction), then evaluates the bound filter
chain first-match over the exact packet header space (:mod:`op25b_cfg.audit.space`) for each pool:

* ``smtp-blocked``: tcp/25 SYNs from the pool minus its exemptions to any non-MTA destination (targeted mode: to
  the targeted prefixes minus the MTAs) are all dropped (flow-control mode: dropped or rate limited);
* ``mta-open``: tcp/25 from the pool to the ISP's MTAs is never dropped;
* ``submission-open``: tcp/587 and tcp/465 from the pool are never dropped;
* ``exempt-open``: tcp/25 from every static exemption and opt-out that applies on the device (wherever its prefix
  lies) to any non-MTA host is never dropped;
* ``flow-control`` (flow-control mode): the per-subscriber limits are present with the configured values.

The must-pass checks (MTA, submission, exempt) ask about the source ports ``must_pass_source_ports`` of the policy
(ephemeral ports, default 1024-65535); the leak check about every source port. A finding that a line not
understood could overturn (see :func:`_unparsed_before`) is not proven: the verdict is then UNKNOWN. Every device
audit has a time budget (:func:`audit_text`).

Every refutation names a concrete packet and the config lines that decide it. See :data:`SEVERITY` for the
severity of each :class:`~op25b_cfg.audit.model.Code`.

Speed: :func:`audit_text` parses lazily (only the filters the audit reads are tokenised; before it reports
UNPARSED it builds every filter named like one it evaluated) with the garbage collector paused, and the
engine memoises by content what the devices of one policy share: queries, policy sets, first-match results
and passing checks (:func:`clear_memos` forgets them; results never depend on them).
"""

from __future__ import annotations

import bisect
import itertools
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from op25b_cfg.audit.lazy import resolve_named
from op25b_cfg.audit.model import (
    Binding,
    BudgetExceeded,
    Code,
    DeviceReport,
    Filter,
    Finding,
    FlowControlSeen,
    Packet,
    ParsedConfig,
    Severity,
    Unparsed,
    Verdict,
    check_deadline,
    deadline,
    default_time_budget,
)
from op25b_cfg.audit.space import DPORT, DST, SPORT, SRC, HeaderSpace, Node, Point, flags_text, space
from op25b_cfg.errors import Op25bError
from op25b_cfg.gc_pause import paused_gc
from op25b_cfg.netaddr import Network, collapse, intersect
from op25b_cfg.rules import ACK, FIN, RST, SMTP, SYN, TCP, Action, AddrMatch, FlagMatch, PortRange, Rule, build_plan

if TYPE_CHECKING:
    from op25b_cfg.inventory import Device, FlowControl

log = logging.getLogger(__name__)

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

SYN_ONLY: FlagMatch = ((SYN | ACK | RST | FIN, SYN),)
"""A connection-opening SYN: SYN set; ACK, RST and FIN clear; other bits any."""
CONNECTION: FlagMatch = (*SYN_ONLY, (SYN | ACK | RST, ACK))
"""The packets a client sends in a connection: the SYN, then ACK-only segments (FIN/PSH allowed)."""
REPLY: FlagMatch = ((SYN | ACK | RST | FIN, SYN | ACK), (SYN | ACK | RST, ACK))
"""The packets the server sends back in that connection: the SYN-ACK, then ACK-only segments (``ct state
established`` both, as the nftables model reads the flags)."""

MAX_LEAK_FINDINGS = 5
"""At most this many SMTP_LEAK findings (distinct deciding rules) per attachment, family and pool."""

_PREFER_DST = {
    4: [0xCB00711D, 0xC633641D, 0xC000021D],  # 203.0.113.29, 198.51.100.29, 192.0.2.29
    6: [0x20010DB8FFFF00000000000000000025, 0x20010DB8000100000000000000000025],
}
_SENTINEL = "\x7f"  # an interface-name character no pattern uses: "<prefix><any other name>"


# ---------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Query:
    """One question as a set of packets, plus its bounding box (used to skip rules that cannot match)."""

    family: int
    node: Node
    src: tuple[AddrMatch, ...]
    dst: tuple[AddrMatch, ...]
    dports: tuple[int, ...]  # empty: any port of ``dport_ranges``
    flags: FlagMatch
    dport_ranges: tuple[PortRange, ...] = ()  # the replies of a connection go to the client's source ports


@dataclass
class Decision:
    """Packets of a query that one rule (or a filter's default, ``rule`` None) decides."""

    action: Action
    filter: Filter
    rule: Rule | None
    region: Node

    def line(self) -> int | None:
        return self.rule.line if self.rule is not None else self.filter.line

    def text(self) -> str:
        if self.rule is not None:
            return self.rule.text or f"{self.rule.action} rule {self.rule.name}".strip()
        return f"(end of {self.filter.kind} {self.filter.name}: {self.action} by default)"


@dataclass
class ChainResult:
    decisions: list[Decision]
    chain: list[Filter]

    def region(self, hs: HeaderSpace, *actions: Action) -> Node:
        return hs.union(d.region for d in self.decisions if d.action in actions)

    def decision_of(self, hs: HeaderSpace, p: Point) -> Decision | None:
        for d in self.decisions:
            if hs.contains(d.region, p):
                return d
        return None


@dataclass(frozen=True)
class Iface:
    """A representative interface pair for nftables ``iifname``/``oifname`` matches."""

    iif: str | None
    oif: str | None

    def label(self) -> str:
        """``iifname ppp7 oifname eth0``; an egress no rule names is shown as such (the counterexample assumes
        it: without ``uplinks`` in the inventory every egress is checked)."""
        parts = []
        for kw, name in (("iifname", self.iif), ("oifname", self.oif)):
            if name in ("", _SENTINEL) and kw == "oifname":
                parts.append("oifname <any interface no rule names: no uplinks in the inventory>")
            elif name and name != _SENTINEL:
                shown = name.replace(_SENTINEL, "*") if name.endswith(_SENTINEL) else name
                parts.append(f"{kw} {shown}")
        return " ".join(parts)


def _compatible(a: AddrMatch, b: AddrMatch) -> bool:
    return a.family == b.family and ((a.value ^ b.value) & a.mask & b.mask) == 0


def _flags_compatible(a: FlagMatch, b: FlagMatch) -> bool:
    return any(((v1 ^ v2) & m1 & m2) == 0 for m1, v1 in a for m2, v2 in b)


def _may_match(rule: Rule, q: Query) -> bool:
    """Cheap over-approximation: False only when ``rule`` cannot select any packet of ``q``."""
    if rule.family not in (0, q.family):
        return False
    if rule.protocol is not None and rule.protocol != TCP:
        return False
    if rule.dst_ports and q.dports and not any(r.lo <= p <= r.hi for r in rule.dst_ports for p in q.dports):
        return False
    if (
        rule.dst_ports
        and q.dport_ranges
        and not any(r.lo <= x.hi and x.lo <= r.hi for r in rule.dst_ports for x in q.dport_ranges)
    ):
        return False
    if rule.tcp_flags and q.flags and not _flags_compatible(rule.tcp_flags, q.flags):
        return False
    if rule.src and q.src and not any(_compatible(a, b) for a in rule.src for b in q.src):
        return False
    return not (rule.dst and q.dst and not any(_compatible(a, b) for a in rule.dst for b in q.dst))


def _reachable(chain: Sequence[Filter]) -> list[Filter]:
    """The filters of ``chain`` and every nftables chain they call, each once, in call order."""
    if not any(f.rules is not None and f.calls for f in chain):
        return list(chain)
    out: list[Filter] = []
    for f in chain:
        out.extend(x for x in f.reachable() if all(x is not y for y in out))
    return out


def _iface_match(name: str | None, patterns: Sequence[str], negate: bool) -> bool:
    if not patterns or name is None:
        return True
    hit = any(name.startswith(p[:-1]) if p.endswith("*") else name == p for p in patterns)
    return hit != negate


def _rule_iface_ok(rule: Rule, iface: Iface | None) -> bool:
    if iface is None:
        return True
    iif = tuple(getattr(rule, "iifname", ()) or ())
    oif = tuple(getattr(rule, "oifname", ()) or ())
    return _iface_match(iface.iif, iif, bool(getattr(rule, "iifname_negate", False))) and _iface_match(
        iface.oif, oif, bool(getattr(rule, "oifname_negate", False))
    )


def iface_representatives(attach: str, patterns: Iterable[str]) -> list[str]:
    """Interface names that cover every way the names matching ``attach`` (exact, ``prefix*`` or ``*``) can be
    told apart by ``patterns``: two names matched by the same patterns behave the same in every rule, so
    evaluating one name per class is exact.

    >>> sorted(n.replace("\\x7f", "~") for n in iface_representatives("ppp*", ["ppp*", "ppp7", "eth1"]))
    ['ppp', 'ppp7', 'ppp~']
    """
    pats = set(patterns)
    if not attach.endswith("*"):
        return [attach]
    a = attach[:-1]
    reps = {a, a + _SENTINEL}
    for p in pats:
        if p.endswith("*"):
            q = p[:-1]
            if q.startswith(a):
                reps.update({q, q + _SENTINEL})
        elif p.startswith(a):
            reps.add(p)
    return sorted(reps)


def _rule_key(r: Rule) -> tuple[object, ...]:
    """Everything of a rule that :meth:`Evaluator.evaluate` reads (its action and every match field)."""
    return (
        r.action,
        r.family,
        r.protocol,
        r.src,
        r.dst,
        r.src_except,
        r.dst_except,
        r.src_ports,
        r.dst_ports,
        r.tcp_flags,
        r.iifname,
        r.oifname,
        r.iifname_negate,
        r.oifname_negate,
        r.limit is not None,  # an nft accept with a limit applies above it only
    )


_FILTER_IDS: dict[tuple[object, ...], int] = {}
"""Filter contents (default + rule keys) seen by this process, each interned as a small int."""
_EVALS: dict[tuple[object, ...], tuple[Query, list[tuple[Action, int, int | None, Node]]]] = {}
"""First-match results by (chain contents, query, limit_terminal, interface): the devices of a push or of a
directory of configs evaluate the same filter against the same questions. Values hold positions, not objects."""
_NEXT_FILTER_ID = itertools.count(1)
_MEMO_MAX = 20_000
_MEMO_RULES = 1000
"""Chains longer than this are evaluated without the memo: a long ACL is seldom shared by many devices, and
keying it would cost more than it saves."""


def clear_memos() -> None:
    """Forget every process-wide memo of the engine (queries, filter contents, evaluations, rule sets): a
    benchmark measuring cold audits calls this between runs. Results never depend on it."""
    _EVALS.clear()
    _QUERIES.clear()
    _FILTER_IDS.clear()
    _POLICY_SETS.clear()
    _PREFER.clear()
    _OK.clear()
    for fam in (4, 6):
        space(fam).clear_rule_cache()


class Evaluator:
    """First-match evaluation of filter chains over one family's header space, with a per-audit cache of the
    packet set of each rule and a process-wide memo of results by content (:data:`_EVALS`)."""

    def __init__(self, family: int) -> None:
        self.family = family
        self.hs = space(family)
        self._rule_nodes: dict[int, tuple[Rule, Node]] = {}
        self._filter_ids: dict[int, tuple[Filter, int]] = {}
        self._summaries: dict[tuple[object, ...], tuple[Filter, Query, list[Decision], Node]] = {}

    def filter_id(self, flt: Filter) -> int:
        """The interned id of ``flt``'s contents (computed once per filter object and audit)."""
        hit = self._filter_ids.get(id(flt))
        if hit is not None and hit[0] is flt:
            return hit[1]
        key: tuple[object, ...] = (flt.default, tuple(_rule_key(r) for r in flt.rules))
        if flt.calls:  # nftables: a chain's meaning includes the chains it calls
            key = (*key, tuple((p, c.verdict, c.target and self.filter_id(c.target)) for p, c in flt.calls.items()))
        fid = _FILTER_IDS.get(key)
        if fid is None:
            if len(_FILTER_IDS) >= _MEMO_MAX:
                _FILTER_IDS.clear()  # ids are never reused, so the memo's keys stay unambiguous
            fid = _FILTER_IDS[key] = next(_NEXT_FILTER_ID)
        self._filter_ids[id(flt)] = (flt, fid)
        return fid

    def rule_node(self, rule: Rule) -> Node:
        hit = self._rule_nodes.get(id(rule))
        if hit is not None and hit[0] is rule:
            return hit[1]
        node = self.hs.rule(rule)
        self._rule_nodes[id(rule)] = (rule, node)
        return node

    def evaluate(
        self, chain: Sequence[Filter], q: Query, *, limit_terminal: bool, iface: Iface | None = None
    ) -> ChainResult:
        """Split ``q`` by the rule (or default) that decides each packet. LIMIT decides (as LIMIT) when
        ``limit_terminal``; otherwise packets go on past it (a rate limit is not a block)."""
        if sum(len(f.rules) for f in chain) > _MEMO_RULES:
            return self._evaluate(chain, q, limit_terminal=limit_terminal, iface=iface)
        key = (tuple(self.filter_id(f) for f in chain), id(q), limit_terminal, iface)
        hit = _EVALS.get(key)
        reach = _reachable(chain)  # decisions may come from chains the filters call (nftables)
        if hit is not None and hit[0] is q:
            return ChainResult(
                [
                    Decision(act, reach[fpos], reach[fpos].rules[rpos] if rpos is not None else None, region)
                    for act, fpos, rpos, region in hit[1]
                ],
                list(chain),
            )
        res = self._evaluate(chain, q, limit_terminal=limit_terminal, iface=iface)
        fpos_of = {id(f): i for i, f in enumerate(reach)}
        rpos_of: dict[int, dict[int, int]] = {}
        compact: list[tuple[Action, int, int | None, Node]] = []
        for d in res.decisions:
            fpos = fpos_of[id(d.filter)]
            rpos: int | None = None
            if d.rule is not None:
                index = rpos_of.get(fpos)
                if index is None:
                    index = rpos_of[fpos] = {id(r): i for i, r in enumerate(reach[fpos].rules)}
                rpos = index[id(d.rule)]
            compact.append((d.action, fpos, rpos, d.region))
        if len(_EVALS) >= _MEMO_MAX:
            _EVALS.clear()
        _EVALS[key] = (q, compact)
        return res

    def _evaluate(
        self, chain: Sequence[Filter], q: Query, *, limit_terminal: bool, iface: Iface | None = None
    ) -> ChainResult:
        hs = self.hs
        rem = q.node
        out: list[Decision] = []
        for idx, flt in enumerate(chain):
            rem, back = self._run(flt, rem, q, limit_terminal, iface, out)
            rem = rem | back
            if hs.is_empty(rem):
                break
            default = flt.default
            if default is Action.NEXT or idx < len(chain) - 1:
                continue  # a filter list (Junos input-list, XR common ACL) goes on to the next filter
            out.append(Decision(default, flt, None, rem))
            rem = hs.false
            break
        if not hs.is_empty(rem) and chain:
            # fell off the end of a chain whose last default is "continue": nothing drops it here
            out.append(Decision(Action.PERMIT, chain[-1], None, rem))
        return ChainResult(out, list(chain))

    def _run(
        self, flt: Filter, rem: Node, q: Query, limit_terminal: bool, iface: Iface | None, out: list[Decision]
    ) -> tuple[Node, Node]:
        """First-match over ``flt``'s rules for the packets ``rem``: decisions go to ``out``; returns (the
        packets that reach its end, the packets that return from it early: nftables ``return`` or a ``goto``'d
        chain that returns)."""
        hs = self.hs
        back = hs.false
        rules = flt.rules
        calls = flt.calls
        for pos, rule in enumerate(rules):
            if hs.is_empty(rem):
                break
            if not pos & 63:
                check_deadline()
            act = rule.action
            call = calls.get(pos) if calls else None
            over_limit = act is Action.LIMIT or (act is Action.PERMIT and rule.limit is not None)
            if (act is Action.NEXT and call is None) or (over_limit and not limit_terminal):
                continue  # a LIMIT, or an nft accept above a limit: a single connection is under every limit
            if not _may_match(rule, q) or not _rule_iface_ok(rule, iface):
                continue
            rnode = self.rule_node(rule)
            hit = rem & rnode
            if hs.is_empty(hit):
                continue
            if call is None:
                out.append(Decision(act, flt, rule, hit))
                rem = rem & ~rnode
            elif call.target is None:  # return
                rem, back = rem & ~rnode, back | hit
            else:
                decided, returned = self._call(call.target, hit, q, limit_terminal, iface, out)
                rem = rem & ~decided if call.verdict == "jump" else rem & ~rnode
                if call.verdict == "goto":
                    back = back | returned
        return rem, back

    def _call(
        self, target: Filter, hit: Node, q: Query, limit_terminal: bool, iface: Iface | None, out: list[Decision]
    ) -> tuple[Node, Node]:
        """nftables ``jump``/``goto`` of the packets ``hit`` to ``target``: its decisions restricted to ``hit``
        go to ``out``; returns (the packets it decides, the packets that come back). The chain is evaluated
        once per question, over the question's whole set, and that summary is reused at every call site:
        chains that each jump several ways to the next stay polynomial."""
        hs = self.hs
        key = (id(target), id(q), limit_terminal, iface)
        hit_memo = self._summaries.get(key)
        if hit_memo is None or hit_memo[0] is not target or hit_memo[1] is not q:
            sub: list[Decision] = []
            end, back = self._run(target, q.node, q, limit_terminal, iface, sub)
            hit_memo = self._summaries[key] = (target, q, sub, end | back)
        _, _, decisions, returns = hit_memo
        for d in decisions:
            region = d.region & hit
            if not hs.is_empty(region):
                out.append(Decision(d.action, d.filter, d.rule, region))
        return hit & ~returns, hit & returns

    def later_blocks(self, res: ChainResult, d: Decision, q: Query, limit_terminal: bool) -> list[Rule]:
        """DENY (and LIMIT when terminal) rules after ``d``'s rule in the chain (and the chains it calls, in
        call order) that could match ``q``."""
        out: list[Rule] = []
        seen = False
        for flt in _reachable(res.chain):
            for rule in flt.rules:
                if not seen:
                    seen = rule is d.rule
                    continue
                act = rule.action
                if (act is Action.DENY or (act is Action.LIMIT and limit_terminal)) and _may_match(rule, q):
                    out.append(rule)
        return out


# ---------------------------------------------------------------------------------------------- the audit


def _matches(prefixes: Iterable[Network]) -> tuple[AddrMatch, ...]:
    return tuple(AddrMatch.from_prefix(p) for p in prefixes)


def _packet(p: Point) -> Packet:
    return Packet(p.family, p.src_text(), p.dst_text(), p.protocol, p.dst_port, p.src_port, flags_text(p.flags))


def _prefer(src: Sequence[Network], dst: Sequence[Network], family: int, sport: int = 40000) -> dict[str, list[int]]:
    """Counterexample preferences: an address inside the pool, a documentation destination, a SYN (memoised by
    content; callers must not mutate the result)."""
    key = (tuple(src), tuple(dst), family, sport)
    hit = _PREFER.get(key)
    if hit is None:
        hit = _prefer_new(src, dst, family, sport)
        if len(_PREFER) >= _QUERIES_MAX:
            _PREFER.clear()
        _PREFER[key] = hit
    return hit


_PREFER: dict[tuple[object, ...], dict[str, list[int]]] = {}


def _prefer_new(src: Sequence[Network], dst: Sequence[Network], family: int, sport: int) -> dict[str, list[int]]:
    srcs = [int(n.network_address) + min(10, n.num_addresses - 1) for n in src]
    dsts = [int(n.network_address) + min(25, n.num_addresses - 1) for n in dst] + _PREFER_DST[family]
    return {SRC: srcs, DST: dsts, SPORT: [sport], "flags": [SYN, ACK]}


@dataclass
class _Ctx:
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


def _unparsed_of(ctx: _Ctx, names: Iterable[str]) -> list[Unparsed]:
    """The unparsed lines inside the filters called ``names`` (any family), in line order. Their rules are
    built first: a lazily parsed config reports a filter's unparsed lines when its rules are first read."""
    wanted = set(names)
    resolve_named(ctx.parsed, wanted)
    return sorted((u for u in ctx.parsed.unparsed if u.filter in wanted), key=lambda u: u.line)


_LINE_ORDERED = frozenset({"acl", "class-map"})
"""Filter kinds whose evaluation order is their line order. A Junos filter's terms may be spread over set
lines, and an nft base chain holds the flattened rules of the chains it jumps to, so for them the position of
a line not understood relative to a rule is unknown."""


def _unparsed_before(ctx: _Ctx, chain: Sequence[Filter], d: Decision | None) -> list[Unparsed]:
    """The lines not understood that may decide some of ``d``'s packets before ``d`` does (None: every such
    line in ``chain``); empty when ``d`` is proven. The packets passed every filter of ``chain`` before
    ``d.filter``, so any such line there counts; inside ``d.filter`` a default decision (the implicit deny, a
    chain policy) passed every line of it, a rule only the lines before it (where line order is evaluation
    order, else all of them).

    Every line not understood in a filter counts for every family the filter is evaluated for: the parser
    could not tell which packets it selects.
    """
    unparsed = _unparsed_of(ctx, (f.name for f in chain))
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


def _candidates(ctx: _Ctx, kind: str, name: str, family: int) -> list[Binding]:
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
        for flt in _reachable(chain):
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
        iifs = sorted({i for u in t.uplinks for i in iface_representatives(u, iif_p)}) or [_SENTINEL]
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


def _structural(
    ctx: _Ctx, ev: Evaluator, plan_name: str, kind: str, name: str, direction: str, fam: int, pool: Sequence[Network]
) -> _Target | None:
    """FILTER_MISSING / NOT_APPLIED / WRONG_DIRECTION for one attachment and family; the target to evaluate
    semantically when the filter is applied."""
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
    return _Target(kind, name, direction, fam, label, chains, usable)


def _unapplied_op25b(
    ctx: _Ctx, ev: Evaluator, fam: int, pool: Sequence[Network], plan_name: str
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
    smtp = _query(ev, src=pool, ports=(SMTP,), flags=SYN_ONLY)
    other = _query(ev, src=pool, ports=(80,), flags=SYN_ONLY)
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


def _named_elsewhere(ctx: _Ctx, flt: Filter, bound: Sequence[Binding]) -> bool:
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
    ``limit_terminal``. None for long chains (see :data:`_MEMO_RULES`)."""
    if sum(len(f.rules) for chain in t.chains for f in chain) > _MEMO_RULES:
        return None
    chains = tuple(tuple(ev.filter_id(f) for f in chain) for chain in t.chains)
    return (check, t.kind, t.name, t.direction, t.family, t.uplinks, chains, id(q), limit_terminal)


def _remember_ok(key: tuple[object, ...] | None, q: Query) -> None:
    if key is not None:
        if len(_OK) >= _MEMO_MAX:
            _OK.clear()
        _OK[key] = q  # the query is kept alive, so its id in the key is not reused


_OK: dict[tuple[object, ...], Query] = {}
"""Checks that passed, by :func:`_ok_key`. A passing check adds no finding, so knowing that it passes is all
there is to remember; a failing check is always evaluated again (its findings name this device's lines)."""


def _leak_check(
    ctx: _Ctx,
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
    if ok_key is not None and _OK.get(ok_key) is q:
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
        if iface is None or (iface.iif if t.direction == "in" else iface.oif) != _SENTINEL:
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


def _open_check(
    ctx: _Ctx,
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
    if ok_key is not None and _OK.get(ok_key) is q:
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
    ctx: _Ctx,
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
        r.limit is not None and r.limit.connect_delay_s for c in t.chains for f in _reachable(c) for r in f.rules
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
    ctx: _Ctx,
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
            if iif == _SENTINEL
            else str(iif).replace(_SENTINEL, "*")
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
            " replies are then `ct state invalid`, which a `ct` match on the path may treat otherwise",
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


def _reply_unsure(ctx: _Ctx, ev: Evaluator, t: _Target, fwd: Query, reply: Query) -> tuple[list[Unparsed], Node]:
    """The ``notrack`` lines that can leave packets of the connections ``fwd`` untracked while a rule on the
    path that may see their replies ``reply`` matches the connection state (the replies of such a connection
    are ``ct state invalid``, not modelled), and the packets of ``fwd`` they touch."""
    hs = ev.hs
    touched = hs.false
    anyflags = replace(reply, flags=())  # the reply's state is the question: its flags say nothing here
    if not ctx.parsed.notrack or not any(
        _CT_MATCH.search(r.text or "") and _may_match(r, anyflags)
        for chain in t.chains
        for f in _reachable(chain)
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


def _reply(
    ev: Evaluator,
    *,
    src: Sequence[Network],
    dst: Sequence[Network] = (),
    dst_except: Sequence[Network] = (),
    port: int,
    sports: tuple[int, int],
) -> _Reply:
    """The server's replies to the connections tcp ``src``:``sports`` -> ``dst`` minus ``dst_except``:``port``:
    from the server side and ``port`` to ``src`` and ``sports``, SYN-ACK then ACK (memoised like :func:`_query`)."""
    key = ("reply", ev.family, tuple(src), tuple(dst), tuple(dst_except), port, sports)
    hit = _QUERIES.get(key)
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
        if len(_QUERIES) >= _QUERIES_MAX:
            _QUERIES.clear()
        _QUERIES[key] = hit
    fwd = _prefer(src, dst, ev.family)
    prefer = {SRC: fwd[DST], DST: fwd[SRC], SPORT: [port], DPORT: [max(sports[0], min(40000, sports[1]))]}
    return _Reply(hit, {**prefer, "flags": [SYN | ACK, ACK]})


def _exempt_check(
    ctx: _Ctx,
    ev: Evaluator,
    t: _Target,
    exempts: Sequence[tuple[str, Network]],
    mtas: Sequence[Network],
    sports: tuple[int, int],
) -> bool:
    """tcp/25 from every static exemption and opt-out that applies on the device (wherever its prefix lies: in a
    pool or not) to any foreign host passes ``t``. One question for all of them; only when it fails, one per
    exemption, so each blocked one is named (at most :data:`MAX_LEAK_FINDINGS`)."""
    prefixes = [p for _, p in exempts]
    q = _query(ev, src=prefixes, dst_except=mtas, ports=(SMTP,), flags=CONNECTION, sports=sports)
    # the notrack lines are not in the chains' contents, and the replies depend on them (see _reply_unsure)
    ok_key = None if ctx.parsed.notrack else _ok_key(ev, "open", t, q, False)
    if ok_key is not None and _OK.get(ok_key) is q:
        return True
    before = len(ctx.findings)
    for name, prefix in exempts:
        one = _query(ev, src=[prefix], dst_except=mtas, ports=(SMTP,), flags=CONNECTION, sports=sports)
        what = f"SMTP of exemption {name} ({prefix})"
        reply = _reply(ev, src=[prefix], dst_except=mtas, port=SMTP, sports=sports)
        _open_check(ctx, ev, t, one, Code.EXEMPT_BLOCKED, what, None, _prefer([prefix], [], t.family), reply)
        if len(ctx.findings) - before >= MAX_LEAK_FINDINGS:
            break
    if len(ctx.findings) == before:
        _remember_ok(ok_key, q)
        return True
    return False


def _flow_check(ctx: _Ctx, kind: str, name: str, direction: str, fam: int, fc: FlowControl, sessions: bool) -> bool:
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


def _delay_check(
    ctx: _Ctx, ev: Evaluator, t: _Target, q: Query, pool: str, prefer: dict[str, list[int]], delay: int
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


# ---------------------------------------------------------------------------------------------- intent, drift


@dataclass
class _Intent:
    rendered: str
    parsed: ParsedConfig | None


def _render(device: Device) -> str:
    from op25b_cfg.platforms import get_platform

    return get_platform(device.platform).render(device)


@lru_cache(maxsize=256)
def _intent_cached(platform: str, rendered: str) -> _Intent:
    from op25b_cfg.audit.parsers import parse

    try:
        intended: ParsedConfig | None = parse(platform, rendered)
    except Exception as exc:  # a missing or broken parser must not stop the audit
        log.warning("cannot parse the rendered intent of platform %s: %s", platform, exc)
        intended = None
    return _Intent(rendered, intended)


def _norm_rule(r: Rule) -> tuple[object, ...]:
    """A rule's meaning for drift: what the evaluator reads, plus the flow-control limit."""
    return (*_rule_key(r), r.limit)


def _flat_rules(flt: Filter) -> list[tuple[Rule, tuple[object, ...]]]:
    """Each rule of ``flt`` and of the nftables chains it calls (in call order) with its meaning for drift."""
    return [
        (r, (*_norm_rule(r), c.verdict if (c := f.calls.get(pos)) is not None else None))
        for f in flt.reachable()
        for pos, r in enumerate(f.rules)
    ]


def _drift(intended: ParsedConfig, running: ParsedConfig) -> list[tuple[str, int | None]]:
    """What of the intended OP25B configuration is absent or different in the running config."""
    out: list[tuple[str, int | None]] = []
    for key, want in intended.filters.items():
        if want.shared:
            continue
        have = running.filters.get(key)
        if have is None:
            out.append((f"filter {want.name} (IPv{want.family or '4+6'}) is not in the running config", None))
            continue
        want_rules, have_rules = _flat_rules(want), _flat_rules(have)
        w, h = [k for _, k in want_rules], [k for _, k in have_rules]
        if w != h:
            i = next((k for k, (a, b) in enumerate(zip(w, h, strict=False)) if a != b), min(len(w), len(h)))
            if i < len(h):
                note = f"intended `{want_rules[i][0].text}`" if i < len(w) else "not intended"
                out.append(
                    (f"filter {want.name} entry {i + 1} is `{have_rules[i][0].text}` ({note})", have_rules[i][0].line)
                )
            else:
                out.append((f"filter {want.name} lacks intended entry `{want_rules[i][0].text}`", have.line))
        elif want.default != have.default:
            out.append((f"filter {want.name} default is {have.default}, intended {want.default}", have.line))
    wanted = {(b.kind, b.name, b.direction, b.family) for b in intended.bindings}
    running_at: dict[tuple[str, str, str, int], list[Binding]] = {}
    for x in running.bindings:  # one pass: a BNG config has thousands of bindings
        at = (x.kind, x.name, x.direction, x.family)
        if at in wanted:
            running_at.setdefault(at, []).append(x)
    for b in intended.bindings:
        match = running_at.get((b.kind, b.name, b.direction, b.family), [])
        if not any(x.filters == b.filters for x in match):
            now = ", ".join("/".join(x.filters) for x in match) or "nothing"
            out.append(
                (
                    f"{b.kind} {b.name} {b.direction} IPv{b.family or '4+6'} should use {'/'.join(b.filters)},"
                    f" uses {now}",
                    match[0].line if match else None,
                )
            )
    want_flow = {
        (f.binding_kind, f.binding_name, f.family, f.max_sessions, f.new_per_second, f.burst) for f in intended.flow
    }
    have_flow = {
        (f.binding_kind, f.binding_name, f.family, f.max_sessions, f.new_per_second, f.burst) for f in running.flow
    }
    for f in sorted(want_flow - have_flow, key=str):
        out.append((f"flow control {f[0]} {f[1]} (sessions {f[3]}, rate {f[4]}/s, burst {f[5]}) is not running", None))
    return out


def _remediation(device: Device, intent: _Intent, parsed: ParsedConfig, running_text: str, version: str) -> str:
    """The device's remediation (:func:`op25b_cfg.audit.remediation.plan`); '' without a parsed intent."""
    from op25b_cfg.audit.remediation import plan

    if intent.parsed is None:
        return ""
    return plan(device.platform, intent.rendered, intent.parsed, parsed, running_text, device.attach, version)


# ---------------------------------------------------------------------------------------------- entry points


def _verdict(ctx: _Ctx) -> Verdict:
    certain = [
        f
        for f in ctx.findings
        if f.severity is not Severity.INFO and f.code is not Code.UNPARSED and id(f) not in ctx.uncertain
    ]
    if certain:
        return Verdict.NONCOMPLIANT
    if any(f.code is Code.UNPARSED or id(f) in ctx.uncertain for f in ctx.findings):
        return Verdict.UNKNOWN
    return Verdict.COMPLIANT


def audit_parsed(device: Device, parsed: ParsedConfig, running_text: str, source: str = "") -> DeviceReport:
    """Audit one device's parsed running config against its intent. Never raises: an internal problem
    becomes an ERROR report."""
    name, platform = device.name, device.platform
    try:
        return _audit(device, parsed, running_text, source)
    except Op25bError as exc:
        return DeviceReport(name, platform, Verdict.ERROR, error=str(exc), source=source)
    except Exception as exc:  # an engine bug must not stop a 1,000-device run
        log.exception("audit of %s failed", name)
        return DeviceReport(
            name,
            platform,
            Verdict.ERROR,
            error=f"internal error in the audit engine: {type(exc).__name__}: {exc}",
            source=source,
        )


def _pool_sets(device: Device, fam: int) -> list[tuple[str, list[Network], list[Network]]]:
    """(pool name, its prefixes of ``fam``, the exempt parts of them) per pool with prefixes of ``fam``."""
    exempt = [prefix for _, prefix in device.exemptions]
    out = []
    for pool in device.pools:
        nets = [n for n in pool.family(fam)]
        if not nets:
            continue
        carved = collapse(x for e in exempt if e.version == fam for p in nets if (x := intersect(e, p)) is not None)
        out.append((pool.name, nets, carved))
    return out


def _policy_sets(
    device: Device, fam: int
) -> tuple[list[tuple[str, list[Network], list[Network]]], list[Network], list[Network]]:
    """(:func:`_pool_sets`, the MTAs, the targeted destinations) of ``fam``, memoised by their inputs: the
    devices of one policy share them. Callers must not mutate the lists."""
    pol = device.policy
    key = (
        fam,
        tuple((p.name, tuple(p.ipv4), tuple(p.ipv6)) for p in device.pools),
        tuple(prefix for _, prefix in device.exemptions),
        tuple(pol.mtas.family(fam)),
        tuple(pol.targeted.family(fam)),
    )
    hit = _POLICY_SETS.get(key)
    if hit is None:
        hit = (_pool_sets(device, fam), collapse(pol.mtas.family(fam)), collapse(pol.targeted.family(fam)))
        if len(_POLICY_SETS) >= _QUERIES_MAX:
            _POLICY_SETS.clear()
        _POLICY_SETS[key] = hit
    return hit


_POLICY_SETS: dict[
    tuple[object, ...], tuple[list[tuple[str, list[Network], list[Network]]], list[Network], list[Network]]
] = {}


def _query(
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
    key = (ev.family, tuple(src), tuple(src_except), tuple(dst), tuple(dst_except), tuple(ports), flags, sports)
    hit = _QUERIES.get(key)
    if hit is not None:
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
    if len(_QUERIES) >= _QUERIES_MAX:
        _QUERIES.clear()
    _QUERIES[key] = q
    return q


_QUERIES: dict[tuple[object, ...], Query] = {}
"""Queries by content: the devices of one policy ask the same questions (same pools, MTAs, ports)."""
_QUERIES_MAX = 4096


def _audit(device: Device, parsed: ParsedConfig, running_text: str, source: str) -> DeviceReport:
    from op25b_cfg.platforms import get_platform

    plan = build_plan(device)
    platform = get_platform(device.platform)
    mode: str = device.mode
    intended = frozenset((a.kind, a.name, a.direction) for a in device.attach)
    ctx = _Ctx(device.name, device.platform, mode, parsed, text=running_text, intended=intended)
    flow_mode = mode == "flow-control"
    # must-pass checks ask about the source ports mail clients and relays use; the leak check asks about all
    sports = device.policy.must_pass_source_ports
    for att in device.attach:
        for fam in plan.families:
            ev = Evaluator(fam)
            pools, mtas, targets = _policy_sets(device, fam)
            all_pool = [n for _, nets, _ in pools for n in nets]
            delay = device.flow_control.connect_delay_s if flow_mode else None
            if flow_mode:
                fc, sessions = device.flow_control, platform.flow_sessions
                if not _flow_check(ctx, att.kind, att.name, att.direction, fam, fc, sessions):
                    delay = None  # already FLOW_CONTROL_MISSING: where it is missing is not asked again
            target = _structural(ctx, ev, plan.filter_name(fam), att.kind, att.name, att.direction, fam, all_pool)
            if target is None:
                continue
            target.uplinks = tuple(device.uplinks)
            for pool_name, nets, carved in pools:
                if mode == "targeted":
                    leak_q = (
                        _query(
                            ev, src=nets, src_except=carved, dst=targets, dst_except=mtas, ports=(SMTP,), flags=SYN_ONLY
                        )
                        if targets
                        else None
                    )
                    dst_pref = targets
                else:
                    leak_q = _query(ev, src=nets, src_except=carved, dst_except=mtas, ports=(SMTP,), flags=SYN_ONLY)
                    dst_pref = []
                tag = f"{att.kind}:{att.name}:{att.direction} v{fam} pool {pool_name}"
                if leak_q is not None:
                    prefer = _prefer(nets, dst_pref, fam)
                    ok = _leak_check(ctx, ev, target, leak_q, pool_name, nets, prefer, limit_terminal=flow_mode)
                    ctx.checks.append((f"smtp-blocked {tag}", ok))
                    if delay is not None:
                        ok = _delay_check(ctx, ev, target, leak_q, pool_name, prefer, delay)
                        ctx.checks.append((f"connect-delay {tag}", ok))
                if mtas:
                    q = _query(ev, src=nets, dst=mtas, ports=(SMTP,), flags=CONNECTION, sports=sports)
                    ok = _open_check(
                        ctx,
                        ev,
                        target,
                        q,
                        Code.MTA_BLOCKED,
                        "SMTP to the ISP MTAs",
                        pool_name,
                        _prefer(nets, mtas, fam),
                        _reply(ev, src=nets, dst=mtas, port=SMTP, sports=sports),
                    )
                    ctx.checks.append((f"mta-open {tag}", ok))
                for port in plan.submission_ports:
                    q = _query(ev, src=nets, ports=(port,), flags=CONNECTION, sports=sports)
                    ok = _open_check(
                        ctx,
                        ev,
                        target,
                        q,
                        Code.SUBMISSION_BLOCKED,
                        f"mail submission tcp/{port}",
                        pool_name,
                        _prefer(nets, [], fam),
                        _reply(ev, src=nets, port=port, sports=sports),
                    )
                    ctx.checks.append((f"submission-open tcp/{port} {tag}", ok))
            exempts = [(n, p) for n, p in device.exemptions if p.version == fam]
            if exempts:
                ok = _exempt_check(ctx, ev, target, exempts, mtas, sports)
                ctx.checks.append((f"exempt-open {att.kind}:{att.name}:{att.direction} v{fam}", ok))
    # lines not understood inside evaluated filters
    seen_unparsed: set[int] = set()
    in_evaluated = _unparsed_of(ctx, (fname for _, fname in ctx.evaluated))
    families: dict[str, set[int]] = {}  # the families each filter name is evaluated for
    for fam, fname in ctx.evaluated:
        families.setdefault(fname, set()).add(fam)
    for u in in_evaluated:
        if u.line not in seen_unparsed and u.filter is not None:
            seen_unparsed.add(u.line)
            fams = families[u.filter]
            # the line belongs to every family its filter is evaluated for (None: both)
            ctx.add(
                Code.UNPARSED,
                f"line {u.line} in applied filter {u.filter} is not understood ({u.reason}); the verdict cannot be"
                " proved while it is there",
                family=next(iter(fams)) if len(fams) == 1 else None,
                lines=[(u.line, u.text)],
            )
    ctx.checks.append(("parsed", not seen_unparsed))
    # drift against the rendered intent
    rendered = _render(device)
    # the device name only appears in the header comment: devices with the same intent share one parsed intent
    intent = _intent_cached(device.platform, rendered.replace(f" device {device.name}", " device -", 1))
    intent = _Intent(rendered, intent.parsed)
    if intent.parsed is not None:
        diffs = _drift(intent.parsed, parsed)
        ctx.checks.append(("drift", not diffs))
        if diffs:
            ctx.add(
                Code.DRIFT,
                "running OP25B configuration differs from the rendered intent: " + "; ".join(d for d, _ in diffs),
                lines=[(ln, d) for d, ln in diffs if ln is not None],
            )
    remediation = _remediation(device, intent, parsed, running_text, plan.version) if ctx.findings else ""
    return DeviceReport(
        ctx.device_name, ctx.platform, _verdict(ctx), ctx.findings, ctx.checks, source=source, remediation=remediation
    )


def audit_text(device: Device, text: str, source: str = "", time_budget: float | None = None) -> DeviceReport:
    """Parse ``text`` with the device platform's parser, then :func:`audit_parsed`. Empty or binary input is an
    ERROR report, never an exception.

    The audit stops after ``time_budget`` seconds (None: the process default, see
    :func:`~op25b_cfg.audit.model.set_time_budget`); the device is then UNKNOWN with the reason, and the run goes
    on with the next device.
    """
    budget = default_time_budget() if time_budget is None else time_budget
    try:
        with deadline(budget):
            return _audit_text(device, text, source)
    except BudgetExceeded:
        log.warning("%s: audit stopped at its time budget of %s s", device.name, budget)
        return DeviceReport(
            device.name,
            device.platform,
            Verdict.UNKNOWN,
            error=f"the audit of {device.name} did not finish within its time budget of {budget:g} s, so nothing"
            " is proven. Fix: raise --time-budget, or simplify the filters (e.g. fewer nft chains jumping to"
            " each other)",
            source=source,
        )


def _audit_text(device: Device, text: str, source: str) -> DeviceReport:
    """:func:`audit_text` without the time budget."""

    name, platform = device.name, device.platform
    if not text or text.isspace():
        return DeviceReport(name, platform, Verdict.ERROR, error="the running config is empty", source=source)
    if "\x00" in text:
        return DeviceReport(
            name, platform, Verdict.ERROR, error="the running config is binary (NUL bytes), not text", source=source
        )
    # The collector stays off for the parse and the audit: a lazily parsed config keeps its parser's state
    # (tokens, statements) alive until the audit ends, and collector passes over it would cost more than the
    # audit. That state holds no reference cycles, so it is freed the moment the audit drops it.
    with paused_gc():
        report = _parse_and_audit(device, text, source)
    return report


def _parse_and_audit(device: Device, text: str, source: str) -> DeviceReport:
    from op25b_cfg.audit.parsers import parse

    name, platform = device.name, device.platform
    try:
        parsed = parse(platform, text, lazy=True)  # only the filters the audit evaluates are tokenised
    except Op25bError as exc:
        return DeviceReport(name, platform, Verdict.ERROR, error=str(exc), source=source)
    except ImportError as exc:
        return DeviceReport(name, platform, Verdict.ERROR, error=f"no {platform} parser: {exc}", source=source)
    except Exception as exc:  # parsers must not raise; if one does, report it per device
        log.exception("parser %s failed on %s", platform, name)
        return DeviceReport(
            name,
            platform,
            Verdict.ERROR,
            error=f"the {platform} parser failed: {type(exc).__name__}: {exc}",
            source=source,
        )
    return audit_parsed(device, parsed, text, source)
