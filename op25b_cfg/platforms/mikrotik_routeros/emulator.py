"""MikroTik RouterOS 7 emulator: the SSH console netmiko ``mikrotik_routeros`` logs in to, and SSH exec.

netmiko appends terminal options to the user name (``admin+ct511w4098h``) and waits for the prompt
``[admin@identity] >``; the session then runs one command per exec channel, as ``ssh admin@router '/export'``
does on a real router. Emulated commands (full menu path on each line):

``/export`` / ``/export terse``
    the configuration: the lines it started from for menus it does not model, and the items of
    ``/ip firewall filter``, ``/ip firewall address-list`` and their ``/ipv6`` twins in table order;
``<menu> print terse show-ids``
    one line per item of a modelled menu: ``*ID`` then its properties;
``<menu> add prop=value... [place-before=*ID]``
    a new item (at the end of the table, or before item ``*ID``); what a router refuses prints
    ``failure: ...`` / ``syntax error ...`` and changes nothing;
``<menu> remove *ID[,*ID...]``
    removes those items (all or none);
``<filter menu> print stats [...]``
    the stats table the manual shows (``# CHAIN ACTION BYTES PACKETS``, numbers grouped by spaces; ``terse``
    changes nothing: :func:`print_stats`);
``:put [<filter menu> print as-value stats [where chain~"REGEX"]]``
    the same items as one line of ``key=value`` fields joined by ``;`` (:func:`print_as_value_stats`).

Faults (:mod:`op25b_cfg.lab.emulators.faults`): ``open`` strikes when the console opens, ``commit`` at every
``add`` and ``remove``; ``reject_pattern`` refuses a matching ``add`` line.
"""

from __future__ import annotations

import datetime
import functools
import logging
import re
from typing import TYPE_CHECKING, Any

from op25b_cfg.lab.emulators.base import AclCounters
from op25b_cfg.lab.emulators.sshserver import SshEmulator, typed_lines
from op25b_cfg.platforms.mikrotik_routeros.parser import commands
from op25b_cfg.platforms.mikrotik_routeros.syntax import _ACTIONS, owner_version, quote

if TYPE_CHECKING:
    import paramiko

    from op25b_cfg.intent_protocols import Device

log = logging.getLogger(__name__)

ROS_VERSION = "7.16.2"
MENUS = (
    ("ip", "firewall", "address-list"),
    ("ip", "firewall", "filter"),
    ("ipv6", "firewall", "address-list"),
    ("ipv6", "firewall", "filter"),
)


class CommandError(Exception):
    """What the router prints for a command it refuses."""


class RouterosEmulator(SshEmulator):
    """A RouterOS router's SSH console and exec on 127.0.0.1:<port>."""

    platform = "routeros"
    channel_kinds = frozenset({"shell", "exec"})

    def __init__(self, initial_config: str = "", *, hostname: str = "bras-ros1", **kwargs: Any) -> None:
        super().__init__(initial_config or default_config(hostname), hostname=hostname, **kwargs)
        self.items: dict[tuple[str, ...], list[dict[str, str]]] = {m: [] for m in MENUS}
        self.other: list[str] = []  # lines of menus not modelled, as /export terse prints them
        self._next_id = 1
        self.started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        cmds, _bad = commands(self.initial_config)
        for c in cmds:
            if c.path in self.items and c.verb == "add":
                self._insert(c.path, dict(c.props))
            else:
                rest = " ".join([*c.bare, *(f"{k}={quote(v)}" for k, v in c.props.items())])
                self.other.append(f"/{' '.join(c.path)} {c.verb} {rest}".rstrip())

    # -- the classmethods the lab uses (see EmulatorBase) ------------------------------------------------
    @classmethod
    def default_config(cls, device: Device) -> str:
        return default_config(device.name)

    @classmethod
    def strip_op25b(cls, text: str) -> str:
        """The configuration without any item op25b owns (:func:`owner_version`), continuation lines included,
        and without op25b's header comments."""
        out: list[str] = []
        item: list[str] = []
        path = ""
        for ln in text.splitlines(True):
            item.append(ln)
            if ln.rstrip("\r\n").endswith("\\"):
                continue
            joined = "".join(item)
            item = []
            if joined.startswith("/"):
                path = joined
            cmds, _ = commands(path + "\n" + joined if not joined.startswith("/") else joined)
            owned = bool(cmds) and cmds[-1].verb == "add" and owner_version(cmds[-1].props) is not None
            if not owned and not joined.startswith("# op25b"):
                out.append(joined)
        out.extend(item)
        return "".join(out)

    @classmethod
    def apply_change(cls, running: str, change: str) -> str:
        """``running`` after op25b's items are replaced by the block ``change`` as a push does (address lists and
        chain rules at the end of their tables, the ``forward`` jumps before the first ``forward`` rule)."""
        emu = cls(cls.strip_op25b(running), hostname="replace")
        cmds, _ = commands(change)
        for c in cmds:
            if c.path not in emu.items or c.verb != "add":
                continue
            before = None
            if c.props.get("chain") == "forward":
                before = next((it[".id"] for it in emu.items[c.path] if it.get("chain") == "forward"), None)
            emu._insert(c.path, dict(c.props), before)
        return emu.running_config

    @classmethod
    def with_prerequisites(cls, text: str) -> str:
        """SSH is the management service the session needs (on by default; said explicitly)."""
        return text if "/ip service" in text else text + "/ip service set ssh disabled=no\n"

    @classmethod
    def lab_optional_args(cls) -> dict[str, object]:
        return {}

    def napalm_optional_args(self) -> dict[str, object]:
        return {}

    def pending_commit(self) -> bool:
        """RouterOS has no commit-confirm timer op25b uses: never a pending commit."""
        return False

    def login_name(self, username: str) -> str:
        return username.split("+", 1)[0]

    @functools.cached_property
    def counters(self) -> AclCounters:
        """Per-rule counters by (chain, ``*ID``), shown by ``print stats``: what the emulated data plane counted
        (tests add hits; created on first use, before the emulator is asked)."""
        return AclCounters()

    # -- the configuration -------------------------------------------------------------------------------
    def _insert(self, menu: tuple[str, ...], props: dict[str, str], before: str | None = None) -> str:
        item_id = f"*{self._next_id:X}"
        self._next_id += 1
        table = self.items[menu]
        pos = len(table)
        if before is not None:
            pos = next((i for i, it in enumerate(table) if it[".id"] == before), -1)
            if pos < 0:
                raise CommandError("failure: no such item (place-before)")
        table.insert(pos, {".id": item_id, **props})
        return item_id

    @staticmethod
    def _props(item: dict[str, str]) -> str:
        return " ".join(f"{k}={quote(v)}" for k, v in sorted(item.items()) if k != ".id")

    @property
    def running_config(self) -> str:
        with self.lock:
            # (a router prints the time of the export; the emulator the time it started, so that an unchanged
            # device prints the same text)
            out = [f"# {self.started} by RouterOS {ROS_VERSION}", "# software id = EMU0-0000", "#"]
            out += self.other
            for menu in MENUS:
                out += [f"/{' '.join(menu)} add {self._props(it)}" for it in self.items[menu]]
            return "\n".join(out) + "\n"

    def op25b_items(self) -> list[str]:
        """Every item op25b owns, as ``/menu add ...`` lines (tests compare them)."""
        with self.lock:
            return [
                f"/{' '.join(m)} add {self._props(it)}"
                for m in MENUS
                for it in self.items[m]
                if owner_version(it) is not None
            ]

    # -- commands ----------------------------------------------------------------------------------------
    def run(self, line: str) -> str:
        """Run one console line; returns what the router prints."""
        text = line.strip()
        if not text:
            return ""
        self.record(text)
        if text in ("/export", "/export terse"):
            return self.running_config
        put = _PUT_STATS.fullmatch(text)
        if put is not None:
            return print_as_value_stats(self, tuple(put.group(1).split()), put.group(2))
        cmds, bad = commands(text)
        if bad or len(cmds) != 1:
            return "syntax error (line 1 column 1)\n"
        c = cmds[0]
        if c.path not in self.items:
            return f"bad command name {c.path[-1] if c.path else text} (line 1 column 2)\n"
        if c.verb == "print" and "stats" in c.bare:
            return print_stats(self, c.path, c.bare)
        if c.verb == "print":
            if set(c.bare) - {"terse", "show-ids", "without-paging"}:
                return "expected end of command (line 1 column 1)\n"
            with self.lock:
                return "".join(f"{it['.id']} {self._props(it)}\n" for it in self.items[c.path])
        if c.verb not in ("add", "remove"):
            return f"bad command name {c.verb} (line 1 column 1)\n"
        self.faults.strike("commit", self.stop_event, applied=False)
        try:
            with self.lock:
                out = self._add(c.path, c.props, text) if c.verb == "add" else self._remove(c.path, c.bare)
        except CommandError as exc:
            return f"{exc}\n"
        self.faults.strike("commit", self.stop_event, applied=True)
        return out

    def _add(self, menu: tuple[str, ...], props: dict[str, str], text: str) -> str:
        if self.faults.rejects(text):
            raise CommandError("failure: rejected by the router")
        props = dict(props)
        before = props.pop("place-before", None)
        if menu[-1] == "address-list":
            if not props.get("list") or not props.get("address"):
                raise CommandError("failure: list and address are required")
        else:
            action = props.setdefault("action", "accept")
            if not props.get("chain"):
                raise CommandError("failure: chain not specified")
            if action not in _ACTIONS:
                col = text.find("action=") + 1
                raise CommandError(f"input does not match any value of action (line 1 column {col})")
            if action == "jump" and not props.get("jump-target"):
                raise CommandError("failure: jump target not specified")
            ported = "dst-port" in props or "connection-limit" in props
            if ported and props.get("protocol") not in ("tcp", "udp", "6"):
                raise CommandError("failure: dst-port or connection-limit requires protocol tcp or udp")
        self._insert(menu, props, before)
        return ""

    def _remove(self, menu: tuple[str, ...], bare: list[str]) -> str:
        ids = {i for w in bare for i in w.split(",") if i}
        table = self.items[menu]
        known = {it[".id"] for it in table}
        if not ids or ids - known:
            raise CommandError("failure: no such item")
        self.items[menu] = [it for it in table if it[".id"] not in ids]
        return ""

    # -- SSH ---------------------------------------------------------------------------------------------
    def handle_channel(self, kind: str, chan: paramiko.Channel, arg: str) -> None:
        if kind == "exec":
            out = self.run(arg)
            chan.sendall(out.replace("\n", "\r\n").encode())
            chan.send_exit_status(0)
            return
        self.faults.strike("open", self.stop_event, applied=False)
        user = self.username
        prompt = f"[{user}@{self.hostname}] > "
        chan.sendall(
            f"\r\n\r\n  MikroTik RouterOS {ROS_VERSION} (c) 1999-2026       https://www.mikrotik.com/\r\n\r\n".encode()
        )
        chan.sendall(prompt.encode())
        for line in typed_lines(chan, self.stop_event):
            if line.strip() in ("/quit", "quit"):
                return
            out = self.run(line)
            if out:
                chan.sendall(out.replace("\n", "\r\n").encode())
            chan.sendall(prompt.encode())


_PUT_STATS = re.compile(r':put \[/((?:ip|ipv6) firewall filter) print as-value stats(?: where chain~"([^"]*)")?\]')


def _grouped(n: int) -> str:
    """A number as ``print stats`` shows it, in groups of three digits: ``50 507 925 242``."""
    return f"{n:,}".replace(",", " ")


def print_stats(emu: RouterosEmulator, menu: tuple[str, ...], bare: list[str]) -> str:
    """``<filter menu> print stats [terse] [show-ids] [without-paging]`` as the manual shows it (help.mikrotik.com,
    "Common Firewall Matchers and Actions", Stats)::

        Flags: X - disabled, I - invalid, D - dynamic
         #    CHAIN              ACTION      BYTES  PACKETS
         1    ;;; defconf: drop invalid
              forward            drop      432 270    9 719

    a column table whatever the modifiers (``stats`` ignores ``terse``: measured on RouterOS 7.20.8 for
    ``/interface print stats terse``, see :mod:`op25b_cfg.platforms.mikrotik_routeros.counters`), the numbers in
    groups of three digits: which is why op25b reads :func:`print_as_value_stats` instead."""
    if menu[-1] != "filter" or set(bare) - {"stats", "terse", "show-ids", "without-paging"}:
        return "expected end of command (line 1 column 1)\n"
    with emu.lock:
        head = f" #    {'CHAIN':<28} {'ACTION':<12} {'BYTES':>9} {'PACKETS':>8}"
        rows = ["Flags: X - disabled, I - invalid, D - dynamic", head]
        for n, it in enumerate(emu.items[menu]):
            packets, octets = emu.counters.get(it.get("chain", ""), it[".id"])
            flag = "X" if it.get("disabled") in ("yes", "true") else " "
            ident = it[".id"] if "show-ids" in bare else str(n)
            if it.get("comment"):
                rows.append(f"{ident:>2} {flag}  ;;; {it['comment']}")
                ident, flag = "", " "
            chain, action = it.get("chain", ""), it.get("action", "accept")
            rows.append(f"{ident:>2} {flag}  {chain:<28} {action:<12} {_grouped(octets):>9} {_grouped(packets):>8}")
        return "\n".join(rows) + "\n"


def print_as_value_stats(emu: RouterosEmulator, menu: tuple[str, ...], chain_regex: str | None) -> str:
    """``:put [<filter menu> print as-value stats where chain~"REGEX"]``: every item (whose chain the regex
    finds) as ``.id=*5;action=reject;bytes=600;chain=...;packets=10;...``: ``.id`` first, then its properties
    and the ``bytes`` and ``packets`` :attr:`RouterosEmulator.counters` holds in alphabetical order, values
    unquoted, the items' fields all joined by ``;`` on one line (the shape measured on RouterOS 7.20.8 for
    ``:put [/interface/print as-value stats]``, see :mod:`op25b_cfg.platforms.mikrotik_routeros.counters`)."""
    try:
        found = re.compile(chain_regex or "")
    except re.error:
        return "syntax error (line 1 column 1)\n"
    with emu.lock:
        fields = []
        for it in emu.items[menu]:
            chain = it.get("chain", "")
            if not found.search(chain):
                continue
            packets, octets = emu.counters.get(chain, it[".id"])
            props = {k: v for k, v in it.items() if k != ".id"} | {"bytes": str(octets), "packets": str(packets)}
            fields += [f".id={it['.id']}", *(f"{k}={v}" for k, v in sorted(props.items()))]
        return ";".join(fields) + "\n"


def filter_entries(emu: RouterosEmulator) -> list[tuple[int, str, list[tuple[str, str]]]]:
    """``(family, chain, [(*ID, properties as print terse shows them)])`` of every chain of both filter menus
    (the shape :func:`op25b_cfg.dialects.cisco_blocks.acl_entries` gives for Cisco-style ACLs)."""
    out: dict[tuple[int, str], list[tuple[str, str]]] = {}
    with emu.lock:
        for family, menu in ((4, ("ip", "firewall", "filter")), (6, ("ipv6", "firewall", "filter"))):
            for it in emu.items[menu]:
                out.setdefault((family, it.get("chain", "")), []).append((it[".id"], emu._props(it)))
    return [(family, chain, rows) for (family, chain), rows in out.items()]


def default_config(hostname: str) -> str:
    """A RouterOS 7 PPPoE server before op25b: subscribers in interface list ``pppoe-subscribers``."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", hostname):
        hostname = "router"
    return f"""\
/interface vlan add interface=sfp-sfpplus1 name=vlan100-pppoe vlan-id=100
/interface vlan add interface=sfp-sfpplus2 name=vlan900-uplink vlan-id=900
/interface list add name=WAN
/interface list add name=pppoe-subscribers
/ip pool add name=pool-subscribers ranges=100.64.0.10-100.64.255.250
/ppp profile add interface-list=pppoe-subscribers local-address=100.64.0.1 name=subscribers \\
    remote-address=pool-subscribers
/interface pppoe-server server add default-profile=subscribers disabled=no interface=vlan100-pppoe
/interface list member add interface=vlan900-uplink list=WAN
/ip firewall filter add action=accept chain=forward comment="accept established,related" \\
    connection-state=established,related
/ip firewall filter add action=drop chain=forward comment="drop invalid" connection-state=invalid
/ip firewall filter add action=drop chain=input in-interface-list=WAN
/ipv6 firewall filter add action=accept chain=forward connection-state=established,related
/ipv6 firewall filter add action=drop chain=forward connection-state=invalid
/system identity set name={hostname}
"""


EMULATOR = RouterosEmulator
