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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Self

from op25b_cfg.dialects.base import (
    OBJECT_NAME,
    ConfigDialect,
    ConfigLine,
    Need,
    Reference,
    block_end,
    last_meaningful_line,
    shown_line,
)
from op25b_cfg.dialects.cisco_reader import config_lines
from op25b_cfg.redact import redact

if TYPE_CHECKING:
    from op25b_cfg.intent_protocols import Attachment

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


def shown_ace(text: str, port_names: Mapping[str, str] | None = None, upper_ipv6: bool = False) -> str:
    """An access-list entry the way a device's running config prints it: the well-known ports it names by name
    (``port_names``, e.g. ``{"25": "smtp"}``), a single address as ``host X`` (typed as ``X/32``, ``X/128`` or
    ``X 0.0.0.0``), IPv6 upper-case where the device prints it so (IOS).

    >>> shown_ace("permit tcp 2001:db8::/33 2001:db8:25::25/128 eq 25 log", {"25": "smtp"}, upper_ipv6=True)
    'permit tcp 2001:DB8::/33 host 2001:DB8:25::25 eq smtp log'
    >>> shown_ace("30 permit tcp 100.64.0.0 0.0.255.255 192.0.2.25 0.0.0.0 eq 587", {"25": "smtp"})
    '30 permit tcp 100.64.0.0 0.0.255.255 host 192.0.2.25 eq 587'
    >>> shown_ace("50 permit tcp 100.65.0.0/16 192.0.2.25/32 eq 25", {"25": "smtp"})
    '50 permit tcp 100.65.0.0/16 host 192.0.2.25 eq smtp'
    >>> shown_ace("interface Ethernet1")
    'interface Ethernet1'
    """
    if not ACE_RE.match(text):
        return text
    names = port_names or {}
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
    if upper_ipv6:
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
    children: list[Self] = field(default_factory=list)

    def key(self, text: str) -> str:
        """Identity of a line among this node's children (:func:`line_key`; another store's node sets its own)."""
        return line_key(text)

    def find(self, text: str) -> Self | None:
        """The child with exactly this text, else the child with the same :meth:`key`."""
        for child in self.children:
            if child.text == text:
                return child
        key = self.key(text)
        return next((c for c in self.children if self.key(c.text) == key), None)

    def render(self, indent: str, depth: int = 0) -> list[str]:
        out = [indent * depth + self.text]
        for child in self.children:
            out.extend(child.render(indent, depth + 1))
        return out


def parse_tree(text: str, display: Callable[[str], str] | None = None) -> Node:
    """Parse an indented config text into a root :class:`Node`, read by the dialect's one reader
    (:func:`~op25b_cfg.dialects.cisco_reader.config_lines`: comments, blank lines, ``end``, banners and macros
    dropped); ``display`` turns each line into the form the device prints."""
    root = Node("")
    path: list[Node] = [root]
    for ln in config_lines(text):
        del path[len(ln.parents) + 1 :]
        node = Node(display(ln.text) if display else ln.text)
        path[-1].children.append(node)
        path.append(node)
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


# ---------------------------------------------------------------------------------------------------------------
# The dialect spec: how op25b reads a Cisco-style running config and removes its own objects from it


_CISCO_DEFINITIONS = (
    r"^(?P<kind>ip access-list(?: extended| standard)?|ipv4 access-list|ipv6 access-list|class-map(?: match-any|"
    r" match-all)?|policy-map)\s+(?P<name>\S+)\s*$"
)
_QOS = ("class-map", "policy-map")


class CiscoDialect(ConfigDialect):
    """Cisco-style indented blocks (IOS/IOS-XE, IOS-XR, EOS and alike): ``!`` comments, ``end`` at the end of a
    ``show running-config``, ``no <definition>`` removes an object.

    ``negate`` is the word that removes a line (``no``; VRP's ``undo``), ``end`` the last line of a complete
    running config and of a merge candidate, ``comment`` the comment character, ``definitions_re`` a regex with
    groups ``kind`` and ``name`` that matches a top-level object definition, ``holders`` the first words of the
    block headers an attachment's name ends (``interface Virtual-Template1``, XR ``dynamic-template type ppp
    NAME``), ``eos_banners`` whether banners end with an ``EOF`` line (EOS). Lines are read by the dialect's one
    reader, :func:`~op25b_cfg.dialects.cisco_reader.config_lines`.

    >>> d = CiscoDialect()
    >>> [(ln.text, ln.parents) for ln in d.lines("interface Gi1\\n ip access-group A in\\n!\\nend\\n")]
    [('interface Gi1', ()), ('ip access-group A in', ('interface Gi1',))]
    >>> d.remove_object("ip access-list extended", "OP25B-V4-0000aaaa", ())
    'no ip access-list extended OP25B-V4-0000aaaa'
    """

    removal_order: ClassVar[dict[str, int]] = {"policy-map": 0, "class-map": 1}

    def __init__(
        self,
        *,
        negate: str = "no",
        end: str = "end",
        comment: str = "!",
        definitions_re: str = _CISCO_DEFINITIONS,
        holders: tuple[str, ...] = ("interface", "type"),
        eos_banners: bool = False,
    ) -> None:
        self.negate = negate
        self.end = end
        self.comment = comment
        self.epilogue = (end,)
        self._defs = re.compile(definitions_re)
        self.holders = holders
        self.eos_banners = eos_banners

    def lines(self, text: str) -> list[ConfigLine]:
        return config_lines(text, self.end, self.eos_banners)

    def definitions(self, lines: Sequence[ConfigLine]) -> list[tuple[int, int, str, str]]:
        out = []
        for pos, ln in enumerate(lines):
            if ln.parents:
                continue
            m = self._defs.match(ln.text)
            if m and OBJECT_NAME.fullmatch(m["name"]):
                out.append((pos, block_end(lines, pos), m["kind"], m["name"]))
        return out

    def in_attachment(self, parents: tuple[str, ...], attach: Sequence[Attachment]) -> bool:
        for att in attach:
            for h in parents:
                words = h.split()
                if len(words) >= 2 and words[0] in self.holders and words[-1] == att.name:
                    return True
        return False

    def remove_object(self, kind: str, name: str, parents: tuple[str, ...]) -> str:
        if kind.startswith("class-map"):
            return f"{self.negate} class-map {name}"
        return f"{self.negate} {kind} {name}"

    def object_kind(self, kind: str) -> str:
        if kind == "policy-map":
            return kind
        return "class-map" if kind.startswith("class-map") else "access-list"

    def remove_references(self, refs: Sequence[Reference]) -> list[str]:
        lines: list[str] = []
        for ref in refs:
            lines.extend(" " * depth + header for depth, header in enumerate(ref.parents))
            lines.extend((" " * len(ref.parents) + f"{self.negate} " + ref.text, self.comment))
        return lines

    def remediation(self, rendered: str, running_text: str, need: Need) -> list[str]:
        """Whole object blocks that differ (preceded by their removal when a different one of that name runs),
        and only the attachment lines that bind what the running config does not bind there."""
        lines = self.lines(rendered)
        objects: list[str] = []
        attachments: list[str] = []
        pos = 0
        while pos < len(lines):
            head = lines[pos]
            end = block_end(lines, pos)
            block = lines[pos : end + 1]
            pos = end + 1
            m = self._defs.match(head.text)
            if m and not m["kind"].startswith(_QOS):
                name = m["name"]  # VRP's header ends with a type word after the name (`acl name X advance`)
                if name in need.changed:
                    if name in need.present:
                        objects.append(self.remove_object(m["kind"], name, head.parents))
                    objects.extend(_indented(block))
            elif m:
                if need.flow:
                    objects.extend(_indented(block))
            else:  # an attachment block: only its lines that bind a filter the running config does not bind there
                want = [
                    ln
                    for ln in block[1:]
                    if any(f in ln.text.split() for a, f in need.missing if _names(head, ln, a))
                    or (need.flow and ln.text.startswith("service-policy "))
                ]
                if want:
                    attachments.extend(_with_parents(want))
        return objects + attachments

    def truncation_problem(self, text: str) -> str | None:
        """``show running-config`` ends with ``end`` (trailing comments, blank lines and a CLI prompt are
        tolerated).

        >>> print(CiscoDialect().truncation_problem("hostname r1\\ninterface Gi1\\n ip access-group A in\\n"))
        last line is 'ip access-group A in', not 'end': the file looks truncated (a complete ...
        >>> CiscoDialect().truncation_problem("hostname r1\\nend\\n\\nr1#\\n") is None
        True
        """
        last = last_meaningful_line(text, self.comment)
        if last is None:
            return "no configuration lines (only comments)"
        if last != self.end:
            # redacted with its context: a file cut inside a private-key block ends on a bare key line
            last = last_meaningful_line(redact(text), self.comment) or ""
            return (
                f"last line is {shown_line(last)!r}, not {self.end!r}: the file looks truncated (a complete"
                f" 'show running-config' ends with {self.end!r})"
            )
        return None


def _names(head: ConfigLine, ln: ConfigLine, attachment: str) -> bool:
    """Whether ``ln`` (inside the block headed ``head``) sits in the attachment called ``attachment``."""
    headers = [head.text, *ln.parents]
    return any(h.split()[-1] == attachment for h in headers if h)


def _indented(block: Sequence[ConfigLine]) -> list[str]:
    base = len(block[0].parents)
    return [" " * (len(ln.parents) - base) + ln.text for ln in block]


def _with_parents(lines: Sequence[ConfigLine]) -> list[str]:
    out: list[str] = []
    opened: tuple[str, ...] = ()
    for ln in lines:
        if ln.parents != opened:
            common = 0
            while common < min(len(opened), len(ln.parents)) and opened[common] == ln.parents[common]:
                common += 1
            out.extend(" " * d + h for d, h in enumerate(ln.parents) if d >= common)
            opened = ln.parents
        out.append(" " * len(ln.parents) + ln.text)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Emulator lab helpers: a Cisco-style config before op25b, with the management blocks a driver needs


def strip_op25b(text: str) -> str:
    """Remove every line mentioning OP25B together with the lines indented below it (its block)."""
    out: list[str] = []
    skip_below: int | None = None
    for line in text.splitlines():
        body = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if skip_below is not None:
            if body and not body.startswith("!") and indent > skip_below:
                continue
            skip_below = None
        if "OP25B" in line.upper() and not body.startswith("!"):
            skip_below = indent
            continue
        out.append(line)
    return "\n".join(out) + "\n"


class CiscoStyleLab:
    """The emulator lab hooks of a Cisco-style emulator (mixed into its class): the config before op25b, and
    ``prerequisites``, the top-level blocks its driver needs (added where missing)."""

    prerequisites: ClassVar[tuple[str, ...]] = ()
    indent: ClassVar[str] = " "
    """The indentation of one level in the device's ``show running-config``."""

    @classmethod
    def strip_op25b(cls, text: str) -> str:
        return strip_op25b(text)

    @classmethod
    def apply_change(cls, running: str, change: str) -> str:
        """``change`` typed in configuration mode (``configure terminal``), line by line."""
        cfg = CliConfig(running, cls.indent)
        error = cfg.session().apply_all(["configure terminal", *change.splitlines()])
        if error is not None:
            raise ValueError(f"the device rejects the change: {error}")
        return cfg.render()

    @classmethod
    def with_prerequisites(cls, text: str) -> str:
        return with_top_blocks(text, cls.prerequisites)


def with_top_blocks(text: str, blocks: Iterable[str], end: str = "end") -> str:
    """``text`` plus each top-level ``block`` (first line = header) it lacks, ending with ``end`` as
    ``show running-config`` does.

    >>> with_top_blocks("hostname r1\\nend\\n", ["ip scp server enable", "hostname r1"])
    'hostname r1\\nip scp server enable\\n!\\nend\\n'
    """
    top = {ln.rstrip() for ln in text.splitlines() if ln[:1] not in (" ", "!", "")}
    lines = text.rstrip("\n").splitlines()
    if lines and lines[-1].strip() == end:
        lines.pop()
    for block in blocks:
        if block.splitlines()[0] not in top:
            lines += [*block.splitlines(), "!"]
    return "\n".join([*lines, end]) + "\n"


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
