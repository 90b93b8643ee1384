"""Arista EOS: per-entry counters from eAPI ``show ip access-lists`` / ``show ipv6 access-lists`` (JSON).

The eAPI answer (EOS 4.2x)::

    {"aclList": [{"name": "OP25B-V4-1a2b3c4d", "countersEnabled": true, ...,
                  "sequence": [{"sequenceNumber": 60, "text": "deny tcp 100.65.0.0/16 any eq smtp log",
                                "counterData": {"packetCount": 4471, "byteCount": 268260, ...}}]}]}

An ACL without ``counters per-entry`` has ``countersEnabled: false`` and no ``counterData``: its entries are
not counters and give no reading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from op25b_cfg.dialects.cisco_counters import ace_rule
from op25b_cfg.effect.model import CounterReading

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session

COMMANDS = ("show ip access-lists", "show ipv6 access-lists")


def parse_acl_json(answers: list[dict[str, Any]], prefix: str = "OP25B-") -> list[CounterReading]:
    """Readings from the answers to :data:`COMMANDS` (IPv4 first).

    >>> ans = [{"aclList": [{"name": "OP25B-V4-1a2b3c4d", "countersEnabled": True, "sequence": [
    ...     {"sequenceNumber": 60, "text": "deny tcp 100.65.0.0/16 any eq smtp log",
    ...      "counterData": {"packetCount": 9, "byteCount": 540}}]}]}, {"aclList": []}]
    >>> [(r.counter, r.packets, r.bytes, r.rule.action.value) for r in parse_acl_json(ans)]
    [('60', 9, 540, 'deny')]
    """
    out = []
    for family, answer in zip((4, 6), answers, strict=False):
        for acl in answer.get("aclList", []) if isinstance(answer, dict) else []:
            name = str(acl.get("name", ""))
            if not name.upper().startswith(prefix.upper()):
                continue
            for entry in acl.get("sequence", []):
                data = entry.get("counterData")
                if not isinstance(data, dict):
                    continue
                text = str(entry.get("text", ""))
                out.append(
                    CounterReading(
                        name,
                        str(entry.get("sequenceNumber", "")),
                        int(data.get("packetCount", 0)),
                        int(data.get("byteCount", 0)),
                        ace_rule(text, family, "eos"),
                    )
                )
    return out


def read(session: Session) -> list[CounterReading]:
    """Ask the device over eAPI (the napalm driver's pyeapi node, JSON encoding) and read the answers."""
    answers = session.query(
        "read counters (show access-lists)", lambda driver: driver.device.run_commands(list(COMMANDS), encoding="json")
    )
    return parse_acl_json(list(answers))
