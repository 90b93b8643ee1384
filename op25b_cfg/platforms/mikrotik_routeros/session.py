"""The RouterOS :class:`~op25b_cfg.connection.base.Session`: netmiko ``mikrotik_routeros`` over SSH.

napalm-ros (the RouterOS API through librouteros) has getters only, no ``load_merge_candidate`` or
``commit_config``, so op25b pushes over the SSH console like the Linux session: netmiko logs in (host key,
authentication, the console prompt) and every command then runs on its own exec channel of that connection
(exact output, no prompt parsing; each one bounded by ``--timeout``). Connection handling, host keys, error
mapping and timeouts are the Linux session's (:class:`~op25b_cfg.connection.linux.LinuxNftSession`).

What op25b owns is every item whose comment starts with ``op25b <version>``; the session replaces that block as a
whole (``atomic_replace``), make-before-break:

=============  ==========================================================================================
get_running    ``/export terse``
load_candidate read the rendered block into items (nothing is sent)
diff           unified diff of op25b's items on the router against the candidate's ('' = in place)
commit         add the new address-list entries, then the new chain's rules, then the ``forward`` jumps placed
               before the first ``forward`` rule (``place-before=*ID`` from ``print terse show-ids``); then
               remove the old version's jumps, chain rules and entries (in that order: nothing jumps to a
               half-removed chain). A same-version repair first builds the block under a temporary version,
               removes the drifted one, builds it again and removes the temporary one
rollback       the same procedure back to the op25b items read before the commit (none: all removed)
=============  ==========================================================================================

No commit-confirm: RouterOS "safe mode" (Ctrl-X) belongs to one interactive console and undoes changes when that
console drops, which a per-command exec session cannot hold; op25b instead audits after the change and rolls back
itself, make-before-break, so the device is never without its filter.
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from op25b_cfg.connection.base import Session
from op25b_cfg.connection.linux import LinuxNftSession
from op25b_cfg.errors import PushError
from op25b_cfg.platforms.mikrotik_routeros.parser import commands
from op25b_cfg.platforms.mikrotik_routeros.syntax import owner_version, quote

log = logging.getLogger(__name__)

T = TypeVar("T")

_LISTS = {4: "/ip firewall address-list", 6: "/ipv6 firewall address-list"}
_FILTERS = {4: "/ip firewall filter", 6: "/ipv6 firewall filter"}
_MENUS = {"ip firewall address-list", "ip firewall filter", "ipv6 firewall address-list", "ipv6 firewall filter"}
_ERROR = re.compile(r"^(failure:|syntax error|expected |bad command|input does not match|no such item)", re.M)


@dataclass(frozen=True)
class Item:
    """One item op25b owns: its menu (``ip firewall filter``...) and properties (without ``.id``)."""

    menu: str
    props: tuple[tuple[str, str], ...]

    @property
    def version(self) -> str:
        return owner_version(dict(self.props)) or ""

    @property
    def is_jump(self) -> bool:
        return dict(self.props).get("chain") == "forward"

    def line(self) -> str:
        return f"/{self.menu} add " + " ".join(f"{k}={quote(v)}" for k, v in self.props)

    def renamed(self, old: str, new: str) -> Item:
        """The same item under version ``new`` (names and comment), for a same-version repair."""
        sub = re.compile(rf"(?<=-){re.escape(old)}$|(?<=^op25b ){re.escape(old)}(?= |$)")
        return Item(self.menu, tuple((k, sub.sub(new, v)) for k, v in self.props))


def owned_items(text: str) -> list[Item]:
    """The items op25b owns in an export (or a rendered block), in table order per menu.

    >>> [i.version for i in owned_items('/ip firewall filter add chain=x comment="op25b 1a2b3c4d mta"')]
    ['1a2b3c4d']
    """
    cmds, _ = commands(text)
    out = []
    for c in cmds:
        menu = " ".join(c.path)
        if menu in _MENUS and c.verb == "add" and owner_version(c.props) is not None:
            props = dict(c.props)
            if menu.endswith("filter"):
                props.setdefault("action", "accept")
            if props.get("disabled") == "no":
                del props["disabled"]
            out.append(Item(menu, tuple(sorted(props.items()))))
    return out


def _norm(key: str, value: str) -> str:
    """A property value in one spelling whatever the router prints (``192.0.2.25`` / ``192.0.2.25/32``, IPv6 case,
    port order), for comparing what runs with the candidate.

    >>> _norm("address", "2001:DB8::25"), _norm("address", "192.0.2.25/32"), _norm("dst-port", "587,465")
    ('2001:db8::25/128', '192.0.2.25/32', '465,587')
    """
    if key == "address":
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            return value
    if key in ("dst-port", "src-port") and re.fullmatch(r"[0-9,-]+", value):
        return ",".join(sorted(value.split(","), key=lambda p: int(p.split("-")[0])))
    return value


def canonical(items: list[Item]) -> list[str]:
    """Items in the order the rendered block lists them: per menu, address lists, chain rules, forward jumps
    (on the router the jumps sit before the chain rules in the table; the order within each group counts)."""
    rank = {m: n for n, m in enumerate(sorted(_MENUS))}
    order = sorted(range(len(items)), key=lambda n: (rank[items[n].menu], items[n].is_jump, n))
    return [f"/{items[n].menu} add " + " ".join(f"{k}={quote(_norm(k, v))}" for k, v in items[n].props) for n in order]


class RouterosSession(LinuxNftSession):
    """One SSH session to a RouterOS router (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._want: list[Item] | None = None
        self._before: list[Item] | None = None

    def pass_lock_to(self, other: Session) -> None:
        """Also hand the reconnected session the op25b items read before the commit, so that it can roll back
        a commit whose connection dropped half-way."""
        super().pass_lock_to(other)
        if isinstance(other, RouterosSession):
            other._before, other._want = self._before, self._want

    @property
    def _port(self) -> int:
        """The ``netmiko`` connection option's port, else the ``napalm`` one (what the emulator lab writes for
        every emulated router), else the inventory's."""
        opts = self.device.connection_options
        plugin = opts.get("netmiko") or opts.get("napalm")
        return self.opts.port or (plugin.port if plugin is not None else None) or self.device.port or 22

    def _connect_args(self) -> dict[str, Any]:
        args = super()._connect_args()
        args["device_type"] = "mikrotik_routeros"
        return args

    def _preflight(self) -> None:
        """Nothing to prepare: RouterOS runs each command on its own exec channel."""

    def _ros(self, cmd: str, step: str) -> str:
        """Run one RouterOS command; PushError with the router's message when it refuses it."""
        _rc, out, err = self._call(cmd, step)
        out = out.replace("\r\n", "\n")
        m = _ERROR.search(out + err)
        if m:
            msg = (out + err)[m.start() :].splitlines()[0]
            raise PushError(f"{self._where}: {step}: the router refused `{cmd[:160]}`: {msg}")
        return out

    # ------------------------------------------------------------ the Session interface

    def get_running(self) -> str:
        return self._ros("/export terse", "read the running config")

    def load_candidate(self, text: str) -> None:
        self._want = owned_items(text)

    def diff(self) -> str:
        if self._want is None:
            raise PushError(f"{self._where}: no candidate loaded")
        have = canonical(owned_items(self.get_running()))
        want = canonical(self._want)
        if have == want:
            return ""
        return "".join(difflib.unified_diff([h + "\n" for h in have], [w + "\n" for w in want], "running", "candidate"))

    def discard(self) -> None:
        self._want = None

    def commit(self, revert_seconds: int | None) -> None:
        if self._want is None:
            raise PushError(f"{self._where}: no candidate loaded")
        self._before = owned_items(self.get_running())
        self._converge(self._want, "commit")

    def confirm(self) -> None:
        """No revert timer on RouterOS (see the module docstring)."""

    def rollback(self) -> None:
        if self._before is None:
            raise PushError(f"{self._where}: nothing to roll back")
        self._converge(self._before, "rollback")

    # ------------------------------------------------------------ make-before-break

    def _converge(self, want: list[Item], step: str) -> None:
        """Make op25b's items on the router exactly ``want``, never leaving the router without a complete chain
        for the jumps in place."""
        have = owned_items(self.get_running())
        if canonical(have) == canonical(want):
            return
        versions = {i.version for i in want}
        if canonical([i for i in have if i.version in versions]) == canonical(want):
            self._remove({i.version for i in have} - versions, step)  # already there (a rollback mid-install)
            return
        if versions & {i.version for i in have}:  # the same names: build a temporary copy first
            taken = {i.version for i in have} | versions
            tmp = next(f"{v}r{n}" for n in range(1, 100) for v in sorted(versions) if f"{v}r{n}" not in taken)
            staged = [i.renamed(i.version, tmp) for i in want]
            self._install(staged, step)
            self._remove({i.version for i in have}, step)
            self._install(want, step)
            self._remove({tmp}, step)
            return
        self._install(want, step)
        self._remove({i.version for i in have}, step)

    def _install(self, items: list[Item], step: str) -> None:
        """Address lists, then chain rules (appended), then the forward jumps before the first forward rule."""
        for item in [i for i in items if i.menu.endswith("address-list")]:
            self._ros(item.line(), step)
        for item in [i for i in items if i.menu.endswith("filter") and not i.is_jump]:
            self._ros(item.line(), step)
        for fam, menu in _FILTERS.items():
            jumps = [i for i in items if f"/{i.menu}" == menu and i.is_jump]
            if not jumps:
                continue
            table = self._table(menu, step)
            first = next((item_id for item_id, props in table if props.get("chain") == "forward"), None)
            for item in jumps:
                self._ros(item.line() + (f" place-before={first}" if first else ""), step)
            log.debug("%s: IPv%d jumps placed before %s", self._where, fam, first)

    def _table(self, menu: str, step: str) -> list[tuple[str, dict[str, str]]]:
        """(``*ID``, properties) of every item of ``menu`` in table order."""
        out = []
        for line in self._ros(f"{menu} print terse show-ids", step).splitlines():
            item_id, _, rest = line.strip().partition(" ")
            if not item_id.startswith("*"):
                continue
            cmds, _ = commands(f"{menu} add {rest}")
            out.append((item_id, cmds[0].props if cmds else {}))
        return out

    def _remove(self, versions: set[str], step: str) -> None:
        """Remove every op25b item of ``versions``: the forward jumps first, then the chains, then the lists."""
        order = [(m, jumps) for jumps in (True, False) for m in _FILTERS.values()]
        order += [(m, False) for m in _LISTS.values()]
        for menu, jumps in order:
            ids = [
                item_id
                for item_id, props in self._table(menu, step)
                if owner_version(props) in versions and (props.get("chain") == "forward") == jumps
            ]
            if ids:
                self._ros(f"{menu} remove {','.join(ids)}", step)

    def query(self, step: str, fn: Callable[[Any], T]) -> T:
        """``fn(run)``, where ``run(cmd)`` runs one RouterOS command on its own exec channel under the deadline
        and returns what the router printed (:class:`~op25b_cfg.errors.PushError` when it refuses the command);
        see :meth:`Session.query`."""
        return fn(lambda cmd: self._ros(cmd, step))
