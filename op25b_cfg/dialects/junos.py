"""Junos configuration text -> flat statements (the ``display set`` view), for brace and ``set`` formats.

Both formats become one list of :class:`Stmt`: the full hierarchy path of each leaf statement (``firewall
family inet filter F term T from protocol tcp``), its line number, and whether it is inactive (``inactive:``
in brace format, ``deactivate`` in set format). Lines of the two formats may even be mixed: a line starting
with ``set``/``deactivate`` at the top level is a set command, anything else is brace syntax.

Only the top-level sections the auditor needs are kept (:data:`RELEVANT`); the others are skipped by brace
counting, which keeps the reader fast on large configs. ``/* */`` annotations and ``#`` comments are dropped.
Nothing here raises on bad input: unbalanced braces and unknown set verbs become :class:`Unparsed` entries.
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass, field

from op25b_cfg.audit.model import Unparsed

log = logging.getLogger(__name__)

RELEVANT = frozenset(
    {
        "firewall",
        "policy-options",
        "interfaces",
        "dynamic-profiles",
        "groups",
        "apply-groups",
        "apply-groups-except",
        "logical-systems",
        "forwarding-options",
    }
)
"""Top-level sections kept; every other section is skipped by brace counting."""

_MARKERS = frozenset({"inactive:", "replace:", "protect:", "active:", "merge:", "update:"})
_SET_VERBS = (
    "set ",
    "deactivate ",
    "activate ",
    "delete ",
    "insert ",
    "rename ",
    "annotate ",
    "protect ",
    "unprotect ",
)
_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"?|([{};])|(#.*)|([^\s{};"]+)')
_PLAIN_LEAF = re.compile(r'[^"#{};]+;').fullmatch
"""A (stripped) leaf statement without anything the slow path must see: quotes, comments, braces."""
_PLAIN_OPEN = re.compile(r'[^"#{};]+\{').fullmatch
_PRUNABLE = frozenset({"filter", "disable"})
"""With ``prune``, an ``interfaces`` leaf matters only when its path holds one of these words."""
_PROMPT = re.compile(r"\{(master|backup|primary|secondary|linecard|local|hidden)[^{}]*\}")


@dataclass(slots=True)
class Stmt:
    """One leaf statement: its full path, line (1-based) and state."""

    path: tuple[str, ...]
    line: int
    inactive: bool = False
    group: str | None = None  # set when inherited from a configuration group


@dataclass(frozen=True)
class DeferredBlock:
    """A firewall filter block read later (``defer``): its path and the lines of its ``{`` and ``}``."""

    path: tuple[str, ...]
    open_line: int
    close_line: int


@dataclass
class ReadResult:
    stmts: list[Stmt] = field(default_factory=list)
    block_lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    unparsed: list[Unparsed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    deferred: list[DeferredBlock] = field(default_factory=list)
    """With ``defer``: filter blocks not read; each stands in ``stmts`` as one statement of its bare path."""
    defer_failed: bool = False
    """With ``defer``: set commands deactivate or delete statements; the caller must read again without it."""


def _tokens(s: str) -> list[str]:
    """Split one line into tokens: quoted strings (unquoted), braces, semicolons, words; ``#`` ends the line."""
    out: list[str] = []
    for m in _TOKEN.finditer(s):
        q, punct, comment, word = m.groups()
        if comment is not None:
            break
        if punct is not None:
            out.append(punct)
        elif word is not None:
            out.append(word)
        else:
            out.append((q or "").replace('\\"', '"'))
    return out


def _strip_comments(s: str, in_comment: bool) -> tuple[str, bool]:
    """Remove ``/* ... */`` parts of a line; returns the rest and whether a comment is still open."""
    if in_comment:
        j = s.find("*/")
        if j < 0:
            return "", True
        s = s[j + 2 :]
    while True:
        i = s.find("/*")
        if i < 0 or s.count('"', 0, i) % 2:
            return s, False
        j = s.find("*/", i + 2)
        if j < 0:
            return s[:i], True
        s = s[:i] + " " + s[j + 2 :]


class _Reader:
    """State machine over the lines of one config."""

    def __init__(
        self, lines: list[str], keep: frozenset[str] = RELEVANT, prune: bool = False, defer: bool = False
    ) -> None:
        self.keep = keep
        self.prune = prune
        self.defer = defer
        self.res = ReadResult()
        self.res.lines = lines
        self.stack: list[tuple[tuple[str, ...], bool, int]] = []  # (path, inactive, line)
        self.skip = 0  # depth inside an irrelevant top-level block
        self.skip_line = 0
        self.pending: list[str] = []
        self.pending_line = 0
        self.deact: set[tuple[str, ...]] = set()
        self.act: set[tuple[str, ...]] = set()
        self.deletes: list[tuple[tuple[str, ...], int]] = []
        self.base = 0  # stack entries given by the caller (reread): not reported as unclosed

    # -- structure -----------------------------------------------------------------------------------------
    def open(self, toks: list[str], line: int) -> None:
        if self.skip:
            self.skip += 1
            return
        inactive = self.stack[-1][1] if self.stack else False
        while toks and toks[0] in _MARKERS:
            if toks[0] == "inactive:":
                inactive = True
            toks = toks[1:]
        if not self.stack:
            if not toks or toks[0] not in self.keep:
                self.skip = 1
                self.skip_line = line
                return
            path = tuple(toks)
        else:
            path = self.stack[-1][0] + tuple(toks)
        self.stack.append((path, inactive, line))
        self.res.block_lines.setdefault(path, line)

    def close(self, line: int) -> None:
        if self.skip:
            self.skip -= 1
            return
        if not self.stack:
            self.res.unparsed.append(Unparsed(line, self.res.lines[line - 1].strip(), "unbalanced '}'"))
            return
        self.stack.pop()

    def leaf(self, toks: list[str], line: int) -> None:
        if self.skip or not toks:
            return
        inactive = self.stack[-1][1] if self.stack else False
        while toks and toks[0] in _MARKERS:
            if toks[0] == "inactive:":
                inactive = True
            toks = toks[1:]
        if not toks:
            return
        if self.stack:
            path = self.stack[-1][0] + tuple(toks)
        elif toks[0] in self.keep:
            path = tuple(toks)
        else:
            return
        self.res.stmts.append(Stmt(path, line, inactive))

    # -- set format ----------------------------------------------------------------------------------------
    def set_line(self, s: str, line: int) -> None:
        if '"' in s or "#" in s or "{" in s or "}" in s or ";" in s:
            toks = _tokens(s)
            path = tuple(t for t in toks[1:] if t not in ("{", "}", ";"))
        else:
            toks = s.split()
            path = tuple(toks[1:])
        if len(toks) < 2:
            return
        verb = toks[0]
        if not path or path[0] not in self.keep:
            return
        if verb == "set":
            self.res.stmts.append(Stmt(path, line))
        elif verb == "deactivate":
            self.deact.add(path)
        elif verb == "activate":
            self.act.add(path)
        elif verb == "delete":
            self.deletes.append((path, line))
        elif verb in ("annotate", "protect", "unprotect"):
            return
        else:
            self.res.unparsed.append(Unparsed(line, s, f"'{verb}' command not evaluated (order/names may change)"))

    # -- main loop -----------------------------------------------------------------------------------------
    def run(self, start: int = 0, stop: int | None = None) -> ReadResult:
        """Read ``lines[start:stop]`` (all of them by default)."""
        in_comment = False
        lines = self.res.lines
        stack = self.stack
        defer = self.defer
        numbered = enumerate(itertools.islice(lines, start, stop), start + 1)
        emit = self.res.stmts.append
        block_lines = self.res.block_lines
        markers = _MARKERS
        plain_leaf = _PLAIN_LEAF
        plain_open = _PLAIN_OPEN
        prune = self.prune
        for line, raw in numbered:
            s = raw.strip()
            if not s:
                continue
            if in_comment or "/*" in s:
                s, in_comment = _strip_comments(s, in_comment)
                s = s.strip()
                if not s:
                    continue
            if s[0] == "#":
                continue
            # Fastest path: a plain leaf, block opening or closing inside a kept section (one regex call
            # checks there are no quotes, comments, braces or other semicolons).
            if stack and not self.pending:
                last = s[-1]
                if last == ";":
                    if plain_leaf(s) is not None:
                        toks = s[:-1].split()
                        if toks[0] not in markers:
                            top = stack[-1]
                            path = top[0] + tuple(toks)
                            if not (prune and path[0] == "interfaces" and _PRUNABLE.isdisjoint(path)):
                                emit(Stmt(path, line, top[1]))
                            continue
                elif last == "{":
                    if plain_open(s) is not None:
                        toks = s[:-1].split()
                        if toks[0] not in markers:
                            top = stack[-1]
                            path = top[0] + tuple(toks)
                            if path not in block_lines:
                                block_lines[path] = line
                            if defer and not top[1] and not in_comment and _deferrable(path):
                                close = _simple_block_end(lines, line)
                                if close is not None:
                                    self.res.deferred.append(DeferredBlock(path, line, close))
                                    if close > 0:  # the block holds statements: it stands as one
                                        emit(Stmt(path, line))
                                    next(itertools.islice(numbered, abs(close) - line - 1, None), None)
                                    continue
                            stack.append((path, top[1], line))
                            continue
                elif s == "}":
                    stack.pop()
                    continue
            # Fast path: one plain statement, block opening or closing inside a kept section.
            if stack and not self.pending and s[-1] == ";" and s.count('"') == 2 and s[-2] == '"':
                # `description "some text";`: one quoted value at the end.
                q = s.index('"')
                head = s[:q]
                if "{" not in head and "}" not in head and ";" not in head and "#" not in head and "\\" not in s:
                    toks = head.split()
                    if toks and toks[0] not in markers:
                        top = stack[-1]
                        path = (*top[0], *toks, s[q + 1 : -2])
                        if not (prune and path[0] == "interfaces" and _PRUNABLE.isdisjoint(path)):
                            emit(Stmt(path, line, top[1]))
                        continue
            if stack and not self.pending and '"' not in s and "#" not in s:
                last = s[-1]
                if last == ";":
                    if "{" not in s and "}" not in s and s.count(";") == 1:
                        toks = s[:-1].split()
                        if toks and toks[0] not in markers:
                            top = stack[-1]
                            emit(Stmt(top[0] + tuple(toks), line, top[1]))
                            continue
                elif last == "{":
                    if s.count("{") == 1 and "}" not in s and ";" not in s:
                        toks = s[:-1].split()
                        if toks and toks[0] not in markers:
                            top = stack[-1]
                            path = top[0] + tuple(toks)
                            stack.append((path, top[1], line))
                            if path not in block_lines:
                                block_lines[path] = line
                            continue
                elif s == "}":
                    stack.pop()
                    continue
            if not self.stack and not self.skip and not self.pending and s.startswith(_SET_VERBS):
                self.set_line(s, line)
                continue
            last = s[-1]
            if self.skip:
                # Fast brace counting inside skipped sections.
                if '"' not in s and "#" not in s:
                    if last == "{" and s.count("{") == 1 and "}" not in s:
                        self.skip += 1
                        continue
                    if s == "}":
                        self.skip -= 1
                        continue
                    if "{" not in s and "}" not in s:
                        continue
                self.slow(s, line)
                continue
            if '"' not in s and "#" not in s:
                if last == ";" and "{" not in s and "}" not in s and s.count(";") == 1 and not self.pending:
                    self.leaf(s[:-1].split(), line)
                    continue
                if last == "{" and s.count("{") == 1 and "}" not in s and ";" not in s and not self.pending:
                    self.open(s[:-1].split(), line)
                    continue
                if s == "}" and not self.pending:
                    self.close(line)
                    continue
            if _PROMPT.fullmatch(s):
                continue
            self.slow(s, line)
        self.finish(len(lines))
        if self.deact or self.deletes:
            self.res.defer_failed = bool(self.res.deferred)
        return self.res

    def slow(self, s: str, line: int) -> None:
        """General tokenizer path: several statements on one line, quotes, statements spanning lines."""
        for tok in _tokens(s):
            if tok == "{":
                self.open(self.pending, self.pending_line or line)
                self.pending = []
                self.pending_line = 0
            elif tok == "}":
                if self.pending:
                    self.leaf(self.pending, self.pending_line)
                    self.pending = []
                    self.pending_line = 0
                self.close(line)
            elif tok == ";":
                self.leaf(self.pending, self.pending_line or line)
                self.pending = []
                self.pending_line = 0
            else:
                if not self.pending:
                    self.pending_line = line
                self.pending.append(tok)
        if self.pending and not self.stack and not self.skip:
            # A top-level line without ';' or '{' (not brace syntax): report once, do not carry it along.
            toks = self.pending
            self.pending = []
            self.pending_line = 0
            if toks[0] in self.keep:
                self.res.unparsed.append(Unparsed(line, s, "statement without ';' or '{'"))

    def finish(self, nlines: int) -> None:
        res = self.res
        if self.pending:
            res.unparsed.append(
                Unparsed(self.pending_line, " ".join(self.pending), "statement not terminated (truncated config?)")
            )
        if self.skip:
            res.unparsed.append(
                Unparsed(self.skip_line, res.lines[self.skip_line - 1].strip(), "block not closed (truncated config?)")
            )
        for path, _inactive, line in self.stack[self.base :]:
            res.unparsed.append(
                Unparsed(line, res.lines[line - 1].strip(), "block not closed (truncated config?)", _filter_of(path))
            )
        if self.deact or self.deletes:
            deact = self.deact - self.act
            dels = self.deletes
            kept: list[Stmt] = []
            for st in res.stmts:
                p = st.path
                if deact and any(p[:k] in deact for k in range(1, len(p) + 1)):
                    st.inactive = True
                if dels and any(st.line < dl and p[: len(dp)] == dp for dp, dl in dels):
                    continue
                kept.append(st)
            res.stmts = kept


def _deferrable(path: tuple[str, ...]) -> bool:
    """A top-level ``firewall family F filter NAME`` or ``firewall filter NAME`` block."""
    n = len(path)
    return path[0] == "firewall" and (
        (n == 5 and path[1] == "family" and path[3] == "filter") or (n == 3 and path[1] == "filter")
    )


_MARKER_PREFIXES = tuple(_MARKERS)


def _simple_block_end(lines: list[str], open_line: int) -> int | None:
    """The line of the ``}`` closing the block opened at ``open_line`` when every line of it is a plain leaf
    (``words;``), a plain block opening (``words {``), ``}`` or blank, none names a policer (building such a
    filter records flow control, so it is read at once), and no statement inherits a marker; else None.
    Negative when the block holds no statement at all. Reading the block later gives exactly what reading it
    now would: plain lines carry no state (quotes, comments, pending words) across the block's end."""
    depth = 1
    leaf = False
    for i in range(open_line, len(lines)):
        s = lines[i].strip()
        if not s:
            continue
        if '"' in s or "#" in s or "/*" in s or s.startswith(_MARKER_PREFIXES) or "policer" in s:
            return None
        last = s[-1]
        if last == ";":
            if "{" in s or "}" in s:
                return None
            leaf = True
        elif last == "{":
            if "}" in s or ";" in s or s.count("{") != 1:
                return None
            depth += 1
        elif s == "}":
            depth -= 1
            if depth == 0:
                return i + 1 if leaf else -(i + 1)
        else:
            return None
    return None


def reread(res: ReadResult, block: DeferredBlock, keep: frozenset[str] = RELEVANT) -> ReadResult:
    """The statements of a deferred block, as the first :func:`read` would have given them (``res`` is that
    read's result: its lines)."""
    r = _Reader(res.lines, keep)
    r.stack.append((block.path, False, block.open_line))
    r.base = 1
    r.run(block.open_line, abs(block.close_line) - 1)
    if len(r.stack) == 1 and r.stack[0][0] == block.path and not r.pending:
        r.stack.pop()
        return r.res
    # a plain block is balanced; should that ever not hold, report it rather than guess
    r.res.unparsed.append(Unparsed(block.open_line, res.lines[block.open_line - 1].strip(), "block not read"))
    return r.res


def _filter_of(path: tuple[str, ...]) -> str | None:
    """The firewall filter a path lies in, if any."""
    for i, tok in enumerate(path[:-1]):
        if tok == "filter" and i > 0 and path[i - 1] in ("firewall", "inet", "inet6"):
            return path[i + 1]
    return None


def read(text: str, extra: frozenset[str] = frozenset(), prune: bool = False, defer: bool = False) -> ReadResult:
    """Read one Junos config (brace, set, or both); ``extra`` names more top-level sections to keep.

    ``prune`` drops the ``interfaces`` leaves whose path holds neither ``filter`` nor ``disable`` (descriptions,
    addresses, VLAN ids: thousands on a BNG) on the common fast paths. Only for callers that read nothing
    else of that section: not with configuration groups (wildcards match existing names) or ``apply-path``.

    ``defer`` leaves top-level firewall filter blocks made of plain lines unread (see :func:`_simple_block_end`):
    each stands in ``stmts`` as one statement of its bare path, is listed in ``deferred``, and
    :func:`reread` gives its statements. Same conditions as ``prune``; see also ``defer_failed``."""
    return _Reader(text.replace("\r", "").split("\n"), RELEVANT | extra, prune, defer).run()
