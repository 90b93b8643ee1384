"""nftables: the counters of ``table inet op25b`` from ``nft -j list table inet op25b`` (libnftables JSON).

Each rule with a ``counter`` statement is one reading, identified by its address family and comment
(``ip block direct SMTP from dynamic pools``; ``handle N`` for a rule without a comment); a named counter
object (``counter NAME { }``) is one reading under its name, matched with the rule that references it. The
rule's matches (saddr/daddr as literals or sets, with the set elements from the same listing; tcp dport) and
verdict become its :class:`~op25b_cfg.rules.Rule` for attribution. The version id comes from the table's
comment (``op25b <policy> <version> mode <mode>``), which the JSON of nftables 1.0.6 leaves out, so the
text listing is read for it too.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import TYPE_CHECKING, Any

from op25b_cfg.effect.model import CounterReading
from op25b_cfg.errors import ConnectionError_, Op25bError
from op25b_cfg.rules import Action, AddrMatch, PortRange, Rule

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session

TABLE = "inet op25b"
_COMMENT = re.compile(r'^\s*comment "(op25b [^"]*)"', re.MULTILINE)


def _addrs(value: Any, sets: dict[str, list[Any]]) -> tuple[AddrMatch, ...]:
    """Address matches of a match's right-hand side (literal, prefix, range, anonymous or named set)."""
    if isinstance(value, str) and value.startswith("@"):
        return tuple(m for item in sets.get(value[1:], []) for m in _addrs(item, sets))
    if isinstance(value, dict) and "set" in value:
        return tuple(m for item in value["set"] for m in _addrs(item, sets))
    if isinstance(value, dict) and "prefix" in value:
        net = ipaddress.ip_network(f"{value['prefix']['addr']}/{value['prefix']['len']}", strict=False)
        return (AddrMatch.from_prefix(net),)
    if isinstance(value, dict) and "range" in value:
        lo, hi = (ipaddress.ip_address(v) for v in value["range"])
        return tuple(AddrMatch.from_prefix(n) for n in ipaddress.summarize_address_range(lo, hi))
    if isinstance(value, str):
        try:
            return (AddrMatch.from_prefix(ipaddress.ip_network(value, strict=False)),)
        except ValueError:
            return ()
    return ()


def _ports(value: Any) -> tuple[PortRange, ...]:
    if isinstance(value, int):
        return (PortRange(value, value),)
    if isinstance(value, dict) and "set" in value:
        return tuple(p for item in value["set"] for p in _ports(item))
    if isinstance(value, dict) and "range" in value:
        return (PortRange(int(value["range"][0]), int(value["range"][1])),)
    return ()


def rule_of(exprs: list[dict[str, Any]], sets: dict[str, list[Any]]) -> Rule | None:
    """The :class:`Rule` of one rule's expressions: family, tcp, addresses, destination ports, verdict."""
    family, protocol = 0, None
    src: tuple[AddrMatch, ...] = ()
    dst: tuple[AddrMatch, ...] = ()
    ports: tuple[PortRange, ...] = ()
    action: Action | None = None
    limited = False
    for expr in exprs:
        (kind, body), *_ = expr.items()
        if kind == "match" and isinstance(body, dict):
            left = body.get("left", {})
            payload = left.get("payload", {}) if isinstance(left, dict) else {}
            proto, fld = payload.get("protocol"), payload.get("field")
            if proto in ("ip", "ip6"):
                family = 4 if proto == "ip" else 6
                if fld == "saddr":
                    src = _addrs(body.get("right"), sets)
                elif fld == "daddr":
                    dst = _addrs(body.get("right"), sets)
            elif proto == "tcp":
                protocol = 6
                if fld == "dport":
                    ports = _ports(body.get("right"))
            elif isinstance(left, dict) and left.get("meta", {}).get("key") == "nfproto":
                family = 4 if body.get("right") == "ipv4" else 6
        elif kind in ("set", "meter", "limit"):
            limited = True
        elif kind == "accept":
            action = Action.PERMIT
        elif kind in ("drop", "reject"):
            action = Action.DENY
    if action is None or not family:
        return None
    if limited and action is Action.DENY:
        action = Action.LIMIT
    return Rule(action, family, protocol, src=src, dst=dst, dst_ports=ports)


def parse_json_listing(text: str, filter_name: str = TABLE) -> list[CounterReading]:
    """Readings from ``nft -j list table inet op25b`` output (see the module doc).

    >>> doc = {"nftables": [{"set": {"name": "P4", "elem": [{"prefix": {"addr": "100.64.0.0", "len": 16}}]}},
    ...   {"rule": {"chain": "subscriber", "handle": 9, "comment": "block direct SMTP", "expr": [
    ...     {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@P4"}},
    ...     {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 25}},
    ...     {"counter": {"packets": 3, "bytes": 180}}, {"reject": {"type": "tcp reset"}}]}}]}
    >>> [(r.counter, r.packets, r.rule.action.value, str(r.rule.src[0])) for r in parse_json_listing(json.dumps(doc))]
    [('ip block direct SMTP', 3, 'deny', '100.64.0.0/16')]
    """
    try:
        items = json.loads(text).get("nftables", [])
    except (ValueError, AttributeError):
        raise Op25bError("nft -j list table inet op25b: the answer is not nftables JSON") from None
    sets = {s["set"]["name"]: s["set"].get("elem", []) for s in items if isinstance(s, dict) and "set" in s}
    named = {
        c["counter"]["name"]: c["counter"] for c in items if isinstance(c, dict) and isinstance(c.get("counter"), dict)
    }
    out: list[CounterReading] = []
    used: set[str] = set()
    for item in items:
        rule = item.get("rule") if isinstance(item, dict) else None
        if not isinstance(rule, dict):
            continue
        exprs = [e for e in rule.get("expr", []) if isinstance(e, dict) and e]
        model = rule_of(exprs, sets)
        for expr in exprs:
            counter = expr.get("counter", ...)
            if counter is ...:
                continue
            if isinstance(counter, str):  # a reference to a named counter object
                obj = named.get(counter)
                if obj is not None:
                    used.add(counter)
                    out.append(CounterReading(filter_name, counter, int(obj["packets"]), int(obj["bytes"]), model))
                continue
            if not isinstance(counter, dict):
                continue
            fam = {4: "ip ", 6: "ip6 "}.get(model.family if model is not None else 0, "")
            ident = f"{fam}{rule['comment']}" if rule.get("comment") else f"handle {rule.get('handle')}"
            out.append(CounterReading(filter_name, ident, int(counter["packets"]), int(counter["bytes"]), model))
    for name, obj in named.items():  # named counters no rule references (still OP25B counters)
        if name not in used:
            out.append(CounterReading(filter_name, name, int(obj["packets"]), int(obj["bytes"])))
    return out


def read(session: Session) -> list[CounterReading]:
    """Both listings through the Linux session (as root); no op25b table gives no readings."""

    def run(exec_: Any) -> tuple[str, str]:
        return exec_(f"nft list table {TABLE}"), exec_(f"nft -j list table {TABLE}")

    try:
        text, listing = session.query("read counters (nft -j list table inet op25b)", run)
    except ConnectionError_:
        raise
    except Op25bError as exc:
        if "No such file or directory" in str(exc):
            return []
        raise
    comment = _COMMENT.search(text)
    return parse_json_listing(listing, f"{TABLE} {comment.group(1)}" if comment else TABLE)
