"""Small pure functions on IP prefixes, used by the intent model, the rule builder and the auditor.

Everything here works on :mod:`ipaddress` networks; nothing does I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TypeAlias

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_prefix(text: str, family: int | None = None) -> Network:
    """Parse ``text`` as a prefix, strictly; a bare address becomes a host prefix.

    Raises ``ValueError`` with a message that says how to fix the value.

    >>> parse_prefix("192.0.2.0/24")
    IPv4Network('192.0.2.0/24')
    >>> parse_prefix("2001:db8::25")
    IPv6Network('2001:db8::25/128')
    >>> parse_prefix("192.0.2.1/24")
    Traceback (most recent call last):
    ...
    ValueError: '192.0.2.1/24' has host bits set; the network is 192.0.2.0/24
    >>> parse_prefix("2001:db8::/32", family=4)
    Traceback (most recent call last):
    ...
    ValueError: '2001:db8::/32' is an IPv6 prefix where an IPv4 one is expected; move it to the ipv6 list
    """
    if not isinstance(text, str):
        text = str(text)
    raw = text.strip()
    try:
        net = ipaddress.ip_network(raw, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(raw, strict=False)
        except ValueError:
            raise ValueError(f"'{raw}' is not an IP address or prefix ({exc})") from None
        raise ValueError(f"'{raw}' has host bits set; the network is {loose}") from None
    if family is not None and net.version != family:
        want, got = ("IPv4", "IPv6") if family == 4 else ("IPv6", "IPv4")
        dest = "ipv6" if net.version == 6 else "ipv4"
        raise ValueError(f"'{raw}' is an {got} prefix where an {want} one is expected; move it to the {dest} list")
    return net


def overlaps(a: Network, b: Network) -> bool:
    """True when the two prefixes share any address (never across families).

    >>> overlaps(parse_prefix("10.0.0.0/8"), parse_prefix("10.1.0.0/16"))
    True
    >>> overlaps(parse_prefix("10.0.0.0/8"), parse_prefix("2001:db8::/32"))
    False
    """
    return a.version == b.version and a.overlaps(b)


def intersect(a: Network, b: Network) -> Network | None:
    """The intersection of two prefixes (the longer one), or None.

    >>> intersect(parse_prefix("10.0.0.0/8"), parse_prefix("10.1.0.0/16"))
    IPv4Network('10.1.0.0/16')
    >>> intersect(parse_prefix("10.0.0.0/16"), parse_prefix("10.1.0.0/16")) is None
    True
    """
    if not overlaps(a, b):
        return None
    return a if a.prefixlen >= b.prefixlen else b


def exclude(prefixes: Iterable[Network], holes: Iterable[Network]) -> list[Network]:
    """``prefixes`` minus ``holes``, as a sorted, collapsed list of prefixes.

    >>> [str(n) for n in exclude([parse_prefix("10.0.0.0/30")], [parse_prefix("10.0.0.1/32")])]
    ['10.0.0.0/32', '10.0.0.2/31']
    >>> exclude([parse_prefix("10.0.0.0/24")], [parse_prefix("10.0.0.0/16")])
    []
    """
    result: list[Network] = list(prefixes)
    for hole in holes:
        nxt: list[Network] = []
        for net in result:
            if not overlaps(net, hole):
                nxt.append(net)
            elif net.prefixlen >= hole.prefixlen:
                continue  # wholly inside the hole
            else:
                nxt.extend(net.address_exclude(hole))  # type: ignore[arg-type]
        result = nxt
    return collapse(result)


def collapse(prefixes: Iterable[Network]) -> list[Network]:
    """Sorted, merged prefixes, IPv4 first.

    >>> nets = [parse_prefix("10.0.1.0/24"), parse_prefix("10.0.0.0/24"), parse_prefix("2001:db8::/32")]
    >>> [str(n) for n in collapse(nets)]
    ['10.0.0.0/23', '2001:db8::/32']
    """
    items = list(prefixes)
    if len(items) <= 1:
        return items
    out: list[Network] = []
    for version in (4, 6):
        nets = sorted(
            ((int(n.network_address), int(n.broadcast_address), n) for n in items if n.version == version),
            key=lambda r: (r[0], -r[1]),
        )
        if not nets:
            continue
        # merge overlapping or adjacent ranges; a range that is exactly one input prefix keeps that object
        start, end, only = nets[0]
        single: Network | None = only
        for lo, hi, net in nets[1:]:
            if lo <= end + 1:
                if hi > end:
                    end, single = hi, None
                continue
            out += [single] if single is not None else _summarise(version, start, end)
            start, end, single = lo, hi, net
        out += [single] if single is not None else _summarise(version, start, end)
    return out


def _summarise(version: int, start: int, end: int) -> list[Network]:
    """The fewest prefixes covering the address range ``start``-``end``."""
    make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    return list(ipaddress.summarize_address_range(make(start), make(end)))


def wildcard(net: Network) -> str:
    """The Cisco wildcard (inverse) mask of an IPv4 prefix.

    >>> wildcard(parse_prefix("192.0.2.0/24"))
    '0.0.0.255'
    """
    return str(net.hostmask)
