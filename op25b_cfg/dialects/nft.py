"""nftables ruleset text -> a tree of statements (tokens and ``{ }`` blocks), with line numbers.

``nft list ruleset`` output and ``nft -f`` files share one shape: statements end at a newline or ``;``;
``{ ... }`` opens a block whose statements are parsed the same way (table/chain/set bodies, anonymous sets,
anonymous chains after ``jump``/``goto``). ``#`` comments, ``\\`` line continuations and top-level
``define NAME = value`` substitutions (``$NAME``) are handled here. Unbalanced braces are reported, never
fatal; the scanner is a single regex pass, so it cannot hang.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from op25b_cfg.dialects.base import Lexicon

LEXICON = Lexicon(block_comment=None)
"""Where :data:`_TOK`'s strings and comments start and end, for the truncation check's brace scan: ``"`` strings to
the closing quote or the end of the line, ``#`` comments anywhere outside them, no block comments."""
_TOK = re.compile(
    r"(?P<nl>\n)|(?P<ws>[ \t\r\f\v]+|\\\r?\n)|(?P<comment>\#[^\n]*)"
    r'|(?P<str>"(?:[^"\\\n]|\\.)*"?)|(?P<p>[{};,])|(?P<w>[^\s{};,"#]+)'
)


class Tok(NamedTuple):
    """One word. ``quoted`` words came from a ``"..."`` string (quotes removed). A named tuple: rulesets
    have tens of thousands of words, and a tuple is built several times faster than a frozen dataclass."""

    text: str
    line: int
    quoted: bool = False


@dataclass
class Block:
    """A ``{ ... }`` block: its statements and the line of the ``{``."""

    stmts: list[list[Tok | Block]]
    line: int
    closed: bool = True

    def items(self) -> list[Tok | Block]:
        """All items of all statements, in order (set literals span lines)."""
        return [it for st in self.stmts for it in st]


@dataclass
class Tree:
    stmts: list[list[Tok | Block]] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)


_new_tok = tuple.__new__
"""``Tok(text, line, quoted)`` without the named tuple's Python-level ``__new__`` (one interpreter frame per
word: half the cost of splitting a line; tens of thousands of words per ruleset). Pass all three fields."""

_SPECIAL = re.compile(r'[{};,"#\\]')
"""Characters after which a line needs the full tokenizer; a line without them is words and blanks."""


def _scan_regex(text: str, first_line: int = 1) -> list[Tok | str]:
    """Tokens; ``"\\n"``, ``";"``, ``"{"``, ``"}"``, ``","`` stay as plain strings (structure)."""
    out: list[Tok | str] = []
    line = first_line
    for m in _TOK.finditer(text):
        kind = m.lastgroup
        if kind == "nl":
            out.append("\n")
            line += 1
        elif kind == "ws":
            if "\n" in m.group():
                line += 1
        elif kind == "comment":
            continue
        elif kind == "p":
            p = m.group()
            out.append(p if p != "," else Tok(",", line))
        elif kind == "str":
            s = m.group()
            body = s[1:-1] if len(s) > 1 and s.endswith('"') else s[1:]
            out.append(_new_tok(Tok, (body.replace('\\"', '"'), line, True)))
        else:
            out.append(_new_tok(Tok, (m.group(), line, False)))
    return out


def _defines(toks: list[Tok | str], problems: list[tuple[int, str]]) -> list[Tok | str]:
    """Apply top-level ``define NAME = value`` to later ``$NAME`` words."""
    defs: dict[str, list[Tok | str]] = {}
    out: list[Tok | str] = []
    depth = 0
    i = 0
    at_start = True
    while i < len(toks):
        t = toks[i]
        if isinstance(t, Tok) and t.text == "define" and depth == 0 and at_start and not t.quoted:
            j = i + 1
            nt = toks[j] if j < len(toks) else None
            name = nt.text if isinstance(nt, Tok) else ""
            j += 1
            if j < len(toks) and isinstance(toks[j], Tok) and toks[j].text == "=":  # type: ignore[union-attr]
                j += 1
            val: list[Tok | str] = []
            d = 0
            while j < len(toks) and not (toks[j] in ("\n", ";") and d == 0):
                if toks[j] == "{":
                    d += 1
                elif toks[j] == "}":
                    d -= 1
                val.append(toks[j])
                j += 1
            defs[name] = _subst(val, defs, problems)
            i = j
            continue
        if t == "{":
            depth += 1
        elif t == "}":
            depth = max(0, depth - 1)
        at_start = t in ("\n", ";", "{", "}")
        if isinstance(t, Tok) and t.text.startswith("$") and not t.quoted:
            out.extend(_subst([t], defs, problems))
        else:
            out.append(t)
        i += 1
    return out


def _subst(val: list[Tok | str], defs: dict[str, list[Tok | str]], problems: list[tuple[int, str]]) -> list[Tok | str]:
    out: list[Tok | str] = []
    for t in val:
        if isinstance(t, Tok) and t.text.startswith("$") and not t.quoted:
            if t.text[1:] in defs:
                # Re-stamp the line numbers of the substituted words with the use site.
                out.extend(Tok(x.text, t.line, x.quoted) if isinstance(x, Tok) else x for x in defs[t.text[1:]])
                continue
            problems.append((t.line, f"variable {t.text} is not defined"))
        out.append(t)
    return out


class _Builder:
    """Statements and blocks from a token stream (see :func:`parse_tree`)."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.root = Block([], 0)
        self.stack: list[Block] = [self.root]
        self.cur: list[Tok | Block] = []
        self.cur_stack: list[list[Tok | Block]] = []
        self.last_line = 1

    def feed(self, toks: list[Tok | str]) -> None:
        stack = self.stack
        cur = self.cur
        for t in toks:
            if isinstance(t, Tok):
                cur.append(t)
                self.last_line = t.line
            elif t in ("\n", ";"):
                if cur:
                    stack[-1].stmts.append(cur)
                    cur = []
            elif t == "{":
                blk = Block([], self.last_line if not cur else _line_of(cur))
                cur.append(blk)
                self.cur_stack.append(cur)
                stack.append(blk)
                cur = []
            elif t == "}":
                if cur:
                    stack[-1].stmts.append(cur)
                if len(stack) == 1:
                    self.tree.problems.append((self.last_line, "unbalanced '}'"))
                    cur = []
                    continue
                stack.pop()
                cur = self.cur_stack.pop()
        self.cur = cur

    def finish(self) -> Tree:
        stack, tree = self.stack, self.tree
        if self.cur:
            stack[-1].stmts.append(self.cur)
        while len(stack) > 1:
            blk = stack.pop()
            blk.closed = False
            tree.problems.append((blk.line, "block not closed (truncated ruleset?)"))
            parent = self.cur_stack.pop()
            if parent and not any(st is parent for st in stack[-1].stmts):
                stack[-1].stmts.append(parent)
        tree.stmts = self.root.stmts
        return tree


def parse_tree(text: str) -> Tree:
    """The statement tree of one ruleset text.

    A line without structure, quotes, comments or backslashes (most rule lines) is one whole statement:
    it is split on blanks and added directly; the other lines go through the full tokenizer. Texts with
    line continuations or ``$variables`` are tokenized as a whole first."""
    tree = Tree()
    b = _Builder(tree)
    if "\\" in text or "$" in text:
        toks = _scan_regex(text)
        if any(isinstance(t, Tok) and t.text.startswith("$") for t in toks):
            toks = _defines(toks, tree.problems)
        b.feed(toks)
        return b.finish()
    special = _SPECIAL.search
    newline: list[Tok | str] = ["\n"]
    for line, raw in enumerate(text.split("\n"), 1):
        if special(raw) is None:
            words = raw.split()
            if words:  # the statement before ended with the previous line: this line is a statement
                b.stack[-1].stmts.append([_new_tok(Tok, (w, line, False)) for w in words])
                b.last_line = line
        else:
            b.feed(_scan_regex(raw, line))
            b.feed(newline)
    return b.finish()


def _line_of(items: list[Tok | Block]) -> int:
    for it in items:
        return it.line
    return 0


def line_of(items: list[Tok | Block]) -> int:
    """Line of the first item of a statement."""
    return _line_of(items)
