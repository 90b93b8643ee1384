"""Juniper Junos (MX BNG and routers)."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any, ClassVar

from op25b_cfg.errors import PlatformError
from op25b_cfg.platforms.base import LogPattern, Platform

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session
    from op25b_cfg.connection.napalm_session import NapalmSession
    from op25b_cfg.dialects.base import ConfigDialect
    from op25b_cfg.effect.model import CounterReading
    from op25b_cfg.intent_protocols import Attachment, Device
    from op25b_cfg.rules import FilterPlan, PrefixSet

_UNIT = re.compile(r"([a-z]{2,5}-?[0-9/:]*|[a-z]+[0-9]+)\.([0-9]{1,5})")
_FW_LOG = re.compile(
    r"FW: (?P<ifname>\S+)\s+(?P<action>[ADR])\s+(?P<proto>\S+)\s+(?:SA )?(?P<src>[0-9A-Fa-f.:]+)\s+(?:DA )?"
    r"(?P<dst>[0-9A-Fa-f.:]+)\s+(?:SP )?\d+\s+(?:DP )?(?P<dport>\d+)\s+\((?P<packets>\d+) packets?\)"
)


class JuniperJunos(Platform):
    """Junos: ``firewall family inet|inet6 filter`` with ``policy-options prefix-list`` (all names carry the
    version id, so a merge never mixes old and new entries), applied as ``filter input|output`` on interface
    units and in BNG ``dynamic-profiles``. Rendered in brace format with ``/* */`` annotations.

    Flow control: ``interface-specific`` filter with a packets-per-second policer on ``tcp-initial`` port-25
    packets, in a dynamic-profile (one instance per subscriber). No concurrent-session cap.
    """

    name = "juniper_junos"
    netmiko_device_type = "juniper_junos"
    napalm_driver = "junos"
    file_extension = "junos"
    attach_kinds: ClassVar[frozenset[str]] = frozenset({"unit", "dynamic-profile"})
    modes: ClassVar[frozenset[str]] = frozenset({"block", "targeted", "flow-control"})
    flow_sessions = False
    flow_rate_kinds: ClassVar[frozenset[str]] = frozenset({"dynamic-profile"})
    commit_confirm = True
    # fpc0 PFE_FW_SYSLOG_IP: FW: ge-0/0/1.100 D tcp 100.64.1.10 203.0.113.25 40000 25 (3 packets)
    # fpc0 PFE_FW_SYSLOG_IP6_TCP_UDP: FW: ge-0/0/1.100 D tcp SA 2001:db8:8000:1::10 DA 2001:db8:eeee::25 SP 40000
    #   DP 25 (3 packets)
    # The line names no filter: every discarded (D) or rejected (R) port-25 packet logged by a firewall filter counts.
    log_patterns: ClassVar[tuple[LogPattern, ...]] = tuple(
        LogPattern(marker, _FW_LOG, frozenset({"D", "R"}))
        for marker in ("PFE_FW_SYSLOG_IP:", "PFE_FW_SYSLOG_IP6_TCP_UDP:")
    )

    @functools.cached_property
    def dialect(self) -> ConfigDialect:
        from op25b_cfg.dialects.junos_tree import JunosDialect

        return JunosDialect()

    def revert_in(self, seconds: int) -> int:
        """``commit confirmed`` counts whole minutes (rounded up).

        >>> JuniperJunos().revert_in(90), JuniperJunos().revert_in(5)
        (120, 60)
        """
        return max(60, -(-seconds // 60) * 60)

    def napalm_optional_args(self, session: NapalmSession, extra: dict[str, Any]) -> dict[str, Any]:
        cfg = session.ssh_config_file()
        return {"ssh_config_file": cfg} if cfg else {}

    def after_napalm_connect(self, driver: Any, session: NapalmSession) -> None:
        # napalm does not pass PyEZ's hostkey_verify; PyEZ defaults it to False.
        driver.device._hostkey_verify = session.opts.verify_host_key

    def check_attachment(self, att: Attachment) -> None:
        super().check_attachment(att)
        if att.kind == "unit" and not _UNIT.fullmatch(att.name):
            raise PlatformError(
                f"platform {self.name}: unit {att.name!r} is not an interface unit name."
                " Fix: write interface.unit, e.g. ge-0/0/1.100 or ae0.200"
            )

    def set_name(self, pset: PrefixSet, plan: FilterPlan) -> str:
        return f"{pset.name}-{plan.version}"

    def context(self, device: Device, plan: FilterPlan) -> dict[str, Any]:
        units: dict[str, list[tuple[str, str]]] = {}
        for att in device.attach:
            if att.kind == "unit":
                ifd, _, unit = att.name.rpartition(".")
                units.setdefault(ifd, []).append((unit, "input" if att.direction == "in" else "output"))
        profiles: dict[str, list[tuple[str, str]]] = {}
        for a in device.attach:
            if a.kind == "dynamic-profile":
                ifd = a.profile_interface or '"$junos-interface-ifd-name"'
                profiles.setdefault(a.name, []).append((ifd, "input" if a.direction == "in" else "output"))
        return {
            "units": units,
            "profiles": profiles,
            "policer": f"OP25B-SMTP-{plan.version}",
            "inet": {4: "inet", 6: "inet6"},
        }

    def read_counters(self, session: Session) -> list[CounterReading]:
        """The ``get-firewall-filter-information`` RPC over NETCONF: each ``count`` of the OP25B filters."""
        from op25b_cfg.platforms.juniper_junos.counters import read

        return read(session)
