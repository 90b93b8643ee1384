"""Cisco IOS / IOS-XE SSH CLI emulator with an SCP sink, the archive feature and ``configure replace``.

Speaks what napalm's ``ios`` driver sends through netmiko (``cisco_ios``): an echoing interactive shell
with ``host#`` / ``host(config)#`` / ``host(config-ext-nacl)#`` prompts, ``terminal length 0``,
``terminal width 511``, ``show running-config [| include X]``, ``show startup-config``, ``dir``,
``verify /md5``, ``more``, ``copy`` (file -> running-config merges the file line by line, running-config
-> file, ``null:`` -> file, running-config -> startup-config), ``write memory``, ``show archive``,
``show archive config rollback timer``, ``show archive config incremental-diffs <file> ignorecase``,
``show archive config differences``, ``configure terminal [revert timer N]``, ``configure confirm``,
``configure revert now``, ``configure replace <file> force [revert trigger error] [timer N]``, and the
``scp -t <fs>:/<file>`` sink netmiko's ``FileTransfer`` uses on a second SSH connection.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import logging
import re
import shlex
import time
from typing import TYPE_CHECKING, Any, ClassVar

import paramiko

from op25b_cfg.dialects.cisco_blocks import CiscoStyleLab, CliConfig, ModeSession, acl_entries, missing_lines, shown_ace
from op25b_cfg.lab.emulators.base import AclCounters, RevertTimer
from op25b_cfg.lab.emulators.sshserver import CliShell, SshEmulator, output_filter

if TYPE_CHECKING:
    from op25b_cfg.intent_protocols import Device

log = logging.getLogger(__name__)

FS = "flash:"
FLASH_SIZE = 8_000_000_000
INVALID = "% Invalid input detected at '^' marker."
ROLLBACK_FILE = "rollback_config.txt"


def _norm(path: str) -> str | None:
    """``flash:x``, ``flash:/x``, ``bootflash:/x`` -> ``x``; ``None`` for other file systems."""
    m = re.match(r"^(?:flash|bootflash):/?(.*)$", path)
    return m.group(1) if m else None


class IosEmulator(CiscoStyleLab, SshEmulator):
    """A Cisco IOS-XE router reachable over SSH (CLI + SCP) on 127.0.0.1:<port>."""

    platform = "ios"
    channel_kinds = frozenset({"shell", "exec"})
    upper_ipv6 = True
    port_names: dict[str, str] = {
        "20": "ftp-data",
        "21": "ftp",
        "23": "telnet",
        "25": "smtp",
        "53": "domain",
        "80": "www",
        "110": "pop3",
    }
    """The ports ``show running-config`` prints by name."""
    """IOS prints IPv6 addresses in upper case."""
    prerequisites: ClassVar[tuple[str, ...]] = ("archive\n path flash:archive\n maximum 10", "ip scp server enable")
    """What napalm's ios driver needs on the device (config archive, SCP), added where missing."""

    @classmethod
    def default_config(cls, device: Device) -> str:
        """:func:`default_config`; a filter on a Virtual-Template only protects subscribers when a PPPoE
        bba-group uses it, so one is added per attached Virtual-Template."""
        vts = [a.name for a in device.attach if a.kind == "virtual-template"]
        groups = "".join(
            f"bba-group pppoe global\n virtual-template {v.removeprefix('Virtual-Template')}\n!\n" for v in vts
        )
        return default_config(device.name).replace("ip scp server enable\n", groups + "ip scp server enable\n")

    @classmethod
    def lab_optional_args(cls) -> dict[str, object]:
        return {"dest_file_system": FS}  # where napalm copies candidate files (SCP)

    def __init__(self, initial_config: str = "", *, hostname: str = "bras-ios1", **kwargs: Any) -> None:
        super().__init__(initial_config, hostname=hostname, **kwargs)
        self.display = functools.partial(
            shown_ace, port_names=self.port_names, upper_ipv6=self.upper_ipv6
        )  # what `show running` prints
        self.running = CliConfig(initial_config or default_config(hostname), " ", self.display)
        self.startup = self.running.render()
        self.files: dict[str, bytes] = {}
        self.revert_timer: RevertTimer | None = None
        self.revert_snapshot: CliConfig | None = None
        self.revert_user = ""
        self.revert_started = 0.0
        self.last_change = time.time()
        self.counters = AclCounters()
        """Per-entry match counters, shown by ``show ip access-lists`` / ``show ipv6 access-list``."""
        self.subscribers: dict[str, str] = {}
        """The PPPoE sessions that are up: Virtual-Access name -> the Virtual-Template it was cloned from (with
        that template's service-policy)."""
        self.police = AclCounters()
        """Police counts by (interface, ``conformed`` | ``exceeded``), shown by ``show policy-map interface``."""

    # -- public state -----------------------------------------------------------------------------------
    @property
    def running_config(self) -> str:
        with self.lock:
            return self.running.render()

    def reload(self) -> None:
        """Counters cleared, uptime from zero, and every PPPoE session (Virtual-Access) gone."""
        with self.lock:
            super().reload()
            self.subscribers.clear()

    def pending_commit(self) -> bool:
        with self.lock:
            return self.revert_timer is not None

    def napalm_optional_args(self) -> dict[str, object]:
        """``optional_args`` for ``napalm.get_network_driver("ios")`` (host keys not checked).

        For strict host-key checking add ``ssh_strict=True``, ``system_host_keys=False``,
        ``alt_host_keys=True``, ``alt_key_file=<known_hosts with :meth:`known_hosts_line`>``.
        """
        return {"port": self.port, "dest_file_system": FS, "ssh_strict": False, "fast_cli": True}

    def on_stop(self) -> None:
        with self.lock:
            if self.revert_timer is not None:
                self.revert_timer.cancel()

    @property
    def prompt_base(self) -> str:
        """The prompt without its ``#`` (IOS-XR prefixes the route processor)."""
        return self.hostname

    @property
    def archive_enabled(self) -> bool:
        with self.lock:
            node = self.running.root.find("archive")
            return node is not None and node.text == "archive" and node.find("path x") is not None

    # -- channels ---------------------------------------------------------------------------------------
    def handle_channel(self, kind: str, chan: paramiko.Channel, arg: str) -> None:
        if kind == "exec":
            self._exec(chan, arg)
        else:
            self.shell_class(self, chan).run()

    @property
    def shell_class(self) -> type[_Shell]:
        return _Shell

    def _exec(self, chan: paramiko.Channel, command: str) -> None:
        self.record(command)
        words = shlex.split(command)
        if len(words) >= 3 and words[0] == "scp" and "-t" in words:
            name = _norm(words[-1])
            if name is None:
                chan.sendall(b"\x01scp: invalid file system\n")
                chan.send_exit_status(1)
                return
            phase = None if name == ROLLBACK_FILE else "load"
            if phase:
                self.faults.strike(phase, self.stop_event, applied=False)
            data = _scp_sink(chan)
            if data is not None:
                with self.lock:
                    self.files[name] = data
            if phase:
                self.faults.strike(phase, self.stop_event, applied=True)
            chan.send_exit_status(0 if data is not None else 1)
            return
        chan.sendall(f"{INVALID}\r\n".encode())
        chan.send_exit_status(1)

    # -- configuration operations -----------------------------------------------------------------------
    def start_revert_timer(self, minutes: int) -> None:
        self.revert_snapshot = self.running.copy()
        self.revert_user = self.username
        self.revert_started = time.time()
        self.revert_timer = RevertTimer(minutes * 60, self.timer_scale, self._expire)
        self.revert_timer.start()

    def _expire(self) -> None:
        with self.lock:
            if self.revert_timer is None or self.revert_snapshot is None:
                return
            log.info("ios emulator %s: rollback confirmed change timer expired, reverting", self.hostname)
            self.running = self.revert_snapshot
            self._clear_timer()

    def _clear_timer(self) -> None:
        if self.revert_timer is not None:
            self.revert_timer.cancel()
        self.revert_timer = None
        self.revert_snapshot = None

    def file_text(self, name: str) -> str | None:
        data = self.files.get(name)
        return data.decode(errors="replace") if data is not None else None

    def merge_file(self, text: str) -> list[str]:
        """``copy <file> running-config``: apply line by line; returns error lines (IOS keeps going)."""
        errors: list[str] = []
        mode = self.running.session()
        for raw in text.splitlines():
            stripped = raw.strip()
            if stripped == "end":
                break
            if stripped and not stripped.startswith("!") and self.faults.rejects(stripped):
                errors.extend([stripped, "^", INVALID])
                continue
            mode.apply(raw)
        self.last_change = time.time()
        return errors


class _Shell(CliShell["IosEmulator"]):
    """One interactive CLI session."""

    def __init__(self, emu: IosEmulator, chan: paramiko.Channel) -> None:
        super().__init__(emu, chan)
        self.mode: ModeSession | None = None

    @property
    def prompt(self) -> str:
        host = self.emu.prompt_base
        if self.mode is None:
            return f"{host}#"
        return f"{host}({self.mode.mode})#"

    def respond(self, line: str) -> tuple[str, bool]:
        if self.mode is not None:
            return self.config_line(line), True
        cmd = line.strip()
        if cmd in ("exit", "logout", "quit"):
            return "", False
        return self.exec_line(cmd), True

    def phase(self, cmd: str) -> str | None:
        m = re.match(r"^copy (\S+) running-config$", cmd)
        if m and _norm(m.group(1)) not in (None, ROLLBACK_FILE):
            return "commit"
        m = re.match(r"^configure replace (\S+)", cmd)
        if m and _norm(m.group(1)) != ROLLBACK_FILE:
            return "commit"
        if cmd == "configure confirm":
            return "confirm"
        return None

    def config_line(self, line: str) -> str:
        assert self.mode is not None
        cmd = line.strip()
        if cmd == "end" or (cmd == "exit" and not self.mode.stack):
            self.mode = None
            return ""
        if cmd.startswith("do "):
            return self.exec_line(cmd[3:])
        if cmd and not cmd.startswith("!") and self.emu.faults.rejects(cmd):
            return f"{' ' * (len(self.prompt) + 1)}^\n{INVALID}"
        self.mode.apply(line)
        self.emu.last_change = time.time()
        return ""

    def exec_line(self, cmd: str) -> str:
        emu = self.emu
        if not cmd or cmd.startswith(("terminal ", "enable")):
            return ""
        cmd, _, pipe = cmd.partition(" | ")
        cmd = cmd.strip()
        m = re.match(r"^conf(?:igure)?(?: t(?:erminal)?)?(?: revert timer (\d+))?$", cmd)
        if m and cmd.startswith("conf") and not cmd.startswith("configure replace"):
            if m.group(1):
                if not emu.archive_enabled:
                    return "%Please turn config archive on (archive path) before using the rollback confirmed change"
                emu.start_revert_timer(int(m.group(1)))
            self.mode = emu.running.session()
            return "Enter configuration commands, one per line.  End with CNTL/Z."
        if cmd in ("show running-config", "show run", "show startup-config"):
            text = emu.running.render() if "run" in cmd else emu.startup
            return output_filter(self._show_run(text), pipe)
        m = re.match(r"^show (?:(ip|ipv6) )?access-lists?(?: (\S+))?$", cmd)
        if m:
            family = {"ip": 4, "ipv6": 6}.get(m.group(1) or "")
            return output_filter(show_access_lists(emu, family, m.group(2)), pipe)
        m = re.match(r"^show policy-map interface(?: (\S+))?$", cmd)
        if m:
            return output_filter(show_policy_map_interface(emu, m.group(1)), pipe)
        if cmd == "show version":
            return f"Cisco IOS XE Software, Version 17.09.04a\n{emu.hostname} uptime is {ios_uptime(emu.uptime)}\n"
        if cmd == "show archive":
            if not emu.archive_enabled:
                return "Archive feature not enabled"
            return (
                "The maximum archive configurations allowed is 10.\n"
                "The next archive file will be named flash:/archive-1\n Archive #  Name\n"
            )
        if cmd == "show archive config rollback timer":
            if emu.revert_timer is None:
                return "%No Rollback Confirmed Change pending"
            stamp = time.strftime("%H:%M:%S UTC %a %b %d %Y", time.gmtime(emu.revert_started))
            minutes = int(emu.revert_timer.seconds // 60)
            return (
                f"Time configured(or reset): {stamp}\nTimer type: absolute\n"
                f"Timer value: {minutes} min\nUser: {emu.revert_user}"
            )
        m = re.match(r"^show archive config incremental-diffs (\S+)(?: ignorecase)?$", cmd)
        if m:
            merge = emu.file_text(_norm(m.group(1)) or "")
            if merge is None:
                return f"%Error opening {m.group(1)} (No such file or directory)"
            # like the real device: the file's lines as typed against the running config as printed (textual)
            lines = missing_lines(emu.running, CliConfig(merge, " "))
            if not lines:
                return "!List of Commands:\nend\n!No changes were found"
            return "!List of Commands:\n" + "\n".join(lines) + "\nend"
        m = re.match(r"^show archive config differences (\S+) (\S+)$", cmd)
        if m:
            return self._differences(m.group(1), m.group(2))
        m = re.match(r"^dir(?: (\S+))?$", cmd)
        if m:
            return self._dir(m.group(1) or FS)
        m = re.match(r"^verify /md5 (\S+)$", cmd)
        if m:
            data = emu.files.get(_norm(m.group(1)) or "")
            if data is None:
                return f"%Error opening {m.group(1)} (No such file or directory)"
            digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
            return f".....Done!\nverify /md5 ({m.group(1)}) = {digest}"
        m = re.match(r"^more (\S+)$", cmd)
        if m:
            content = emu.file_text(_norm(m.group(1)) or "")
            return content if content is not None else f"%Error opening {m.group(1)} (No such file or directory)"
        m = re.match(r"^copy (\S+) (\S+)$", cmd)
        if m:
            return self._copy(m.group(1), m.group(2))
        if cmd in ("write memory", "write mem", "write"):
            emu.startup = emu.running.render()
            return "Building configuration...\n[OK]"
        m = re.match(r"^configure replace (\S+) force( revert trigger error)?(?: (?:revert )?timer (\d+))?$", cmd)
        if m:
            return self._replace(m.group(1), m.group(3))
        if cmd == "configure confirm":
            emu._clear_timer()
            return ""
        if cmd == "configure revert now":
            if emu.revert_snapshot is not None:
                emu.running = emu.revert_snapshot
            emu._clear_timer()
            return "Rollback Done"
        return f"{' ' * (len(self.prompt) + 1)}^\n{INVALID}"

    def _show_run(self, body: str) -> str:
        stamp = time.strftime("%H:%M:%S UTC %a %b %d %Y", time.gmtime(self.emu.last_change))
        head = (
            f"Building configuration...\n\nCurrent configuration : {len(body)} bytes\n!\n"
            f"! Last configuration change at {stamp}\n!\n"
        )
        return head + body + "end"

    def _dir(self, path: str) -> str:
        emu = self.emu
        name = _norm(path)
        if name is None:
            return f"%Error opening {path} (Invalid argument)"
        total_used = sum(len(v) for v in emu.files.values())
        tail = f"\n{FLASH_SIZE} bytes total ({FLASH_SIZE - total_used} bytes free)"
        if name:
            data = emu.files.get(name)
            if data is None:
                return f"%Error opening {path} (No such file or directory)"
            return (
                f"Directory of {FS}/{name}\n\n   33  -rw-  {len(data):>10}  Jan 1 2024 00:00:00 +00:00  {name}\n{tail}"
            )
        rows = [
            f"{i + 10:>5}  -rw-  {len(data):>10}  Jan 1 2024 00:00:00 +00:00  {n}"
            for i, (n, data) in enumerate(sorted(emu.files.items()))
        ]
        return f"Directory of {FS}/\n\n" + "\n".join(rows) + "\n" + tail

    def _copy(self, src: str, dst: str) -> str:
        emu = self.emu
        if dst == "running-config":
            text = emu.file_text(_norm(src) or "")
            if text is None:
                return f"%Error opening {src} (No such file or directory)"
            errors = emu.merge_file(text)
            return "\n".join([*errors, f"{len(text)} bytes copied in 0.052 secs"])
        if src == "running-config" and dst in ("startup-config", "nvram:startup-config"):
            emu.startup = emu.running.render()
            return "Building configuration...\n[OK]"
        name = _norm(dst)
        if name is None:
            return f"%Error opening {dst} (Invalid argument)"
        if src == "running-config":
            emu.files[name] = emu.running.render().encode()
        elif src == "startup-config":
            emu.files[name] = emu.startup.encode()
        elif src == "null:":
            emu.files[name] = b""
        else:
            data = emu.files.get(_norm(src) or "")
            if data is None:
                return f"%Error opening {src} (No such file or directory)"
            emu.files[name] = data
        return f"{len(emu.files[name])} bytes copied in 0.021 secs"

    def _replace(self, path: str, timer: str | None) -> str:
        emu = self.emu
        text = emu.file_text(_norm(path) or "")
        if text is None:
            return f"%Error opening {path} (No such file or directory)"
        bad = [ln.strip() for ln in text.splitlines() if ln.strip() and emu.faults.rejects(ln.strip())]
        if bad:
            return f"Failed to apply command {bad[0]}\nThe original configuration has been successfully restored."
        if timer:
            if not emu.archive_enabled:
                return "%Please turn config archive on"
            emu.start_revert_timer(int(timer))
        emu.running = CliConfig(text, " ", emu.display)
        emu.last_change = time.time()
        return "Total number of passes: 1\nRollback Done"

    def _differences(self, a: str, b: str) -> str:
        emu = self.emu

        def load(path: str) -> str | None:
            if path in ("system:running-config", "running-config", "system:/running-config"):
                return emu.running.render()
            return emu.file_text(_norm(path) or "")

        old, new = load(a), load(b)
        if old is None or new is None:
            return f"%Error opening {a if old is None else b} (No such file or directory)"
        o, n = (CliConfig(t, " ", emu.display).render().splitlines() for t in (old, new))
        lines = [ln for ln in difflib.ndiff(o, n) if ln[:1] in "+-" and ln[2:].strip() != "!"]
        if not lines:
            return "!Contextual Config Diffs:\n!No changes were found"
        return "!Contextual Config Diffs:\n" + "\n".join(ln[0] + ln[2:] for ln in lines)


def show_access_lists(emu: IosEmulator, family: int | None, name: str | None = None) -> str:
    """``show ip access-lists`` (family 4), ``show ipv6 access-list`` (6) or ``show access-lists`` (both) as
    IOS-XE prints them: entries as the running config shows them, a match count only once an entry matched,
    IPv6 entries with their number at the end::

        Extended IP access list OP25B-V4-1a2b3c4d
            10 permit tcp 100.64.200.0 0.0.0.255 any eq smtp (12 matches)
        IPv6 access list OP25B-V6-1a2b3c4d
            permit tcp 2001:DB8:8000::/33 any eq smtp (3 matches) sequence 10
    """
    out = []
    with emu.lock:
        acls = acl_entries(emu.running.root)
    for fam, acl, entries in acls:
        if (family is not None and fam != family) or (name is not None and acl != name):
            continue
        out.append(f"Extended IP access list {acl}" if fam == 4 else f"IPv6 access list {acl}")
        for seq, text in entries:
            packets, _ = emu.counters.get(acl, seq)
            count = f" ({packets} match{'' if packets == 1 else 'es'})" if packets else ""
            shown = emu.display(text)
            out.append(f"    {seq} {shown}{count}" if fam == 4 else f"    {shown}{count} sequence {seq}")
    return "\n".join(out) + "\n" if out else ""


def show_policy_map_interface(emu: IosEmulator, only: str | None = None) -> str:
    """``show policy-map interface`` as IOS-XE prints it for op25b's policy (a policed class, then
    class-default): every interface whose config carries a ``service-policy``, and every subscriber's
    Virtual-Access with its template's (the template itself passes no traffic and is not shown); the police
    counts from :attr:`IosEmulator.police` (see :mod:`op25b_cfg.platforms.cisco_ios.counters`)."""
    with emu.lock:
        root = emu.running.root
        bound: dict[str, list[tuple[str, str]]] = {}
        for node in root.children:
            if node.text.startswith("interface "):
                for child in node.children:
                    m = re.match(r"^service-policy (input|output) (\S+)$", child.text)
                    if m:
                        bound.setdefault(node.text.split()[1], []).append((m.group(1), m.group(2)))
        shown = [(i, p) for i, p in bound.items() if not i.startswith("Virtual-Template")]
        shown += [(va, bound[vt]) for va, vt in sorted(emu.subscribers.items()) if vt in bound]
        out = []
        for interface, policies in shown:
            if only is not None and interface != only:
                continue
            out.append(f" {interface} \n")
            for direction, policy in policies:
                out.append(f"  Service-policy {direction}: {policy}\n")
                pm = root.find(f"policy-map {policy}")
                for klass in pm.children if pm is not None else []:
                    name = klass.text.removeprefix("class ")
                    cm = root.find(f"class-map match-any {name}")
                    conf, conf_b = emu.police.get(interface, "conformed")
                    exc, exc_b = emu.police.get(interface, "exceeded")
                    out.append(f"    Class-map: {name} (match-any)  ")
                    out.append(f"      {conf + exc} packets, {conf_b + exc_b} bytes")
                    out.append("      5 minute offered rate 0000 bps, drop rate 0000 bps")
                    for match in cm.children if cm is not None else []:
                        out.append(f"      {match.text.replace('match ', 'Match: ', 1)}")
                    for action in klass.children:
                        m = re.match(r"^police rate (\d+) pps burst (\d+) packets$", action.text)
                        if m is None:
                            continue
                        acts = {c.text.split()[0]: c.text.split()[1] for c in action.children}
                        out.append("      police:")
                        out.append(f"          rate {m.group(1)} pps, burst {m.group(2)} packets")
                        out.append(f"        conformed {conf} packets, {conf_b} bytes; actions:")
                        out.append(f"          {acts.get('conform-action', 'transmit')} ")
                        out.append(f"        exceeded {exc} packets, {exc_b} bytes; actions:")
                        out.append(f"          {acts.get('exceed-action', 'drop')} ")
                        out.append("        conformed 0 pps, exceeded 0 pps")
                    out.append("")
                out.append("    Class-map: class-default (match-any)  ")
                out.append("      0 packets, 0 bytes")
                out.append("      5 minute offered rate 0000 bps, drop rate 0000 bps")
                out.append("      Match: any ")
                out.append("")
    return "\n".join(out) + "\n" if out else ""


def ios_uptime(seconds: float) -> str:
    """An uptime as ``show version`` prints it (to the minute; zero parts left out, "0 minutes" shown).

    >>> ios_uptime(694_861), ios_uptime(30)
    ('1 week, 1 day, 1 hour, 1 minute', '0 minutes')
    """
    left = int(seconds) // 60
    parts = []
    for unit, size in (("year", 525_600), ("week", 10_080), ("day", 1_440), ("hour", 60), ("minute", 1)):
        n, left = divmod(left, size)
        if n:
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    return ", ".join(parts) or "0 minutes"


def _scp_sink(chan: paramiko.Channel) -> bytes | None:
    """Receive one file over the SCP protocol (``scp -t``); returns its bytes or None on a protocol error."""
    chan.sendall(b"\x00")
    data: bytes | None = None
    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = chan.recv(65536)
            if not chunk:
                return data
            buf += chunk
        header, _, buf = buf.partition(b"\n")
        kind = header[:1]
        if kind == b"T" or kind in (b"D", b"E"):
            chan.sendall(b"\x00")
            continue
        if kind != b"C":
            chan.sendall(b"\x01scp: protocol error\n")
            return None
        size = int(header.split(b" ")[1])
        chan.sendall(b"\x00")
        while len(buf) < size + 1:
            chunk = chan.recv(65536)
            if not chunk:
                return None
            buf += chunk
        data, buf = buf[:size], buf[size + 1 :]
        chan.sendall(b"\x00")


def default_config(hostname: str) -> str:
    """A small but realistic IOS-XE running config (archive on, SCP server on) used when none is given."""
    return f"""version 17.9
service timestamps debug datetime msec
hostname {hostname}
!
archive
 path flash:archive
 maximum 10
!
username admin privilege 15 secret 9 $9$emulator$
!
interface GigabitEthernet1
 description uplink
 ip address 192.0.2.11 255.255.255.0
!
interface Virtual-Template1
 ip unnumbered Loopback0
 peer default ip address pool SUBSCRIBERS
!
ip scp server enable
!
line vty 0 4
 login local
 transport input ssh
!
"""


EMULATOR = IosEmulator
"""This platform's emulator (see :meth:`op25b_cfg.platforms.base.Platform.emulator`)."""
