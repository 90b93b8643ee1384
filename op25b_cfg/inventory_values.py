"""The intent's vocabulary and the checks of single values: file names, modes, attachment kinds, safe names and
texts, host names, prefixes, port ranges, connect delays. Pure functions without pydantic: the validating models
(:mod:`op25b_cfg.inventory_schema`) use them as field validators, the loader on names it reads itself."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from op25b_cfg.errors import cut
from op25b_cfg.netaddr import Network, parse_prefix
from op25b_cfg.rules import MAX_CONNECT_DELAY, SYN_RETRANSMISSIONS

POLICY_FILE = "policy.yaml"
HOSTS_FILE = "hosts.yaml"
GROUPS_FILE = "groups.yaml"
DEFAULTS_FILE = "defaults.yaml"

Mode = Literal["block", "targeted", "flow-control"]
MODES: tuple[str, ...] = ("block", "targeted", "flow-control")
Direction = Literal["in", "out"]
AttachKind = Literal[
    "interface", "interface-list", "virtual-template", "dynamic-template", "unit", "dynamic-profile", "nft-forward"
]

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}")
_SAFE_TEXT = re.compile(r"[A-Za-z0-9 _.:/,()+#@=-]{0,120}")
_DNS_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")
"""Dotted-quad IPv4 text that :func:`ipaddress.ip_address` accepts (no leading zeros, ASCII digits): a match is
an address without the call (a 10,000-host inventory's hostnames: 0.1 s of CPU)."""
_NOT_IPV4_CHAR = re.compile(r"[^0-9.]")


def not_text(what: str, value: object) -> str:
    """The message for a value YAML did not read as text (``no`` -> False, ``1:30`` -> 90, ``on`` -> True).

    >>> not_text("a name", False)
    'expected a name (text), but YAML read False (bool). Fix: quote it ("no", "on", "1:30" are not text to YAML)'
    """
    return (
        f"expected {what} (text), but YAML read {cut(value)} ({type(value).__name__}). Fix: quote it"
        ' ("no", "on", "1:30" are not text to YAML)'
    )


def safe_name(value: object) -> str:
    """Validate a name that reaches device config (ACL names, interface names, pool names).

    >>> safe_name("GigabitEthernet0/0/1.100")
    'GigabitEthernet0/0/1.100'
    >>> safe_name("x\\nno ip access-list")
    Traceback (most recent call last):
    ...
    ValueError: 'x\\nno ip access-list' is not a safe name. Fix: use 1-64 letters, digits and _ . : / - ...
    """
    if not isinstance(value, str):
        raise ValueError(not_text("a name", value))
    if not _SAFE_NAME.fullmatch(value):
        raise ValueError(
            f"{cut(value)!r} is not a safe name. Fix: use 1-64 letters, digits and _ . : / - starting with a letter or"
            " digit (spaces, newlines, quotes, braces and semicolons could inject device commands)"
        )
    return value


def safe_text(value: object) -> str:
    """Validate free text (descriptions, remarks) that reaches device config.

    >>> safe_text("Tokyo east BRAS (PPPoE)")
    'Tokyo east BRAS (PPPoE)'
    >>> safe_text('evil"; flush ruleset')
    Traceback (most recent call last):
    ...
    ValueError: 'evil"; flush ruleset' is not safe description text. Fix: ...
    """
    if not isinstance(value, str):
        raise ValueError(not_text("text", value))
    if not _SAFE_TEXT.fullmatch(value):
        raise ValueError(
            f"{cut(value)!r} is not safe description text. Fix: use up to 120 letters, digits, spaces and"
            " _ . : / , ( ) + # @ = - (no newlines, quotes, braces or semicolons)"
        )
    return value


def host_name(value: object) -> str:
    """A management address: an IPv4/IPv6 address or a DNS name (RFC 1123 labels; not all-numeric at the end).

    >>> host_name("bras1.tokyo.example.net"), host_name("2001:db8::11")
    ('bras1.tokyo.example.net', '2001:db8::11')
    >>> host_name("192.0.2.300")
    Traceback (most recent call last):
    ...
    ValueError: '192.0.2.300' is neither an IP address nor a DNS name (an all-numeric last label). Fix: ...
    """
    if not isinstance(value, str):
        raise ValueError(not_text("a host name or address", value))
    if _IPV4.fullmatch(value):
        return value
    # ipaddress reads IPv6 only with a colon, IPv4 only from ASCII digits and dots: other text is no address
    if ":" in value or not _NOT_IPV4_CHAR.search(value):
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
    return _dns_name(value)


def _dns_name(value: str) -> str:
    """``value`` when it is a DNS name :func:`host_name` accepts, else a ValueError saying why and the fix."""
    name = value.removesuffix(".")
    labels = name.split(".")
    why = ""
    if not name or len(name) > 253:
        why = "1-253 characters"
    elif any(not _DNS_LABEL.fullmatch(label) for label in labels):
        why = "labels of 1-63 letters, digits and -, not starting or ending with -"
    elif labels[-1].isdigit():
        why = "an all-numeric last label"
    if why:
        raise ValueError(
            f"{cut(value)!r} is neither an IP address nor a DNS name ({why}). Fix: give the management address"
            " (192.0.2.11, 2001:db8::11) or its DNS name"
        )
    return value


def prefix_validator(family: int | None) -> Any:
    def check(value: object) -> Network:
        if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
            value = str(value)
        if not isinstance(value, str):
            raise ValueError(
                f"expected a prefix, got {type(value).__name__} {cut(value)!r}. Fix: write a prefix such as"
                " 192.0.2.0/24 or 2001:db8::/32 (quote IPv6 prefixes in YAML)"
            )
        try:
            return parse_prefix(value, family)
        except ValueError as exc:
            raise ValueError(_with_fix(str(exc))) from None

    return check


def _with_fix(msg: str) -> str:
    """Turn a :func:`parse_prefix` message into ``what. Fix: how`` (the form :class:`Problem` splits on)."""
    what, sep, how = msg.partition("; ")
    if "host bits set" in what and sep:
        net = how.removeprefix("the network is ")
        return f"{what}. Fix: write the network {net}, or the bare address for a single host"
    if sep:
        return f"{what}. Fix: {how}"
    return f"{msg}. Fix: write a prefix such as 192.0.2.0/24 or 2001:db8::/32, or a single address"


def port_range(value: object) -> tuple[int, int]:
    """``"LO-HI"`` (or one port) -> ``(LO, HI)`` with 1 <= LO <= HI <= 65535.

    >>> port_range("1024-65535"), port_range(25)
    ((1024, 65535), (25, 25))
    """
    if isinstance(value, tuple) and len(value) == 2:  # the default, or a value already validated
        value = f"{value[0]}-{value[1]}"
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    m = re.fullmatch(r"(\d{1,5})(?:\s*-\s*(\d{1,5}))?", text)
    lo, hi = (int(m.group(1)), int(m.group(2) or m.group(1))) if m else (0, -1)
    if not 1 <= lo <= hi <= 65535:
        raise ValueError(
            f"{value!r} is not a port range. Fix: write LO-HI with 1 <= LO <= HI <= 65535, e.g. 1024-65535"
        )
    return lo, hi


def attach_name(value: object) -> str:
    """An attachment name: a safe name, or a safe name followed by ``*`` (a wildcard, e.g. ``bond*``).

    >>> attach_name("ppp*"), attach_name("eth0")
    ('ppp*', 'eth0')
    """
    if isinstance(value, str) and value.endswith("*"):
        return safe_name(value[:-1]) + "*"
    return safe_name(value)


def connect_delay(value: object) -> int | None:
    """``flow_control.connect_delay_s``: whole seconds, 1 to :data:`MAX_CONNECT_DELAY`, or None (no delay).

    >>> connect_delay(3), connect_delay(None)
    (3, None)
    >>> connect_delay(64)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: connect_delay_s 64 is longer than a Linux client keeps sending its SYN ... Fix: use 1 to 63 seconds; ...
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"connect_delay_s must be a whole number of seconds, not {cut(value, 40)!r}."
            f" Fix: write e.g. 3 (1 to {MAX_CONNECT_DELAY}), or null for no delay"
        )
    steps = ", ".join(str(s) for s in SYN_RETRANSMISSIONS[:-1]) + f" or {SYN_RETRANSMISSIONS[-1]} s"
    if value < 1:
        raise ValueError(
            f"connect_delay_s {value} is not a delay. Fix: use 1 to {MAX_CONNECT_DELAY} seconds, or null (or leave"
            " it out) for no delay"
        )
    if value > MAX_CONNECT_DELAY:
        raise ValueError(
            f"connect_delay_s {value} is longer than a Linux client keeps sending its SYN (the last retransmission"
            f" is {MAX_CONNECT_DELAY} s after the first SYN with the default tcp_syn_retries=6): every delayed"
            f" connection would fail. Fix: use 1 to {MAX_CONNECT_DELAY} seconds; the client gets through at its"
            f" first SYN retransmission at or after the delay ({steps} on Linux before 6.5; 1-5, 7, 11, 19 or 35 s"
            " on 6.5 and later)"
        )
    return value
