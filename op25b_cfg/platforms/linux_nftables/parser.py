"""nftables parser: ``nft list ruleset`` text (and ``nft -f`` files such as op25b renders) -> ParsedConfig.

Model:

* every base chain of type ``filter`` (or ``route``) becomes a :class:`Filter` named ``"<family> <table>
  <chain>"`` (kind ``nft-chain``, ``hook`` set, ``default`` = its policy; family 4/6 for ``ip``/``ip6``
  tables, 0 for ``inet``/``bridge``/``netdev``);
* a regular (or anonymous) chain is compiled once into a :class:`Filter` (default Action.NEXT: return); a
  ``jump``/``goto``/``return`` rule is an Action.NEXT rule holding the match, with a :class:`Call` at its
  position in :attr:`Filter.calls`. The engine evaluates each called chain once per question (see
  :meth:`op25b_cfg.audit.engine.Evaluator._call`), so chains that jump many ways stay polynomial;
* a regular chain nothing jumps to is a :class:`Filter` without hook (the audit can then say it is not applied);
* verdict maps (``vmap``) and concatenation matches become one rule per element;
* every filter base chain a forwarded packet traverses (``ingress``/``egress`` of netdev/inet tables, scoped to
  their devices; ``prerouting``, ``forward``, ``postrouting`` of ip/ip6/inet tables) gets one :class:`Binding`
  (kind ``nft-forward``, name ``*``, direction ``in``), in hook and priority order: a packet is forwarded only
  if every one of them accepts it. Before routing ``oifname`` sees the unset interface; before conntrack every
  packet's ``ct state`` is ``invalid``; ``notrack`` rules there make ``ct state`` exact over untracked packets;
* per-source ``ct count over`` / ``limit rate over`` set updates and meters -> ``Action.LIMIT`` rules with a
  :class:`FlowLimit` (consecutive session and rate rules on the same match are merged) and one
  :class:`FlowControlSeen` per forward binding and family; ``ct count over 0`` is ``ct state { new, untracked,
  invalid }`` (a block, not a limit).

Rules that carry a verdict but contain something not understood (an unknown expression, a set filled at run
time) are left out and reported as :class:`Unparsed` under every base chain that reaches them; a line outside
every chain (a command not evaluated, an unclosed block) is reported under every chain on the path. ``parse``
never raises. ``parse(text, lazy=True)`` (the audit path) builds a base chain of another hook than ``forward``
only when its rules are first read (:mod:`._lazy`).
"""

from __future__ import annotations

import functools
import logging
import re
import weakref
from dataclasses import dataclass, field, replace

from op25b_cfg.audit.lazy import DeferredFilter, ParserState
from op25b_cfg.audit.model import (
    Binding,
    Call,
    Filter,
    FlowControlSeen,
    ParsedConfig,
    Unparsed,
    check_deadline,
)
from op25b_cfg.dialects.nft import Block, Tok, line_of, parse_tree
from op25b_cfg.platforms.juniper_junos._algebra import Cond, IfSet, Unrepresentable, and_not, disjoint, to_rules
from op25b_cfg.platforms.linux_nftables import delay_timeouts
from op25b_cfg.platforms.linux_nftables._rule import (
    _VERDICTS,
    FlowSeen,
    NftRule,
    NftSet,
    RuleParser,
    ct_cond,
    seconds,
    set_flags,
)
from op25b_cfg.rules import MAX_CONNECT_DELAY, Action, FlowLimit, Rule

log = logging.getLogger(__name__)

PLATFORM = "linux_nftables"
FAMILIES = frozenset({"ip", "ip6", "inet", "bridge", "arp", "netdev"})
_FILTER_FAMILY = {"ip": 4, "ip6": 6, "inet": 0, "bridge": 0, "netdev": 0}
_RULE_FAMILIES = {"ip": (4,), "ip6": (6,), "inet": (4, 6), "bridge": (4, 6), "netdev": (4, 6)}
_PRIORITY = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100, "out": 100}
_CHAIN_WORDS = frozenset({"type", "policy", "comment", "device", "devices"})
"""First words of the chain-body statements that are not rules."""
MAX_DEPTH = 16
"""The kernel's jump stack: a base chain and at most 15 nested jumps below it (more: ``Too many links``)."""
_HOOK_ORDER = {"ingress": 0, "prerouting": 1, "forward": 2, "postrouting": 3, "egress": 4}
_PATH_HOOKS = frozenset(
    {(f, h) for f in ("ip", "ip6", "inet") for h in ("prerouting", "forward", "postrouting")}
    | {("netdev", "ingress"), ("netdev", "egress"), ("inet", "ingress")}
)
"""(table family, hook) of the base chains a routed (forwarded) packet traverses."""
_NO_OIF_HOOKS = frozenset({"prerouting", "ingress"})
_FAMILY_OF = {"ip": 4, "ip6": 6}
MAX_REACH = 256
_Untracked = tuple[int, Cond | None, list[Cond] | None]
"""A notrack rule: (line, an upper bound of the packets it makes untracked, exactly those packets)."""
_NAT_VERDICTS = frozenset({"drop", "reject", "jump", "goto", "queue"})
_DNAT = frozenset({"dnat", "redirect", "tproxy"})
_CONNTRACK_PRIORITY = -200
_STAGE_NAMES = {"": "", "pre": " (before routing)", "raw": " (before conntrack)", "egress": " (egress)"}
"""Connection tracking runs at prerouting priority -200: a ``notrack`` in a chain before it leaves the packet
untracked (``ct state untracked``; ``new``/``established`` never match)."""
MAX_RULES = 100_000


@dataclass
class Chain:
    name: str
    line: int
    rules: list[list[Tok | Block]] = field(default_factory=list)
    type: str | None = None
    hook: str | None = None
    priority: int = 0
    policy: str = "accept"
    comment: str = ""
    devices: list[str] = field(default_factory=list)


@dataclass
class Table:
    family: str
    name: str
    line: int
    chains: dict[str, Chain] = field(default_factory=dict)
    sets: dict[str, NftSet] = field(default_factory=dict)


@dataclass
class _Build:
    """One chain being compiled: where it is (table, name, the chains above it) and what it produces."""

    table: Table
    name: str
    stack: tuple[object, ...]
    fams: tuple[int, ...]
    out: list[Rule] = field(default_factory=list)
    calls: dict[int, Call] = field(default_factory=dict)
    bad: list[tuple[int, str]] = field(default_factory=list)


class _Abort(Exception):
    """A rule (or chain) that cannot be compiled exactly: (line, reason)."""


class _Parser(ParserState):
    def __init__(self, text: str, lazy: bool = False) -> None:
        super().__init__(PLATFORM, text.replace("\r", "").split("\n"))
        self.text = text
        self.lazy = lazy
        self.tables: dict[tuple[str, str], Table] = {}
        self.rule_cache: dict[int, NftRule] = {}
        self.compiled: dict[object, Filter] = {}
        self.bad: dict[int, list[tuple[int, str]]] = {}
        self.height: dict[int, int] = {}
        self.stage = ""  # compiling for: see _stage
        self.untracked_: list[_Untracked] = []

    # -- structure -------------------------------------------------------------------------------------
    def run(self) -> ParsedConfig:
        tree = parse_tree(self.text.replace("\r", ""))
        for line, reason in tree.problems:
            self.unparsed(line, reason)
        for st in tree.stmts:
            try:
                self.top(st)
            except Exception as exc:  # never raise; report the statement
                log.debug("statement not understood", exc_info=True)
                self.unparsed(line_of(st), f"statement not understood ({type(exc).__name__})")
        self.untracked_ = self.untracked()
        self.pc.notrack = [self.notrack_bound(u) for u in self.untracked_]
        for table in self.tables.values():
            for chain in table.chains.values():
                if chain.hook is None:
                    continue
                try:
                    self.base_chain(table, chain)
                except Exception as exc:
                    log.debug("chain %s not understood", chain.name, exc_info=True)
                    self.unparsed(chain.line, f"chain not understood ({type(exc).__name__})", _qname(table, chain))
        self.idle_chains()
        self.bindings()
        # a line outside every chain (a command not evaluated, a truncated block) may change any of them
        pc = self.pc
        path = [fname for b in pc.bindings for fname in b.filters]
        if path:
            pc.unparsed = [
                replace(u, filter=f) for u in pc.unparsed for f in ([u.filter] if u.filter is not None else path)
            ]
        return pc

    def top(self, st: list[Tok | Block]) -> None:
        words = [it.text for it in st if isinstance(it, Tok)]
        if not words:
            return
        head = words[0]
        if head == "table":
            if len(words) < 2 or (words[1] in FAMILIES and len(words) < 3):
                self.unparsed(line_of(st), "table statement without a name")
                return
            fam, name = ("ip", words[1]) if words[1] not in FAMILIES else (words[1], words[2])
            key = (fam, name)
            table = self.tables.get(key)
            if table is None:
                table = self.tables[key] = Table(fam, name, line_of(st))
            blk = st[-1]
            if isinstance(blk, Block):
                self.table_body(table, blk)
        elif head == "flush" and words[1:2] == ["ruleset"]:
            self.tables.clear()
        elif head in ("delete", "destroy") and words[1:2] == ["table"]:
            if len(words) < 3 or (words[2] in FAMILIES and len(words) < 4):
                self.unparsed(line_of(st), "delete table without a name")
                return
            fam, name = ("ip", words[2]) if words[2] not in FAMILIES else (words[2], words[3])
            self.tables.pop((fam, name), None)
        elif head == "flush" and words[1:2] == ["table"]:
            names = words[2:4] if len(words) > 3 and words[2] in FAMILIES else ["ip", *words[2:3]]
            t = self.tables.get((names[0], names[-1]))
            if t is not None:
                for c in t.chains.values():
                    c.rules.clear()
        elif (
            head in ("add", "create", "insert")
            and words[1:2]
            and words[1] in ("chain", "set", "map", "rule", "element")
        ):
            self.command(st, words)
        elif head == "add" and words[1:2] == ["table"]:
            self.top(st[1:])
        else:
            self.unparsed(line_of(st), f"top-level command '{head}' not evaluated")

    def idle_chains(self) -> None:
        """Each regular chain nothing jumps to (or gotos, or names in a verdict map) becomes a :class:`Filter`
        without hook (default: return), so the audit can say "this chain would block port 25, but no base chain
        jumps to it" (NOT_APPLIED) instead of "nothing blocks" (FILTER_MISSING). A name after ``jump``/``goto``
        anywhere in the text counts as a reference, in any table."""
        referenced = set(re.findall(r"\b(?:jump|goto)\s+\"?([^\s;,{}\"]+)", self.text))
        for table in self.tables.values():
            if table.family not in ("ip", "ip6", "inet"):
                continue
            for chain in table.chains.values():
                if chain.hook is not None or chain.name in referenced:
                    continue
                qname = _qname(table, chain)
                fam = _FILTER_FAMILY[table.family]
                if self.lazy:
                    later = DeferredFilter(qname, fam, [], Action.NEXT, chain.line, "nft-chain", None)
                    later.defer_call(functools.partial(self.deferred_rules, table, chain, qname, weakref.ref(later)))
                    filt: Filter = later
                else:
                    filt = Filter(qname, fam, [], Action.NEXT, chain.line, "nft-chain", None)
                    filt.rules = self.chain_rules(table, chain, qname, filt)
                self.pc.filters[(fam, qname)] = filt

    def command(self, st: list[Tok | Block], words: list[str]) -> None:
        """``add|create chain|set|map [family] TABLE NAME {...}``, ``add|insert rule [family] TABLE CHAIN ...``,
        ``add element [family] TABLE SET { ... }``: the same objects as inside a ``table`` block."""
        verb, kind = words[0], words[1]
        k = 3 if len(words) > 2 and words[2] in FAMILIES else 2
        fam = words[2] if k == 3 else "ip"
        if len(st) < k + 2 or not all(isinstance(it, Tok) for it in st[: k + 2]):
            self.unparsed(line_of(st), f"{verb} {kind} without a table and a name")
            return
        table = self.tables.get((fam, words[k]))
        if table is None:
            table = self.tables[(fam, words[k])] = Table(fam, words[k], line_of(st))
        name, rest = words[k + 1], st[k + 2 :]
        if kind in ("chain", "set", "map"):
            self.table_body(table, Block([[Tok(kind, line_of(st)), *st[k + 1 :]]], line_of(st)))
        elif kind == "element":
            target = table.sets.get(name)
            blk = rest[0] if rest else None
            if target is None or not isinstance(blk, Block):
                self.unparsed(line_of(st), f"element added to an undefined set {name}")
                return
            target.add_elements(blk.items())
        else:
            chain = table.chains.get(name)
            head = rest[0] if rest else None
            if chain is None or not rest or (isinstance(head, Tok) and head.text in ("handle", "index", "position")):
                why = "an undefined chain" if chain is None else "a position" if rest else "nothing"
                self.unparsed(line_of(st), f"{verb} rule to {why} not evaluated")
                return
            chain.rules.insert(0, rest) if verb == "insert" else chain.rules.append(rest)

    def untracked(self) -> list[_Untracked]:
        """The ``notrack`` rules that can make a forwarded TCP packet untracked: in a filter chain at prerouting
        before conntrack (priority below -200) or in a chain it reaches. Each is (line, an upper bound of the
        packets it makes untracked (None: unknown), exactly those packets (None: not known exactly: a rule after
        a verdict other than a plain accept or drop, in a chain called from several places, not understood)).
        Each chain is walked once."""
        out: list[_Untracked] = []
        for table in self.tables.values():
            if table.family not in ("ip", "ip6", "inet"):
                continue
            raw = [c for c in table.chains.values() if _stage(c) == "raw" and c.type == "filter"]
            reached = _reached(table, raw)
            sites: dict[str, int] = {}
            for chain in [*raw, *reached]:
                for st in chain.rules:
                    for name in set(_targets(table, st)):
                        sites[name] = sites.get(name, 0) + 1
            walk = _NotrackWalk(self, table, sites, out)
            for chain in raw:
                walk.walk(chain.rules, [Cond()], 0)
            for chain in reached:
                if chain.name not in walk.done:
                    walk.walk(chain.rules, None, 0)
        return out

    def notrack_bound(self, u: _Untracked) -> tuple[Unparsed, list[Rule]]:
        """A notrack rule as the line and rules covering the packets it can make untracked (any TCP packet where
        that bound is not representable)."""
        line, upper, _exact = u
        why = "notrack: the replies of a connection it leaves untracked are ct state invalid (not modelled)"
        tcp = Cond(protocols=frozenset({6}))
        try:
            rules = to_rules(upper or tcp, Action.DENY, (4, 6), line=line)
        except Unrepresentable:
            rules = to_rules(tcp, Action.DENY, (4, 6), line=line)
        return Unparsed(line, self.line_text(line), why), rules

    def relevant_untracked(self, r: NftRule) -> list[_Untracked]:
        """The notrack rules that can make a packet ``r`` matches untracked."""
        return [u for u in self.untracked_ if u[1] is None or u[1].and_(r.cond) is not None]

    def ct_alternatives(self, r: NftRule) -> list[Cond] | None:
        """The packets a ``ct state`` match accepts given the untracked packets: tracked ones by their TCP flags,
        untracked ones when ``untracked`` is listed. None when the untracked packets are not known exactly.
        Before conntrack (ingress, prerouting below priority -200) every packet's state is ``invalid``."""
        if self.stage == "raw":
            if r.uses_ct or r.ct is None:
                return None  # a verdict map or concatenation on the state: not modelled before conntrack
            return [Cond()] if "invalid" in r.ct else []
        relevant = self.relevant_untracked(r)
        if r.ct is None:  # ct state inside a verdict map or concatenation: its flags model holds for tracked
            return None if relevant else [Cond()]
        flags = ct_cond(r.ct)
        if not relevant:
            return [flags]
        if any(u[2] is None for u in relevant):
            return None
        untracked = [c for u in relevant for c in u[2] or []]
        try:
            tracked: list[Cond] = [Cond()]
            for c in untracked:
                tracked = and_not(tracked, c)
            alts = [x for t in tracked if (x := t.and_(flags)) is not None]
        except Unrepresentable:
            return None
        return [*(untracked if "untracked" in r.ct else []), *alts]

    def table_body(self, table: Table, blk: Block) -> None:
        for st in blk.stmts:
            words = [it.text for it in st if isinstance(it, Tok)]
            if not words:
                continue
            kind = words[0]
            inner = st[-1] if isinstance(st[-1], Block) else None
            if kind == "chain" and len(words) > 1:
                chain = table.chains.get(words[1])
                if chain is None:
                    chain = table.chains[words[1]] = Chain(words[1], line_of(st))
                if inner is not None:
                    self.chain_body(chain, inner)
            elif kind in ("set", "map") and len(words) > 1 and inner is not None:
                table.sets[words[1]] = self.set_body(words[1], kind == "map", inner, line_of(st))
            # flags, comment, ct helper/timeout/expectation, flowtable, counter, quota, limit, secmark,
            # synproxy objects do not decide a verdict by themselves.

    def set_body(self, name: str, is_map: bool, blk: Block, line: int) -> NftSet:
        s = NftSet(name, line, is_map=is_map)
        for st in blk.stmts:
            words = [it.text for it in st if isinstance(it, Tok)]
            if not words:
                continue
            if words[0] in ("type", "typeof"):
                s.key = " ".join(words[1:])
            elif words[0] == "flags":
                s.flags |= set_flags(words[1:])
            elif words[0] == "timeout" and len(words) == 2:
                s.timeout = seconds(words[1])
            elif words[0] == "elements":
                inner = st[-1]
                if isinstance(inner, Block):
                    s.add_elements(inner.items())
        return s

    def chain_body(self, chain: Chain, blk: Block) -> None:
        for st in blk.stmts:
            first = st[0]
            if isinstance(first, Tok) and first.text not in _CHAIN_WORDS:
                chain.rules.append(st)  # a rule (the common case: no need to list its words)
                continue
            words = [it.text for it in st if isinstance(it, Tok)]
            if not words:
                continue
            if words[0] == "type" and "hook" in words:
                chain.type = words[1] if len(words) > 1 else None
                i = words.index("hook")
                chain.hook = words[i + 1] if i + 1 < len(words) else None
                if "priority" in words:
                    chain.priority = _priority(words[words.index("priority") + 1 :])
                chain.devices.extend(_devices(st))
            elif words[0] == "policy" and len(words) > 1:
                chain.policy = words[1]
            elif words[0] == "comment" and len(words) == 2 and len(st) == 2:
                chain.comment = words[1]
            elif words[0] in ("device", "devices"):
                chain.devices.extend(_devices(st))
            else:
                chain.rules.append(st)

    # -- rules and flattening --------------------------------------------------------------------------
    def rule(self, table: Table, st: list[Tok | Block]) -> NftRule:
        key = id(st)
        r = self.rule_cache.get(key)
        if r is None:
            line = line_of(st)
            r = RuleParser(st, table.sets, self.line_text(line), table.family).parse()
            if r.error is not None and r.verdict is None and _has_verdict(st):
                r.verdict = "unknown"
            self.rule_cache[key] = r
        return r

    def base_chain(self, table: Table, chain: Chain) -> None:
        qname = _qname(table, chain)
        if table.family == "arp":
            return
        if chain.type not in ("filter", "route"):
            self.pc.notes.append(f"{qname}: {chain.type} chain at hook {chain.hook} not audited")
            if chain.type == "nat" and (table.family, chain.hook) in _PATH_HOOKS:
                self.nat_chain(chain)
            return
        default = Action.DENY if chain.policy == "drop" and not _device_scoped(chain) else Action.PERMIT
        fam = _FILTER_FAMILY[table.family]
        if self.lazy and chain.hook != "forward":
            # the audit evaluates forward chains; another hook's chain is built if something reads it
            later = DeferredFilter(qname, fam, [], default, chain.line, "nft-chain", chain.hook)
            later.defer_call(functools.partial(self.deferred_rules, table, chain, qname, weakref.ref(later)))
            filt: Filter = later
        else:
            filt = Filter(qname, fam, [], default, chain.line, "nft-chain", chain.hook)
            filt.rules = self.chain_rules(table, chain, qname, filt)
        self.pc.filters[(filt.family, qname)] = filt

    def nat_chain(self, chain: Chain) -> None:
        """A nat chain on the forwarding path is not evaluated: what in it can change a verdict is reported (a
        drop of the connection's first packet; in prerouting, a destination rewrite later chains would see)."""
        stop = _NAT_VERDICTS | (_DNAT if chain.hook == "prerouting" else frozenset())
        for st in chain.rules:
            hit = next((t.text for t in st if isinstance(t, Tok) and not t.quoted and t.text in stop), None)
            if hit is not None:
                self.unparsed(line_of(st), f"nat chain {chain.name}: '{hit}' on the forwarding path not modeled")

    def deferred_rules(self, table: Table, chain: Chain, qname: str, ref: weakref.ref[DeferredFilter]) -> list[Rule]:
        """:meth:`chain_rules` of a deferred filter, reached through a weak reference: the filter holds this
        build, so a strong one would make a reference cycle (filter -> build -> filter) that kept the whole
        ruleset's tokens alive until a collector pass (about 1,250 objects per config, collected after every
        chunk of the audit pool). The build runs while its filter reads its rules, so the filter is alive."""
        filt = ref()
        if filt is None:  # pragma: no cover - only its own filter runs the build
            return []
        return self.chain_rules(table, chain, qname, filt)

    def chain_rules(self, table: Table, chain: Chain, qname: str, filt: Filter) -> list[Rule]:
        """The rules of one base chain (setting ``filt.calls``); every line not understood in it or in a chain
        it reaches is reported under ``qname``."""
        self.stage = _stage(chain)
        try:
            rules, filt.calls, bad = self.compile_body(
                table, chain.rules, chain.name, ((table.family, table.name, chain.name, self.stage),)
            )
            height = 1 + max((self.height.get(id(c.target), 0) for c in filt.calls.values() if c.target), default=0)
            if height > MAX_DEPTH:
                raise _Abort(chain.line, f"chain {chain.name}: more than {MAX_DEPTH - 1} nested jumps (not loadable)")
        except _Abort as exc:
            line, reason = exc.args
            self.unparsed(line, reason, qname)
            filt.calls = {}
            return []
        except Exception as exc:  # a parser never raises (a lazy build runs when the engine reads the rules)
            log.debug("chain %s not understood", chain.name, exc_info=True)
            self.unparsed(chain.line, f"chain not understood ({type(exc).__name__})", qname)
            filt.calls = {}
            return []
        seen: set[tuple[int, str]] = set()
        for line, reason in [*bad, *(b for f in filt.reachable()[1:] for b in self.bad.get(id(f), []))]:
            if (line, reason) not in seen:
                seen.add((line, reason))
                self.unparsed(line, reason, qname)
        if _device_scoped(chain):
            # only packets received on (sent through) its devices traverse the chain: a goto to its rules, whose
            # end applies the policy; the others pass (the base filter's default is accept)
            fams = _RULE_FAMILIES.get(table.family, (4, 6))
            fam = _FILTER_FAMILY[table.family]
            if chain.policy == "drop":
                rules += to_rules(Cond(), Action.DENY, fams, name=chain.name, line=chain.line, text="(policy drop)")
            body = Filter(
                f"{qname} (device {', '.join(chain.devices)})",
                fam,
                rules,
                Action.NEXT,
                chain.line,
                "nft-chain",
                None,
                filt.calls,
            )
            side = "iif" if chain.hook == "ingress" else "oif"
            scope = Cond(**{side: IfSet(tuple(chain.devices))})  # type: ignore[arg-type]
            rules = to_rules(scope, Action.NEXT, fams, name=chain.name, line=chain.line, text=f"{chain.hook} device")
            filt.calls = {pos: Call("goto", body) for pos in range(len(rules))}
        return rules

    def compile_body(
        self, table: Table, stmts: list[list[Tok | Block]], cname: str, stack: tuple[object, ...]
    ) -> tuple[list[Rule], dict[int, Call], list[tuple[int, str]]]:
        """One chain's rules in order: verdict rules as they are, ``jump``/``goto``/``return`` as Action.NEXT
        rules with a :class:`Call` at their position (each callee compiled once: see :meth:`compile_chain`), and
        the lines not understood."""
        b = _Build(table, cname, stack, _RULE_FAMILIES.get(table.family, (4, 6)))
        out, calls, bad = b.out, b.calls, b.bad
        wait: NftRule | None = None  # the first half of a connection delay, waiting for its second
        for st in stmts:
            check_deadline()  # compiling can take long on huge rulesets: the audit's time budget
            r = self.rule(table, st)
            if r.verdict is None or r.verdict == "continue":
                continue  # no verdict: cannot change the packet's fate
            if wait is not None:  # the rule after a connection delay's wait-set lookup: its second half?
                paired, wait = _delay(wait, r), None
                if paired.error is None:
                    r = paired
                else:
                    bad.append((paired.line, f"chain {cname}: {paired.error}"))
                    if r.error is None and r.delay is not None and r.delay.kind == "first":
                        r.error = f"{paired.error} (with line {paired.line})"
            if r.error is None and r.delay is not None:
                if r.delay.kind == "wait":
                    wait = r
                    continue
                r.error = "the rule that fills a connection delay's sets, without the wait-set lookup right before it"
            if r.error is not None:
                bad.append((r.line, f"chain {cname}: {r.error}"))
                continue
            try:
                self.compile_rule(b, r)
            except _Abort as exc:
                bad.append(exc.args)
            if len(out) > MAX_RULES:
                raise _Abort(r.line, f"chain {cname}: more than {MAX_RULES} rules")
        if wait is not None:
            bad.append((wait.line, f"chain {cname}: {_delay(wait, None).error}"))
        return out, calls, bad

    def compile_rule(self, b: _Build, r: NftRule) -> None:
        if r.ct is not None or r.uses_ct:
            ct_alts = self.ct_alternatives(r)
            if ct_alts is None:
                lines = ", ".join(str(u[0]) for u in self.relevant_untracked(r)[:3]) or "-"
                why = f"ct state here is not modeled (packets made untracked by notrack: line {lines})"
                b.bad.append((r.line, f"chain {b.name}: {why}"))
                return
            alts = ct_alts if r.alts is None else [x for a in r.alts for c in ct_alts if (x := a.and_(c))]
            r = replace(r, ct=None, uses_ct=False, alts=alts)
        if r.branches is not None or r.alts is not None:
            self.compile_alternatives(b, r)
            return
        if r.verdict in ("accept", "drop"):
            action = Action.PERMIT if r.verdict == "accept" else Action.DENY
            limit: FlowLimit | None = None
            if r.flow is not None or r.global_limit:
                # the verdict applies above the limit only: a LIMIT rule (drop), or a PERMIT rule carrying the
                # limit (accept), which a single connection (under every limit) passes
                f = r.flow
                if f is not None and f.per_source:
                    limit = FlowLimit(f.max_sessions, f.rate or 0, f.burst or 0, f.v6_length, f.delay)
                else:
                    limit = FlowLimit(None, 0, 0) if action is Action.PERMIT else None
                    self.pc.notes.append(f"line {r.line}: limit is not per source (not per subscriber)")
                if action is Action.DENY:
                    action = Action.LIMIT
            self.emit(b, r.cond, action, r, limit)
        elif (r.flow is not None or r.global_limit) and r.verdict in ("jump", "goto", "return"):
            b.bad.append((r.line, f"chain {b.name}: {r.verdict} above a limit not modeled"))
        elif r.verdict in ("jump", "goto", "return"):
            target: Filter | None = None
            if r.verdict != "return":
                target = self.compile_chain(b.table, r, b.name, b.stack)
            first = len(b.out)
            self.emit(b, r.cond, Action.NEXT, r, None)
            for pos in range(first, len(b.out)):
                b.calls[pos] = Call(r.verdict, target)
        else:
            b.bad.append((r.line, f"chain {b.name}: verdict '{r.verdict}' not modeled"))

    def compile_alternatives(self, b: _Build, r: NftRule) -> None:
        """A rule with alternatives (concatenation elements, tracked / untracked packets) and/or a verdict map
        (one rule per element, keys disjoint): one rule each. Alternatives are made disjoint first where a call
        could follow, so that no packet is handed over twice."""
        try:
            conds = [r.cond] if r.alts is None else [c for a in r.alts if (c := r.cond.and_(a)) is not None]
            calls = {v for _, v, _ in r.branches} if r.branches is not None else {r.verdict}
            if len(conds) > 1 and calls & {"jump", "goto", "return"}:
                conds = disjoint(conds)
            if r.branches is not None:
                cts: list[frozenset[str] | None] = [*r.branch_ct] if r.branch_ct else [None] * len(r.branches)
                subs = [
                    replace(r, cond=x, verdict=verdict, target=target, branches=None, branch_ct=None, alts=None, ct=ct)
                    for c in conds
                    for (key, verdict, target), ct in zip(r.branches, cts, strict=True)
                    if (x := c.and_(key)) is not None
                ]
            else:
                subs = [replace(r, cond=c, alts=None) for c in conds]
        except Unrepresentable as exc:
            raise _Abort(r.line, f"chain {b.name}: {exc}") from None
        for sub in subs:
            if sub.verdict != "continue":
                self.compile_rule(b, sub)

    def compile_chain(self, table: Table, r: NftRule, cname: str, stack: tuple[object, ...]) -> Filter:
        """The callee of a ``jump``/``goto`` as a regular-chain :class:`Filter` (default Action.NEXT: return),
        compiled once per ruleset."""
        tgt = r.target
        key: object
        if isinstance(tgt, Block):
            key, name, stmts, line = (id(tgt), self.stage), f"{cname}/anonymous@{tgt.line}", tgt.stmts, tgt.line
        else:
            sub = table.chains.get(str(tgt))
            if sub is None:
                raise _Abort(r.line, f"chain {cname}: {r.verdict} to undefined chain {tgt}")
            key, name, stmts, line = (table.family, table.name, sub.name, self.stage), sub.name, sub.rules, sub.line
        if key in stack:
            raise _Abort(r.line, f"chain {cname}: {r.verdict} loop through {name}")
        hit = self.compiled.get(key)
        if hit is not None:
            return hit
        if len(stack) >= MAX_DEPTH:
            raise _Abort(r.line, f"chain {cname}: more than {MAX_DEPTH - 1} nested jumps (not loadable)")
        rules, calls, bad = self.compile_body(table, stmts, name, (*stack, key))
        filt = Filter(
            f"{table.family} {table.name} {name}{_STAGE_NAMES[self.stage]}",
            _FILTER_FAMILY.get(table.family, 0),
            rules,
            Action.NEXT,
            line,
            "nft-chain",
            None,
            calls,
        )
        self.compiled[key] = filt
        self.bad[id(filt)] = bad
        self.height[id(filt)] = 1 + max(
            (self.height.get(id(c.target), 0) for c in calls.values() if c.target), default=0
        )
        return filt

    def emit(self, b: _Build, cond: Cond, action: Action, r: NftRule, limit: FlowLimit | None) -> None:
        unset = "iif" if self.stage == "egress" else "oif" if self.stage else None
        ifs = getattr(cond, unset) if unset else None
        if ifs is not None:
            # before routing (prerouting, ingress) the output interface is unset, at netdev egress the input one:
            # its name is ""
            if not _matches_unset(ifs):
                return
            cond = replace(cond, **{unset: None})  # type: ignore[arg-type]
        try:
            rules = to_rules(
                cond,
                action,
                b.fams,
                name=b.name,
                line=r.line,
                text=r.text,
                log_=r.log,
                counter="counter" if r.counter else None,
                remark=r.comment,
                limit=limit,
                src_set=r.src_set,
                dst_set=r.dst_set,
            )
        except Unrepresentable as exc:
            raise _Abort(r.line, f"chain {b.name}: {exc}") from None
        for rule in rules:
            _append_merged(b.out, rule)

    # -- bindings --------------------------------------------------------------------------------------
    def bindings(self) -> None:
        """Every filter base chain a forwarded packet traverses, in the kernel's order (hook, then priority)."""
        fwd: list[tuple[int, int, Table, Chain]] = []
        for table in self.tables.values():
            for chain in table.chains.values():
                if chain.type == "filter" and (table.family, chain.hook) in _PATH_HOOKS:
                    fwd.append((_HOOK_ORDER[str(chain.hook)], chain.priority, table, chain))
        fwd.sort(key=lambda t: t[:2])
        if len(fwd) > 1:
            self.pc.notes.append(
                f"{len(fwd)} base chains on the forwarding path (ingress, prerouting, forward, postrouting): a packet"
                " is forwarded only if every one of them accepts it"
            )
        for _hook, _prio, table, chain in fwd:
            qname = _qname(table, chain)
            fam = _FILTER_FAMILY[table.family]
            self.pc.bindings.append(Binding("nft-forward", "*", "in", fam, (qname,), chain.line))
            filt = self.pc.filters.get((fam, qname))
            if filt is None:
                continue
            seen: dict[int, FlowControlSeen] = {}
            for rule in (r for f in filt.reachable() for r in f.rules):
                if rule.action is not Action.LIMIT or rule.limit is None:
                    continue
                fc = seen.get(rule.family)
                if fc is None:
                    fc = seen[rule.family] = FlowControlSeen(
                        "nft-forward", "*", "in", rule.family, line=rule.line, text=rule.text
                    )
                    self.pc.flow.append(fc)
                lim = rule.limit
                if rule.family == 6 and (lim.max_sessions is not None or lim.new_per_second):
                    fc.counts_per(lim.ipv6_subscriber_length)  # the meter's key: ip6 saddr [& mask]
                if lim.max_sessions is not None and fc.max_sessions is None:
                    fc.max_sessions = lim.max_sessions
                if lim.new_per_second and fc.new_per_second is None:
                    fc.new_per_second, fc.burst = lim.new_per_second, lim.burst
                if lim.connect_delay_s is not None and fc.connect_delay_s is None:
                    fc.connect_delay_s = lim.connect_delay_s


def _delay(wait: NftRule, r: NftRule | None) -> NftRule:
    """The connection delay made of ``wait`` (a :class:`DelayPart` of kind "wait") and the rule after it: one
    drop rule above a limit (a LIMIT rule), or a rule whose ``error`` says why it is not the delay op25b renders
    (both rules then stay not understood)."""
    w, f = wait.delay, r.delay if r is not None and r.error is None else None
    assert w is not None
    why = ""
    if r is None or f is None or f.kind != "first":
        why = "a connection delay's wait-set lookup without the rule that fills its sets right after it"
    elif (f.family, f.wait) != (w.family, w.wait):
        why = f"a connection delay's rules use different wait sets (@{w.wait}, @{f.wait})"
    elif (wait.cond, wait.ct, wait.uses_ct) != (r.cond, r.ct, r.uses_ct):
        why = "a connection delay's two rules match different packets"
    elif w.wait_timeout is None or not w.wait_timeout.is_integer() or not 1 <= w.wait_timeout <= MAX_CONNECT_DELAY:
        why = f"a connection delay of {w.wait_timeout:g} s (clients give up before a delay over {MAX_CONNECT_DELAY} s)"
    elif f.seen_timeout is None or f.seen_timeout < delay_timeouts(int(w.wait_timeout))[1]:
        need = delay_timeouts(int(w.wait_timeout))[1]
        why = (
            f"a connection delay whose seen set @{f.seen} forgets a connection after {f.seen_timeout:g} s, before its"
            f" SYN retransmission may come (at least {need} s): it could be held back forever"
        )
    if why:
        return replace(wait, error=why)
    assert r is not None and w.wait_timeout is not None
    flow = FlowSeen(delay=int(w.wait_timeout), text=f"{wait.text} / {r.text}")
    return replace(wait, flow=flow, delay=None, comment=wait.comment or r.comment, counter=wait.counter or r.counter)


def _append_merged(out: list[Rule], r: Rule) -> None:
    """Append ``r``, merged into the rule before when both are LIMIT rules on the same match (a connection
    delay, a session-cap rule and a rate rule that follow each other; a delay only first)."""
    prev = out[-1] if out else None
    if (
        prev is not None
        and r.action is Action.LIMIT
        and prev.action is Action.LIMIT
        and r.limit is not None
        and prev.limit is not None
        and r.limit.connect_delay_s is None
        and replace(r, limit=None, line=None, text="", remark="")
        == replace(prev, limit=None, line=None, text="", remark="")
    ):
        a, b = prev.limit, r.limit
        merged = FlowLimit(
            a.max_sessions if a.max_sessions is not None else b.max_sessions,
            a.new_per_second or b.new_per_second,
            a.burst if a.new_per_second else b.burst,
            a.ipv6_subscriber_length if a.max_sessions is not None or a.new_per_second else b.ipv6_subscriber_length,
            a.connect_delay_s,
        )
        out[-1] = replace(prev, limit=merged)
        return
    out.append(r)


def _stage(chain: Chain) -> str:
    """Where a base chain runs: after routing (""), before routing ("pre"), before conntrack too ("raw"), or at
    netdev egress (no input interface: "egress")."""
    if chain.hook == "ingress" or (chain.hook == "prerouting" and chain.priority < _CONNTRACK_PRIORITY):
        return "raw"
    if chain.hook == "egress":
        return "egress"
    return "pre" if chain.hook in _NO_OIF_HOOKS else ""


def _device_scoped(chain: Chain) -> bool:
    return chain.hook in ("ingress", "egress") and bool(chain.devices)


def _matches_unset(names: IfSet) -> bool:
    """Does an interface match accept the unset interface (name "", index 0)?

    >>> _matches_unset(IfSet(("eth0",))), _matches_unset(IfSet(("eth0",), True))
    (False, True)
    """
    hit = any(n == "" or n == "*" for n in names.names)
    return hit != names.negate


def _devices(st: list[Tok | Block]) -> list[str]:
    """The device names of ``device "eth1"`` / ``devices = { "a", "b" }`` inside a statement."""
    out: list[str] = []
    for i, it in enumerate(st):
        if isinstance(it, Tok) and not it.quoted and it.text in ("device", "devices"):
            for nxt in st[i + 1 : i + 3]:
                if isinstance(nxt, Block):
                    out.extend(t.text for t in nxt.items() if isinstance(t, Tok) and t.text != ",")
                    break
                if nxt.text != "=":
                    out.append(nxt.text)
                    break
    return out


def _has_word(st: list[Tok | Block], word: str, deep: bool = False) -> bool:
    """Does the statement hold the unquoted ``word`` (``deep``: also inside its ``{ }`` blocks)?"""
    return any(
        (isinstance(it, Tok) and not it.quoted and it.text == word)
        or (deep and isinstance(it, Block) and _has_word(it.items(), word, True))
        for it in st
    )


def _reached(table: Table, roots: list[Chain]) -> list[Chain]:
    """The regular chains of ``table`` that ``roots`` can jump or go to (directly, through anonymous chains or
    verdict maps, named ones included), each once."""
    out: list[Chain] = []
    todo = list(roots)
    seen = {id(c) for c in roots}
    while todo:
        chain = todo.pop()
        for st in chain.rules:
            for name in _targets(table, st):
                sub = table.chains.get(name)
                if sub is not None and id(sub) not in seen:
                    seen.add(id(sub))
                    out.append(sub)
                    todo.append(sub)
    return out


def _targets(table: Table, items: list[Tok | Block]) -> list[str]:
    """Chain names after ``jump``/``goto`` in a statement, its blocks, and the named maps it uses."""
    out: list[str] = []
    for i, it in enumerate(items):
        if isinstance(it, Block):
            out += _targets(table, it.items())
        elif it.text in ("jump", "goto") and i + 1 < len(items) and isinstance(items[i + 1], Tok):
            out.append(items[i + 1].text)  # type: ignore[union-attr]
        elif it.text.startswith("@") and (m := table.sets.get(it.text[1:])) is not None and m.is_map:
            out += [v[1] for _, v in m.entries if len(v) == 2 and v[0] in ("jump", "goto")]
    return out


@dataclass
class _NotrackWalk:
    """Walks the chains before conntrack, tracking exactly which packets reach each rule (see
    :meth:`_Parser.untracked`)."""

    parser: _Parser
    table: Table
    sites: dict[str, int]
    out: list[_Untracked]
    done: set[str] = field(default_factory=set)

    def walk(self, stmts: list[list[Tok | Block]], reach: list[Cond] | None, depth: int) -> None:
        tcp = Cond(protocols=frozenset({6}), family=_FAMILY_OF.get(self.table.family))
        for st in stmts:
            r = self.parser.rule(self.table, st)
            if r.notrack or _has_word(st, "notrack", deep=True):
                never = r.ct is not None and "invalid" not in r.ct  # before conntrack: state invalid
                upper = r.cond.and_(tcp) if r.error is None else tcp
                if upper is not None and not never:
                    known = r.notrack and r.error is None and r.alts is None and r.branches is None
                    exact = None
                    if known and reach is not None and not r.uses_ct:
                        exact = [x for c in reach if (x := c.and_(upper)) is not None]
                    self.out.append((r.line, upper if r.error is None else None, exact))
            reach = self.call(r, st, reach, depth)

    def call(self, r: NftRule, st: list[Tok | Block], reach: list[Cond] | None, depth: int) -> list[Cond] | None:
        """Walk what rule ``r`` calls; the packets that go on past it."""
        tgt = r.target
        sub = self.table.chains.get(tgt) if isinstance(tgt, str) else None
        plain = r.error is None and r.alts is None and r.branches is None and not r.uses_ct
        stmts = tgt.stmts if isinstance(tgt, Block) else sub.rules if sub is not None else None
        if r.verdict in ("jump", "goto") and plain and (r.ct is None or "invalid" in r.ct) and stmts is not None:
            once = isinstance(tgt, Block) or (sub is not None and self.sites.get(sub.name) == 1)
            if once and depth < MAX_DEPTH:  # a chain called from one place: the packets reaching it are known
                if sub is not None:
                    self.done.add(sub.name)
                self.walk(stmts, None if reach is None else [x for c in reach if (x := c.and_(r.cond))], depth + 1)
            if r.verdict == "goto":
                return _reach_after(replace(r, verdict="drop"), reach)
            if any(self.parser.rule(self.table, x).verdict for x in stmts):
                return None  # what the callee decides does not come back: not followed exactly
            return reach
        return _reach_after(r, reach)


def _reach_after(r: NftRule, reach: list[Cond] | None) -> list[Cond] | None:
    """The packets that go on past rule ``r`` in a chain, given those that reach it (None: not known exactly).
    Before conntrack a ``ct state`` match holds for all packets (``invalid`` listed) or none; ``limit rate over``
    and ``ct count over N`` do not hold for a single connection."""
    if reach is None or r.verdict is None or r.verdict == "continue" or r.flow is not None or r.global_limit:
        return reach
    if r.error is not None or r.uses_ct or r.branch_ct is not None:
        return None
    if r.ct is not None and "invalid" not in r.ct:
        return reach  # never matches
    conds = [r.cond] if r.alts is None else [c for a in r.alts if (c := r.cond.and_(a)) is not None]
    if r.branches is not None:
        if any(v not in ("accept", "drop", "continue") for _, v, _ in r.branches):
            return None
        conds = [x for c in conds for k, v, _ in r.branches if v != "continue" and (x := c.and_(k)) is not None]
    elif r.verdict not in ("accept", "drop"):
        return None
    try:
        for c in conds:
            reach = and_not(reach, c)
    except Unrepresentable:
        return None
    return reach if len(reach) <= MAX_REACH else None


def _has_verdict(st: list[Tok | Block]) -> bool:
    return any(isinstance(it, Tok) and not it.quoted and (it.text in _VERDICTS or it.text == "vmap") for it in st)


def _qname(table: Table, chain: Chain) -> str:
    return f"{table.family} {table.name} {chain.name}"


def _priority(words: list[str]) -> int:
    """``filter``, ``-150``, ``dstnat + 10`` -> a number."""
    total = 0
    sign = 1
    for w in words:
        if w == "+":
            sign = 1
        elif w == "-":
            sign = -1
        elif re.fullmatch(r"-?\d+", w):
            total += sign * int(w)
        elif w in _PRIORITY:
            total += sign * _PRIORITY[w]
        else:
            break
    return total


def parse(text: str, *, lazy: bool = False) -> ParsedConfig:
    """Parse ``nft list ruleset`` output (or an ``nft -f`` file). Never raises."""
    return _Parser(text, lazy).parse("ruleset")
