"""Filters whose rules are built on first read, shared by every parser.

A running config of a large BRAS or BNG holds thousands of filters, but an audit only evaluates the ones
bound at the device's intended attachments (and, for nftables, every forward base chain). The parsers
therefore find every filter's name, family, line and kind at once, and leave building its rules for the
first read of :attr:`DeferredFilter.rules`. Building a filter appends what it cannot model to the owning
:class:`~op25b_cfg.audit.model.ParsedConfig`'s ``unparsed`` / ``notes``, exactly as an eager build does, so a
reader that needs the unparsed lines of some filters first reads their rules (:func:`resolve_named`), and a
reader that needs all of them calls :func:`resolve_all`.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterable

from op25b_cfg.audit.model import Filter, ParsedConfig, Unparsed
from op25b_cfg.gc_pause import paused_gc
from op25b_cfg.rules import Rule

log = logging.getLogger(__name__)


class ResultRef:
    """The :class:`ParsedConfig` a parser fills: held strongly while the parser runs, weakly after
    :meth:`detach`. The deferred builds of a config's filters keep the parser's state alive; a weak link back
    to the config keeps that state free of reference cycles, so it is released as soon as the config is (no
    garbage-collector pass over a large config's tokens). A build that runs after its config is gone writes
    to a throwaway config: nobody can read what it would have reported."""

    def __init__(self, pc: ParsedConfig) -> None:
        self._strong: ParsedConfig | None = pc
        self._weak = weakref.ref(pc)
        self._platform = pc.platform

    def get(self) -> ParsedConfig:
        pc = self._strong if self._strong is not None else self._weak()
        return pc if pc is not None else ParsedConfig(self._platform)

    def detach(self) -> None:
        self._strong = None


class ParserState:
    """What the Junos and nftables parsers share: the config being built (through a :class:`ResultRef`), the
    text's lines, and UNPARSED entries that quote their line."""

    def __init__(self, platform: str, lines: list[str]) -> None:
        self._pc = ResultRef(ParsedConfig(platform))
        self.lines = lines
        self.platform = platform

    def run(self) -> ParsedConfig:
        """Parse the text; may raise (:meth:`parse` turns that into a report)."""
        raise NotImplementedError

    def parse(self, what: str) -> ParsedConfig:
        """:meth:`run` with the garbage collector paused (the parsers allocate many small acyclic objects;
        collector passes cost about 30%). Never raises: a last-resort error becomes one UNPARSED entry naming
        only the exception type, and ``what`` (config, ruleset) is then not evaluated."""
        try:
            with paused_gc():
                pc = self.run()
        except Exception as exc:  # last resort: a parser reports, it does not raise
            log.debug("%s parser failed", self.platform, exc_info=True)
            pc = ParsedConfig(self.platform)
            pc.unparsed.append(Unparsed(0, "", f"parser error ({type(exc).__name__}); {what} not evaluated"))
        self.detach()
        return pc

    @property
    def pc(self) -> ParsedConfig:
        """The config being built (held weakly once the parse is over: see :class:`ResultRef`)."""
        return self._pc.get()

    def detach(self) -> None:
        """The parse is over: keep only a weak link to the config (its deferred filters hold this parser)."""
        self._pc.detach()

    def line_text(self, line: int) -> str:
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""

    def unparsed(self, line: int, reason: str, filt: str | None = None) -> None:
        self.pc.unparsed.append(Unparsed(line, self.line_text(line), reason, filt))


class DeferredFilter(Filter):
    """A :class:`Filter` whose rules are built when :attr:`rules` is first read (see the module docstring).

    Everything but the rules (name, family, line, kind, hook, default) is known at once. Assigning
    :attr:`rules` replaces the pending build."""

    def defer_call(self, build: Callable[[], list[Rule]]) -> None:
        """Build the rules with ``build()`` on first read."""
        self.__dict__["_pending"] = build

    @property
    def rules(self) -> list[Rule]:
        pending = self.__dict__.pop("_pending", None)
        if pending is not None:
            with paused_gc():
                self.__dict__["rules"] = pending()
        rules: list[Rule] = self.__dict__["rules"]
        return rules

    @rules.setter
    def rules(self, value: list[Rule]) -> None:
        self.__dict__.pop("_pending", None)
        self.__dict__["rules"] = value

    @property
    def deferred(self) -> bool:
        """True until the rules have been built."""
        return "_pending" in self.__dict__


def resolve_named(parsed: ParsedConfig, names: Iterable[str]) -> None:
    """Build every filter called one of ``names`` (any family), so that ``parsed.unparsed`` holds every line
    of them that was not understood (``Unparsed.filter`` names a filter, not a family)."""
    wanted = set(names)
    for flt in list(parsed.filters.values()):
        if flt.name in wanted and isinstance(flt, DeferredFilter) and flt.deferred:
            _ = flt.rules


def resolve_all(parsed: ParsedConfig) -> ParsedConfig:
    """Build every deferred filter now, so ``unparsed`` and ``notes`` are complete (tests, reports)."""
    for flt in list(parsed.filters.values()):
        _ = flt.rules
    parsed.unparsed.sort(key=lambda u: u.line)
    return parsed
