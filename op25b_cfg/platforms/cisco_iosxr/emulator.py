"""Cisco IOS-XR emulator: the SSH CLI plus the XML agent (``xml`` command) napalm's ``iosxr`` driver uses.

napalm ``iosxr`` (pyIOSXR) logs in with netmiko ``cisco_xr``, types ``xml`` and then exchanges
``<Request MajorVersion="1" MinorVersion="0">`` documents at the ``XML>`` prompt. Emulated requests:
``<Lock/>``, ``<Unlock/>``, ``<CLI><Configuration>config lines</Configuration></CLI>`` (loads into the
target configuration), ``<CLI><Configuration>show running-config | show configuration [merge] |
show configuration changes diff</Configuration></CLI>``, ``<Commit/>`` (optionally ``Replace="true"``),
``<Clear/>`` and ``<Rollback><Previous>N</Previous></Rollback>``. napalm's iosxr driver has no commit
confirm (``revert_in`` raises NotImplementedError), so a push commits, audits and rolls back.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
from typing import TYPE_CHECKING, Any, ClassVar
from xml.sax.saxutils import escape

from lxml import etree

from op25b_cfg.dialects.cisco_blocks import CliConfig, acl_entries
from op25b_cfg.platforms.cisco_ios.emulator import INVALID, IosEmulator, _Shell, ios_uptime

if TYPE_CHECKING:
    from op25b_cfg.intent_protocols import Device

log = logging.getLogger(__name__)

XR_VERSION = "7.9.2"
HEAD = '<?xml version="1.0" encoding="UTF-8"?><Response MajorVersion="1" MinorVersion="0">'


class IosxrEmulator(IosEmulator):
    """An IOS-XR router (CLI + XML agent over SSH) on 127.0.0.1:<port>."""

    platform = "iosxr"
    upper_ipv6 = False
    port_names: dict[str, str] = {"21": "ftp", "23": "telnet", "25": "smtp", "53": "domain", "80": "www", "110": "pop3"}
    prerequisites: ClassVar[tuple[str, ...]] = ("xml agent tty\n iteration off",)
    read_timeout = 4
    """napalm's close waits netmiko's read timeout for a CLI prompt the XML agent never prints (as a real XR
    does); the lab bounds that wait so each session ends within seconds."""

    @classmethod
    def default_config(cls, device: Device) -> str:
        return default_config(device.name)

    @classmethod
    def lab_optional_args(cls) -> dict[str, object]:
        return {"read_timeout_override": cls.read_timeout}

    def __init__(self, initial_config: str = "", *, hostname: str = "bras-xr1", **kwargs: Any) -> None:
        super().__init__(initial_config or default_config(hostname), hostname=hostname, **kwargs)
        self.target: CliConfig | None = None
        self.history: list[CliConfig] = [self.running.copy()]
        self.xml_lock_owner: object | None = None

    @property
    def prompt_base(self) -> str:
        return f"RP/0/RP0/CPU0:{self.hostname}"

    @property
    def shell_class(self) -> type[_Shell]:
        return _XrShell

    def napalm_optional_args(self) -> dict[str, object]:
        """``optional_args`` for ``napalm.get_network_driver("iosxr")`` (netmiko arguments pass through)."""
        return {"port": self.port, "ssh_strict": False}

    @property
    def candidate_config(self) -> str:
        with self.lock:
            return (self.target or self.running).render()


class _XrShell(_Shell):
    """The XR CLI: everything of the IOS shell plus ``xml`` mode."""

    emu: IosxrEmulator

    def __init__(self, emu: IosEmulator, chan: Any) -> None:
        super().__init__(emu, chan)
        self.xml_buf = ""

    def line(self, line: str) -> bool:
        if self.echo:  # CLI mode
            if line.strip() == "xml":
                self.emu.record("xml")
                self.echo = False
                self.send("XML> ")
                return True
            return super().line(line)
        if not self.xml_buf and line.strip() == "exit":
            self.echo = True
            self.send(self.prompt)
            return True
        self.xml_buf += line + "\n"
        if "</Request>" not in self.xml_buf:
            return True
        doc, self.xml_buf = self.xml_buf, ""
        self.send(self.request(doc.strip()) + "\nXML> ")
        return True

    def request(self, doc: str) -> str:
        emu = self.emu
        try:
            root = etree.fromstring(doc.encode())
        except etree.XMLSyntaxError:
            return HEAD + '<ResultSummary ErrorCount="1"/></Response>'
        out: list[str] = []
        errors = 0
        for op in root:
            tag = str(op.tag)
            emu.record(f"<{tag}>")
            text, failed = self.in_phase(self._xml_phase(op), functools.partial(self._op, op))
            out.append(text)
            errors += failed
        return HEAD + "".join(out) + f'<ResultSummary ErrorCount="{errors}"/></Response>'

    def _xml_phase(self, op: etree._Element) -> str | None:
        if op.tag == "Commit":
            return "commit"
        conf = op.find("Configuration")
        if op.tag == "CLI" and conf is not None and not (conf.text or "").strip().startswith("show "):
            return "load"
        return None

    def _op(self, op: etree._Element) -> tuple[str, int]:
        emu = self.emu
        tag = op.tag
        if tag in ("Lock", "Unlock"):
            return f"<{tag}/>", 0
        if tag == "Clear":
            emu.target = None
            return "<Clear/>", 0
        if tag == "Commit":
            if emu.target is None:
                return '<Commit ErrorCode="0x41864e00" ErrorMsg="The target configuration buffer is empty."/>', 1
            emu.running = emu.target
            emu.target = None
            emu.history.insert(0, emu.running.copy())
            return f'<Commit CommitID="{1000000000 + len(emu.history)}"/>', 0
        if tag == "Rollback":
            n = int(op.findtext("Previous") or "1")
            if n >= len(emu.history):
                return '<Rollback ErrorMsg="no such commit"/>', 1
            emu.running = emu.history[n].copy()
            emu.history.insert(0, emu.running.copy())
            emu.target = None
            return "<Rollback/>", 0
        command = op.find("Exec") if tag == "CLI" else None
        if command is not None:
            return f"<CLI><Exec>{escape(self._exec_show((command.text or '').strip()))}</Exec></CLI>", 0
        conf = op.find("Configuration") if tag == "CLI" else None
        if conf is not None:
            return f"<CLI><Configuration>{escape(self._configuration(conf.text or ''))}</Configuration></CLI>", 0
        return f'<{tag} ErrorMsg="unsupported request"/>', 1

    def _exec_show(self, cmd: str) -> str:
        """An operational command of ``<CLI><Exec>`` (napalm ``cli()``): the access-list counters, and
        ``show version`` with the router's uptime."""
        if cmd == "show version":
            return (
                f"Cisco IOS XR Software, Version {XR_VERSION}\nCopyright (c) 2013-2023 by Cisco Systems, Inc.\n\n"
                f"{self.emu.hostname} uptime is {ios_uptime(self.emu.uptime)}\n"
            )
        m = re.match(r"^show access-lists(?: (ipv4|ipv6))?(?: (\S+))?$", cmd)
        if m:
            return show_access_lists(self.emu, {"ipv4": 4, "ipv6": 6}.get(m.group(1) or ""), m.group(2))
        return f"{cmd}\n^\n{INVALID}"

    def _configuration(self, text: str) -> str:
        emu = self.emu
        cmd = text.strip()
        if cmd.startswith("show "):
            return self._config_show(cmd)
        if emu.target is None:
            emu.target = emu.running.copy()
        rejected = emu.target.session().apply_all(
            text.splitlines(), lambda line: not line.startswith("!") and emu.faults.rejects(line)
        )
        return "" if rejected is None else f"{rejected}\n^\n{INVALID}"

    def _config_show(self, cmd: str) -> str:
        emu = self.emu
        head = f"Building configuration...\n!! IOS XR Configuration {XR_VERSION}\n"
        if cmd in ("show running-config", "show running-config all"):
            return head + emu.running.render() + "end\n"
        if re.match(r"^show configuration merge( formal)?$", cmd):
            return head + (emu.target or emu.running).render() + "end\n"
        if cmd == "show configuration":
            return head + (emu.target.render() if emu.target else "") + "end\n"
        if cmd == "show configuration changes diff":
            old = emu.running.render().splitlines()
            new = (emu.target or emu.running).render().splitlines()
            body = [ln[0] + ln[2:] for ln in difflib.ndiff(old, new) if ln[:1] in "+-"]
            return head + "\n".join(body) + "\nend\n"
        return f"{cmd}\n^\n{INVALID}"


def show_access_lists(emu: IosxrEmulator, family: int | None, name: str | None = None) -> str:
    """``show access-lists [ipv4|ipv6] [NAME]`` as IOS-XR prints it: the ACL as configured, each entry with
    its number and, once it matched, ``(N matches)``::

        ipv4 access-list OP25B-V4-1a2b3c4d
         60 deny tcp 100.64.0.0 0.1.255.255 any eq smtp log (4471 matches)
    """
    out = []
    for fam, acl, entries in acl_entries(emu.running.root):
        if (family is not None and fam != family) or (name is not None and acl != name):
            continue
        out.append(f"ipv{fam} access-list {acl}")
        for seq, text in entries:
            packets, _ = emu.counters.get(acl, seq)
            out.append(f" {seq} {emu.display(text)}" + (f" ({packets} matches)" if packets else ""))
    return "\n".join(out) + "\n" if out else ""


def default_config(hostname: str) -> str:
    """A small IOS-XR running config (XML agent enabled) used when none is given."""
    return f"""hostname {hostname}
xml agent tty
 iteration off
!
interface Bundle-Ether1
 description subscriber aggregation
!
interface Bundle-Ether1.100
 ipv4 address 192.0.2.12 255.255.255.0
 encapsulation dot1q 100
!
dynamic-template
 type ppp PPPOE-SUBS
  ppp authentication chap
 !
!
ssh server v2
"""


EMULATOR = IosxrEmulator
"""This platform's emulator (see :meth:`op25b_cfg.platforms.base.Platform.emulator`)."""
