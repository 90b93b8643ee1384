"""Block-aware configuration state for CLI devices (Cisco IOS, Arista EOS).

The running config is a tree of :class:`Node` (a line and its indented children). Lines are applied the
way a CLI in configuration mode applies them: a section header (``interface X``, ``ip access-list ...``)
enters a sub-mode, later lines go into the current section, a top-level command leaves the sub-mode,
``exit`` leaves one level, ``no X`` removes ``X``. Indentation, when present (a config file), decides the
level; stripped lines (eAPI, interactive) use the section keywords below. This is not a full grammar:
it knows enough for access lists, interfaces, archive and the usual top-level lines.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# A stripped line starting with one of these opens a section (sub-mode).
SECTION_RE = re.compile(
    r"^(interface |ip access-list |ipv6 access-list |ipv4 access-list |mac access-list |router |line |archive$"
    r"|management |class-map |policy-map |route-map |vrf |dynamic-template$|control-plane|vlan |key chain "
    r"|ip prefix-list \S+$|ipv6 prefix-list \S+$|object-group |aaa group |monitor session |crypto |track )"
)
# A stripped, unindented line starting with one of these is a global command (leaves any sub-mode).
TOP_LEVEL_RE = re.compile(
    r"^(no |default )?(hostname |interface |ip access-list |ipv6 access-list |ipv4 access-list |router |line "
    r"|archive$|management |class-map |policy-map |route-map |vrf |dynamic-template$|control-plane|vlan "
    r"|key chain |file prompt|ip scp |ip ssh |logging |ntp |snmp-server |username |enable |service |ip route "
    r"|ipv6 route |ip domain|ip name-server|banner |spanning-tree |aaa |transceiver |ip routing|ipv6 unicast"
    r"|clock |boot |version |ip prefix-list |ipv6 prefix-list |object-group |monitor |crypto |track |end$)"
)
ACCESS_GROUP_RE = re.compile(r"^(ipv6|ip|ipv4) (access-group|traffic-filter) \S+( .*)?$")
SINGLE_VALUE_PREFIXES = ("hostname ", "description ", "ip domain name ", "ip domain-name ", "path ", "maximum ")


def line_key(text: str) -> str:
    """Identity of a config line inside its parent: a line with the same key replaces the old one."""
    m = re.match(r"^(\d+)(\s|$)", text)
    if m:
        return f"seq {m.group(1)}"
    m = ACCESS_GROUP_RE.match(text)
    if m:
        return f"{m.group(1)} {m.group(2)} *{m.group(3) or ''}"
    if text.startswith("ip address ") and not text.endswith(" secondary"):
        return "ip address"
    if text.startswith("class-map "):  # 'no class-map NAME' removes 'class-map match-any NAME'
        return f"class-map {text.split()[-1]}"
    if text.startswith("service-policy ") and len(text.split()) == 3:  # one policy per direction
        return " ".join(text.split()[:2])
    for prefix in SINGLE_VALUE_PREFIXES:
        if text.startswith(prefix):
            return prefix
    return text


@dataclass
class Node:
    """One config line and its indented children."""

    text: str
    children: list[Node] = field(default_factory=list)

    def find(self, text: str) -> Node | None:
        """The child with exactly this text, else the child with the same :func:`line_key`."""
        for child in self.children:
            if child.text == text:
                return child
        key = line_key(text)
        for child in self.children:
            if line_key(child.text) == key:
                return child
        return None

    def render(self, indent: str, depth: int = 0) -> list[str]:
        out = [indent * depth + self.text]
        for child in self.children:
            out.extend(child.render(indent, depth + 1))
        return out


def parse_tree(text: str) -> Node:
    """Parse an indented config text into a root :class:`Node` (comments, blank lines and ``end`` dropped)."""
    root = Node("")
    stack: list[tuple[int, Node]] = [(-1, root)]
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("!") or stripped == "end":
            continue
        level = len(line) - len(line.lstrip(" "))
        while stack[-1][0] >= level:
            stack.pop()
        node = Node(stripped)
        stack[-1][1].children.append(node)
        stack.append((level, node))
    return root


class CliConfig:
    """A running config (or a session copy of one) that CLI lines can be applied to."""

    def __init__(self, text: str = "", indent: str = " ") -> None:
        self.indent = indent
        self.root = parse_tree(text)

    def copy(self) -> CliConfig:
        new = CliConfig("", self.indent)
        new.root = copy.deepcopy(self.root)
        return new

    def render(self) -> str:
        """The config text, with ``!`` after each section, without header or ``end``."""
        out: list[str] = []
        for node in self.root.children:
            out.extend(node.render(self.indent))
            if node.children:
                out.append("!")
        return "\n".join(out) + "\n"

    def lines(self) -> list[str]:
        """Every rendered line (for searches such as ``| include``)."""
        return self.render().splitlines()

    def session(self) -> ModeSession:
        return ModeSession(self)


class ModeSession:
    """Configuration mode: applies lines one at a time, tracking the current sub-mode."""

    def __init__(self, cfg: CliConfig) -> None:
        self.cfg = cfg
        self.stack: list[tuple[int, Node]] = []

    @property
    def mode(self) -> str:
        """The sub-mode name used in prompts, e.g. ``config-if``; ``config`` at the top."""
        if not self.stack:
            return "config"
        head = self.stack[-1][1].text
        if head.startswith("interface"):
            return "config-if"
        if head.startswith(("ip access-list extended", "ip access-list standard")):
            return "config-ext-nacl"
        if head.startswith(("ip access-list", "ipv4 access-list")):
            return "config-acl"
        if head.startswith("ipv6 access-list"):
            return "config-ipv6-acl"
        if head.startswith("archive"):
            return "config-archive"
        return "config-" + head.split()[0][:8]

    def apply(self, raw: str) -> None:
        """Apply one line (indented or stripped)."""
        line = raw.rstrip()
        text = line.strip()
        if not text or text.startswith("!"):
            return
        if text == "exit":
            if self.stack:
                self.stack.pop()
            return
        if text == "end":
            self.stack.clear()
            return
        level = len(line) - len(line.lstrip(" "))
        if level > 0:
            while self.stack and self.stack[-1][0] >= level:
                self.stack.pop()
        elif TOP_LEVEL_RE.match(text) or not self.stack:
            self.stack.clear()
        parent = self.stack[-1][1] if self.stack else self.cfg.root
        negated = re.match(r"^(no|default) (.*)$", text)
        if negated:
            target = parent.find(negated.group(2))
            if target is not None:
                parent.children.remove(target)
            return
        node = parent.find(text)
        if node is None:
            node = Node(text)
            parent.children.append(node)
        elif node.text != text:
            node.text = text
        if level > 0 or SECTION_RE.match(text):
            self.stack.append((level, node))

    def apply_all(self, lines: Iterable[str], reject: Callable[[str], bool] | None = None) -> str | None:
        """Apply lines; stop at the first one ``reject`` refuses and return it (``None`` when all applied)."""
        for raw in lines:
            if raw.strip() == "end":
                break
            if reject is not None and raw.strip() and reject(raw.strip()):
                return raw.strip()
            self.apply(raw)
        return None


def missing_lines(running: CliConfig, wanted: CliConfig) -> list[str]:
    """Lines of ``wanted`` not in ``running``, each with its section header for context (IOS incremental-diffs)."""
    out: list[str] = []

    def walk(have: Node | None, want: Node, depth: int, header: list[str]) -> None:
        for child in want.children:
            match = have.find(child.text) if have is not None else None
            exact = match is not None and match.text == child.text
            if child.text.startswith(("no ", "default ")):
                target = have.find(child.text.split(" ", 1)[1]) if have is not None else None
                if target is not None:
                    out.extend(header)
                    header.clear()
                    out.append(" " * depth + child.text)
                continue
            if not exact:
                out.extend(header)
                header.clear()
                out.extend(child.render(" ", depth))
                continue
            walk(match, child, depth + 1, [*header, " " * depth + child.text])

    walk(running.root, wanted.root, 0, [])
    return out
