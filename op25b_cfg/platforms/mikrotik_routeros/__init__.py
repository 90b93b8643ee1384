"""MikroTik RouterOS 7 (PPPoE servers of small ISPs): ``/ip firewall filter`` and ``/ipv6 firewall filter``.

Everything op25b owns carries a comment that starts with ``op25b <version>`` (:data:`COMMENT_PREFIX`): the
address lists of the plan's prefix sets, one chain per family (``OP25B-V4-<version>``) and, in chain
``forward``, one ``action=jump`` rule per attachment. Attachment kinds: ``interface`` (``in-interface=NAME``:
a VLAN or Ethernet of IPoE subscribers) and ``interface-list`` (``in-interface-list=NAME``: the list a PPP
profile puts every PPPoE session's dynamic interface into, ``/ppp profile ... interface-list=NAME``).

Permits are ``action=return``: op25b only rejects, and what it lets through goes on through the ISP's own
forward rules (an ``accept`` in op25b's chain would skip them).

Flow control: ``connection-limit=N,32`` (IPv6: ``N,<ipv6_subscriber_length>``) caps concurrent new port-25
sessions per subscriber; a ``dst-limit=R,B,src-address/1m`` rule returns the new connections under the rate,
and the rule after it rejects the rest. ``dst-limit`` keys on the whole source address, so IPv6 rate limits are
per subscriber only with ``ipv6_subscriber_length: 128``; otherwise the platform refuses.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from op25b_cfg.errors import PlatformError
from op25b_cfg.platforms.base import LogPattern, Platform
from op25b_cfg.platforms.mikrotik_routeros.syntax import (
    _ACTIONS,
    _NAME,
    COMMENT_PREFIX,
    LOG_LIMIT,
    RATE_EXPIRE,
    command,
)
from op25b_cfg.rules import Action, FilterPlan, Rule

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session
    from op25b_cfg.effect.model import CounterReading
    from op25b_cfg.intent_protocols import Attachment, Device

BLOCK_LOG_PREFIX = "op25b-block"
"""The ``log-prefix`` of the ``action=log`` rule before each OP25B reject (:meth:`MikrotikRouteros.ros_rules`)."""
LIMIT_LOG_PREFIX = "op25b-limit"
"""The ``log-prefix`` of the flow-control log rules, each right before the reject of what is over a limit."""
_FIREWALL_LOG = re.compile(  # searched from the prefix on (LogPattern.parse)
    r"\S+ \w+: in:.*?\bproto (?P<proto>\w+)(?: \([^)]*\))?,"
    r" \[?(?P<src>[0-9A-Fa-f.:]+?)\]?:\d+->\[?(?P<dst>[0-9A-Fa-f.:]+?)\]?:(?P<dport>\d+)(?:,|$)"
)


class MikrotikRouteros(Platform):
    """RouterOS 7 firewall filters in a commented block, pushed over its SSH CLI (netmiko ``mikrotik_routeros``)."""

    name = "mikrotik_routeros"
    netmiko_device_type = "mikrotik_routeros"
    napalm_driver = None
    file_extension = "rsc"
    attach_kinds: ClassVar[frozenset[str]] = frozenset({"interface", "interface-list"})
    modes: ClassVar[frozenset[str]] = frozenset({"block", "targeted", "flow-control"})
    flow_sessions = True
    flow_rate_kinds: ClassVar[frozenset[str]] = frozenset({"interface", "interface-list"})
    commit_confirm = False
    atomic_replace = True  # the session replaces every item commented "op25b ..." (make-before-break)
    max_name_length: ClassVar[int] = 63

    # The firewall log line of the ``action=log log-prefix=op25b-block`` rule right before each reject (one line per
    # packet, at most LOG_LIMIT of them: a lower bound), topics firewall,info:
    # op25b-block forward: in:<pppoe-u1> out:ether1, connection-state:new proto TCP (SYN),
    #     100.64.1.10:40000->203.0.113.25:25, len 60          (IPv6: [2001:db8::10]:40000->[2001:db8::25]:25)
    # The flow-control ``op25b-limit`` log rules sit right before the rejects of what is over the session or rate
    # limit: their lines (same format) are the limited connections.
    log_patterns: ClassVar[tuple[LogPattern, ...]] = (
        LogPattern(f"{BLOCK_LOG_PREFIX} ", _FIREWALL_LOG),
        LogPattern(f"{LIMIT_LOG_PREFIX} ", _FIREWALL_LOG, purpose="limited"),
    )

    def truncation_problem(self, text: str) -> str | None:
        """A config whose last line is not a whole command (cut inside a ``\\`` continuation, a quoted value or
        a word, or a menu path with nothing after it), or with no command at all. ``/export`` has no end marker:
        a cut exactly between two lines cannot be seen.

        >>> MikrotikRouteros().truncation_problem('/ip firewall filter\\nadd chain=forward comment="cut')
        'the last line ends inside a quoted value: the export looks truncated'
        >>> MikrotikRouteros().truncation_problem("/system identity set name=r1\\n") is None
        True
        """
        from op25b_cfg.platforms.mikrotik_routeros.parser import last_command, logical_lines, tokens

        logical = logical_lines(text)
        lines = [t for _, t in logical if t.strip() and not t.lstrip().startswith("#")]
        if not lines:
            return "no configuration lines (only comments)"
        if text.rstrip("\r\n").endswith("\\"):
            return "the last line ends in a continuation: the export looks truncated"
        try:
            words = tokens(lines[-1])
        except ValueError:
            return "the last line ends inside a quoted value: the export looks truncated"
        verbs = ("add", "set", "remove", "print", "export", "enable", "disable", "unset", "move", "edit")
        pos = next((i for i, w in enumerate(words) if w in verbs), None)
        if pos is None:
            return "the last line is a menu path without a command: the export looks truncated"
        last = last_command(logical)
        if (
            last is not None
            and last.verb == "add"
            and last.path[1:] in (("firewall", "filter"), ("firewall", "address-list"))
        ):
            need = ("chain",) if last.path[-1] == "filter" else ("list", "address")
            if any(k not in last.props for k in need) or last.props.get("action", "accept") not in _ACTIONS:
                return "the last firewall item is incomplete: the export looks truncated"
        depth = 0
        for w in words[pos + 1 :]:
            depth += w.count("[") - w.count("]")
            if not depth and not w.endswith("]") and ("=" not in w or w.endswith("=")) and words[pos] == "add":
                return f"the last line ends in the middle ({w!r}): the export looks truncated"
        return None

    def read_counters(self, session: Session) -> list[CounterReading]:
        """The stats of ``/ip firewall filter`` and ``/ipv6 firewall filter`` (``print as-value stats``) over the SSH
        exec session: each verdict rule of op25b's chains, its ``packets`` and ``bytes`` (see :mod:`.counters`)."""
        from op25b_cfg.platforms.mikrotik_routeros.counters import read

        return read(session)

    def session_class(self) -> type[Session]:
        """netmiko ``mikrotik_routeros`` and one SSH exec per command (:mod:`.session`)."""
        from op25b_cfg.platforms.mikrotik_routeros.session import RouterosSession

        return RouterosSession

    def check(self, device: Device) -> None:
        super().check(device)
        kinds = {a.kind for a in device.attach}
        lists = [a for a in device.attach if a.kind == "interface-list"]
        if len(kinds) > 1 or len(lists) > 1:
            raise PlatformError(
                f"platform {self.name}: a device attaches either interfaces or one interface list"
                f" [{device.source_of('attach')}]: which interfaces two lists (or a list and an interface) share is"
                " decided on the router, so op25b could not prove the rules per subscriber."
                " Fix: put the subscriber interfaces into one list (/interface list member add) and attach that"
                " interface-list alone"
            )
        fc = device.flow_control
        v6 = any(p.version == 6 for pool in device.pools for p in pool.all())
        if device.mode == "flow-control" and v6 and fc.ipv6_subscriber_length != 128:
            raise PlatformError(
                f"platform {self.name} cannot enforce mode 'flow-control' on IPv6 pools per"
                f" /{fc.ipv6_subscriber_length} subscriber (flow_control.ipv6_subscriber_length): dst-limit keys"
                " on the whole source address, so a subscriber rotating addresses in its prefix escapes it"
                f" [{device.source_of('flow_control')}]."
                " Fix: set flow_control.ipv6_subscriber_length to 128, or leave IPv6 pools off this device,"
                " or use mode block"
            )

    def check_attachment(self, att: Attachment) -> None:
        super().check_attachment(att)
        if att.direction != "in":
            raise PlatformError(
                f"platform {self.name}: attachment {att.kind} {att.name} has direction {att.direction}; op25b filters"
                " RouterOS subscribers where they enter (in-interface / in-interface-list) in chain forward."
                " Fix: use direction in with the subscriber-facing interface or interface list"
            )
        if not _NAME.fullmatch(att.name):
            raise PlatformError(
                f"platform {self.name}: {att.name!r} is not a RouterOS interface or interface-list name op25b"
                " writes (letters, digits, _ . < > @ -, at most 64). Fix: rename it on the router"
            )

    # ------------------------------------------------------------------ rendering

    def ros_rules(self, rule: Rule, plan: FilterPlan) -> list[str]:
        """``add`` lines of one plan rule in chain ``OP25B-V<f>-<version>`` (the final permit-any is the chain's
        implicit return)."""
        if rule.name == "default":
            return []
        ver = plan.version
        base: dict[str, str] = {"chain": plan.filter_name(rule.family)}
        if rule.protocol == 6:
            base["protocol"] = "tcp"
        if rule.src_set:
            base["src-address-list"] = f"{rule.src_set}-{ver}"
        if rule.dst_set:
            base["dst-address-list"] = f"{rule.dst_set}-{ver}"
        if rule.dst_ports:
            base["dst-port"] = ",".join(str(p) for p in rule.dst_ports)
        note = f"{COMMENT_PREFIX}{ver} {rule.remark}"
        reject = {"action": "reject", "reject-with": "tcp-reset"}
        if rule.action is Action.PERMIT:
            return [command({**base, "action": "return", "comment": note})]
        if rule.action is Action.DENY:
            out = []
            if rule.log:
                log = {"action": "log", "log-prefix": BLOCK_LOG_PREFIX, "limit": LOG_LIMIT}
                out.append(command({**base, **log, "comment": f"{note}: log"}))
            out.append(command({**base, **reject, "comment": note}))
            return out
        assert rule.action is Action.LIMIT and rule.limit is not None
        lim = rule.limit
        new = {**base, "connection-state": "new"}
        log = {"action": "log", "log-prefix": LIMIT_LOG_PREFIX, "limit": LOG_LIMIT}

        def refused(match: dict[str, str], what: str) -> list[str]:
            """The reject of ``match`` and, logging, a log rule of the same match right before it: the log lines
            are the limited connections, never the ones let through."""
            logged = [command({**match, **log, "comment": f"{note}: {what}: log"})] if rule.log else []
            return [*logged, command({**match, **reject, "comment": f"{note}: {what}"})]

        out = []
        if lim.max_sessions is not None:
            mask = 32 if rule.family == 4 else lim.ipv6_subscriber_length
            out += refused({**new, "connection-limit": f"{lim.max_sessions},{mask}"}, "sessions")
        rate = f"{lim.new_per_second},{lim.burst},src-address/{RATE_EXPIRE}"
        out.append(command({**new, "action": "return", "dst-limit": rate, "comment": f"{note}: rate"}))
        return out + refused(new, "over the rate")

    def context(self, device: Device, plan: FilterPlan) -> dict[str, Any]:
        ver = plan.version
        jumps: dict[int, list[str]] = {}
        for fam in plan.families:
            for att in device.attach:
                key = "in-interface" if att.kind == "interface" else "in-interface-list"
                props = {
                    "action": "jump",
                    "chain": "forward",
                    "jump-target": plan.filter_name(fam),
                    key: att.name,
                    "comment": f"{COMMENT_PREFIX}{ver} subscribers on {att.kind} {att.name}",
                }
                jumps.setdefault(fam, []).append(command(props))
        entries: dict[int, list[str]] = {}
        for s in plan.sets.values():
            for p in s.prefixes:
                full = p.max_prefixlen == p.prefixlen
                addr = str(p.network_address) if full and s.family == 4 else str(p)
                props = {"list": f"{s.name}-{ver}", "address": addr, "comment": f"{COMMENT_PREFIX}{ver}"}
                entries.setdefault(s.family, []).append(command(props))
        return {"jumps": jumps, "entries": entries, "menu": {4: "/ip", 6: "/ipv6"}}
