"""RouterOS ``/export`` syntax shared by the spec, the session and the emulator: how op25b marks the items it
owns and how a value and an ``add`` line are written."""

from __future__ import annotations

import re

COMMENT_PREFIX = "op25b "
"""Every item op25b owns has a comment ``op25b <version>...``: push finds, compares and replaces them by it."""
LOG_LIMIT = "10/1m,5:packet"
"""How often the block rule may log (``action=log`` with ``limit``): who is blocked, never a log flood."""
RATE_EXPIRE = "1m"
"""How long ``dst-limit`` remembers an idle subscriber."""
_ACTIONS = frozenset(
    {
        "accept",
        "drop",
        "reject",
        "tarpit",
        "jump",
        "return",
        "passthrough",
        "log",
        "fasttrack-connection",
        "add-src-to-address-list",
        "add-dst-to-address-list",
    }
)
"""The actions of ``/ip firewall filter``."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.<>@-]{0,63}")


_OWN_NAME = re.compile(r"OP25B-[A-Z0-9-]*V[46]-(?P<version>[0-9a-z]+)")


def owner_version(props: dict[str, str]) -> str | None:
    """The op25b version an address-list entry or filter rule belongs to, or None when op25b does not own it: its
    comment starts with ``op25b <version>``, or it sits in (or jumps to) op25b's chain or list by name (a rule
    someone added inside op25b's chain is op25b's to replace).

    >>> owner_version({"chain": "forward", "comment": "op25b 1a2b3c4d subscribers"})
    '1a2b3c4d'
    >>> owner_version({"chain": "OP25B-V4-1a2b3c4d", "action": "accept"}), owner_version({"chain": "forward"})
    ('1a2b3c4d', None)
    """
    comment = props.get("comment", "")
    if comment.startswith(COMMENT_PREFIX):
        return comment.removeprefix(COMMENT_PREFIX).split(" ", 1)[0]
    for key in ("chain", "jump-target", "list"):
        m = _OWN_NAME.fullmatch(props.get(key, ""))
        if m:
            return m["version"]
    return None


def quote(value: str) -> str:
    """A RouterOS value as ``/export`` writes it: bare when it has only safe characters, else quoted.

    >>> quote("OP25B-V4-1a2b3c4d"), quote("op25b 1a2b3c4d mail relays")
    ('OP25B-V4-1a2b3c4d', '"op25b 1a2b3c4d mail relays"')
    """
    if value and re.fullmatch(r"[A-Za-z0-9_.:/,<>@!+-]+", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def command(props: dict[str, str]) -> str:
    """One ``add`` line with the properties in ``/export`` order (alphabetical).

    >>> command({"chain": "forward", "action": "jump", "jump-target": "X"})
    'add action=jump chain=forward jump-target=X'
    """
    return "add " + " ".join(f"{k}={quote(v)}" for k, v in sorted(props.items()))
