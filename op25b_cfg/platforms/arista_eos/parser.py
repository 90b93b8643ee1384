"""Running-config parser for Arista EOS.

What it reads (everything else is skipped after a look at its first tokens):

* ``ip access-list [standard] NAME`` / ``ipv6 access-list [standard] NAME`` with sequence numbers, remarks,
  prefixes, wildcard masks, port operators (several ports after ``eq``), TCP flags and ``log``;
  ``counters per-entry`` / ``statistics per-entry`` / ``fragment-rules`` change no verdict and are skipped;
* ``interface`` blocks: ``ip|ipv6 access-group NAME in|out`` and ``shutdown``;
* ``traffic-policies`` (field-sets, ``traffic-policy NAME`` with ``match`` rules per family and the
  ``ipv4-all-default`` / ``ipv6-all-default`` rules; see :mod:`._eos_policy`) bound with ``traffic-policy
  input|output NAME``: a filter ``traffic-policy NAME`` per family; with an ACL in the same direction the two
  are combined into one filter a packet passes only if both pass. What a policy holds that is not modelled is
  Unparsed in its filter, so an audit that evaluates it answers UNKNOWN rather than a certain verdict.
"""

from __future__ import annotations

import functools
import logging

from op25b_cfg.audit.lazy import DeferredFilter, resolve_named
from op25b_cfg.audit.model import Binding, Filter, ParsedConfig, Unparsed
from op25b_cfg.dialects.cisco import Block, FilterBuilder, Groups, run_parser, safe_line, scan, split_lines
from op25b_cfg.platforms.arista_eos._policy import PolicyReader, combine, policy_filter_name
from op25b_cfg.rules import Rule

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
        self.policies = PolicyReader()
        # traffic-policy bindings: (interface, direction, policy, line, shutdown)
        self.policy_bindings: list[tuple[str, str, str, int, bool]] = []
        self.lines: list[str] = []

    def run(self, text: str) -> ParsedConfig:
        self.lines = split_lines(text)
        res = scan(self.lines, _classify, eos_banners=True)
        self.result.notes.extend(res.notes)
        handlers = {"acl": self._acl, "interface": self._interface, "traffic-policies": self._traffic_policies}
        for blk in res.blocks:
            safe_line(self.result, blk.line, blk.text, blk.kind, handlers[blk.kind], blk)
        self.filters.build({(b.family, f) for b in self.result.bindings for f in b.filters}, self.lazy)
        self._bind_policies()
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
        policies: list[tuple[str, str, int]] = []
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
                if len(t) == 3 and t[1] in ("input", "output"):
                    policies.append(("in" if t[1] == "input" else "out", t[2], line))
                else:
                    reason = f"interface {name}: traffic-policy input|output NAME expected"
                    self.result.unparsed.append(Unparsed(line, s, reason))
        for b in found:
            b.shutdown = shutdown
            self.result.bindings.append(b)
        self.policy_bindings.extend((name, d, p, ln, shutdown) for d, p, ln in policies)

    def _traffic_policies(self, blk: Block) -> None:
        lines = self.lines
        items = []
        for line, s in blk.children:
            raw = lines[line - 1]
            items.append((line, len(raw) - len(raw.lstrip()), s))
        self.policies.read(items)

    def _bind_policies(self) -> None:
        """The policies as filters, bound where an interface names them (combined with an ACL bound there in
        the same direction: a packet must pass both)."""
        result = self.result
        result.filters.update(self.policies.filters(result.unparsed.append))
        acl_at: dict[tuple[str, str, int], list[Binding]] = {}
        for b in result.bindings:
            acl_at.setdefault((b.name, b.direction, b.family), []).append(b)
        last = {(iface, d): (policy, line, sd) for iface, d, policy, line, sd in self.policy_bindings}
        for (iface, direction), (policy, line, shutdown) in last.items():  # one policy per direction: the last
            fname = policy_filter_name(policy)
            if policy not in self.policies.policies:
                reason = f"interface {iface}: traffic-policy {policy} is not defined"
                result.unparsed.append(Unparsed(line, self.lines[line - 1].strip(), reason, fname))
            for fam in (4, 6):
                pol = result.filters.get((fam, fname))
                acls = [(b, result.filter(fam, b.filters[0])) for b in acl_at.get((iface, direction, fam), [])]
                if pol is None or not acls or any(acl is None or len(b.filters) != 1 for b, acl in acls):
                    # alone (or beside an undefined ACL, which the engine reports): the policy decides
                    result.bindings.append(Binding("interface", iface, direction, fam, (fname,), line, None, shutdown))
                    continue
                for acl_binding, acl in acls:
                    assert acl is not None
                    both = DeferredFilter(f"{fname} + ACL {acl.name}", fam, line=pol.line, kind="traffic-policy")
                    both.defer_call(functools.partial(self._combined, pol, acl, both.name))
                    result.filters[(fam, both.name)] = both
                    acl_binding.filters = (both.name,)

    def _combined(self, policy: Filter, acl: Filter, name: str) -> list[Rule]:
        """The rules of a policy + ACL filter; the lines of either that are not understood count in it too."""
        result = self.result
        resolve_named(result, [acl.name])
        rules = combine(policy, acl).rules
        for u in [u for u in result.unparsed if u.filter in (acl.name, policy.name)]:
            result.unparsed.append(Unparsed(u.line, u.text, u.reason, name))
        return rules


def parse(text: str, *, lazy: bool = False) -> ParsedConfig:
    """Parse an Arista EOS running config. Never raises: what is not understood is reported.

    ``lazy``: every filter's entries are parsed on first read of its rules (the audit path; see
    :mod:`op25b_cfg.audit.lazy`); otherwise only the filters nothing references are.
    """
    return run_parser(_EosParser(lazy), text, "arista_eos")
