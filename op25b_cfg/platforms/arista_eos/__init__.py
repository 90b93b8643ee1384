"""Arista EOS."""

from __future__ import annotations

import re
from typing import ClassVar

from op25b_cfg.dialects.cisco_log import CISCO_LOG_FLOW
from op25b_cfg.platforms.base import LogPattern, Platform

_EOS_LOG = re.compile(
    rf"list (?P<rule>\S+) (?:\S+ )?(?P<action>denied|permitted) {CISCO_LOG_FLOW}(?:, (?P<packets>\d+) packets?)?"
)


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
    # Acl: %ACL-6-IPACCESS: list OP25B-V4-b1a88b08 Ethernet1 denied tcp 100.64.1.10(40000) -> 203.0.113.25(25)
    # (one line per logged packet; IPv6 lists log as %ACL-6-IPV6ACCESS)
    log_patterns: ClassVar[tuple[LogPattern, ...]] = tuple(
        LogPattern(marker, _EOS_LOG, frozenset({"denied"}), "OP25B-")
        for marker in ("%ACL-6-IPACCESS:", "%ACL-6-IPV6ACCESS:")
    )
