"""Header-space algebra shared by the Junos and nftables parsers.

A match condition is a :class:`Cond`: one value set per header dimension (family, protocol, source and
destination addresses, ports, TCP flags, interfaces), each ``None`` for *any*. Conditions can be conjoined
(``and_``), and negated into a list of pairwise disjoint conditions (``and_not``); the nftables parser needs
negation to flatten conditional ``return``/``goto`` exactly, the Junos parser to make the alternatives of
``address``/``port``/``prefix-list`` (source *or* destination) disjoint. When a result cannot be expressed in
the rule model, :class:`Unrepresentable` is raised and the caller reports the construct as not understood.

:func:`to_rules` turns a condition plus an action into :class:`op25b_cfg.rules.Rule` objects (one per family
and protocol).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache

from op25b_cfg.netaddr import Network, collapse, exclude
from op25b_cfg.rules import ACK, FIN, PSH, RST, SYN, URG, Action, AddrMatch, FlagMatch, FlowLimit, PortRange, Rule

log = logging.getLogger(__name__)

ECE, CWR = 0x40, 0x80
ALL_FLAGS = 0xFF

TCP_FLAG_NAMES = {
    "fin": FIN,
    "syn": SYN,
    "rst": RST,
    "push": PSH,
    "psh": PSH,
    "ack": ACK,
    "urgent": URG,
    "urg": URG,
    "ecn": ECE,
    "ece": ECE,
    "cwr": CWR,
}

# Port names accepted by Junos (firewall filter port keywords) and by nftables (/etc/services names, fixed
# here so the result does not depend on the machine that runs the audit).
PORT_NAMES = {
    "afs": 1483,
    "bgp": 179,
    "biff": 512,
    "bootpc": 68,
    "bootps": 67,
    "cmd": 514,
    "cvspserver": 2401,
    "dhcp": 67,
    "dhcpv6-client": 546,
    "dhcpv6-server": 547,
    "domain": 53,
    "eklogin": 2105,
    "ekshell": 2106,
    "exec": 512,
    "finger": 79,
    "ftp": 21,
    "ftp-data": 20,
    "http": 80,
    "http-alt": 8080,
    "https": 443,
    "ident": 113,
    "imap": 143,
    "imap2": 143,
    "imaps": 993,
    "ipsec-nat-t": 4500,
    "isakmp": 500,
    "kerberos": 88,
    "kerberos-sec": 88,
    "klogin": 543,
    "kpasswd": 761,
    "krb-prop": 754,
    "krbupdate": 760,
    "kshell": 544,
    "ldap": 389,
    "ldaps": 636,
    "ldp": 646,
    "login": 513,
    "mobileip-agent": 434,
    "mobilip-mn": 435,
    "msdp": 639,
    "ms-wbt-server": 3389,
    "mysql": 3306,
    "netbios-dgm": 138,
    "netbios-ns": 137,
    "netbios-ssn": 139,
    "nfsd": 2049,
    "nntp": 119,
    "ntalk": 518,
    "ntp": 123,
    "openvpn": 1194,
    "pop3": 110,
    "pop3s": 995,
    "postgresql": 5432,
    "pptp": 1723,
    "printer": 515,
    "radacct": 1813,
    "radius": 1812,
    "rip": 520,
    "rkinit": 2108,
    "sip": 5060,
    "sip-tls": 5061,
    "smtp": 25,
    "smtps": 465,
    "snmp": 161,
    "snmptrap": 162,
    "snpp": 444,
    "socks": 1080,
    "ssh": 22,
    "submission": 587,
    "submissions": 465,
    "sunrpc": 111,
    "syslog": 514,
    "tacacs": 49,
    "tacacs-ds": 65,
    "talk": 517,
    "telnet": 23,
    "tftp": 69,
    "timed": 525,
    "urd": 465,
    "who": 513,
    "xdmcp": 177,
    "zephyr-clt": 2103,
    "zephyr-hm": 2104,
    "zephyr-srv": 2102,
}

ANY_PORTS = (PortRange(0, 65535),)


class Unrepresentable(Exception):
    """A condition the rule model cannot express exactly (caller reports it as not understood)."""


def port_value(text: str) -> int | None:
    """A port number or name, or None."""
    if text.isdigit():
        n = int(text)
        return n if n <= 65535 else None
    return PORT_NAMES.get(text.lower())


def port_range(text: str) -> PortRange | None:
    """``25``, ``smtp``, ``20-30`` or ``ftp-data-ftp``? (only ``a-b`` with numbers or simple names)."""
    p = port_value(text)
    if p is not None:
        return PortRange(p, p)
    if "-" in text:
        # Names may contain '-', so try every split point.
        for i, ch in enumerate(text):
            if ch == "-":
                lo, hi = port_value(text[:i]), port_value(text[i + 1 :])
                if lo is not None and hi is not None and lo <= hi:
                    return PortRange(lo, hi)
    return None


def norm_ports(ranges: list[PortRange] | tuple[PortRange, ...]) -> tuple[PortRange, ...]:
    """Sorted, merged ranges."""
    out: list[PortRange] = []
    for r in sorted(ranges, key=lambda r: (r.lo, r.hi)):
        if out and r.lo <= out[-1].hi + 1:
            if r.hi > out[-1].hi:
                out[-1] = PortRange(out[-1].lo, r.hi)
        else:
            out.append(r)
    return tuple(out)


def ports_complement(ranges: tuple[PortRange, ...]) -> tuple[PortRange, ...]:
    out: list[PortRange] = []
    nxt = 0
    for r in norm_ports(ranges):
        if r.lo > nxt:
            out.append(PortRange(nxt, r.lo - 1))
        nxt = max(nxt, r.hi + 1)
    if nxt <= 65535:
        out.append(PortRange(nxt, 65535))
    return tuple(out)


def ports_and(a: tuple[PortRange, ...] | None, b: tuple[PortRange, ...] | None) -> tuple[PortRange, ...] | None:
    if a is None:
        return b
    if b is None:
        return a
    out = [PortRange(max(x.lo, y.lo), min(x.hi, y.hi)) for x in a for y in b if max(x.lo, y.lo) <= min(x.hi, y.hi)]
    return norm_ports(out)


@dataclass(frozen=True)
class AddrSet:
    """Addresses in ``inc`` (None: every address) or matching a pattern of ``wild``, and not in ``exc``.
    ``inc == ()`` without ``wild`` matches nothing.

    ``wild`` holds non-contiguous address/mask patterns (Junos ``192.0.2.1/255.0.255.0``); it is only ever set
    together with a tuple ``inc`` and no ``exc``. Sets with patterns are conjoined only with *any* and never
    negated: those results are not unions of prefixes, and :class:`Unrepresentable` says so.
    """

    inc: tuple[Network, ...] | None
    exc: tuple[Network, ...] = ()
    wild: tuple[AddrMatch, ...] = ()

    @staticmethod
    def longest_match(entries: Sequence[tuple[Network | AddrMatch, bool]]) -> AddrSet:
        """Junos semantics of an address list with ``except`` entries (cached: lists repeat across terms)."""
        return _longest_match(tuple(entries))

    @staticmethod
    def _longest_match(entries: tuple[tuple[Network | AddrMatch, bool], ...]) -> AddrSet:
        """Junos semantics of an address list with ``except`` entries: the longest matching entry decides,
        and an implicit ``0/0 except`` closes the list. Kept as include/except lists when that is exact
        (no include lies strictly inside an except), flattened to plain prefixes otherwise. Non-contiguous
        patterns are exact in a list without ``except`` (the union); beside an ``except`` "longest" is not
        defined for them, so such a list is :class:`Unrepresentable`."""
        wild = tuple(dict.fromkeys(n for n, _ in entries if isinstance(n, AddrMatch)))
        if wild:
            if any(ex for _, ex in entries):
                raise Unrepresentable("a non-contiguous address mask in a list with 'except' is not modelled")
            nets = [n for n, _ in entries if not isinstance(n, AddrMatch)]
            return AddrSet(fast_collapse(nets), (), wild)
        incs = [n for n, ex in entries if not ex and not isinstance(n, AddrMatch)]
        excs = [n for n, ex in entries if ex and not isinstance(n, AddrMatch)]
        if not incs:
            return AddrSet(())
        nested = any(i != e and i.version == e.version and i.subnet_of(e) for i in incs for e in excs)  # type: ignore[arg-type]
        if not nested:
            inc = fast_collapse(incs)
            keep = fast_collapse([e for e in excs if any(e.version == i.version and e.overlaps(i) for i in inc)])
            return AddrSet(inc, keep)
        cur: list[Network] = []
        for net, ex in sorted(entries, key=lambda t: (t[0].prefixlen, t[1])):  # type: ignore[union-attr]
            cur = exclude(cur, [net]) if ex else list(fast_collapse([*cur, net]))  # type: ignore[list-item]
        return AddrSet(tuple(cur))

    def family(self, fam: int) -> AddrSet:
        if (
            self.inc is not None
            and all(n.version == fam for n in self.inc)
            and all(n.version == fam for n in self.exc)
            and all(w.family == fam for w in self.wild)
        ):
            return self
        inc = None if self.inc is None else tuple(n for n in self.inc if n.version == fam)
        wild = tuple(w for w in self.wild if w.family == fam)
        return AddrSet(inc, tuple(n for n in self.exc if n.version == fam), wild)

    def families(self) -> set[int]:
        """Families this set can match (inc None: both)."""
        return {4, 6} if self.inc is None else {n.version for n in self.inc} | {w.family for w in self.wild}

    def and_(self, other: AddrSet) -> AddrSet:
        if self.wild or other.wild:
            if other.inc is None and not other.exc:
                return self
            if self.inc is None and not self.exc:
                return other
            raise Unrepresentable("a non-contiguous address mask combined with another address match")
        if self.inc is None:
            inc = other.inc
        elif other.inc is None:
            inc = self.inc
        else:
            pairs: list[Network] = []
            for a in self.inc:
                for b in other.inc:
                    if a.version == b.version and a.overlaps(b):
                        pairs.append(a if a.prefixlen >= b.prefixlen else b)
            inc = fast_collapse(pairs)
        exc = fast_collapse([*self.exc, *other.exc])
        if inc is not None:
            exc = tuple(e for e in exc if any(e.version == i.version and e.overlaps(i) for i in inc))
            inc = tuple(i for i in inc if not any(i.version == e.version and i.subnet_of(e) for e in exc))  # type: ignore[arg-type]
        return AddrSet(inc, exc)

    def negate(self) -> AddrSet:
        """Every address not in this set."""
        if self.wild:
            raise Unrepresentable("the complement of a non-contiguous address mask is not modelled")
        if self.inc is None:
            return AddrSet(tuple(collapse(self.exc))) if self.exc else AddrSet(())
        if not self.exc:
            return AddrSet(None, tuple(collapse(self.inc)))
        full = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
        return AddrSet(tuple(collapse([*exclude(full, self.inc), *self.exc])))

    @property
    def empty(self) -> bool:
        return self.inc is not None and len(self.inc) == 0 and not self.wild


@lru_cache(maxsize=8192)
def _longest_match(entries: tuple[tuple[Network | AddrMatch, bool], ...]) -> AddrSet:
    return AddrSet._longest_match(entries)


@dataclass(frozen=True)
class IfSet:
    """Interface names (``*`` suffix: wildcard); ``negate`` inverts the test."""

    names: tuple[str, ...]
    negate: bool = False

    def and_(self, other: IfSet) -> IfSet:
        if not self.negate and not other.negate:
            out = [n for a in self.names for b in other.names if (n := _if_meet(a, b)) is not None]
            return IfSet(tuple(dict.fromkeys(out)))
        if self.negate and other.negate:
            return IfSet(tuple(dict.fromkeys([*self.names, *other.names])), True)
        pos, neg = (self, other) if other.negate else (other, self)
        keep: list[str] = []
        for p in pos.names:
            if any(_if_covers(n, p) for n in neg.names):
                continue
            if any(_if_meet(p, n) is not None for n in neg.names):
                raise Unrepresentable(f"interface {p!r} minus {list(neg.names)} is not expressible")
            keep.append(p)
        return IfSet(tuple(keep))

    def complement(self) -> IfSet:
        return IfSet(self.names, not self.negate)


def _if_covers(pattern: str, name: str) -> bool:
    """Does ``pattern`` match every name ``name`` matches?"""
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return pattern == name


def _if_meet(a: str, b: str) -> str | None:
    """The intersection of two name patterns (one pattern) or None."""
    if _if_covers(a, b):
        return b
    if _if_covers(b, a):
        return a
    return None


def flags_and(a: FlagMatch | None, b: FlagMatch | None) -> FlagMatch | None:
    """Conjunction of two flag alternatives lists (None: any); ``()`` result means: matches nothing."""
    if a is None:
        return b
    if b is None:
        return a
    out: list[tuple[int, int]] = []
    for m1, v1 in a:
        for m2, v2 in b:
            if (v1 ^ v2) & m1 & m2:
                continue
            alt = (m1 | m2, v1 | v2)
            if alt not in out:
                out.append(alt)
    return tuple(out)


def flags_not(a: FlagMatch) -> FlagMatch:
    """The complement of a flag alternatives list."""
    result: FlagMatch | None = None
    for m, v in a:
        neg = tuple((bit, (~v) & bit) for bit in (1 << i for i in range(8)) if m & bit)
        result = flags_and(result, neg)
    return result if result is not None else ()


@dataclass(frozen=True)
class Cond:
    """A conjunction of per-dimension value sets; ``None`` in a dimension means any value."""

    family: int | None = None
    protocols: frozenset[int] | None = None
    src: AddrSet | None = None
    dst: AddrSet | None = None
    sports: tuple[PortRange, ...] | None = None
    dports: tuple[PortRange, ...] | None = None
    flags: FlagMatch | None = None
    iif: IfSet | None = None
    oif: IfSet | None = None

    def and_(self, o: Cond) -> Cond | None:
        """The conjunction, or None when it matches nothing. May raise :class:`Unrepresentable`."""
        if self.family is not None and o.family is not None and self.family != o.family:
            return None
        fam = self.family if self.family is not None else o.family
        if self.protocols is None or o.protocols is None:
            prot = self.protocols if o.protocols is None else o.protocols
        else:
            prot = self.protocols & o.protocols
        src = self.src if o.src is None else o.src if self.src is None else self.src.and_(o.src)
        dst = self.dst if o.dst is None else o.dst if self.dst is None else self.dst.and_(o.dst)
        iif = self.iif if o.iif is None else o.iif if self.iif is None else self.iif.and_(o.iif)
        oif = self.oif if o.oif is None else o.oif if self.oif is None else self.oif.and_(o.oif)
        c = Cond(
            fam,
            prot,
            src,
            dst,
            ports_and(self.sports, o.sports),
            ports_and(self.dports, o.dports),
            flags_and(self.flags, o.flags),
            iif,
            oif,
        )
        return None if c.empty else c

    @property
    def empty(self) -> bool:
        if self.protocols is not None and not self.protocols:
            return True
        if (self.src is not None and self.src.empty) or (self.dst is not None and self.dst.empty):
            return True
        if (self.sports is not None and not self.sports) or (self.dports is not None and not self.dports):
            return True
        if self.flags is not None and not self.flags:
            return True
        return any(s is not None and not s.negate and not s.names for s in (self.iif, self.oif))

    def negations(self) -> list[Cond]:
        """Pairwise disjoint conditions whose union is the complement of this one."""
        out: list[Cond] = []
        prefix = Cond()
        dims: list[Cond] = []
        neg: list[Cond] = []
        if self.family is not None:
            dims.append(Cond(family=self.family))
            neg.append(Cond(family=10 - self.family))
        if self.protocols is not None:
            dims.append(Cond(protocols=self.protocols))
            neg.append(Cond(protocols=frozenset(range(256)) - self.protocols))
        if self.src is not None:
            dims.append(Cond(src=self.src))
            neg.append(Cond(src=self.src.negate()))
        if self.dst is not None:
            dims.append(Cond(dst=self.dst))
            neg.append(Cond(dst=self.dst.negate()))
        if self.sports is not None:
            dims.append(Cond(sports=self.sports))
            neg.append(Cond(sports=ports_complement(self.sports)))
        if self.dports is not None:
            dims.append(Cond(dports=self.dports))
            neg.append(Cond(dports=ports_complement(self.dports)))
        if self.flags is not None:
            dims.append(Cond(flags=self.flags))
            neg.append(Cond(flags=flags_not(self.flags)))
        if self.iif is not None:
            dims.append(Cond(iif=self.iif))
            neg.append(Cond(iif=self.iif.complement()))
        if self.oif is not None:
            dims.append(Cond(oif=self.oif))
            neg.append(Cond(oif=self.oif.complement()))
        for d, n in zip(dims, neg, strict=True):
            alt = prefix.and_(n)
            if alt is not None:
                out.append(alt)
            nxt = prefix.and_(d)
            if nxt is None:
                break
            prefix = nxt
        return out


def and_not(conds: list[Cond], guard: Cond) -> list[Cond]:
    """Every condition in ``conds`` minus ``guard``, as disjoint conditions."""
    negs = guard.negations()
    out: list[Cond] = []
    for c in conds:
        for n in negs:
            r = c.and_(n)
            if r is not None:
                out.append(r)
    return out


def disjoint(alts: list[Cond]) -> list[Cond]:
    """Rewrite alternatives (an OR) into pairwise disjoint conditions with the same union, in order."""
    out: list[Cond] = []
    for i, alt in enumerate(alts):
        parts = [alt]
        for prev in alts[:i]:
            parts = and_not(parts, prev)
        out.extend(parts)
    return out


def match_wild(pattern: str, name: str) -> bool:
    """Junos ``<...>`` wildcard test (``<*>``, ``<ge-*>``)."""
    return fnmatchcase(name, pattern[1:-1]) if pattern.startswith("<") and pattern.endswith(">") else pattern == name


def to_rules(
    cond: Cond,
    action: Action,
    families: tuple[int, ...],
    *,
    name: str = "",
    line: int | None = None,
    text: str = "",
    log_: bool = False,
    counter: str | None = None,
    remark: str = "",
    limit: FlowLimit | None = None,
    src_set: str | None = None,
    dst_set: str | None = None,
    max_protocols: int = 256,
) -> list[Rule]:
    """Rules (one per family in ``families`` the condition can match, and per protocol) for one condition."""
    rules: list[Rule] = []
    fams = families if cond.family is None else tuple(f for f in families if f == cond.family)
    for fam in fams:
        src = cond.src.family(fam) if cond.src is not None else None
        dst = cond.dst.family(fam) if cond.dst is not None else None
        if (src is not None and src.empty) or (dst is not None and dst.empty):
            continue
        protos: list[int | None] = [None] if cond.protocols is None else list(sorted(cond.protocols))
        if len(protos) > max_protocols:
            raise Unrepresentable(f"{len(protos)} protocols after expansion")
        kw = dict(
            src=_matches(src.inc) + src.wild if src is not None and src.inc is not None else (),
            dst=_matches(dst.inc) + dst.wild if dst is not None and dst.inc is not None else (),
            src_except=_matches(src.exc) if src is not None else (),
            dst_except=_matches(dst.exc) if dst is not None else (),
            src_ports=cond.sports if cond.sports is not None and cond.sports != ANY_PORTS else (),
            dst_ports=cond.dports if cond.dports is not None and cond.dports != ANY_PORTS else (),
            tcp_flags=_flags_out(cond.flags),
            src_set=src_set,
            dst_set=dst_set,
            log=log_,
            counter=counter,
            remark=remark,
            limit=limit,
            line=line,
            text=text,
            iifname=tuple(sorted(cond.iif.names)) if cond.iif is not None else (),
            oifname=tuple(sorted(cond.oif.names)) if cond.oif is not None else (),
            iifname_negate=cond.iif.negate if cond.iif is not None else False,
            oifname_negate=cond.oif.negate if cond.oif is not None else False,
        )
        if kw["iifname_negate"] and not kw["iifname"]:
            kw["iifname_negate"] = False
        if kw["oifname_negate"] and not kw["oifname"]:
            kw["oifname_negate"] = False
        for p in protos:
            rules.append(Rule(action, fam, p, name, **kw))  # type: ignore[arg-type]
    return rules


def _flags_out(flags: FlagMatch | None) -> FlagMatch:
    if flags is None:
        return ()
    return () if any(m == 0 for m, _ in flags) else flags


def _matches(nets: tuple[Network, ...]) -> tuple[AddrMatch, ...]:
    return tuple(AddrMatch.from_prefix(n) for n in nets)


def parse_addr_mask(text: str) -> Network | AddrMatch | None:
    """A Junos address: a prefix, an address (a host), or an IPv4 address with a dotted mask after the slash.
    The mask is a network mask (bits set must match), contiguous or not; a non-contiguous one gives an
    :class:`~op25b_cfg.rules.AddrMatch`. Host bits are ignored, as the data plane does. None: not an address.

    >>> a = parse_addr_mask("192.0.2.1/255.0.255.0")
    >>> (a.family, hex(a.value), hex(a.mask))  # type: ignore[union-attr]
    (4, '0xc0000200', '0xff00ff00')
    >>> parse_addr_mask("10.1.2.3/255.255.0.0"), parse_addr_mask("10.0.0.0/0.255.255.255").mask
    (IPv4Network('10.1.0.0/16'), 16777215)
    """
    addr, slash, mask = text.partition("/")
    if not slash or "." not in mask:
        return parse_net(text)
    try:
        a = int(ipaddress.IPv4Address(addr))
        m = int(ipaddress.IPv4Address(mask))
    except ValueError:
        return None
    inv = ~m & 0xFFFFFFFF
    if inv & (inv + 1) == 0:  # contiguous: a prefix
        return ipaddress.IPv4Network((a & m, 32 - inv.bit_length()))
    return AddrMatch(4, a & m, m)


@lru_cache(maxsize=65536)
def parse_net(text: str) -> Network | None:
    """An address or prefix (host bits ignored, as the data plane does), or None."""
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def fast_collapse(nets: list[Network] | tuple[Network, ...]) -> tuple[Network, ...]:
    """:func:`op25b_cfg.netaddr.collapse`, with shortcuts: zero or one prefix, or sorted prefixes that neither
    overlap nor touch (nothing to merge) are returned without building supernets."""
    if len(nets) < 2:
        return tuple(nets)
    srt = sorted(nets, key=lambda n: (n.version, int(n.network_address), n.prefixlen))
    prev_v, prev_end = 0, -2
    for n in srt:
        start = int(n.network_address)
        if n.version == prev_v and start <= prev_end + 1:
            return _collapse_cached(tuple(srt))
        prev_v, prev_end = n.version, int(n.broadcast_address)
    return tuple(srt)


@lru_cache(maxsize=4096)
def _collapse_cached(nets: tuple[Network, ...]) -> tuple[Network, ...]:
    return tuple(collapse(nets))
