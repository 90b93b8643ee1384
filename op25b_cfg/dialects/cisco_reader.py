"""The one reader of Cisco-style indented-block configs (IOS/IOS-XE, IOS-XR, EOS and alike): the parsers' fast
scan (:func:`scan`), the clean-up planner's and the emulators' reading of a config into lines with their
enclosing block headers (:func:`config_lines`) all use the rules
written here once: lines are split as an editor splits them (:func:`split_lines`), an indented
line belongs to the block above it, ``!``/``#`` lines at the left margin are comments, banners and macros are
skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from op25b_cfg.dialects.base import ConfigLine


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` (LF, CRLF or CR), keeping 1-based numbering equal to an editor's."""
    if "\r" in text:
        text = text.replace("\r\n", "\n") if "\n" in text else text.replace("\r", "\n")
        if "\r" in text:
            text = text.replace("\r", "")
    return text.split("\n")


@dataclass
class Block:
    """A top-level line that matters and its indented children ``(line, stripped text)``."""

    kind: str
    tokens: list[str]
    line: int
    text: str
    children: list[tuple[int, str]] = field(default_factory=list)
    unsure: dict[int, str] = field(default_factory=dict)
    """Unindented children that belong to this block only if an unrecognised line before them did not leave
    its configuration mode: line -> the reason (see :func:`scan` ``submode``)."""
    runs: list[tuple[int, int]] = field(default_factory=list)
    """Indented lines not collected into ``children`` (a kind in :func:`scan`'s ``defer``): 0-based ``[start,
    end)`` ranges of the scanned lines; :func:`children_of` gives them with ``children``."""


@dataclass
class ScanResult:
    blocks: list[Block]
    watched: list[tuple[int, str]]
    notes: list[str]


_BANNER_RE = re.compile(r"^banner\s+\S+\s?(.*)$")


SubMode = Callable[[str, list[str]], str | None]
"""Where an unindented line belongs while a block of the given kind is open: ``"child"`` (a sub-command of
that mode), ``"global"`` (a command that leaves it), or None (not known: the mode is no longer certain)."""


def scan(
    lines: list[str],
    classify: Callable[[list[str]], str | None],
    watch: str | None = None,
    eos_banners: bool = False,
    submode: SubMode | None = None,
    defer: frozenset[str] = frozenset(),
) -> ScanResult:
    """One pass over ``lines``: the blocks ``classify`` names (from the tokens of a top-level line), plus
    every line containing ``watch``. Banners (IOS delimiter style, or EOS ``EOF`` style) and IOS macros are
    skipped; comment lines (``!``) never end or enter a block of indented children.

    ``submode`` reads configs whose indentation was lost (flattened archives, pasted configs) the way the
    device's configuration mode does: after a block's header, an unindented line that is a sub-command of
    that mode stays in it (a child of the block) until a global command, ``exit``/``end`` or a ``!`` line
    leaves it. Once a line ``submode`` does not know was read in the mode, later unindented children are kept
    with the reason they are not certain (:attr:`Block.unsure`).

    Blocks of a kind in ``defer`` keep their indented lines as ranges (:attr:`Block.runs`), not stripped and
    numbered one by one: a parser that may never read them (customer ACLs) reads them with :func:`children_of`.

    >>> lines = ["ip access-list extended A", " permit ip any any", " !", "", " deny ip any any", "!"]
    >>> acl = lambda t: "acl" if t[0] == "ip" else None
    >>> blk = scan(lines, acl, defer=frozenset({"acl"})).blocks[0]
    >>> blk.children, blk.runs, children_of(blk, lines) == scan(lines, acl).blocks[0].children
    ([], [(1, 5)], True)
    """
    blocks: list[Block] = []
    watched: list[tuple[int, str]] = []
    notes: list[str] = []
    cur: list[tuple[int, str]] | None = None
    mode: Block | None = None  # the block whose configuration mode unindented lines may still be in
    doubt = ""  # why that mode is no longer certain ("" = certain)
    lazy: Block | None = None  # the block of a ``defer`` kind whose indented lines are kept as ranges
    run_at = -1  # index of the first line of the open range (-1: none)
    n = len(lines)
    i = 0
    while i < n:
        raw = lines[i]
        i += 1
        if not raw:
            continue
        c = raw[0]
        if c == " " or c == "\t":
            if watch is not None and watch in raw:
                watched.append((i, raw.strip()))
            if cur is not None:
                if lazy is not None:
                    if run_at < 0:
                        run_at = i - 1
                    continue
                s = raw.strip()
                if s and s[0] != "!":
                    cur.append((i, s))
            continue
        if run_at >= 0:
            assert lazy is not None
            lazy.runs.append((run_at, i - 1))
            run_at = -1
        if c == "!" or c == "#":
            mode = None
            continue
        toks = raw.split(None, 4)
        if not toks:
            continue
        first = toks[0]
        if first == "banner":
            i = _skip_banner(lines, i - 1, raw, eos_banners, notes)
            cur = mode = lazy = None
            continue
        if first == "macro" and len(toks) > 1 and toks[1] == "name":
            i = _skip_until(lines, i, "@", i - 1, "macro", notes)
            cur = mode = lazy = None
            continue
        if watch is not None and watch in raw:
            watched.append((i, raw.strip()))
        kind = classify(toks)
        if kind is None:
            where = "global" if mode is None or submode is None else submode(mode.kind, toks)
            if where == "global":
                cur = mode = lazy = None
                continue
            s = raw.strip()
            assert mode is not None
            if where == "child":
                mode.children.append((i, s))
                if doubt:
                    mode.unsure[i] = doubt
                cur = mode.children
                lazy = mode if mode.kind in defer else None
            else:  # unknown: IOS keeps the mode if the line is a sub-command, else leaves it
                doubt = doubt or (
                    f"the indentation is lost and line {i} (`{s[:60]}`) is not known as a sub-command or a global"
                    f" command, so it is not certain that this line still belongs to `{mode.text}`"
                )
                cur = lazy = None
            continue
        blk = Block(kind, raw.split(), i, raw.strip())
        blocks.append(blk)
        cur = blk.children
        mode, doubt = blk, ""
        lazy = blk if kind in defer else None
    if run_at >= 0:
        assert lazy is not None
        lazy.runs.append((run_at, n))
    return ScanResult(blocks, watched, notes)


def children_of(blk: Block, lines: list[str]) -> list[tuple[int, str]]:
    """Every child of ``blk`` in line order, as :func:`scan` without ``defer`` collects them (``lines``: the
    lines scanned): :func:`with_runs` of its ``children`` and ``runs``."""
    return with_runs(blk.children, blk.runs, lines)


def with_runs(children: list[tuple[int, str]], runs: list[tuple[int, int]], lines: list[str]) -> list[tuple[int, str]]:
    """``children`` merged in line order with ``(line, stripped text)`` of the lines in ``runs`` (see
    :attr:`Block.runs`; ranges of the scanned ``lines``), blank and ``!`` lines left out, as :func:`scan`
    collects children."""
    if not runs:
        return children
    ranged = [(k + 1, s) for a, b in runs for k in range(a, b) if (s := lines[k].strip()) and s[0] != "!"]
    return sorted(children + ranged) if children else ranged


def _skip_until(lines: list[str], start: int, end: str, header: int, what: str, notes: list[str]) -> int:
    """Index after the first line from ``start`` whose stripped text is ``end``; unterminated: ``start``."""
    for j in range(start, len(lines)):
        if lines[j].strip() == end:
            return j + 1
    notes.append(f"line {header + 1}: {what} is never closed; the lines after it were read as configuration")
    return start


def _skip_banner(lines: list[str], idx: int, raw: str, eos: bool, notes: list[str]) -> int:
    """Index of the first line after the banner that starts at ``lines[idx]``."""
    if eos:
        return _skip_until(lines, idx + 1, "EOF", idx, "banner", notes)
    m = _BANNER_RE.match(raw.strip())
    rest = m.group(1).strip() if m else ""
    if not rest:
        return idx + 1
    delim = "^C" if rest.startswith("^C") else rest[0]
    if delim in rest[len(delim) :]:
        return idx + 1
    for j in range(idx + 1, len(lines)):
        if delim in lines[j]:
            return j + 1
    notes.append(f"line {idx + 1}: banner delimiter {delim!r} is never closed; the lines after it were read")
    return idx + 1


def _every_line(end: str) -> Callable[[list[str]], str | None]:
    """A :func:`scan` classifier that keeps every top-level line as a block, except the end marker."""

    def classify(toks: list[str]) -> str | None:
        return None if toks[0] == end and len(toks) == 1 else "line"

    return classify


def config_lines(text: str, end: str = "end", eos_banners: bool = False) -> list[ConfigLine]:
    """Every meaningful line of ``text`` (0-based ``index``) with the headers of the blocks that enclose it, read
    by :func:`scan`: comments, blank lines, the ``end`` marker, banners and macros are left out; nesting below a
    block header follows the indentation.

    >>> [(ln.index, ln.text, ln.parents) for ln in config_lines("interface Gi1\\n ip access-group A in\\n!\\nend\\n")]
    [(0, 'interface Gi1', ()), (1, 'ip access-group A in', ('interface Gi1',))]
    >>> [ln.parents for ln in config_lines("policy-map P\\n class C\\n  police 8000\\n set dscp 0\\n")]
    [(), ('policy-map P',), ('policy-map P', 'class C'), ('policy-map P',)]
    """
    lines = split_lines(text)
    out: list[ConfigLine] = []
    for blk in scan(lines, _every_line(end), eos_banners=eos_banners).blocks:
        out.append(ConfigLine(blk.line - 1, blk.text, ()))
        stack: list[tuple[int, str]] = [(-1, blk.text)]
        for i, body in blk.children:
            raw = lines[i - 1]
            indent = len(raw) - len(raw.lstrip(" \t"))
            while len(stack) > 1 and stack[-1][0] >= indent:
                stack.pop()
            out.append(ConfigLine(i - 1, body, tuple(h for _, h in stack)))
            stack.append((indent, body))
    return out
