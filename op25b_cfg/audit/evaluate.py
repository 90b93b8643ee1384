"""Evaluation of filter chains: which rule of a chain decides a question (a :class:`Query`: a header space),
first-match over the exact packet header space, with the process-wide memos of first-match results
(:mod:`op25b_cfg.caches`)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from op25b_cfg import caches
from op25b_cfg.audit.model import (
    Filter,
    check_deadline,
)
from op25b_cfg.audit.space import HeaderSpace, Node, Point, space
from op25b_cfg.rules import ACK, FIN, RST, SYN, TCP, Action, AddrMatch, FlagMatch, PortRange, Rule

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

# Process-wide caches (registered with :mod:`op25b_cfg.caches`, which empties them all)

FILTER_IDS: dict[tuple[object, ...], int] = caches.register({})
"""Filter contents (default + rule keys) seen by this process, each interned as a small int."""
EVALS: dict[tuple[object, ...], tuple[Query, list[tuple[Action, int, int | None, Node]]]] = caches.register({})
"""First-match results by (chain contents, query, limit_terminal, interface): the devices of a push or of a
directory of configs evaluate the same filter against the same questions. Values hold positions, not objects."""
MEMO_MAX = 20_000
"""The bound of the audit memos (here and in :mod:`op25b_cfg.audit.checks`)."""


SYN_ONLY: FlagMatch = ((SYN | ACK | RST | FIN, SYN),)
"""A connection-opening SYN: SYN set; ACK, RST and FIN clear; other bits any."""
CONNECTION: FlagMatch = (*SYN_ONLY, (SYN | ACK | RST, ACK))
"""The packets a client sends in a connection: the SYN, then ACK-only segments (FIN/PSH allowed)."""
REPLY: FlagMatch = ((SYN | ACK | RST | FIN, SYN | ACK), (SYN | ACK | RST, ACK))
"""The packets the server sends back in that connection: the SYN-ACK, then ACK-only segments (``ct state
established`` both, as the nftables model reads the flags)."""

SENTINEL = "\x7f"  # an interface-name character no pattern uses: "<prefix><any other name>"


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
            if name in ("", SENTINEL) and kw == "oifname":
                parts.append("oifname <any interface no rule names: no uplinks in the inventory>")
            elif name and name != SENTINEL:
                shown = name.replace(SENTINEL, "*") if name.endswith(SENTINEL) else name
                parts.append(f"{kw} {shown}")
        return " ".join(parts)


def _compatible(a: AddrMatch, b: AddrMatch) -> bool:
    return a.family == b.family and ((a.value ^ b.value) & a.mask & b.mask) == 0


def _flags_compatible(a: FlagMatch, b: FlagMatch) -> bool:
    return any(((v1 ^ v2) & m1 & m2) == 0 for m1, v1 in a for m2, v2 in b)


def may_match(rule: Rule, q: Query) -> bool:
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


def reachable_filters(chain: Sequence[Filter]) -> list[Filter]:
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
    reps = {a, a + SENTINEL}
    for p in pats:
        if p.endswith("*"):
            q = p[:-1]
            if q.startswith(a):
                reps.update({q, q + SENTINEL})
        elif p.startswith(a):
            reps.add(p)
    return sorted(reps)


def rule_key(r: Rule) -> tuple[object, ...]:
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


_NEXT_FILTER_ID = itertools.count(1)
MEMO_RULES = 1000
"""Chains longer than this are evaluated without the memo: a long ACL is seldom shared by many devices, and
keying it would cost more than it saves."""


@caches.on_clear
def _clear_rule_caches() -> None:
    for fam in (4, 6):
        space(fam).clear_rule_cache()


class Evaluator:
    """First-match evaluation of filter chains over one family's header space, with a per-audit cache of the
    packet set of each rule and a process-wide memo of results by content (:data:`EVALS`)."""

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
        key: tuple[object, ...] = (flt.default, tuple(rule_key(r) for r in flt.rules))
        if flt.calls:  # nftables: a chain's meaning includes the chains it calls
            key = (*key, tuple((p, c.verdict, c.target and self.filter_id(c.target)) for p, c in flt.calls.items()))
        fid = FILTER_IDS.get(key)
        if fid is None:
            if len(FILTER_IDS) >= MEMO_MAX:
                FILTER_IDS.clear()  # ids are never reused, so the memo's keys stay unambiguous
            fid = FILTER_IDS[key] = next(_NEXT_FILTER_ID)
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
        if sum(len(f.rules) for f in chain) > MEMO_RULES:
            return self._evaluate(chain, q, limit_terminal=limit_terminal, iface=iface)
        key = (tuple(self.filter_id(f) for f in chain), id(q), limit_terminal, iface)
        hit = EVALS.get(key)
        reach = reachable_filters(chain)  # decisions may come from chains the filters call (nftables)
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
        if len(EVALS) >= MEMO_MAX:
            EVALS.clear()
        EVALS[key] = (q, compact)
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
            if not may_match(rule, q) or not _rule_iface_ok(rule, iface):
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
        for flt in reachable_filters(res.chain):
            for rule in flt.rules:
                if not seen:
                    seen = rule is d.rule
                    continue
                act = rule.action
                if (act is Action.DENY or (act is Action.LIMIT and limit_terminal)) and may_match(rule, q):
                    out.append(rule)
        return out
