"""Cisco IOS / IOS-XE: the ACL entries' match counts and, in flow-control mode, the policer's drops.

The ACL entries come from ``show ip access-lists`` / ``show ipv6 access-list`` (the Cisco-style reader,
:mod:`op25b_cfg.dialects.cisco_counters`). Those of the policed class ACL count every new port-25 connection
the limit applies to (``permit ... syn``), hits and passes alike; the limit's hits are the police action's
``exceeded`` (and ``violated``) packets in ``show policy-map interface``, per interface the service-policy
runs on: each PPPoE subscriber's Virtual-Access (cloned from the Virtual-Template that carries the
service-policy)::

     Virtual-Access2

      Service-policy input: OP25B-FC-1a2b3c4d

        Class-map: OP25B-FC-1a2b3c4d (match-any)
          25 packets, 1500 bytes
          5 minute offered rate 0000 bps, drop rate 0000 bps
          Match: access-group name OP25B-V4-1a2b3c4d
          police:
              rate 1 pps, burst 5 packets
            conformed 20 packets, 1200 bytes; actions:
              transmit
            exceeded 5 packets, 300 bytes; actions:
              drop
            conformed 0 pps, exceeded 0 pps

IOS has no counter that adds up the Virtual-Accesses of one Virtual-Template, so each (interface, direction,
policy-map, class) is one reading (:attr:`CounterReading.dropped`): a BRAS gives one per subscriber session
that is up. A session that ends takes its count with it (the drops since the last collect are lost), and a new
session on the same Virtual-Access starts again from zero (a reset, or an increase that is too small): limit
hits are never over-counted, and under-counted by what sessions dropped between their last collect and their end.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from op25b_cfg.effect.model import CounterReading

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session

ACL_COMMANDS = ("show ip access-lists", "show ipv6 access-list")
POLICY_COMMAND = "show policy-map interface"
_INTERFACE = re.compile(r"^ ?([A-Za-z][A-Za-z-]*\d\S*)\s*$")
_POLICY = re.compile(r"^\s*Service-policy (input|output): (\S+)")
_CLASS = re.compile(r"^\s*Class-map: (\S+)")
_DROPS = re.compile(r"^\s*(?:exceeded|violated) (\d+) packets(?:, (\d+) bytes)?")


def parse_policy_map_interface(text: str, prefix: str = "OP25B-") -> list[CounterReading]:
    """The police drops (``exceeded`` + ``violated``) of every class of the service-policies named ``prefix...``
    in ``show policy-map interface`` output, one reading per interface, direction and class (see the module doc).

    >>> out = ''' Virtual-Access2
    ...
    ...   Service-policy input: OP25B-FC-1a2b3c4d
    ...
    ...     Class-map: OP25B-FC-1a2b3c4d (match-any)
    ...       25 packets, 1500 bytes
    ...       police:
    ...           rate 1 pps, burst 5 packets
    ...         conformed 20 packets, 1200 bytes; actions:
    ...           transmit
    ...         exceeded 5 packets, 300 bytes; actions:
    ...           drop
    ...         conformed 0 pps, exceeded 0 pps
    ...
    ...     Class-map: class-default (match-any)
    ...       900 packets, 54000 bytes'''
    >>> [(r.filter, r.counter, r.packets, r.bytes, r.dropped) for r in parse_policy_map_interface(out)]
    [('OP25B-FC-1a2b3c4d', 'Virtual-Access2 input OP25B-FC-1a2b3c4d', 5, 300, True)]
    """
    drops: dict[tuple[str, str], list[int]] = {}
    interface = direction = policy = klass = ""
    for line in text.splitlines():
        if (m := _INTERFACE.match(line)) is not None:
            interface, policy, klass = m.group(1), "", ""
        elif (m := _POLICY.match(line)) is not None:
            direction, policy, klass = m.group(1), m.group(2), ""
            policy = policy if policy.upper().startswith(prefix.upper()) else ""
        elif (m := _CLASS.match(line)) is not None:
            klass = m.group(1)
        elif interface and policy and klass and (m := _DROPS.match(line)) is not None:
            counts = drops.setdefault((policy, f"{interface} {direction} {klass}"), [0, 0])
            counts[0] += int(m.group(1))
            counts[1] += int(m.group(2) or 0)
    return [CounterReading(policy, counter, p, b, dropped=True) for (policy, counter), (p, b) in drops.items()]


def read(session: Session) -> list[CounterReading]:
    """The ACL counters and the policers' drops, in one napalm ``cli()`` call."""
    from op25b_cfg.dialects.cisco_counters import parse_show_access_lists

    commands = [*ACL_COMMANDS, POLICY_COMMAND]
    outputs = session.query("read counters (show access-lists, show policy-map interface)", lambda d: d.cli(commands))
    acls = parse_show_access_lists("\n".join(str(outputs.get(c, "")) for c in ACL_COMMANDS), "ios")
    return acls + parse_policy_map_interface(str(outputs.get(POLICY_COMMAND, "")))


def read_uptime(session: Session) -> float | None:
    """The uptime ``show version`` prints (``<host> uptime is 1 week, 2 days, 3 minutes``), read with napalm's
    own parser of that line (what its ``get_facts()['uptime']`` reports, without the other commands it runs);
    None when no such line is printed."""
    from napalm.ios.ios import IOSDriver

    text = session.query("read uptime (show version)", lambda d: d.cli(["show version"]))["show version"]
    for line in str(text).splitlines():
        if " uptime is " in line:
            return float(IOSDriver.parse_uptime(line.split(" uptime is ", 1)[1]))
    return None
