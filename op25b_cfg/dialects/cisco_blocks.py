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
ACE_RE = re.compile(r"^(?:\d+ )?(?:permit|deny) ")
PORT_OPS = frozenset({"eq", "neq", "lt", "gt"})
# Port numbers each platform's show running-config prints by name (a subset of their keyword lists: the
# numbers an OP25B filter or a typical ACL uses). IOS-XE/XR and EOS print `eq smtp` for a typed `eq 25`.
SHOWN_PORT_NAMES: dict[str, dict[str, str]] = {
    "ios": {"20": "ftp-data", "21": "ftp", "23": "telnet", "25": "smtp", "53": "domain", "80": "www", "110": "pop3"},
    "iosxr": {"21": "ftp", "23": "telnet", "25": "smtp", "53": "domain", "80": "www", "110": "pop3"},
    "eos": {"22": "ssh", "25": "smtp", "53": "domain", "80": "www", "443": "https"},
}


def shown_ace(text: str, platform: str) -> str:
    """An access-list entry the way ``platform``'s running config prints it: well-known ports by name, a
    single address as ``host X`` (typed as ``X/32``, ``X/128`` or ``X 0.0.0.0``), IPv6 upper-case on IOS.

    >>> shown_ace("permit tcp 2001:db8::/33 2001:db8:25::25/128 eq 25 log", "ios")
    'permit tcp 2001:DB8::/33 host 2001:DB8:25::25 eq smtp log'
    >>> shown_ace("30 permit tcp 100.64.0.0 0.0.255.255 192.0.2.25 0.0.0.0 eq 587", "ios")
    '30 permit tcp 100.64.0.0 0.0.255.255 host 192.0.2.25 eq 587'
    >>> shown_ace("50 permit tcp 100.65.0.0/16 192.0.2.25/32 eq 25", "eos")
    '50 permit tcp 100.65.0.0/16 host 192.0.2.25 eq smtp'
    >>> shown_ace("interface Ethernet1", "eos")
    'interface Ethernet1'
    """
    if not ACE_RE.match(text):
        return text
    names = SHOWN_PORT_NAMES.get(platform, {})
    words = text.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in PORT_OPS and i + 1 < len(words):
            out += [w, names.get(words[i + 1], words[i + 1])]
            i += 2
            continue
        if w == "range" and i + 2 < len(words):
            out += [w, names.get(words[i + 1], words[i + 1]), names.get(words[i + 2], words[i + 2])]
            i += 3
            continue
        if i + 1 < len(words) and words[i + 1] == "0.0.0.0" and re.fullmatch(r"[\d.]+", w) and w.count(".") == 3:
            out += ["host", w]
            i += 2
            continue
        addr, slash, length = w.partition("/")
        if slash and ((":" in addr and length == "128") or ("." in addr and length == "32")):
            out += ["host", addr]
        else:
            out.append(w)
        i += 1
    if platform == "ios":
        out = [w.upper() if ":" in w and re.fullmatch(r"[0-9a-fA-F:./]+", w) else w for w in out]
    return " ".join(out)


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


def parse_tree(text: str, display: Callable[[str], str] | None = None) -> Node:
    """Parse an indented config text into a root :class:`Node` (comments, blank lines and ``end`` dropped);
    ``display`` turns each line into the form the device prints."""
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
        node = Node(display(stripped) if display else stripped)
        stack[-1][1].children.append(node)
        stack.append((level, node))
    return root


class CliConfig:
    """A running config (or a session copy of one) that CLI lines can be applied to. ``display`` (e.g.
    :func:`shown_ace` for one platform) rewrites every line as it is stored, the way a real device stores a
    typed ``eq 25`` as ``eq smtp``; without it a config keeps lines as typed (a file to compare textually)."""

    def __init__(self, text: str = "", indent: str = " ", display: Callable[[str], str] | None = None) -> None:
        self.indent = indent
        self.display = display
        self.root = parse_tree(text, display)

    def copy(self) -> CliConfig:
        new = CliConfig("", self.indent, self.display)
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
        shown = self.cfg.display or (lambda t: t)
        negated = re.match(r"^(no|default) (.*)$", text)
        if negated:
            target = parent.find(shown(negated.group(2)))
            if target is not None:
                parent.children.remove(target)
            return
        text = shown(text)
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


_ACL_HEAD = re.compile(r"^(ip access-list(?: extended| standard)?|ipv6 access-list|ipv4 access-list) (\S+)$")


def acl_entries(root: Node) -> list[tuple[int, str, list[tuple[int, str]]]]:
    """``(family, name, [(sequence, entry text without its number)])`` of every access list in ``root``, in
    config order. Entries typed without a number get the next multiple of 10, as the devices number them;
    remarks and other sub-mode lines are left out.

    >>> cfg = CliConfig("ipv6 access-list A6\\n remark x\\n permit tcp any any eq 25\\n 35 deny ipv6 any any\\n")
    >>> acl_entries(cfg.root)
    [(6, 'A6', [(10, 'permit tcp any any eq 25'), (35, 'deny ipv6 any any')])]
    """
    out = []
    for node in root.children:
        m = _ACL_HEAD.match(node.text)
        if m is None:
            continue
        entries: list[tuple[int, str]] = []
        last = 0
        for child in node.children:
            words = child.text.split(maxsplit=1)
            numbered = bool(words) and words[0].isdigit() and len(words) == 2
            text = words[1] if numbered else child.text
            if text.startswith(("permit ", "deny ")):
                last = int(words[0]) if numbered else last + 10 - last % 10
                entries.append((last, text))
        out.append((6 if m.group(1).startswith("ipv6") else 4, m.group(2), entries))
    return out
