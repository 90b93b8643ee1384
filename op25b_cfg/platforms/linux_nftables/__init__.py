"""Linux hosts (BRAS/edge) with nftables."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any, ClassVar

from op25b_cfg.errors import PlatformError
from op25b_cfg.platforms.base import LogPattern, Platform
from op25b_cfg.rules import Action, FilterPlan, Rule

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session
    from op25b_cfg.effect.model import CounterReading
    from op25b_cfg.intent_protocols import Attachment, Device

_IFNAME = re.compile(r"[A-Za-z0-9_.-]{1,15}\*?")
TABLE = "op25b"
LOG_RATE = "10/minute burst 5 packets"
"""How often the block rule may log: enough to see who is blocked, never a kernel-log flood."""
DELAY_SETS = ("op25b_delay_wait", "op25b_delay_seen")
"""The two sets of the connection delay (``_v4`` / ``_v6`` appended), keyed by source address, destination
address and source port (one TCP connection attempt; its SYN retransmissions carry the same key)."""
DELAY_KEY = {4: "ip saddr . ip daddr . tcp sport", 6: "ip6 saddr . ip6 daddr . tcp sport"}
DELAY_TYPE = {4: "ipv4_addr . ipv4_addr . inet_service", 6: "ipv6_addr . ipv6_addr . inet_service"}
DELAY_SET_SIZE = 65535


def delay_timeouts(delay: int) -> tuple[int, int]:
    """The timeouts (seconds) of the wait and seen sets for a connection delay of ``delay`` seconds.

    The first SYN of a connection puts its key into both sets and is dropped; while the key is in the wait set
    (``delay`` seconds) every SYN retransmission is dropped; after that, the key is still in the seen set, so the
    next retransmission goes on. The seen set must outlive that retransmission: with exponential back-off from
    an initial RTO of at most 3 s (RFC 6298: 1 s; older stacks 3 s) it comes before ``2 * delay + 3`` s.

    >>> delay_timeouts(3)
    (3, 10)
    """
    return delay, 2 * delay + 4


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
    per-source ``limit rate`` meter (IPv6 sources keyed by ``ipv6_subscriber_length``); with
    ``connect_delay_s``, before both, the connection delay (:func:`delay_timeouts`): the SYNs of each new
    connection are dropped until the delay has passed since its first SYN.
    """

    name = "linux_nftables"
    netmiko_device_type = "linux"
    napalm_driver = None
    file_extension = "nft"
    attach_kinds: ClassVar[frozenset[str]] = frozenset({"nft-forward"})
    uplinks: ClassVar[bool] = True
    modes: ClassVar[frozenset[str]] = frozenset({"block", "targeted", "flow-control"})
    flow_sessions = True
    flow_delay = True
    flow_rate_kinds: ClassVar[frozenset[str]] = frozenset({"nft-forward"})
    commit_confirm = True
    atomic_replace = True  # the session replaces the whole op25b table with one `nft -f`

    def truncation_problem(self, text: str) -> str | None:
        """``{`` and ``}`` balance (outside strings and comments, as the reader :mod:`op25b_cfg.dialects.nft`
        defines them).

        >>> LinuxNftables().truncation_problem('table inet f {\\n chain c {\\n  comment "}"\\n')
        "2 unclosed '{' at the end of the file: the ruleset looks truncated"
        """
        from op25b_cfg.dialects.base import brace_balance, brace_message, has_meaningful_line
        from op25b_cfg.dialects.nft import LEXICON

        if not has_meaningful_line(text, "#"):
            return "no ruleset lines (only comments)"
        depth, negative_at = brace_balance(text, LEXICON)
        return brace_message(depth, negative_at, "ruleset")

    def apply_change(self, running: str, change: str) -> str:
        """``nft -f`` of the rendered script: the ``table inet op25b`` is replaced as a whole."""
        kept = re.sub(rf"(?ms)^table inet {TABLE} \{{.*?^\}}\n?", "", running)
        return kept + change[change.index(f"table inet {TABLE} {{") :]

    def session_class(self) -> type[Session]:
        """netmiko to a Linux host, ``nft`` through sudo (:class:`op25b_cfg.connection.linux.LinuxNftSession`)."""
        from op25b_cfg.connection.linux import LinuxNftSession

        return LinuxNftSession

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
            delay = rule.limit.connect_delay_s
            if delay is not None:
                k = DELAY_KEY[rule.family]
                wait, seen = (f"@{name}_{fam}" for name in DELAY_SETS)
                out.append(f'{match} ct state new {k} {wait}{counter} drop comment "{rule.remark}: delay"')
                out.append(
                    f"{match} ct state new {k} != {seen} add {seen} {{ {k} }} add {wait} {{ {k} }}{counter} drop"
                    f' comment "{rule.remark}: delay"'
                )
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
            "delay_sets": lambda delay: list(zip(DELAY_SETS, delay_timeouts(delay), strict=True)),
            "delay_type": DELAY_TYPE,
            "delay_size": DELAY_SET_SIZE,
        }

    def read_counters(self, session: Session) -> list[CounterReading]:
        """``nft -j list table inet op25b`` over SSH (as root): every rule counter and named counter of the
        op25b table (see :mod:`.counters`)."""
        from op25b_cfg.platforms.linux_nftables.counters import read

        return read(session)
