"""Huawei VRP SSH CLI emulator (VRP5 and VRP8), driven by the real netmiko (``huawei``).

It speaks what op25b's VRP session and netmiko send: an echoing interactive shell with the user view
``<host>``, ``screen-length 0 temporary``, ``display version``, ``display current-configuration [| include X]``,
``system-view`` (VRP5 ``[host]``; VRP8 two-phase ``[~host]``, ``[*host]`` while changes are uncommitted), the views
``acl ...`` (``[~host-acl-adv-NAME]``, ``[~host-acl6-adv-NAME]``) and ``interface X`` (``[~host-X]``), ``rule``,
``step``, ``description``, ``traffic-filter``, ``undo`` of each, ``quit``, ``return`` (VRP8 asks what to do with
uncommitted changes), ``commit`` and ``clear configuration candidate`` (VRP8 only), ``rollback configuration last
N`` (VRP8 user view) and ``save``. A line VRP would not take gets ``Error: Unrecognized command found at '^'
position.`` (or the fault's ``reject_pattern``); on VRP5 each accepted line applies at once, on VRP8 on ``commit``.

Fault phases: ``open`` (the first prompt), ``load`` (a config line), ``commit`` (VRP8 ``commit``; VRP5
``system-view``, where a change starts). VRP has no commit-confirm timer op25b uses, so ``confirm`` never strikes.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from typing import TYPE_CHECKING, Any

import paramiko

from op25b_cfg.dialects.cisco_blocks import strip_op25b
from op25b_cfg.lab.emulators.base import AclCounters
from op25b_cfg.lab.emulators.sshserver import CliShell, SshEmulator, output_filter
from op25b_cfg.platforms.huawei_vrp._store import Node, VrpConfig, key, shown
from op25b_cfg.platforms.huawei_vrp.parser import _traffic_filter, parse_header, rule_body

if TYPE_CHECKING:
    from op25b_cfg.intent_protocols import Device

log = logging.getLogger(__name__)

UNRECOGNIZED = "Error: Unrecognized command found at '^' position."
_FILTERS = "include exclude begin"
"""The output filters (``| include X``) the emulated VRP takes."""
_UNCOMMITTED = (
    "Warning: Uncommitted configurations found. Are you sure to commit them before exiting? [Y(yes)/N(no)/C(cancel)]:"
)


class VrpEmulator(SshEmulator):
    """A Huawei router (``version`` 8: NE40E/NE8000 two-phase commit; 5: AR/ME60 immediate) over SSH."""

    platform = "vrp"
    channel_kinds = frozenset({"shell"})

    def __init__(
        self, initial_config: str = "", *, hostname: str = "edge-vrp1", version: int = 8, **kwargs: Any
    ) -> None:
        super().__init__(initial_config, hostname=hostname, **kwargs)
        if version not in (5, 8):
            raise ValueError("version must be 5 or 8")
        self.version = version
        self.running = VrpConfig(initial_config or vrp_default_config(hostname, ["GigabitEthernet0/1/0.100"]))
        self.saved = self.running.render()
        self.history: list[VrpConfig] = []  # VRP8: the config before each commit, newest last
        self.last_change = time.time()

    # -- public state -----------------------------------------------------------------------------------
    @property
    def running_config(self) -> str:
        with self.lock:
            return self.running.render()

    def pending_commit(self) -> bool:
        return False  # no commit-confirm timer

    def napalm_optional_args(self) -> dict[str, object]:
        """Connection arguments for op25b's VRP session (netmiko ``huawei``; host keys not checked)."""
        return {"port": self.port, "ssh_strict": False}

    @classmethod
    def default_config(cls, device: Device) -> str:
        """A small VRP8 running config: sysname, an SSH user, an uplink and the device's attachment interfaces."""
        return vrp_default_config(device.name, [a.name for a in device.attach])

    @classmethod
    def strip_op25b(cls, text: str) -> str:
        """The config without OP25B ACLs (each view with its lines) and without lines naming them."""
        return strip_op25b(text)

    @classmethod
    def with_prerequisites(cls, text: str) -> str:
        """``stelnet server enable`` (SSH, what netmiko needs), where missing."""
        cfg = VrpConfig(text)
        if cfg.view("stelnet server enable") is None:
            cfg.root.children.append(Node("stelnet server enable"))
        return cfg.render()

    @classmethod
    def apply_change(cls, running: str, change: str) -> str:
        """``change`` typed into ``system-view`` of a VRP5 router running ``running`` (each line applies at
        once): the running config after it. Raises ValueError naming the first line VRP would refuse."""
        emu = cls(running, version=5)
        shell = _Shell(emu, None)
        shell.user_line("system-view")
        for raw in change.splitlines():
            cmd = raw.strip()
            if not shell.system:
                shell.user_line("system-view")
            out, _ = shell.config_line(cmd)
            if out.startswith("Error") or UNRECOGNIZED in out:
                raise ValueError(f"VRP refuses `{cmd}`: {out.strip()}")
        return emu.running.render()

    # -- channels ---------------------------------------------------------------------------------------
    def handle_channel(self, kind: str, chan: paramiko.Channel, arg: str) -> None:
        _Shell(self, chan).run()

    def commit_candidate(self, candidate: VrpConfig) -> None:
        """VRP8 ``commit``: the candidate becomes the running config (the old one is kept for roll-back)."""
        self.history.append(self.running.copy())
        self.running = candidate
        self.last_change = time.time()

    @functools.cached_property
    def counters(self) -> AclCounters:
        """Per-rule match counters by (ACL name, or number as text; rule id), shown by ``display acl``: what the
        emulated data plane counted (tests add hits; created on first use, before the emulator is asked)."""
        return AclCounters()


class _Shell(CliShell["VrpEmulator"]):
    """One interactive CLI session."""

    greeting = "\nInfo: The max number of VTY users is 10.\n"

    def __init__(self, emu: VrpEmulator, chan: paramiko.Channel | None) -> None:
        super().__init__(emu, chan)
        self.system = False  # in system view
        self.view: Node | None = None  # the current sub-view
        self.view_name = ""
        self.cfg: VrpConfig | None = None  # VRP8: this session's candidate; VRP5: the running config itself
        self.asking: str | None = None  # a pending question: "return" | "save" | "rollback:N"

    @property
    def dirty(self) -> bool:
        return self.cfg is not None and self.emu.version == 8 and self.cfg.render() != self.emu.running.render()

    @property
    def prompt(self) -> str:
        host = self.emu.hostname
        if not self.system:
            return f"<{host}>"
        mark = ("*" if self.dirty else "~") if self.emu.version == 8 else ""
        return f"[{mark}{host}{'-' + self.view_name if self.view_name else ''}]"

    @property
    def answering(self) -> bool:
        return self.asking is not None

    # -- one line -----------------------------------------------------------------------------------------
    def respond(self, line: str) -> tuple[str, bool]:
        cmd = line.strip()
        if self.asking is not None:
            return self.answer(cmd)
        if self.system:
            return self.config_line(cmd)
        return self.user_line(cmd)

    def phase(self, cmd: str) -> str | None:
        if self.asking is not None or not cmd:
            return None
        if not self.system:
            return "commit" if cmd == "system-view" and self.emu.version == 5 else None
        if cmd == "commit":
            return "commit"
        if cmd in ("quit", "return") or cmd.startswith(("display", "clear configuration")):
            return None
        return "load"

    def answer(self, cmd: str) -> tuple[str, bool]:
        """The reply to a [Y/N] question."""
        q, self.asking = self.asking or "", None
        yes = cmd.lower() in ("y", "yes")
        if q == "return":
            if cmd.lower() in ("c", "cancel"):
                return "", True
            if yes:
                out = self.commit()
                if out:
                    return out, True
            self.leave()
            return "", True
        if q == "save":
            if yes:
                self.emu.saved = self.emu.running.render()
                return "Info: Save the configuration successfully.", True
            return "", True
        if q.startswith("rollback:"):
            if not yes:
                return "", True
            return self.rollback(int(q.split(":")[1])), True
        return "", True

    def user_line(self, cmd: str) -> tuple[str, bool]:
        emu = self.emu
        if not cmd:
            return "", True
        if cmd in ("quit", "exit"):
            return "", False
        if cmd == "screen-length 0 temporary":
            return "Info: The configuration takes effect on the current user terminal interface only.", True
        body, _, pipe = cmd.partition(" | ")
        if body.strip() in ("display current-configuration", "display current"):
            return output_filter(self._current(), pipe, _FILTERS), True
        if body.strip() == "display version":
            return _version(emu), True
        if (acls := display_acl(emu, body.strip())) is not None:
            return output_filter(acls, pipe, _FILTERS), True
        if cmd in ("system-view", "system-view immediately"):
            self.system = True
            self.cfg = emu.running.copy() if emu.version == 8 else emu.running
            return "Enter system view, return user view with return command.", True
        if cmd == "save":
            self.asking = "save"
            self.send("Warning: The current configuration will be written to the device. Continue? [Y/N]:")
            return "", True
        m = re.fullmatch(r"rollback configuration last (\d+)", cmd)
        if m and emu.version == 8:
            self.asking = f"rollback:{m.group(1)}"
            self.send("Warning: All configurations will be rolled back. Continue? [Y/N]:")
            return "", True
        if cmd == "display configuration commit list" and emu.version == 8:
            rows = [f"{i + 1:>3}  {1000000000 + i}  -  {emu.username}" for i in range(len(emu.history))]
            return "\n".join(["No.  CommitId    Label  User", *rows]), True
        return _error(self.prompt, cmd), True

    def _current(self) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S+00:00", time.gmtime(self.emu.last_change))
        ver = "V800R012C10SPC300" if self.emu.version == 8 else "V200R010C10SPC700"
        return f"!Software Version {ver}\n!Last configuration was updated at {stamp}\n" + self.emu.running.render()

    def rollback(self, n: int) -> str:
        emu = self.emu
        if n < 1 or n > len(emu.history):
            return f"Error: The number of commits to roll back ({n}) is more than the commits that exist."
        target = emu.history[-n]
        del emu.history[-n:]
        emu.running = target
        emu.last_change = time.time()
        return "Info: Succeeded in rolling back the configuration."

    # -- system view and its sub-views --------------------------------------------------------------------
    def leave(self) -> None:
        self.system = False
        self.view = None
        self.view_name = ""
        self.cfg = None

    def commit(self) -> str:
        emu = self.emu
        assert self.cfg is not None
        if emu.version != 8:
            return UNRECOGNIZED
        if self.dirty:
            emu.commit_candidate(self.cfg)
            self.cfg = emu.running.copy()
        return ""

    def config_line(self, cmd: str) -> tuple[str, bool]:
        emu = self.emu
        cfg = self.cfg
        assert cfg is not None
        if not cmd or cmd.startswith("#"):
            return "", True
        if cmd == "return" or (cmd == "quit" and self.view is None):
            if self.dirty:
                self.asking = "return"
                self.send(_UNCOMMITTED)
                return "", True
            self.leave()
            return "", True
        if cmd == "quit":
            self.view, self.view_name = None, ""
            return "", True
        if cmd == "commit":
            if emu.version != 8:
                return _error(self.prompt, cmd), True
            return self.commit() or "", True
        if cmd == "clear configuration candidate" and emu.version == 8:
            self.cfg = emu.running.copy()
            self.view, self.view_name = None, ""
            return "", True
        if cmd.startswith("display "):
            return self.user_line(cmd)
        if emu.faults.rejects(cmd):
            return _error(self.prompt, cmd), True
        words = cmd.split()
        # a view command is found from any view (VRP searches the upper views)
        if words[0] in ("acl", "interface") or (words[0] == "undo" and len(words) > 1 and words[1] in ("acl",)):
            return self._system(cmd, cfg), True
        if self.view is not None:
            return self._in_view(cmd), True
        return self._system(cmd, cfg), True

    def _changed(self) -> None:
        self.emu.last_change = time.time()

    def _system(self, cmd: str, cfg: VrpConfig) -> str:
        words = cmd.split()
        if words[0] == "sysname" and len(words) == 2:
            node = cfg.root.find(cmd)
            if node is None:
                cfg.root.children.insert(0, Node(cmd))
            else:
                node.text = cmd
            self._changed()
            return ""
        if words[0] == "acl":
            head = parse_header(words)
            if head is None:
                return _error(self.prompt, cmd)
            family, name, number, kind, _ = head
            if kind == "other":
                return _error(self.prompt, cmd)
            ident = name if name is not None else str(number)
            node = next(
                (n for n in cfg.root.children if n.text.startswith("acl ") and _acl_ident(n.text) == (family, ident)),
                None,
            )
            if node is None:
                node = Node(cmd)
                cfg.root.children.append(node)
                self._changed()
            self.view = node
            six = "6" if family == 6 else ""
            self.view_name = f"acl{six}-{'basic' if kind == 'basic' else 'adv'}-{ident}"
            return ""
        if words[0] == "interface" and len(words) == 2:
            node = cfg.view(cmd)
            if node is None:
                node = Node(cmd)
                cfg.root.children.append(node)
                self._changed()
            self.view, self.view_name = node, words[1]
            return ""
        if words[0] == "undo" and len(words) > 2 and words[1] == "acl":
            head = parse_header(words[1:])
            if head is None:
                return _error(self.prompt, cmd)
            family, name, number, _, _ = head
            ident = name if name is not None else str(number)
            node = next(
                (n for n in cfg.root.children if n.text.startswith("acl ") and _acl_ident(n.text) == (family, ident)),
                None,
            )
            if node is None:
                return "Error: The ACL does not exist."
            cfg.root.children.remove(node)
            self._changed()
            return ""
        return _error(self.prompt, cmd)

    def _in_view(self, cmd: str) -> str:
        view = self.view
        assert view is not None
        words = cmd.split()
        undo = words[0] == "undo"
        body = words[1:] if undo else words
        text = " ".join(body)
        if view.text.startswith("acl "):
            head = parse_header(view.text.split())
            assert head is not None
            family, _, _, kind, _ = head
            if body[:1] == ["description"] and (undo or len(body) > 1):
                return self._set(view, text, undo)
            if body[:1] == ["step"] and (undo or (len(body) == 2 and body[1].isdigit())):
                return self._set(view, text, undo)
            if body[:1] == ["rule"]:
                if undo:
                    if len(body) == 2 and body[1].isdigit():
                        target = view.find(f"rule {body[1]}")
                        if target is None:
                            return "Error: The rule does not exist."
                        view.children.remove(target)
                        self._changed()
                        return ""
                    return _error(self.prompt, cmd)
                rest = body[1:]
                if rest and rest[0].isdigit():
                    rid, rest = int(rest[0]), rest[1:]
                else:
                    step = next((int(c.text.split()[1]) for c in view.children if c.text.startswith("step ")), 5)
                    ids = [int(key(c.text).split()[1]) for c in view.children if c.text.startswith("rule ")]
                    rid = (max(ids, default=0) // step + 1) * step
                try:
                    rule_body(rest, family, kind)
                except ValueError:
                    return _error(self.prompt, cmd)
                return self._set(view, shown(f"rule {rid} {' '.join(rest)}"), False)
            return _error(self.prompt, cmd)
        if view.text.startswith("interface "):
            if body[:1] == ["traffic-filter"]:
                if _traffic_filter(body) is None:
                    return _error(self.prompt, cmd)
                return self._set(view, text, undo)
            if body == ["shutdown"]:
                return self._set(view, "undo shutdown" if undo else "shutdown", False)
            if body[:1] in (["description"], ["ip"], ["ipv6"], ["vlan-type"]):
                return self._set(view, text, undo)
            return _error(self.prompt, cmd)
        return _error(self.prompt, cmd)

    def _set(self, view: Node, text: str, undo: bool) -> str:
        old = view.find(text)
        if undo:
            if old is None:
                return "Error: The configuration does not exist."
            view.children.remove(old)
        elif old is None:
            view.children.append(Node(text))
        else:
            old.text = text
        self._changed()
        return ""


def _acl_ident(header: str) -> tuple[int, str] | None:
    head = parse_header(header.split())
    if head is None:
        return None
    family, name, number, _, _ = head
    return family, name if name is not None else str(number)


def _error(prompt: str, cmd: str) -> str:
    return f"{' ' * (len(prompt) + 1)}^\n{UNRECOGNIZED}"


def _version(emu: VrpEmulator) -> str:
    if emu.version == 8:
        return (
            "Huawei Versatile Routing Platform Software\n"
            "VRP (R) software, Version 8.180 (NE40E V800R012C10SPC300)\n"
            "Copyright (C) 2012-2026 Huawei Technologies Co., Ltd.\n"
            "HUAWEI NE40E-X8A uptime is 7 days, 1 hour, 2 minutes"
        )
    return (
        "Huawei Versatile Routing Platform Software\n"
        "VRP (R) software, Version 5.160 (AR2200 V200R010C10SPC700)\n"
        "Copyright (C) 2011-2026 HUAWEI TECH CO., LTD\nHuawei AR2220E Router uptime is 7 days, 1 hour, 2 minutes"
    )


_DISPLAY_ACL = re.compile(r"display acl (?:(?P<v6>ipv6) )?(?:all|name (?P<name>\S+)|(?P<number>\d+))")
_KIND_SHOWN = {"basic": "Basic", "advance": "Advanced"}


def acls(cfg: VrpConfig, family: int) -> list[tuple[Node, str, int, str, list[tuple[int, str]]]]:
    """The ``family`` ACLs of ``cfg``: (view, name or number as text, number, kind, [(rule id, rule text after
    the id)] in id order). A named ACL gets the number VRP gives it: the highest free one, 3999 downwards."""
    heads = [(n, parse_header(n.text.split())) for n in cfg.root.children if n.text.startswith("acl ")]
    found = [(n, h) for n, h in heads if h is not None and h[0] == family]
    taken = {h[2] for _, h in found if h[2] is not None}
    free = (n for n in range(3999, 2999, -1) if n not in taken)
    out = []
    for node, (_, name, number, kind, _) in found:
        rules = [c.text.split(None, 2) for c in node.children if c.text.startswith("rule ")]
        number = number if number is not None else next(free)
        entries = sorted((int(r[1]), r[2] if len(r) > 2 else "") for r in rules)
        out.append((node, name if name is not None else str(number), number, kind, entries))
    return out


def acl_entries(cfg: VrpConfig) -> list[tuple[int, str, list[tuple[int, str]]]]:
    """``(family, name or number, [(rule id, rule text after the id)])`` of every ACL of ``cfg``, the shape
    :func:`op25b_cfg.dialects.cisco_blocks.acl_entries` gives for Cisco-style configs."""
    return [(family, ident, entries) for family in (4, 6) for _, ident, _, _, entries in acls(cfg, family)]


def display_acl(emu: VrpEmulator, cmd: str) -> str | None:
    """``display acl [ipv6] all | name NAME | N`` as VRP prints it (None when ``cmd`` is not one): each ACL of
    the family with its header (``Advanced ACL NAME 3999, 7 rules``), description and step, then its rules in
    id order, each with the count :attr:`VrpEmulator.counters` holds: ``(N times matched)`` on VRP8,
    ``(N matches)`` on VRP5 and only once it matched. An ACL no ``traffic-filter`` references shows no
    counts. (See :mod:`op25b_cfg.platforms.huawei_vrp.counters` for the sources.)"""
    m = _DISPLAY_ACL.fullmatch(cmd)
    if m is None:
        return None
    family = 6 if m.group("v6") else 4
    wanted = m.group("name") or m.group("number")
    words = " ".join(
        c.text for i in emu.running.root.children if i.text.startswith("interface ") for c in i.children
    ).split()
    blocks = []
    for node, ident, number, kind, entries in acls(emu.running, family):
        if wanted not in (None, ident, str(number)):
            continue
        used = any(w == ident and words[i - 1] in ("acl", "name") for i, w in enumerate(words) if i)
        label = "" if ident == str(number) else f"{ident} "
        six = "6" if family == 6 else ""
        plural = "s" * (len(entries) != 1)
        lines = [f"{_KIND_SHOWN.get(kind, kind)} ACL{six} {label}{number}, {len(entries)} rule{plural}"]
        lines += [c.text.removeprefix("description ") for c in node.children if c.text.startswith("description ")]
        step = next((c.text.split()[1] for c in node.children if c.text.startswith("step ")), "5")
        lines.append(f"{'ACL' if emu.version == 8 else 'Acl'}'s step is {step}")
        for rid, text in entries:
            packets, _ = emu.counters.get(ident, rid)
            count = ""
            if used and emu.version == 8:
                count = f" ({packets} times matched)"
            elif used and packets:
                count = f" ({packets} matches)"
            lines.append(f" rule {rid} {text}{count}")
        blocks.append("\n".join(lines))
    if wanted is not None:
        return blocks[0] if blocks else "Error: The ACL does not exist."
    return "\n\n".join([f"Total quantity of nonempty ACL number is {len(blocks)}", *blocks])


def vrp_default_config(hostname: str, interfaces: list[str]) -> str:
    """A small VRP8 running config with ``interfaces`` (sub-interfaces get their parent and a dot1q VLAN)."""
    views = ["#", f"sysname {hostname}", "#", "aaa", " local-user op25b service-type ssh", "#"]
    seen: set[str] = set()
    for name in interfaces:
        parent, dot, vlan = name.partition(".")
        if dot and parent not in seen:
            seen.add(parent)
            views += [f"interface {parent}", " undo shutdown", "#"]
        if name not in seen:
            seen.add(name)
            views += [f"interface {name}", *([f" vlan-type dot1q {vlan}"] if dot and vlan.isdigit() else []), "#"]
    views += ["interface GigabitEthernet0/3/0", " undo shutdown", " ip address 192.0.2.1 255.255.255.0", "#"]
    views += ["stelnet server enable", "#", "return"]
    return "\n".join(views) + "\n"


EMULATOR = VrpEmulator
"""This platform's emulator (see :meth:`op25b_cfg.platforms.base.Platform.emulator`)."""
