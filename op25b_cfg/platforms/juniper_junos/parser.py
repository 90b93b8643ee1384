"""Junos running-config parser (``show configuration`` brace format and ``display set`` format).

The text is first flattened into set-style statements (:mod:`._junos_reader`), configuration groups are
expanded (:mod:`._junos_groups`), and then the statements the auditor needs are interpreted:

* ``firewall family inet|inet6 filter NAME term T { from {...} then {...} }`` (and ``firewall filter`` =
  inet, and filters defined inside ``dynamic-profiles``) -> :class:`Filter` of :class:`Rule`; implicit
  discard at the end; a term without a terminating action accepts; ``next term`` -> ``Action.NEXT``;
* ``policy-options prefix-list`` (``apply-path`` expanded against the config's own statements);
* ``firewall policer`` with ``if-exceeding-pps`` -> ``Action.LIMIT`` rules and :class:`FlowControlSeen`;
* ``interfaces IFD unit N family inet|inet6 filter input|output|input-list|output-list`` and the same
  inside ``dynamic-profiles PROFILE`` -> :class:`Binding` (``disable`` -> shutdown).

Anything inside a filter that is not understood becomes an :class:`Unparsed` entry naming the filter (the
term is left out), so the engine answers UNKNOWN rather than COMPLIANT. ``parse`` never raises.

``parse(text, lazy=True)`` (the audit path) builds a filter's terms when its rules are first read
(:mod:`._lazy`); filters that use a policer are built at once (they yield flow control). Without groups and
``apply-path``, plain top-level firewall filter blocks are not even tokenised until then
(:func:`._junos_reader.reread`), nor are plain ``policy-options prefix-list`` blocks until a filter being built
names the list, and interface leaves other than filters and ``disable`` are dropped while reading.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
from dataclasses import dataclass, field

from op25b_cfg.audit.lazy import DeferredFilter, ParserState
from op25b_cfg.audit.model import Binding, Filter, FlowControlSeen, ParsedConfig
from op25b_cfg.dialects.junos import RELEVANT, DeferredBlock, ReadResult, Stmt, read, reread
from op25b_cfg.netaddr import Network
from op25b_cfg.platforms.juniper_junos._algebra import (
    ALL_FLAGS,
    TCP_FLAG_NAMES,
    AddrSet,
    Cond,
    Unrepresentable,
    disjoint,
    flags_and,
    flags_not,
    match_wild,
    norm_ports,
    parse_addr_mask,
    parse_net,
    port_range,
    ports_complement,
    to_rules,
)
from op25b_cfg.platforms.juniper_junos._groups import expand
from op25b_cfg.rules import ACK, RST, SYN, Action, AddrMatch, FlagMatch, FlowLimit, PortRange, Rule

log = logging.getLogger(__name__)

PLATFORM = "juniper_junos"

PROTOCOLS = {
    "ah": 51,
    "dstopts": 60,
    "egp": 8,
    "esp": 50,
    "fragment": 44,
    "gre": 47,
    "hop-by-hop": 0,
    "icmp": 1,
    "icmp6": 58,
    "icmpv6": 58,
    "igmp": 2,
    "ipip": 4,
    "ipv6": 41,
    "mobility": 135,
    "no-next-header": 59,
    "ospf": 89,
    "pim": 103,
    "routing": 43,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "vrrp": 112,
}

_FAMILY = {"inet": 4, "inet6": 6}
_TERMINAL_PERMIT = frozenset({"accept", "routing-instance", "next-ip", "next-ip6", "next-interface", "topology"})
_MODIFIERS = frozenset(
    {
        "count",
        "log",
        "syslog",
        "sample",
        "forwarding-class",
        "loss-priority",
        "dscp",
        "traffic-class",
        "port-mirror",
        "port-mirror-instance",
        "analyzer",
        "service-accounting",
        "service-filter-hit",
        "virtual-channel",
        "packet-mode",
        "prefix-action",
        "three-color-policer",
        "hierarchical-policer",
        "cflow-sample",
        "policy-map",
    }
)
_FILTER_OPTIONS = frozenset(
    {
        "interface-specific",
        "accounting-profile",
        "physical-interface-filter",
        "instance-shared",
        "enhanced-mode",
        "enhanced-mode-override",
        "fast-lookup-filter",
        "filter-specific",
        "promote",
        "interface-shared",
    }
)
_NO_EFFECT_FROM = frozenset({"destination-port-range-optimize", "source-port-range-optimize"})


def _family(addr: Network | AddrMatch) -> int:
    return addr.family if isinstance(addr, AddrMatch) else addr.version


@dataclass
class _Term:
    name: str
    line: int
    from_: list[tuple[tuple[str, ...], int]] = field(default_factory=list)
    then: list[tuple[tuple[str, ...], int]] = field(default_factory=list)
    other: list[tuple[tuple[str, ...], int]] = field(default_factory=list)


@dataclass
class _FilterDef:
    family: int
    name: str
    line: int
    terms: dict[str, _Term] = field(default_factory=dict)
    options: set[str] = field(default_factory=set)


@dataclass
class _Policer:
    name: str
    line: int
    pps: int | None = None
    burst: int | None = None
    bandwidth: bool = False
    then: list[str] = field(default_factory=list)


@dataclass
class _PrefixList:
    entries: list[tuple[str, int]] = field(default_factory=list)
    apply_paths: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class _Slot:
    filters: list[str]
    line: int
    single: bool


def _filter_key(path: tuple[str, ...]) -> tuple[int, str] | None:
    """(family, name) of a ``firewall [family F] filter NAME`` path; None for families not audited."""
    if len(path) == 3:
        return 4, path[2]
    fam = _FAMILY.get(path[2])
    return None if fam is None else (fam, path[4])


def _vals(toks: tuple[str, ...]) -> list[str]:
    return [t for t in toks if t not in ("[", "]")]


def _num(text: str) -> int | None:
    m = re.fullmatch(r"(\d+)([kmg]?)", text.lower())
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "k": 1000, "m": 1000000, "g": 1000000000}[m.group(2)]


_FLAG_TOKEN = re.compile(r"\s*(!|&|\||\(|\)|0x[0-9a-fA-F]+|\d+|[A-Za-z-]+)")


def parse_tcp_flags(expr: str) -> FlagMatch:
    """Junos ``tcp-flags`` expression (``syn & !ack``, ``(ack | rst)``, ``0x12``) -> flag alternatives."""
    toks: list[str] = []
    pos = 0
    text = expr.strip()
    while pos < len(text):
        m = _FLAG_TOKEN.match(text, pos)
        if not m:
            raise Unrepresentable(f"tcp-flags {expr!r}")
        toks.append(m.group(1).lower())
        pos = m.end()
    i = 0

    def factor() -> FlagMatch:
        nonlocal i
        if i >= len(toks):
            raise Unrepresentable(f"tcp-flags {expr!r}")
        t = toks[i]
        i += 1
        if t == "!":
            return flags_not(factor())
        if t == "(":
            r = disj()
            if i >= len(toks) or toks[i] != ")":
                raise Unrepresentable(f"tcp-flags {expr!r}")
            i += 1
            return r
        bits = int(t, 0) if t[0].isdigit() else TCP_FLAG_NAMES.get(t)
        if bits is None or not 0 <= bits <= ALL_FLAGS:
            raise Unrepresentable(f"tcp-flags {expr!r}: unknown flag {t!r}")
        return ((bits, bits),)

    def conj() -> FlagMatch:
        nonlocal i
        r = factor()
        while i < len(toks) and toks[i] == "&":
            i += 1
            r = flags_and(r, factor()) or ()
        return r

    def disj() -> FlagMatch:
        nonlocal i
        r = list(conj())
        while i < len(toks) and toks[i] == "|":
            i += 1
            r.extend(a for a in conj() if a not in r)
        return tuple(r)

    result = disj()
    if i != len(toks):
        raise Unrepresentable(f"tcp-flags {expr!r}")
    return result


_APPLY_PATH = re.compile(r'apply-path\s+"?\s*([A-Za-z][\w-]*)')

TCP_ESTABLISHED: FlagMatch = ((ACK, ACK), (RST, RST))
TCP_INITIAL: FlagMatch = ((SYN | ACK, SYN),)


class _Parser(ParserState):
    def __init__(self, text: str, lazy: bool = False, defer_blocks: bool = True) -> None:
        super().__init__(PLATFORM, [])
        self.text = text
        self.lazy = lazy
        self.defer_blocks = defer_blocks
        self.rr = ReadResult()
        self.keep: frozenset[str] = frozenset()
        self.filters: dict[tuple[int, str], _FilterDef] = {}
        self.policers: dict[str, _Policer] = {}
        self.prefix_lists: dict[str, _PrefixList] = {}
        self.pl_blocks: dict[str, list[DeferredBlock]] = {}  # prefix-lists whose block is read when first used
        # (kind, name, family, direction, stanza): stanza is the dynamic-profile interface stanza ("" for units)
        self.slots: dict[tuple[str, str, int, str, str], _Slot] = {}
        # dynamic-profile interface stanzas that carry a family, with the line that first shows it
        self.profile_stanzas: dict[tuple[str, int], dict[str, int]] = {}
        self.local_terms: set[tuple[int, str, str]] = set()
        self.local_slots: set[tuple[str, str, int, str, str]] = set()
        self.local_policers: set[str] = set()
        self.ifd_disabled: set[str] = set()
        self.unit_disabled: set[tuple[str, str]] = set()
        self.profiles: set[str] = set()
        self.stmts: list[Stmt] = []
        self.flow_by_filter: dict[tuple[int, str], list[tuple[FlowLimit, int, str]]] = {}
        self.noted: set[str] = set()
        self.pl_cache: dict[tuple[str, int], list[Network]] = {}
        self.plset_cache: dict[tuple[int, tuple[tuple[str, bool], ...]], AddrSet] = {}

    # -- helpers -------------------------------------------------------------------------------------------

    def note(self, key: str, text: str) -> None:
        if key not in self.noted:
            self.noted.add(key)
            self.pc.notes.append(text)

    # -- driver --------------------------------------------------------------------------------------------
    def run(self) -> ParsedConfig:
        extra = frozenset(m.group(1) for m in _APPLY_PATH.finditer(self.text)) if "apply-path" in self.text else None
        # interface statements other than filters and disable only matter to groups and apply-path; lazily,
        # plain firewall filter blocks are read when the engine first reads the filter (same conditions)
        prune = "apply-groups" not in self.text and "apply-path" not in self.text
        self.keep = RELEVANT | (extra or frozenset())
        rr = read(self.text, extra or frozenset(), prune, prune and self.lazy and self.defer_blocks)
        if rr.defer_failed:
            rr = read(self.text, extra or frozenset(), prune)
        self.rr = rr
        self.lines = rr.lines
        self.block_lines = rr.block_lines
        self.pc.unparsed.extend(rr.unparsed)
        self.pc.notes.extend(rr.notes)
        active = [st for st in rr.stmts if not st.inactive]
        if len(active) != len(rr.stmts):
            self.pc.notes.append(f"{len(rr.stmts) - len(active)} inactive statement(s) ignored")
        if "apply-groups" in self.text:
            active, unp, notes = expand(active, self.lines)
            self.pc.unparsed.extend(unp)
            self.pc.notes.extend(notes)
        else:
            active = [st for st in active if st.path[0] != "groups"]
        self.stmts = active
        for st in active:
            try:
                self.statement(st)
            except Exception as exc:  # a parser never raises; report the statement instead
                log.debug("statement at line %d not understood", st.line, exc_info=True)
                self.unparsed(st.line, f"statement not understood ({type(exc).__name__})")
        blocks: dict[tuple[int, str], list[DeferredBlock]] = {}
        for blk in rr.deferred:
            if blk.close_line <= 0:  # (an empty block yields nothing, read or not)
                continue
            if blk.path[0] == "policy-options":
                self.pl_blocks.setdefault(blk.path[2], []).append(blk)
                continue
            key = _filter_key(blk.path)
            if key is not None:
                blocks.setdefault(key, []).append(blk)
        if any(len(b) > 1 or self.filters[k].terms or self.filters[k].options for k, b in blocks.items()) or any(
            len(b) > 1 or (pl := self.prefix_lists.get(n)) is None or pl.entries or pl.apply_paths
            for n, b in self.pl_blocks.items()
        ):
            # statements of a deferred filter or prefix-list elsewhere too: their order matters, so read everything
            fresh = _Parser(self.text, self.lazy, defer_blocks=False)
            pc = fresh.run()
            self.__dict__.update(fresh.__dict__)
            return pc
        for fdef in self.filters.values():
            deferred = blocks.get((fdef.family, fdef.name))
            filt: Filter
            if deferred is not None or (self.lazy and not self.polices(fdef)):
                # built when the engine first reads its rules (only filters it evaluates); policing filters
                # are built now, since building them yields the flow-control constructs of the bindings
                later = DeferredFilter(fdef.name, fdef.family, [], Action.DENY, fdef.line, "junos-filter")
                if deferred is not None:
                    later.defer_call(functools.partial(self.deferred_rules, fdef, deferred))
                else:
                    later.defer_call(functools.partial(self.filter_rules, fdef))
                filt = later
            else:
                filt = self.build_filter(fdef)
            self.pc.filters[(fdef.family, fdef.name)] = filt
        self.build_bindings()
        return self.pc

    # -- statement collection ------------------------------------------------------------------------------
    def statement(self, st: Stmt) -> None:
        p = st.path
        head = p[0]
        if head == "firewall":
            self.firewall(p, 1, st)
        elif head == "interfaces":
            self.interface(p, st)
        elif head == "policy-options":
            self.policy(p, st)
        elif head == "dynamic-profiles" and len(p) > 3:
            self.profiles.add(p[1])
            if p[2] == "interfaces":
                self.profile_interface(p[1], p[3:], st)
            elif p[2] == "firewall":
                self.firewall(p, 3, st)
        elif head == "logical-systems" and ("filter" in p or "firewall" in p):
            self.note("lsys", "logical-systems contain filters or filter bindings; they are not audited")
        elif head == "forwarding-options" and "filter" in p:
            self.note("fwopt", f"forwarding-table filter configured (line {st.line}); it is not audited")

    def firewall(self, p: tuple[str, ...], i: int, st: Stmt) -> None:
        rest = p[i:]
        if len(rest) > 3 and rest[0] == "family" and rest[2] == "filter":
            fam = _FAMILY.get(rest[1])
            if fam is not None:
                self.filter_stmt(fam, rest[3], rest[4:], p[: i + 4], st)
        elif len(rest) > 1 and rest[0] == "filter":
            self.filter_stmt(4, rest[1], rest[2:], p[: i + 2], st)
        elif len(rest) > 2 and rest[0] == "policer":
            self.policer(rest[1], rest[2:], st)

    def filter_stmt(self, fam: int, name: str, rest: tuple[str, ...], fpath: tuple[str, ...], st: Stmt) -> None:
        fdef = self.filters.get((fam, name))
        if fdef is None:
            fdef = _FilterDef(fam, name, self.block_lines.get(fpath, st.line))
            self.filters[(fam, name)] = fdef
        if not rest:
            return
        if rest[0] == "term" and len(rest) > 1:
            tname = rest[1]
            key = (fam, name, tname)
            if st.group is not None and key in self.local_terms:
                return
            if st.group is None:
                self.local_terms.add(key)
            term = fdef.terms.get(tname)
            if term is None:
                term = _Term(tname, self.block_lines.get((*fpath, "term", tname), st.line))
                fdef.terms[tname] = term
            trest = rest[2:]
            if not trest or (trest[0] in ("from", "then") and len(trest) == 1):
                return
            if trest[0] == "from":
                term.from_.append((trest[1:], st.line))
            elif trest[0] == "then":
                term.then.append((trest[1:], st.line))
            else:
                term.other.append((trest, st.line))
        elif rest[0] in _FILTER_OPTIONS:
            fdef.options.add(rest[0])
        else:
            self.note(f"fopt-{rest[0]}", f"filter {name}: option '{rest[0]}' ignored (line {st.line})")

    def policer(self, name: str, rest: tuple[str, ...], st: Stmt) -> None:
        if st.group is not None and name in self.local_policers:
            return
        if st.group is None:
            self.local_policers.add(name)
        pol = self.policers.get(name)
        if pol is None:
            pol = self.policers[name] = _Policer(name, self.block_lines.get(("firewall", "policer", name), st.line))
        if rest[0] == "if-exceeding-pps" and len(rest) > 2:
            if rest[1] == "pps-limit":
                pol.pps = _num(rest[2])
            elif rest[1] == "packet-burst":
                pol.burst = _num(rest[2])
        elif rest[0] == "if-exceeding":
            pol.bandwidth = True
        elif rest[0] == "then":
            pol.then.extend(rest[1:])

    def policy(self, p: tuple[str, ...], st: Stmt) -> None:
        if len(p) < 3 or p[1] != "prefix-list":
            return
        pl = self.prefix_lists.get(p[2])
        if pl is None:
            pl = self.prefix_lists[p[2]] = _PrefixList()
        if len(p) == 3:
            return
        if p[3] == "apply-path":
            pl.apply_paths.append((p[4] if len(p) > 4 else "", st.line))
        else:
            pl.entries.append((p[3], st.line))

    def interface(self, p: tuple[str, ...], st: Stmt) -> None:
        if len(p) < 3 or ("filter" not in p and "disable" not in p):
            return
        ifd = p[1]
        if p[2] == "disable":
            self.ifd_disabled.add(ifd)
        elif p[2] == "unit" and len(p) > 4:
            unit, rest = p[3], p[4:]
            if rest[0] == "disable":
                self.unit_disabled.add((ifd, unit))
            elif len(rest) > 4 and rest[0] == "family" and rest[2] == "filter":
                if ifd in ("interface-range", "interface-set"):
                    self.note("ifrange", f"filter on an interface-range (line {st.line}) is not audited")
                    return
                self.slot("unit", f"{ifd}.{unit}", rest[1], rest[3], _vals(rest[4:]), st)
        elif "filter" in p and ifd == "interface-range":
            self.note("ifrange", f"filter on an interface-range (line {st.line}) is not audited")

    def profile_interface(self, prof: str, rest: tuple[str, ...], st: Stmt) -> None:
        """One statement under ``dynamic-profiles PROF interfaces``. Each interface stanza (``pp0 unit
        "$junos-interface-unit"``, ``"$junos-interface-ifd-name" unit ...``) is a separate way subscribers get
        instantiated, so its filters are a separate binding; a stanza with a family but no filter is one too."""
        for i, tok in enumerate(rest):
            if tok == "family" and len(rest) > i + 1:
                stanza = " ".join(rest[:i])
                fam = _FAMILY.get(rest[i + 1])
                if fam is not None:
                    self.profile_stanzas.setdefault((prof, fam), {}).setdefault(stanza, st.line)
                if len(rest) > i + 3 and rest[i + 2] == "filter":
                    names = _vals(rest[i + 4 :])
                    if any(n.startswith("$") for n in names):
                        self.unparsed(st.line, "filter name is a variable supplied at subscriber login; not evaluated")
                        return
                    self.slot("dynamic-profile", prof, rest[i + 1], rest[i + 3], names, st, stanza)
                return

    def slot(
        self, kind: str, name: str, famword: str, fkind: str, names: list[str], st: Stmt, stanza: str = ""
    ) -> None:
        fam = _FAMILY.get(famword)
        if fam is None or fkind not in ("input", "output", "input-list", "output-list") or not names:
            return
        key = (kind, name, fam, "in" if fkind.startswith("input") else "out", stanza)
        if st.group is not None and key in self.local_slots:
            return
        if st.group is None:
            self.local_slots.add(key)
        cur = self.slots.get(key)
        if fkind in ("input", "output"):
            if cur is not None and not cur.single:
                self.note(f"slot-{key}", f"{name}: both filter {fkind} and a filter list; the later one applies")
            self.slots[key] = _Slot([names[0]], st.line, True)
        elif cur is None or cur.single:
            if cur is not None:
                self.note(f"slot-{key}", f"{name}: both a single filter and {fkind}; the later one applies")
            self.slots[key] = _Slot(list(names), st.line, False)
        else:
            cur.filters.extend(n for n in names if n not in cur.filters)

    # -- prefix lists --------------------------------------------------------------------------------------
    def prefix_list(self, name: str, fam: int) -> list[Network]:
        key = (name, fam)
        cached = self.pl_cache.get(key)
        if cached is None:
            cached = self.pl_cache[key] = self._prefix_list(name, fam)
        return cached

    def _prefix_list(self, name: str, fam: int) -> list[Network]:
        blocks = self.pl_blocks.pop(name, None)
        if blocks is not None:  # its block was left unread by the first pass (the only place it is defined)
            self.read_blocks(blocks)
        pl = self.prefix_lists.get(name)
        if pl is None:
            raise Unrepresentable(f"prefix-list {name} is not defined")
        out: list[Network] = []
        for text, _line in pl.entries:
            net = parse_addr_mask(text)  # a dotted mask is a network mask, never the host mask ipaddress assumes
            if not isinstance(net, ipaddress.IPv4Network | ipaddress.IPv6Network):
                raise Unrepresentable(f"prefix-list {name}: entry {text!r} is not a prefix")
            if net.version == fam:
                out.append(net)
        for pattern, _line in pl.apply_paths:
            out.extend(n for n in self.apply_path(name, pattern) if n.version == fam)
        return out

    def apply_path(self, name: str, pattern: str) -> list[Network]:
        pat = tuple(pattern.split())
        if (
            not pat
            or not pat[-1].startswith("<")
            or any(("<" in t) != (t.startswith("<") and t.endswith(">")) for t in pat)
        ):
            raise Unrepresentable(f"prefix-list {name}: apply-path {pattern!r} is not a simple path")
        out: list[Network] = []
        n = len(pat)
        for st in self.stmts:
            p = st.path
            if len(p) >= n and p[0] == pat[0] and all(match_wild(pat[i], p[i]) for i in range(n)):
                net = parse_net(p[n - 1])
                if net is not None:
                    out.append(net)
        return out

    # -- filters -------------------------------------------------------------------------------------------
    def build_filter(self, fdef: _FilterDef) -> Filter:
        return Filter(fdef.name, fdef.family, self.filter_rules(fdef), Action.DENY, fdef.line, "junos-filter")

    @staticmethod
    def polices(fdef: _FilterDef) -> bool:
        """Whether a term of ``fdef`` names a policer (building such a filter records flow control)."""
        return any(toks[0] == "policer" for term in fdef.terms.values() for toks, _ in term.then)

    def deferred_rules(self, fdef: _FilterDef, blocks: list[DeferredBlock]) -> list[Rule]:
        """Read the filter's deferred block, then build its rules."""
        self.read_blocks(blocks)
        return self.filter_rules(fdef)

    def read_blocks(self, blocks: list[DeferredBlock]) -> None:
        """Interpret the statements of deferred blocks (as the first read would have given them)."""
        for blk in blocks:
            res = reread(self.rr, blk, self.keep)
            for path, line in res.block_lines.items():
                self.block_lines.setdefault(path, line)
            self.pc.unparsed.extend(res.unparsed)
            self.pc.notes.extend(res.notes)
            for st in res.stmts:
                if st.inactive:
                    continue
                try:
                    self.statement(st)
                except Exception as exc:  # a parser never raises; report the statement instead
                    log.debug("statement at line %d not understood", st.line, exc_info=True)
                    self.unparsed(st.line, f"statement not understood ({type(exc).__name__})")

    def filter_rules(self, fdef: _FilterDef) -> list[Rule]:
        """The rules of one filter, term by term; a term that is not understood is reported and left out."""
        rules: list[Rule] = []
        for term in fdef.terms.values():
            try:
                rules.extend(self.term_rules(fdef, term))
            except Unrepresentable as exc:
                self.unparsed(exc.args[1] if len(exc.args) > 1 else term.line, str(exc.args[0]), fdef.name)
            except Exception as exc:  # a parser never raises: report the term instead
                log.debug("term %s of filter %s not understood", term.name, fdef.name, exc_info=True)
                self.unparsed(term.line, f"term {term.name} not understood ({type(exc).__name__})", fdef.name)
        return rules

    def term_rules(self, fdef: _FilterDef, term: _Term) -> list[Rule]:
        fam = fdef.family
        for toks, line in term.other:
            if toks[0] == "filter":
                raise Unrepresentable(f"term {term.name}: nested filter reference is not evaluated", line)
            raise Unrepresentable(f"term {term.name}: '{toks[0]}' not understood", line)
        alts, src_set, dst_set = self.match(fdef, term)
        action, counter, logged, policer, pline = self.actions(fdef, term)
        text = self.line_text(term.line)
        limit: FlowLimit | None = None
        limited = False
        if policer is not None:
            limit, limited = self.policer_limit(fdef, term, policer, pline)
        rules: list[Rule] = []
        for cond in alts:
            kw = {
                "name": term.name,
                "line": term.line,
                "text": text,
                "log_": logged,
                "counter": counter,
                "src_set": src_set,
                "dst_set": dst_set,
            }
            if limited:
                rules.extend(to_rules(cond, Action.LIMIT, (fam,), limit=limit, **kw))  # type: ignore[arg-type]
            rules.extend(to_rules(cond, action, (fam,), **kw))  # type: ignore[arg-type]
        return rules

    def policer_limit(self, fdef: _FilterDef, term: _Term, name: str, line: int) -> tuple[FlowLimit | None, bool]:
        pol = self.policers.get(name)
        if pol is None:
            raise Unrepresentable(f"term {term.name}: policer {name} is not defined", line)
        if pol.pps is None:
            self.note(f"bw-{name}", f"policer {name} limits bandwidth, not packets per second: not flow control")
            return None, False
        if "discard" not in pol.then:
            self.note(f"pd-{name}", f"policer {name} does not discard excess packets: not flow control")
            return None, False
        if "interface-specific" not in fdef.options:
            self.note(
                f"shared-{fdef.name}",
                f"filter {fdef.name} is not interface-specific: policer {name} is shared, not per subscriber",
            )
            return None, True
        limit = FlowLimit(None, pol.pps, pol.burst or 0)
        text = f"policer {name} if-exceeding-pps pps-limit {pol.pps} packet-burst {pol.burst}"
        self.flow_by_filter.setdefault((fdef.family, fdef.name), []).append((limit, pol.line, text))
        return limit, True

    def actions(self, fdef: _FilterDef, term: _Term) -> tuple[Action, str | None, bool, str | None, int]:
        action: Action | None = None
        counter: str | None = None
        logged = False
        policer: str | None = None
        pline = term.line
        for toks, line in term.then:
            a = toks[0]
            new: Action | None = None
            if a in _TERMINAL_PERMIT:
                new = Action.PERMIT
            elif a in ("discard", "reject"):
                new = Action.DENY
            elif a == "next" and len(toks) > 1 and toks[1] == "term":
                new = Action.NEXT
            elif a == "count" and len(toks) > 1:
                counter = toks[1]
            elif a in ("log", "syslog"):
                logged = True
            elif a == "policer" and len(toks) > 1:
                policer, pline = toks[1], line
            elif a in _MODIFIERS:
                pass
            else:
                raise Unrepresentable(f"term {term.name}: action '{a}' not understood", line)
            if new is not None:
                if action is not None and action != new:
                    raise Unrepresentable(f"term {term.name}: conflicting actions", line)
                action = new
        return action or Action.PERMIT, counter, logged, policer, pline

    def match(self, fdef: _FilterDef, term: _Term) -> tuple[list[Cond], str | None, str | None]:
        """The term's match as disjoint conditions, its source and destination set names."""
        try:
            return self._match(fdef, term)
        except Unrepresentable as exc:
            if len(exc.args) > 1:
                raise
            raise Unrepresentable(f"term {term.name}: {exc}", term.line) from None

    def _match(self, fdef: _FilterDef, term: _Term) -> tuple[list[Cond], str | None, str | None]:
        fam = fdef.family
        addr: dict[str, list[tuple[Network | AddrMatch, bool]]] = {}
        plist: dict[str, list[tuple[Network, bool]]] = {}
        pl_refs: dict[str, list[tuple[str, bool]]] = {}
        pl_names: dict[str, list[str]] = {}
        ports: dict[str, list[PortRange]] = {}
        port_ex: dict[str, list[PortRange]] = {}
        protos: set[int] | None = None
        proto_ex: set[int] = set()
        implied: set[int] | None = None
        flags: FlagMatch | None = None
        for toks, line in term.from_:
            key, vals = toks[0], _vals(toks[1:])
            if key in ("source-address", "destination-address", "address"):
                if not vals:
                    raise Unrepresentable(f"term {term.name}: {key} without a value", line)
                net = parse_addr_mask(vals[0]) if ("." in vals[0] or ":" in vals[0]) else None
                if net is None:
                    raise Unrepresentable(f"term {term.name}: address {vals[0]!r} not understood", line)
                addr.setdefault(key, []).append((net, "except" in vals[1:]))
            elif key in ("source-prefix-list", "destination-prefix-list", "prefix-list"):
                if not vals:
                    raise Unrepresentable(f"term {term.name}: {key} without a name", line)
                try:
                    nets = self.prefix_list(vals[0], fam)
                except Unrepresentable as exc:
                    raise Unrepresentable(f"term {term.name}: {exc}", line) from None
                ex = "except" in vals[1:]
                plist.setdefault(key, []).extend((n, ex) for n in nets)
                pl_refs.setdefault(key, []).append((vals[0], ex))
                if not ex:
                    pl_names.setdefault(key, []).append(vals[0])
                else:
                    pl_names.setdefault(key, []).append("")
            elif key in (
                "source-port",
                "destination-port",
                "port",
                "source-port-except",
                "destination-port-except",
                "port-except",
            ):
                rngs = []
                for v in vals:
                    r = port_range(v)
                    if r is None:
                        raise Unrepresentable(f"term {term.name}: port {v!r} not understood", line)
                    rngs.append(r)
                if key.endswith("-except"):
                    port_ex.setdefault(key[:-7], []).extend(rngs)
                else:
                    ports.setdefault(key, []).extend(rngs)
            elif key in (
                "protocol",
                "next-header",
                "payload-protocol",
                "protocol-except",
                "next-header-except",
                "payload-protocol-except",
            ):
                nums = set()
                for v in vals:
                    nums |= self.protocol_values(v, term, line)
                if key.endswith("-except"):
                    proto_ex |= nums
                else:
                    protos = nums if protos is None else protos | nums
            elif key in ("icmp-type", "icmp-code", "icmp-type-except", "icmp-code-except"):
                implied = {1 if fam == 4 else 58}
            elif key == "tcp-established":
                flags = flags_and(flags, TCP_ESTABLISHED)
            elif key == "tcp-initial":
                flags = flags_and(flags, TCP_INITIAL)
            elif key == "tcp-flags":
                try:
                    flags = flags_and(flags, parse_tcp_flags(" ".join(vals)))
                except Unrepresentable as exc:
                    raise Unrepresentable(f"term {term.name}: {exc}", line) from None
            elif key in _NO_EFFECT_FROM:
                pass
            else:
                raise Unrepresentable(f"term {term.name}: match condition '{key}' not modeled", line)
        # Build the condition.
        prot: frozenset[int] | None = None
        if protos is not None or proto_ex or implied is not None:
            base_p = set(protos) if protos is not None else set(range(256))
            base_p -= proto_ex
            if implied is not None:
                base_p &= implied
            prot = frozenset(base_p)
        src = self.addr_dim(fam, addr.get("source-address"), self.pl_set(fam, pl_refs, plist, "source-prefix-list"))
        dst = self.addr_dim(
            fam, addr.get("destination-address"), self.pl_set(fam, pl_refs, plist, "destination-prefix-list")
        )
        sports = self.port_dim(ports.get("source-port"), port_ex.get("source-port"))
        dports = self.port_dim(ports.get("destination-port"), port_ex.get("destination-port"))
        base = Cond(family=fam, protocols=prot, src=src, dst=dst, sports=sports, dports=dports, flags=flags)
        alts: list[Cond] = [] if base.empty else [base]
        either: list[list[Cond]] = []
        if "address" in addr:
            a = AddrSet.longest_match([e for e in addr["address"] if _family(e[0]) == fam])
            either.append([Cond(src=a), Cond(dst=a)])
        a_pl = self.pl_set(fam, pl_refs, plist, "prefix-list")
        if a_pl is not None:
            a = a_pl
            either.append([Cond(src=a), Cond(dst=a)])
        pr = self.port_dim(ports.get("port"), port_ex.get("port"))
        if pr is not None:
            either.append([Cond(sports=pr), Cond(dports=pr)])
        for group in either:
            alts = [c for a in alts for g in group if (c := a.and_(g)) is not None]
        if either:
            alts = disjoint(alts)
        src_set = self.set_name(addr.get("source-address"), pl_names.get("source-prefix-list"))
        dst_set = self.set_name(addr.get("destination-address"), pl_names.get("destination-prefix-list"))
        return alts, src_set, dst_set

    @staticmethod
    def set_name(addrs: list[tuple[Network | AddrMatch, bool]] | None, names: list[str] | None) -> str | None:
        if addrs or not names or len(names) != 1 or not names[0]:
            return None
        return names[0]

    def pl_set(
        self,
        fam: int,
        refs: dict[str, list[tuple[str, bool]]],
        entries: dict[str, list[tuple[Network, bool]]],
        key: str,
    ) -> AddrSet | None:
        """The address set of a term's prefix-list references of one kind (cached: terms repeat lists)."""
        r = refs.get(key)
        if r is None:
            return None
        ck = (fam, tuple(r))
        got = self.plset_cache.get(ck)
        if got is None:
            got = self.plset_cache[ck] = AddrSet.longest_match(entries[key])
        return got

    @staticmethod
    def addr_dim(fam: int, addrs: list[tuple[Network | AddrMatch, bool]] | None, pls: AddrSet | None) -> AddrSet | None:
        result = pls
        if addrs is not None:
            a = AddrSet.longest_match([e for e in addrs if _family(e[0]) == fam])
            result = a if result is None else result.and_(a)
        return result

    @staticmethod
    def port_dim(pos: list[PortRange] | None, neg: list[PortRange] | None) -> tuple[PortRange, ...] | None:
        if pos is None and neg is None:
            return None
        rng = norm_ports(pos) if pos is not None else (PortRange(0, 65535),)
        if neg:
            ex = ports_complement(tuple(neg))
            rng = norm_ports(
                [
                    PortRange(max(a.lo, b.lo), min(a.hi, b.hi))
                    for a in rng
                    for b in ex
                    if max(a.lo, b.lo) <= min(a.hi, b.hi)
                ]
            )
        return rng

    @staticmethod
    def protocol_values(v: str, term: _Term, line: int) -> set[int]:
        if v.isdigit() and int(v) < 256:
            return {int(v)}
        if v in PROTOCOLS:
            return {PROTOCOLS[v]}
        m = re.fullmatch(r"(\d+)-(\d+)", v)
        if m and int(m.group(1)) <= int(m.group(2)) < 256:
            return set(range(int(m.group(1)), int(m.group(2)) + 1))
        raise Unrepresentable(f"term {term.name}: protocol {v!r} not understood", line)

    # -- bindings ------------------------------------------------------------------------------------------
    def build_bindings(self) -> None:
        referenced = self.referenced_profiles() if self.profiles else set()
        for (kind, name, fam, direction, _stanza), slot in self.slots.items():
            shutdown = False
            in_use: bool | None = None
            if kind == "unit":
                ifd, _, unit = name.rpartition(".")
                shutdown = ifd in self.ifd_disabled or (ifd, unit) in self.unit_disabled
            else:
                in_use = True if name in referenced else None
            b = Binding(kind, name, direction, fam, tuple(slot.filters), slot.line, in_use, shutdown)
            self.pc.bindings.append(b)
            for fname in b.filters:
                for limit, line, text in self.flow_by_filter.get((fam, fname), []):
                    self.pc.flow.append(
                        FlowControlSeen(kind, name, direction, fam, None, limit.new_per_second, limit.burst, line, text)
                    )
        self.unfiltered_stanzas(referenced)

    def unfiltered_stanzas(self, referenced: set[str]) -> None:
        """A dynamic-profile stanza that has a family but no filter, while another stanza of the same profile
        filters that family and direction: subscribers created on it are unfiltered (a Binding with no
        filters, which the engine reports). A profile with no filter at all needs no such entry."""
        if not self.profile_stanzas:
            return
        by_profile: dict[tuple[str, int, str], set[str]] = {}  # (profile, family, direction) -> filtered stanzas
        for kind, name, fam, direction, stanza in self.slots:
            if kind == "dynamic-profile":
                by_profile.setdefault((name, fam, direction), set()).add(stanza)
        for (prof, fam), stanzas in self.profile_stanzas.items():
            for direction in ("in", "out"):
                filtered = by_profile.get((prof, fam, direction))
                if not filtered:
                    continue
                for stanza, line in stanzas.items():
                    if stanza not in filtered:
                        in_use = True if prof in referenced else None
                        self.pc.bindings.append(Binding("dynamic-profile", prof, direction, fam, (), line, in_use))

    def referenced_profiles(self) -> set[str]:
        """Profile names that follow a ``dynamic-profile`` keyword anywhere (PPPoE/VLAN auto-configuration,
        DHCP server groups...): such a profile is instantiated. Found with str.find, not a regex, for speed."""
        found: set[str] = set()
        text = self.text
        pos = text.find("dynamic-profile")
        while pos >= 0:
            end = pos + len("dynamic-profile")
            if end < len(text) and text[end] in " \t":
                toks = text[end : end + 200].split(None, 1)
                if toks:
                    found.add(toks[0].strip('";'))
            pos = text.find("dynamic-profile", end)
        return found & self.profiles


def parse(text: str, *, lazy: bool = False) -> ParsedConfig:
    """Parse one Junos running config (brace or set format, detected per line). Never raises."""
    return _Parser(text, lazy).parse("config")
