"""Helpers shared by the Cisco-family running-config parsers (IOS/IOS-XE, IOS-XR, Arista EOS).

The parsers make one fast pass over the lines (:func:`~op25b_cfg.dialects.cisco_reader.scan`, the dialect's one
reader): only the indentation and the first tokens of a top-level line decide whether its block matters (ACLs,
object-groups, interfaces, templates, QoS maps); every other block is skipped without being tokenised.
The blocks that matter are then parsed in detail:

* :class:`Groups` resolves network, service and port object-groups (nested, with loop detection);
* :class:`AceParser` turns one access-control entry into rule specs (action, protocol, addresses as
  :class:`~op25b_cfg.rules.AddrMatch` incl. non-contiguous wildcard masks, port ranges, TCP flags, log);
* :class:`FilterBuilder` collects ACL entries into :class:`~op25b_cfg.audit.model.Filter` objects and turns
  every entry it cannot model exactly into an :class:`~op25b_cfg.audit.model.Unparsed` (never widened, never
  silently dropped). Entries are tokenised when a filter's rules are first read (:mod:`._lazy`): at once for
  referenced filters by default, on demand for every filter on the audit path (``parse(text, lazy=True)``).
  Entries of the common shape are memoised process-wide (:data:`op25b_cfg.FAST_ACES`): they name no object-group.

Nothing here raises on bad input: :class:`AceError` is internal and always caught per line.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import itertools
import logging
import re

# socket's C half: importing socket builds its enums (10 M instructions); a saved-config audit needs only this
from _socket import AF_INET as _AF_INET
from _socket import inet_pton as _inet_pton
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from op25b_cfg import caches
from op25b_cfg.audit.lazy import DeferredFilter as DeferredFilter  # re-exported
from op25b_cfg.audit.lazy import ResultRef
from op25b_cfg.audit.lazy import resolve_all as resolve_all  # re-exported
from op25b_cfg.audit.model import Filter, ParsedConfig, Unparsed
from op25b_cfg.dialects.cisco_reader import Block as Block  # re-exported for the platform parsers
from op25b_cfg.dialects.cisco_reader import scan as scan  # re-exported
from op25b_cfg.dialects.cisco_reader import split_lines as split_lines  # re-exported
from op25b_cfg.dialects.cisco_reader import with_runs
from op25b_cfg.gc_pause import paused_gc
from op25b_cfg.rules import ACK, ESTABLISHED, FIN, PSH, RST, SYN, URG, Action, AddrMatch, FlagMatch, PortRange, Rule

log = logging.getLogger(__name__)

# Process-wide caches (registered with :mod:`op25b_cfg.caches`, which empties them all)

FAST_ACES: dict[tuple[str, int], Parsed] = caches.register({})
"""Cisco-style access-list entries of the common shape, parsed, by (text, family): such an entry names no
object-group, so what it matches does not depend on the config it is in. Values are never mutated."""
FAST_ACES_MAX = 100_000


ECE, CWR = 0x40, 0x80
ALL4 = 0xFFFFFFFF
ALL6 = (1 << 128) - 1

# --------------------------------------------------------------------------- vocabulary

PORT_NAMES: dict[str, int] = {
    # IOS / IOS-XE / IOS-XR TCP and UDP keywords (the union: no name means two different numbers)
    "bgp": 179, "biff": 512, "bootpc": 68, "bootps": 67, "chargen": 19, "cmd": 514, "daytime": 13,
    "discard": 9, "dnsix": 195, "domain": 53, "drip": 3949, "echo": 7, "exec": 512, "finger": 79,
    "ftp": 21, "ftp-data": 20, "gopher": 70, "hostname": 101, "ident": 113, "irc": 194, "isakmp": 500,
    "klogin": 543, "kshell": 544, "login": 513, "lpd": 515, "mobile-ip": 434, "msrpc": 135,
    "nameserver": 42, "netbios-dgm": 138, "netbios-ns": 137, "netbios-ss": 139, "nntp": 119,
    "non500-isakmp": 4500, "ntp": 123, "onep-plain": 15001, "onep-tls": 15002, "pim-auto-rp": 496,
    "pop2": 109, "pop3": 110, "rip": 520, "ripv6": 521, "smtp": 25, "snmp": 161, "snmptrap": 162,
    "sunrpc": 111, "syslog": 514, "tacacs": 49, "talk": 517, "telnet": 23, "tftp": 69, "time": 37,
    "uucp": 540, "who": 513, "whois": 43, "www": 80, "xdmcp": 177,
    # Arista EOS / NX-OS additions
    "bfd": 3784, "bfd-echo": 3785, "https": 443, "imap": 143, "imap4": 143, "kerberos": 88, "ldap": 389,
    "ldaps": 636, "microsoft-ds": 445, "mlag": 4432, "radius": 1812, "radius-acct": 1813, "rtsp": 554,
    "ssh": 22, "submission": 587, "http": 80, "lsp-ping": 3503, "pop3s": 995, "imaps": 993,
}  # fmt: skip

PROTOCOL_NAMES: dict[str, int] = {
    "icmp": 1, "igmp": 2, "ipinip": 4, "tcp": 6, "igrp": 9, "udp": 17, "rsvp": 46, "gre": 47, "esp": 50,
    "ahp": 51, "ah": 51, "icmpv6": 58, "icmp6": 58, "eigrp": 88, "ospf": 89, "nos": 94, "pim": 103,
    "pcp": 108, "vrrp": 112, "l2tp": 115, "sctp": 132,
}  # fmt: skip
ANY_PROTOCOL = {4: frozenset({"ip", "ipv4"}), 6: frozenset({"ipv6"})}
PORT_PROTOCOLS = frozenset({6, 17, 132})
PORT_OPS = frozenset({"eq", "neq", "lt", "gt", "range"})
FLAG_BITS = {"fin": FIN, "syn": SYN, "rst": RST, "psh": PSH, "ack": ACK, "urg": URG, "ece": ECE, "cwr": CWR}
LOG_WORDS = frozenset({"log", "log-input"})
# options that change nothing about which packets an entry matches or what it does with them
HARMLESS_0 = frozenset({"icmp-off", "icmp-on", "capture", "hardware-count", "interface-statistics"})
HARMLESS_1 = frozenset({"counter", "reflect"})
KEYWORDS = (
    PORT_OPS | LOG_WORDS | HARMLESS_0 | HARMLESS_1 | set(FLAG_BITS) | {"established", "match-all", "match-any"}
) | {"sequence", "dscp", "precedence", "tos", "ttl", "fragments", "time-range", "option", "timeout"}
GROUP_WORDS = frozenset({"object-group", "addrgroup", "net-group"})
PORTGROUP_WORDS = frozenset({"portgroup", "port-group"})


class CiscoFamilyParser(Protocol):
    """What :func:`run_parser` needs of a platform parser (IOS, IOS-XR, EOS)."""

    result: ParsedConfig
    filters: FilterBuilder

    def run(self, text: str) -> ParsedConfig: ...


def run_parser(parser: CiscoFamilyParser, text: str, platform: str) -> ParsedConfig:
    """Run ``parser`` on ``text`` with the garbage collector paused; never raises (a last-resort error becomes
    an UNPARSED entry naming only the exception type, never config text)."""
    try:
        with paused_gc():
            parser.run(text)
    except Exception as exc:  # last resort; per-block errors are caught earlier
        log.debug("%s parser failed", platform, exc_info=True)
        parser.result.unparsed.append(Unparsed(1, "", f"internal parser error: {type(exc).__name__}"))
    parser.filters.detach()
    return parser.result


class AceError(ValueError):
    """Internal: an entry cannot be modelled exactly. Always caught and reported as Unparsed."""


class NeverMatches(AceError):
    """Internal: the entry provably matches no packet (e.g. an empty object-group)."""


# --------------------------------------------------------------------------- fast Rule construction

_RULE_FIELDS = dataclasses.fields(Rule)
_RULE_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in _RULE_FIELDS if f.default is not dataclasses.MISSING
}  # every field but action/family
_FAST_RULE = (
    not hasattr(Rule, "__slots__")
    and "__post_init__" not in vars(Rule)
    and len(_RULE_DEFAULTS) == len(_RULE_FIELDS) - 2
    and {f.name for f in _RULE_FIELDS[:2]} == {"action", "family"}
)


# --------------------------------------------------------------------------- addresses and ports


def v4_int(tok: str) -> int:
    """Dotted-quad IPv4 address to int (strict: no leading zeros, no short forms); raises AceError."""
    try:
        return int.from_bytes(_inet_pton(_AF_INET, tok), "big")
    except (OSError, ValueError, TypeError):
        raise AceError(f"'{tok}' is not an IPv4 address") from None


def v6_int(tok: str) -> int:
    try:
        return int(ipaddress.IPv6Address(tok))
    except ValueError:
        raise AceError(f"'{tok}' is not an IPv6 address") from None


def addr_int(tok: str, family: int) -> int:
    return v4_int(tok) if family == 4 else v6_int(tok)


def host_match(tok: str, family: int) -> AddrMatch:
    return AddrMatch(family, addr_int(tok, family), ALL4 if family == 4 else ALL6)


def prefix_match(tok: str, family: int) -> AddrMatch:
    """``A/len`` (host bits are ignored, as the devices do)."""
    addr, _, plen = tok.partition("/")
    bits = 32 if family == 4 else 128
    if not plen.isdigit() or int(plen) > bits:
        raise AceError(f"'{tok}' is not an IPv{family} prefix")
    mask = ((1 << bits) - 1) ^ ((1 << (bits - int(plen))) - 1)
    return AddrMatch(family, addr_int(addr, family) & mask, mask)


def wildcard_match(addr: str, wildcard: str) -> AddrMatch:
    """IPv4 address + Cisco wildcard (bits set = don't care), contiguous or not."""
    mask = ALL4 ^ v4_int(wildcard)
    return AddrMatch(4, v4_int(addr) & mask, mask)


def netmask_match(addr: str, netmask: str) -> AddrMatch:
    """IPv4 address + network mask (bits set = must match), as object-group network members use."""
    mask = v4_int(netmask)
    return AddrMatch(4, v4_int(addr) & mask, mask)


def range_matches(lo: str, hi: str, family: int) -> tuple[AddrMatch, ...]:
    """An address range as the prefixes covering it exactly."""
    try:
        a, b = ipaddress.ip_address(lo), ipaddress.ip_address(hi)
        nets = ipaddress.summarize_address_range(a, b)
        return tuple(AddrMatch.from_prefix(n) for n in nets if n.version == family)
    except (ValueError, TypeError) as exc:
        raise AceError(f"bad address range {lo} {hi}: {exc}") from None


def port_num(tok: str) -> int:
    if tok.isdigit():
        p = int(tok)
        if p <= 65535:
            return p
        raise AceError(f"port {tok} is out of range")
    p2 = PORT_NAMES.get(tok)
    if p2 is None:
        raise AceError(f"unknown port name '{tok}'")
    return p2


def is_port(tok: str) -> bool:
    return (tok.isdigit() and int(tok) <= 65535) or tok in PORT_NAMES


def complement(ports: Iterable[int]) -> tuple[PortRange, ...]:
    out: list[PortRange] = []
    lo = 0
    for p in sorted(set(ports)):
        if p > lo:
            out.append(PortRange(lo, p - 1))
        lo = p + 1
    if lo <= 65535:
        out.append(PortRange(lo, 65535))
    return tuple(out)


def port_term(toks: list[str], i: int) -> tuple[tuple[PortRange, ...], int]:
    """Parse ``eq P [P..] | neq P [P..] | lt P | gt P | range A B`` at ``toks[i]``; returns ranges, next i.
    A term that matches no port raises NeverMatches (IOS refuses such terms anyway)."""
    op = toks[i]
    i += 1
    n = len(toks)
    if i >= n:
        raise AceError(f"'{op}' without a port")
    if op == "range":
        if i + 1 >= n:
            raise AceError("'range' needs two ports")
        lo, hi = port_num(toks[i]), port_num(toks[i + 1])
        if lo > hi:
            raise AceError(f"empty port range {lo} {hi}")
        return (PortRange(lo, hi),), i + 2
    if op in ("lt", "gt"):
        p = port_num(toks[i])
        if (op == "lt" and p == 0) or (op == "gt" and p == 65535):
            raise NeverMatches(f"'{op} {p}' matches no port")
        return ((PortRange(0, p - 1),) if op == "lt" else (PortRange(p + 1, 65535),)), i + 1
    ports = [port_num(toks[i])]
    i += 1
    while i < n and is_port(toks[i]):
        ports.append(port_num(toks[i]))
        i += 1
    if op == "eq":
        return tuple(PortRange(p, p) for p in dict.fromkeys(ports)), i
    comp = complement(ports)
    if not comp:
        raise NeverMatches("'neq' excludes every port")
    return comp, i


def intersect_ports(a: tuple[PortRange, ...], b: tuple[PortRange, ...]) -> tuple[PortRange, ...]:
    """Intersection of two port-range unions (``()`` = any)."""
    if not a:
        return b
    if not b:
        return a
    out = [PortRange(max(x.lo, y.lo), min(x.hi, y.hi)) for x in a for y in b if max(x.lo, y.lo) <= min(x.hi, y.hi)]
    if not out:
        raise NeverMatches("port terms do not overlap")
    return tuple(out)


def flags_term(toks: list[str], i: int) -> tuple[FlagMatch, int]:
    """``match-all +syn -ack ..`` (one alternative) or ``match-any +syn +rst ..`` (one per flag)."""
    kind = toks[i]
    i += 1
    terms: list[tuple[int, int]] = []
    while i < len(toks) and toks[i][:1] in ("+", "-") and toks[i][1:] in FLAG_BITS:
        bit = FLAG_BITS[toks[i][1:]]
        terms.append((bit, bit if toks[i][0] == "+" else 0))
        i += 1
    if not terms:
        raise AceError(f"'{kind}' without +flag/-flag terms")
    if kind == "match-any":
        return tuple(terms), i
    mask = value = 0
    for bit, val in terms:
        if mask & bit and (value & bit) != val:
            raise NeverMatches("match-all asks for a flag both set and clear")
        mask |= bit
        value |= val
    return ((mask, value),), i


# --------------------------------------------------------------------------- object-groups


@dataclass
class RawGroup:
    """An object-group as written: kind (network | service | port), header line, member lines."""

    kind: str
    name: str
    line: int
    members: list[tuple[int, str]] = field(default_factory=list)
    family: int | None = None  # XR writes the family in the header


ServiceEntry = tuple[int | None, tuple[PortRange, ...], tuple[PortRange, ...], bool]
"""(protocol or None for any, source ports, destination ports, has qualifiers that are not modelled)."""


class Groups:
    """Object-groups of one config, resolved on demand (memoised, nested, loops detected).

    Network members: ``host A``, ``A MASK`` (network mask), ``A/len``, ``range A B``, ``any``,
    ``group-object N`` / ``object-group N`` and ASA-style ``network-object ...``. Service members:
    ``tcp|udp|tcp-udp|sctp [source OP P] [OP P]``, ``icmp [type]``, ``ip``, a protocol name or number.
    Port members (``object-group ip port`` / XR ``object-group port``): ``eq|neq|lt|gt|range``.
    """

    def __init__(self) -> None:
        self.raw: dict[tuple[str, str], RawGroup] = {}
        self._net: dict[tuple[str, int], tuple[AddrMatch, ...] | AceError] = {}
        self._svc: dict[tuple[str, int], tuple[ServiceEntry, ...] | AceError] = {}
        """by (name, family): a member such as ``ip`` or ``icmp`` means another protocol in each family"""
        self._port: dict[str, tuple[PortRange, ...] | AceError] = {}

    def add(self, group: RawGroup) -> None:
        key = (group.kind, group.name)
        if key in self.raw:  # a second definition adds members, as in config mode
            self.raw[key].members.extend(group.members)
        else:
            self.raw[key] = group

    def _get(self, kind: str, name: str) -> RawGroup:
        g = self.raw.get((kind, name))
        if g is None:
            raise AceError(f"{kind} object-group '{name}' is not defined")
        return g

    # network ------------------------------------------------------------------
    def network(self, name: str, family: int, _stack: tuple[str, ...] = ()) -> tuple[AddrMatch, ...]:
        """Address patterns of family ``family`` in network group ``name`` (may be empty)."""
        key = (name, family)
        hit = self._net.get(key)
        if hit is None:
            try:
                hit = self._resolve_network(name, family, _stack)
            except AceError as exc:
                hit = exc
            self._net[key] = hit
        if isinstance(hit, AceError):
            raise hit
        return hit

    def _resolve_network(self, name: str, family: int, stack: tuple[str, ...]) -> tuple[AddrMatch, ...]:
        if name in stack:
            raise AceError(f"object-group '{name}' contains itself")
        g = self._get("network", name)
        out: list[AddrMatch] = []
        for line, text in g.members:
            toks = text.split()
            if toks[0] == "network-object":
                toks = toks[1:]
                if toks and toks[0] == "object":
                    raise AceError(f"object-group {name} line {line}: network-object object is not supported")
            if not toks or toks[0] == "description":
                continue
            try:
                out.extend(self._network_member(toks, family, (*stack, name)))
            except NeverMatches:
                continue
            except AceError as exc:
                raise AceError(f"object-group {name} line {line}: {exc}") from None
        return tuple(dict.fromkeys(out))

    def _network_member(self, toks: list[str], family: int, stack: tuple[str, ...]) -> tuple[AddrMatch, ...]:
        t0 = toks[0]
        if t0 in ("group-object", "object-group"):
            if len(toks) != 2:
                raise AceError(f"bad nested group '{' '.join(toks)}'")
            return self.network(toks[1], family, stack)
        fam = 6 if ":" in (toks[1] if t0 in ("host", "range") and len(toks) > 1 else t0) else 4
        if t0 == "any":
            return (AddrMatch(family, 0, 0),)
        if fam != family:
            return ()
        if t0 == "host" and len(toks) == 2:
            return (host_match(toks[1], family),)
        if t0 == "range" and len(toks) == 3:
            return range_matches(toks[1], toks[2], family)
        if "/" in t0 and len(toks) == 1:
            return (prefix_match(t0, family),)
        if family == 4 and len(toks) == 2:
            return (netmask_match(t0, toks[1]),)
        if len(toks) == 1:
            return (host_match(t0, family),)
        raise AceError(f"unknown member '{' '.join(toks)}'")

    # ports ----------------------------------------------------------------------
    def ports(self, name: str, _stack: tuple[str, ...] = ()) -> tuple[PortRange, ...]:
        hit = self._port.get(name)
        if hit is None:
            try:
                hit = self._resolve_ports(name, _stack)
            except AceError as exc:
                hit = exc
            self._port[name] = hit
        if isinstance(hit, AceError):
            raise hit
        return hit

    def _resolve_ports(self, name: str, stack: tuple[str, ...]) -> tuple[PortRange, ...]:
        if name in stack:
            raise AceError(f"object-group '{name}' contains itself")
        g = self._get("port", name)
        out: list[PortRange] = []
        for line, text in g.members:
            toks = text.split()
            if toks[0] == "description":
                continue
            try:
                if toks[0] in ("group-object", "object-group") and len(toks) == 2:
                    out.extend(self.ports(toks[1], (*stack, name)))
                    continue
                if toks[0] == "port-object":
                    toks = toks[1:]
                if not toks or toks[0] not in PORT_OPS:
                    raise AceError(f"unknown member '{text}'")
                ranges, j = port_term(toks, 0)
                if j != len(toks):
                    raise AceError(f"unexpected '{toks[j]}'")
                out.extend(ranges)
            except NeverMatches:
                continue
            except AceError as exc:
                raise AceError(f"object-group {name} line {line}: {exc}") from None
        return tuple(dict.fromkeys(out))

    # services -------------------------------------------------------------------
    def services(self, name: str, family: int, _stack: tuple[str, ...] = ()) -> tuple[ServiceEntry, ...]:
        key = (name, family)
        hit = self._svc.get(key)
        if hit is None:
            try:
                hit = self._resolve_services(name, family, _stack)
            except AceError as exc:
                hit = exc
            self._svc[key] = hit
        if isinstance(hit, AceError):
            raise hit
        return hit

    def _resolve_services(self, name: str, family: int, stack: tuple[str, ...]) -> tuple[ServiceEntry, ...]:
        if name in stack:
            raise AceError(f"object-group '{name}' contains itself")
        g = self._get("service", name)
        out: list[ServiceEntry] = []
        for line, text in g.members:
            toks = text.split()
            if toks[0] == "description":
                continue
            try:
                if toks[0] in ("group-object", "object-group") and len(toks) == 2:
                    out.extend(self.services(toks[1], family, (*stack, name)))
                    continue
                out.extend(service_member(toks, family))
            except NeverMatches:
                continue
            except AceError as exc:
                raise AceError(f"object-group {name} line {line}: {exc}") from None
        return tuple(out)


def protocols_of(tok: str, family: int) -> tuple[int | None, ...]:
    """Protocol numbers a protocol keyword stands for (None: any IP protocol)."""
    if tok in ANY_PROTOCOL[family]:
        return (None,)
    if tok == "tcp-udp":
        return (6, 17)
    if tok == "icmp" and family == 6:
        return (58,)
    p = PROTOCOL_NAMES.get(tok)
    if p is not None:
        return (p,)
    if tok.isdigit() and int(tok) <= 255:
        return (int(tok),)
    raise AceError(f"unknown protocol '{tok}'")


def service_member(toks: list[str], family: int) -> list[ServiceEntry]:
    """One member of a service object-group."""
    protos = protocols_of(toks[0], family)
    i = 1
    sports: tuple[PortRange, ...] = ()
    dports: tuple[PortRange, ...] = ()
    loose = False
    if all(p in PORT_PROTOCOLS for p in protos):
        if i < len(toks) and toks[i] == "source":
            sports, i = port_term(toks, i + 1) if i + 1 < len(toks) else ((), i)
            if not sports:
                raise AceError("'source' without a port term")
        if i < len(toks) and toks[i] == "destination":
            i += 1
        if i < len(toks) and toks[i] in PORT_OPS:
            dports, i = port_term(toks, i)
        if i != len(toks):
            raise AceError(f"unexpected '{toks[i]}'")
    elif i < len(toks):
        if any(p is None or p == 6 for p in protos):
            raise AceError(f"unexpected '{toks[i]}'")
        loose = True  # e.g. icmp echo: a qualifier of a protocol that is never TCP
    return [(p, sports, dports, loose) for p in protos]


# --------------------------------------------------------------------------- entries


Spec = tuple[dict[str, Any], bool]
"""What one entry matches (one alternative; a service object-group gives several): the values of the Rule
fields it sets (the others keep their defaults), and whether the entry carries qualifiers that are not
modelled on a protocol that is never TCP (``icmp ... echo``). A plain tuple: this is the hot path."""


Parsed = tuple[str, str, tuple[Spec, ...] | str]
"""(verb: permit | deny | remark, sequence number or "", specs or remark text)."""

_ADDR_RE = r"any|host [^ ]+|\d+\.\d+\.\d+\.\d+ \d+\.\d+\.\d+\.\d+|[0-9A-Fa-f:.]+/\d+"
_PORT_RE = r"(?:eq|neq|lt|gt) [^ ]+|range [^ ]+ [^ ]+"
_FAST_ACE = re.compile(
    rf"(?:(\d+) )?(permit|deny) ([a-z0-9]+) ({_ADDR_RE})(?: ({_PORT_RE}))? ({_ADDR_RE})(?: ({_PORT_RE}))?"
    r"( established)?( log| log-input)?\Z"
)


def spec(
    action: Action,
    family: int,
    protocol: int | None,
    src: tuple[AddrMatch, ...],
    dst: tuple[AddrMatch, ...],
    src_ports: tuple[PortRange, ...],
    dst_ports: tuple[PortRange, ...],
    tcp_flags: FlagMatch,
    logged: bool,
    src_set: str | None,
    dst_set: str | None,
    loose: bool,
) -> Spec:
    values = {
        "action": action,
        "family": family,
        "protocol": protocol,
        "src": src,
        "dst": dst,
        "src_ports": src_ports,
        "dst_ports": dst_ports,
        "tcp_flags": tcp_flags,
        "log": logged,
        "src_set": src_set,
        "dst_set": dst_set,
    }
    return values, loose


class AceParser:
    """Parses entries of extended and standard ACLs. ``dialect`` is ``ios``, ``xr`` or ``eos``.

    Results are memoised per config, by the whole line and by the entry without its sequence number: large
    configs repeat the same entries in many ACLs."""

    def __init__(self, groups: Groups, dialect: str) -> None:
        self.groups = groups
        self.dialect = dialect
        self._lines: dict[tuple[int, bool], dict[str, Parsed | AceError]] = {}
        self._bodies: dict[tuple[str, int, bool], tuple[Spec, ...] | AceError] = {}
        self._addr: dict[tuple[str, int | str], tuple[AddrMatch, ...]] = {}
        self._protos: dict[tuple[str, int], tuple[ServiceEntry, ...]] = {}
        self._port: dict[tuple[str, ...], tuple[tuple[PortRange, ...], int]] = {}
        self._terms: dict[tuple[str, int], tuple[AddrMatch, ...]] = {}
        self._pterms: dict[str, tuple[PortRange, ...]] = {}

    def line_cache(self, family: int, standard: bool) -> dict[str, Parsed | AceError]:
        """The memo of whole lines for one kind of ACL (callers may read it directly: the hot path)."""
        return self._lines.setdefault((family, standard), {})

    def parse(self, text: str, family: int, standard: bool) -> Parsed:
        """One entry: ``[seq] permit|deny ...`` or ``[seq] remark ...``. Raises AceError / NeverMatches."""
        cache = self.line_cache(family, standard)
        hit = cache.get(text)
        if hit is None:
            try:
                hit = self._parse(text, family, standard)
            except AceError as exc:
                hit = exc
            cache[text] = hit
        if isinstance(hit, AceError):
            raise hit
        return hit

    def _parse(self, text: str, family: int, standard: bool) -> Parsed:
        if not standard:
            memo_key = (text, family)
            known = FAST_ACES.get(memo_key)
            if known is not None:
                return known
            m = _FAST_ACE.match(text)
            if m is not None:
                try:
                    known = self._fast(m, family)
                except AceError:
                    pass  # the general path below gives the precise reason
                else:
                    if len(FAST_ACES) >= FAST_ACES_MAX:
                        FAST_ACES.clear()
                    FAST_ACES[memo_key] = known
                    return known
        toks = text.split()
        seq = ""
        if toks[0].isdigit():
            seq = toks[0]
            toks = toks[1:]
            if not toks:
                raise AceError("sequence number without an entry")
        verb = toks[0]
        if verb == "remark":
            return "remark", seq, text.split("remark", 1)[1].strip()
        if verb != "permit" and verb != "deny":
            raise AceError(f"'{verb}' entries are not modelled")
        if "!" in toks:
            toks = toks[: toks.index("!")]
        if len(toks) >= 3 and toks[-2] == "sequence" and toks[-1].isdigit():  # IOS IPv6 show run
            seq = toks[-1]
            toks = toks[:-2]
        key = (" ".join(toks), family, standard)
        hit = self._bodies.get(key)
        if hit is None:
            try:
                hit = self._standard(toks, family) if standard else self._extended(toks, family)
            except AceError as exc:
                hit = exc
            self._bodies[key] = hit
        if isinstance(hit, AceError):
            raise hit
        return verb, seq, hit

    def _fast(self, m: re.Match[str], family: int) -> Parsed:
        """The common entry shape, matched by one regex: ``[seq] permit|deny PROTO SRC [PORTS] DST [PORTS]
        [established] [log]``. Anything unusual raises AceError and goes the general way."""
        seq, verb, proto, src_t, sp_t, dst_t, dp_t, est, logged = m.groups()
        key = (proto, family)
        services = self._protos.get(key)
        if services is None:
            services = self._protos[key] = tuple((p, (), (), False) for p in protocols_of(proto, family))
        if len(services) != 1:
            raise AceError("several protocols")
        pnum = services[0][0]
        if (sp_t or dp_t) and pnum not in PORT_PROTOCOLS:
            raise AceError("ports on a protocol without ports")
        if est and pnum != 6:
            raise AceError("established without tcp")
        return (
            verb,
            seq or "",
            (
                spec(
                    Action.PERMIT if verb == "permit" else Action.DENY,
                    family,
                    pnum,
                    self._term(src_t, family),
                    self._term(dst_t, family),
                    self._pterm(sp_t) if sp_t else (),
                    self._pterm(dp_t) if dp_t else (),
                    ESTABLISHED if est else (),
                    logged is not None,
                    None,
                    None,
                    False,
                ),
            ),
        )

    def _term(self, term: str, family: int) -> tuple[AddrMatch, ...]:
        if term == "any":
            return ()
        key = (term, family)
        hit = self._terms.get(key)
        if hit is None:
            toks = term.split()
            matches, _, i = self.address(toks, 0, family)
            if i != len(toks):
                raise AceError("address term")
            hit = self._terms[key] = matches
        return hit

    def _pterm(self, term: str) -> tuple[PortRange, ...]:
        hit = self._pterms.get(term)
        if hit is None:
            toks = term.split()
            ranges, i = port_term(toks, 0)
            if i != len(toks):
                raise AceError("port term")
            hit = self._pterms[term] = ranges
        return hit

    # --------------------------------------------------------------------------
    def address(self, toks: list[str], i: int, family: int) -> tuple[tuple[AddrMatch, ...], str | None, int]:
        """An address term at ``toks[i]``; returns (patterns, object-group name, next index). ``()`` = any."""
        if i >= len(toks):
            raise AceError("address missing")
        t = toks[i]
        if t == "any":
            return (), None, i + 1
        cache = self._addr
        if t == "host":
            if i + 1 >= len(toks):
                raise AceError("'host' without an address")
            a = toks[i + 1]
            hit = cache.get((a, family))
            if hit is None:
                hit = cache[(a, family)] = (host_match(a, family),)
            return hit, None, i + 2
        if t in GROUP_WORDS:
            if i + 1 >= len(toks):
                raise AceError(f"'{t}' without a name")
            name = toks[i + 1]
            matches = self.groups.network(name, family)
            if not matches:
                raise NeverMatches(f"object-group {name} has no IPv{family} member")
            if any(m.mask == 0 for m in matches):
                return (), name, i + 2
            return matches, name, i + 2
        if "/" in t:
            hit = cache.get((t, family))
            if hit is None:
                hit = cache[(t, family)] = (prefix_match(t, family),)
            return hit, None, i + 1
        if family == 4 and i + 1 < len(toks):
            w = toks[i + 1]
            if w[:1].isdigit() and "." in w:
                key = (t, w)
                hit = cache.get(key)
                if hit is None:
                    hit = cache[key] = (wildcard_match(t, w),)
                return hit, None, i + 2
        if t == "any4" or t == "any6":
            raise AceError(f"'{t}' is not modelled")
        addr_int(t, family)  # raises for non-addresses
        raise AceError(f"address '{t}' without a mask")

    def _ports(self, toks: list[str], i: int) -> tuple[tuple[PortRange, ...], int]:
        if i < len(toks):
            t = toks[i]
            if t in PORT_OPS:
                if t == "range" or i + 2 >= len(toks) or not is_port(toks[i + 2]):
                    key = tuple(toks[i : i + 3]) if t == "range" else (t, toks[i + 1] if i + 1 < len(toks) else "")
                    hit = self._port.get(key)
                    if hit is None:
                        ranges, j = port_term(toks, i)
                        hit = self._port[key] = (ranges, j - i)
                    return hit[0], i + hit[1]
                return port_term(toks, i)
            if t in PORTGROUP_WORDS and i + 1 < len(toks):
                ports = self.groups.ports(toks[i + 1])
                if not ports:
                    raise NeverMatches(f"port group {toks[i + 1]} is empty")
                return ports, i + 2
        return (), i

    def _standard(self, toks: list[str], family: int) -> tuple[Spec, ...]:
        i = 1
        if i < len(toks) and family == 4 and toks[i] not in ("any", "host") and "/" not in toks[i]:
            if i + 1 < len(toks) and "." in toks[i + 1] and toks[i + 1][:1].isdigit():
                src: tuple[AddrMatch, ...] = (wildcard_match(toks[i], toks[i + 1]),)
                i += 2
            else:
                src = (host_match(toks[i], 4),)
                i += 1
            sset = None
        else:
            src, sset, i = self.address(toks, i, family)
        logged = False
        while i < len(toks):
            if toks[i] in LOG_WORDS:
                logged = True
                i += 1
                if i == len(toks) - 1 and toks[i] not in KEYWORDS:
                    i += 1
                continue
            raise AceError(f"'{toks[i]}' is not modelled in a standard ACL entry")
        action = Action.PERMIT if toks[0] == "permit" else Action.DENY
        return (spec(action, family, None, src, (), (), (), (), logged, sset, None, False),)

    def _extended(self, toks: list[str], family: int) -> tuple[Spec, ...]:
        n = len(toks)
        if n < 2:
            raise AceError("entry without a protocol")
        i = 1
        services: tuple[ServiceEntry, ...]
        if toks[1] == "object-group" and n > 2:
            name = toks[2]
            if ("service", name) not in self.groups.raw and ("network", name) in self.groups.raw:
                raise AceError(f"'{name}' is a network object-group where a protocol is expected")
            services = self.groups.services(name, family)
            if not services:
                raise NeverMatches(f"service object-group {name} is empty")
            i = 3
            svc_group = True
        else:
            key = (toks[1], family)
            services = self._protos.get(key)  # type: ignore[assignment]
            if services is None:
                services = self._protos[key] = tuple((p, (), (), False) for p in protocols_of(toks[1], family))
            i = 2
            svc_group = False
        port_ok = not svc_group and all(s[0] in PORT_PROTOCOLS for s in services)
        tcp_possible = any(s[0] is None or s[0] == 6 for s in services)
        only_tcp = len(services) == 1 and services[0][0] == 6
        src, sset, i = self.address(toks, i, family)
        sports: tuple[PortRange, ...] = ()
        if port_ok:
            sports, i = self._ports(toks, i)
        dst, dset, i = self.address(toks, i, family)
        dports: tuple[PortRange, ...] = ()
        if port_ok:
            dports, i = self._ports(toks, i)
        flags: FlagMatch = ()
        bare: list[int] = []
        logged = False
        loose = False
        while i < n:
            t = toks[i]
            if t in LOG_WORDS:
                logged = True
                i += 1
                if i == n - 1 and toks[i] not in KEYWORDS:
                    i += 1  # a log cookie
                continue
            if t in HARMLESS_0:
                i += 1
                continue
            if t in HARMLESS_1 and i + 1 < n:
                i += 2
                if t == "reflect" and i + 1 < n and toks[i] == "timeout":
                    i += 2
                continue
            if only_tcp:
                if t == "established":
                    if flags or bare:
                        raise AceError("'established' combined with other TCP flag terms is not modelled")
                    flags = ESTABLISHED
                    i += 1
                    continue
                if t in FLAG_BITS:
                    bare.append(FLAG_BITS[t])
                    i += 1
                    continue
                if t == "match-all" or t == "match-any":
                    if flags or bare:
                        raise AceError("several TCP flag terms are not modelled")
                    flags, i = flags_term(toks, i)
                    continue
            if not tcp_possible:
                loose = True  # e.g. ICMP type/code, dscp on UDP: never changes the fate of a TCP packet
                i += 1
                continue
            raise AceError(f"'{t}' is not modelled (it narrows or changes what the entry matches)")
        if bare:
            if flags or len(bare) > 1:
                raise AceError("several TCP flag keywords without match-all/match-any are not modelled")
            flags = ((bare[0], bare[0]),)
        action = Action.PERMIT if toks[0] == "permit" else Action.DENY
        if len(services) == 1 and not services[0][1] and not services[0][2]:
            proto = services[0][0]
            return (spec(action, family, proto, src, dst, sports, dports, flags, logged, sset, dset, loose),)
        return tuple(
            spec(
                action,
                family,
                proto,
                src,
                dst,
                intersect_ports(sports, s_ports) if s_ports else sports,
                intersect_ports(dports, d_ports) if d_ports else dports,
                flags,
                logged,
                sset,
                dset,
                loose or s_loose,
            )
            for proto, s_ports, d_ports, s_loose in services
        )


# --------------------------------------------------------------------------- filters


@dataclass
class AclBlock:
    """One ACL as collected by the scan (entries parsed later, when every object-group is known)."""

    family: int
    name: str
    line: int
    standard: bool = False
    entries: list[tuple[int, str]] = field(default_factory=list)
    """(line, original line stripped)"""
    bodies: dict[int, str] = field(default_factory=dict)
    """line -> the entry to parse where it differs from the line (``access-list 101 permit ...``)"""
    runs: list[tuple[int, int]] = field(default_factory=list)
    """Entries still as line ranges of ``lines`` (:attr:`Block.runs`), read when the rules are built."""
    lines: list[str] = field(default_factory=list)
    """The scanned lines ``runs`` refers to."""

    def add(self, blk: Block, lines: list[str]) -> None:
        """Append the entries of the scanned block ``blk`` (its ranges are read only when the rules are)."""
        self.entries.extend(blk.children)
        if blk.runs:
            self.runs.extend(blk.runs)
            self.lines = lines

    def all_entries(self) -> list[tuple[int, str]]:
        """Every entry in line order (each scanned block's entries follow its header, so merging by line gives
        the order they were written): ``entries`` with the lines of ``runs``."""
        return with_runs(self.entries, self.runs, self.lines)


class FilterBuilder:
    """Builds the filters of one config into ``result`` and reports what it cannot model."""

    def __init__(
        self, result: ParsedConfig, groups: Groups, dialect: str, settings: frozenset[str] = frozenset()
    ) -> None:
        self._result = ResultRef(result)
        self.ace = AceParser(groups, dialect)
        self.acls: dict[tuple[int, str], AclBlock] = {}
        self.settings = settings
        """First words of ACL-level settings that change no verdict (``counters per-entry``...)."""

    @property
    def result(self) -> ParsedConfig:
        """The config being built (held weakly once the parse is over: see :class:`ResultRef`)."""
        return self._result.get()

    def detach(self) -> None:
        """The parse is over: keep only a weak link to the config (deferred filters hold this builder)."""
        self._result.detach()

    def acl(self, family: int, name: str, line: int, standard: bool = False) -> AclBlock:
        """The ACL block ``(family, name)``, created on first use (a second header appends, as config mode)."""
        key = (family, name)
        blk = self.acls.get(key)
        if blk is None:
            blk = self.acls[key] = AclBlock(family, name, line, standard)
        return blk

    def build(self, referenced: set[tuple[int, str]] | None = None, lazy: bool = False) -> None:
        """Create every filter. Those in ``referenced`` (attached, chained or policed: the ones that can decide
        a verdict) are parsed now; the others become :class:`DeferredFilter` s, parsed on first read.
        ``referenced=None`` parses everything now; ``lazy`` defers every filter (the audit path: the engine
        reads the rules of the filters it evaluates, which parses them and reports their unparsed lines)."""
        for key, blk in self.acls.items():
            if not lazy and (referenced is None or key in referenced):
                flt = Filter(blk.name, blk.family, line=blk.line)
                flt.rules = self.rules(blk)
            else:
                flt = DeferredFilter(blk.name, blk.family, line=blk.line)
                flt.defer_call(functools.partial(self.rules, blk))
            self.result.filters[key] = flt

    def rules(self, blk: AclBlock) -> list[Rule]:
        """The rules of one ACL; what cannot be modelled goes to ``result.unparsed`` / ``result.notes``."""
        rules: list[Rule] = []
        remark = ""
        loose_lines: list[int] = []
        parse = self.ace.parse
        fam = blk.family
        std = blk.standard
        bodies = blk.bodies
        result = self.result
        unparsed = result.unparsed
        settings = self.settings
        fast = _FAST_RULE
        new = object.__new__
        defaults = _RULE_DEFAULTS
        cache = self.ace.line_cache(fam, std)
        for line, text in blk.all_entries():
            body = bodies.get(line, text) if bodies else text
            if settings and body.split(None, 1)[0] in settings:
                continue
            hit = cache.get(body)
            try:
                _, seq, res = parse(body, fam, std) if hit is None or isinstance(hit, AceError) else hit
            except NeverMatches as exc:
                result.notes.append(f"line {line}: entry in {blk.name} matches no packet ({exc}); left out")
                continue
            except AceError as exc:
                unparsed.append(Unparsed(line, text, str(exc), blk.name))
                continue
            except Exception as exc:  # a parser never raises: report the line instead
                log.debug("unexpected error parsing %r", text, exc_info=True)
                unparsed.append(Unparsed(line, text, f"internal parser error: {type(exc).__name__}", blk.name))
                continue
            if isinstance(res, str):
                remark = res
                continue
            for values, loose in res:
                if loose:
                    loose_lines.append(line)
                if fast:
                    rule = new(Rule)
                    rd = rule.__dict__
                    rd.update(defaults)
                    rd.update(values)
                    rd["name"] = seq
                    rd["remark"] = remark
                    rd["line"] = line
                    rd["text"] = text
                else:
                    rule = Rule(**{**defaults, **values, "name": seq, "remark": remark, "line": line, "text": text})
                rules.append(rule)
        if loose_lines:
            result.notes.append(
                f"{blk.name}: qualifiers on non-TCP entries (ICMP type/code, dscp, ...) are not modelled; those"
                f" entries are kept for their whole protocol (they never match TCP): lines "
                + ", ".join(str(x) for x in sorted(set(loose_lines))[:10])
                + (" ..." if len(set(loose_lines)) > 10 else "")
            )
        seqs = [r.name for r in rules]
        if seqs and all(s.isdigit() for s in seqs):
            nums = [int(s) for s in seqs]
            if any(b < a for a, b in itertools.pairwise(nums)):
                rules.sort(key=lambda r: int(r.name))
                result.notes.append(f"{blk.name}: entries were not in sequence order; evaluated in that order")
        return rules


def numbered_acl_kind(name: str) -> str | None:
    """``standard`` / ``extended`` for IOS numbered ACLs (1-99, 1300-1999 / 100-199, 2000-2699)."""
    if not name.isdigit():
        return None
    n = int(name)
    if 1 <= n <= 99 or 1300 <= n <= 1999:
        return "standard"
    if 100 <= n <= 199 or 2000 <= n <= 2699:
        return "extended"
    return None


def safe_line(result: ParsedConfig, line: int, text: str, what: str, fn: Callable[[Block], None], blk: Block) -> None:
    """Run ``fn(blk)``; any exception becomes an Unparsed entry for ``line`` (parsers never raise)."""
    try:
        fn(blk)
    except AceError as exc:
        result.unparsed.append(Unparsed(line, text, f"{what}: {exc}"))
    except Exception as exc:
        log.debug("unexpected error on line %d", line, exc_info=True)
        result.unparsed.append(Unparsed(line, text, f"{what}: internal parser error {type(exc).__name__}"))
