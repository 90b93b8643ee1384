"""What every config dialect shares: the :class:`ConfigLine` reading of a running config, the documented
:class:`ConfigDialect` spec (how op25b finds and removes its own objects in that dialect), and the scans the
truncation checks use.

A dialect is a config *syntax* several platforms may share (Cisco-style indented blocks: IOS, IOS-XR, EOS, VRP;
Junos braces and ``set`` commands); a platform names its dialect (``Platform.dialect``), so push's clean-up,
drift repair and in-place check, the audit's remediation and the truncation check are written once per dialect,
never per platform name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from op25b_cfg.errors import cut
from op25b_cfg.redact import redact

if TYPE_CHECKING:
    from op25b_cfg.intent_protocols import Attachment

OBJECT_NAME = re.compile(r"OP25B-[A-Z0-9]+(?:-[A-Z0-9]+)*?-(?P<version>[0-9a-f]{8})")
"""The name of an object op25b owns: ``OP25B-<KIND...>-<version id>``."""

PROMPT = re.compile(r"^[\w.:@/-]+(?:\([\w-]+\))?[#>]\s*$")
"""A CLI prompt line a saved ``show running-config`` may end with (``r1#``, ``RP/0/RSP0/CPU0:r1#``)."""


@dataclass(frozen=True)
class ConfigLine:
    """One meaningful line of a running config with the headers of the blocks that enclose it."""

    index: int
    text: str
    parents: tuple[str, ...]


@dataclass(frozen=True)
class Reference:
    """A line inside an intended attachment that points at an OP25B object
    (:class:`op25b_cfg.cleanup.StaleReference`)."""

    name: str  # the OP25B object it references
    text: str  # the line, stripped
    parents: tuple[str, ...]  # the headers of the blocks that enclose it
    index: int  # its line number in the running config


@dataclass(frozen=True)
class Need:
    """What a remediation must change, from the parsed models: ``changed`` names the intended filters that are
    missing or decide differently, ``missing`` the (attachment, filter) bindings that do not run, ``flow``
    whether the flow-control objects differ, ``present`` the filter names the running config holds (their old
    body is removed first)."""

    changed: set[str]
    missing: set[tuple[str, str]]
    flow: bool
    present: set[str]


def block_end(lines: Sequence[ConfigLine], pos: int) -> int:
    """Index into ``lines`` of the last line inside the block whose header is ``lines[pos]``.

    >>> ls = [ConfigLine(0, "a", ()), ConfigLine(1, "b", ("a",)), ConfigLine(2, "c", ("a", "b"))]
    >>> block_end([*ls, ConfigLine(3, "d", ())], 0), block_end(ls, 1), block_end(ls, 2)
    (2, 2, 2)
    """
    depth = len(lines[pos].parents)
    header_path = (*lines[pos].parents, lines[pos].text)
    end = pos
    for j in range(pos + 1, len(lines)):
        if len(lines[j].parents) > depth and lines[j].parents[: depth + 1] == header_path:
            end = j
        else:
            break
    return end


class ConfigDialect:
    """How op25b reads one config dialect and removes its own objects from it. Every method is used by the
    shared code (push clean-up and drift repair, the audit's remediation, the truncation check); a dialect
    implements them once for every platform that speaks it.

    Attributes:

    ``removal_order``
        Object kind -> rank: objects are removed users first (a policy-map before the class-maps it uses).
    ``set_kinds``
        Object kinds whose entries form a set (a prefix list): compared without order by the drift check.
    ``epilogue``
        Lines that end a merge candidate of this dialect (``end``), or none.
    """

    removal_order: ClassVar[dict[str, int]] = {}
    set_kinds: ClassVar[frozenset[str]] = frozenset()
    epilogue: tuple[str, ...] = ()

    def lines(self, text: str) -> list[ConfigLine]:
        """The meaningful lines of ``text``, each with the headers of its enclosing blocks."""
        raise NotImplementedError

    def definitions(self, lines: Sequence[ConfigLine]) -> list[tuple[int, int, str, str]]:
        """(first, last, kind, name) of every OP25B object definition, as positions into ``lines``."""
        raise NotImplementedError

    def in_attachment(self, parents: tuple[str, ...], attach: Sequence[Attachment]) -> bool:
        """Whether a line with these enclosing headers sits in one of the attachments ``attach``."""
        raise NotImplementedError

    def removable_reference(self, ref: Reference) -> bool:
        """Whether removing the reference line removes the reference (default True; Junos: a member of a
        filter *list* stays, and so does the object it names)."""
        return True

    def remove_object(self, kind: str, name: str, parents: tuple[str, ...]) -> str:
        """The command that removes one object definition (``no ip access-list extended NAME``)."""
        raise NotImplementedError

    def object_kind(self, kind: str) -> str:
        """The short kind reported for a removed object (``access-list``, ``class-map``, ``filter``)."""
        return kind

    def remove_references(self, refs: Sequence[Reference]) -> list[str]:
        """Lines that remove the reference lines ``refs`` (run before the objects they use are removed)."""
        raise NotImplementedError

    def remediation(self, rendered: str, running_text: str, need: Need) -> list[str]:
        """The objects and attachment lines of ``rendered`` that the running config lacks (see :class:`Need`),
        in this dialect."""
        raise NotImplementedError

    def truncation_problem(self, text: str) -> str | None:
        """Why a saved running config of this dialect looks cut off (None: it looks complete)."""
        return None


# ---------------------------------------------------------------------------------------------------------------
# Scans for the truncation checks (each costs a small fraction of parsing)

_NOT_BRACES = bytes(c for c in range(256) if c not in b"{}")
_MEANINGFUL = {comment: re.compile(rf"^[^\S\n]*[^{re.escape(comment)}\s]", re.M) for comment in ("#", "!")}


def has_meaningful_line(text: str, comment: str) -> bool:
    """Whether a line holds something other than blanks and a ``comment`` (``#``/``!``) comment."""
    return _MEANINGFUL[comment].search(text) is not None


def last_meaningful_line(text: str, comment: str) -> str | None:
    """The last line (stripped) that is not blank, not a ``comment`` comment and not a CLI prompt; read from the
    end of the text, so the cost does not grow with the config."""
    end = len(text)
    while end > 0:
        start = text.rfind("\n", 0, end) + 1
        line = text[start:end].strip()
        if line and not line.startswith(comment) and not PROMPT.match(line):
            return line
        end = start - 1
    return None


@dataclass(frozen=True)
class Lexicon:
    """Where a dialect's quoted strings and comments start and end (what :func:`brace_balance` masks).

    ``quote`` runs to the next unescaped ``quote`` or the end of the line (a backslash escapes the next
    character); ``block_comment`` (opening, closing) may span lines; ``line_comment`` runs to the end of the line,
    and with ``comment_at_token_start`` only starts one at a token's start (the line's start, after a blank, a
    brace, a semicolon, a quoted string or a block comment), not inside a word."""

    quote: str = '"'
    block_comment: tuple[str, str] | None = ("/*", "*/")
    line_comment: str | None = "#"
    comment_at_token_start: bool = False


def _unmasked(text: str, lex: Lexicon) -> str:
    """``text`` without the quoted strings and comments of ``lex``; a removed block comment leaves its newlines,
    so line numbers stay.

    Jumps from one quote or comment start to the next with ``str.find`` (C speed), so the cost is that of a
    few scans of the text plus one step per quoted string or comment, not one per character.

    >>> _unmasked('a "x{" { /* }\\n */ } # {\\nb', Lexicon())
    'a  { \\n }  \\nb'
    >>> _unmasked('a#{ "x"#{\\n#{', Lexicon(comment_at_token_start=True))
    'a#{ \\n'
    """
    n = len(text)
    quoted_rest = _quoted_rest(lex.quote)
    opening, closing = lex.block_comment or ("", "")
    line_marker = lex.line_comment or ""
    boundary = " \t\r\n{};" + lex.quote if lex.comment_at_token_start else ""

    def find(marker: str, pos: int) -> int:
        found = text.find(marker, pos) if marker else -1
        return n if found < 0 else found

    parts: list[str] = []
    pos = 0
    at_quote, block, hash_ = find(lex.quote, 0), find(opening, 0), find(line_marker, 0)
    while True:
        if at_quote < pos:
            at_quote = find(lex.quote, pos)
        if block < pos:
            block = find(opening, pos)
        if hash_ < pos:
            hash_ = find(line_marker, pos)
        at = min(at_quote, block, hash_)
        if at >= n:
            break
        if at == at_quote:
            parts.append(text[pos:at])
            pos = quoted_rest.match(text, at + 1).end()  # type: ignore[union-attr]  # matches the empty string
        elif at == block:
            parts.append(text[pos:at])
            close = text.find(closing, at + len(opening))
            pos = n if close < 0 else close + len(closing)
            parts.append("\n" * text.count("\n", at, pos))
        elif boundary and at != pos and text[at - 1] not in boundary:
            hash_ = find(line_marker, at + 1)  # inside a word: not a comment
        else:
            parts.append(text[pos:at])
            pos = find("\n", at)
    parts.append(text[pos:])
    return "".join(parts)


@functools.cache
def _quoted_rest(quote: str) -> re.Pattern[str]:
    """The rest of a quoted string after its opening ``quote``: up to the closing quote or the end of the line
    (a backslash escapes the next character)."""
    q = re.escape(quote)
    # unrolled (plain characters taken as one run between escapes): the same matches as ``(?:[^q\\\n]|\\.)*q?``
    # at a fraction of the regex engine's steps per character
    return re.compile(rf"[^{q}\\\n]*(?:\\.[^{q}\\\n]*)*{q}?")


def brace_balance(text: str, lex: Lexicon) -> tuple[int, int | None]:
    """(final depth, first line number where depth went below zero) of ``{``/``}`` outside quoted strings and
    comments as ``lex`` (the dialect reader's rules) defines them.

    The braces are counted with ``bytes.translate``/``count``; whether the depth ever went below zero is read
    from the braces alone with matched ``{}`` pairs cancelled (what is left is ``}...}{...{``); only then are
    the lines walked, to name the line.

    >>> brace_balance("a {\\n b { c; }\\n}\\n", Lexicon()), brace_balance("a {\\n}}\\n{", Lexicon())
    ((0, None), (-1, 2))
    """
    markers = (lex.quote, *(lex.block_comment or ())[:1], lex.line_comment or "")
    clean = _unmasked(text, lex) if any(m and m in text for m in markers) else text
    braces = clean.encode("utf-8", "surrogatepass").translate(None, _NOT_BRACES)
    depth = braces.count(b"{") - braces.count(b"}")
    while b"{}" in braces:
        braces = braces.replace(b"{}", b"")
    if not braces.startswith(b"}"):
        return depth, None
    depth = 0
    for lineno, line in enumerate(clean.split("\n"), 1):
        for c in line:
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth < 0:
                    return depth, lineno
    raise AssertionError("unreachable: the cancelled braces start with '}'")  # pragma: no cover


def shown_line(line: str) -> str:
    return cut(redact(line.strip()), 60)


def brace_message(depth: int, negative_at: int | None, what: str) -> str | None:
    if negative_at is not None:
        return f"unbalanced '}}' at line {negative_at}: the {what} is damaged"
    if depth > 0:
        return f"{depth} unclosed '{{' at the end of the file: the {what} looks truncated"
    return None
