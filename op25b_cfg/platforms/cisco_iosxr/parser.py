"""Running-config parser for Cisco IOS-XR (incl. BNG dynamic-templates).

What it reads (everything else is skipped after a look at its first tokens):

* ``ipv4 access-list NAME`` / ``ipv6 access-list NAME`` with sequence numbers, remarks, prefixes, wildcard
  masks, ``net-group`` / ``port-group`` object-group references, port operators, TCP flags and ``log``;
* ``object-group network ipv4|ipv6 NAME`` and ``object-group port NAME``;
* ``interface`` blocks: ``ipv4|ipv6 access-group [common C] NAME ingress|egress``, ``shutdown``. A common
  ACL is evaluated before the interface ACL, so the binding's chain is ``(C, NAME)``;
* ``dynamic-template`` / ``type ppp|ipsubscriber|service NAME`` blocks with the same access-group lines
  (Binding kind ``dynamic-template``). A ppp/ipsubscriber template is ``in_use`` when a control policy
  ``activate``s it; a service template is activated by RADIUS, which a config cannot show (None).
"""

from __future__ import annotations

import logging
import re

from op25b_cfg.audit.model import Binding, ParsedConfig, Unparsed
from op25b_cfg.dialects.cisco import (
    Block,
    FilterBuilder,
    Groups,
    RawGroup,
    run_parser,
    safe_line,
    scan,
    split_lines,
)

log = logging.getLogger(__name__)

PLATFORM = "cisco_iosxr"
_ACTIVATE = re.compile(r"\bactivate\s+dynamic-template\s+(\S+)")
_DIRECTIONS = {"ingress": "in", "egress": "out"}


def _classify(toks: list[str]) -> str | None:
    t0 = toks[0]
    n = len(toks)
    if t0 == "interface":
        return "interface" if n > 1 else None
    if (t0 == "ipv4" or t0 == "ipv6") and n >= 3 and toks[1] == "access-list":
        return "acl"
    if t0 == "object-group" and n > 2:
        return "object-group"
    if t0 == "dynamic-template" and n == 1:
        return "dynamic-template"
    return None


class _XrParser:
    def __init__(self, lazy: bool = False) -> None:
        self.lazy = lazy
        self.result = ParsedConfig(PLATFORM)
        self.groups = Groups()
        self.filters = FilterBuilder(self.result, self.groups, "xr")
        self.activated: set[str] = set()

    def run(self, text: str) -> ParsedConfig:
        res = scan(split_lines(text), _classify, watch="activate dynamic-template")
        self.result.notes.extend(res.notes)
        for _, s in res.watched:
            m = _ACTIVATE.search(s)
            if m:
                self.activated.add(m.group(1))
        handlers = {
            "acl": self._acl,
            "object-group": self._object_group,
            "interface": self._interface,
            "dynamic-template": self._dynamic_template,
        }
        for blk in res.blocks:
            safe_line(self.result, blk.line, blk.text, blk.kind, handlers[blk.kind], blk)
        self.filters.build({(b.family, f) for b in self.result.bindings for f in b.filters}, self.lazy)
        return self.result

    def _acl(self, blk: Block) -> None:
        family = 4 if blk.tokens[0] == "ipv4" else 6
        acl = self.filters.acl(family, blk.tokens[2], blk.line)
        if len(blk.tokens) > 3:  # one-line form: ipv4 access-list NAME [seq] permit ...
            acl.entries.append((blk.line, blk.text))
            acl.bodies[blk.line] = " ".join(blk.tokens[3:])
        acl.entries.extend(blk.children)

    def _object_group(self, blk: Block) -> None:
        toks = blk.tokens
        if toks[1] == "network" and len(toks) == 4 and toks[2] in ("ipv4", "ipv6"):
            grp = RawGroup("network", toks[3], blk.line, family=4 if toks[2] == "ipv4" else 6)
        elif toks[1] == "port" and len(toks) == 3:
            grp = RawGroup("port", toks[2], blk.line)
        else:
            return
        grp.members.extend(blk.children)
        self.groups.add(grp)

    def _access_group(self, kind: str, name: str, line: int, s: str) -> Binding | None:
        """``ipv4|ipv6 access-group [common C] [NAME] ingress|egress [options]``."""
        t = s.split()
        fam = 4 if t[0] == "ipv4" else 6
        rest = t[2:]
        direction = next((d for d in rest if d in _DIRECTIONS), None)
        if direction is None:
            self.result.unparsed.append(Unparsed(line, s, f"{kind} {name}: direction ingress|egress expected"))
            return None
        names = rest[: rest.index(direction)]
        if names and names[0] == "common":
            names = names[1:]
        if not names or len(names) > 2:
            self.result.unparsed.append(Unparsed(line, s, f"{kind} {name}: access-group form not understood"))
            return None
        return Binding(kind, name, _DIRECTIONS[direction], fam, tuple(names), line)

    def _interface(self, blk: Block) -> None:
        name = blk.tokens[1]
        found: list[Binding] = []
        shutdown = False
        for line, s in blk.children:
            if s == "shutdown":
                shutdown = True
            elif s.startswith(("ipv4 access-group ", "ipv6 access-group ")):
                b = self._access_group("interface", name, line, s)
                if b is not None:
                    found.append(b)
        for b in found:
            b.shutdown = shutdown
            self.result.bindings.append(b)

    def _dynamic_template(self, blk: Block) -> None:
        name: str | None = None
        ttype = ""
        for line, s in blk.children:
            if s.startswith("type "):
                t = s.split()
                name, ttype = (t[2], t[1]) if len(t) == 3 else (None, "")
                continue
            if name is None or not s.startswith(("ipv4 access-group ", "ipv6 access-group ")):
                continue
            b = self._access_group("dynamic-template", name, line, s)
            if b is not None:
                b.in_use = None if ttype == "service" else name in self.activated
                self.result.bindings.append(b)


def parse(text: str, *, lazy: bool = False) -> ParsedConfig:
    """Parse an IOS-XR running config. Never raises: what is not understood is reported.

    ``lazy``: every filter's entries are parsed on first read of its rules (the audit path; see
    :mod:`op25b_cfg.audit.lazy`); otherwise only the filters nothing references are.
    """
    return run_parser(_XrParser(lazy), text, "cisco_iosxr")
