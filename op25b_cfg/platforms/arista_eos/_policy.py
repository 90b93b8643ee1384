"""Arista EOS traffic-policies (``traffic-policies`` block) as filters of the rule model.

What is modelled exactly (everything else in a policy is reported as Unparsed, naming the policy's filter):

* ``field-set ipv4 prefix NAME`` / ``field-set ipv6 prefix NAME`` (prefixes, several per line) and
  ``field-set l4-port NAME`` (``25,587,1000-2000``);
* ``traffic-policy NAME`` with ``match RULE ipv4|ipv6`` rules, evaluated per family in their order (first match);
  in a rule: ``source prefix ...`` / ``destination prefix ...`` (prefixes or ``field-set NAME ...``) and
  ``protocol P [source port LIST|field-set NAMES] [destination port LIST|field-set NAMES]`` lines (several
  protocol lines: any of them); qualifiers of a protocol that is never TCP (``protocol icmp type echo``) never
  change the fate of TCP and are kept for the whole protocol;
* ``actions``: ``drop`` drops; ``count``, ``log``, ``set dscp``, ``set traffic class`` and no action forward;
* the implicit ``ipv4-all-default`` / ``ipv6-all-default`` rules decide what no rule matches: forward, unless
  their actions say ``drop``.

A policy is a :class:`~op25b_cfg.audit.model.Filter` per family named ``traffic-policy NAME`` (kind
``traffic-policy``), so it never collides with an ACL of the same name. Where an interface also has an ACL in the
same direction, a packet passes only if both pass: :func:`combine` builds that as one first-match filter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from op25b_cfg.audit.model import Filter, Unparsed
from op25b_cfg.dialects.cisco import (
    PROTOCOL_NAMES,
    AceError,
    NeverMatches,
    intersect_ports,
    port_num,
    prefix_match,
)
from op25b_cfg.rules import Action, AddrMatch, FlagMatch, PortRange, Rule

PREFIX = "traffic-policy "
_FORWARD_ACTIONS = frozenset({"count", "log"})
_DEFAULT_RULES = {"ipv4-all-default": 4, "ipv6-all-default": 6}


def policy_filter_name(name: str) -> str:
    """The filter name of traffic-policy ``name``."""
    return PREFIX + name


@dataclass
class _Match:
    name: str
    family: int
    line: int
    text: str
    criteria: list[tuple[int, str]] = field(default_factory=list)
    actions: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _Policy:
    name: str
    line: int
    matches: list[_Match] = field(default_factory=list)
    bad: list[tuple[int, str, str]] = field(default_factory=list)  # (line, text, reason) at policy level


class PolicyReader:
    """Reads one config's ``traffic-policies`` blocks (lines with their indentation) into filters."""

    def __init__(self) -> None:
        self.prefix_sets: dict[tuple[int, str], list[tuple[int, str]]] = {}
        self.port_sets: dict[str, list[tuple[int, str]]] = {}
        self.policies: dict[str, _Policy] = {}
        self.bad_sets: dict[str, str] = {}  # field-set name -> why it cannot be used

    def read(self, items: list[tuple[int, int, str]]) -> None:
        """``items``: (line, indentation, stripped text) of the children of a ``traffic-policies`` block."""
        members: list[tuple[int, str]] | None = None
        policy: _Policy | None = None
        match: _Match | None = None
        in_actions = False
        depth = {"set": -1, "policy": -1, "match": -1, "actions": -1}
        for line, ind, s in items:
            t = s.split()
            if members is not None and ind > depth["set"]:
                members.append((line, s))
                continue
            members = None
            if policy is not None and ind > depth["policy"]:
                if match is not None and ind > depth["match"]:
                    if in_actions and ind > depth["actions"]:
                        match.actions.append((line, s))
                    elif s == "actions":
                        in_actions, depth["actions"] = True, ind
                    else:
                        in_actions = False
                        match.criteria.append((line, s))
                    continue
                match, in_actions = None, False
                if t[0] == "match" and len(t) == 3 and t[2] in ("ipv4", "ipv6"):
                    match = _Match(t[1], 4 if t[2] == "ipv4" else 6, line, s)
                    policy.matches.append(match)
                    depth["match"] = ind
                elif t[0] == "counter" or t[0] == "description":
                    pass  # counter declarations and descriptions change no packet's fate
                else:
                    policy.bad.append((line, s, f"'{s}' in traffic-policy {policy.name} is not modelled"))
                continue
            policy = match = None
            if t[0] == "field-set" and len(t) == 4 and t[1] in ("ipv4", "ipv6") and t[2] == "prefix":
                members = self.prefix_sets.setdefault((4 if t[1] == "ipv4" else 6, t[3]), [])
                depth["set"] = ind
            elif t[0] == "field-set" and len(t) == 3 and t[1] == "l4-port":
                members = self.port_sets.setdefault(t[2], [])
                depth["set"] = ind
            elif t[0] == "traffic-policy" and len(t) == 2:
                policy = self.policies.setdefault(t[1], _Policy(t[1], line))
                depth["policy"] = ind
            elif t[0] == "field-set" and len(t) > 2:
                self.bad_sets[t[-1]] = f"field-set type '{' '.join(t[1:-1])}' is not modelled"
            # other block-level settings (counter interface ..., no traffic-policy X) change no verdict

    # ----------------------------------------------------------------------------------------------- filters
    def filters(self, unparsed: Callable[[Unparsed], None]) -> dict[tuple[int, str], Filter]:
        """One filter per policy and family; what cannot be modelled goes to ``unparsed``."""
        out: dict[tuple[int, str], Filter] = {}
        for pol in self.policies.values():
            fname = policy_filter_name(pol.name)
            for line, text, reason in pol.bad:
                unparsed(Unparsed(line, text, reason, fname))
            for fam in (4, 6):
                out[(fam, fname)] = Filter(fname, fam, [], Action.PERMIT, pol.line, "traffic-policy")
            for m in pol.matches:
                flt = out[(m.family, fname)]
                try:
                    action = self._action(m)
                    if m.name in _DEFAULT_RULES:
                        if m.criteria:
                            raise AceError(f"match criteria in {m.name} are not modelled")
                        flt.default = action
                        continue
                    flt.rules.extend(self._rules(m, action))
                except NeverMatches:
                    continue
                except AceError as exc:
                    where = m.actions[0][0] if "action" in str(exc) and m.actions else m.line
                    unparsed(Unparsed(where, m.text, f"traffic-policy {pol.name} {m.name}: {exc}", fname))
        return out

    @staticmethod
    def _action(m: _Match) -> Action:
        action = Action.PERMIT
        for _, s in m.actions:
            t = s.split()
            if t == ["drop"]:
                action = Action.DENY
            elif t[0] in _FORWARD_ACTIONS or (t[0] == "set" and t[1:2] in (["dscp"], ["traffic"])):
                continue
            else:
                raise AceError(f"action '{s}' is not modelled")
        return action

    def _rules(self, m: _Match, action: Action) -> list[Rule]:
        fam = m.family
        src: tuple[AddrMatch, ...] = ()
        dst: tuple[AddrMatch, ...] = ()
        protos: list[tuple[int | None, tuple[PortRange, ...], tuple[PortRange, ...]]] = []
        seen: set[str] = set()
        for _, s in m.criteria:
            t = s.split()
            if t[0] in ("source", "destination") and len(t) > 2 and t[1] == "prefix":
                if t[0] in seen:
                    raise AceError(f"'{t[0]} prefix' given twice is not modelled")
                seen.add(t[0])
                pats = self._prefixes(t[2:], fam)
                if not pats:
                    raise NeverMatches(f"{t[0]} prefix matches nothing")
                if t[0] == "source":
                    src = pats
                else:
                    dst = pats
            elif t[0] == "protocol" and len(t) > 1:
                protos.append(self._protocol(t[1:], fam))
            else:
                raise AceError(f"match criterion '{s}' is not modelled")
        if not protos:
            protos = [(None, (), ())]
        text = m.text
        return [
            Rule(action, fam, p, m.name, src=src, dst=dst, src_ports=sp, dst_ports=dp, line=m.line, text=text)
            for p, sp, dp in protos
        ]

    def _prefixes(self, toks: list[str], fam: int) -> tuple[AddrMatch, ...]:
        if toks[0] != "field-set":
            return tuple(dict.fromkeys(prefix_match(x, fam) for x in toks))
        out: list[AddrMatch] = []
        for name in toks[1:]:
            if name in self.bad_sets:
                raise AceError(f"field-set {name}: {self.bad_sets[name]}")
            lines = self.prefix_sets.get((fam, name))
            if lines is None:
                raise AceError(f"IPv{fam} prefix field-set {name} is not defined")
            for _, s in lines:
                words = s.split()
                if words[0] == "except":
                    raise AceError(f"field-set {name}: 'except' is not modelled")
                out.extend(prefix_match(x, fam) for x in words)
        return tuple(dict.fromkeys(out))

    def _ports(self, toks: list[str], i: int) -> tuple[tuple[PortRange, ...], int]:
        """``LIST`` (``25,587,1000-2000``, maybe several words) or ``field-set NAME ...`` at ``toks[i]``."""
        ranges: list[PortRange] = []
        if i < len(toks) and toks[i] == "field-set":
            i += 1
            while i < len(toks) and toks[i] not in ("source", "destination", "flags"):
                lines = self.port_sets.get(toks[i])
                if lines is None:
                    raise AceError(f"l4-port field-set {toks[i]} is not defined")
                ranges.extend(r for _, s in lines for w in s.split() for r in _port_list(w))
                i += 1
        else:
            while i < len(toks) and toks[i] not in ("source", "destination", "flags"):
                ranges.extend(_port_list(toks[i]))
                i += 1
        if not ranges:
            raise AceError("port list missing or empty")
        return tuple(dict.fromkeys(ranges)), i

    def _protocol(self, toks: list[str], fam: int) -> tuple[int | None, tuple[PortRange, ...], tuple[PortRange, ...]]:
        name = toks[0]
        if name.isdigit() and int(name) <= 255:
            proto = int(name)
        elif (name == "icmp" and fam == 6) or name == "icmpv6":
            proto = 58
        elif name in PROTOCOL_NAMES:
            proto = PROTOCOL_NAMES[name]
        else:
            raise AceError(f"protocol '{name}' is not modelled")
        sports: tuple[PortRange, ...] = ()
        dports: tuple[PortRange, ...] = ()
        i = 1
        while i < len(toks):
            w = toks[i]
            if proto not in (6, 17, 132):
                return proto, (), ()  # qualifiers of a protocol that is never TCP: TCP's fate is the same
            if w in ("source", "destination") and i + 1 < len(toks) and toks[i + 1] == "port":
                got, i = self._ports(toks, i + 2)
                if w == "source":
                    sports = intersect_ports(sports, got) if sports else got
                else:
                    dports = intersect_ports(dports, got) if dports else got
                continue
            raise AceError(f"'protocol {' '.join(toks)}': '{w}' is not modelled")
        return proto, sports, dports


def _port_list(word: str) -> list[PortRange]:
    """``25,587,1000-2000`` as ranges."""
    out: list[PortRange] = []
    for part in word.split(","):
        if not part:
            continue
        lo, dash, hi = part.partition("-")
        a, b = port_num(lo), port_num(hi) if dash else port_num(lo)
        if a > b:
            raise AceError(f"empty port range {part}")
        out.append(PortRange(a, b))
    return out


# --------------------------------------------------------------------------------------------- ACL + policy


def _and_addrs(a: tuple[AddrMatch, ...], b: tuple[AddrMatch, ...]) -> tuple[AddrMatch, ...] | None:
    """Patterns matching both pattern lists (``()`` = any); None: nothing matches both."""
    if not a:
        return b
    if not b:
        return a
    out = [
        AddrMatch(x.family, x.value | y.value, x.mask | y.mask)
        for x in a
        for y in b
        if x.family == y.family and not (x.value ^ y.value) & x.mask & y.mask
    ]
    return tuple(dict.fromkeys(out)) or None


def _and_flags(a: FlagMatch, b: FlagMatch) -> FlagMatch | None:
    if not a:
        return b
    if not b:
        return a
    out = tuple(dict.fromkeys((m1 | m2, v1 | v2) for m1, v1 in a for m2, v2 in b if not (v1 ^ v2) & m1 & m2))
    return out or None


def conjoin(a: Rule, b: Rule) -> Rule | None:
    """``b`` restricted to the packets ``a`` also matches (``b``'s action, line and text), or None."""
    if a.protocol is not None and b.protocol is not None and a.protocol != b.protocol:
        return None
    src, dst = _and_addrs(a.src, b.src), _and_addrs(a.dst, b.dst)
    flags = _and_flags(a.tcp_flags, b.tcp_flags)
    if src is None or dst is None or flags is None:
        return None
    try:
        sports, dports = intersect_ports(a.src_ports, b.src_ports), intersect_ports(a.dst_ports, b.dst_ports)
    except NeverMatches:
        return None
    return dataclasses.replace(
        b,
        protocol=a.protocol if b.protocol is None else b.protocol,
        src=src,
        dst=dst,
        src_except=tuple(dict.fromkeys(a.src_except + b.src_except)),
        dst_except=tuple(dict.fromkeys(a.dst_except + b.dst_except)),
        src_ports=sports,
        dst_ports=dports,
        tcp_flags=flags,
    )


def combine(policy: Filter, acl: Filter) -> Filter:
    """One first-match filter for a traffic-policy and an ACL on the same interface and direction: a packet
    passes only when the policy forwards it and the ACL permits it. Each forwarding policy rule is followed
    by the ACL's entries restricted to it (and the ACL's default), so the deciding line is the policy's drop
    or the ACL entry that decides."""
    rules: list[Rule] = []
    name = f"{policy.name} + ACL {acl.name}"

    def then_acl(scope: Rule | None) -> None:
        for r in acl.rules:
            c = r if scope is None else conjoin(scope, r)
            if c is not None:
                rules.append(c)

    for r in policy.rules:
        if r.action is Action.DENY:
            rules.append(r)
            continue
        then_acl(r)
        rules.append(dataclasses.replace(r, action=acl.default, text=f"{r.text} (then the end of ACL {acl.name})"))
    default = policy.default
    if default is Action.PERMIT:
        then_acl(None)
        default = acl.default
    return Filter(name, policy.family, rules, default, policy.line, "traffic-policy")
