"""Running-config parser for Arista EOS.

What it reads (everything else is skipped after a look at its first tokens):

* ``ip access-list [standard] NAME`` / ``ipv6 access-list [standard] NAME`` with sequence numbers, remarks,
  prefixes, wildcard masks, port operators (several ports after ``eq``), TCP flags and ``log``;
  ``counters per-entry`` / ``statistics per-entry`` / ``fragment-rules`` change no verdict and are skipped;
* ``interface`` blocks: ``ip|ipv6 access-group NAME in|out`` and ``shutdown``;
* traffic-policies are recognised but not modelled: every ``traffic-policy NAME`` definition and every
  ``traffic-policy input|output NAME`` on an interface is reported as Unparsed (and in the notes), so an
  audit can say "not understood" instead of ignoring a policy that may drop or pass port 25.
"""

from __future__ import annotations

import logging

from op25b_cfg.audit.model import Binding, ParsedConfig, Unparsed
from op25b_cfg.audit.parsers._cisco import Block, FilterBuilder, Groups, run_parser, safe_line, scan, split_lines

log = logging.getLogger(__name__)

PLATFORM = "arista_eos"
_ACL_SETTINGS = frozenset({"counters", "statistics", "fragment-rules", "hardware", "no"})


def _classify(toks: list[str]) -> str | None:
    t0 = toks[0]
    n = len(toks)
    if t0 == "interface":
        return "interface" if n > 1 else None
    if (t0 == "ip" or t0 == "ipv6") and n > 2 and toks[1] == "access-list":
        if n == 3 or (n == 4 and toks[2] == "standard"):
            return "acl"
        return None
    if t0 == "traffic-policies":
        return "traffic-policies"
    return None


class _EosParser:
    def __init__(self, lazy: bool = False) -> None:
        self.lazy = lazy
        self.result = ParsedConfig(PLATFORM)
        self.groups = Groups()
        self.filters = FilterBuilder(self.result, self.groups, "eos", _ACL_SETTINGS)

    def run(self, text: str) -> ParsedConfig:
        res = scan(split_lines(text), _classify, eos_banners=True)
        self.result.notes.extend(res.notes)
        handlers = {"acl": self._acl, "interface": self._interface, "traffic-policies": self._traffic_policies}
        for blk in res.blocks:
            safe_line(self.result, blk.line, blk.text, blk.kind, handlers[blk.kind], blk)
        self.filters.build({(b.family, f) for b in self.result.bindings for f in b.filters}, self.lazy)
        return self.result

    def _acl(self, blk: Block) -> None:
        toks = blk.tokens
        family = 4 if toks[0] == "ip" else 6
        standard = len(toks) == 4
        acl = self.filters.acl(family, toks[-1], blk.line, standard)
        acl.entries.extend(blk.children)

    def _interface(self, blk: Block) -> None:
        name = blk.tokens[1]
        found: list[Binding] = []
        shutdown = False
        for line, s in blk.children:
            if s == "shutdown":
                shutdown = True
            elif s.startswith(("ip access-group ", "ipv6 access-group ")):
                t = s.split()
                if len(t) == 4 and t[3] in ("in", "out"):
                    found.append(Binding("interface", name, t[3], 4 if t[0] == "ip" else 6, (t[2],), line))
                else:
                    self.result.unparsed.append(Unparsed(line, s, f"interface {name}: direction in|out expected"))
            elif s.startswith("traffic-policy "):
                t = s.split()
                policy = t[-1] if len(t) == 3 else "?"
                reason = (
                    f"interface {name}: traffic-policy {policy} is attached but traffic-policies are not modelled;"
                    " it may drop or pass port-25 traffic"
                )
                self.result.unparsed.append(Unparsed(line, s, reason, f"traffic-policy {policy}"))
                self.result.notes.append(f"line {line}: {reason}")
        for b in found:
            b.shutdown = shutdown
            self.result.bindings.append(b)

    def _traffic_policies(self, blk: Block) -> None:
        for line, s in blk.children:
            if s.startswith("traffic-policy "):
                t = s.split()
                name = t[1] if len(t) == 2 else s[len("traffic-policy ") :]
                reason = f"traffic-policy {name} is not modelled (EOS traffic-policies are recognised only)"
                self.result.unparsed.append(Unparsed(line, s, reason, f"traffic-policy {name}"))
                self.result.notes.append(f"line {line}: {reason}")


def parse(text: str, *, lazy: bool = False) -> ParsedConfig:
    """Parse an Arista EOS running config. Never raises: what is not understood is reported.

    ``lazy``: every filter's entries are parsed on first read of its rules (the audit path; see
    :mod:`op25b_cfg.audit.parsers._lazy`); otherwise only the filters nothing references are.
    """
    return run_parser(_EosParser(lazy), text, "arista_eos")
