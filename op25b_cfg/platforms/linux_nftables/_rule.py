"""One nftables rule (a list of words and ``{ }`` blocks) -> its match condition, statements and verdict.

The matches the auditor models become a :class:`Cond`: ``ip|ip6 saddr|daddr``, ``ip protocol``,
``ip6 nexthdr``, ``meta l4proto|nfproto|protocol``, ``tcp|udp|sctp|th dport|sport``, ``iifname|oifname|iif|oif``,
``tcp flags``, ``icmp|icmpv6 type|code`` (as the protocol), each with ``!=``, anonymous ``{ }`` sets, named
``@sets``, ranges and prefixes; concatenations (``ip saddr . tcp dport { a . 25 }``) become alternatives
(:attr:`NftRule.alts`); ``ct state`` is kept as a set of states (:attr:`NftRule.ct`), resolved when the chain is
compiled (it depends on untracked packets and on the hook). Statements: ``counter``, ``log``, ``comment``,
``limit rate``, ``notrack``, ``add|update @set { key ct count over N }`` / ``{ key limit rate over R/second burst
B packets }`` and ``meter`` (per-source flow control). Verdicts: ``accept``, ``drop``, ``reject``, ``jump``,
``goto``, ``return``, ``continue``, ``queue``, and verdict maps ``<selector> vmap { key : verdict }`` /
``vmap @map`` (:attr:`NftRule.branches`).

Anything else makes :attr:`NftRule.error` say what was not understood; the caller decides whether that
matters (only rules with a verdict can change a packet's fate).
"""

from __future__ import annotations

import ipaddress
import logging
import math
from dataclasses import dataclass, field

from op25b_cfg.dialects.nft import Block, Tok
from op25b_cfg.netaddr import Network
from op25b_cfg.platforms.juniper_junos._algebra import (
    ALL_FLAGS,
    TCP_FLAG_NAMES,
    AddrSet,
    Cond,
    IfSet,
    Unrepresentable,
    flags_not,
    norm_ports,
    parse_net,
    port_range,
    ports_complement,
)
from op25b_cfg.rules import ACK, RST, FlagMatch, PortRange

log = logging.getLogger(__name__)

PROTOCOLS = {
    "icmp": 1,
    "igmp": 2,
    "ipencap": 4,
    "tcp": 6,
    "egp": 8,
    "udp": 17,
    "ipv6": 41,
    "ipv6-route": 43,
    "ipv6-frag": 44,
    "rsvp": 46,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "icmpv6": 58,
    "ipv6-icmp": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ospf": 89,
    "ipip": 94,
    "pim": 103,
    "comp": 108,
    "vrrp": 112,
    "l2tp": 115,
    "sctp": 132,
    "udplite": 136,
    "dccp": 33,
}
_L4 = {"tcp": 6, "udp": 17, "sctp": 132, "udplite": 136, "dccp": 33}

CT_ESTABLISHED: FlagMatch = ((ACK, ACK), (RST, RST))
"""``ct state established,related`` is modeled as the stateless TCP test ``ack | rst`` (Cisco ``established``)."""
CT_NEW: FlagMatch = ((ACK | RST, 0),)
"""``ct state new`` is modeled as the complement: neither ACK nor RST (a connection-opening SYN)."""
_CT_STATES = frozenset({"new", "established", "related", "invalid", "untracked"})
_VERDICTS = frozenset({"accept", "drop", "reject", "jump", "goto", "return", "continue", "queue"})
_LOG_OPTS = frozenset({"prefix", "level", "group", "snaplen", "queue-threshold"})
_SET_STMT_STOP = _VERDICTS | {"counter", "log", "comment", "limit"}
_PER_SECOND = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}


@dataclass
class FlowSeen:
    """A per-source flow-control statement found in a rule."""

    max_sessions: int | None = None
    rate: int | None = None
    burst: int | None = None
    v6_length: int = 64
    per_source: bool = True
    text: str = ""
    delay: int | None = None
    """The connection delay (seconds) of a recognised delay construct (:class:`DelayPart`)."""


DELAY_KEYS: dict[tuple[Key, ...], int] = {
    (("addr", f, "saddr"), ("addr", f, "daddr"), ("port", 6, "sport")): f for f in (4, 6)
}
"""The key of a connection delay: source address, destination address and TCP source port (one connection
attempt: its SYN retransmissions carry the same key), per family."""
DELAY_SET_TYPE = {4: "ipv4_addr . ipv4_addr . inet_service", 6: "ipv6_addr . ipv6_addr . inet_service"}


@dataclass(frozen=True)
class DelayPart:
    """One of the two rules of a connection delay (see ``op25b_cfg.platforms.linux_nftables.delay_timeouts``)::

        <match> ct state new KEY @WAIT drop                                        (kind "wait")
        <match> ct state new KEY != @SEEN add @SEEN { KEY } add @WAIT { KEY } drop  (kind "first")

    ``wait_timeout`` / ``seen_timeout``: the timeouts of the sets (seconds; None when a set has none)."""

    kind: str
    family: int
    wait: str
    seen: str | None = None
    wait_timeout: float | None = None
    seen_timeout: float | None = None


@dataclass
class NftRule:
    """A parsed rule: condition, verdict, statements; ``error`` says what was not understood."""

    line: int
    text: str
    cond: Cond = field(default_factory=Cond)
    verdict: str | None = None  # accept | drop | jump | goto | return | continue | queue | vmap
    target: str | Block | None = None
    counter: bool = False
    log: bool = False
    comment: str = ""
    flow: FlowSeen | None = None
    global_limit: bool = False
    error: str | None = None
    src_set: str | None = None
    dst_set: str | None = None
    alts: list[Cond] | None = None
    """Concatenation matches (``ip saddr . tcp dport { a . 25, b . 587 }``): the rule also requires one of these
    (an OR; None: no such match)."""
    branches: list[tuple[Cond, str, str | Block | None]] | None = None
    """A verdict map: (key condition, verdict, jump/goto target) per element, keys pairwise disjoint."""
    branch_ct: list[frozenset[str]] | None = None
    """A ``ct state vmap``: the states of each element of :attr:`branches` (their conditions are then any)."""
    ct: frozenset[str] | None = None
    """The ``ct state`` values a plain ``ct state`` match accepts (None: no such match); see :func:`ct_cond`."""
    uses_ct: bool = False
    """The rule matches ``ct state`` in a verdict map or a concatenation (modelled from the TCP flags: exact only
    while no packet is untracked)."""
    notrack: bool = False
    """The rule has a ``notrack`` statement (the packets it matches are untracked)."""
    lookup: tuple[str, bool, int] | None = None
    """A connection-delay key looked up in a run-time set: (set name, negated, family); see :class:`DelayPart`."""
    set_adds: list[tuple[str, str]] = field(default_factory=list)
    """``add|update @set { element }`` statements without a limit: (set name, the element's words)."""
    delay: DelayPart | None = None
    """This rule is one part of a connection delay (set by :meth:`RuleParser.parse`)."""


Element = tuple[tuple[str, ...], tuple[str, ...]]
"""A set or map element: its key (one word per concatenated part) and its mapped value words (maps)."""


@dataclass
class NftSet:
    name: str
    line: int
    key: str = ""
    flags: set[str] = field(default_factory=set)
    is_map: bool = False
    entries: list[Element] = field(default_factory=list)
    error: str | None = None
    """What in the set's definition was not understood (a match on it is then not modeled)."""
    timeout: float | None = None
    """The set's ``timeout`` in seconds (None: none)."""

    def add_elements(self, items: list[Tok | Block]) -> None:
        """Add the elements of a ``{ ... }`` literal (what cannot be read makes the set not understood)."""
        try:
            self.entries.extend(entries_of(items))
        except Unrepresentable as exc:
            self.error = str(exc)

    @property
    def dynamic(self) -> bool:
        """Contents change at run time (packet path updates or element timeouts)."""
        return bool(self.flags & {"dynamic", "timeout"})


_ELEM_OPTS = {"timeout": 2, "expires": 2, "comment": 2}


def entries_of(items: list[Tok | Block]) -> list[Element]:
    """The elements of a set or map literal: ``a``, ``a-b``, ``p/len``, ``a . b`` (concatenation), ``k : verdict``
    (maps), with element options (``timeout``, ``expires``, ``comment``, ``counter ...``) dropped. Raises
    :class:`Unrepresentable` for what it cannot read.

    >>> entries_of([Tok("25", 1), Tok(":", 1), Tok("jump", 1), Tok("smtp", 1), Tok(",", 1), Tok("587", 1),
    ...             Tok(":", 1), Tok("accept", 1)])
    [(('25',), ('jump', 'smtp')), (('587',), ('accept',))]
    """
    out: list[Element] = []
    cur: list[Tok] = []
    for it in [*items, Tok(",", 0)]:
        if isinstance(it, Block):
            raise Unrepresentable("nested block in set elements not modeled")
        if it.text == "," and not it.quoted:
            if cur:
                out.append(_entry(cur))
            cur = []
        else:
            cur.append(it)
    return out


def _entry(words: list[Tok]) -> Element:
    colon = next((i for i, w in enumerate(words) if w.text == ":" and not w.quoted), None)
    key, val = (words, []) if colon is None else (words[:colon], words[colon + 1 :])
    parts: list[str] = []
    expect = True
    i = 0
    while i < len(key):
        w = key[i]
        if not w.quoted and w.text in _ELEM_OPTS:
            i += _ELEM_OPTS[w.text]
        elif not w.quoted and w.text == "counter":
            i += 1
            while i < len(key) and key[i].text in ("packets", "bytes"):
                i += 2
        elif not w.quoted and w.text == ".":
            if expect:
                raise Unrepresentable("malformed concatenated element")
            expect = True
            i += 1
        elif expect:
            parts.append(w.text)
            expect = False
            i += 1
        else:
            raise Unrepresentable(f"set element word {w.text!r} not understood")
    if not parts or expect:
        raise Unrepresentable("empty set element")
    return tuple(parts), tuple(w.text for w in val if w.text != "comment" or w.quoted)


class RuleParser:
    """Parse the words of one rule in the context of its table's sets."""

    def __init__(self, items: list[Tok | Block], sets: dict[str, NftSet], text: str, table_family: str) -> None:
        self.items = items
        self.i = 0
        self.sets = sets
        self.table_family = table_family
        first = items[0] if items else None
        self.rule = NftRule(first.line if first is not None else 0, text)
        self.cond = Cond()
        self.form = "implicit"  # of the last operand: implicit | eq | set

    # -- word access -----------------------------------------------------------------------------------
    def peek(self, k: int = 0) -> str | None:
        j = self.i + k
        if j < len(self.items):
            it = self.items[j]
            return it.text if isinstance(it, Tok) else "{"
        return None

    def take(self) -> Tok | Block:
        it = self.items[self.i]
        self.i += 1
        return it

    def word(self) -> str:
        it = self.take()
        if isinstance(it, Block):
            raise Unrepresentable("unexpected '{'")
        return it.text

    def add(self, c: Cond) -> None:
        r = self.cond.and_(c)
        self.cond = r if r is not None else _NOTHING

    # -- values ----------------------------------------------------------------------------------------
    def operand(self) -> tuple[bool, str | None, list[str], str | None]:
        """(negated, relational op, element strings, set name) of a match value."""
        neg = False
        rel: str | None = None
        w = self.peek()
        self.form = "implicit"
        if w in ("!=", "ne"):
            neg = True
            self.i += 1
        elif w in ("==", "eq"):
            self.form = "eq"
            self.i += 1
        elif w in ("<", ">", "<=", ">=", "lt", "gt", "le", "ge"):
            rel = {"lt": "<", "gt": ">", "le": "<=", "ge": ">="}.get(w, w)
            self.i += 1
        if self.i >= len(self.items):
            raise Unrepresentable("match without a value")
        it = self.take()
        if isinstance(it, Block):
            ents = entries_of(it.items())
            if any(len(k) != 1 or v for k, v in ents):
                raise Unrepresentable("concatenated or mapped elements where one value is expected")
            self.form = "set"
            return neg, rel, [k[0] for k, _ in ents], None
        if it.text.startswith("@") and not it.quoted:
            name = it.text[1:]
            ents = self.named(name, False)
            if any(len(k) != 1 for k, _ in ents):
                raise Unrepresentable(f"set @{name} has a concatenated type where one value is expected")
            self.form = "set"
            return neg, rel, [k[0] for k, _ in ents], name
        vals = [it.text]
        while self.peek() in (",", "|") and self.i + 1 < len(self.items):
            self.i += 1
            vals.append(self.word())  # a list (or, for a bitmask, the bits of one value)
        return neg, rel, vals, None

    def named(self, name: str, is_map: bool) -> list[Element]:
        """The elements of the named set (or verdict map) ``@name``; what cannot be known raises."""
        s = self.sets.get(name)
        if s is None:
            raise Unrepresentable(f"{'map' if is_map else 'set'} @{name} is not defined")
        if s.is_map != is_map:
            raise Unrepresentable(
                f"@{name} is a {'map' if s.is_map else 'set'}; a {'map' if is_map else 'set'} is expected"
            )
        if s.error is not None:
            raise Unrepresentable(f"@{name}: {s.error}")
        if s.dynamic:
            raise Unrepresentable(f"set @{name} is updated at run time; its contents are unknown")
        return s.entries

    # -- main ------------------------------------------------------------------------------------------
    def parse(self) -> NftRule:
        try:
            while self.i < len(self.items):
                self.step()
                if self.rule.verdict is not None and self.rule.verdict != "continue" and self.i < len(self.items):
                    # Words after a verdict: only 'comment' is expected.
                    if self.peek() == "comment":
                        continue
                    raise Unrepresentable(f"'{self.peek()}' after the verdict")
            self.rule.delay = self.delay_part()
        except Unrepresentable as exc:
            self.rule.error = str(exc)
        except (IndexError, ValueError) as exc:
            self.rule.error = f"malformed rule ({exc})"
        self.rule.cond = self.cond
        return self.rule

    def step(self) -> None:
        w = self.peek()
        it = self.items[self.i]
        if isinstance(it, Block):
            raise Unrepresentable("unexpected '{'")
        assert w is not None
        nxt = self.peek(1)
        if w == "tcp" and nxt == "flags" and self.peek(2) != "vmap":
            self.i += 2
            self.add(Cond(protocols=frozenset({6})))
            self.tcp_flags()
            return
        key = self.selector()
        if key is not None:
            keys = [key]
            while self.peek() == ".":
                self.i += 1
                k = self.selector()
                if k is None:
                    raise Unrepresentable(f"concatenation with '{self.peek()}' not modeled")
                keys.append(k)
            self.rule.uses_ct = self.rule.uses_ct or (len(keys) > 1 and any(k[0] == "ct" for k in keys))
            if self.peek() == "vmap":
                self.i += 1
                self.vmap(keys)
            elif len(keys) > 1:
                self.concat_match(keys)
            else:
                self.match(key)
            return
        if nxt == "vmap" or (nxt is not None and self.peek(2) == "vmap"):
            self.rule.verdict = "vmap"
            raise Unrepresentable(f"verdict map on '{w} {nxt}' not modeled")
        if w == "ct" and nxt == "count":
            n = self.peek(3)
            if self.peek(2) != "over" or n is None or not n.isdigit():
                raise Unrepresentable("'ct count' without 'over N' is not modeled")
            self.i += 4
            if n == "0":
                self.count_over_zero()
            else:
                self.rule.global_limit = True  # one count for every source: not per subscriber
            return
        elif w == "counter":
            self.i += 1
            self.rule.counter = True
            while self.peek() in ("packets", "bytes", "name"):
                self.i += 2
        elif w == "log":
            self.i += 1
            self.rule.log = True
            self.log_opts()
        elif w == "comment":
            self.i += 1
            self.rule.comment = self.word()
        elif w == "limit":
            self.i += 1
            self.limit_stmt()
        elif w in ("add", "update") and nxt is not None and nxt.startswith("@"):
            self.i += 2
            self.set_update(nxt)
        elif w == "meter":
            self.i += 2
            if self.peek() == "size":
                self.i += 2
            self.set_update("meter")
        elif w in _VERDICTS:
            self.verdict()
        elif w in ("notrack", "flow") or (w == "ct" and nxt in ("helper", "mark", "zone", "event")) or w == "meta":
            self.side_effect()
        else:
            raise Unrepresentable(f"expression '{w}' not modeled")

    def count_over_zero(self) -> None:
        """``ct count over 0``: the kernel counts a connection only on its first packet (not yet confirmed), and
        a packet without a connection (untracked, invalid) as itself, so it holds exactly for those:
        ``ct state { new, untracked, invalid }``. Not a flow limit: the verdict applies."""
        states = frozenset({"new", "untracked", "invalid"})
        self.rule.ct = states if self.rule.ct is None else self.rule.ct & states

    def side_effect(self) -> None:
        """``meta mark set X``, ``ct helper set "x"``, ``notrack``, ``flow add @ft``: no effect on the verdict.
        Anything that is a match (no ``set``) is not modeled."""
        start = self.i
        if self.peek() == "notrack":
            self.i += 1
            self.rule.notrack = True
            return
        if self.peek() == "flow":
            self.i += 3  # flow add|offload @ft
            return
        while self.i < len(self.items) and self.peek() != "set":
            self.i += 1
            if self.i - start > 3:
                break
        if self.peek() != "set":
            self.i = start
            raise Unrepresentable(f"expression '{self.peek()} {self.peek(1)}' not modeled")
        self.i += 1
        if self.i < len(self.items):
            self.take()
        while self.i < len(self.items) and self.peek() not in _SET_STMT_STOP:
            self.take()

    # -- matches ---------------------------------------------------------------------------------------
    def selector(self) -> Key | None:
        """Read a match selector (``ip saddr``, ``tcp dport``, ``meta l4proto``, ``iifname``, ``ct state``...) at
        the current position, or None (nothing read) when the words are not one."""
        w, nxt = self.peek(), self.peek(1)
        key: Key | None = None
        n = 2
        if w in ("ip", "ip6") and nxt in ("saddr", "daddr"):
            key = ("addr", 4 if w == "ip" else 6, nxt)
        elif (w == "ip" and nxt == "protocol") or (w == "ip6" and nxt == "nexthdr"):
            key = ("proto", 4 if w == "ip" else 6, "")
        elif w == "meta" and nxt in _META_KEYS:
            key = _META_KEYS[nxt]
        elif w in ("l4proto", "nfproto") or w in _IFACE_KEYS:
            key, n = _META_KEYS[w], 1
        elif (w in _L4 or w == "th") and nxt in ("dport", "sport"):
            key = ("port", _L4.get(str(w), 0), nxt)
        elif w == "ct" and nxt == "state":
            key = ("ct", 0, "")
        elif w in ("icmp", "icmpv6") and nxt in ("type", "code"):
            key = ("icmp", 4 if w == "icmp" else 6, nxt)
        if key is not None:
            self.i += n
        return key

    def match(self, key: Key) -> None:
        """``<selector> [op] value|{ set }|@set``."""
        if key[0] == "addr" and self.peek() in ("&", "and"):
            raise Unrepresentable("masked address match not modeled")
        neg, rel, vals, name = self.operand()
        if key[0] == "addr" and name is not None and not neg:
            if key[2] == "saddr":
                self.rule.src_set = name
            else:
                self.rule.dst_set = name
        if key[0] == "ct" and rel is None:
            states = ct_states(vals, neg, self.form)
            self.rule.ct = states if self.rule.ct is None else self.rule.ct & states
            return  # applied when the rule is compiled: it depends on which packets are untracked
        self.add(key_cond(key, vals, neg, rel))

    def concat_match(self, keys: list[Key]) -> None:
        """``a . b [. c] { x . y, ... }`` / ``@set`` / ``x . y``: the rule requires one of the elements. A
        connection-delay key ([!=] ``@set`` of a run-time set of its type) is kept in :attr:`NftRule.lookup`."""
        if self.delay_lookup(keys):
            return
        if self.peek() in ("!=", "ne"):
            raise Unrepresentable("negated concatenation not modeled")
        if self.peek() in ("==", "eq"):
            self.i += 1
        it = self.take()
        ents: list[Element]
        if isinstance(it, Block):
            ents = entries_of(it.items())
        elif it.text.startswith("@") and not it.quoted:
            ents = self.named(it.text[1:], False)
        else:
            parts = [it.text]
            while self.peek() == "." and self.i + 1 < len(self.items):
                self.i += 1
                parts.append(self.word())
            ents = [(tuple(parts), ())]
        alts = [c for parts, _ in ents if (c := element_cond(keys, parts)) is not None]
        if self.rule.alts is not None:
            alts = [c for a in self.rule.alts for b in alts if (c := a.and_(b)) is not None]
            if len(alts) > MAX_ALTS:
                raise Unrepresentable("too many concatenation alternatives")
        self.rule.alts = alts

    def delay_lookup(self, keys: list[Key]) -> bool:
        """``KEY [!=] @set`` with KEY a connection-delay key and the set a run-time set with a timeout of that
        type: record it (:attr:`NftRule.lookup`) and return True; anything else: False (nothing read)."""
        fam = DELAY_KEYS.get(tuple(keys))
        neg = self.peek() in ("!=", "ne")
        name = self.peek(1 if neg else 0)
        if fam is None or name is None or not name.startswith("@") or self.rule.lookup is not None:
            return False
        s = self.sets.get(name[1:])
        if s is None or s.is_map or s.error or "dynamic" not in s.flags or s.timeout is None:
            return False
        if s.key != DELAY_SET_TYPE[fam]:
            return False
        self.i += 2 if neg else 1
        self.rule.lookup = (name[1:], neg, fam)
        return True

    def delay_part(self) -> DelayPart | None:
        """The connection-delay part this rule is (see :class:`DelayPart`), or None; raises Unrepresentable when
        the rule looks a delay key up but is not exactly one of the two parts."""
        r = self.rule
        if r.lookup is None:
            return None
        name, neg, fam = r.lookup
        key = " . ".join(f"{'ip' if fam == 4 else 'ip6'} {a}" for a in ("saddr", "daddr")) + " . tcp sport"
        plain = r.verdict == "drop" and r.flow is None and not r.global_limit and r.alts is None and not r.notrack
        looked_up = self.sets[name]
        if plain and not neg and not r.set_adds:
            return DelayPart("wait", fam, name, wait_timeout=looked_up.timeout)
        if plain and neg and len(r.set_adds) == 2 and r.set_adds[0] == (name, key) and r.set_adds[1][1] == key:
            w = self.sets.get(r.set_adds[1][0])
            if w is not None and w.key == looked_up.key and "dynamic" in w.flags and w.timeout is not None:
                return DelayPart("first", fam, w.name, name, w.timeout, looked_up.timeout)
        raise Unrepresentable(f"lookup in run-time set @{name} is not the connection delay op25b renders")

    def vmap(self, keys: list[Key]) -> None:
        """``<selector> vmap { key : verdict, ... }`` / ``vmap @map``: one branch per element."""
        self.rule.verdict = "vmap"
        it = self.take()
        if isinstance(it, Block):
            ents = entries_of(it.items())
        elif it.text.startswith("@") and not it.quoted:
            ents = self.named(it.text[1:], True)
        else:
            raise Unrepresentable("verdict map without elements")
        branches: list[tuple[Cond, str, str | Block | None]] = []
        states: list[frozenset[str]] = []
        for parts, val in ents:
            verdict, target = _map_verdict(val)
            if keys == [("ct", 0, "")] and len(parts) == 1:  # resolved when compiled, like a ct state match
                branches.append((Cond(), verdict, target))
                states.append(ct_states([parts[0]], False))
            elif (c := element_cond(keys, parts)) is not None:
                branches.append((c, verdict, target))
        self.rule.branches = branches
        self.rule.branch_ct = states if keys == [("ct", 0, "")] else None

    def tcp_flags(self) -> None:
        w = self.peek()
        if w in ("&", "and"):
            self.i += 1
            mask = self.flag_expr_words()
            op = self.word()
            value = self.flag_expr_words()
            if op in ("==", "eq"):
                self.add(Cond(flags=((mask, value & mask),)))
            elif op in ("!=", "ne"):
                self.add(Cond(flags=flags_not(((mask, value & mask),))))
            else:
                raise Unrepresentable(f"tcp flags operator {op!r}")
            return
        neg, rel, vals, _ = self.operand()
        if rel is not None:
            raise Unrepresentable("tcp flags comparison not modeled")
        fm: FlagMatch
        if self.peek() == "/":
            # nft >= 1.0 listing form: tcp flags syn / syn,ack  (value / mask): (flags & mask) == value
            self.i += 1
            mask_vals = [self.word()]
            while self.peek() in (",", "|"):
                self.i += 1
                mask_vals.append(self.word())
            mask = _flag_bits(mask_vals)
            fm = ((mask, _flag_bits(vals) & mask),)
        elif self.form == "set":
            fm = tuple((ALL_FLAGS, _flag_bits([v])) for v in vals)  # membership: exact values
        elif self.form == "eq" or neg:
            fm = ((ALL_FLAGS, _flag_bits(vals)),)  # '==' / '!=' compare the whole byte
        else:
            fm = tuple((b, b) for b in _bits(_flag_bits(vals)))  # 'tcp flags syn,ack': any of the bits
        self.add(Cond(flags=flags_not(fm) if neg else fm))

    def flag_expr_words(self) -> int:
        """``(fin | syn | rst | ack)``, ``syn``, ``0x02`` -> bits."""
        bits = 0
        depth = 0
        while self.i < len(self.items):
            w = self.peek()
            assert w is not None
            stripped = w.strip("()")
            opens, closes = w.count("("), w.count(")")
            if stripped in ("", "|"):
                self.i += 1
                depth += opens - closes
                if depth <= 0 and closes:
                    break
                continue
            bits |= _flag_bits([stripped])
            self.i += 1
            depth += opens - closes
            if depth <= 0 and self.peek() != "|":
                break
        return bits

    # -- statements ------------------------------------------------------------------------------------
    def log_opts(self) -> None:
        while self.i < len(self.items):
            w = self.peek()
            if w in _LOG_OPTS:
                self.i += 2
            elif w == "flags":
                self.i += 1
                while self.i < len(self.items):
                    x, y = self.peek(), self.peek(1)
                    if x in ("ip", "tcp") and y in ("options", "sequence", "sequence,options"):
                        self.i += 2
                    elif x in ("ether", "all", "skuid", ","):
                        self.i += 1
                    else:
                        break
            else:
                return

    def limit_stmt(self) -> None:
        """A global ``limit rate [over] N/unit [burst M packets]`` (not per subscriber). The audit's packets are
        single connections, always under a rate: ``limit rate N`` matches them (its verdict applies), ``limit
        rate over N`` does not (a LIMIT rule: they go on, and above the rate they are dropped)."""
        if self.word() != "rate":
            raise Unrepresentable("limit without rate")
        over = self.peek() == "over"
        if over:
            self.i += 1
        rate, _burst, _pps = self.rate()
        if not rate:
            raise Unrepresentable("limit rate 0 not modeled")
        if over:
            self.rule.global_limit = True

    def rate(self) -> tuple[int, int, bool]:
        """``N/unit [burst M packets]`` or ``N kbytes/second ...`` -> (per second, burst, is packets)."""
        w = self.word()
        pps = True
        if "/" not in w:
            unit = self.word()
            pps = False
            w = w + unit
        num, _, unit = w.partition("/")
        num_digits = "".join(ch for ch in num if ch.isdigit())
        n = int(num_digits) if num_digits else 0
        secs = _PER_SECOND.get(unit, 1)
        per_second = math.ceil(n / secs) if n else 0
        burst = 5
        if self.peek() == "burst":
            self.i += 1
            b = self.word()
            burst = int(b) if b.isdigit() else 0
            if self.peek() in ("packets", "bytes", "kbytes", "mbytes") and self.word() != "packets":
                pps = False
        return per_second, burst, pps

    def set_update(self, setname: str) -> None:
        """``add|update @set { KEY ct count over N }`` / ``{ KEY limit rate over R/u burst B packets }``."""
        if self.i >= len(self.items) or not isinstance(self.items[self.i], Block):
            raise Unrepresentable(f"set update {setname} without an element")
        blk = self.take()
        assert isinstance(blk, Block)
        words = [it.text for it in blk.items() if isinstance(it, Tok)]
        flow = FlowSeen(text=" ".join(words))
        key: list[str] = []
        j = 0
        while j < len(words) and words[j] not in ("ct", "limit", "counter", "timeout", "expires"):
            key.append(words[j])
            j += 1
        flow.per_source = len(key) >= 2 and key[0] in ("ip", "ip6") and key[1] == "saddr" and "." not in key
        if len(key) >= 4 and key[0] == "ip6" and key[2] in ("&", "and"):
            try:
                mask = int(ipaddress.IPv6Address(key[3]))
                plen = bin(mask).count("1")
                flow.v6_length = plen
            except ValueError:
                flow.per_source = False
        elif key[:2] == ["ip6", "saddr"] and len(key) == 2:
            flow.v6_length = 128
        elif len(key) > 2:
            flow.per_source = False
        rest = words[j:]
        found = False
        k = 0
        while k < len(rest):
            if rest[k : k + 3] == ["ct", "count", "over"] and k + 3 < len(rest) and rest[k + 3].isdigit():
                flow.max_sessions = int(rest[k + 3]) or None
                found = found or flow.max_sessions is not None
                if flow.max_sessions is None:
                    self.count_over_zero()
                k += 4
            elif rest[k : k + 3] == ["limit", "rate", "over"] and k + 3 < len(rest):
                sub = RuleParser([Tok(x, self.rule.line) for x in rest[k + 3 :]], {}, "", self.table_family)
                per_second, burst, pps = sub.rate()
                if not pps:
                    raise Unrepresentable("byte-rate limit is not a connection-rate limit")
                flow.rate, flow.burst = per_second, burst
                found = True
                k += 3 + sub.i
            elif rest[k] in ("counter", "timeout", "expires"):
                k += 2 if rest[k] != "counter" else 1
            else:
                raise Unrepresentable(f"set update element '{' '.join(rest)}' not modeled")
        if not found:
            # A plain 'add @set { ip saddr }' only records the source; it changes no verdict (but may be one half
            # of a connection delay: see DelayPart); the whole element, so that an element timeout is not lost
            self.rule.set_adds.append((setname.lstrip("@"), " ".join(words)))
            return
        if self.rule.flow is not None:
            raise Unrepresentable("two flow-control statements in one rule")
        self.rule.flow = flow

    def verdict(self) -> None:
        w = self.word()
        if w in ("jump", "goto"):
            it = self.take()
            self.rule.verdict = w
            self.rule.target = it if isinstance(it, Block) else it.text
            return
        if w == "reject":
            self.rule.verdict = "drop"
            if self.peek() == "with":
                self.i += 1
                while self.i < len(self.items) and self.peek() not in ("comment",):
                    self.i += 1
            return
        if w == "queue":
            self.rule.verdict = "queue"
            raise Unrepresentable("queue: a user-space program decides the verdict")
        self.rule.verdict = w


_NOTHING = Cond(protocols=frozenset())
"""A condition no packet satisfies."""

Key = tuple[str, int, str]
"""A match selector: (kind, number, field): ("addr", 4, "saddr"), ("proto", 6, ""), ("port", 6, "dport")
(0: ``th``, any transport), ("if", 0, "iifname"), ("nfproto", 0, ""), ("ct", 0, ""), ("icmp", 6, "type")."""
_IFACE_KEYS = ("iifname", "oifname", "iif", "oif")
_META_KEYS: dict[str, Key] = {
    "l4proto": ("proto", 0, ""),
    "nfproto": ("nfproto", 0, ""),
    "protocol": ("nfproto", 0, ""),
    **{k: ("if", 0, k) for k in _IFACE_KEYS},
}
MAX_ALTS = 4096


def key_cond(key: Key, vals: list[str], neg: bool, rel: str | None) -> Cond:
    """The condition ``<key> [!=|<|>...] vals`` (vals: one value, a list or a set's elements).

    >>> key_cond(("port", 6, "dport"), ["25", "587"], False, None).dports
    (PortRange(lo=25, hi=25), PortRange(lo=587, hi=587))
    """
    kind, num, fld = key
    if rel is not None and kind != "port":
        raise Unrepresentable(f"{kind} comparison not modeled")
    if kind == "addr":
        nets: list[Network] = [n for v in vals for n in _addr_value(v, num)]
        aset = AddrSet(None, tuple(nets)) if neg else AddrSet(tuple(nets))
        return Cond(family=num, src=aset) if fld == "saddr" else Cond(family=num, dst=aset)
    if kind == "proto":
        nums: set[int] = set()
        for v in vals:
            if v.isdigit() and int(v) < 256:
                nums.add(int(v))
            elif v in PROTOCOLS:
                nums.add(PROTOCOLS[v])
            else:
                raise Unrepresentable(f"protocol {v!r} not understood")
        return Cond(family=num or None, protocols=frozenset(range(256)) - nums if neg else frozenset(nums))
    if kind == "port":
        rngs: list[PortRange] = []
        for v in vals:
            r = port_range(v)
            if r is None:
                raise Unrepresentable(f"port {v!r} not understood")
            rngs.append(r)
        if rel is not None:
            if len(rngs) != 1 or rngs[0].lo != rngs[0].hi:
                raise Unrepresentable("port comparison not understood")
            p = rngs[0].lo
            lo, hi = {"<": (0, p - 1), "<=": (0, p), ">": (p + 1, 65535), ">=": (p, 65535)}[rel]
            rngs = [PortRange(lo, hi)] if lo <= hi else []
        result = norm_ports(rngs)
        if neg:
            result = ports_complement(result)
        prot = frozenset({num}) if num else None
        return Cond(protocols=prot, sports=result) if fld == "sport" else Cond(protocols=prot, dports=result)
    if kind == "if":
        ifs = IfSet(tuple(vals), neg)
        return Cond(iif=ifs) if fld in ("iifname", "iif") else Cond(oif=ifs)
    if kind == "nfproto":
        fams: set[int] = set()
        for v in vals:
            f = {"ipv4": 4, "ipv6": 6, "ip": 4, "ip6": 6}.get(v)
            if f is None and v not in ("arp", "8021q", "vlan", "bridge", "netdev"):
                raise Unrepresentable(f"meta {fld or 'nfproto'} {v!r} not understood")
            if f is not None:
                fams.add(f)
        if neg:
            fams = {4, 6} - fams
        return _NOTHING if not fams else Cond(family=fams.pop()) if len(fams) == 1 else Cond()
    if kind == "icmp":
        # the type or code is not modelled: the audit's packets are TCP, and no ICMP packet is one of them
        return Cond(family=num, protocols=frozenset({1 if num == 4 else 58}))
    return _ct_cond(vals, neg)


def ct_states(vals: list[str], neg: bool, form: str = "set") -> frozenset[str]:
    """The states ``ct state [==|!=] vals`` accepts. ``ct state`` is a bitmask and a packet has exactly one
    state: a list without braces is one value, the OR of its states; without an operator it matches any of
    them, with ``==``/``!=`` the whole value is compared (so ``!= established,related`` holds for every packet);
    a ``{ }`` set compares each element.

    >>> sorted(ct_states(["established", "related"], True, "implicit"))
    ['established', 'invalid', 'new', 'related', 'untracked']
    >>> sorted(ct_states(["established", "related"], True, "set"))
    ['invalid', 'new', 'untracked']
    """
    parts = [set(v.split("|")) - {""} for v in vals]
    names = set().union(*parts)
    if not names <= _CT_STATES:
        raise Unrepresentable(f"ct state {','.join(sorted(names - _CT_STATES))} not understood")
    if form == "set":
        hit = frozenset(n for p in parts if len(p) == 1 for n in p)  # an element of two states matches none
    elif form == "eq" or neg:
        hit = frozenset(names) if len(names) == 1 else frozenset()
    else:
        return frozenset(names)
    return _CT_STATES - hit if neg else hit


def _ct_cond(vals: list[str], neg: bool) -> Cond:
    return ct_cond(ct_states(vals, neg))


def ct_cond(states: frozenset[str]) -> Cond:
    """A tracked packet's ``ct state`` match, from its TCP flags (:data:`CT_NEW`, :data:`CT_ESTABLISHED`).
    ``related`` (an expected connection, such as FTP data, or an ICMP error) is never an SMTP segment."""
    est = "established" in states
    new = "new" in states
    if est and new:
        return Cond()
    if not est and not new:
        return _NOTHING  # invalid/untracked only: no tracked packet the audit reasons about
    # a flag test holds for TCP only (the engine reads it so), which keeps complements small
    return Cond(protocols=frozenset({6}), flags=CT_ESTABLISHED if est else CT_NEW)


def element_cond(keys: list[Key], parts: tuple[str, ...]) -> Cond | None:
    """One set element ``a . b`` under the concatenated selector ``keys`` (None: matches nothing)."""
    if len(parts) != len(keys):
        raise Unrepresentable("set element does not match the selector")
    c: Cond | None = Cond()
    for k, part in zip(keys, parts, strict=True):
        c = c.and_(key_cond(k, [part], False, None)) if c is not None else None
    return c


def _map_verdict(val: tuple[str, ...]) -> tuple[str, str | None]:
    if len(val) == 1 and val[0] in ("accept", "drop", "continue", "return"):
        return val[0], None
    if len(val) == 2 and val[0] in ("jump", "goto"):
        return val[0], val[1]
    raise Unrepresentable(f"verdict map value {' '.join(val) or '(none)'!r} not modeled")


def _bits(value: int) -> list[int]:
    return [1 << i for i in range(8) if value >> i & 1]


def _flag_bits(names: list[str]) -> int:
    bits = 0
    for n in (x for name in names for x in name.split("|")):
        n = n.strip("()").lower()
        if not n or n == "|":
            continue
        if n.startswith("0x") or n.isdigit():
            bits |= int(n, 0)
        elif n in TCP_FLAG_NAMES:
            bits |= TCP_FLAG_NAMES[n]
        else:
            raise Unrepresentable(f"tcp flag {n!r} not understood")
    return bits & ALL_FLAGS


def _addr_value(v: str, fam: int) -> list[Network]:
    """An address, prefix or ``a-b`` range of family ``fam``, as prefixes."""
    if "-" in v and "/" not in v:
        lo, _, hi = v.partition("-")
        try:
            a, b = ipaddress.ip_address(lo), ipaddress.ip_address(hi)
        except ValueError:
            raise Unrepresentable(f"address range {v!r} not understood") from None
        if a.version != fam or b.version != fam or int(a) > int(b):
            raise Unrepresentable(f"address range {v!r} not of the expected family")
        return list(ipaddress.summarize_address_range(a, b))
    net = parse_net(v)
    if net is None or net.version != fam:
        raise Unrepresentable(f"address {v!r} not understood")
    return [net]


def set_flags(words: list[str]) -> set[str]:
    return {w for w in words if w != ","}


_DURATION = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def seconds(text: str) -> float | None:
    """An nft duration (``3s``, ``1m``, ``1h2m3s``, ``500ms``) in seconds; None when it is not one.

    >>> seconds("10s"), seconds("1m30s"), seconds("250ms"), seconds("soon")
    (10.0, 90.0, 0.25, None)
    """
    import re

    parts = re.findall(r"(\d+)(ms|d|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(int(n) * _DURATION[u] for n, u in parts)
