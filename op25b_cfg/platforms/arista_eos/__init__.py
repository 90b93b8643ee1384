"""Arista EOS."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from op25b_cfg.platforms.base import Platform

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session
    from op25b_cfg.effect.model import CounterReading


class AristaEos(Platform):
    """EOS: ``ip access-list`` / ``ipv6 access-list`` with sequence numbers and ``counters per-entry``,
    applied with ``ip|ipv6 access-group NAME in|out`` on interfaces. Commit with a revert timer through
    configure sessions (``commit timer``). No flow control: EOS ACLs cannot limit per subscriber.
    """

    name = "arista_eos"
    netmiko_device_type = "arista_eos"
    napalm_driver = "eos"
    file_extension = "eos"
    attach_kinds: ClassVar[frozenset[str]] = frozenset({"interface"})
    commit_confirm = True
    addr_style: ClassVar[dict[int, str]] = {4: "prefix", 6: "prefix"}
    any_protocol: ClassVar[dict[int, str]] = {4: "ip", 6: "ipv6"}

    def read_counters(self, session: Session) -> list[CounterReading]:
        """eAPI ``show ip access-lists`` / ``show ipv6 access-lists`` in JSON: each entry's ``counterData``
        (ACLs rendered with ``counters per-entry``)."""
        from op25b_cfg.platforms.arista_eos.counters import read

        return read(session)
