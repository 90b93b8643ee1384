"""The packet header space as binary decision diagrams (BDDs).

A set of packets of one address family is a BDD over the bits of six header fields, in this variable order::

    protocol (8) | destination port (16) | source address (32/128) | destination address (32/128)
    | source port (16) | TCP flags (8)

Every match the rule model can express is a small BDD: an :class:`~op25b_cfg.rules.AddrMatch` (prefix or
non-contiguous wildcard mask) is a cube over the bits its mask cares about, a port range is the union of at most
30 prefix cubes, a :data:`~op25b_cfg.rules.FlagMatch` is a union of cubes over the flag bits, except-lists are
subtracted. Union, intersection and difference are exact, canonical and cheap, which is what first-match evaluation
of a long ACL needs (see docs/decisions.md, "Header space as BDDs").

The BDD package is ``dd``: its CUDD binding (``dd.cudd``, shipped in the Linux wheels) when importable, else its
pure-Python implementation (``dd.autoref``, same API, correct but about 30x slower). One manager serves the whole
process; :class:`HeaderSpace` objects are cheap views on it with per-family caches. Not thread-safe.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from op25b_cfg.rules import TCP, AddrMatch, FlagMatch, PortRange, Rule

log = logging.getLogger(__name__)

# dd imports networkx at import time for its optional graph export, which op25b never uses: 100-250 ms of
# every audit's start-up. It is kept out while dd loads (dd then leaves that helper unset) and only if nothing
# has imported it yet; afterwards ``import networkx`` works as usual.
_BLOCK_NETWORKX = "networkx" not in sys.modules
if _BLOCK_NETWORKX:
    sys.modules["networkx"] = None  # type: ignore[assignment]  # None in sys.modules: ImportError on import
try:  # pragma: no cover - which backend depends on the platform's wheel
    from dd import cudd as _backend

    BACKEND = "cudd"
except ImportError:  # pragma: no cover
    from dd import autoref as _backend

    BACKEND = "autoref"
finally:
    if _BLOCK_NETWORKX and sys.modules.get("networkx", 0) is None:
        del sys.modules["networkx"]

Node = Any
"""A BDD node of the shared manager (``dd.cudd.Function`` or ``dd.autoref.Function``)."""

PROTO, DPORT, SRC, DST, SPORT, FLAGS = "proto", "dport", "src", "dst", "sport", "flags"
FIELDS: tuple[str, ...] = (PROTO, DPORT, SRC, DST, SPORT, FLAGS)
_WIDTH = {PROTO: 8, DPORT: 16, SPORT: 16, FLAGS: 8}


def field_bits(field: str, family: int) -> int:
    """Width of ``field`` in bits for ``family``."""
    if field in (SRC, DST):
        return 32 if family == 4 else 128
    return _WIDTH[field]


def _var_names(field: str, family: int) -> list[str]:
    tag = {PROTO: "p", DPORT: "dp", SRC: f"s{family}_", DST: f"d{family}_", SPORT: "sp", FLAGS: "fl"}[field]
    return [f"{tag}{i}" for i in range(field_bits(field, family))]


_MANAGER_LOCK = threading.Lock()


def manager() -> Any:
    """The process-wide BDD manager, with the variables of both families declared (dynamic reordering off:
    the fixed order above keeps rule BDDs small and operations predictable). Created once even when the
    first audits run in parallel threads (``audit --live``): nodes of two managers cannot be combined."""
    with _MANAGER_LOCK:
        return _new_manager()


@lru_cache(maxsize=1)
def _new_manager() -> Any:
    bdd = _backend.BDD()
    bdd.configure(reordering=False)
    seen: list[str] = []
    for fam in (4, 6):
        for f in FIELDS:
            for name in _var_names(f, fam):
                if name not in seen:
                    seen.append(name)
    bdd.declare(*seen)
    log.debug("BDD manager (%s) with %d variables", BACKEND, len(seen))
    return bdd


def port_prefixes(lo: int, hi: int, bits: int = 16) -> list[tuple[int, int]]:
    """Split the inclusive range ``lo..hi`` into (value, mask) prefixes of a ``bits``-wide field.

    >>> port_prefixes(20, 30)
    [(20, 65532), (24, 65532), (28, 65534), (30, 65535)]
    >>> port_prefixes(0, 65535)
    [(0, 0)]
    """
    full = (1 << bits) - 1
    out: list[tuple[int, int]] = []
    lo = max(lo, 0)
    hi = min(hi, full)
    while lo <= hi:
        size = lo & -lo if lo else 1 << bits
        while size > hi - lo + 1:
            size >>= 1
        out.append((lo, full & ~(size - 1)))
        lo += size
    return out


@dataclass(frozen=True)
class Point:
    """One concrete packet header, as integers."""

    family: int
    src: int
    dst: int
    protocol: int
    src_port: int
    dst_port: int
    flags: int

    def src_text(self) -> str:
        return str(ipaddress.ip_address(self.src) if self.family == 4 else ipaddress.IPv6Address(self.src))

    def dst_text(self) -> str:
        return str(ipaddress.ip_address(self.dst) if self.family == 4 else ipaddress.IPv6Address(self.dst))


def flags_text(flags: int) -> str:
    """TCP flags byte as letters, e.g. ``S``, ``A``, ``SA``; ``.`` for none.

    >>> flags_text(0x02), flags_text(0x12), flags_text(0)
    ('S', 'SA', '.')
    """
    letters = [("F", 0x01), ("S", 0x02), ("R", 0x04), ("P", 0x08), ("A", 0x10), ("U", 0x20), ("E", 0x40), ("C", 0x80)]
    out = "".join(ch for ch, bit in letters if flags & bit)
    return out or "."


class HeaderSpace:
    """Sets of packets of one address family, with builders for every match of the rule model."""

    def __init__(self, family: int) -> None:
        if family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {family!r}")
        self.family = family
        self.bdd = manager()
        self.true: Node = self.bdd.true
        self.false: Node = self.bdd.false
        self._names = {f: _var_names(f, family) for f in FIELDS}
        self._cube_cache: dict[tuple[str, int, int], Node] = {}
        self._ports_cache: dict[tuple[str, tuple[PortRange, ...]], Node] = {}
        self._flags_cache: dict[FlagMatch, Node] = {}
        self._addr_cache: dict[tuple[str, tuple[AddrMatch, ...], tuple[AddrMatch, ...]], Node] = {}
        self._rule_cache: dict[tuple[object, ...], Node] = {}
        self._pick_cache: dict[tuple[Node, tuple[tuple[str, tuple[int, ...]], ...]], Point] = {}

    # ------------------------------------------------------------------ builders

    def pattern(self, field: str, value: int, mask: int) -> Node:
        """Packets whose ``field`` has ``value`` on the bits set in ``mask`` (a ternary pattern)."""
        key = (field, value, mask)
        node = self._cube_cache.get(key)
        if node is not None:
            return node
        names = self._names[field]
        width = len(names)
        cube = {names[i]: bool((value >> (width - 1 - i)) & 1) for i in range(width) if (mask >> (width - 1 - i)) & 1}
        node = self.bdd.cube(cube) if cube else self.true
        if len(self._cube_cache) < 200_000:
            self._cube_cache[key] = node
        return node

    def value(self, field: str, value: int) -> Node:
        """Packets whose ``field`` equals ``value``."""
        return self.pattern(field, value, (1 << field_bits(field, self.family)) - 1)

    def addrs(self, field: str, matches: Sequence[AddrMatch], excepts: Sequence[AddrMatch] = ()) -> Node:
        """Packets whose address ``field`` (SRC or DST) matches any of ``matches`` (empty: any) and none of
        ``excepts``. Patterns of another family match nothing."""
        key = (field, tuple(matches), tuple(excepts))
        node = self._addr_cache.get(key)
        if node is not None:
            return node
        if matches:
            node = self.false
            for m in matches:
                if m.family == self.family:
                    node = node | self.pattern(field, m.value & m.mask, m.mask)
        else:
            node = self.true
        for e in excepts:
            if e.family == self.family:
                node = node & ~self.pattern(field, e.value & e.mask, e.mask)
        if len(self._addr_cache) < 50_000:
            self._addr_cache[key] = node
        return node

    def ports(self, field: str, ranges: Sequence[PortRange]) -> Node:
        """Packets whose port ``field`` (SPORT or DPORT) lies in any of ``ranges`` (empty: any)."""
        if not ranges:
            return self.true
        key = (field, tuple(ranges))
        node = self._ports_cache.get(key)
        if node is not None:
            return node
        node = self.false
        for r in ranges:
            for value, mask in port_prefixes(r.lo, r.hi):
                node = node | self.pattern(field, value, mask)
        self._ports_cache[key] = node
        return node

    def proto(self, protocol: int | None) -> Node:
        """Packets of IP protocol ``protocol`` (None: any)."""
        return self.true if protocol is None else self.value(PROTO, protocol)

    def flags(self, match: FlagMatch) -> Node:
        """Packets whose TCP flags byte matches any (mask, value) alternative (empty: any)."""
        if not match:
            return self.true
        node = self._flags_cache.get(match)
        if node is None:
            node = self.false
            for mask, value in match:
                node = node | self.pattern(FLAGS, value & mask, mask)
            self._flags_cache[match] = node
        return node

    def rule(self, rule: Rule) -> Node:
        """The packets ``rule``'s match selects (its action aside). A rule of the other family selects none.
        Interface-name matches (nftables ``iifname``/``oifname``) are not part of the header space: the engine
        evaluates them per interface before it asks for the rule's set."""
        if rule.family not in (0, self.family):
            return self.false
        # the set depends only on these fields: rules of the same content (the same filter seen on many
        # devices, or at several attachments) share one node
        key = (
            rule.protocol,
            rule.tcp_flags,
            rule.dst_ports,
            rule.src,
            rule.src_except,
            rule.dst,
            rule.dst_except,
            rule.src_ports,
        )
        node = self._rule_cache.get(key)
        if node is None:
            node = self._rule(rule)
            if len(self._rule_cache) >= 100_000:
                self._rule_cache.clear()
            self._rule_cache[key] = node
        return node

    def clear_rule_cache(self) -> None:
        """Forget the rule sets cached by content (benchmarks of cold audits)."""
        self._rule_cache.clear()

    def _rule(self, rule: Rule) -> Node:
        node = self.proto(rule.protocol)
        if rule.tcp_flags:
            node = node & self.value(PROTO, TCP) & self.flags(rule.tcp_flags)
        if rule.dst_ports:
            node = node & self.ports(DPORT, rule.dst_ports)
        if rule.src or rule.src_except:
            node = node & self.addrs(SRC, rule.src, rule.src_except)
        if rule.dst or rule.dst_except:
            node = node & self.addrs(DST, rule.dst, rule.dst_except)
        if rule.src_ports:
            node = node & self.ports(SPORT, rule.src_ports)
        return node

    def box(
        self,
        *,
        protocol: int | None = None,
        src: Sequence[AddrMatch] = (),
        dst: Sequence[AddrMatch] = (),
        src_except: Sequence[AddrMatch] = (),
        dst_except: Sequence[AddrMatch] = (),
        dst_ports: Sequence[PortRange] = (),
        src_ports: Sequence[PortRange] = (),
        flags: FlagMatch = (),
    ) -> Node:
        """A product set: every constraint given, the rest any."""
        node = self.proto(protocol) & self.ports(DPORT, dst_ports) & self.ports(SPORT, src_ports)
        node = node & self.addrs(SRC, src, src_except) & self.addrs(DST, dst, dst_except) & self.flags(flags)
        return node

    def point(self, p: Point) -> Node:
        """The set holding exactly the packet ``p``."""
        return (
            self.value(PROTO, p.protocol)
            & self.value(DPORT, p.dst_port)
            & self.value(SRC, p.src)
            & self.value(DST, p.dst)
            & self.value(SPORT, p.src_port)
            & self.value(FLAGS, p.flags)
        )

    # ------------------------------------------------------------------ queries

    def is_empty(self, node: Node) -> bool:
        return bool(node == self.false)

    def contains(self, node: Node, p: Point) -> bool:
        """Whether packet ``p`` is in the set ``node``."""
        return not self.is_empty(node & self.point(p))

    def union(self, nodes: Iterable[Node]) -> Node:
        out = self.false
        for n in nodes:
            out = out | n
        return out

    def pick(self, node: Node, prefer: Mapping[str, Sequence[int]] | None = None) -> Point | None:
        """One packet of the set, or None when it is empty. ``prefer`` lists, per field, values to try first
        (in field order, each kept only if the set still holds a packet with it), so counterexamples read like
        real traffic (a pool address, a documentation destination, a SYN) wherever the set allows."""
        if self.is_empty(node):
            return None
        # A node of the one manager (reordering off) stands for exactly one set while it is alive (the key keeps
        # it so), and the result depends on nothing else: the devices whose leaking region is the same set (the
        # same filter, the same pool) get their counterexample without walking the BDD again (1-2 ms each).
        key = (node, tuple((f, tuple(v)) for f, v in (prefer or {}).items()))
        hit = self._pick_cache.get(key)
        if hit is None:
            hit = self._pick(node, prefer or {})
            if len(self._pick_cache) >= 10_000:
                self._pick_cache.clear()
            self._pick_cache[key] = hit
        return hit

    def _pick(self, node: Node, prefer: Mapping[str, Sequence[int]]) -> Point:
        for field in FIELDS:
            for cand in prefer.get(field, ()):
                if cand < 0 or cand >= 1 << field_bits(field, self.family):
                    continue
                narrowed = node & self.value(field, cand)
                if not self.is_empty(narrowed):
                    node = narrowed
                    break
        assignment = self.bdd.pick(node)
        assert assignment is not None
        vals: dict[str, int] = {}
        for field in FIELDS:
            names = self._names[field]
            width = len(names)
            v = 0
            for i, name in enumerate(names):
                if assignment.get(name, False):
                    v |= 1 << (width - 1 - i)
            vals[field] = v
        return Point(self.family, vals[SRC], vals[DST], vals[PROTO], vals[SPORT], vals[DPORT], vals[FLAGS])


@lru_cache(maxsize=2)
def space(family: int) -> HeaderSpace:
    """The shared :class:`HeaderSpace` of ``family`` (its caches persist across audits)."""
    return HeaderSpace(family)
