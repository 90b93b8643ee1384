"""Arista EOS eAPI emulator: JSON-RPC ``runCmds`` over HTTP at ``/command-api``.

Implements what napalm's ``eos`` driver (pyeapi transport ``http``) sends: ``enable``, ``show version``,
``show hostname``, ``show configuration sessions [detail]``, ``configure session NAME`` with config lines
and ``rollback clean-config``, ``show session-config named NAME [diffs]``, ``configure session NAME
commit [timer hh:mm:ss]`` / ``abort``, ``copy startup-config flash:rollback-0``, ``configure replace
flash:FILE``, ``write memory``, ``copy running-config startup-config``, ``show running-config`` and
``show startup-config``. Errors come back as eAPI error objects (code 1002) like a real switch.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import functools
import hmac
import json
import logging
import re
import socket
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar

from op25b_cfg.dialects.cisco_blocks import CiscoStyleLab, CliConfig, ModeSession, acl_entries, shown_ace
from op25b_cfg.lab.emulators.base import LOOPBACK, AclCounters, EmulatorBase, RevertTimer
from op25b_cfg.lab.emulators.faults import EmulatorDropped, Faults

if TYPE_CHECKING:
    from op25b_cfg.intent_protocols import Device

log = logging.getLogger(__name__)

EOS_VERSION = "4.30.0F"
INDENT = "   "


class CommandFailed(Exception):
    """A command the device refuses; becomes an eAPI error object."""


@dataclass
class ConfigSessionState:
    """One EOS configuration session."""

    name: str
    config: CliConfig
    state: str = "pending"  # pending | pendingCommitTimer | completed | aborted
    before: CliConfig | None = None
    timer: RevertTimer | None = None


class EosEmulator(CiscoStyleLab, EmulatorBase):
    """An EOS switch reachable over eAPI (plain HTTP on a loopback port chosen at start)."""

    platform = "eos"
    indent = INDENT
    port_names: dict[str, str] = {"22": "ssh", "25": "smtp", "53": "domain", "80": "www", "443": "https"}
    """The ports ``show running-config`` prints by name."""
    prerequisites: ClassVar[tuple[str, ...]] = ("management api http-commands\n   protocol http\n   no shutdown",)
    """eAPI over plain HTTP, what the lab's napalm eos driver talks to."""

    @classmethod
    def default_config(cls, device: Device) -> str:
        return default_config(device.name)

    @classmethod
    def lab_optional_args(cls) -> dict[str, object]:
        return {"transport": "http"}  # the emulator speaks eAPI over plain HTTP (no certificate)

    def __init__(self, initial_config: str = "", *, hostname: str = "edge-eos1", **kwargs: Any) -> None:
        super().__init__(initial_config, hostname=hostname, **kwargs)
        # what `show running-config` prints
        self.display = functools.partial(shown_ace, port_names=self.port_names)
        self.running = CliConfig(initial_config or default_config(hostname), INDENT, self.display)
        self.startup = self.running.render()
        self.counters = AclCounters()
        """Per-entry match counters, shown in ``show ip|ipv6 access-lists`` (ACLs with ``counters per-entry``)."""
        self.flash: dict[str, str] = {}
        self.sessions: dict[str, ConfigSessionState] = {}
        self._server: ThreadingHTTPServer | None = None

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        emu = self

        class Handler(EapiHandler):
            emulator = emu

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.spawn(self._server.serve_forever, "http")
        log.debug("eos emulator %s listening on %s:%d", self.hostname, self.host, self.port)

    def stop(self) -> None:
        self.stop_event.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.lock:
            for sess in self.sessions.values():
                if sess.timer is not None:
                    sess.timer.cancel()
        self.join_threads()

    # -- public state -----------------------------------------------------------------------------------
    @property
    def running_config(self) -> str:
        with self.lock:
            return self.running.render()

    def napalm_optional_args(self) -> dict[str, object]:
        """``optional_args`` for ``napalm.get_network_driver("eos")`` to reach this emulator."""
        return {"transport": "http", "port": self.port}

    def pending_commit(self) -> bool:
        with self.lock:
            return any(s.state == "pendingCommitTimer" for s in self.sessions.values())

    # -- command execution ------------------------------------------------------------------------------
    def phase_of(self, cmds: list[str]) -> str | None:
        """Which push phase a runCmds request belongs to (for fault injection)."""
        real = [c for c in cmds if c != "enable"]
        for cmd in real:
            m = re.match(r"^configure session (\S+) commit( timer .*)?$", cmd)
            if m:
                sess = self.sessions.get(m.group(1))
                if m.group(2) is None and sess is not None and sess.state == "pendingCommitTimer":
                    return "confirm"
                return "commit"
        if real and real[0].startswith("configure session") and len(real) > 2:
            return "load"
        if real == ["show version"]:
            return "open"
        return None

    def run_cmds(self, cmds: list[Any], fmt: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Run a runCmds request. Returns (results, error); a failing command stops the rest."""
        results: list[dict[str, Any]] = []
        mode: ModeSession | None = None
        session: ConfigSessionState | None = None
        texts = [c["cmd"] if isinstance(c, dict) else str(c) for c in cmds]
        for index, cmd in enumerate(texts):
            self.record(cmd)
            try:
                out, mode, session = self._one(cmd.strip(), fmt, mode, session)
            except CommandFailed as exc:
                err = str(exc)
                results.append({"errors": [err]})
                message = f"CLI command {index + 1} of {len(texts)} '{cmd}' failed: invalid command"
                return results, {"code": 1002, "message": message, "data": results}
            results.append(out)
        return results, None

    def _text(self, fmt: str, text: str) -> dict[str, Any]:
        return {"output": text} if fmt == "text" else {}

    def _one(
        self, cmd: str, fmt: str, mode: ModeSession | None, session: ConfigSessionState | None
    ) -> tuple[dict[str, Any], ModeSession | None, ConfigSessionState | None]:
        with self.lock:
            if mode is not None:
                return self._config_line(cmd, fmt, mode, session)
            if cmd in ("enable", ""):
                return {}, None, None
            m = re.match(r"^configure session (\S+)(?: (commit(?: timer (\d+):(\d+):(\d+))?|abort))?$", cmd)
            if m:
                name, action = m.group(1), m.group(2)
                if action is None:
                    sess = self.sessions.get(name)
                    if sess is None or sess.state in ("completed", "aborted"):
                        sess = ConfigSessionState(name, self.running.copy())
                        self.sessions[name] = sess
                    if sess.state != "pending":
                        raise CommandFailed(f"Cannot enter session {name} (state {sess.state})")
                    return {}, sess.config.session(), sess
                if action == "abort":
                    self._abort(name)
                    return self._text(fmt, ""), None, None
                timer = None
                if m.group(3) is not None:
                    timer = int(m.group(3)) * 3600 + int(m.group(4)) * 60 + int(m.group(5))
                self._commit(name, timer)
                return self._text(fmt, ""), None, None
            if cmd in ("configure", "configure terminal"):
                return {}, self.running.session(), None
            return self._show_or_exec(cmd, fmt), None, None

    def _config_line(
        self, cmd: str, fmt: str, mode: ModeSession, session: ConfigSessionState | None
    ) -> tuple[dict[str, Any], ModeSession | None, ConfigSessionState | None]:
        if cmd == "end":
            return {}, None, None
        if cmd == "rollback clean-config":
            if session is None:
                raise CommandFailed("rollback clean-config is only valid in a configuration session")
            session.config = CliConfig("", INDENT, self.display)
            return {}, session.config.session(), session
        if cmd.startswith("show "):
            return self._show_or_exec(cmd, fmt), mode, session
        if self.faults.rejects(cmd):
            raise CommandFailed(f"Invalid input (at token 0: '{cmd.split()[0]}')")
        mode.apply(cmd)
        return {}, mode, session

    def _commit(self, name: str, timer: int | None) -> None:
        sess = self.sessions.get(name)
        if sess is None:
            raise CommandFailed(f"% Session {name} does not exist")
        if sess.state == "pendingCommitTimer" and timer is None:
            # the confirming commit
            if sess.timer is not None:
                sess.timer.cancel()
            sess.state = "completed"
            sess.timer = None
            return
        if sess.state != "pending":
            raise CommandFailed(f"% Cannot commit session {name} in state {sess.state}")
        sess.before = self.running.copy()
        self.running = sess.config.copy()
        if timer is None:
            sess.state = "completed"
            return
        sess.state = "pendingCommitTimer"
        sess.timer = RevertTimer(timer, self.timer_scale, lambda: self._expire(name))
        sess.timer.start()

    def _expire(self, name: str) -> None:
        with self.lock:
            sess = self.sessions.get(name)
            if sess is None or sess.state != "pendingCommitTimer" or sess.before is None:
                return
            log.info("eos emulator %s: commit timer of session %s expired, reverting", self.hostname, name)
            self.running = sess.before
            sess.state = "aborted"
            sess.timer = None

    def _abort(self, name: str) -> None:
        sess = self.sessions.get(name)
        if sess is None:
            raise CommandFailed(f"% Session {name} does not exist")
        if sess.state == "pendingCommitTimer" and sess.before is not None:
            if sess.timer is not None:
                sess.timer.cancel()
            self.running = sess.before
        sess.state = "aborted"
        sess.timer = None
        del self.sessions[name]

    def _sessions_json(self, detail: bool) -> dict[str, Any]:
        uptime = time.time() - self.booted
        out: dict[str, Any] = {}
        for name, sess in self.sessions.items():
            entry: dict[str, Any] = {"state": sess.state, "commitUser": "", "description": "", "instances": {}}
            if detail and sess.state == "pendingCommitTimer" and sess.timer is not None:
                entry["commitBy"] = uptime + sess.timer.remaining()
            out[name] = entry
        return {"sessions": out, "maxSavedSessions": 1, "maxOpenSessions": 5}

    def _show_or_exec(self, cmd: str, fmt: str) -> dict[str, Any]:
        if cmd == "show version":
            if fmt == "text":
                return {"output": f"Arista vEOS-lab\nSoftware image version: {EOS_VERSION}\n"}
            return {
                "modelName": "vEOS-lab",
                "internalVersion": f"{EOS_VERSION}-op25b-emulator",
                "version": EOS_VERSION,
                "serialNumber": f"EMU{self.port}",
                "systemMacAddress": "00:1c:73:00:00:01",
                "architecture": "x86_64",
                "memTotal": 2_000_000,
                "memFree": 1_000_000,
                "uptime": time.time() - self.booted,
                "bootupTimestamp": self.booted,
                "isIntlVersion": False,
            }
        if cmd == "show hostname":
            return {"hostname": self.hostname, "fqdn": self.hostname}
        if cmd == "show interfaces":
            return {"interfaces": {}}
        if cmd in ("show configuration sessions", "show configuration sessions detail"):
            return self._sessions_json(cmd.endswith("detail"))
        m = re.match(r"^show (ip|ipv6) access-lists(?: (\S+))?$", cmd)
        if m:
            return self._access_lists(4 if m.group(1) == "ip" else 6, m.group(2))
        m = re.match(r"^show running-config( all)?( sanitized)?$", cmd)
        if m:
            return {"output": self._show_running(self.running)}
        if cmd == "show startup-config":
            return {"output": self.startup}
        m = re.match(r"^show session-config named (\S+)( diffs)?$", cmd)
        if m:
            sess = self.sessions.get(m.group(1))
            if sess is None:
                raise CommandFailed(f"% Session {m.group(1)} does not exist")
            if m.group(2):
                return {"output": self._diff(sess)}
            return {"output": self._show_running(sess.config)}
        if cmd in ("write memory", "write", "copy running-config startup-config"):
            self.startup = self.running.render()
            return self._text(fmt, "Copy completed successfully.\n")
        m = re.match(r"^copy (startup-config|running-config) flash:(\S+)$", cmd)
        if m:
            self.flash[m.group(2)] = self.startup if m.group(1) == "startup-config" else self.running.render()
            return self._text(fmt, "Copy completed successfully.\n")
        m = re.match(r"^configure replace flash:(\S+)$", cmd)
        if m:
            if m.group(1) not in self.flash:
                raise CommandFailed(f"% Error opening flash:{m.group(1)} (No such file or directory)")
            self.running = CliConfig(self.flash[m.group(1)], INDENT, self.display)
            return self._text(fmt, "")
        raise CommandFailed(f"Invalid input (at token 0: '{cmd.split()[0] if cmd else cmd}')")

    def _access_lists(self, family: int, name: str | None) -> dict[str, Any]:
        """``show ip|ipv6 access-lists`` as eAPI JSON: ``{"aclList": [{"name", "sequence": [{"sequenceNumber",
        "text", "counterData": {"packetCount", "byteCount", ...}}], "countersEnabled", ...}]}``. Entries of an
        ACL without ``counters per-entry`` carry no ``counterData`` (EOS does not count them)."""
        acls = []
        for fam, acl, entries in acl_entries(self.running.root):
            if fam != family or (name is not None and acl != name):
                continue
            node = self.running.root.find(f"{'ip' if fam == 4 else 'ipv6'} access-list {acl}")
            counting = node is not None and any(c.text == "counters per-entry" for c in node.children)
            seqs = []
            for seq, text in entries:
                entry: dict[str, Any] = {"sequenceNumber": seq, "text": self.display(text)}
                if counting:
                    packets, octets = self.counters.get(acl, seq)
                    entry["counterData"] = {
                        "packetCount": packets,
                        "byteCount": octets,
                        "checkpointPacketCount": 0,
                        "checkpointByteCount": 0,
                        "lastChangedTime": 0.0,
                    }
                seqs.append(entry)
            acls.append(
                {
                    "name": acl,
                    "type": "Ip4Acl" if fam == 4 else "Ip6Acl",
                    "standard": False,
                    "readonly": False,
                    "dynamic": False,
                    "countersEnabled": counting,
                    "countersIncomplete": False,
                    "chipBasedAcl": False,
                    "sequence": seqs,
                }
            )
        return {"aclList": acls}

    def _show_running(self, cfg: CliConfig) -> str:
        head = f"! Command: show running-config\n! device: {self.hostname} (vEOS-lab, EOS-{EOS_VERSION})\n!\n"
        return head + cfg.render() + "end\n"

    def _diff(self, sess: ConfigSessionState) -> str:
        old = self._show_running(self.running).splitlines()
        new = self._show_running(sess.config).splitlines()
        lines = difflib.unified_diff(
            old, new, fromfile="system:/running-config", tofile=f"session:/{sess.name}-session-config", lineterm=""
        )
        return "\n".join(lines) + "\n"


class EapiHandler(BaseHTTPRequestHandler):
    """HTTP request handler: authentication, JSON-RPC decoding, fault injection."""

    emulator: EosEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("eapi: " + format, *args)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        emu = self.emulator
        if emu.faults.wrong_password:
            return False
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return hmac.compare_digest(user, emu.username) and hmac.compare_digest(password, emu.password)

    def do_POST(self) -> None:
        emu = self.emulator
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/command-api":
            self._reply(404, {"error": "not found"})
            return
        if not self._authorized():
            self._reply(401, {"error": "Unable to authenticate user: Bad username/password combination"})
            return
        try:
            req = json.loads(raw)
            params = req["params"]
            cmds = list(params["cmds"])
            fmt = params.get("format") or "json"
        except (ValueError, KeyError, TypeError):
            self._reply(200, {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}})
            return
        texts = [c["cmd"] if isinstance(c, dict) else str(c) for c in cmds]
        phase = emu.phase_of(texts)
        try:
            if phase is not None:
                emu.faults.strike(phase, emu.stop_event, applied=False)
            try:
                results, error = emu.run_cmds(cmds, fmt)
            except Exception as exc:  # an emulator bug must not look like a network fault
                log.exception("eos emulator %s: internal error", emu.hostname)
                results, error = [], {"code": 1000, "message": f"internal error: {type(exc).__name__}", "data": []}
            if phase is not None:
                emu.faults.strike(phase, emu.stop_event, applied=True)
        except EmulatorDropped:
            log.info("eos emulator %s: dropping the connection (%s)", emu.hostname, phase)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if error is not None:
            self._reply(200, {"jsonrpc": "2.0", "id": req.get("id"), "error": error})
        else:
            self._reply(200, {"jsonrpc": "2.0", "id": req.get("id"), "result": results})


def default_config(hostname: str) -> str:
    """A small but realistic EOS running config used when the test gives none."""
    return f"""hostname {hostname}
!
username admin privilege 15 role network-admin secret sha512 $6$emulator$
!
interface Ethernet1
   description subscriber aggregation
   no switchport
   ip address 192.0.2.1/24
!
interface Management1
   ip address 192.0.2.254/24
!
ip routing
!
management api http-commands
   protocol http
   no shutdown
!
"""


__all__ = ["EosEmulator", "Faults", "default_config"]


EMULATOR = EosEmulator
"""This platform's emulator (see :meth:`op25b_cfg.platforms.base.Platform.emulator`)."""
