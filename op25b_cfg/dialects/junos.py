"""The one reader of Junos configuration text: brace format (``show configuration``) and ``set`` commands.

Everything that reads Junos text reads it here, with one definition of the lexical rules (:data:`QUOTE`,
:data:`LINE_COMMENT`, :data:`BLOCK_COMMENT`, :data:`TAGS`, :data:`SET_VERBS`, :func:`tokens`,
:func:`strip_comments`) and two views of the result:

* :func:`read` (the audit parser): flat statements (the ``display set`` view): the full hierarchy path of each
  leaf statement (``firewall family inet filter F term T from protocol tcp``), its line number, and whether it is
  inactive (``inactive:`` in brace format, ``deactivate`` in set format). Lines of the two formats may even be
  mixed: a line starting with ``set``/``deactivate`` at the top level is a set command, anything else is brace
  syntax. Only the top-level sections the auditor needs are kept (:data:`RELEVANT`); the others are skipped by
  brace counting, which keeps the reader fast on large configs. ``/* */`` annotations and ``#`` comments are
  dropped. Nothing here raises on bad input: unbalanced braces and unknown set verbs become :class:`Unparsed`
  entries.
* :func:`statements` (the emulator's configuration tree, the clean-up planner's lines and the emulator's ``load
  set``): every statement in order, as ``open``/``leaf``/``close``, with its quoted words as written, its ``/* */``
  annotation and its ``replace:``/``delete:``/``inactive:``/``protect:`` tag.

:func:`truncation_problem` (the truncation check) counts braces outside the strings and comments these rules
define, with ``str.find``/``bytes.count`` (:func:`op25b_cfg.dialects.base.brace_balance`).
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from op25b_cfg.audit.model import Unparsed
from op25b_cfg.dialects.base import Lexicon, brace_balance, brace_message, has_meaningful_line

log = logging.getLogger(__name__)

# -- the lexical rules: the one definition -------------------------------------------------------------------------
QUOTE = '"'
"""A quoted string runs to the next unescaped quote or the end of its line (``\\`` escapes)."""
LINE_COMMENT = "#"
"""Starts a comment that runs to the end of the line."""
BLOCK_COMMENT = ("/*", "*/")
"""An annotation (``/* ... */``, across lines); :func:`statements` attaches it to the next statement."""
TAGS = frozenset({"inactive:", "replace:", "protect:", "active:", "merge:", "update:", "delete:"})
"""Prefixes of a statement (``inactive: unit 100 { ... }``)."""
SET_VERBS = ("set", "deactivate", "activate", "delete", "insert", "rename", "annotate", "protect", "unprotect")
"""The first word of a ``set``-format command at the top level."""
LEXICON = Lexicon(QUOTE, BLOCK_COMMENT, LINE_COMMENT, comment_at_token_start=True)
"""The rules above, for the brace scan of :func:`truncation_problem` (a ``#`` starts a comment at a token's start,
as in :data:`_TOKEN`)."""
_SET_PREFIXES = tuple(v + " " for v in SET_VERBS)
_SET_VERB_SET = frozenset(SET_VERBS)
_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"?|([{};])|(#.*)|([^\s{};"]+)')
"""One token: a quoted string, a brace or semicolon, a ``#`` comment (at a token's start), or a word."""
_COMMENT_SCAN = re.compile(r'"(?:[^"\\]|\\.)*"?|/\*|(?<![^\s{};"])#')
"""What :func:`strip_comments` looks for: a quoted string (skipped), a block comment, a ``#`` at a token's start."""

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
"""Top-level sections :func:`read` keeps; every other section is skipped by brace counting."""

_MARKERS = TAGS - {"delete:"}
"""The tags :func:`read` drops from a path (``delete:`` is a ``load`` instruction, never in a running config: it
stays a word, so the statement names nothing the auditor looks for)."""
_PLAIN_LEAF = re.compile(r'[^"#{};]+;').fullmatch
"""A (stripped) leaf statement without anything the slow path must see: quotes, comments, braces."""
_PLAIN_OPEN = re.compile(r'[^"#{};]+\{').fullmatch
_PRUNABLE = frozenset({"filter", "disable"})
"""With ``prune``, an ``interfaces`` leaf matters only when its path holds one of these words."""
_PROMPT = re.compile(r"\{(master|backup|primary|secondary|linecard|local|hidden)[^{}]*\}")


def tokens(s: str, raw: bool = False) -> list[str]:
    """Split one line (without ``/* */`` comments) into tokens: quoted strings (unquoted, or as written with
    ``raw``), braces, semicolons, words; ``#`` at a token's start ends the line.

    >>> tokens('description "a \\\\"b\\\\"";  # note'), tokens('x "a b" {', raw=True)
    (['description', 'a "b"', ';'], ['x', '"a b"', '{'])
    """
    out: list[str] = []
    for m in _TOKEN.finditer(s):
        q, punct, comment, word = m.groups()
        if comment is not None:
            break
        if punct is not None:
            out.append(punct)
        elif word is not None:
            out.append(word)
        elif raw:
            out.append(m.group(0))
        else:
            out.append((q or "").replace('\\"', '"'))
    return out


def strip_comments(s: str, pending: list[str] | None) -> tuple[str, list[str], list[str] | None]:
    """Split the ``/* */`` comments out of one line. ``pending`` holds the pieces (one per line) of a comment
    opened on an earlier line, or None. Returns the line without its comments (each becomes a blank), the text
    of the comments that end on this line, and the pieces of a comment still open at its end (or None). A
    ``/*`` inside a quoted string or after a ``#`` comment starts nothing.

    >>> strip_comments('a /* x */ b "/*" c /* y', None)
    ('a   b "/*" c ', ['x'], [' y'])
    >>> strip_comments("z */ d; # /* e", [" y"])
    (' d; # /* e', ['y\\nz'], None)
    """
    opening, closing = BLOCK_COMMENT
    done: list[str] = []
    if pending is not None:
        j = s.find(closing)
        if j < 0:
            pending.append(s)
            return "", done, pending
        pending.append(s[:j])
        done.append("\n".join(pending).strip())
        s = s[j + len(closing) :]
    pos = 0
    while (m := _COMMENT_SCAN.search(s, pos)) is not None:
        found = m.group()
        if found == LINE_COMMENT:
            break
        if found != opening:
            pos = m.end()  # a quoted string
            continue
        i = m.start()
        j = s.find(closing, i + len(opening))
        if j < 0:
            return s[:i], done, [s[i + len(opening) :]]
        done.append(s[i + len(opening) : j].strip())
        s = s[:i] + " " + s[j + len(closing) :]
        pos = i + 1
    return s, done, None


def truncation_problem(text: str) -> str | None:
    """Brace format: ``{`` and ``}`` balance outside strings and comments; ``display set`` format has no end
    marker and is not checked.

    >>> truncation_problem("set system host-name r1\\n") is None
    True
    >>> truncation_problem('system {\\n host-name "r1 {";\\n')
    "1 unclosed '{' at the end of the file: the configuration looks truncated"
    """
    if not has_meaningful_line(text, LINE_COMMENT):
        return "no configuration lines (only comments)"
    if "{" not in text and "}" not in text:
        return None  # display set format: no end marker
    depth, negative_at = brace_balance(text, LEXICON)
    return brace_message(depth, negative_at, "configuration")


# -- the structural view: statements -------------------------------------------------------------------------------
class JunosSyntaxError(ValueError):
    """The text is not valid Junos brace or set configuration."""


class Statement(NamedTuple):
    """One statement: ``kind`` is ``open`` (``words {``), ``leaf`` (``words;``) or ``close`` (``}``); ``words`` as
    written (quoted strings keep their quotes); ``line`` (1-based) is where its first word is; ``comment`` the
    ``/* */`` annotation before it; ``tag`` a :data:`TAGS` prefix without its colon."""

    kind: str
    words: tuple[str, ...]
    line: int
    comment: str | None = None
    tag: str | None = None


def statements(text: str, *, strict: bool = True) -> Iterator[Statement]:
    """The statements of ``text`` in order. ``strict`` raises :class:`JunosSyntaxError` on what Junos would refuse;
    otherwise the reader goes on: a stray ``}`` is skipped, a top-level ``set``/``delete``... command ends at its
    line's end (``display set`` format), and an unterminated statement at the end is a leaf.

    >>> [(s.kind, " ".join(s.words), s.line) for s in statements("a {\\n  inactive: b c;\\n}\\n")]
    [('open', 'a', 1), ('leaf', 'b c', 2), ('close', '', 3)]
    >>> [" ".join(s.words) for s in statements('set a b\\nset c "d e"\\n', strict=False)]
    ['set a b', 'set c "d e"']
    """
    depth = 0
    words: list[str] = []
    first = 0  # line of the first word of ``words``
    comment: str | None = None
    tag: str | None = None
    pending: list[str] | None = None  # the pieces of a /* */ annotation that spans lines
    opening = BLOCK_COMMENT[0]
    for lineno, raw in enumerate(text.split("\n"), 1):
        s = raw.strip()
        if not s:
            continue
        if pending is not None or opening in s:
            rest, done, pending = strip_comments(raw, pending)
            if done:
                comment = done[-1]
            s = rest.strip()
            if not s:
                continue
        if not words and tag is None and QUOTE not in s and LINE_COMMENT not in s:
            # the common line: one plain statement, an opening or a closing (no quotes, no comments)
            last = s[-1]
            if last == ";":
                leaf = s[:-1].split()
                if leaf and s.count(";") == 1 and "{" not in s and "}" not in s and leaf[0] not in TAGS:
                    yield Statement("leaf", tuple(leaf), lineno, comment)
                    comment = None
                    continue
            elif last == "{":
                head = s[:-1].split()
                if head and s.count("{") == 1 and ";" not in s and "}" not in s and head[0] not in TAGS:
                    yield Statement("open", tuple(head), lineno, comment)
                    depth += 1
                    comment = None
                    continue
            elif s == "}" and depth:
                yield Statement("close", (), lineno)
                depth -= 1
                continue
        if not strict and words and not depth and words[0] in _SET_VERB_SET:
            yield Statement("leaf", tuple(words), first, comment, tag)  # a set command ends at its line's end
            words, comment, tag = [], None, None
        for tok in tokens(s, raw=True):
            if tok in TAGS and not words:
                tag = tok[:-1]
                first = lineno
            elif tok == ";":
                if words:
                    yield Statement("leaf", tuple(words), first, comment, tag)
                words, comment, tag = [], None, None
            elif tok == "{":
                if not words and strict:
                    raise JunosSyntaxError("'{' without a statement")
                yield Statement("open", tuple(words), first if words else lineno, comment, tag)
                depth += 1
                words, comment, tag = [], None, None
            elif tok == "}":
                if words or depth == 0:
                    if strict:
                        raise JunosSyntaxError(f"unexpected '}}' after {' '.join(words) or 'top level'}")
                    if words:
                        yield Statement("leaf", tuple(words), first, comment, tag)
                        words, comment, tag = [], None, None
                    if depth == 0:
                        continue
                yield Statement("close", (), lineno)
                depth -= 1
            else:
                if not words and tag is None:
                    first = lineno
                words.append(tok)
    if words or depth:
        if strict:
            raise JunosSyntaxError("missing ';' or '}' at end of configuration")
        if words:
            yield Statement("leaf", tuple(words), first, comment, tag)


# -- the flat view: read (the audit parser) ------------------------------------------------------------------------
@dataclass(slots=True)
class Stmt:
    """One leaf statement: its full path, line (1-based) and state."""

    path: tuple[str, ...]
    line: int
    inactive: bool = False
    group: str | None = None  # set when inherited from a configuration group


@dataclass(frozen=True)
class DeferredBlock:
    """A firewall filter or prefix-list block read later (``defer``): its path and the lines of its ``{`` and
    ``}``."""

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
    """With ``defer``: filter and prefix-list blocks not read; each stands in ``stmts`` as one statement of its bare
    path."""
    defer_failed: bool = False
    """With ``defer``: set commands deactivate or delete statements; the caller must read again without it."""


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
            toks = tokens(s)
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
        pending: list[str] | None = None  # a /* */ comment open from an earlier line
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
            if pending is not None or "/*" in s:
                s, _, pending = strip_comments(s, pending)
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
                            if defer and not top[1] and pending is None and _deferrable(path):
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
            if not self.stack and not self.skip and not self.pending and s.startswith(_SET_PREFIXES):
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
                    if defer and not stack and pending is None:
                        # (no block opened: a skipped section) of plain lines: it ends where counting its
                        # braces would end it
                        close = _simple_block_end(lines, line)
                        if close is not None:
                            self.skip = 0
                            next(itertools.islice(numbered, abs(close) - line - 1, None), None)
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
        for tok in tokens(s):
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
    """A top-level ``firewall family F filter NAME``, ``firewall filter NAME`` or ``policy-options prefix-list
    NAME`` block.

    >>> _deferrable(("policy-options", "prefix-list", "P")), _deferrable(("policy-options", "policy-statement", "P"))
    (True, False)
    """
    n = len(path)
    if path[0] == "policy-options":
        return n == 3 and path[1] == "prefix-list"
    return path[0] == "firewall" and (
        (n == 5 and path[1] == "family" and path[3] == "filter") or (n == 3 and path[1] == "filter")
    )


_MARKER_PREFIXES = tuple(_MARKERS)
_NOT_PLAIN = ('"', "#", "/*", "policer", *_MARKER_PREFIXES)
"""What a block's text must not contain anywhere for :func:`_simple_block_end` to skip its per-line checks."""


def _simple_block_end(lines: list[str], open_line: int, by_line: bool = False) -> int | None:
    """The line of the ``}`` closing the block opened at ``open_line`` when every line of it is a plain leaf
    (``words;``), a plain block opening (``words {``), ``}`` or blank, none names a policer (building such a
    filter records flow control, so it is read at once), and no statement inherits a marker; else None.
    Negative when the block holds no statement at all (``;`` lines are none). Reading the block later gives
    exactly what reading it now would: plain lines carry no state (quotes, comments, pending words) across the
    block's end.

    The lines' shapes are checked one by one; quotes, comments, policers and markers are looked for once in
    the block's joined text, and only when it holds one of them is each line checked for them (``by_line``,
    also the reference the tests compare with).

    >>> _simple_block_end(["filter F {", "  term t { then accept; }", "}"], 1) is None
    True
    >>> _simple_block_end(["filter F {", "  term t {", "    then accept;", "  }", "}"], 1)
    5
    """
    depth = 1
    leaf = False
    for i in range(open_line, len(lines)):
        s = lines[i].strip()
        if not s:
            continue
        if by_line and ('"' in s or "#" in s or "/*" in s or s.startswith(_MARKER_PREFIXES) or "policer" in s):
            return None
        last = s[-1]
        if last == ";":
            if "{" in s or "}" in s:
                return None
            leaf = leaf or bool(s.replace(";", "").strip())  # a statement needs a word: `;` alone is none
        elif last == "{":
            if "}" in s or ";" in s or s.count("{") != 1:
                return None
            depth += 1
        elif s == "}":
            depth -= 1
            if depth == 0:
                if not by_line:
                    block = "\n".join(lines[open_line : i + 1])
                    if any(word in block for word in _NOT_PLAIN):
                        return _simple_block_end(lines, open_line, by_line=True)
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


def read(
    text: str,
    extra: frozenset[str] = frozenset(),
    prune: bool = False,
    defer: bool = False,
    sections: frozenset[str] = RELEVANT,
) -> ReadResult:
    """Read one Junos config (brace, set, or both): the top-level ``sections`` (by default the auditor's) and
    ``extra``; the others are skipped.

    ``prune`` drops the ``interfaces`` leaves whose path holds neither ``filter`` nor ``disable`` (descriptions,
    addresses, VLAN ids: thousands on a BNG) on the common fast paths. Only for callers that read nothing
    else of that section: not with configuration groups (wildcards match existing names) or ``apply-path``.

    ``defer`` leaves top-level firewall filter and prefix-list blocks made of plain lines unread (see
    :func:`_simple_block_end`): each stands in ``stmts`` as one statement of its bare path, is listed in
    ``deferred``, and :func:`reread` gives its statements; skipped sections made of plain lines are passed over
    in one step. Same conditions as ``prune``; see also ``defer_failed``."""
    return _Reader(text.replace("\r", "").split("\n"), sections | extra, prune, defer).run()
