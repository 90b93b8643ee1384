"""Junos configuration as a tree: brace-text parser, set-command loader, merge/override, renderer, diff.

Without the Junos schema, identity is inferred: a container is known by its whole header
(``filter OP25B-V4-x``), a leaf with a value by its first word (``input X`` replaces ``input Y``), a
one-word leaf by itself (``100.64.0.0/16;``). ``/* ... */`` annotations attach to the next statement,
``replace:``/``delete:``/``inactive:`` tags are honoured as Junos does on ``load``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

# leaves that may repeat with different values under one parent
MULTI_VALUE = frozenset({"address", "member", "members", "community", "route-filter", "apply-groups"})
# set-format words followed by a name that form one container header (``family inet``)
KEYED = frozenset(
    {
        "family",
        "filter",
        "term",
        "prefix-list",
        "unit",
        "policy-statement",
        "interface",
        "group",
        "neighbor",
        "routing-instances",
        "policer",
        "profile",
        "instance",
        "vlan",
    }
)
# set-format words that are containers of a list of names (``source-prefix-list { P; }``)
LIST_CONTAINERS = frozenset(
    {"source-prefix-list", "destination-prefix-list", "prefix-list", "source-address", "destination-address"}
)

_TOKEN_RE = re.compile(r'/\*.*?\*/|"(?:[^"\\]|\\.)*"|#[^\n]*|[{};\[\]]|[^\s{};\[\]"]+', re.S)


class JunosSyntaxError(ValueError):
    """The text is not valid Junos brace or set configuration."""


@dataclass
class JNode:
    """One statement; ``children`` is ``None`` for a leaf (``x;``) and a list for a container (``x { }``)."""

    words: list[str]
    children: list[JNode] | None = None
    comment: str | None = None
    tag: str | None = None  # replace | delete | inactive

    @property
    def header(self) -> str:
        return " ".join(self.words)

    @property
    def key(self) -> str:
        if self.children is None and len(self.words) >= 2 and self.words[0] not in MULTI_VALUE:
            return self.words[0]
        return self.header

    def find(self, key: str) -> JNode | None:
        for child in self.children or []:
            if child.key == key:
                return child
        return None


def parse(text: str) -> JNode:
    """Parse brace-format text into a root container. Raises :class:`JunosSyntaxError`."""
    root = JNode([], [])
    stack = [root]
    words: list[str] = []
    comment: str | None = None
    tag: str | None = None
    in_list = False
    for tok in _TOKEN_RE.findall(text):
        if tok.startswith("#"):
            continue
        if tok.startswith("/*"):
            comment = tok[2:-2].strip()
            continue
        if in_list:
            words.append(tok)
            if tok == "]":
                in_list = False
            continue
        if tok == "[":
            words.append(tok)
            in_list = True
        elif tok in ("replace:", "delete:", "inactive:", "protect:") and not words:
            tag = tok[:-1]
        elif tok == ";":
            if words:
                container = stack[-1].children
                assert container is not None
                container.append(JNode(words, None, comment, tag))
            words, comment, tag = [], None, None
        elif tok == "{":
            if not words:
                raise JunosSyntaxError("'{' without a statement")
            node = JNode(words, [], comment, tag)
            container = stack[-1].children
            assert container is not None
            container.append(node)
            stack.append(node)
            words, comment, tag = [], None, None
        elif tok == "}":
            if words or len(stack) == 1:
                raise JunosSyntaxError(f"unexpected '}}' after {' '.join(words) or 'top level'}")
            stack.pop()
        else:
            words.append(tok)
    if words or len(stack) != 1 or in_list:
        raise JunosSyntaxError("missing ';' or '}' at end of configuration")
    return root


def render(root: JNode) -> str:
    """Junos-style text (4-space indent, annotations as ``/* */`` lines)."""
    out: list[str] = []
    for child in root.children or []:
        _render(child, 0, out)
    return "\n".join(out) + ("\n" if out else "")


def _render(node: JNode, depth: int, out: list[str]) -> None:
    pad = "    " * depth
    if node.comment:
        out.append(f"{pad}/* {node.comment} */")
    prefix = "inactive: " if node.tag == "inactive" else ""
    if node.children is None:
        out.append(f"{pad}{prefix}{node.header};")
        return
    out.append(f"{pad}{prefix}{node.header} {{")
    for child in node.children:
        _render(child, depth + 1, out)
    out.append(f"{pad}}}")


def _clean(node: JNode) -> JNode:
    """A deep copy without load-time tags (``inactive`` is kept: it is configuration)."""
    new = copy.deepcopy(node)
    stack = [new]
    while stack:
        cur = stack.pop()
        if cur.tag in ("replace", "delete"):
            cur.tag = None
        stack.extend(cur.children or [])
    return new


def merge(target: JNode, source: JNode) -> None:
    """Merge ``source`` into ``target`` in place (``load merge`` / ``load replace`` with tags)."""
    assert target.children is not None
    for src in source.children or []:
        existing = target.find(src.key)
        if src.tag == "delete":
            if existing is not None:
                target.children.remove(existing)
            continue
        if existing is None or src.tag == "replace" or src.children is None or existing.children is None:
            new = _clean(src)
            if existing is None:
                target.children.append(new)
            else:
                target.children[target.children.index(existing)] = new
            continue
        if src.comment:
            existing.comment = src.comment
        merge(existing, src)


def load_set(target: JNode, text: str) -> None:
    """Apply ``set``/``delete`` commands to ``target`` in place."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', line)
        verb, path = words[0], words[1:]
        if verb not in ("set", "delete") or not path:
            raise JunosSyntaxError(f"unknown command: {line}")
        _walk_set(target, path, verb == "delete")


def _walk_set(node: JNode, path: list[str], delete: bool) -> None:
    i = 0
    while i < len(path):
        rest = path[i:]
        kids = node.children
        assert kids is not None
        two = node.find(" ".join(rest[:2])) if len(rest) >= 2 else None
        one = node.find(rest[0])
        if two is not None and two.children is not None:
            if delete and len(rest) == 2:
                kids.remove(two)
                return
            node, i = two, i + 2
            continue
        if one is not None and one.children is not None and (len(rest) > 1 or delete):
            if delete and len(rest) == 1:
                kids.remove(one)
                return
            node, i = one, i + 1
            continue
        if delete:
            victim = node.find(" ".join(rest)) or (one if len(rest) <= 2 else None)
            if victim is not None and (len(rest) == 1 or victim.children is None or victim.header == " ".join(rest)):
                kids.remove(victim)
            return
        if len(rest) == 1:
            leaf = JNode(rest, None)
            if node.find(leaf.key) is None:
                kids.append(leaf)
            return
        if len(rest) == 2 and rest[0] in LIST_CONTAINERS:
            cont = JNode([rest[0]], [JNode([rest[1]], None)])
            kids.append(cont)
            return
        if len(rest) == 2 and rest[0] not in KEYED:
            leaf = JNode(rest, None)
            old = node.find(leaf.key)
            if old is not None:
                kids[kids.index(old)] = leaf
            else:
                kids.append(leaf)
            return
        take = 2 if rest[0] in KEYED else 1
        cont = JNode(rest[:take], [])
        kids.append(cont)
        node, i = cont, i + take


def diff(old: JNode, new: JNode) -> str:
    """``show | compare`` output: ``[edit path]`` headers, ``+``/``-`` lines; empty when equal."""
    out: list[str] = []
    _diff(old, new, [], out)
    return "\n".join(out) + ("\n" if out else "")


def _lines(node: JNode, sign: str) -> list[str]:
    body: list[str] = []
    _render(node, 0, body)
    return [f"{sign}   {line}" for line in body]


def _diff(old: JNode, new: JNode, path: list[str], out: list[str]) -> None:
    here: list[str] = []
    nested: list[tuple[JNode, JNode]] = []
    new_keys = {c.key for c in new.children or []}
    for child in old.children or []:
        if child.key not in new_keys:
            here.extend(_lines(child, "-"))
    for child in new.children or []:
        match = old.find(child.key)
        if match is None:
            here.extend(_lines(child, "+"))
        elif child.children is None or match.children is None:
            if child.header != match.header or (child.children is None) != (match.children is None):
                here.extend(_lines(match, "-"))
                here.extend(_lines(child, "+"))
        else:
            if (child.comment or "") != (match.comment or ""):
                if match.comment:
                    here.append(f"-   /* {match.comment} */")
                if child.comment:
                    here.append(f"+   /* {child.comment} */")
                here.append(f"    {child.header} {{ ... }}")
            nested.append((match, child))
    if here:
        out.append("[edit" + ("" if not path else " " + " ".join(path)) + "]")
        out.extend(here)
    for o, n in nested:
        _diff(o, n, [*path, n.header], out)
