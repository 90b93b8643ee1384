"""Huawei VRP (NE40E, ME60, NE8000, AR access routers): VRP5 and VRP8."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, ClassVar

from op25b_cfg.errors import PlatformError
from op25b_cfg.platforms.base import LogPattern, Platform
from op25b_cfg.rules import PortRange, Rule

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session
    from op25b_cfg.dialects.base import ConfigDialect
    from op25b_cfg.effect.model import CounterReading
    from op25b_cfg.intent_protocols import Device
    from op25b_cfg.rules import AddrMatch

RULE_STEP = 5
"""VRP's default ``step``: rule ids op25b writes are 5, 10, 15, ... (the ids VRP itself would give)."""

_BRAS_KINDS = frozenset({"virtual-template", "dynamic-template", "dynamic-profile"})
DEFINITIONS = r"^(?P<kind>acl(?: ipv6)? name)\s+(?P<name>\S+)(?:\s+advance)?(?:\s+match-order\s+\S+)?\s*$"
"""An OP25B object definition in VRP: ``acl [ipv6] name NAME [advance]`` (removed with ``undo acl [ipv6] name
NAME``)."""
_USER_VIEW_PROMPT = re.compile(r"\A\s*<[^<>\s]+>\s*\Z")
_ACL_LOG = re.compile(  # searched from the marker on (LogPattern.parse)
    r"ACLLOG\([^)]*\)(?:\[\d+\])?: Acl6? (?P<rule>\S+) (?P<action>\w+) (?:.*? )?(?P<proto>[a-z]+|\d+)"
    r" (?P<src>[0-9A-Fa-f.:]+)(?:\(\d+\))? -> (?P<dst>[0-9A-Fa-f.:]+)(?:\((?P<dport>\d+)\))?"
    r" \((?P<packets>\d+) packets?\)"
)


class HuaweiVrp(Platform):
    """VRP: named advanced ACLs (``acl name NAME advance`` / ``acl ipv6 name NAME advance``) with explicit rule
    ids, applied with ``traffic-filter inbound|outbound [ipv6] acl name NAME`` on interfaces and
    sub-interfaces.

    A ``traffic-filter`` ACL has no implicit deny: a packet no rule matches is forwarded. op25b still renders
    the plan's final ``rule N permit ip`` so the filter says what it does.

    Refused: BRAS subscriber attachments (ME60 applies subscriber filters through user-group ACLs 6000-9999
    and a global ``traffic-policy``, which op25b does not model) and flow control (VRP's CAR on an interface
    is shared by every subscriber behind it; per-subscriber CAR is a BRAS QoS profile, not modelled either).
    Push goes through netmiko (see :mod:`.session`): VRP5 applies each line at once, VRP8 (``[~host]``)
    applies on ``commit``; neither has a revert timer op25b uses, so push commits, audits and rolls back.
    """

    name = "huawei_vrp"
    netmiko_device_type = "huawei"
    napalm_driver = None
    file_extension = "vrp"
    attach_kinds: ClassVar[frozenset[str]] = frozenset({"interface"})
    modes: ClassVar[frozenset[str]] = frozenset({"block", "targeted"})
    commit_confirm = False
    max_name_length = 64  # VRP ACL names: 1-64 characters (the versioned names are 15)
    addr_style: ClassVar[dict[int, str]] = {4: "wildcard", 6: "prefix"}
    any_protocol: ClassVar[dict[int, str]] = {4: "ip", 6: "ipv6"}

    # The ACL log line of a rule rendered with ``logging`` (VRP names the ACL by the number it gave the named ACL,
    # so the line cannot say it is op25b's: every logged deny of TCP port 25 counts), with the packets counted:
    # %%01ACLE/4/ACLLOG(l)[17]: Acl 3999 deny GigabitEthernet0/0/1 00e0-fc12-3456 -> 00e0-fc12-3457
    #     tcp 100.64.1.10(40000) -> 203.0.113.25(25) (1 packet).
    # The format is a Huawei switch's (tests/platforms/huawei_vrp/log_cases.yaml cites it); for the NE40E/VRP8 it
    # is an assumption: no public sample was found (searched: NE40E/NE8000/CloudEngine log references,
    # ACLE/4/ACLLOG, ACL/6/ACLLOG, traffic-filter logging, syslog-parser code and issues; docs/decisions.md).
    log_patterns: ClassVar[tuple[LogPattern, ...]] = (LogPattern("/ACLLOG(", _ACL_LOG, frozenset({"deny"})),)
    log_keyword = "logging"

    @functools.cached_property
    def dialect(self) -> ConfigDialect:
        """Cisco-style blocks as VRP writes them: ``undo`` removes, ``#`` separates views, ``return`` ends the
        config; OP25B objects are named ACLs; attachments sit in ``interface`` views."""
        from op25b_cfg.dialects.cisco_blocks import CiscoDialect

        return CiscoDialect(
            negate="undo", end="return", comment="#", definitions_re=DEFINITIONS, holders=("interface",)
        )

    def truncation_problem(self, text: str) -> str | None:
        """``display current-configuration`` ends with ``return``; a saved copy may end with the user-view
        prompt ``<host>`` after it."""
        lines = text.rstrip().splitlines()
        if lines and _USER_VIEW_PROMPT.match(lines[-1]):
            text = "\n".join(lines[:-1]) + "\n"
        problem = super().truncation_problem(text)
        return problem.replace("'show running-config'", "'display current-configuration'") if problem else None

    def session_class(self) -> type[Session]:
        """netmiko ``huawei`` (:class:`.session.VrpSession`): napalm-huawei-vrp does not do the job."""
        from op25b_cfg.platforms.huawei_vrp.session import VrpSession

        return VrpSession

    def read_counters(self, session: Session) -> list[CounterReading]:
        """``display acl all`` and ``display acl ipv6 all`` over the netmiko session: each rule's ``(N times
        matched)`` (VRP8) or ``(N matches)`` (VRP5) count (see :mod:`.counters`)."""
        from op25b_cfg.platforms.huawei_vrp.counters import read

        return read(session)

    def check(self, device: Device) -> None:
        for att in device.attach:
            if att.kind in _BRAS_KINDS:
                raise PlatformError(
                    f"platform {self.name} cannot enforce mode '{device.mode}' on a {att.kind} ({att.name})"
                    f" [{device.source_of('attach')}]: VRP BRAS (ME60) filters subscribers through user-group"
                    " ACLs (6000-9999) and a global traffic-policy, which op25b does not model exactly."
                    " Fix: attach to the subscriber-facing interface or sub-interface with kind interface"
                )
        if device.mode == "flow-control":
            raise PlatformError(
                f"platform {self.name} cannot enforce mode 'flow-control' [{device.source_of('mode')}]: a VRP CAR"
                " (`qos car` or a traffic-policy `car`) on an interface is shared by every subscriber behind it, and"
                " per-subscriber CAR needs an ME60 BRAS QoS profile, which op25b does not model."
                " Fix: use mode block or targeted for this device"
            )
        super().check(device)

    @staticmethod
    def vrp_addr(match: AddrMatch | None) -> str:
        """One VRP address term: ``any``, ``A 0`` (host), ``A W`` (IPv4 wildcard) or ``A/L`` (IPv6).

        >>> from op25b_cfg.netaddr import parse_prefix
        >>> from op25b_cfg.rules import AddrMatch
        >>> HuaweiVrp.vrp_addr(AddrMatch.from_prefix(parse_prefix("100.64.0.0/16")))
        '100.64.0.0 0.0.255.255'
        >>> HuaweiVrp.vrp_addr(AddrMatch.from_prefix(parse_prefix("192.0.2.25/32")))
        '192.0.2.25 0'
        >>> HuaweiVrp.vrp_addr(AddrMatch.from_prefix(parse_prefix("2001:db8::/32")))
        '2001:db8::/32'
        """
        if match is None:
            return "any"
        pfx = match.prefix()
        if pfx is None:
            raise PlatformError(f"non-contiguous mask {match} cannot be rendered")
        if pfx.version == 6:
            return str(pfx)
        if pfx.prefixlen == 32:
            return f"{pfx.network_address} 0"
        return f"{pfx.network_address} {pfx.hostmask}"

    @staticmethod
    def vrp_ports(ports: tuple[PortRange, ...]) -> list[str]:
        """``destination-port eq 25`` / ``destination-port range 20 30`` terms ([''] for any port)."""
        if not ports:
            return [""]
        return [
            f" destination-port eq {p.lo}" if p.lo == p.hi else f" destination-port range {p.lo} {p.hi}" for p in ports
        ]

    def aces(self, rule: Rule, action: str | None = None, flags: str = "") -> list[str]:
        """VRP rule bodies for one plan rule (without ``rule N``): the cross product of sources, destinations and
        destination port ranges, e.g. ``deny tcp source 100.64.0.0 0.0.255.255 destination-port eq 25 logging``.
        ``source any`` / ``destination any`` are left out (VRP's own spelling of *any*)."""
        proto = "tcp" if rule.protocol == 6 else "ip" if rule.protocol is None else str(rule.protocol)
        if rule.family == 6 and rule.protocol is None:
            proto = "ipv6"
        act = action or str(rule.action)
        log_kw = f" {self.log_keyword}" if rule.log and act == "deny" else ""
        out = []
        for src in rule.src or (None,):
            for dst in rule.dst or (None,):
                for port in self.vrp_ports(rule.dst_ports) if rule.protocol in (6, 17) else [""]:
                    s = "" if src is None else f" source {self.vrp_addr(src)}"
                    d = "" if dst is None else f" destination {self.vrp_addr(dst)}"
                    out.append(f"{act} {proto}{s}{d}{port}{flags}{log_kw}")
        return out

    def numbered(self, rules: list[Rule]) -> list[str]:
        """Every rule body of one family, each with its explicit id ``rule 5 ...``, ``rule 10 ...``."""
        bodies = [b for r in rules for b in self.aces(r)]
        return [f"rule {RULE_STEP * (i + 1)} {b}" for i, b in enumerate(bodies)]
