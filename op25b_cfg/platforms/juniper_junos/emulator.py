"""Juniper Junos NETCONF emulator: NETCONF 1.0 (``]]>]]>`` framing) over the SSH subsystem ``netconf``.

Implements the RPCs napalm's ``junos`` driver sends through PyEZ/ncclient: ``lock-configuration``,
``unlock-configuration``, ``load-configuration`` (text with action merge/replace/override, ``set``
commands, ``rollback="N"``), ``get-configuration`` (``compare="rollback"`` diff as ``show | compare``,
``database="committed|candidate"`` text), ``commit-configuration`` (``confirmed`` + ``confirm-timeout``,
plain commit confirms), ``discard-changes``, ``get-commit-revision-information``,
``get-system-uptime-information``, ``get-software-information``, ``open``/``close-configuration`` and
``close-session``. Uncommitted changes of a session holding the lock are discarded when it ends.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import paramiko
from lxml import etree

from op25b_cfg.dialects import junos_tree as jt
from op25b_cfg.dialects.junos import JunosSyntaxError
from op25b_cfg.lab.emulators.base import AclCounters, RevertTimer
from op25b_cfg.lab.emulators.sshserver import SshEmulator

if TYPE_CHECKING:
    from op25b_cfg.intent_protocols import Device

log = logging.getLogger(__name__)

EOM = b"]]>]]>"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
JUNOS_VERSION = "21.4R3-S5"
HELLO = f"""<!-- op25b NETCONF emulator -->
<hello xmlns="{NC_NS}">
  <capabilities>
    <capability>urn:ietf:params:netconf:base:1.0</capability>
    <capability>urn:ietf:params:netconf:capability:candidate:1.0</capability>
    <capability>urn:ietf:params:netconf:capability:confirmed-commit:1.0</capability>
    <capability>urn:ietf:params:netconf:capability:validate:1.0</capability>
    <capability>urn:ietf:params:netconf:capability:url:1.0?scheme=http,ftp,file</capability>
    <capability>http://xml.juniper.net/netconf/junos/1.0</capability>
    <capability>http://xml.juniper.net/dmi/system/1.0</capability>
  </capabilities>
  <session-id>{{session_id}}</session-id>
</hello>
"""


class RpcFailed(Exception):
    """An RPC the device refuses; becomes an ``<rpc-error>``."""

    def __init__(self, message: str, bad_element: str = "", tag: str = "operation-failed") -> None:
        super().__init__(message)
        self.message = message
        self.bad_element = bad_element
        self.tag = tag


@dataclass
class Commit:
    """One entry of the rollback history."""

    config: jt.JNode
    when: float
    user: str
    comment: str = ""


class JunosEmulator(SshEmulator):
    """A Junos router answering NETCONF on 127.0.0.1:<port>."""

    platform = "junos"
    channel_kinds = frozenset({"subsystem:netconf"})

    @classmethod
    def default_config(cls, device: Device) -> str:
        return default_config(device.name)

    @classmethod
    def strip_op25b(cls, text: str) -> str:
        return jt.strip_op25b(text)

    @classmethod
    def apply_change(cls, running: str, change: str) -> str:
        """``set`` / ``delete`` commands loaded into the candidate and committed."""
        tree = jt.parse(running)
        jt.load_set(tree, change)
        # the tree cannot tell the leaf `then policer NAME` from the container `firewall policer NAME`
        return re.sub(r"(\bthen\b[^}]*?\bpolicer \S+) \{\s*\}", r"\1;", jt.render(tree))

    @classmethod
    def with_prerequisites(cls, text: str) -> str:
        """NETCONF over SSH, what napalm's junos driver talks."""
        return jt.ensure(text, ("system", "services", "netconf"), "system { services { netconf { ssh; } } }")

    def __init__(self, initial_config: str = "", *, hostname: str = "bng-mx1", **kwargs: Any) -> None:
        super().__init__(initial_config, hostname=hostname, **kwargs)
        first = jt.parse(initial_config or default_config(hostname))
        self.history: list[Commit] = [Commit(first, time.time(), "root", "initial")]
        self.candidate = copy.deepcopy(first)
        self.lock_owner: int | None = None
        self.confirm_timer: RevertTimer | None = None
        self.confirm_minutes = 0
        self._next_session = 1000
        self.counters = AclCounters()
        """Firewall counters by (filter name, counter name), shown by ``get-firewall-filter-information``; for an
        ``interface-specific`` filter by its instances' names (``F-ge-0/0/1.100-i``, ``C-ge-0/0/1.100-i``)."""
        self.policers = AclCounters()
        """Policers' out-of-spec packets by (filter instance name, policer instance name: policer, term,
        interface and direction, ``P-limit-ge-0/0/1.100-i``), shown with the filter's counters."""
        self.subscribers: list[str] = []
        """Logical interfaces of the subscriber sessions that are up (``pp0.3221225474``): each has an instance
        of every ``interface-specific`` filter a dynamic profile binds."""

    def reload(self) -> None:
        """Counters cleared, uptime from zero, and every subscriber session gone."""
        with self.lock:
            super().reload()
            self.subscribers.clear()

    # -- public state -----------------------------------------------------------------------------------
    @property
    def running_config(self) -> str:
        with self.lock:
            return jt.render(self.history[0].config)

    @property
    def candidate_config(self) -> str:
        with self.lock:
            return jt.render(self.candidate)

    def pending_commit(self) -> bool:
        with self.lock:
            return self.confirm_timer is not None

    def napalm_optional_args(self) -> dict[str, object]:
        """``optional_args`` for ``napalm.get_network_driver("junos")``.

        napalm's junos driver never verifies host keys (PyEZ's ``hostkey_verify`` defaults to False and
        napalm does not pass it); to verify, set ``driver.device._hostkey_verify = True`` before ``open()``
        and point ``ssh_config_file`` at a file with ``UserKnownHostsFile <known_hosts>``.
        """
        return {"port": self.port}

    def on_stop(self) -> None:
        with self.lock:
            if self.confirm_timer is not None:
                self.confirm_timer.cancel()

    # -- NETCONF session --------------------------------------------------------------------------------
    def handle_channel(self, kind: str, chan: paramiko.Channel, arg: str) -> None:
        with self.lock:
            self._next_session += 1
            sid = self._next_session
        try:
            self.faults.strike("open", self.stop_event, applied=False)
            chan.sendall(HELLO.replace("{session_id}", str(sid)).encode() + EOM)
            reader = _Reader(chan)
            if reader.message() is None:  # client hello
                return
            while not self.stop_event.is_set():
                msg = reader.message()
                if msg is None:
                    return
                reply, close = self._handle_rpc(msg, sid)
                if reply:
                    chan.sendall(reply.encode() + EOM)
                if close:
                    return
        finally:
            self._end_session(sid)

    def _end_session(self, sid: int) -> None:
        with self.lock:
            if self.lock_owner == sid:
                self.lock_owner = None
                self.candidate = copy.deepcopy(self.history[0].config)

    def _handle_rpc(self, msg: bytes, sid: int) -> tuple[str, bool]:
        try:
            root = etree.fromstring(msg)
        except etree.XMLSyntaxError:
            return _error_reply("", RpcFailed("malformed XML", tag="malformed-message")), False
        mid = root.get("message-id", "")
        op = next(iter(root), None) if etree.QName(root).localname == "rpc" else None
        if op is None:
            return _error_reply(mid, RpcFailed("not an rpc", tag="malformed-message")), False
        name = etree.QName(op).localname
        self.record(name)
        phase = self._phase(name, op)
        if phase is not None:
            self.faults.strike(phase, self.stop_event, applied=False)
        try:
            with self.lock:
                body, close = self._dispatch(name, op, sid)
        except RpcFailed as exc:
            if phase is not None:
                self.faults.strike(phase, self.stop_event, applied=True)
            return _error_reply(mid, exc), False
        if phase is not None:
            self.faults.strike(phase, self.stop_event, applied=True)
        return _reply(mid, body), close

    def _phase(self, name: str, op: etree._Element) -> str | None:
        if name == "load-configuration" and op.get("rollback") is None:
            return "load"
        if name == "commit-configuration" and op.find("check") is None:
            return "confirm" if self.confirm_timer is not None else "commit"
        return None

    # -- RPCs -------------------------------------------------------------------------------------------
    def _dispatch(self, name: str, op: etree._Element, sid: int) -> tuple[str, bool]:
        if name == "close-session":
            return "<ok/>", True
        if name in ("lock-configuration", "lock"):
            if self.lock_owner not in (None, sid):
                raise RpcFailed(f"configuration database locked by: op25b (pid {self.lock_owner})", tag="lock-denied")
            if self.lock_owner is None and _differs(self.candidate, self.history[0].config):
                raise RpcFailed("configuration database modified", tag="lock-denied")
            self.lock_owner = sid
            return "<ok/>", False
        if name in ("unlock-configuration", "unlock"):
            if self.lock_owner == sid:
                self.lock_owner = None
            return "<ok/>", False
        if name in ("open-configuration", "close-configuration"):
            return "<ok/>", False
        if name == "discard-changes":
            self._require_lock(sid)
            self.candidate = copy.deepcopy(self.history[0].config)
            return "<ok/>", False
        if name == "load-configuration":
            self._require_lock(sid)
            self._load(op)
            return "<load-configuration-results><ok/></load-configuration-results>", False
        if name == "get-configuration":
            return self._get_configuration(op), False
        if name == "commit-configuration":
            self._require_lock(sid)
            return self._commit(op), False
        if name == "get-firewall-filter-information":
            return self._firewall_information(op.findtext("filtername")), False
        if name == "get-commit-revision-information":
            return self._revision_info(), False
        if name == "get-system-uptime-information":
            now, booted = int(time.time()), int(self.booted)
            return (
                "<system-uptime-information><current-time>"
                f'<date-time seconds="{now}">{time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now))}</date-time>'
                "</current-time><system-booted-time>"
                f'<date-time seconds="{booted}">{time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(booted))}'
                f'</date-time><time-length seconds="{now - booted}">{_junos_duration(now - booted)}</time-length>'
                "</system-booted-time></system-uptime-information>"
            ), False
        if name == "get-software-information":
            return (
                f"<software-information><host-name>{escape(self.hostname)}</host-name>"
                f"<product-model>mx480</product-model><product-name>mx480</product-name>"
                f"<junos-version>{JUNOS_VERSION}</junos-version></software-information>"
            ), False
        raise RpcFailed("syntax error, expecting <rpc> element", bad_element=name, tag="unknown-element")

    def _firewall_information(self, only: str | None) -> str:
        """``show firewall`` as its RPC answers: per filter of the committed config, every ``count`` of its
        terms in order with the packets and bytes counted (0 until :attr:`counters` has hits)::

            <firewall-information xmlns="http://xml.juniper.net/junos/21.4R0/junos-filter">
              <filter-information><filter-name>OP25B-V4-1a2b3c4d</filter-name>
                <counter><counter-name>OP25B-BLOCK</counter-name><packet-count>4471</packet-count>
                  <byte-count>268260</byte-count></counter> ...
        """
        out = []
        config = self.history[0].config
        bound = _bound_filters(config)
        firewall = config.find("firewall")
        for family in (firewall.children or []) if firewall is not None else []:
            for flt in family.children or []:
                if len(flt.words) != 2 or flt.words[0] != "filter" or (only and flt.words[1] != only):
                    continue
                name = flt.words[1]
                suffixes = [""]
                if flt.find("interface-specific") is not None:  # one instance per interface it is bound to
                    statics = [f"-{ifl}-{d}" for ifl, d in bound.get(name, []) if ifl != "*"]
                    profiles = [d for star, d in bound.get(name, []) if star == "*"]
                    dynamic = [f"-{ifl}-{d}" for d in profiles for ifl in self.subscribers]
                    suffixes = statics + dynamic
                for suffix in suffixes:
                    out.append(self._filter_instance(flt, name + suffix, suffix))
        ns = f"http://xml.juniper.net/junos/{JUNOS_VERSION.split('-')[0]}/junos-filter"
        return f'<firewall-information xmlns="{ns}">{"".join(out)}</firewall-information>'

    def _filter_instance(self, flt: jt.JNode, name: str, suffix: str) -> str:
        """One ``<filter-information>``: the ``count``s of its terms, then the policers the terms reference
        (term-specific instances ``<policer>-<term>``, with the instance's interface suffix)."""
        counters, policers = [], []
        for term in flt.children or []:
            then = term.find("then")
            for leaf in (then.children or []) if then is not None else []:
                if len(leaf.words) != 2 or leaf.words[0] not in ("count", "policer"):
                    continue
                if leaf.words[0] == "count":
                    counter = leaf.words[1] + suffix
                    packets, octets = self.counters.get(name, counter)
                    counters.append(
                        f"<counter><counter-name>{escape(counter)}</counter-name>"
                        f"<packet-count>{packets}</packet-count><byte-count>{octets}</byte-count></counter>"
                    )
                else:
                    policer = f"{leaf.words[1]}-{term.words[-1]}{suffix}"
                    packets, octets = self.policers.get(name, policer)
                    policers.append(
                        f"<policer><policer-name>{escape(policer)}</policer-name>"
                        f"<packet-count>{packets}</packet-count><byte-count>{octets}</byte-count></policer>"
                    )
        return (
            f"<filter-information><filter-name>{escape(name)}</filter-name>{''.join(counters)}{''.join(policers)}"
            "</filter-information>"
        )

    def _require_lock(self, sid: int) -> None:
        if self.lock_owner not in (None, sid):
            raise RpcFailed("configuration database locked by another session", tag="lock-denied")

    def _load(self, op: etree._Element) -> None:
        rollback = op.get("rollback")
        if rollback is not None:
            n = int(rollback)
            if n >= len(self.history):
                raise RpcFailed(f"rollback {n} does not exist", bad_element=rollback)
            self.candidate = copy.deepcopy(self.history[n].config)
            return
        action = op.get("action", "merge")
        text_el = op.find("configuration-text")
        set_el = op.find("configuration-set")
        source = text_el if text_el is not None else set_el
        if source is None:
            raise RpcFailed("only text and set formats are emulated", bad_element="configuration")
        text = source.text or ""
        for line in text.splitlines():
            if line.strip() and self.faults.rejects(line.strip()):
                raise RpcFailed("syntax error", bad_element=line.strip())
        work = copy.deepcopy(self.candidate)
        try:
            if action == "set" or set_el is not None:
                jt.load_set(work, text)
            elif action == "override":
                work = jt._clean(jt.parse(text))
            elif action in ("merge", "replace", "update"):
                jt.merge(work, jt.parse(text))
            else:
                raise RpcFailed(f"unsupported load action {action}", bad_element=action)
        except JunosSyntaxError as exc:
            raise RpcFailed(f"syntax error: {exc}", bad_element="configuration") from exc
        self.candidate = work

    def _get_configuration(self, op: etree._Element) -> str:
        if op.get("compare") == "rollback":
            n = int(op.get("rollback", "0"))
            if n >= len(self.history):
                raise RpcFailed(f"rollback {n} does not exist")
            text = jt.diff(self.history[n].config, self.candidate) or "\n"
            out = f"<configuration-output>{escape(text)}</configuration-output>"
            return f"<configuration-information>{out}</configuration-information>"
        cfg = self.candidate if op.get("database", "candidate") == "candidate" else self.history[0].config
        if op.get("format", "xml") not in ("text", "xml"):
            raise RpcFailed("only text format is emulated", bad_element=op.get("format", ""))
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.history[0].when))
        text = f"## Last commit: {stamp} by {self.history[0].user}\nversion {JUNOS_VERSION};\n" + jt.render(cfg)
        return f"<configuration-text>{escape(text)}</configuration-text>"

    def _commit(self, op: etree._Element) -> str:
        if op.find("check") is not None:
            engine = "<routing-engine><name>re0</name><commit-check-success/></routing-engine>"
            return f"<commit-results>{engine}</commit-results>"
        log_el = op.find("log")
        comment = log_el.text or "" if log_el is not None else ""
        confirmed = op.find("confirmed") is not None
        if self.confirm_timer is not None:
            # any commit confirms a pending commit confirmed
            self.confirm_timer.cancel()
            self.confirm_timer = None
        if confirmed:
            timeout_el = op.find("confirm-timeout")
            minutes = int(timeout_el.text or "10") if timeout_el is not None else 10
            comment = f"commit confirmed, rollback in {minutes}mins"
            self.confirm_minutes = minutes
        # like Junos, every commit (also a confirming one without changes) becomes rollback 0
        self.history.insert(0, Commit(copy.deepcopy(self.candidate), time.time(), self.username, comment))
        del self.history[50:]
        if confirmed:
            self.confirm_timer = RevertTimer(self.confirm_minutes * 60, self.timer_scale, self._expire)
            self.confirm_timer.start()
        return "<commit-results><routing-engine><name>re0</name><commit-success/></routing-engine></commit-results>"

    def _expire(self) -> None:
        with self.lock:
            if self.confirm_timer is None:
                return
            log.info("junos emulator %s: commit confirmed timed out, rolling back", self.hostname)
            self.confirm_timer = None
            previous = copy.deepcopy(self.history[1].config) if len(self.history) > 1 else self.history[0].config
            self.history.insert(0, Commit(previous, time.time(), "root", "automatic rollback"))
            self.candidate = copy.deepcopy(previous)

    def _revision_info(self) -> str:
        top = self.history[0]
        when = int(top.when)
        comment = f"<comment>{escape(top.comment)}</comment>" if top.comment else ""
        return (
            f'<commit-revision-information><date-time seconds="{when}">'
            f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(when))}</date-time>"
            f"<revision>re0-{when}-{len(self.history)}</revision>{comment}</commit-revision-information>"
        )


def _junos_duration(seconds: int) -> str:
    """A time length as Junos prints it (``1w2d 03:04``, ``00:05``).

    >>> _junos_duration(788_640), _junos_duration(300)
    ('1w2d 03:04', '00:05')
    """
    minutes, hours, days = seconds // 60 % 60, seconds // 3600 % 24, seconds // 86400
    weeks, days = divmod(days, 7)
    head = (f"{weeks}w" if weeks else "") + (f"{days}d" if days else "")
    return f"{head} {hours:02d}:{minutes:02d}".strip()


def _bound_filters(config: jt.JNode) -> dict[str, list[tuple[str, str]]]:
    """Filter name -> where it is bound: (``ge-0/0/1.100``, ``i``|``o``) for an interface unit, (``*``, ...) for a
    dynamic profile (every subscriber interface)."""
    out: dict[str, list[tuple[str, str]]] = {}

    def walk(node: jt.JNode, path: list[str]) -> None:
        for child in node.children or []:
            w = child.words
            if child.children is None and len(w) == 2 and w[0] in ("input", "output") and path[-1:] == ["filter"]:
                if path[:1] == ["dynamic-profiles"]:
                    ifl = "*"
                else:
                    units = [p for p in path if p.startswith("unit ")]
                    ifl = f"{path[1]}.{units[0].split()[1]}" if len(path) > 1 and units else ""
                if ifl:
                    out.setdefault(w[1], []).append((ifl, w[0][0]))
            elif child.children is not None:
                walk(child, [*path, child.header])

    walk(config, [])
    return out


def _differs(a: jt.JNode, b: jt.JNode) -> bool:
    return jt.render(a) != jt.render(b)


class _Reader:
    """Reads ``]]>]]>``-framed NETCONF 1.0 messages from a channel."""

    def __init__(self, chan: paramiko.Channel) -> None:
        self.chan = chan
        self.buf = b""

    def message(self) -> bytes | None:
        while EOM not in self.buf:
            data = self.chan.recv(65536)
            if not data:
                return None
            self.buf += data
        msg, _, self.buf = self.buf.partition(EOM)
        return msg.strip()


def _reply(mid: str, body: str) -> str:
    return (
        f'<rpc-reply xmlns="{NC_NS}" xmlns:junos="http://xml.juniper.net/junos/{JUNOS_VERSION}/junos" '
        f'message-id="{escape(mid)}">\n{body}\n</rpc-reply>'
    )


def _error_reply(mid: str, exc: RpcFailed) -> str:
    bad = f"<error-info><bad-element>{escape(exc.bad_element)}</bad-element></error-info>" if exc.bad_element else ""
    return _reply(
        mid,
        f"<rpc-error><error-type>protocol</error-type><error-tag>{exc.tag}</error-tag>"
        f"<error-severity>error</error-severity><error-message>{escape(exc.message)}</error-message>{bad}</rpc-error>",
    )


def default_config(hostname: str) -> str:
    """A small but realistic Junos config used when the test gives none."""
    return f"""system {{
    host-name {hostname};
    services {{
        ssh;
        netconf {{
            ssh;
        }}
    }}
}}
interfaces {{
    ge-0/0/1 {{
        unit 100 {{
            family inet {{
                address 192.0.2.13/24;
            }}
            family inet6 {{
                address 2001:db8::13/64;
            }}
        }}
    }}
}}
"""


EMULATOR = JunosEmulator
"""This platform's emulator (see :meth:`op25b_cfg.platforms.base.Platform.emulator`)."""
