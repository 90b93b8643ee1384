"""Junos configuration groups: ``groups NAME ...`` inherited through ``apply-groups`` (with ``<*>`` wildcards).

A group statement applies below the hierarchy level where ``apply-groups`` is configured; wildcard path
elements (``<*>``, ``<ge-*>``) are matched against the names that exist in the local configuration at that
position, as Junos does. Inherited statements are returned with ``Stmt.group`` set, after the local ones;
the caller gives locally configured statements precedence. What cannot be expanded (nested apply-groups
inside a group, a group that is not defined) is reported, never silently dropped.
"""

from __future__ import annotations

import logging

from op25b_cfg.audit.model import Unparsed
from op25b_cfg.dialects.junos import Stmt
from op25b_cfg.platforms.juniper_junos._algebra import match_wild

log = logging.getLogger(__name__)

SEMANTIC = frozenset({"firewall", "policy-options", "interfaces", "dynamic-profiles"})
"""Sections whose inherited statements matter to the auditor."""


def _is_wild(tok: str) -> bool:
    return tok.startswith("<") and tok.endswith(">")


def _names(vals: tuple[str, ...]) -> list[str]:
    return [v for v in vals if v not in ("[", "]")]


class _Children:
    """Lazy index: the names that follow a path prefix in the local configuration."""

    def __init__(self, local: list[Stmt], depth: int) -> None:
        self.local = local
        self.depth = depth
        self.index: dict[str, dict[tuple[str, ...], set[str]]] = {}

    def get(self, prefix: tuple[str, ...]) -> set[str]:
        if not prefix:
            return {st.path[0] for st in self.local}
        first = prefix[0]
        idx = self.index.get(first)
        if idx is None:
            idx = {}
            for st in self.local:
                p = st.path
                if p[0] != first:
                    continue
                for k in range(1, min(len(p) - 1, self.depth) + 1):
                    idx.setdefault(p[:k], set()).add(p[k])
            self.index[first] = idx
        return idx.get(prefix, set())


def expand(stmts: list[Stmt], lines: list[str]) -> tuple[list[Stmt], list[Unparsed], list[str]]:
    """Local statements followed by the inherited ones; plus what could not be expanded."""
    unparsed: list[Unparsed] = []
    notes: list[str] = []
    groups: dict[str, list[Stmt]] = {}
    local: list[Stmt] = []
    applies: list[tuple[tuple[str, ...], str, int]] = []
    excepts: dict[str, list[tuple[str, ...]]] = {}
    for st in stmts:
        p = st.path
        if p[0] == "groups":
            if len(p) > 2:
                if "apply-groups" in p[2:]:
                    unparsed.append(
                        Unparsed(st.line, lines[st.line - 1].strip(), "apply-groups inside a group is not expanded")
                    )
                    continue
                groups.setdefault(p[1], []).append(Stmt(p[2:], st.line, st.inactive, p[1]))
            continue
        local.append(st)
        if "apply-groups" in p or "apply-groups-except" in p:
            for i, tok in enumerate(p):
                if tok == "apply-groups":
                    applies.extend((p[:i], g, st.line) for g in _names(p[i + 1 :]))
                    break
                if tok == "apply-groups-except":
                    for g in _names(p[i + 1 :]):
                        excepts.setdefault(g, []).append(p[:i])
                    break
    if not applies:
        if groups:
            notes.append(f"configuration groups defined but not applied: {', '.join(sorted(groups))}")
        return local, unparsed, notes
    depth = max((len(gs.path) for g in groups.values() for gs in g), default=0)
    children = _Children(local, depth)
    seen: set[tuple[str, ...]] = set()
    inherited: list[Stmt] = []
    for ctx, g, line in applies:
        if g not in groups:
            unparsed.append(Unparsed(line, lines[line - 1].strip(), f"apply-groups {g}: group not defined"))
            continue
        n = len(ctx)
        for gs in groups[g]:
            gp = gs.path
            if len(gp) <= n or gp[0] not in SEMANTIC:
                continue
            if not all(match_wild(gp[i], ctx[i]) for i in range(n)):
                continue
            for concrete in _instantiate(ctx, gp[n:], children):
                if concrete in seen or any(concrete[: len(c)] == c for c in excepts.get(g, ())):
                    continue
                seen.add(concrete)
                inherited.append(Stmt(concrete, gs.line, gs.inactive, g))
    if inherited:
        notes.append(f"{len(inherited)} statement(s) inherited from configuration groups")
    return local + inherited, unparsed, notes


def _instantiate(ctx: tuple[str, ...], suffix: tuple[str, ...], children: _Children) -> list[tuple[str, ...]]:
    """Concrete paths for a group statement below ``ctx``; wildcards match existing local names."""
    partial = [ctx]
    for i, tok in enumerate(suffix):
        last = i == len(suffix) - 1
        if _is_wild(tok) and not last:
            nxt: list[tuple[str, ...]] = []
            for p in partial:
                nxt.extend((*p, name) for name in sorted(children.get(p)) if match_wild(tok, name))
            partial = nxt
            if not partial:
                return []
        else:
            partial = [(*p, tok) for p in partial]
    return partial
