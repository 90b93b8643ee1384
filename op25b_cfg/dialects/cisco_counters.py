"""Per-entry match counters in Cisco-style ``show access-lists`` text (IOS/IOS-XE and IOS-XR).

What the devices print (an entry that never matched has no count on IOS)::

    Extended IP access list OP25B-V4-1a2b3c4d            (IOS show ip access-lists)
        10 permit tcp 100.64.200.0 0.0.0.255 any eq smtp (12 matches)
        60 deny tcp 100.64.0.0 0.1.255.255 any eq smtp log (4471 matches)
    IPv6 access list OP25B-V6-1a2b3c4d                   (IOS show ipv6 access-list)
        permit tcp 2001:DB8:8000::/33 any eq smtp (3 matches) sequence 20
    ipv4 access-list OP25B-V4-1a2b3c4d                   (IOS-XR show access-lists ipv4)
     60 deny tcp 100.64.0.0 0.1.255.255 any eq smtp log (4471 matches)
     60 deny tcp 100.64.0.0 0.1.255.255 any eq smtp log (4471 hw matches)   (... hardware ingress)

Each entry of an op25b filter (name ``OP25B-...``) is one :class:`CounterReading` whose counter id is the
entry's sequence number and whose rule is the entry read by the Cisco dialect's one ACE reader.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from op25b_cfg.effect.model import CounterReading
from op25b_cfg.rules import Rule

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session

_HEADER = re.compile(
    r"^(?:(?:Extended|Standard) IP access list|IPv6 access list|(ipv4|ipv6) access-list)\s+(\S+)", re.IGNORECASE
)
_COUNT = re.compile(r"\s*\((\d+)(?: hw)? match(?:es)?\)")
_SEQ_TAIL = re.compile(r"\s+sequence (\d+)\s*$")


@functools.lru_cache(maxsize=8)
def _parser(dialect: str) -> Any:
    """One entry reader per dialect for the process (no object-groups: counter output names none), so its
    memo of entries is shared by every device."""
    from op25b_cfg.dialects.cisco import AceParser, Groups

    return AceParser(Groups(), dialect)


def ace_rule(text: str, family: int, dialect: str) -> Rule | None:
    """The rule of one entry text (``[seq] permit|deny ...``), or None when it is not one the reader models."""
    from op25b_cfg.dialects.cisco import AceError

    try:
        verb, _seq, specs = _parser(dialect).parse(text, family, False)
    except AceError:
        return None
    if verb == "remark" or isinstance(specs, str) or len(specs) != 1:
        return None
    return Rule(**specs[0][0])


def parse_show_access_lists(text: str, dialect: str, prefix: str = "OP25B-") -> list[CounterReading]:
    """Counters of every entry of the ACLs named ``prefix...`` in ``text`` (see the module doc).

    >>> out = '''Extended IP access list OP25B-V4-1a2b3c4d
    ...     50 permit tcp 100.64.0.0 0.1.255.255 any eq 587 (7 matches)
    ...     60 deny tcp 100.64.0.0 0.1.255.255 any eq smtp log
    ... IPv6 access list OP25B-V6-1a2b3c4d
    ...     deny tcp 2001:DB8:8000::/33 any eq smtp log (3 matches) sequence 40'''
    >>> [(r.counter, r.packets, r.rule.action.value) for r in parse_show_access_lists(out, "ios")]
    [('50', 7, 'permit'), ('60', 0, 'deny'), ('40', 3, 'deny')]
    """
    out: list[CounterReading] = []
    name, family = "", 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        head = _HEADER.match(line)
        if head is not None:
            name = head.group(2) if head.group(2).upper().startswith(prefix.upper()) else ""
            kind = (head.group(1) or "").lower()
            family = 6 if kind == "ipv6" or line.lower().startswith("ipv6") else 4
            continue
        if not name or raw[:1] not in (" ", "\t"):
            if raw[:1] not in (" ", "\t"):
                name = ""
            continue
        count = _COUNT.search(line)
        packets = int(count.group(1)) if count else 0
        entry = _COUNT.sub("", line)
        seq = ""
        tail = _SEQ_TAIL.search(entry)
        if tail is not None:
            seq, entry = tail.group(1), entry[: tail.start()]
        first, _, rest = entry.partition(" ")
        if first.isdigit():
            seq, entry = first, rest
        if not entry.startswith(("permit ", "deny ")):
            continue  # remarks, "statistics" lines
        out.append(CounterReading(name, seq or str(len(out) + 1), packets, None, ace_rule(entry, family, dialect)))
    return out


def read_acl_counters(session: Session, commands: tuple[str, ...], dialect: str) -> list[CounterReading]:
    """Run ``commands`` through napalm ``cli()`` on the open session and read their ACL counters."""
    outputs = session.query("read counters (show access-lists)", lambda driver: driver.cli(list(commands)))
    return parse_show_access_lists("\n".join(str(outputs.get(c, "")) for c in commands), dialect)
