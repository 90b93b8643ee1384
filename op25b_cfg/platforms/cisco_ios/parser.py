"""Running-config parser for Cisco IOS / IOS-XE (incl. BRAS: Virtual-Templates, bba-group, vpdn-group).

What it reads (everything else is skipped after a look at its first tokens):

* ``ip access-list extended|standard NAME``, ``ip access-list NAME``, ``ipv6 access-list NAME`` and numbered
  ``access-list N ...`` lines, with sequence numbers, remarks, object-groups, wildcard masks (also
  non-contiguous), port operators, ``established``/TCP flags and ``log``;
* ``object-group network|service|ip port`` definitions;
* ``interface`` blocks: ``ip access-group NAME in|out``, ``ipv6 traffic-filter NAME in|out``, ``shutdown``,
  ``service-policy input|output PM``. A ``Virtual-Template<N>`` is ``in_use`` when any line references
  ``virtual-template N`` (bba-group, vpdn-group, crypto profiles, multilink);
* flow control: ``class-map`` (``match access-group name X``) + ``policy-map`` with ``police rate N pps
  [burst M packets]`` attached by ``service-policy``. Each such class ACL becomes a Filter of kind
  ``class-map`` whose rules read as the generator's flow-control plan: ``permit`` -> Action.LIMIT (with the
  policer's FlowLimit), ``deny`` -> Action.PERMIT (left out of the class, so not policed), default PERMIT.
  The service-policy yields a Binding to that filter and a :class:`FlowControlSeen` per family.
"""

from __future__ import annotations

import dataclasses
import logging
import re

from op25b_cfg.audit.model import Binding, FlowControlSeen, ParsedConfig, Unparsed
from op25b_cfg.dialects.cisco import (
    AclBlock,
    Block,
    FilterBuilder,
    Groups,
    RawGroup,
    numbered_acl_kind,
    run_parser,
    safe_line,
    scan,
    split_lines,
)
from op25b_cfg.rules import Action, FlowLimit

log = logging.getLogger(__name__)

PLATFORM = "cisco_ios"
_VT_REF = re.compile(r"(?:^|\s)virtual-template\s+(\d+)(?:\s|$)")
_DEFERRED = frozenset({"acl4", "acl6"})
"""Block kinds whose indented lines :func:`scan` keeps as ranges (see :meth:`AclBlock.add`)."""
_IFACE_READ = ("shutdown", "ip access-group ", "ipv6 traffic-filter ", "service-policy ")
"""The interface lines :meth:`_IosParser._interface` reads (``shutdown`` only when it is the whole line)."""
_ACL_GLOBAL = frozenset({"logging", "log-update", "resequence", "role-based", "persistent", "fqdn", "counters"})


def _classify(toks: list[str]) -> str | None:
    t0 = toks[0]
    n = len(toks)
    if t0 == "interface":
        return "interface" if n > 1 else None
    if t0 == "ip" or t0 == "ipv6":
        if n > 2 and toks[1] == "access-list" and toks[2] not in _ACL_GLOBAL:
            return "acl4" if t0 == "ip" else "acl6"
        return None
    if t0 == "access-list":
        return "acl-numbered" if n > 1 else None
    if t0 == "object-group":
        return "object-group" if n > 2 else None
    if t0 == "class-map" or t0 == "policy-map":
        return t0
    return None


# --------------------------------------------------------------------------- configuration modes
# Configs whose indentation was lost are read the way IOS reads pasted lines: a line that is a sub-command of
# the current mode stays in it; a global command leaves it (see _cisco.scan). Words of each mode below; a line
# in none of the lists leaves the mode uncertain (the interface lines after it are kept, flagged not certain).

_GLOBAL = frozenset(
    {
        "aaa", "access-list", "alias", "archive", "banner", "bba-group", "boot", "boot-end-marker",
        "boot-start-marker", "call-home", "card", "class-map", "clock", "config-register", "control-plane",
        "crypto", "dial-peer", "end", "enable", "event", "exit", "hostname", "interface", "kron", "license",
        "line", "login", "memory", "multilink", "ntp", "object-group", "parameter-map", "policy-map",
        "radius", "radius-server", "redundancy", "route-map", "router", "scheduler", "snmp", "snmp-server",
        "subscriber", "tacacs", "tacacs-server", "track", "username", "version", "voice", "vpdn",
        "vpdn-group", "zone", "zone-pair", "platform", "diagnostic", "key", "service", "spanning-tree",
        "vlan", "mpls", "flow", "template", "errdisable", "lldp", "cdp", "logging", "vrf",
    }
)  # fmt: skip
_IFACE = frozenset(
    {
        "description", "shutdown", "encapsulation", "bandwidth", "mtu", "duplex", "speed", "negotiation",
        "keepalive", "load-interval", "peer", "ppp", "pppoe", "standby", "vrrp", "channel-group",
        "switchport", "xconnect", "tunnel", "media-type", "carrier-delay", "delay", "service-policy", "pvc",
        "dialer", "hold-queue", "service-instance", "dampening", "authentication", "dot1x",
        "mab", "storm-control", "snmp", "zone-member", "crypto", "mpls", "cdp", "lldp", "logging",
        "spanning-tree", "vrf", "flow", "channel-protocol", "macro", "isis",
    }
)  # fmt: skip
# first words that are both: which mode wins depends on the second word
_BOTH_IFACE_2 = {
    "snmp": {"trap"},
    "crypto": {"map"},
    "mpls": {"ip", "mtu", "label", "traffic-eng", "bgp", "ldp"},
    "cdp": {"enable"},
    "lldp": {"transmit", "receive"},
    "logging": {"event"},
    "spanning-tree": {"portfast", "bpduguard", "bpdufilter", "guard", "cost", "port-priority", "link-type"},
    "vrf": {"forwarding"},
    "flow": {"monitor"},
    "macro": {"apply", "trace", "description"},
    "arp": {"timeout", "arpa", "snap", "probe"},
    "bfd": {"interval", "echo", "template"},
}
_IP_IFACE = frozenset(
    {
        "address", "unnumbered", "access-group", "helper-address", "mtu", "redirects", "proxy-arp",
        "unreachables", "directed-broadcast", "verify", "ospf", "pim", "igmp", "policy", "route-cache",
        "virtual-reassembly", "mask-reply", "information-reply", "accounting", "load-sharing", "split-horizon",
        "summary-address", "authentication", "hello-interval", "hold-time", "rip", "traffic-filter", "enable",
        "mld", "flowspec", "wccp", "irdp", "vrf", "nbar", "flow", "dhcp", "nat", "tcp", "router", "nd",
        "subscriber", "mroute-cache", "local-proxy-arp", "sticky-arp", "bandwidth-percent",
    }
)  # fmt: skip
# `ip|ipv6 <word>` that are interface commands only with one of these third words (otherwise: not known)
_IP_IFACE_3 = {
    "vrf": {"forwarding", "receive", "sitemap"},
    "flow": {"ingress", "egress", "monitor"},
    "dhcp": {"relay", "server", "client"},
    "nat": {"inside", "outside", "enable"},  # an interface's `ip nat inside` has nothing after it
    "tcp": {"adjust-mss", "header-compression"},
    "router": {"isis"},
    "pim": {"sparse-mode", "dense-mode", "sparse-dense-mode", "passive", "dr-priority", "query-interval", "bfd"},
    "igmp": {"version", "join-group", "static-group", "query-interval", "access-group", "limit", "helper-address"},
    "ospf": {
        "cost", "network", "authentication", "authentication-key", "message-digest-key", "hello-interval",
        "dead-interval", "priority", "area", "bfd", "mtu-ignore", "retransmit-interval", "transmit-delay",
    },
}  # fmt: skip
_IP_GLOBAL = frozenset(
    {
        "route", "domain", "domain-name", "domain-lookup", "name-server", "cef", "prefix-list", "ssh", "http",
        "scp", "forward-protocol", "local", "multicast-routing", "sla", "flow-export", "flow-cache", "radius",
        "tacacs", "bgp-community", "community-list", "extcommunity-list", "as-path", "explicit-path", "routing",
        "unicast-routing", "source-route", "finger", "ftp", "tftp", "host", "subnet-zero", "classless",
        "default-gateway", "access-list", "general-prefix", "icmp", "options", "rcmd", "dns", "telnet",
    }
)  # fmt: skip
_ACL_CHILD = frozenset({"permit", "deny", "remark", "evaluate", "dynamic", "no", "default", "statistics"})
_GROUP_CHILD = frozenset(
    {
        "host", "network-object", "group-object", "description", "range", "any", "port-object",
        "service-object", "icmp-object", "protocol-object", "eq", "neq", "lt", "gt", "tcp", "udp", "tcp-udp",
        "icmp", "ip", "ipv6", "sctp", "esp", "ahp", "gre", "ospf", "eigrp", "pim", "no",
    }
)  # fmt: skip
_CLASS_CHILD = frozenset({"match", "description", "no"})
_POLICY_CHILD = frozenset(
    {
        "class", "police", "conform-action", "exceed-action", "violate-action", "set", "bandwidth",
        "priority", "shape", "queue-limit", "random-detect", "fair-queue", "drop", "description",
        "service-policy", "no", "trust", "count", "rate", "cir", "pir", "bc", "be",
    }
)  # fmt: skip


def _submode(kind: str, toks: list[str]) -> str | None:
    """Where an unindented line goes while a block of ``kind`` is open (see :data:`_cisco.SubMode`).

    >>> _submode("interface", ["ip", "access-group", "X", "in"]), _submode("interface", ["ip", "route", "0.0.0.0"])
    ('child', 'global')
    >>> _submode("interface", ["no", "ip", "redirects"]), _submode("interface", ["frobnicate"])
    ('child', None)
    >>> _submode("acl4", ["10", "permit", "ip", "any", "any"]), _submode("acl4", ["hostname", "x"])
    ('child', 'global')
    """
    t0 = toks[0]
    if t0 == "exit" or t0 == "end":
        return "global"
    if kind in ("acl4", "acl6"):
        return "child" if t0 in _ACL_CHILD or t0.isdigit() else "global"
    if kind == "object-group":
        return "child" if t0 in _GROUP_CHILD or t0[:1].isdigit() or ":" in t0 else "global"
    if kind == "class-map":
        return "child" if t0 in _CLASS_CHILD else "global"
    if kind == "policy-map":
        return "child" if t0 in _POLICY_CHILD else "global"
    if kind != "interface":
        return "global"
    if (t0 == "no" or t0 == "default") and len(toks) > 1:
        return _submode(kind, [*toks[1].split(), *toks[2:]]) if toks[1] not in ("no", "default") else None
    t1 = toks[1] if len(toks) > 1 else ""
    if t0 == "ip" or t0 == "ipv6":
        if t1 in _IP_IFACE:
            third = _IP_IFACE_3.get(t1)
            if third is None or (t1 == "nat" and len(toks) == 3) or (len(toks) > 2 and toks[2] in third):
                return "child"
            return None
        return "global" if t1 in _IP_GLOBAL else None
    both = _BOTH_IFACE_2.get(t0)
    if both is not None:
        return "child" if t1 in both else "global"
    if t0 in _IFACE:
        return "child"
    if t0 in _GLOBAL:
        return "global"
    return None


@dataclasses.dataclass
class _Class:
    name: str
    acls: list[str] = dataclasses.field(default_factory=list)
    other: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Police:
    line: int
    text: str
    rate: int | None = None  # pps
    burst: int | None = None  # packets
    conform: str = "transmit"
    exceed: str = "drop"


@dataclasses.dataclass
class _PolicyClass:
    name: str
    line: int
    police: _Police | None = None


class _IosParser:
    def __init__(self, lazy: bool = False) -> None:
        self.lazy = lazy
        self.result = ParsedConfig(PLATFORM)
        self.groups = Groups()
        self.filters = FilterBuilder(self.result, self.groups, "ios", frozenset({"statistics"}))
        self.class_maps: dict[str, _Class] = {}
        self.policies: dict[str, list[_PolicyClass]] = {}
        self.vt_refs: set[str] = set()
        self.lines: list[str] = []
        # service-policy attachments: (kind, name, direction, policy, line, shutdown, why not certain)
        self.service_policies: list[tuple[str, str, str, str, int, bool, str]] = []

    def run(self, text: str) -> ParsedConfig:
        # the ACLs' entries stay line ranges until an ACL's rules are read (most customer ACLs never are)
        self.lines = split_lines(text)
        res = scan(self.lines, _classify, watch="virtual-template", submode=_submode, defer=_DEFERRED)
        self.result.notes.extend(res.notes)
        for _, s in res.watched:
            if s.startswith(("description", "remark", "interface")):
                continue
            m = _VT_REF.search(s)
            if m:
                self.vt_refs.add(m.group(1))
        handlers = {
            "acl4": self._acl,
            "acl6": self._acl,
            "acl-numbered": self._numbered,
            "object-group": self._object_group,
            "class-map": self._class_map,
            "policy-map": self._policy_map,
            "interface": self._interface,
        }
        for blk in res.blocks:
            safe_line(self.result, blk.line, blk.text, blk.kind, handlers[blk.kind], blk)
        bound = {(b.family, f) for b in self.result.bindings for f in b.filters}
        referenced = bound | {(fam, acl) for cls in self.class_maps.values() for acl in cls.acls for fam in (4, 6)}
        self.filters.build(referenced, self.lazy)
        self._flow_control(bound)
        return self.result

    # ------------------------------------------------------------------ ACLs
    def _acl(self, blk: Block) -> None:
        toks = blk.tokens
        family = 4 if blk.kind == "acl4" else 6
        standard = False
        if toks[2] in ("extended", "standard") and len(toks) > 3:
            standard = toks[2] == "standard"
            name = toks[3]
        else:
            name = toks[2]
        acl = self.filters.acl(family, name, blk.line, standard)
        acl.add(blk, self.lines)

    def _numbered(self, blk: Block) -> None:
        """``access-list N permit|deny|remark ...`` (one entry per line; ASA-style ``NAME extended``)."""
        toks = blk.tokens
        name = toks[1]
        kind = numbered_acl_kind(name)
        rest = toks[2:]
        if rest and rest[0] in ("extended", "standard"):
            kind = rest[0]
            rest = rest[1:]
        if kind is None:
            return  # not an IP ACL (MAC, ethertype, rate-limit) or a global command
        acl: AclBlock = self.filters.acl(4, name, blk.line, kind == "standard")
        if rest:
            acl.entries.append((blk.line, blk.text))
            acl.bodies[blk.line] = " ".join(rest)
        acl.entries.extend(blk.children)

    def _object_group(self, blk: Block) -> None:
        toks = blk.tokens
        kind = toks[1]
        if kind == "network" and len(toks) == 4 and toks[2] in ("ipv4", "ipv6"):  # XR style, seen in IOS files
            grp = RawGroup("network", toks[3], blk.line)
        elif kind in ("network", "v6-network") and len(toks) > 2:
            grp = RawGroup("network", toks[2], blk.line)
        elif kind == "port" and len(toks) == 3:
            grp = RawGroup("port", toks[2], blk.line)
        elif kind in ("service", "v6-service") and len(toks) > 2:
            grp = RawGroup("service", toks[2], blk.line)
        elif kind == "ip" and len(toks) > 3 and toks[2] == "port":
            grp = RawGroup("port", toks[3], blk.line)
        elif kind == "ip" and len(toks) > 3 and toks[2] == "address":
            grp = RawGroup("network", toks[3], blk.line)
        else:
            return
        grp.members.extend(blk.children)
        self.groups.add(grp)

    # ------------------------------------------------------------------ QoS
    def _class_map(self, blk: Block) -> None:
        toks = blk.tokens[1:]
        if toks and toks[0] == "type":
            if len(toks) < 2 or toks[1] != "qos":
                return  # inspect / control / stack classes do not police
            toks = toks[2:]
        if toks and toks[0] in ("match-any", "match-all"):
            toks = toks[1:]
        if not toks:
            return
        cls = self.class_maps.setdefault(toks[0], _Class(toks[0]))
        for _, s in blk.children:
            t = s.split()
            if t[0] != "match":
                continue
            if t[1:3] == ["access-group", "name"] and len(t) == 4:
                cls.acls.append(t[3])
            elif t[1:2] == ["access-group"] and len(t) == 3:
                cls.acls.append(t[2])
            else:
                cls.other.append(s)

    def _policy_map(self, blk: Block) -> None:
        toks = blk.tokens[1:]
        if toks and toks[0] == "type":
            if len(toks) < 2 or toks[1] != "qos":
                return
            toks = toks[2:]
        if not toks:
            return
        classes = self.policies.setdefault(toks[0], [])
        cur: _PolicyClass | None = None
        for line, s in blk.children:
            t = s.split()
            if t[0] == "class" and len(t) > 1:
                cur = _PolicyClass(t[-1], line)
                classes.append(cur)
            elif cur is None:
                continue
            elif t[0] == "police":
                cur.police = _parse_police(line, s, t)
            elif t[0] in ("conform-action", "exceed-action") and cur.police is not None and len(t) > 1:
                setattr(cur.police, t[0].split("-")[0], t[1])

    # ------------------------------------------------------------------ interfaces
    def _interface(self, blk: Block) -> None:
        name = blk.tokens[1]
        kind = "virtual-template" if name.startswith("Virtual-Template") else "interface"
        found: list[Binding] = []
        policies: list[tuple[str, str, int, str]] = []
        shutdown = ""  # why the interface may be shut down: "" = not, "shutdown" = certainly
        shut_line = blk.line
        unsure_lines = blk.unsure
        in_use = self._in_use(kind, name)  # the templates' references were all seen by the scan
        for line, s in blk.children:
            if not s.startswith(_IFACE_READ):
                continue  # most lines: description, encapsulation, pppoe, ...
            unsure = unsure_lines.get(line, "") if unsure_lines else ""
            if s == "shutdown":
                if shutdown != "shutdown":
                    shutdown, shut_line = unsure or "shutdown", line
            elif s.startswith(("ip access-group ", "ipv6 traffic-filter ")):
                t = s.split()
                if len(t) == 4 and t[3] in ("in", "out"):
                    fam = 4 if t[0] == "ip" else 6
                    found.append(Binding(kind, name, t[3], fam, (t[2],), line, in_use))
                    if unsure:  # bound as IOS would if it stayed in the mode; not understood in that filter
                        self.result.unparsed.append(Unparsed(line, s, f"{kind} {name}: {unsure}", t[2]))
                else:
                    self.result.unparsed.append(Unparsed(line, s, f"{kind} {name}: direction in|out expected"))
            elif s.startswith("service-policy "):
                t = s.split()
                if len(t) == 3 and t[1] in ("input", "output"):
                    policies.append(("in" if t[1] == "input" else "out", t[2], line, unsure))
                elif len(t) == 5 and t[1:3] == ["type", "qos"] and t[3] in ("input", "output"):
                    policies.append(("in" if t[3] == "input" else "out", t[4], line, unsure))
        if shutdown:
            if shutdown != "shutdown":  # an uncertain shutdown: the filters' verdicts are not certain
                for b in found:
                    reason = f"{kind} {name} may be shut down: {shutdown}"
                    self.result.unparsed.append(Unparsed(shut_line, "shutdown", reason, b.filters[0]))
            else:
                for b in found:
                    b.shutdown = True
        self.result.bindings.extend(found)
        for direction, pm, line, unsure in policies:
            self.service_policies.append((kind, name, direction, pm, line, shutdown == "shutdown", unsure))

    # ------------------------------------------------------------------ after the scan
    def _in_use(self, kind: str, name: str) -> bool | None:
        if kind != "virtual-template":
            return None
        return name[len("Virtual-Template") :] in self.vt_refs

    def _flow_control(self, bound: set[tuple[int, str]]) -> None:
        """The service-policies' policed classes (``bound``: the access-group filters, by family and name)."""
        converted: set[tuple[int, str]] = set()
        for kind, name, direction, pm, line, shutdown, unsure in self.service_policies:
            classes = self.policies.get(pm)
            if classes is None:
                self.result.unparsed.append(
                    Unparsed(line, f"service-policy {pm}", f"{kind} {name}: policy-map {pm} is not defined")
                )
                continue
            for pc in classes:
                pol = pc.police
                if pol is None or pol.rate is None:
                    continue
                if pol.exceed != "drop":
                    self.result.notes.append(
                        f"line {pol.line}: policer in {pm} class {pc.name} does not drop excess ({pol.exceed})"
                    )
                    continue
                drops_all = pol.conform == "drop"  # conforming traffic dropped too: the class is a block
                if not drops_all and pol.conform != "transmit" and not pol.conform.endswith("-transmit"):
                    self.result.unparsed.append(
                        Unparsed(pol.line, pol.text, f"policer in {pm} class {pc.name}: conform-action {pol.conform}")
                    )
                    continue
                cls = self.class_maps.get(pc.name)
                if cls is None or not cls.acls:
                    self.result.notes.append(
                        f"line {pc.line}: policed class {pc.name} in {pm} matches no access-group; not modelled"
                    )
                    continue
                limit = FlowLimit(None, pol.rate, pol.burst if pol.burst is not None else 0)
                for acl in cls.acls:
                    fams = [f for f in (4, 6) if (f, acl) in self.result.filters] or [4]
                    for fam in fams:
                        key = (fam, acl)
                        if key in self.result.filters and key not in converted:
                            if key in bound:
                                self.result.notes.append(
                                    f"{acl} is both an access-group filter and a policed class; kept as an ACL"
                                )
                            else:
                                self._to_class_filter(key, None if drops_all else limit)
                                converted.add(key)
                        self.result.bindings.append(
                            Binding(kind, name, direction, fam, (acl,), line, self._in_use(kind, name), shutdown)
                        )
                        if unsure:
                            text = f"service-policy {pm}"
                            self.result.unparsed.append(Unparsed(line, text, f"{kind} {name}: {unsure}", acl))
                        if drops_all:
                            continue
                        self.result.flow.append(
                            FlowControlSeen(
                                kind, name, direction, fam, None, pol.rate, pol.burst, line=pol.line, text=pol.text
                            )
                        )

    def _to_class_filter(self, key: tuple[int, str], limit: FlowLimit | None) -> None:
        """Rewrite a class ACL into first-match semantics: permit = policed (``limit``; None: a policer that drops
        conforming traffic too, so dropped), deny / no match = not policed."""
        flt = self.result.filters[key]
        flt.kind = "class-map"
        flt.default = Action.PERMIT
        flt.rules = [
            (
                dataclasses.replace(r, action=Action.LIMIT, limit=limit)
                if limit is not None
                else dataclasses.replace(r, action=Action.DENY)
            )
            if r.action is Action.PERMIT
            else dataclasses.replace(r, action=Action.PERMIT)
            for r in flt.rules
        ]


def _parse_police(line: int, text: str, t: list[str]) -> _Police:
    """``police rate N pps [burst M packets] [conform-action X] [exceed-action Y]``; other units: rate None."""
    pol = _Police(line, text)
    try:
        i = t.index("rate") + 1 if "rate" in t else -1
        if 0 < i < len(t) - 1 and t[i].isdigit() and t[i + 1] == "pps":
            pol.rate = int(t[i])
            if "burst" in t:
                j = t.index("burst") + 1
                if j < len(t) - 1 and t[j].isdigit() and t[j + 1] == "packets":
                    pol.burst = int(t[j])
        for word in ("conform-action", "exceed-action"):
            if word in t:
                j = t.index(word) + 1
                if j < len(t):
                    setattr(pol, word.split("-")[0], t[j])
    except (ValueError, IndexError):
        pass
    return pol


def parse(text: str, *, lazy: bool = False) -> ParsedConfig:
    """Parse an IOS / IOS-XE running config. Never raises: what is not understood is reported.

    ``lazy``: every filter's entries are parsed on first read of its rules (the audit path; see
    :mod:`op25b_cfg.audit.lazy`); otherwise only the filters nothing references are.
    """
    return run_parser(_IosParser(lazy), text, "cisco_ios")


__all__ = ["parse"]
