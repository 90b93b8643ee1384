"""RouterOS ``/export`` parser (terse or with ``\\`` line continuations) -> ParsedConfig.

RouterOS semantics modelled exactly:

* ``/ip firewall filter`` (IPv4) and ``/ipv6 firewall filter`` (IPv6) rules in table order; ``disabled=yes``
  rules do not exist for the packet path; chain ``forward`` ends in accept, a user chain returns;
* actions ``accept`` (permit), ``drop``/``reject``/``tarpit`` (deny), ``jump`` (a :class:`Call` to the target
  chain's filter), ``return``, ``passthrough``/``log``/``add-*-to-address-list`` (no verdict), and
  ``fasttrack-connection`` limited to ``connection-state=established,related`` (no verdict for a connection's
  opening SYN; one that can match new packets is not understood);
* ``protocol``, ``src-address``/``dst-address`` (prefix, host, range, ``!``), ``src-address-list`` /
  ``dst-address-list`` (static entries; ``!``; a list that a rule, a PPP profile, a DHCP lease or an entry
  with a DNS name or ``timeout`` fills at run time is not understood), ``src-port``/``dst-port`` (lists, ranges,
  ``!``), ``connection-state`` (``new`` as a TCP segment without ACK/RST, ``established``/``related`` as one with
  ACK or RST, as the nftables model reads ``ct state``);
* flow control: ``connection-limit=N,M`` with a drop/reject/tarpit is a session cap (:class:`FlowLimit`,
  ``Action.LIMIT``; per subscriber when M is 32 for IPv4, any M for IPv6); ``dst-limit=R,B,src-address[/expire]``
  with ``return``/``accept`` followed by a drop/reject of the same match is a per-subscriber rate limit (under
  the rate: the action; over it: the drop);
* ``in-interface`` / ``in-interface-list``: the chain ``forward`` is projected once per attachment point (an
  interface or interface list named anywhere in the config), keeping the rules that match packets entering there
  and leaving out those that cannot. Whether an interface is in a list follows from ``/interface list member``,
  the built-in lists and the PPP profiles' ``interface-list`` (PPPoE sessions' dynamic interfaces); what cannot be
  decided (two lists that both get PPP sessions, ``include``/``exclude``, ``out-interface``) is not understood;
* ``/ip firewall raw`` and ``dstnat`` rules act before chain forward: each enabled one is not understood.

Anything else in a firewall rule (an unknown property or action) makes the rule :class:`Unparsed`, reported under
every projection of ``forward`` that reaches it. ``parse`` never raises.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from op25b_cfg.audit.model import Binding, Call, Filter, FlowControlSeen, ParsedConfig, Unparsed
from op25b_cfg.netaddr import Network
from op25b_cfg.platforms.juniper_junos._algebra import ports_complement
from op25b_cfg.rules import ACK, RST, Action, AddrMatch, FlagMatch, FlowLimit, PortRange, Rule

log = logging.getLogger(__name__)

PLATFORM = "mikrotik_routeros"
CT_NEW: FlagMatch = ((ACK | RST, 0),)
CT_ESTABLISHED: FlagMatch = ((ACK, ACK), (RST, RST))
_COMMANDS = frozenset(
    {"add", "set", "remove", "print", "export", "edit", "disable", "enable", "unset", "move", "comment", "find"}
)
_BUILTIN_LISTS = frozenset({"all", "none", "dynamic", "static"})
_PPP_MENUS = frozenset({"pppoe-server", "pppoe-client", "l2tp-server", "l2tp-client", "pptp-server", "sstp-server"})
_MATCH_KEYS = frozenset(
    {
        "protocol",
        "src-address",
        "dst-address",
        "src-address-list",
        "dst-address-list",
        "src-port",
        "dst-port",
        "connection-state",
        "in-interface",
        "in-interface-list",
    }
)
_INERT_KEYS = frozenset({"chain", "action", "comment", "disabled", "log", "log-prefix", "reject-with", "jump-target"})
_IFACE_KEYS = ("in-interface", "in-interface-list")
_DENY = frozenset({"drop", "reject", "tarpit"})
_NO_VERDICT = frozenset({"passthrough", "log", "add-src-to-address-list", "add-dst-to-address-list"})
_PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "ipv6-icmp": 58, "gre": 47, "ospf": 89}
MAX_DEPTH = 32


class _NotUnderstood(Exception):
    """A rule the model cannot represent exactly (the reason is the message)."""


# ---------------------------------------------------------------------------------------------- lexing


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first physical line number, joined text) per logical line: a line ending in ``\\`` continues on the next,
    whose leading blanks ``/export`` adds for indentation.

    >>> logical_lines("add a=1 \\\\\\n    b=2\\n/ip firewall filter\\n")
    [(1, 'add a=1 b=2'), (3, '/ip firewall filter')]
    """
    out: list[tuple[int, str]] = []
    buf = ""
    start = 0
    for num, raw in enumerate(text.split("\n"), 1):  # line numbers count "\n" only, as every reader does
        line = raw.rstrip("\r")
        if buf:
            line = line.lstrip()
        elif not line.strip():
            continue
        else:
            start = num
        if line.endswith("\\") and not line.endswith("\\\\"):
            buf += line[:-1]
            continue
        out.append((start, buf + line))
        buf = ""
    if buf:
        out.append((start, buf))
    return out


def tokens(line: str) -> list[str]:
    """Words of one line, with ``"..."`` values unquoted (``\\"``, ``\\\\``, ``\\$`` and ``\\_`` escapes).
    Raises ValueError on an unterminated quote.

    >>> tokens('add comment="a \\\\"b\\\\" c" chain=forward')
    ['add', 'comment=a "b" c', 'chain=forward']
    """
    if '"' not in line:  # escapes act only inside quotes: the words are the blank-separated runs
        return line.split()
    out: list[str] = []
    cur: list[str] = []
    in_word = False
    for m in _PART.finditer(line):
        blank, plain, quoted = m.groups()
        if blank is not None:
            if in_word:
                out.append("".join(cur))
                cur, in_word = [], False
            continue
        if plain is None and quoted is None:
            raise ValueError("unterminated quote")
        cur.append(plain if plain is not None else _ESCAPE.sub(_unescape, quoted) if "\\" in quoted else quoted)
        in_word = True
    if in_word:
        out.append("".join(cur))
    return out


_PART = re.compile(r'(\s+)|([^\s"]+)|"((?:[^"\\]|\\.)*)"|"', re.S)
"""One part of a line: blanks, a run of other characters outside quotes, a quoted value (escapes inside), or a
quote that is never closed. A word is a run of adjacent parts that are not blanks."""
_ESCAPE = re.compile(r"\\(.)", re.S)


def _unescape(m: re.Match[str]) -> str:
    return " " if m.group(1) == "_" else m.group(1)


def _walk(line: str) -> list[str]:
    """:func:`tokens` character by character: the definition the tests compare the fast paths with."""
    out: list[str] = []
    cur: list[str] = []
    i, n = 0, len(line)
    in_word = False
    while i < n:
        ch = line[i]
        if ch.isspace():
            if in_word:
                out.append("".join(cur))
                cur, in_word = [], False
            i += 1
            continue
        in_word = True
        if ch == '"':
            i += 1
            while True:
                if i >= n:
                    raise ValueError("unterminated quote")
                c = line[i]
                if c == "\\" and i + 1 < n:
                    nxt = line[i + 1]
                    cur.append(" " if nxt == "_" else nxt)
                    i += 2
                    continue
                if c == '"':
                    i += 1
                    break
                cur.append(c)
                i += 1
            continue
        cur.append(ch)
        i += 1
    if in_word:
        out.append("".join(cur))
    return out


@dataclass
class _Cmd:
    line: int
    text: str
    path: tuple[str, ...]
    verb: str
    props: dict[str, str]
    bare: list[str]


def commands(text: str) -> tuple[list[_Cmd], list[Unparsed]]:
    """Every command of an export with its menu path; lines that cannot be read (an unterminated quote, a
    script statement) as Unparsed (filter None)."""
    return commands_of(logical_lines(text))


def last_command(lines: list[tuple[int, str]]) -> _Cmd | None:
    """The last command of these logical lines (:func:`logical_lines`) in its menu, as :func:`commands_of` of
    them all gives it, read from the last line that sets a menu path that has a command after it (a config's
    tail, not the whole export).

    >>> last_command([(1, "/ip address"), (2, "add address=192.0.2.1/24"), (3, "/ip firewall filter")]).path
    ('ip', 'address')
    """
    for at in range(len(lines) - 1, -1, -1):
        s = lines[at][1].strip()
        if s[:1] not in ("/", '"'):  # the first word starts with "/" only then (a quote: maybe, once unquoted)
            continue
        try:
            words = tokens(s)
        except ValueError:
            continue  # not read at all: leaves the path as it was
        if words[0].startswith("/"):
            cmds = commands_of(lines[at:])[0]
            if cmds:
                return cmds[-1]
    return None


def commands_of(
    lines: Iterable[tuple[int, str]], menus: Callable[[tuple[str, ...]], bool] | None = None
) -> tuple[list[_Cmd], list[Unparsed]]:
    """:func:`commands` of these logical lines (:func:`logical_lines`), starting at the root menu.

    With ``menus``, a command in a menu it refuses is left out when nothing of it can matter to :func:`_read`
    (no ``address-list`` in the line) and it cannot be unreadable (no quote); menu lines, script statements and
    every line not read are handled as without it."""
    path: tuple[str, ...] = ()
    out: list[_Cmd] = []
    bad: list[Unparsed] = []
    wanted = True
    for num, line in lines:
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith(":") or s.startswith("{"):
            bad.append(Unparsed(num, s, "a script statement is not evaluated by op25b"))
            continue
        if not wanted and s[0] != "/" and '"' not in s and "address-list" not in s:
            continue  # a command of a menu the caller does not read (a route, an address, ...)
        try:
            words = tokens(s)
        except ValueError as exc:
            bad.append(Unparsed(num, s, str(exc)))
            continue
        if words[0].startswith("/"):
            new: list[str] = []
            rest = words
            while rest and not (rest[0] in _COMMANDS or "=" in rest[0] or rest[0].startswith("[")):
                new.extend(w for w in rest[0].split("/") if w)
                rest = rest[1:]
            path = tuple(new)
            wanted = menus is None or menus(path)
            words = rest
            if not words:
                continue
        verb, args = words[0], words[1:]
        props: dict[str, str] = {}
        bare: list[str] = []
        depth = 0
        for w in args:
            if depth or w.startswith("["):  # a [ find ... ] selector, not properties of the command
                depth += w.count("[") - w.count("]")
                bare.append(w)
                continue
            k, eq, v = w.partition("=")
            if eq and k:
                props[k] = v
            else:
                bare.append(w)
        out.append(_Cmd(num, s, path, verb, props, bare))
    return out, bad


# ---------------------------------------------------------------------------------------------- the model


@dataclass
class _List:
    """An interface list: its static members, whether PPP sessions join it, whether its members are unknown."""

    static: set[str] = field(default_factory=set)
    ppp: bool = False
    unknown: bool = False
    line: int | None = None


@dataclass
class _Raw:
    line: int
    text: str
    family: int
    chain: str
    props: dict[str, str]


@dataclass
class _Config:
    rules: dict[int, list[_Raw]] = field(default_factory=lambda: {4: [], 6: []})
    addr_lists: dict[tuple[int, str], list[Network]] = field(default_factory=dict)
    dynamic_lists: dict[str, str] = field(default_factory=dict)  # name -> why
    before_forward: dict[int, list[Unparsed]] = field(default_factory=lambda: {4: [], 6: []})
    ifaces: dict[str, str] = field(default_factory=dict)  # name -> kind (menu)
    lists: dict[str, _List] = field(default_factory=dict)
    iface_lines: dict[str, int] = field(default_factory=dict)
    built: dict[tuple[int, Action, FlowLimit | None], Rule | Exception] = field(default_factory=dict)
    by_chain: dict[tuple[int, str], list[_Raw]] = field(default_factory=dict)

    def chain_rules(self, fam: int, chain: str) -> list[_Raw]:
        """The rules of one chain in table order (indexed once)."""
        if not self.by_chain:
            for f in (4, 6):
                for r in self.rules[f]:
                    self.by_chain.setdefault((f, r.chain), []).append(r)
        return self.by_chain.get((fam, chain), [])


def _family_of(path: tuple[str, ...]) -> int | None:
    return {"ip": 4, "ipv6": 6}.get(path[0]) if path else None


def _read_menu(path: tuple[str, ...]) -> bool:
    """Whether :func:`_read` reads the commands of this menu for what they are (every menu's ``address-list``
    properties are read too: :func:`commands_of` keeps those lines whatever this says).

    >>> [_read_menu(p) for p in [("ip", "firewall", "filter"), ("interface", "list"), ("ip", "route")]]
    [True, True, False]
    """
    return (
        (_family_of(path) is not None and path[1:2] == ("firewall",))
        or path[:1] == ("interface",)
        or path
        == (
            "ppp",
            "profile",
        )
    )


def _read(cmds: list[_Cmd]) -> _Config:
    cfg = _Config()
    for c in cmds:
        for key in ("address-list", "address-lists"):
            if key in c.props and c.path[1:3] != ("firewall", "address-list"):
                for name in c.props[key].split(","):
                    if name:
                        cfg.dynamic_lists.setdefault(name, f"filled at run time (line {c.line})")
        fam = _family_of(c.path)
        if fam is not None and c.path[1:2] == ("firewall",):
            _read_firewall(cfg, c, fam)
        elif c.path[:1] == ("interface",):
            _read_interface(cfg, c)
        elif c.path == ("ppp", "profile") and c.props.get("interface-list"):
            lst = cfg.lists.setdefault(c.props["interface-list"], _List())
            lst.ppp = True
    return cfg


def _read_firewall(cfg: _Config, c: _Cmd, fam: int) -> None:
    menu = c.path[2:]
    disabled = c.props.get("disabled") == "yes"
    if menu == ("address-list",):
        name = c.props.get("list", "")
        if c.verb != "add" or not name:
            return
        if disabled:
            return
        entries = cfg.addr_lists.setdefault((fam, name), [])
        if "timeout" in c.props or c.props.get("dynamic") == "yes":
            cfg.dynamic_lists.setdefault(name, f"filled with entries that time out (line {c.line})")
            return
        try:
            entries.extend(_addresses(c.props.get("address", ""), fam))
        except ValueError:
            where = f"filled from {c.props.get('address', '')!r} at run time (line {c.line})"
            cfg.dynamic_lists.setdefault(name, where)
        return
    if menu == ("filter",):
        if c.verb == "add":
            if not disabled:
                cfg.rules[fam].append(_Raw(c.line, c.text, fam, c.props.get("chain", ""), c.props))
        else:
            cfg.before_forward[fam].append(Unparsed(c.line, c.text, f"'{c.verb}' of filter rules is not modelled"))
        return
    if disabled or c.verb != "add":
        return
    if menu == ("raw",):
        cfg.before_forward[fam].append(Unparsed(c.line, c.text, "a raw rule acts before chain forward"))
    elif menu == ("nat",) and c.props.get("chain") == "dstnat":
        cfg.before_forward[fam].append(Unparsed(c.line, c.text, "a dstnat rule rewrites destinations before forward"))


def _read_interface(cfg: _Config, c: _Cmd) -> None:
    menu = c.path[1:]
    if menu == ("list",) and c.verb == "add" and c.props.get("name"):
        lst = cfg.lists.setdefault(c.props["name"], _List())
        lst.line = lst.line or c.line
        if c.props.get("include") or c.props.get("exclude"):
            lst.unknown = True
        return
    if menu == ("list", "member") and c.verb == "add":
        if c.props.get("disabled") == "yes" or not c.props.get("list"):
            return
        lst = cfg.lists.setdefault(c.props["list"], _List())
        if c.props.get("interface"):
            lst.static.add(c.props["interface"])
        return
    if menu[:1] == ("detect-internet",):
        for k, v in c.props.items():
            if k.endswith("interface-list") and v not in _BUILTIN_LISTS:
                cfg.lists.setdefault(v, _List()).unknown = True
        return
    name = c.props.get("name")
    if name and menu and c.verb in ("add", "set") and menu[-1] not in ("server", "list", "member"):
        cfg.ifaces[name] = "ppp" if menu[0] in _PPP_MENUS else menu[0]
        cfg.iface_lines.setdefault(name, c.line)


# ---------------------------------------------------------------------------------------------- values


def _addresses(text: str, fam: int) -> list[Network]:
    """A prefix, host or ``a-b`` range as prefixes; ValueError for anything else (a DNS name).

    >>> [str(n) for n in _addresses("192.0.2.1-192.0.2.4", 4)]
    ['192.0.2.1/32', '192.0.2.2/31', '192.0.2.4/32']
    """
    if "-" in text and "/" not in text:
        lo_s, _, hi_s = text.partition("-")
        lo, hi = ipaddress.ip_address(lo_s), ipaddress.ip_address(hi_s)
        if lo.version != fam or hi.version != fam:
            raise ValueError(text)
        return list(ipaddress.summarize_address_range(lo, hi))
    net = ipaddress.ip_network(text, strict=False)
    if net.version != fam:
        raise ValueError(text)
    return [net]


def _ports(text: str) -> tuple[tuple[PortRange, ...], bool]:
    """``25``, ``25,587``, ``1000-2000``, ``!25`` -> (ranges, negated).

    >>> _ports("!25,587")
    ((PortRange(lo=25, hi=25), PortRange(lo=587, hi=587)), True)
    """
    neg = text.startswith("!")
    body = text[1:] if neg else text
    out: list[PortRange] = []
    for part in body.split(","):
        lo, dash, hi = part.partition("-")
        a, b = int(lo), int(hi) if dash else int(lo)
        if not (0 <= a <= b <= 65535):
            raise _NotUnderstood(f"port {part!r} out of range")
        out.append(PortRange(a, b))
    return tuple(out), neg


def _states(text: str) -> FlagMatch | None:
    """``connection-state`` as TCP flag alternatives; None: no tracked TCP segment (invalid/untracked only)."""
    neg = text.startswith("!")
    names = set((text[1:] if neg else text).split(","))
    unknown = names - {"new", "established", "related", "invalid", "untracked"}
    if unknown:
        raise _NotUnderstood(f"connection-state {sorted(unknown)} not modelled")
    if neg:
        names = {"new", "established", "related", "invalid", "untracked"} - names
    new, est = "new" in names, bool(names & {"established", "related"})
    if new and est:
        return ()
    if new:
        return CT_NEW
    if est:
        return CT_ESTABLISHED
    return None


@dataclass(frozen=True)
class _Rate:
    per_second: int
    burst: int


def _dst_limit(text: str) -> _Rate:
    """``R[/1s],B,src-address[/expire]`` (per source address); anything else is not understood.

    >>> _dst_limit("2,8,src-address/1m")
    _Rate(per_second=2, burst=8)
    """
    parts = text.split(",")
    if len(parts) != 3:
        raise _NotUnderstood(f"dst-limit {text!r} not modelled")
    rate, _, period = parts[0].partition("/")
    mode = parts[2].split("/")[0]
    if period not in ("", "1s") or mode != "src-address" or not rate.isdigit() or not parts[1].isdigit():
        raise _NotUnderstood(f"dst-limit {text!r} is not a per-source rate per second")
    return _Rate(int(rate), int(parts[1]))


# ---------------------------------------------------------------------------------------------- interfaces


Point = tuple[str, str]
"""An attachment point: (``interface`` | ``interface-list``, name)."""


def _members(cfg: _Config, point: Point) -> list[tuple[str, str | None]] | None:
    """The interfaces a packet of ``point`` may enter through, as (name, kind); ``<ppp>`` stands for every PPP
    session a profile adds to the list. None when the list's members cannot be known."""
    kind, name = point
    if kind == "interface":
        return [(name, _kind(cfg, name))]
    lst = cfg.lists.get(name)
    if lst is None or lst.unknown:
        return None
    out: list[tuple[str, str | None]] = [(s, _kind(cfg, s)) for s in sorted(lst.static)]
    if lst.ppp:
        out.append(("<ppp>", "ppp"))
    return out


_DEFAULT_IFACES = re.compile(r"(ether|sfp|sfpplus|qsfpplus|combo)\d+(-\d+)?|lo|bridge\d*")
"""Interfaces RouterOS names by itself (an ``/export`` lists them only when something of them is set)."""


def _kind(cfg: _Config, name: str) -> str | None:
    """The kind of a named interface (the ``/interface`` menu that defines it); None when unknown."""
    kind = cfg.ifaces.get(name)
    if kind is None and _DEFAULT_IFACES.fullmatch(name):
        return "ether"
    return kind


def _in_iface(cfg: _Config, member: tuple[str, str | None], value: str) -> bool | None:
    name, kind = member
    if value.startswith("all-"):
        want = {"all-ppp": ("ppp",), "all-ethernet": ("ether", "ethernet"), "all-vlan": ("vlan",)}.get(value)
        if want is None or kind is None:
            return None
        return kind in want
    if name == "<ppp>":
        return False if _kind(cfg, value) not in ("ppp", None) else None
    return name == value


def _in_list(cfg: _Config, member: tuple[str, str | None], value: str) -> bool | None:
    name, kind = member
    if value == "all":
        return True
    if value == "none":
        return False
    if value in ("dynamic", "static"):
        dynamic = True if name == "<ppp>" else None if _kind(cfg, name) is None else False
        return None if dynamic is None else (dynamic == (value == "dynamic"))
    lst = cfg.lists.get(value)
    if lst is None or lst.unknown:
        return None
    if name == "<ppp>":
        return None if lst.ppp or any(_kind(cfg, s) in ("ppp", None) for s in lst.static) else False
    if name in lst.static:
        return True
    return None if lst.ppp and kind in ("ppp", None) else False


def _iface_match(cfg: _Config, point: Point, props: dict[str, str]) -> bool | None:
    """Whether a rule's interface conditions hold for the packets of ``point`` (None: for some, or unknown)."""
    conds = [(k, props[k]) for k in _IFACE_KEYS if k in props]
    if not conds:
        return True
    results: list[bool | None] = []
    if ("in-interface-list", point[1]) in conds and point[0] == "interface-list" and len(conds) == 1:
        return True
    if ("in-interface-list", "!" + point[1]) in conds and point[0] == "interface-list":
        return False
    members = _members(cfg, point)
    if members is None:
        return None
    for m in members:
        ok: bool | None = True
        for key, raw in conds:
            neg = raw.startswith("!")
            value = raw[1:] if neg else raw
            if key == "in-interface-list" and point == ("interface-list", value):
                hit: bool | None = True
            else:
                hit = _in_iface(cfg, m, value) if key == "in-interface" else _in_list(cfg, m, value)
            if hit is not None and neg:
                hit = not hit
            if hit is False:
                ok = False
                break
            if hit is None:
                ok = None
        results.append(ok)
    if results and all(r is True for r in results):
        return True
    if all(r is False for r in results):
        return False
    return None


# ---------------------------------------------------------------------------------------------- rules


def _addr_side(cfg: _Config, fam: int, props: dict[str, str], side: str) -> tuple[tuple[AddrMatch, ...], bool]:
    """(matches, negated) of ``<side>-address`` or ``<side>-address-list`` (both in one rule is not modelled);
    ``((), False)``: any address. An empty list gives no matches (the caller: a positive one matches nothing)."""
    addr = props.get(f"{side}-address")
    lst = props.get(f"{side}-address-list")
    if addr is not None and lst is not None:
        raise _NotUnderstood(f"{side}-address together with {side}-address-list is not modelled")
    if addr is not None:
        neg = addr.startswith("!")
        try:
            nets = _addresses(addr[1:] if neg else addr, fam)
        except ValueError:
            raise _NotUnderstood(f"{side}-address {addr!r} not understood") from None
        return tuple(AddrMatch.from_prefix(n) for n in nets), neg
    if lst is not None:
        neg = lst.startswith("!")
        name = lst[1:] if neg else lst
        if name in cfg.dynamic_lists:
            raise _NotUnderstood(f"address list {name} is {cfg.dynamic_lists[name]}")
        nets = cfg.addr_lists.get((fam, name), [])
        return tuple(AddrMatch.from_prefix(n) for n in nets), neg
    return (), False


class _Never(Exception):
    """The rule matches no TCP packet (an empty address list, ``protocol=udp``...): it is left out."""


def _rule(cfg: _Config, raw: _Raw, action: Action, limit: FlowLimit | None = None) -> Rule:
    """The match of one raw rule as a :class:`Rule` with ``action`` (interface conditions already decided). Built
    once per rule: every attachment point's projection shares it."""
    key = (id(raw), action, limit)
    hit = cfg.built.get(key)
    if hit is None:
        try:
            hit = cfg.built[key] = _build_rule(cfg, raw, action, limit)
        except (_Never, _NotUnderstood) as exc:
            hit = cfg.built[key] = exc
    if isinstance(hit, Exception):
        raise hit
    return hit


def _build_rule(cfg: _Config, raw: _Raw, action: Action, limit: FlowLimit | None) -> Rule:
    p = raw.props
    unknown = sorted(k for k in p if k not in _MATCH_KEYS | _INERT_KEYS | {"connection-limit", "dst-limit", "limit"})
    proto_s = p.get("protocol")
    protocol: int | None = None
    if proto_s is not None:
        neg = proto_s.startswith("!")
        val = proto_s[1:] if neg else proto_s
        num = _PROTOCOLS.get(val, int(val) if val.isdigit() else None)
        if num is None:
            raise _NotUnderstood(f"protocol {proto_s!r} not modelled")
        if neg:
            if num == 6:
                raise _Never
            raise _NotUnderstood(f"protocol {proto_s!r} (every protocol but one) not modelled")
        if num != 6:
            raise _Never
        protocol = 6
    if unknown:
        raise _NotUnderstood(f"{', '.join(unknown)} not modelled")
    src, src_neg = _addr_side(cfg, raw.family, p, "src")
    dst, dst_neg = _addr_side(cfg, raw.family, p, "dst")
    for matches, neg, key in ((src, src_neg, "src"), (dst, dst_neg, "dst")):
        if not matches and not neg and (p.get(f"{key}-address-list") is not None):
            raise _Never  # an empty address list matches nothing
    ports: dict[str, tuple[PortRange, ...]] = {}
    for key in ("src-port", "dst-port"):
        if key in p:
            if protocol != 6:
                raise _NotUnderstood(f"{key} without protocol=tcp")
            try:
                rng, neg = _ports(p[key])
            except ValueError:
                raise _NotUnderstood(f"{key} {p[key]!r} not understood") from None
            ports[key] = ports_complement(rng) if neg else rng
    flags: FlagMatch = ()
    if "connection-state" in p:
        st = _states(p["connection-state"])
        if st is None:
            raise _Never
        flags = st
    return Rule(
        action,
        raw.family,
        protocol,
        name=str(raw.line),
        src=() if src_neg else src,
        dst=() if dst_neg else dst,
        src_except=src if src_neg else (),
        dst_except=dst if dst_neg else (),
        src_ports=ports.get("src-port", ()),
        dst_ports=ports.get("dst-port", ()),
        tcp_flags=flags,
        limit=limit,
        line=raw.line,
        text=raw.text,
    )


def _same_match(a: dict[str, str], b: dict[str, str]) -> bool:
    drop = _INERT_KEYS | {"dst-limit", "connection-limit"}
    return {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}


@dataclass
class _Projector:
    """Builds the filters of one family as seen from one attachment point."""

    cfg: _Config
    fam: int
    point: Point
    label: str
    pc: ParsedConfig
    unparsed: list[Unparsed]
    built: dict[str, Filter] = field(default_factory=dict)
    stack: list[str] = field(default_factory=list)

    def chain(self, name: str) -> Filter:
        """The projected filter of chain ``name`` (built once)."""
        hit = self.built.get(name)
        if hit is not None:
            return hit
        fname = f"{name} {self.label}" if self.label else name
        raws = self.cfg.chain_rules(self.fam, name)
        default = Action.PERMIT if name == "forward" else Action.NEXT
        flt = Filter(fname, self.fam, [], default, raws[0].line if raws else None, "ros-chain", None)
        flt.shared = name == "forward"  # op25b owns only its jumps there
        self.built[name] = flt
        self.pc.filters[(self.fam, fname)] = flt
        self.stack.append(name)
        try:
            self._fill(flt, raws)
        finally:
            self.stack.pop()
        return flt

    def _skip(self, raw: _Raw, why: str) -> None:
        self.unparsed.append(Unparsed(raw.line, raw.text, why))

    def _fill(self, flt: Filter, raws: list[_Raw]) -> None:
        i = 0
        while i < len(raws):
            raw = raws[i]
            # the next rule with a verdict (a log rule between a rate's return and its reject decides nothing)
            nxt = next((r for r in raws[i + 1 :] if r.props.get("action", "accept") not in _NO_VERDICT), None)
            i += 1
            where = _iface_match(self.cfg, self.point, raw.props)
            if where is False:
                continue
            if where is None:
                self._skip(raw, f"cannot tell whether packets entering at {self.label} match its interface terms")
                continue
            if any(k.startswith("out-interface") for k in raw.props):
                self._skip(raw, "out-interface terms are not modelled")
                continue
            try:
                consumed = self._add(flt, raw, nxt)
            except _Never:
                continue
            except _NotUnderstood as exc:
                self._skip(raw, str(exc))
                continue
            i += consumed

    def _add(self, flt: Filter, raw: _Raw, nxt: _Raw | None) -> int:
        """Add the rules of ``raw`` to ``flt``; returns how many following raw rules it consumed (0)."""
        p = raw.props
        act = p.get("action", "accept")
        if act in _NO_VERDICT:
            return 0  # whatever it matches (a log rule before a limit's reject has the limit's matchers)
        if "limit" in p:
            raise _NotUnderstood("a global limit on a verdict is not modelled")
        if "connection-limit" in p:
            return self._sessions(flt, raw, act)
        if "dst-limit" in p:
            return self._rate(flt, raw, act, nxt)
        if act == "accept":
            flt.rules.append(_rule(self.cfg, raw, Action.PERMIT))
        elif act in _DENY:
            flt.rules.append(_rule(self.cfg, raw, Action.DENY))
        elif act == "fasttrack-connection":
            # no verdict on the packet itself; the later packets of a connection it marks skip the firewall,
            # which concerns established packets only when it is limited to them
            if _states(p.get("connection-state", "new,established")) != CT_ESTABLISHED:
                raise _NotUnderstood("fasttrack-connection that can match new connections is not modelled")
        elif act == "return":
            flt.calls[len(flt.rules)] = Call("return")
            flt.rules.append(_rule(self.cfg, raw, Action.NEXT))
        elif act == "jump":
            target = p.get("jump-target", "")
            if not target or target in ("forward", "input", "output"):
                raise _NotUnderstood(f"jump-target {target!r} not modelled")
            if target in self.stack or len(self.stack) >= MAX_DEPTH:
                raise _NotUnderstood(f"jump to {target} loops")
            rule = _rule(self.cfg, raw, Action.NEXT)
            called = self.chain(target)
            flt.calls[len(flt.rules)] = Call("jump", called)
            flt.rules.append(rule)
        else:
            raise _NotUnderstood(f"action {act!r} not modelled")
        return 0

    def _sessions(self, flt: Filter, raw: _Raw, act: str) -> int:
        n_s, _, mask_s = raw.props["connection-limit"].partition(",")
        if not (n_s.isdigit() and mask_s.isdigit()):
            raise _NotUnderstood(f"connection-limit {raw.props['connection-limit']!r} not understood")
        n, mask = int(n_s), int(mask_s)
        per_sub = mask == 32 if self.fam == 4 else mask >= 32
        lim = FlowLimit(n if per_sub else None, 0, 0, mask if self.fam == 6 else 64)
        if act in _DENY:
            flt.rules.append(_rule(self.cfg, raw, Action.LIMIT, lim))
        elif act == "accept":
            flt.rules.append(_rule(self.cfg, raw, Action.PERMIT, lim))  # accepts above the cap only
        else:
            raise _NotUnderstood(f"connection-limit with action {act!r} not modelled")
        if not per_sub:
            self.pc.notes.append(f"line {raw.line}: connection-limit per /{mask} is not per subscriber")
        return 0

    def _rate(self, flt: Filter, raw: _Raw, act: str, nxt: _Raw | None) -> int:
        rate = _dst_limit(raw.props["dst-limit"])
        if act not in ("return", "accept"):
            raise _NotUnderstood(f"dst-limit with action {act!r} not modelled")
        paired = (
            nxt is not None
            and nxt.props.get("action", "accept") in _DENY
            and "dst-limit" not in nxt.props
            and "connection-limit" not in nxt.props
            and "limit" not in nxt.props
            and _same_match(raw.props, nxt.props)
        )
        under = Action.PERMIT if act == "accept" else Action.NEXT
        if paired:
            lim = FlowLimit(None, rate.per_second, rate.burst, 128)
            flt.rules.append(_rule(self.cfg, raw, Action.LIMIT, lim))
        if under is Action.NEXT:
            flt.calls[len(flt.rules)] = Call("return")
        flt.rules.append(_rule(self.cfg, raw, under))  # a single connection is under the rate
        return 0


def _points(cfg: _Config) -> dict[Point, int | None]:
    """Every attachment point the config names, with a line that names it."""
    out: dict[Point, int | None] = {}
    for name, lst in cfg.lists.items():
        out.setdefault(("interface-list", name), lst.line)
    for name, line in cfg.iface_lines.items():
        out.setdefault(("interface", name), line)
    for fam in (4, 6):
        for raw in cfg.rules[fam]:
            for key, kind in (("in-interface", "interface"), ("in-interface-list", "interface-list")):
                v = raw.props.get(key, "").lstrip("!")
                if v and not v.startswith("all-") and v not in _BUILTIN_LISTS:
                    out.setdefault((kind, v), raw.line)
    return out


def _out_points(cfg: _Config, fam: int) -> dict[Point, int]:
    """Interfaces and lists that ``forward`` jumps name as ``out-interface`` / ``out-interface-list``."""
    out: dict[Point, int] = {}
    for raw in cfg.rules[fam]:
        if raw.chain != "forward" or raw.props.get("action") != "jump":
            continue
        for key, kind in (("out-interface", "interface"), ("out-interface-list", "interface-list")):
            v = raw.props.get(key, "")
            if v and not v.startswith(("!", "all-")) and v not in _BUILTIN_LISTS:
                out.setdefault((kind, v), raw.line)
    return out


def _flow_seen(pc: ParsedConfig, point: Point, fam: int, fwd: Filter) -> None:
    seen: FlowControlSeen | None = None
    for rule in (r for f in fwd.reachable() for r in f.rules):
        if rule.action is not Action.LIMIT or rule.limit is None:
            continue
        if seen is None:
            seen = FlowControlSeen(point[0], point[1], "in", fam, line=rule.line, text=rule.text)
            pc.flow.append(seen)
        lim = rule.limit
        if fam == 6:
            seen.counts_per(lim.ipv6_subscriber_length)  # connection-limit's mask; dst-limit: per address
        if lim.max_sessions is not None and seen.max_sessions is None:
            seen.max_sessions = lim.max_sessions
        if lim.new_per_second and seen.new_per_second is None:
            seen.new_per_second, seen.burst = lim.new_per_second, lim.burst


def _plain_chains(cfg: _Config, pc: ParsedConfig, fam: int) -> None:
    """Every user chain by its own name (rules with interface terms left out), so the audit can name an OP25B
    chain nothing jumps to (NOT_APPLIED) and compare op25b's chain with the intent."""
    names = sorted({r.chain for r in cfg.rules[fam]} - {"forward", "input", "output"})
    proj = _Projector(cfg, fam, ("interface-list", "all"), "", ParsedConfig(PLATFORM), [])
    for name in names:
        pc.filters.setdefault((fam, name), proj.chain(name))


def parse(text: str, *, lazy: bool = False) -> ParsedConfig:
    """Parse a RouterOS ``/export``. Never raises: what is not understood is reported. ``lazy`` is accepted for
    the common interface; RouterOS exports are built eagerly."""
    pc = ParsedConfig(PLATFORM)
    try:
        _parse(text, pc)
    except RecursionError:  # a pathological jump depth: report, never raise
        pc.unparsed.append(Unparsed(1, text.splitlines()[0] if text else "", "jump nesting too deep"))
    return pc


def _parse(text: str, pc: ParsedConfig) -> None:
    cmds, bad = commands_of(logical_lines(text), _read_menu)
    pc.unparsed.extend(bad)
    cfg = _read(cmds)
    points = _points(cfg)
    for fam in (4, 6):
        _plain_chains(cfg, pc, fam)
        for point, line in sorted(points.items()):
            label = f"[{point[0]} {point[1]}]"
            unparsed: list[Unparsed] = []
            proj = _Projector(cfg, fam, point, label, pc, unparsed)
            fwd = proj.chain("forward")
            scripts = [u for u in bad if "firewall" in u.text]  # a script may change any rule
            extra = [*cfg.before_forward[fam], *scripts, *unparsed]
            if not fwd.rules and not extra:
                # no rule of chain forward concerns these packets: no filter acts there (FILTER_MISSING)
                for built in proj.built.values():
                    pc.filters.pop((fam, built.name), None)
                continue
            pc.bindings.append(Binding(point[0], point[1], "in", fam, (fwd.name,), line))
            for u in extra:
                pc.unparsed.append(Unparsed(u.line, u.text, u.reason, fwd.name))
            _flow_seen(pc, point, fam, fwd)
        for (kind, name), line in sorted(_out_points(cfg, fam).items()):
            # a jump on packets leaving there filters the other direction (WRONG_DIRECTION when nothing else)
            pc.bindings.append(Binding(kind, name, "out", fam, (f"forward [out-{kind} {name}]",), line))
