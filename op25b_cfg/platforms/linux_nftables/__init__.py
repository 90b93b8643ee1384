"""Linux hosts (BRAS/edge) with nftables."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any, ClassVar

from op25b_cfg.errors import PlatformError
from op25b_cfg.platforms.base import LogPattern, Platform
from op25b_cfg.rules import Action, FilterPlan, Rule

if TYPE_CHECKING:
    from op25b_cfg.inventory import Attachment, Device

_IFNAME = re.compile(r"[A-Za-z0-9_.-]{1,15}\*?")
TABLE = "op25b"
LOG_RATE = "10/minute burst 5 packets"
"""How often the block rule may log: enough to see who is blocked, never a kernel-log flood."""
BLOCK_LOG_PREFIX = "op25b-block: "
LIMIT_LOG_PREFIX = "op25b-limit: "
_KERNEL_LOG = re.compile(  # searched from the prefix on (LogPattern.parse)
    r" SRC=(?P<src>[0-9A-Fa-f.:]+) DST=(?P<dst>[0-9A-Fa-f.:]+) .*? PROTO=(?P<proto>\w+)(?: SPT=\d+ DPT=(?P<dport>\d+))?"
)


class LinuxNftables(Platform):
    """nftables: everything lives in one dedicated ``table inet op25b`` (IPv4 and IPv6), so the host's other
    tables are never touched. The rendered file replaces that table atomically with ``nft -f``. A ``forward``
    base chain jumps to the ``subscriber`` chain for the subscriber-facing interfaces (wildcards such as
    ``ppp*`` allowed).

    Flow control: a per-source ``ct count`` on new port-25 connections (concurrent-session cap) and a
    per-source ``limit rate`` meter (IPv6 sources keyed by ``ipv6_subscriber_length``).
    """

    name = "linux_nftables"
    netmiko_device_type = "linux"
    napalm_driver = None
    file_extension = "nft"
    attach_kinds: ClassVar[frozenset[str]] = frozenset({"nft-forward"})
    uplinks: ClassVar[bool] = True
    modes: ClassVar[frozenset[str]] = frozenset({"block", "targeted", "flow-control"})
    flow_sessions = True
    flow_rate_kinds: ClassVar[frozenset[str]] = frozenset({"nft-forward"})
    commit_confirm = True
    # The kernel's log line (dmesg, /dev/kmsg, journald "kernel:", a syslog file), one per logged packet:
    # op25b-block: IN=ppp0 OUT=ext0 MAC=... SRC=100.64.1.10 DST=203.0.113.25 LEN=60 ... PROTO=TCP SPT=40000 DPT=25 ...
    log_patterns: ClassVar[tuple[LogPattern, ...]] = (
        LogPattern(BLOCK_LOG_PREFIX, _KERNEL_LOG),
        LogPattern(LIMIT_LOG_PREFIX, _KERNEL_LOG, purpose="limited"),
    )

    def check_attachment(self, att: Attachment) -> None:
        if not _IFNAME.fullmatch(att.name):
            raise PlatformError(
                f"platform {self.name}: {att.name!r} is not a Linux interface name (at most 15 characters,"
                " optionally ending in * for a wildcard). Fix: write e.g. eth1 or ppp*"
            )

    def nft_rules(self, rule: Rule, plan: FilterPlan) -> list[str]:
        """nft statements for one rule."""
        ip = "ip" if rule.family == 4 else "ip6"
        m = []
        if rule.src_set:
            m.append(f"{ip} saddr @{rule.src_set}")
        elif rule.src:
            m.append(f"{ip} saddr {{ {', '.join(str(a) for a in rule.src)} }}")
        if rule.dst_set:
            m.append(f"{ip} daddr @{rule.dst_set}")
        elif rule.dst:
            m.append(f"{ip} daddr {{ {', '.join(str(a) for a in rule.dst)} }}")
        if rule.protocol == 6:
            ports = [str(p) for p in rule.dst_ports]
            if len(ports) == 1:
                m.append(f"tcp dport {ports[0]}")
            elif ports:
                m.append(f"tcp dport {{ {', '.join(ports)} }}")
            else:
                m.append("meta l4proto tcp")
        elif rule.protocol is None and not m:
            m.append(f"meta nfproto {'ipv4' if rule.family == 4 else 'ipv6'}")
        match = " ".join(m)
        counter = " counter" if rule.counter else ""
        comment = f' comment "{rule.remark}"' if rule.remark else ""
        if rule.action is Action.PERMIT:
            return [f"{match}{counter} accept{comment}"]
        if rule.action is Action.DENY:
            deny = f"{match}{counter} reject with tcp reset{comment}"
            if not rule.log:
                return [deny]
            # A rule of its own, without a verdict: the limit bounds the log lines (a spam bot sends hundreds of
            # SYNs a second), never the reject that follows.
            return [f'{match} limit rate {LOG_RATE} log prefix "{BLOCK_LOG_PREFIX}"', deny]
        if rule.action is Action.LIMIT:
            assert rule.limit is not None
            key = f"{ip} saddr"
            if rule.family == 6 and rule.limit.ipv6_subscriber_length < 128:
                mask = ipaddress.IPv6Network(("::", rule.limit.ipv6_subscriber_length)).netmask
                key = f"ip6 saddr & {mask}"
            fam = f"v{rule.family}"
            logp = f' log prefix "{LIMIT_LOG_PREFIX}"' if rule.log else ""
            out = []
            if rule.limit.max_sessions is not None:
                out.append(
                    f"{match} ct state new add @op25b_conn_{fam} {{ {key} ct count over {rule.limit.max_sessions} }}"
                    f'{counter}{logp} reject with tcp reset comment "{rule.remark}: sessions"'
                )
            out.append(
                f"{match} ct state new update @op25b_rate_{fam} {{ {key} limit rate over"
                f" {rule.limit.new_per_second}/second burst {rule.limit.burst} packets }}"
                f'{counter}{logp} reject with tcp reset comment "{rule.remark}: rate"'
            )
            return out
        return [f"{match}{counter} continue{comment}"]

    def context(self, device: Device, plan: FilterPlan) -> dict[str, Any]:
        ifaces: dict[str, list[str]] = {"iifname": [], "oifname": []}
        for att in device.attach:
            ifaces["iifname" if att.direction == "in" else "oifname"].append(f'"{att.name}"')
        return {
            "table": TABLE,
            "ifaces": {k: v for k, v in ifaces.items() if v},
            "nft_type": {4: "ipv4_addr", 6: "ipv6_addr"},
        }
