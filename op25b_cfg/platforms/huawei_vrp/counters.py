"""Huawei VRP: per-rule match counts from ``display acl all`` and ``display acl ipv6 all``.

What VRP prints (an ACL's header, its description if any, its step, then each rule with its count)::

    Advanced ACL OP25B-V4-1a2b3c4d 3999, 7 rules          (a named ACL: name, then the number VRP gave it)
    op25b golden-isp 1a2b3c4d mode block                  (the ACL's description)
    ACL's step is 5
     rule 5 permit tcp source 100.64.200.0 0.0.0.255 destination-port eq smtp (12 times matched)   (VRP8)
     rule 30 deny tcp source 100.65.0.0 0.0.255.255 destination-port eq smtp logging (4471 matches) (VRP5)

VRP8 (NE40E, NE8000, CloudEngine) writes ``(N times matched)`` (Huawei's ``display acl`` command reference,
CloudEngine V300R023C00: "Number of times an ACL rule is matched. If this ACL is not referenced for any service,
there is no matched times displayed"; a public copy: github.com/WheaterW/INTA-project,
``nassim-main/corpus/hw/hw_CE6800_V300R023C00/.../ACL_Configuration_Commands/display_acl.md``); VRP5 (AR
routers) writes ``(N matches)`` and nothing for a rule that has not matched yet, the ACL's description on its
own line (``Basic ACL 2999, 3 rules`` / ``MGMT-ACCESS`` / ``Acl's step is 5`` / `` rule 5 permit source
10.0.1.0 0.0.0.255 (38 matches)``: an AR router's answer in public notes, not Huawei's documentation). The
wording of a named ACL's header (``Advanced ACL NAME 3999, ...``) and of the IPv6 header is not documented in
either source: the reader takes the name from the header when it has one before the number, and the address
family from the command (``display acl ipv6 all`` lists the IPv6 ACLs). A rule without a count is read as 0.
VRP prints no byte counts.

Each rule of an ACL named ``OP25B-...`` (a numbered ACL is named by its number) is one :class:`CounterReading`
whose counter id is the rule id and whose rule is the rule text read by the VRP config parser's rule reader
(:func:`.parser.rule_body`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from op25b_cfg.effect.model import CounterReading
from op25b_cfg.rules import Rule

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session

COMMANDS = ((4, "display acl all"), (6, "display acl ipv6 all"))
"""The commands :func:`read` sends, with the address family of the ACLs each lists."""

_HEADER = re.compile(
    r"^(?P<kind>Basic|Advanced|Interface-based|User|Layer 2|L2)\s+(?:IPv6\s+)?ACL6?\s+(?:(?P<name>\S+)\s+)?"
    r"(?P<number>\d+),\s*\d+\s+rules?\b",
    re.IGNORECASE,
)
_RULE = re.compile(r"^rule\s+(?P<id>\d+)\s+(?P<body>.*?)(?:\s*\((?P<count>\d+)\s+(?:times\s+matched|matches)\))?\s*$")


def rule_of(body: str, family: int, kind: str = "advance") -> Rule | None:
    """The rule a ``display acl`` rule text matches (``permit tcp source ...``), None when the VRP reader does
    not model it.

    >>> rule_of("deny tcp source 100.65.0.0 0.0.255.255 destination-port eq smtp logging", 4).dst_ports
    (PortRange(lo=25, hi=25),)
    >>> rule_of("permit tcp tcp-flag syn", 4) is None
    True
    """
    from op25b_cfg.dialects.cisco import AceError
    from op25b_cfg.platforms.huawei_vrp.parser import rule_body

    try:
        action, specs = rule_body(body.split(), family, kind)
    except AceError:
        return None
    fields = dict(specs[0])
    fields.pop("loose", None)
    return Rule(action, family, **fields)  # type: ignore[arg-type]


def parse_display_acl(text: str, family: int, prefix: str = "OP25B-") -> list[CounterReading]:
    """Counters of every rule of the ACLs named ``prefix...`` in one ``display acl [ipv6] all`` answer.

    >>> out = '''Total quantity of nonempty ACL number is 1
    ...
    ... Advanced ACL OP25B-V4-1a2b3c4d 3999, 2 rules
    ... op25b golden-isp 1a2b3c4d mode block
    ... ACL's step is 5
    ...  rule 5 permit tcp destination 192.0.2.25 0 destination-port eq smtp (3 times matched)
    ...  rule 10 deny tcp source 100.65.0.0 0.0.255.255 destination-port eq smtp logging (40 matches)
    ...  rule 15 permit ip'''
    >>> [(r.counter, r.packets, r.rule.action.value) for r in parse_display_acl(out, 4)]
    [('5', 3, 'permit'), ('10', 40, 'deny'), ('15', 0, 'permit')]
    >>> {r.filter for r in parse_display_acl(out, 4)}
    {'OP25B-V4-1a2b3c4d'}
    """
    out: list[CounterReading] = []
    name, kind = "", ""
    for raw in text.splitlines():
        line = raw.strip()
        head = _HEADER.match(line)
        if head is not None:
            found = head.group("name") or head.group("number")
            name = found if found.upper().startswith(prefix.upper()) else ""
            kind = {"basic": "basic", "advanced": "advance"}.get(head.group("kind").lower(), "other")
            continue
        if not name:
            continue
        entry = _RULE.match(line)
        if entry is None:
            continue  # the description, "ACL's step is N", blank lines, the prompt
        packets = int(entry.group("count") or 0)
        rule = rule_of(entry.group("body"), family, kind) if kind != "other" else None
        out.append(CounterReading(name, entry.group("id"), packets, None, rule))
    return out


def read(session: Session) -> list[CounterReading]:
    """Send :data:`COMMANDS` on the open VRP session (:meth:`.session.VrpSession.query`) and read the answers."""

    answers = session.query("read counters (display acl)", lambda run: [(fam, run(cmd)) for fam, cmd in COMMANDS])
    return [r for fam, text in answers for r in parse_display_acl(text, fam)]
