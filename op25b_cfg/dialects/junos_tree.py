"""Junos configuration as a tree (the emulator's configuration store): the tree built from the statements of the
one Junos reader (:func:`op25b_cfg.dialects.junos.statements`), merge/override, ``set``-command loader, renderer,
diff; and :class:`JunosDialect`, how op25b removes its own objects from a Junos config (its lines come from the
same reader).

Without the Junos schema, identity is inferred: a container is known by its whole header
(``filter OP25B-V4-x``), a leaf with a value by its first word (``input X`` replaces ``input Y``), a
one-word leaf by itself (``100.64.0.0/16;``). ``/* ... */`` annotations attach to the next statement,
``replace:``/``delete:``/``inactive:`` tags are honoured as Junos does on ``load``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from op25b_cfg.dialects.base import (
    OBJECT_NAME,
    ConfigDialect,
    ConfigLine,
    Need,
    Reference,
    block_end,
)
from op25b_cfg.dialects.junos import JunosSyntaxError, read, statements, truncation_problem

if TYPE_CHECKING:
    from op25b_cfg.intent_protocols import Attachment

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
    """Parse brace-format text into a root container (read by :func:`statements`). Raises
    :class:`JunosSyntaxError`."""
    root = JNode([], [])
    stack = [root]
    for st in statements(text):
        if st.kind == "close":
            stack.pop()
            continue
        node = JNode(list(st.words), [] if st.kind == "open" else None, st.comment, st.tag)
        container = stack[-1].children
        assert container is not None
        container.append(node)
        if node.children is not None:
            stack.append(node)
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
    """Apply ``set``/``delete`` commands (one a line, read by :func:`statements`) to ``target`` in place.

    >>> root = JNode([], [])
    >>> load_set(root, 'set system host-name r1\\nset interfaces ge-0/0/1 description "a b"\\n')
    >>> print(render(root), end="")
    system {
        host-name r1;
    }
    interfaces {
        ge-0/0/1 {
            description "a b";
        }
    }
    """
    for st in statements(text, strict=False):
        verb, path = (st.words[0], list(st.words[1:])) if st.words else ("", [])
        if st.kind != "leaf" or st.tag is not None or verb not in ("set", "delete") or not path:
            raise JunosSyntaxError(f"unknown command: {' '.join(st.words) or st.kind}")
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


# ---------------------------------------------------------------------------------------------------------------
# Emulator lab helpers: a Junos config before op25b, with the services a driver needs


def _prune_junos(node: JNode) -> bool:
    """Remove OP25B statements below ``node``; True when ``node`` became an empty container because of it."""
    if node.children is None:
        return False
    kept: list[JNode] = []
    removed = False
    for child in node.children:
        if "OP25B" in child.header.upper() or (child.comment and "op25b" in child.comment.lower()):
            removed = True
            continue
        if _prune_junos(child):
            removed = True
            continue
        kept.append(child)
    node.children = kept
    return removed and not kept


def strip_op25b(text: str) -> str:
    """``text`` without any OP25B statement or annotation; containers left empty by the removal go too."""
    root = parse(text)
    _prune_junos(root)
    return render(root)


def ensure(text: str, path: tuple[str, ...], snippet: str) -> str:
    """``text`` with ``snippet`` merged in unless the statement ``path`` exists."""
    root = parse(text)
    node: JNode | None = root
    for word in path:
        node = node.find(word) if node is not None else None
    if node is None:
        merge(root, parse(snippet))
    return render(root)


# ---------------------------------------------------------------------------------------------------------------
# The dialect spec: how op25b reads a Junos running config and removes its own objects from it


class JunosDialect(ConfigDialect):
    """Junos brace format (``show configuration``) and ``set`` commands: objects live under ``firewall`` and
    ``policy-options``; ``delete <path>`` removes a statement; a merge candidate needs no end marker.

    >>> d = JunosDialect()
    >>> text = "firewall {\\n family inet {\\n  filter F { term t; }\\n }\\n}\\n"
    >>> [(ln.text, ln.parents) for ln in d.lines(text)][:2]
    [('firewall', ()), ('family inet', ('firewall',))]
    """

    removal_order: ClassVar[dict[str, int]] = {"filter": 0, "policer": 1, "prefix-list": 2}
    set_kinds: ClassVar[frozenset[str]] = frozenset({"prefix-list"})

    def lines(self, text: str) -> list[ConfigLine]:
        """Read by :func:`statements` (not strict): one line per statement, with its enclosing headers."""
        out: list[ConfigLine] = []
        stack: list[str] = []
        for st in statements(text, strict=False):
            if st.kind == "close":
                if stack:
                    stack.pop()
                continue
            text_ = " ".join(st.words)
            out.append(ConfigLine(st.line - 1, text_, tuple(stack)))
            if st.kind == "open":
                stack.append(text_)
        return out

    def definitions(self, lines: Sequence[ConfigLine]) -> list[tuple[int, int, str, str]]:
        out = []
        for pos, ln in enumerate(lines):
            m = _JUNOS_DEFS.match(ln.text)
            if not m or not ln.parents or ln.parents[0] not in ("firewall", "policy-options"):
                continue
            if OBJECT_NAME.fullmatch(m["name"]):
                out.append((pos, block_end(lines, pos), m["kind"], m["name"]))
        return out

    def in_attachment(self, parents: tuple[str, ...], attach: Sequence[Attachment]) -> bool:
        for att in attach:
            if att.kind == "dynamic-profile" and parents[:2] == ("dynamic-profiles", att.name):
                return True
            if att.kind == "unit":
                ifd, _, unit = att.name.rpartition(".")
                for k in range(len(parents) - 1):
                    if parents[k] == ifd and parents[k + 1] == f"unit {unit}":
                        return True
        return False

    def removable_reference(self, ref: Reference) -> bool:
        """A ``delete`` names the statement: only ``input NAME``-style leaves; a list member stays."""
        return ref.text.split()[-1].strip('"') == ref.name

    def remove_object(self, kind: str, name: str, parents: tuple[str, ...]) -> str:
        return f"delete {' '.join(parents)} {kind} {name}"

    def remove_references(self, refs: Sequence[Reference]) -> list[str]:
        return [f"delete {' '.join(r.parents)} {' '.join(r.text.split()[:-1])}" for r in refs]

    def remediation(self, rendered: str, running_text: str, need: Need) -> list[str]:
        return _junos_change(rendered, running_text, need.changed, need.missing)

    def truncation_problem(self, text: str) -> str | None:
        """The reader's brace check (:func:`op25b_cfg.dialects.junos.truncation_problem`)."""
        return truncation_problem(text)


_JUNOS_DEFS = re.compile(r"^(?P<kind>filter|prefix-list|policer)\s+(?P<name>\S+)$")


def _junos_change(rendered: str, running_text: str, changed: set[str], missing: set[tuple[str, str]]) -> list[str]:
    """``delete`` / ``set`` statements for the OP25B objects and attachments that differ."""
    want = [p for s in read(rendered).stmts if not s.inactive for p in _one_value(s.path)]
    have = {
        p for s in read(running_text, sections=_OBJECT_SECTIONS).stmts if not s.inactive for p in _one_value(s.path)
    }
    objects: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    leaves: list[tuple[str, ...]] = []
    for path in want:
        obj = _junos_object(path)
        if obj is not None:
            objects.setdefault(obj, []).append(path)
        else:
            leaves.append(path)
    out: list[str] = []
    for obj, paths in objects.items():
        kind, name = obj[-2], obj[-1]
        present = [p for p in have if p[: len(obj)] == obj]
        # a filter by its meaning; a prefix-list or policer by its statements (a set: their order is free)
        differs = name in changed if kind == "filter" else set(paths) != set(present)
        if differs:
            if present:
                out.append("delete " + _set_path(obj))
            out.extend("set " + _set_path(p) for p in paths)
    out.extend("set " + _set_path(p) for p in leaves if _binds(p, missing))
    return out


_OBJECT_SECTIONS = frozenset({"policy-options", "firewall"})
"""What the remediation compares statement by statement (the bindings come from the parsed model)."""


def _binds(path: tuple[str, ...], missing: set[tuple[str, str]]) -> bool:
    """Whether the attachment statement ``path`` (``interfaces IFD unit N ... filter input F``, ``dynamic-profiles
    P ... filter input F``) binds a filter the running config does not bind there (from the parsed bindings)."""
    where = {path[1], f"{path[1]}.{path[3]}" if len(path) > 3 else path[1]}
    return any(f == path[-1] and a in where for a, f in missing)


def _one_value(path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """A statement whose value is a list (``destination-port [ 587 465 ]``) as one statement per value.

    >>> _one_value(("term", "t", "from", "destination-port", "[ 587 465 ]"))
    [('term', 't', 'from', 'destination-port', '587'), ('term', 't', 'from', 'destination-port', '465')]
    """
    last = path[-1] if path else ""
    if not (last.startswith("[") and last.endswith("]")):
        return [path]
    return [(*path[:-1], v) for v in last[1:-1].split()]


def _set_path(path: tuple[str, ...]) -> str:
    """A statement path in ``set`` syntax (words with ``$``, blanks or quotes quoted).

    >>> _set_path(("interfaces", "pp0", "unit", "$junos-interface-unit", "family", "inet"))
    'interfaces pp0 unit "$junos-interface-unit" family inet'
    """
    return " ".join(w if not any(c in w for c in ' $";{}#') else '"' + w.replace('"', '\\"') + '"' for w in path)


def _junos_object(path: tuple[str, ...]) -> tuple[str, ...] | None:
    """The object a statement belongs to (``... filter NAME``, ``policy-options prefix-list NAME``,
    ``firewall policer NAME``), or None for an attachment statement."""
    if path[:1] == ("interfaces",) or "interfaces" in path[:3]:
        return None
    for kind in ("filter", "prefix-list", "policer"):
        if kind in path:
            i = path.index(kind)
            if i + 1 < len(path):
                return path[: i + 2]
    return None
