"""MikroTik RouterOS: per-rule counters of op25b's chains from the ``stats`` of ``/ip|ipv6 firewall filter``.

What the router counts: MikroTik's manual ("Common Firewall Matchers and Actions", Stats,
help.mikrotik.com/docs/display/ROS/Common+Firewall+Matchers+and+Actions): "To view matching statistics by
firewall rules, run the /ip/firewall/filter/print stats command or /ipv6/firewall/filter/print stats for IPv6
firewall", with the properties ``bytes`` ("The total amount of bytes matched by the rule") and ``packets``.

How op25b reads them: not ``print stats``. The manual shows its output as a column table whose numbers are
grouped by spaces (``forward drop 432 270 9 719``: bytes and packets cannot be told apart once the columns
are gone), and ``terse`` does not change it: a public RouterOS client measured on RouterOS 7.20.8 that
``/interface/print stats terse without-paging`` prints byte for byte what ``print stats`` prints (a column
table, no ``key=`` tokens), and reads the counters with ``:put [/interface/print as-value stats]`` instead,
whose real answer is one line of ``key=value`` fields joined by ``;``, each item's ``.id`` first, then its
fields in alphabetical order, values unquoted (``.id=*2;disabled=false;name=ether1;...;rx-byte=79740110494;
...;.id=*3;...``). op25b asks the same way per filter menu, only for its own chains::

    :put [/ip firewall filter print as-value stats where chain~"^OP25B-"]
    .id=*5;action=reject;bytes=600;chain=OP25B-V4-1a2b3c4d;comment=op25b 1a2b3c4d ...;packets=10;...

Verified against RouterOS: the table of ``print stats`` (the manual) and the ``as-value stats`` shape (the
measurement above, for ``/interface``); assumed: that ``/ip firewall filter`` prints the same shape with
``bytes`` and ``packets`` (mktxp, the RouterOS Prometheus exporter, reads these two keys from the API's
``print`` with ``stats`` of the same menu: github.com/akpw/mktxp ``datasource/firewall_ds.py``). op25b's own
comments hold no ``;``; a record whose ``.id`` the rule listing does not show is not read.

What a rule matches is read from ``print terse show-ids`` of the same menu (the listing op25b's session reads
for its make-before-break) and of the address lists it names, with the RouterOS config parser's rule reader,
so :mod:`op25b_cfg.effect.attribute` can tell the pool and purpose of each counter; the answers are joined by
``*ID``. Each verdict rule (accept, return, drop, reject, tarpit) of a chain named ``OP25B-...`` is one
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


def stats_command(menu: str, prefix: str = "OP25B-") -> str:
    """The command that prints the stats of op25b's chains of a filter menu (see the module doc).

    >>> stats_command("/ip firewall filter")
    ':put [/ip firewall filter print as-value stats where chain~"^OP25B-"]'
    """
    return f':put [{menu} print as-value stats where chain~"^{prefix}"]'


def as_value_records(text: str) -> list[dict[str, str]]:
    """The items of a ``:put [... print as-value ...]`` answer: its ``;``-joined ``key=value`` fields, a new item
    at each ``.id``.

    >>> as_value_records(".id=*5;action=reject;packets=10;.id=*6;comment=op25b x;packets=0")
    [{'.id': '*5', 'action': 'reject', 'packets': '10'}, {'.id': '*6', 'comment': 'op25b x', 'packets': '0'}]
    """
    records: list[dict[str, str]] = []
    for field in text.replace("\r", "").replace("\n", "").split(";"):
        key, sep, value = field.partition("=")
        if not sep or not key:
            continue
        if key == ".id":
            records.append({})
        if records:
            records[-1][key] = value
    return records


def parse_stats(lists: str, rules: str, stats: str, family: int, prefix: str = "OP25B-") -> list[CounterReading]:
    """Readings of one family from the answers to ``<list menu> print terse show-ids``, ``<filter menu> print
    terse show-ids`` and :func:`stats_command` (see the module doc).

    >>> lists = '*1 address=100.65.0.0/16 list=OP25B-POOL-V4-1a2b3c4d'
    >>> rules = ('*5 action=reject chain=OP25B-V4-1a2b3c4d dst-port=25 protocol=tcp'
    ...          ' src-address-list=OP25B-POOL-V4-1a2b3c4d')
    >>> stats = '.id=*5;action=reject;bytes=600;chain=OP25B-V4-1a2b3c4d;dst-port=25;packets=10;protocol=tcp'
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
    for counted in as_value_records(stats):
        item_id = counted.get(".id", "")
        rule_cmd = matches.get(item_id)
        if rule_cmd is None:  # not a rule the listing shows (disabled, or not one item's fields)
            continue
        have = {**counted, **rule_cmd.props}
        chain, action = have.get("chain", ""), have.get("action", "accept")
        if not chain.upper().startswith(prefix.upper()) or action in _NO_VERDICT or action == "jump":
            continue
        if action == "return" and "dst-limit" in have:
            continue
        packets, octets = counted.get("packets", ""), counted.get("bytes", "")
        if not (packets.isdigit() and octets.isdigit()):
            continue
        raw = _Raw(rule_cmd.line, rule_cmd.text, family, chain, dict(rule_cmd.props))
        try:
            rule = _build_rule(cfg, raw, Action.DENY if action in _DENY else Action.PERMIT, None)
        except (_Never, _NotUnderstood):
            rule = None
        out.append(CounterReading(chain, item_id, int(packets), int(octets), rule))
    return out


def read(session: Session) -> list[CounterReading]:
    """Ask the router over the session's exec channels (:meth:`.session.RouterosSession.query`), both families."""

    def ask(run: Callable[[str], str]) -> list[tuple[int, str, str, str]]:
        return [
            (
                family,
                run(f"{lists} print terse show-ids without-paging"),
                run(f"{rules} print terse show-ids without-paging"),
                run(stats_command(rules)),
            )
            for family, (lists, rules) in MENUS.items()
        ]

    answers = session.query("read counters (print as-value stats)", ask)
    return [r for family, lists, rules, stats in answers for r in parse_stats(lists, rules, stats, family)]
