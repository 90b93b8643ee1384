"""Cisco IOS / IOS-XE, including BRAS (filters on ``interface Virtual-Template``)."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any, ClassVar

from op25b_cfg.dialects.cisco_log import CISCO_LOG_FLOW
from op25b_cfg.errors import PlatformError
from op25b_cfg.platforms.base import LogPattern, Platform
from op25b_cfg.rules import Action, FilterPlan, Rule

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session
    from op25b_cfg.connection.napalm_session import NapalmSession
    from op25b_cfg.dialects.base import ConfigDialect
    from op25b_cfg.effect.model import CounterReading
    from op25b_cfg.intent_protocols import Attachment, Device

_VT = re.compile(r"Virtual-Template\d{1,4}")

_IOS_LOG = re.compile(rf"list (?P<rule>\S+) (?P<action>denied|permitted) {CISCO_LOG_FLOW}, (?P<packets>\d+) packets?")


class CiscoIos(Platform):
    """IOS/IOS-XE: ``ip access-list extended`` + ``ipv6 access-list``, applied with ``ip access-group`` /
    ``ipv6 traffic-filter`` on interfaces and Virtual-Templates.

    Flow control: a per-subscriber policer on port-25 SYNs (``police rate N pps``) in a service-policy on the
    Virtual-Template, which IOS clones per subscriber session. IOS cannot count concurrent sessions, so
    ``max_sessions`` must be null, and a policer on a plain interface would be shared, so it is refused.
    """

    name = "cisco_ios"
    netmiko_device_type = "cisco_ios"
    napalm_driver = "ios"
    file_extension = "ios"

    @functools.cached_property
    def dialect(self) -> ConfigDialect:
        from op25b_cfg.dialects.cisco_blocks import CiscoDialect

        return CiscoDialect()

    timer_max: ClassVar[int] = 120 * 60
    """``configure terminal revert timer`` takes 1-120 minutes."""

    def revert_in(self, seconds: int) -> int:
        """Whole minutes, rounded up, 1-120.

        >>> CiscoIos().revert_in(10), CiscoIos().revert_in(61), CiscoIos().revert_in(99999)
        (60, 120, 7200)
        """
        return min(max(60, -(-seconds // 60) * 60), self.timer_max)

    def napalm_optional_args(self, session: NapalmSession, extra: dict[str, Any]) -> dict[str, Any]:
        args = session.ssh_args()
        if session.creds.secret:
            args["secret"] = session.creds.secret
        return args

    attach_kinds: ClassVar[frozenset[str]] = frozenset({"interface", "virtual-template"})
    modes: ClassVar[frozenset[str]] = frozenset({"block", "targeted", "flow-control"})
    flow_sessions = False
    flow_rate_kinds: ClassVar[frozenset[str]] = frozenset({"virtual-template"})
    commit_confirm = True
    addr_style: ClassVar[dict[int, str]] = {4: "wildcard", 6: "prefix"}
    any_protocol: ClassVar[dict[int, str]] = {4: "ip", 6: "ipv6"}
    # %SEC-6-IPACCESSLOGP: list OP25B-V4-b1a88b08 denied tcp 100.64.1.10(40000) -> 203.0.113.25(25), 3 packets
    # IPv6: %IPV6-6-ACCESSLOGP (older IOS) or %IPV6_ACL-6-ACCESSLOGP, the list name followed by /<sequence>
    log_patterns: ClassVar[tuple[LogPattern, ...]] = tuple(
        LogPattern(marker, _IOS_LOG, frozenset({"denied"}), "OP25B-")
        for marker in ("%SEC-6-IPACCESSLOGP:", "%IPV6-6-ACCESSLOGP:", "%IPV6_ACL-6-ACCESSLOGP:")
    )

    def check_attachment(self, att: Attachment) -> None:
        super().check_attachment(att)
        if att.kind == "virtual-template" and not _VT.fullmatch(att.name):
            raise PlatformError(
                f"platform {self.name}: virtual-template name {att.name!r} is not of the form Virtual-Template<N>."
                " Fix: write e.g. Virtual-Template1"
            )

    def class_aces(self, rule: Rule) -> list[str]:
        """Flow control: the class ACL matches the new port-25 connections to police. Earlier port-25 permits
        (exemptions, MTAs) become ``deny`` so they are left out of the class; the final permit-any is dropped."""
        if rule.action is Action.LIMIT:
            return self.aces(rule, action="permit", flags=" syn")
        if rule.action is Action.PERMIT and any(25 in p for p in rule.dst_ports):
            return self.aces(rule, action="deny")
        return []

    def context(self, device: Device, plan: FilterPlan) -> dict[str, Any]:
        return {"policy_map": f"OP25B-FC-{plan.version}"}

    def read_counters(self, session: Session) -> list[CounterReading]:
        """``show ip access-lists`` and ``show ipv6 access-list`` (napalm ``cli()``): each entry's
        ``(N matches)``; no count means 0 (IOS prints none until an entry matched). ``show policy-map
        interface``: the flow-control policer's drops per interface (:mod:`.counters`)."""
        from op25b_cfg.platforms.cisco_ios.counters import read

        return read(session)
