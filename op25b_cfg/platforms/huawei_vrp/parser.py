"""Running-config parser for Huawei VRP (``display current-configuration``, VRP5 and VRP8).

What it reads (every other top-level block is skipped after a look at its first tokens):

* ``acl [number] N``, ``acl name NAME [advance|basic|N]``, ``acl ipv6 [number] N``, ``acl ipv6 name NAME ...``
  with ``[match-order config|auto]``: basic (2000-2999) and advanced (3000-3999) ACLs. Their ``rule [id]
  permit|deny ...`` lines are evaluated in **rule-id order**, not text order (``match-order config``, the
  default); a rule without an id gets the next multiple of ``step`` (default 5) above the highest id, as VRP
  numbers it; ``undo rule N`` removes rule N. ``match-order auto`` (depth-first) is not modelled: the ACL is
  then not understood (an UNPARSED line in it). Layer 2, user-defined and user ACLs (4000-9999) are not IP
  packet filters op25b models: their rules are UNPARSED.
* Addresses: ``any``, ``A 0`` (one host), ``A W`` with a wildcard (bits set = don't care, also non-contiguous),
  ``A M`` with a network mask (as VRP accepts it), ``A/L``; IPv6 ``A/L`` or ``A L``. Ports: ``eq``, ``gt``,
  ``lt``, ``range`` with numbers or VRP's port names. ``logging`` changes nothing about the verdict.
* ``interface`` blocks (sub-interfaces too): ``traffic-filter inbound|outbound [ipv4|ipv6] acl N | acl name
  NAME`` (also ``undo traffic-filter``), ``shutdown`` / ``undo shutdown``.
* A ``traffic-filter`` ACL has **no implicit deny**: a packet that matches no rule is forwarded
  (``Filter.default`` is PERMIT).
* Top-level ``undo acl ...`` removes an ACL defined before it (a config file replayed as typed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from op25b_cfg.audit.model import Binding, Filter, ParsedConfig, Unparsed
from op25b_cfg.dialects.cisco import (
    ALL4,
    AceError,
    Block,
    NeverMatches,
    port_term,
    prefix_match,
    safe_line,
    scan,
    split_lines,
    v4_int,
)
from op25b_cfg.rules import Action, AddrMatch, PortRange, Rule

log = logging.getLogger(__name__)

PLATFORM = "huawei_vrp"
FILTER_KIND = "vrp-acl"
"""Filter kind: evaluation order is rule-id order, not line order, so an UNPARSED line anywhere in an ACL may
decide before any rule of it (see the engine's line-ordered kinds)."""

PORT_NAMES: dict[str, int] = {
    "bgp": 179, "chargen": 19, "cmd": 514, "daytime": 13, "discard": 9, "domain": 53, "echo": 7, "exec": 512,
    "finger": 79, "ftp": 21, "ftp-data": 20, "gopher": 70, "hostname": 101, "irc": 194, "klogin": 543,
    "kshell": 544, "login": 513, "lpd": 515, "nntp": 119, "pop2": 109, "pop3": 110, "smtp": 25, "sunrpc": 111,
    "tacacs": 49, "talk": 517, "telnet": 23, "time": 37, "uucp": 540, "whois": 43, "www": 80,
}  # fmt: skip
"""The TCP port keywords of VRP's advanced ACL ``rule`` command."""

PROTOCOLS: dict[str, int | None] = {
    "ip": None, "ipv6": None, "tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "gre": 47, "igmp": 2, "ipinip": 4,
    "ospf": 89,
}  # fmt: skip
_HARMLESS = frozenset({"logging"})
_KEYWORDS = frozenset(
    {"source", "destination", "source-port", "destination-port", "logging", "time-range", "vpn-instance",
     "fragment", "none-first-fragment", "fragment-type", "dscp", "precedence", "tos", "tcp-flag", "icmp-type",
     "icmp6-type", "ttl-expired", "ttl", "established", "counting", "name", "packet-length"}
)  # fmt: skip
DEFAULT_STEP = 5


def vrp_port(tok: str) -> int:
    """A port number or VRP port keyword; raises AceError.

    >>> vrp_port("smtp"), vrp_port("587")
    (25, 587)
    """
    if tok.isdigit() and int(tok) <= 65535:
        return int(tok)
    if tok in PORT_NAMES:
        return PORT_NAMES[tok]
    raise AceError(f"unknown port '{tok}'")


def _ports(toks: list[str], i: int) -> tuple[tuple[PortRange, ...], int]:
    """``eq P | gt P | lt P | range A B`` at ``toks[i]`` (VRP: one port per operator)."""
    if i >= len(toks) or toks[i] not in ("eq", "gt", "lt", "range"):
        raise AceError("port operator eq|gt|lt|range expected")
    need = 3 if toks[i] == "range" else 2
    if i + need > len(toks):
        raise AceError(f"'{toks[i]}' without its port")
    words = [toks[i]] + [str(vrp_port(t)) for t in toks[i + 1 : i + need]]
    ranges, _ = port_term(words, 0)
    return ranges, i + need


def address(toks: list[str], i: int, family: int) -> tuple[tuple[AddrMatch, ...], int]:
    """The address after ``source``/``destination`` at ``toks[i]``: ``()`` for any.

    >>> [str(m) for m in address(["100.64.0.0", "0.0.255.255"], 0, 4)[0]]
    ['100.64.0.0/16']
    >>> [str(m) for m in address(["192.0.2.25", "0"], 0, 4)[0]]
    ['192.0.2.25/32']
    >>> [str(m) for m in address(["10.0.0.0", "255.0.0.0"], 0, 4)[0]]
    ['10.0.0.0/8']
    >>> [str(m) for m in address(["2001:DB8::", "32"], 0, 6)[0]]
    ['2001:db8::/32']
    """
    if i >= len(toks):
        raise AceError("address missing")
    t = toks[i]
    if t == "any":
        return (), i + 1
    if "/" in t:
        return (prefix_match(t, family),), i + 1
    if i + 1 >= len(toks):
        raise AceError(f"address '{t}' without a mask")
    m = toks[i + 1]
    if family == 6:
        if not m.isdigit():
            raise AceError(f"IPv6 address '{t}' needs a prefix length")
        return (prefix_match(f"{t}/{m}", 6),), i + 2
    addr = v4_int(t)
    if m == "0":
        return (AddrMatch(4, addr, ALL4),), i + 2
    if "." not in m:
        if not m.isdigit() or int(m) > 32:
            raise AceError(f"'{m}' is not a wildcard, mask or length")
        return (prefix_match(f"{t}/{m}", 4),), i + 2
    w = v4_int(m)
    inv = ALL4 ^ w
    if w == ALL4:
        raise AceError(f"'{m}' is ambiguous (a wildcard for any address or a mask for one host)")
    if w >> 31 and (inv & (inv + 1)) == 0:  # leading one bits, then zeros: a network mask
        return (AddrMatch(4, addr & w, w),), i + 2
    mask = ALL4 ^ w  # a wildcard: bits set are "don't care"
    return (AddrMatch(4, addr & mask, mask),), i + 2


@dataclass
class RuleLine:
    """One ``rule`` as read: its id, its line and text, and what it matches (or why it is not understood)."""

    rid: int
    line: int
    text: str
    rules: list[Rule] = field(default_factory=list)
    error: str = ""


@dataclass
class Acl:
    """One ACL: header line, kind (basic | advance | other), family, and its rules by id."""

    name: str
    family: int
    line: int
    text: str
    kind: str
    number: int | None = None
    auto: bool = False
    step: int = DEFAULT_STEP
    rules: dict[int, RuleLine] = field(default_factory=dict)
    other: list[tuple[int, str, str]] = field(default_factory=list)
    """lines inside the ACL that are not rules and are not understood: (line, text, reason)"""
    out_of_order: bool = False


def kind_of_number(n: int) -> str:
    """``basic`` (2000-2999), ``advance`` (3000-3999), else ``other`` (layer 2, user-defined, user ACLs)."""
    if 2000 <= n <= 2999:
        return "basic"
    if 3000 <= n <= 3999:
        return "advance"
    return "other"


def parse_header(toks: list[str]) -> tuple[int, str | None, int | None, str, bool] | None:
    """``acl ...`` header tokens -> (family, name, number, kind, match-order auto); None when not an ACL view.

    >>> parse_header("acl name OP25B-V4-1 advance".split())
    (4, 'OP25B-V4-1', None, 'advance', False)
    >>> parse_header("acl ipv6 number 3001 match-order auto".split())
    (6, None, 3001, 'advance', True)
    >>> parse_header("acl 2001".split())
    (4, None, 2001, 'basic', False)
    """
    rest = toks[1:]
    family = 4
    if rest and rest[0] == "ipv6":
        family, rest = 6, rest[1:]
    auto = False
    if len(rest) >= 2 and rest[-2] == "match-order":
        if rest[-1] not in ("auto", "config"):
            return None
        auto = rest[-1] == "auto"
        rest = rest[:-2]
    if not rest:
        return None
    if rest[0] == "number" and len(rest) == 2 and rest[1].isdigit():
        n = int(rest[1])
        return family, None, n, kind_of_number(n), auto
    if rest[0].isdigit() and len(rest) == 1:
        n = int(rest[0])
        return family, None, n, kind_of_number(n), auto
    if rest[0] == "name" and 2 <= len(rest) <= 3:
        name = rest[1]
        if len(rest) == 2 or rest[2] == "advance":
            return family, name, None, "advance", auto
        if rest[2] == "basic":
            return family, name, None, "basic", auto
        if rest[2].isdigit():
            n = int(rest[2])
            return family, name, n, kind_of_number(n), auto
    return None


def rule_body(toks: list[str], family: int, kind: str) -> tuple[Action, list[dict[str, object]]]:
    """The match of one rule after its id: ``permit|deny [PROTO] keyword value ...`` (keywords in any order).
    Returns the action and the Rule fields. Raises AceError for what cannot be modelled exactly."""
    if not toks or toks[0] not in ("permit", "deny"):
        raise AceError("permit or deny expected")
    action = Action.PERMIT if toks[0] == "permit" else Action.DENY
    i = 1
    protocol: int | None = None
    if kind == "advance":
        if i >= len(toks):
            raise AceError("protocol missing")
        p = toks[i]
        if p in PROTOCOLS:
            if (p == "ipv6") != (family == 6) and p in ("ip", "ipv6"):
                raise AceError(f"'{p}' in an IPv{family} ACL")
            protocol = PROTOCOLS[p]
        elif p.isdigit() and int(p) <= 255:
            protocol = int(p)
        else:
            raise AceError(f"unknown protocol '{p}'")
        i += 1
    tcp_possible = protocol is None or protocol == 6
    fields: dict[str, object] = {"protocol": protocol}
    seen: set[str] = set()
    n = len(toks)
    while i < n:
        t = toks[i]
        if t in seen and t in ("source", "destination", "source-port", "destination-port"):
            raise AceError(f"'{t}' given twice")
        seen.add(t)
        if t in ("source", "destination"):
            matches, i = address(toks, i + 1, family)
            fields["src" if t == "source" else "dst"] = matches
            continue
        if t in ("source-port", "destination-port"):
            if protocol not in (6, 17) or kind != "advance":
                raise AceError(f"'{t}' on a protocol without ports")
            ranges, i = _ports(toks, i + 1)
            fields["src_ports" if t == "source-port" else "dst_ports"] = ranges
            continue
        if t in _HARMLESS:
            fields["log"] = True
            i += 1
            continue
        if not tcp_possible and t not in ("time-range", "vpn-instance"):
            fields["loose"] = True  # qualifiers of a rule that never matches TCP cannot change a TCP verdict
            break
        raise AceError(f"'{t}' is not modelled (it narrows or changes what the rule matches)")
    return action, [fields]


class _VrpParser:
    def __init__(self) -> None:
        self.result = ParsedConfig(PLATFORM)
        self.acls: dict[tuple[int, str], Acl] = {}
        self.numbers: dict[tuple[int, int], str] = {}
        self.ifaces: dict[str, dict[tuple[str, int], tuple[Binding, str]]] = {}
        """interface -> (direction, family) -> (binding, the ACL reference as written)"""
        self.shutdown: dict[str, bool] = {}
        self.texts: dict[int, str] = {}
        self.loose: list[int] = []

    # ---------------------------------------------------------------- blocks
    def run(self, text: str) -> ParsedConfig:
        res = scan(split_lines(text), _classify)
        self.result.notes.extend(res.notes)
        handlers = {"acl": self._acl, "undo-acl": self._undo_acl, "interface": self._interface}
        for blk in res.blocks:
            safe_line(self.result, blk.line, blk.text, blk.kind, handlers[blk.kind], blk)
        self._finish()
        return self.result

    def _acl(self, blk: Block) -> None:
        head = parse_header(blk.tokens)
        if head is None:
            self.result.unparsed.append(Unparsed(blk.line, blk.text, "ACL header form not understood"))
            return
        family, name, number, kind, auto = head
        key_name = name if name is not None else str(number)
        acl = self.acls.get((family, key_name))
        if acl is None:
            acl = self.acls[(family, key_name)] = Acl(key_name, family, blk.line, blk.text, kind, number)
            if number is not None:
                self.numbers[(family, number)] = key_name
        acl.auto = acl.auto or auto
        for line, s in blk.children:
            self._acl_line(acl, line, s)

    def _acl_line(self, acl: Acl, line: int, s: str) -> None:
        toks = s.split()
        t0 = toks[0]
        if t0 == "description":
            return
        if t0 == "step" and len(toks) == 2 and toks[1].isdigit():
            acl.step = int(toks[1])
            return
        if t0 == "undo" and len(toks) >= 2:
            if toks[1] == "step":
                acl.step = DEFAULT_STEP
                return
            if toks[1] == "rule" and len(toks) == 3 and toks[2].isdigit():
                if acl.rules.pop(int(toks[2]), None) is None:
                    self.result.notes.append(f"line {line}: {acl.name} has no rule {toks[2]} to remove")
                return
            if toks[1] == "description":
                return
        if t0 != "rule":
            acl.other.append((line, s, f"'{t0}' in an ACL is not modelled"))
            return
        rest = toks[1:]
        if rest and rest[0].isdigit():
            rid = int(rest[0])
            rest = rest[1:]
        else:
            top = max(acl.rules, default=0)
            rid = (top // acl.step + 1) * acl.step
        if rest and rest[0] == "description":  # rule N description TEXT (a comment on an existing rule)
            return
        if len(rest) >= 2 and rest[0] == "name":
            rest = rest[2:]
        if acl.rules and rid < max(acl.rules):
            acl.out_of_order = True
        entry = RuleLine(rid, line, s)
        old = acl.rules.get(rid)
        if old is not None:
            entry.error = (
                f"rule {rid} is given twice (lines {old.line} and {line}); VRP edits the existing rule with the"
                " new one, which is not modelled"
            )
            acl.rules[rid] = entry
            return
        acl.rules[rid] = entry
        if acl.kind == "other":
            entry.error = "layer 2, user-defined and user ACLs (4000-9999) are not modelled"
            return
        try:
            action, specs = rule_body(rest, acl.family, acl.kind)
        except NeverMatches as exc:
            self.result.notes.append(f"line {line}: rule in {acl.name} matches no packet ({exc}); left out")
            return
        except AceError as exc:
            entry.error = str(exc)
            return
        for values in specs:
            if values.pop("loose", False):
                self.loose.append(line)
            entry.rules.append(Rule(action, acl.family, name=str(rid), line=line, text=s, **values))  # type: ignore[arg-type]

    def _undo_acl(self, blk: Block) -> None:
        head = parse_header(blk.tokens[1:])
        if head is None:
            self.result.unparsed.append(Unparsed(blk.line, blk.text, "undo acl form not understood"))
            return
        family, name, number, _, _ = head
        key = name if name is not None else self.numbers.get((family, number or -1), str(number))
        if self.acls.pop((family, key), None) is None:
            self.result.notes.append(f"line {blk.line}: `{blk.text}` removes an ACL that is not defined")

    def _interface(self, blk: Block) -> None:
        name = blk.tokens[1]
        found = self.ifaces.setdefault(name, {})  # an interface view entered again keeps its state
        shutdown = self.shutdown.get(name, False)
        for line, s in blk.children:
            toks = s.split()
            if s == "shutdown":
                shutdown = True
                continue
            if s == "undo shutdown":
                shutdown = False
                continue
            undo = toks[0] == "undo"
            body = toks[1:] if undo else toks
            if not body or body[0] != "traffic-filter":
                if body and body[0] in ("traffic-policy", "qos-profile", "packet-filter"):
                    self.result.unparsed.append(
                        Unparsed(line, s, f"interface {name}: '{body[0]}' is not modelled (it may drop packets)")
                    )
                continue
            if (
                undo
                and len(body) in (2, 3)
                and body[1] in ("inbound", "outbound")
                and body[2:] in ([], ["ipv4"], ["ipv6"])
            ):
                # `undo traffic-filter inbound [ipv6]`: the binding of that direction (and family) goes
                family = 6 if body[2:] == ["ipv6"] else 4
                found.pop(("in" if body[1] == "inbound" else "out", family), None)
                continue
            ref = _traffic_filter(body)
            if ref is None:
                self.result.unparsed.append(Unparsed(line, s, f"interface {name}: traffic-filter form not understood"))
                continue
            direction, family, acl_ref = ref
            slot = (direction, family)
            if undo:
                found.pop(slot, None)
                continue
            if slot in found:
                old = found[slot][0]
                self.result.unparsed.append(
                    Unparsed(
                        old.line or line,
                        self.texts.get(old.line or line, s),
                        f"interface {name}: a second traffic-filter for the same direction and family (line {line})"
                        " replaces this one",
                    )
                )
            found[slot] = (Binding("interface", name, direction, family, (acl_ref,), line), acl_ref)
            self.texts[line] = s
        self.shutdown[name] = shutdown

    # ---------------------------------------------------------------- result
    def _finish(self) -> None:
        res = self.result
        for (family, key), acl in self.acls.items():
            flt = Filter(key, family, default=Action.PERMIT, line=acl.line, kind=FILTER_KIND)
            if acl.auto:
                res.unparsed.append(
                    Unparsed(acl.line, acl.text, "match-order auto (depth-first order) is not modelled", key)
                )
            for rid in sorted(acl.rules):
                entry = acl.rules[rid]
                if entry.error:
                    res.unparsed.append(Unparsed(entry.line, entry.text, entry.error, key))
                flt.rules.extend(entry.rules)
            for line, text, reason in acl.other:
                res.unparsed.append(Unparsed(line, text, reason, key))
            if acl.out_of_order:
                res.notes.append(f"{key}: rules are not in rule-id order in the text; evaluated in rule-id order")
            res.filters[(family, key)] = flt
        for name, found in self.ifaces.items():
            for b, ref in sorted(found.values(), key=lambda v: v[0].line or 0):
                if ref.isdigit():
                    b.filters = (self.numbers.get((b.family, int(ref)), ref),)
                b.shutdown = self.shutdown.get(name, False)
                res.bindings.append(b)
        res.unparsed.sort(key=lambda u: u.line)
        if self.loose:
            res.notes.append(
                "qualifiers of rules that never match TCP (ICMP type, dscp, ...) are not modelled; those rules are"
                " kept for their whole protocol: lines " + ", ".join(str(x) for x in self.loose[:10])
            )


def _traffic_filter(toks: list[str]) -> tuple[str, int, str] | None:
    """``traffic-filter inbound|outbound [ipv4|ipv6] acl N | acl name NAME`` -> (direction, family, ACL).

    >>> _traffic_filter("traffic-filter inbound ipv6 acl name OP25B-V6-1".split())
    ('in', 6, 'OP25B-V6-1')
    >>> _traffic_filter("traffic-filter outbound acl 3001".split())
    ('out', 4, '3001')
    """
    if len(toks) < 4 or toks[1] not in ("inbound", "outbound"):
        return None
    direction = "in" if toks[1] == "inbound" else "out"
    rest = toks[2:]
    family = 4
    if rest[0] in ("ipv4", "ipv6"):
        family = 6 if rest[0] == "ipv6" else 4
        rest = rest[1:]
    if len(rest) == 2 and rest[0] == "acl" and rest[1].isdigit():
        return direction, family, rest[1]
    if len(rest) == 3 and rest[0] == "acl" and rest[1] == "name":
        return direction, family, rest[2]
    return None


def _classify(toks: list[str]) -> str | None:
    t0 = toks[0]
    if t0 == "interface":
        return "interface" if len(toks) > 1 else None
    if t0 == "acl" and len(toks) > 1:
        return "acl"
    if t0 == "undo" and len(toks) > 2 and toks[1] == "acl":
        return "undo-acl"
    return None


def parse(text: str, *, lazy: bool = False) -> ParsedConfig:
    """Parse a VRP running config. Never raises: what is not understood is reported. ``lazy`` is accepted for
    the common parser interface; VRP ACLs are small and are built at once."""
    parser = _VrpParser()
    try:
        parser.run(text)
    except Exception as exc:  # last resort; per-block errors are caught earlier
        log.debug("%s parser failed", PLATFORM, exc_info=True)
        parser.result.unparsed.append(Unparsed(1, "", f"internal parser error: {type(exc).__name__}"))
    return parser.result


__all__ = ["PORT_NAMES", "address", "parse", "parse_header", "rule_body"]
