"""VRP configuration as a tree of views, read and written the way VRP shows and applies it.

The emulator's running config, the session's diff and its VRP5 roll-back read a config with the one reader of
Cisco-style blocks (:func:`op25b_cfg.dialects.cisco_reader.scan`, as the clean-up planner does): a line at column 0
opens a view (``acl ...``, ``interface ...``) whose indented lines are its children; ``#`` and ``!`` lines are
comments, ``return`` ends the config. :func:`key` says which lines replace each other in one
view (``rule 5 ...`` replaces ``rule 5 ...``; a second ``traffic-filter inbound acl ...`` replaces the first
for that direction and family), and :func:`shown` writes a line as ``display current-configuration`` prints it.
"""

from __future__ import annotations

import copy
import re

from op25b_cfg.dialects import cisco_blocks
from op25b_cfg.dialects.cisco_reader import scan, split_lines
from op25b_cfg.platforms.huawei_vrp.parser import PORT_NAMES

SHOWN_PORTS = {str(v): k for k, v in PORT_NAMES.items() if k in ("smtp", "www", "pop3", "telnet", "ftp", "domain")}
_TF = re.compile(r"^traffic-filter (inbound|outbound) (?:(ipv4|ipv6) )?acl ")


def views(toks: list[str]) -> str | None:
    """Every line at column 0 opens a view (its indented lines are its children), except ``return``."""
    return None if toks == ["return"] else "view"


def key(text: str) -> str:
    """Identity of a line inside its view: a line with the same key replaces the old one.

    >>> key("rule 5 deny tcp"), key("traffic-filter inbound ipv6 acl name X")
    ('rule 5', 'traffic-filter inbound 6')
    >>> key("traffic-filter inbound ipv4 acl 3000")
    'traffic-filter inbound 4'
    """
    m = re.match(r"^rule (\d+)\b", text)
    if m:
        return f"rule {m.group(1)}"
    m = _TF.match(text)
    if m:
        return f"traffic-filter {m.group(1)} {6 if m.group(2) == 'ipv6' else 4}"
    for single in ("description ", "sysname ", "step ", "ip address ", "vlan-type "):
        if text.startswith(single):
            return single.strip()
    if text in ("shutdown", "undo shutdown"):
        return "shutdown"
    return text


def shown(text: str) -> str:
    """A line the way VRP prints it: well-known ports by name, a wildcard of 0.0.0.0 as ``0``, IPv6 in upper case.

    >>> shown("rule 5 permit tcp source 192.0.2.1 0.0.0.0 destination 2001:db8::/32 destination-port eq 25")
    'rule 5 permit tcp source 192.0.2.1 0 destination 2001:DB8::/32 destination-port eq smtp'
    """
    if not text.startswith("rule "):
        return text
    words = text.split()
    out: list[str] = []
    for i, w in enumerate(words):
        prev = words[i - 1] if i else ""
        if prev in ("eq", "gt", "lt") or (i >= 2 and words[i - 2] == "range") or prev == "range":
            w = SHOWN_PORTS.get(w, w)
        elif w == "0.0.0.0" and prev.count(".") == 3:
            w = "0"
        elif ":" in w and re.fullmatch(r"[0-9a-fA-F:./]+", w):
            w = w.upper()
        out.append(w)
    return " ".join(out)


class Node(cisco_blocks.Node):
    """One line and its children; a child is found by its text, else by its VRP :func:`key`."""

    def key(self, text: str) -> str:
        return key(text)


class VrpConfig:
    """A running config (or a candidate copy of one)."""

    def __init__(self, text: str = "") -> None:
        self.root = Node("")
        lines = split_lines(text)
        for blk in scan(lines, views).blocks:
            view = Node(blk.text)
            # deeper views keep their extra indentation
            view.children = [Node(shown(lines[i - 1].rstrip()[1:])) for i, _ in blk.children]
            self.root.children.append(view)

    def copy(self) -> VrpConfig:
        new = VrpConfig()
        new.root = copy.deepcopy(self.root)
        return new

    def render(self) -> str:
        """The body of ``display current-configuration``: views separated by ``#``, ending in ``return``."""
        out = ["#"]
        for node in self.root.children:
            if node.children and out[-1] != "#":
                out.append("#")
            out.append(node.text)
            kids = sorted(node.children, key=_rule_order) if node.text.startswith("acl ") else node.children
            out.extend(f" {c.text}" for c in kids)
            if node.children:
                out.append("#")
        if out[-1] != "#":
            out.append("#")
        out.append("return")
        return "\n".join(out) + "\n"

    def view(self, header: str) -> Node | None:
        return next((n for n in self.root.children if n.text == header), None)

    def undone(self, undo: str) -> Node | None:
        """The view an ``undo`` line removes (``undo acl name X`` removes ``acl name X advance``)."""
        return next((n for n in self.root.children if undo_line(n.text) == undo or f"undo {n.text}" == undo), None)


def _rule_order(node: Node) -> tuple[int, int]:
    """ACL view lines as VRP prints them: settings first, then the rules in rule-id order."""
    k = key(node.text)
    return (0, int(k.split()[1])) if k.startswith("rule ") else (-1, 0)


def missing(running: VrpConfig, wanted: VrpConfig) -> list[str]:
    """Lines of ``wanted`` that ``running`` lacks or holds differently, each under its view header (the diff a
    merge of ``wanted`` makes); ``undo`` lines of ``wanted`` that would remove something."""
    out: list[str] = []
    for want in wanted.root.children:
        if want.text.startswith("undo "):
            if running.undone(want.text) is not None:
                out.append(want.text)
            continue
        have = running.view(want.text)
        lines = []
        for child in want.children:
            if child.text.startswith("undo "):
                if have is not None and have.find(child.text[5:]) is not None:
                    lines.append(f" {child.text}")
                continue
            match = have.find(child.text) if have is not None else None
            if match is None or match.text != child.text:
                lines.append(f" {child.text}")
        if have is None or lines:
            out.append(want.text)
            out.extend(lines)
    return out


def restore(before: VrpConfig, candidate: VrpConfig, now: VrpConfig) -> list[str]:
    """The commands that take back what applying ``candidate`` changed, given the config ``before`` it and the
    config ``now`` (a VRP5 change stopped by a refused line applied only part of it): a view the candidate
    created is removed with ``undo``; inside a view that existed, each line the candidate added or replaced is
    typed again as it was, or undone where it was not there. What ``now`` does not hold is left alone."""
    out: list[str] = []
    removals: list[str] = []  # views to delete go last: their references are taken back first
    for want in candidate.root.children:
        if want.text.startswith("undo "):
            old = before.undone(want.text)
            if old is not None:
                out.append(old.text)
                out.extend(f" {c.text}" for c in old.children)
                out.append("quit")
            continue
        had = before.view(want.text)
        cur = now.view(want.text)
        if had is None and want.text.startswith("acl "):
            if cur is not None:
                removals.append(undo_line(want.text))
            continue
        body: list[str] = []
        for child in want.children:
            target = child.text[5:] if child.text.startswith("undo ") else child.text
            old = had.find(target) if had is not None else None
            if old is not None and old.text != child.text:
                if not child.text.startswith("undo "):
                    body.append(f" {undo_line(child.text)}")
                body.append(f" {old.text}")
            elif old is None and not child.text.startswith("undo ") and cur is not None and cur.find(child.text):
                body.append(f" {undo_line(child.text)}")
        if body:
            out.append(want.text)
            out.extend(body)
            out.append("quit")
    return out + removals


def undo_line(text: str) -> str:
    """The ``undo`` form that removes the line or view ``text``.

    >>> undo_line("acl ipv6 name OP25B-V6-1 advance"), undo_line("acl number 3001 match-order auto")
    ('undo acl ipv6 name OP25B-V6-1', 'undo acl number 3001')
    >>> undo_line("rule 5 permit ip"), undo_line("traffic-filter inbound acl name X")
    ('undo rule 5', 'undo traffic-filter inbound acl name X')
    """
    words = text.split()
    if words[0] == "acl":
        head = ["acl"] + (["ipv6"] if len(words) > 1 and words[1] == "ipv6" else [])
        rest = words[len(head) :]
        if rest and rest[0] in ("name", "number") and len(rest) > 1:
            return "undo " + " ".join(head + rest[:2])
        return "undo " + " ".join(head + rest[:1])
    if words[0] == "rule" and len(words) > 1 and words[1].isdigit():
        return f"undo rule {words[1]}"
    return f"undo {text}"
