"""Every process-wide cache of op25b: one lifetime, one :func:`clear`.

Lifetime: a cache lives as long as the process. Each is bounded (it is emptied when it reaches its maximum),
holds only immutable values (or keeps alive the objects whose ``id()`` is part of its key, so an id is never
reused while cached), and no result depends on it: a cold run and a warm run give the same answers. Call
:func:`clear` to forget them all: tests that measure cold behaviour, benchmarks between runs, and long-running
API callers (a service that loads new intents for days) that want the memory back.

Each cache is declared, typed and documented at the top of the module that uses it, and registered here with
:func:`register` (so this module, at the bottom of the import graph, names none of the types they hold):
``rules.PLANS``; ``platforms.base.PLAN_BLOCKS``, ``RENDERED``, ``CHECKED``, ``TEMPLATES``,
``VERIFIED_TEMPLATES``; ``dialects.cisco.FAST_ACES``; ``audit.evaluate.FILTER_IDS``, ``EVALS``;
``audit.checks.QUERIES``, ``POLICY_SETS``, ``POLICY_SETS_BY_ID``, ``BY_ID``, ``QUESTIONS``, ``PREFERRED``,
``PASSED``; ``audit.drift.INTENDED_RULES``; ``inventory_cache._DIRS``.
Caches that are functions (``functools.lru_cache``) register their ``cache_clear`` with :func:`on_clear`. A
module not imported has nothing cached.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Protocol, TypeVar


class Clearable(Protocol):
    def clear(self) -> None: ...


C = TypeVar("C", bound=Clearable)

_CACHES: list[Clearable] = []
_CLEARERS: list[Callable[[], None]] = []


def register(cache: C) -> C:
    """Add ``cache`` (a dict or set a module keeps at its top level) to those :func:`clear` empties; returns it.

    >>> MEMO: dict[str, int] = register({})
    >>> MEMO["k"] = 1
    >>> clear()
    >>> MEMO
    {}
    """
    _CACHES.append(cache)
    return cache


def on_clear(fn: Callable[[], None]) -> Callable[[], None]:
    """Register ``fn`` (e.g. an ``lru_cache``'s ``cache_clear``) to run on :func:`clear`; returns it."""
    _CLEARERS.append(fn)
    return fn


def clear() -> None:
    """Forget every process-wide cache (see the module docstring for when). Results never depend on them."""
    for cache in _CACHES:
        cache.clear()
    for fn in _CLEARERS:
        fn()


def lazy_regex(pattern: str, flags: int = 0) -> functools._lru_cache_wrapper[re.Pattern[str]]:
    """A function returning ``re.compile(pattern, flags)``, compiled on its first call and then kept (its
    ``cache_info()`` tells whether it was): for the
    patterns of a module that only some runs use. Compiling at import costs every process (redaction's 16
    patterns: 21 M instructions of every ``op25b audit``, which needs them only for text with a secret word).

    >>> word = lazy_regex(r"\\w+")
    >>> word().findall("a bc"), word() is word()
    (['a', 'bc'], True)
    """

    @functools.cache
    def compiled() -> re.Pattern[str]:
        return re.compile(pattern, flags)

    return compiled
