"""MikroTik RouterOS: per-rule counters of op25b's chains from ``print stats`` of ``/ip|ipv6 firewall filter``.

What the router prints (``print stats``: one row per rule, the ``bytes`` and ``packets`` it matched; with
``terse show-ids`` one line per rule, ``*ID`` first, then ``key=value`` pairs)::

    *1A chain=OP25B-V4-1a2b3c4d action=reject bytes=268260 packets=4471

MikroTik's manual ("Common Firewall Matchers and Actions", Stats): "To view matching statistics by firewall
rules, run the /ip/firewall/filter/print stats command or /ipv6/firewall/filter/print stats for IPv6
firewall", with the properties ``bytes`` ("The total amount of bytes matched by the rule") and ``packets``.

The manual shows ``print stats`` as a table only; op25b asks for the terse form and reads the ``bytes=`` and
``packets=`` of each ``*ID`` line (never checked against a router, like the rest of this platform: see the
README). What a rule matches is read from ``print terse show-ids`` of the same menu (the listing op25b's
session reads for its make-before-break) and of the address lists it names, with the RouterOS config parser's
rule reader, so :mod:`op25b_cfg.effect.attribute` can tell the pool and purpose of each counter; the listings
are joined by ``*ID``. Each verdict rule (accept, return, drop, reject, tarpit) of a chain named ``OP25B-...`` is one
:class:`CounterReading` whose counter id is its ``*ID``. Left out: ``action=log`` (it only logs, at most
10 a minute) and the flow-control ``return`` with ``dst-limit`` (it counts the connections under the rate,
not limit hits: those are the ``reject`` rules after it and the ``connection-limit`` reject).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from op25b_cfg.effect.model import CounterReading
from op25b_cfg.rules import Action

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session

MENUS = {
    4: ("/ip firewall address-list", "/ip firewall filter"),
    6: ("/ipv6 firewall address-list", "/ipv6 firewall filter"),
}
"""Per address family: the address-list menu and the filter menu."""


def listing(text: str) -> list[tuple[str, str, str]]:
    """(``*ID``, flags, ``key=value ...``) of each line of a ``print terse show-ids`` answer.

    >>> listing(' *1A X chain=OP25B-V4-1 action=reject\\n*2 list=L address=192.0.2.1\\n')
    [('*1A', 'X', 'chain=OP25B-V4-1 action=reject'), ('*2', '', 'list=L address=192.0.2.1')]
    """
    out = []
    for line in text.splitlines():
        item_id, _, rest = line.strip().partition(" ")
        if not item_id.startswith("*"):
            continue
        words = rest.split(" ")
        flags = words[0] if words and words[0] and "=" not in words[0] else ""
        out.append((item_id, flags, rest[len(flags) :].strip()))
    return out


def parse_stats(lists: str, rules: str, stats: str, family: int, prefix: str = "OP25B-") -> list[CounterReading]:
    """Readings of one family from the answers to ``<list menu> print terse show-ids``, ``<filter menu> print
    terse show-ids`` and ``<filter menu> print stats terse show-ids`` (see the module doc).

    >>> lists = '*1 address=100.65.0.0/16 list=OP25B-POOL-V4-1a2b3c4d'
    >>> rules = ('*5 action=reject chain=OP25B-V4-1a2b3c4d dst-port=25 protocol=tcp'
    ...          ' src-address-list=OP25B-POOL-V4-1a2b3c4d')
    >>> stats = '*5 chain=OP25B-V4-1a2b3c4d action=reject bytes=600 packets=10'
    >>> [(r.counter, r.packets, r.bytes, str(r.rule.src[0].prefix())) for r in parse_stats(lists, rules, stats, 4)]
    [('*5', 10, 600, '100.65.0.0/16')]
    """
    from op25b_cfg.platforms.mikrotik_routeros.parser import (
        _DENY,
        _NO_VERDICT,
        _build_rule,
        _Never,
        _NotUnderstood,
        _Raw,
        _read,
        commands,
    )

    list_menu, filter_menu = MENUS[family]
    export = [f"{list_menu} add {props}" for _, flags, props in listing(lists) if "X" not in flags]
    cfg = _read(commands("\n".join(export))[0])
    matches = {}
    for item_id, flags, props in listing(rules):
        cmds, _ = commands(f"{filter_menu} add {props}")
        if cmds and "X" not in flags:
            matches[item_id] = cmds[0]
    out: list[CounterReading] = []
    for item_id, _, props in listing(stats):
        cmds, _ = commands(f"{filter_menu} add {props}")
        if not cmds:
            continue
        counted = cmds[0].props
        rule_cmd = matches.get(item_id)
        have = {**counted, **(rule_cmd.props if rule_cmd is not None else {})}
        chain, action = have.get("chain", ""), have.get("action", "accept")
        if not chain.upper().startswith(prefix.upper()) or action in _NO_VERDICT or action == "jump":
            continue
        if action == "return" and "dst-limit" in have:
            continue
        rule = None
        if rule_cmd is not None:
            raw = _Raw(rule_cmd.line, rule_cmd.text, family, chain, dict(rule_cmd.props))
            try:
                rule = _build_rule(cfg, raw, Action.DENY if action in _DENY else Action.PERMIT, None)
            except (_Never, _NotUnderstood):
                rule = None
        packets = int(counted.get("packets", "0").replace(" ", "") or 0)
        octets = int(counted.get("bytes", "0").replace(" ", "") or 0)
        out.append(CounterReading(chain, item_id, packets, octets, rule))
    return out


def read(session: Session) -> list[CounterReading]:
    """Ask the router over the session's exec channels (:meth:`.session.RouterosSession.query`), both families."""

    def ask(run: Callable[[str], str]) -> list[tuple[int, str, str, str]]:
        return [
            (
                family,
                run(f"{lists} print terse show-ids without-paging"),
                run(f"{rules} print terse show-ids without-paging"),
                run(f"{rules} print stats terse show-ids without-paging"),
            )
            for family, (lists, rules) in MENUS.items()
        ]

    answers = session.query("read counters (print stats)", ask)
    return [r for family, lists, rules, stats in answers for r in parse_stats(lists, rules, stats, family)]
