"""Junos: firewall filter counters from the ``get-firewall-filter-information`` RPC (``show firewall``).

The answer (PyEZ strips the namespaces)::

    <firewall-information>
      <filter-information>
        <filter-name>OP25B-V4-1a2b3c4d</filter-name>
        <counter><counter-name>OP25B-BLOCK</counter-name><packet-count>4471</packet-count>
          <byte-count>268260</byte-count></counter>
      </filter-information>
    </firewall-information>

Every ``<counter>`` of a filter named ``OP25B-...`` is one reading (instances of a filter in a dynamic profile
or with ``interface-specific`` carry their own filter or counter names and are read as they are). Policers'
out-of-spec counts (``<policer>``) are not read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from op25b_cfg.effect.model import CounterReading

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session


def _local(tag: object) -> str:
    text = str(tag)
    return text.rsplit("}", 1)[-1]


def _child_text(elem: Any, name: str) -> str:
    for child in elem:
        if _local(child.tag) == name:
            return str(child.text or "").strip()
    return ""


def parse_firewall_information(root: Any, prefix: str = "OP25B-") -> list[CounterReading]:
    """Readings from the RPC answer (an lxml element; namespaces allowed).

    >>> from lxml import etree
    >>> xml = ('<firewall-information xmlns="http://xml.juniper.net/junos/21.4R0/junos-filter"><filter-information>'
    ...        '<filter-name>OP25B-V4-1a2b3c4d</filter-name><counter><counter-name>OP25B-BLOCK</counter-name>'
    ...        '<packet-count>12</packet-count><byte-count>720</byte-count></counter></filter-information>'
    ...        '<filter-information><filter-name>OTHER</filter-name></filter-information></firewall-information>')
    >>> [(r.filter, r.counter, r.packets, r.bytes) for r in parse_firewall_information(etree.fromstring(xml))]
    [('OP25B-V4-1a2b3c4d', 'OP25B-BLOCK', 12, 720)]
    """
    out = []
    for flt in root.iter():
        if _local(flt.tag) != "filter-information":
            continue
        name = _child_text(flt, "filter-name")
        if not name.upper().startswith(prefix.upper()):
            continue
        for counter in flt:
            if _local(counter.tag) != "counter":
                continue
            packets, octets = _child_text(counter, "packet-count"), _child_text(counter, "byte-count")
            out.append(
                CounterReading(
                    name,
                    _child_text(counter, "counter-name"),
                    int(packets) if packets.isdigit() else 0,
                    int(octets) if octets.isdigit() else 0,
                )
            )
    return out


def read(session: Session) -> list[CounterReading]:
    """The RPC through the napalm driver's PyEZ device (NETCONF)."""
    answer = session.query(
        "read counters (get-firewall-filter-information)",
        lambda driver: driver.device.rpc.get_firewall_filter_information(),
    )
    return parse_firewall_information(answer)
