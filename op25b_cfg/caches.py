"""Every process-wide cache of op25b, in one place.

Lifetime: a cache lives as long as the process. Each is bounded (it is emptied when it reaches its maximum),
holds only immutable values (or keeps alive the objects whose ``id()`` is part of its key, so an id is never
reused while cached), and no result depends on it: a cold run and a warm run give the same answers. Call
:func:`clear` to forget them all: tests that measure cold behaviour, benchmarks between runs, and long-running
API callers (a service that loads new intents for days) that want the memory back.

The modules that use a cache refer to it by name here (``caches.EVALS``); caches that are functions
(``functools.lru_cache``) register their ``cache_clear`` with :func:`on_clear`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from op25b_cfg.audit.evaluate import Query
    from op25b_cfg.audit.space import Node
    from op25b_cfg.dialects.cisco import Parsed
    from op25b_cfg.inventory import Device
    from op25b_cfg.netaddr import Network
    from op25b_cfg.rules import Action, FilterPlan

# ---- generate (op25b_cfg.rules, op25b_cfg.platforms.base)

PLANS: dict[tuple[object, ...], tuple[object, tuple[object, ...], FilterPlan]] = {}
"""Rule plans by the intent they are built from (:func:`op25b_cfg.rules.build_plan`); the policy and pools
objects are kept in the value."""
PLANS_MAX = 65536

PLAN_BLOCKS: dict[tuple[str, str, int, bool, bool], tuple[FilterPlan, str]] = {}
"""Rendered ``plan_*`` template blocks per (platform, block, id(plan), log, counters); the plan is kept in the
value."""
RENDERED: dict[tuple[str, int], tuple[Device, FilterPlan, str]] = {}
"""The last render per (platform, id(device)), with the plan it used: push renders the candidate and its
post-change audit renders the same intent again. Device and plan are kept in the value."""
RENDER_MAX = 16384
VERIFIED_TEMPLATES: set[str] = set()
"""Templates whose blocks were checked to cover the whole template (once per template and process)."""

# ---- parse (op25b_cfg.dialects.cisco)

FAST_ACES: dict[tuple[str, int], Parsed] = {}
"""Cisco-style access-list entries of the common shape, parsed, by (text, family): such an entry names no
object-group, so what it matches does not depend on the config it is in. Values are never mutated."""
FAST_ACES_MAX = 100_000

# ---- audit (op25b_cfg.audit.evaluate, op25b_cfg.audit.checks)

FILTER_IDS: dict[tuple[object, ...], int] = {}
"""Filter contents (default + rule keys) seen by this process, each interned as a small int."""
EVALS: dict[tuple[object, ...], tuple[Query, list[tuple[Action, int, int | None, Node]]]] = {}
"""First-match results by (chain contents, query, limit_terminal, interface): the devices of a push or of a
directory of configs evaluate the same filter against the same questions. Values hold positions, not objects."""
QUERIES: dict[tuple[object, ...], Query] = {}
"""Queries by content: the devices of one policy ask the same questions (same pools, MTAs, ports)."""
QUERIES_MAX = 4096
POLICY_SETS: dict[
    tuple[object, ...], tuple[list[tuple[str, list[Network], list[Network]]], list[Network], list[Network]]
] = {}
"""The address sets of a policy per family (MTAs, targeted prefixes, pools), by content."""
PREFERRED: dict[tuple[object, ...], dict[str, list[int]]] = {}
"""Counterexample preferences (documentation addresses, ports) by content."""
PASSED: dict[tuple[object, ...], Query] = {}
"""Must-pass checks already proven for (chain contents, check, question)."""
MEMO_MAX = 20_000
"""The bound of the audit memos above."""

_CLEARERS: list[Callable[[], None]] = []


def on_clear(fn: Callable[[], None]) -> Callable[[], None]:
    """Register ``fn`` (e.g. an ``lru_cache``'s ``cache_clear``) to run on :func:`clear`; returns it."""
    _CLEARERS.append(fn)
    return fn


def clear() -> None:
    """Forget every process-wide cache (see the module docstring for when). Results never depend on them.

    >>> QUERIES[("k",)] = None  # type: ignore[assignment]
    >>> clear()
    >>> QUERIES
    {}
    """
    for cache in (
        PLANS,
        PLAN_BLOCKS,
        RENDERED,
        VERIFIED_TEMPLATES,
        FAST_ACES,
        FILTER_IDS,
        EVALS,
        QUERIES,
        POLICY_SETS,
        PREFERRED,
        PASSED,
    ):
        cache.clear()
    for fn in _CLEARERS:
        fn()
