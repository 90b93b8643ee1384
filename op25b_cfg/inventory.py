"""The OP25B intent: an ISP-wide policy file plus a Nornir-layout device inventory.

Files in an inventory directory:

``policy.yaml``
    What is ISP-wide: dynamic pools, the ISP's MTAs, exemptions, submission ports, mode, logging,
    flow-control parameters and, for targeted mode, the destination prefixes.
``hosts.yaml`` / ``groups.yaml`` / ``defaults.yaml``
    Nornir's SimpleInventory layout. ``platform``, ``port``, ``username`` and every key under ``data``
    resolve host -> groups (in order, depth first) -> defaults -> policy.yaml.

:func:`load_inventory` validates everything and raises :class:`~op25b_cfg.errors.InventoryError` carrying
every problem (file, field, what is wrong, how to fix it). Nothing that reaches a device config escapes
validation: names and descriptions are restricted to a character set that cannot inject a command.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    field_validator,
)

from op25b_cfg.connection.credentials import HOST_KEY_ARGS, is_secret_key
from op25b_cfg.errors import InventoryError, PlatformError, Problem, cut
from op25b_cfg.gc_pause import paused_gc
from op25b_cfg.netaddr import Network, overlaps, parse_prefix
from op25b_cfg.paths import device_file_name
from op25b_cfg.rules import MAX_CONNECT_DELAY, SYN_RETRANSMISSIONS
from op25b_cfg.yamlload import YamlProblem, load_yaml

log = logging.getLogger(__name__)

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


def _not_text(what: str, value: object) -> str:
    """The message for a value YAML did not read as text (``no`` -> False, ``1:30`` -> 90, ``on`` -> True).

    >>> _not_text("a name", False)
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
        raise ValueError(_not_text("a name", value))
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
        raise ValueError(_not_text("text", value))
    if not _SAFE_TEXT.fullmatch(value):
        raise ValueError(
            f"{cut(value)!r} is not safe description text. Fix: use up to 120 letters, digits, spaces and"
            " _ . : / , ( ) + # @ = - (no newlines, quotes, braces or semicolons)"
        )
    return value


def _hostname(value: object) -> str:
    """A management address: an IPv4/IPv6 address or a DNS name (RFC 1123 labels; not all-numeric at the end).

    >>> _hostname("bras1.tokyo.example.net"), _hostname("2001:db8::11")
    ('bras1.tokyo.example.net', '2001:db8::11')
    >>> _hostname("192.0.2.300")
    Traceback (most recent call last):
    ...
    ValueError: '192.0.2.300' is neither an IP address nor a DNS name (an all-numeric last label). Fix: ...
    """
    if not isinstance(value, str):
        raise ValueError(_not_text("a host name or address", value))
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
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


def _prefix_validator(family: int | None) -> Any:
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


_ser = PlainSerializer(str, return_type=str)
PortRangeText = Annotated[
    tuple[int, int],
    PlainValidator(port_range),
    PlainSerializer(lambda v: f"{v[0]}-{v[1]}", return_type=str),
    WithJsonSchema({"type": "string"}),
]
V4Prefix = Annotated[
    ipaddress.IPv4Network, PlainValidator(_prefix_validator(4)), _ser, WithJsonSchema({"type": "string"})
]
V6Prefix = Annotated[
    ipaddress.IPv6Network, PlainValidator(_prefix_validator(6)), _ser, WithJsonSchema({"type": "string"})
]
AnyPrefix = Annotated[Network, PlainValidator(_prefix_validator(None)), _ser, WithJsonSchema({"type": "string"})]
SafeName = Annotated[str, PlainValidator(safe_name), WithJsonSchema({"type": "string"})]
SafeText = Annotated[str, PlainValidator(safe_text), WithJsonSchema({"type": "string"})]
HostName = Annotated[str, PlainValidator(_hostname), WithJsonSchema({"type": "string"})]
Port = Annotated[int, Field(ge=1, le=65535, strict=True)]


def _attach_name(value: object) -> str:
    if isinstance(value, str) and value.endswith("*"):
        return safe_name(value[:-1]) + "*"
    return safe_name(value)


AttachName = Annotated[str, PlainValidator(_attach_name), WithJsonSchema({"type": "string"})]


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


ConnectDelay = Annotated[
    int | None, PlainValidator(connect_delay), WithJsonSchema({"type": ["integer", "null"], "minimum": 1})
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FamilyPrefixes(_Strict):
    """Prefixes split by address family, so an IPv6 prefix in an IPv4 list is caught."""

    ipv4: list[V4Prefix] = Field(default_factory=list)
    ipv6: list[V6Prefix] = Field(default_factory=list)

    def all(self) -> list[Network]:
        return [*self.ipv4, *self.ipv6]

    def family(self, fam: int) -> list[Network]:
        return list(self.ipv4) if fam == 4 else list(self.ipv6)


class Pool(FamilyPrefixes):
    """A named dynamic subscriber pool (IPv4 and/or IPv6)."""

    name: SafeName
    description: SafeText = ""


class _Scoped(_Strict):
    """Where an exemption applies: on the ``devices`` listed and the devices of the ``groups`` listed; both
    absent (the default): on every device."""

    devices: list[SafeName] | None = None
    groups: list[SafeName] | None = None

    def applies_to(self, device: str, groups: tuple[str, ...]) -> bool:
        """Whether this exemption applies on ``device`` (a member of ``groups``).

        >>> OptOut(subscriber="c1", prefix="192.0.2.7", groups=["tokyo"]).applies_to("bras1", ("tokyo",))
        True
        >>> OptOut(subscriber="c1", prefix="192.0.2.7", devices=["bras2"]).applies_to("bras1", ("tokyo",))
        False
        """
        if self.devices is None and self.groups is None:
            return True
        return device in (self.devices or ()) or any(g in (self.groups or ()) for g in groups)


class StaticExemption(_Scoped):
    """A static-IP customer prefix that is never blocked where it applies (carved out of any pool it lies in;
    the audit checks it wherever it lies)."""

    name: SafeName
    prefix: AnyPrefix
    description: SafeText = ""


class OptOut(_Scoped):
    """A per-subscriber opt-out: the subscriber's address (or delegated prefix) is not blocked where it
    applies."""

    subscriber: SafeName
    prefix: AnyPrefix


class Exemptions(_Strict):
    static: list[StaticExemption] = Field(default_factory=list)
    opt_out: list[OptOut] = Field(default_factory=list)

    def applying(self, device: str, groups: tuple[str, ...]) -> tuple[tuple[str, Network], ...]:
        """(name, prefix) of every exemption that applies on ``device`` (a member of ``groups``), static ones
        first, in policy order. Devices with the same applying set share one tuple object (:data:`_APPLYING`),
        so a cache may be keyed on its identity while these exemptions live (a 10,000-device inventory hashed
        ~270,000 prefixes).

        >>> ex = Exemptions(opt_out=[{"subscriber": "c1", "prefix": "100.64.0.7", "devices": ["r1"]}])
        >>> ex.applying("r1", ()), ex.applying("r2", ())
        ((('c1', IPv4Network('100.64.0.7/32')),), ())
        >>> ex.applying("r1", ()) is ex.applying("r1", ("tokyo",))
        True
        """
        hit = _APPLYING.get(id(self))
        if hit is None or hit[0] is not self:  # the object is kept alive in the value: its id is not reused
            if len(_APPLYING) >= _APPLYING_MAX:
                _APPLYING.clear()
            entries = [(s.name, s.prefix, s) for s in self.static] + [(o.subscriber, o.prefix, o) for o in self.opt_out]
            hit = _APPLYING[id(self)] = (self, tuple(entries), {})
        _, entries_t, shared = hit
        key = tuple(i for i, (_, _, e) in enumerate(entries_t) if e.applies_to(device, groups))
        found = shared.get(key)
        if found is None:
            found = shared[key] = tuple((entries_t[i][0], entries_t[i][1]) for i in key)
        return found


_APPLYING: dict[
    int,
    tuple[Exemptions, tuple[tuple[str, Network, _Scoped], ...], dict[tuple[int, ...], tuple[tuple[str, Network], ...]]],
] = {}
"""Per :class:`Exemptions` object (by identity; a model copy is another object): its entries and one shared tuple
per applying set. Not a cached property: ``model_copy(update=...)`` would carry it over to changed exemptions."""
_APPLYING_MAX = 1024


class FlowControl(_Strict):
    """Per-subscriber limits for ``flow-control`` mode.

    ``max_sessions``: concurrent port-25 sessions per subscriber (a spam tool opens 100-1000; the default 10 is
    about a tenth of that). ``null`` asks for rate limiting only, which is what per-subscriber policers on
    routers can enforce. ``new_per_second`` and ``burst``: new port-25 connections per subscriber.
    ``ipv6_subscriber_length``: where limits are keyed on the source address (nftables), IPv6 sources are
    grouped by this prefix length, so a subscriber cannot escape the limit by rotating addresses in its /64.
    ``connect_delay_s`` (linux_nftables only): hold back every new port-25 connection from a pool for at least
    this many seconds (the first SYNs of each connection are dropped; the client's own SYN retransmission brings
    it in at 1, 3, 7, 15, 31 or 63 s). ``null`` (the default): no delay.
    """

    max_sessions: int | None = Field(default=10, ge=1, le=65535)
    new_per_second: int = Field(default=1, ge=1, le=100000)
    burst: int = Field(default=5, ge=1, le=100000)
    ipv6_subscriber_length: int = Field(default=64, ge=32, le=128)
    connect_delay_s: ConnectDelay = None


class FlowControlOverride(_Strict):
    max_sessions: int | None = Field(default=None, ge=1, le=65535)
    new_per_second: int | None = Field(default=None, ge=1, le=100000)
    burst: int | None = Field(default=None, ge=1, le=100000)
    ipv6_subscriber_length: int | None = Field(default=None, ge=32, le=128)
    connect_delay_s: ConnectDelay = None


class Policy(_Strict):
    """``policy.yaml``: the ISP-wide OP25B policy."""

    name: SafeName
    description: SafeText = ""
    mode: Mode = "block"
    submission_ports: list[Port] = Field(default_factory=lambda: [587, 465])
    must_pass_source_ports: PortRangeText = (1024, 65535)
    """Source ports of the connections that must pass (to the MTAs, submission, exemptions): mail clients and
    relays use ephemeral ports. The audit's leak check still covers every source port."""
    log: bool = True
    counters: bool = True
    flow_control: FlowControl = Field(default_factory=FlowControl)
    pools: list[Pool] = Field(min_length=1)
    mtas: FamilyPrefixes = Field(default_factory=FamilyPrefixes)
    exemptions: Exemptions = Field(default_factory=Exemptions)
    targeted: FamilyPrefixes = Field(default_factory=FamilyPrefixes)

    def pool(self, name: str) -> Pool:
        for p in self.pools:
            if p.name == name:
                return p
        raise KeyError(name)


class Attachment(_Strict):
    """Where a filter attaches: an interface, a BRAS template/profile, or the nftables forward hook.

    ``kind`` per platform: cisco_ios ``interface`` | ``virtual-template``; cisco_iosxr ``interface`` |
    ``dynamic-template`` (``template_type`` ppp or ipsubscriber); juniper_junos ``unit`` (e.g. ge-0/0/1.100) |
    ``dynamic-profile`` (``profile_interface``: the interface stanza subscribers are created on, e.g. ``pp0``
    for PPPoE or ``demux0``; default ``"$junos-interface-ifd-name"``); arista_eos ``interface``; linux_nftables
    ``nft-forward`` (name = subscriber-facing interface). ``direction`` ``in`` filters traffic arriving from
    subscribers.
    """

    kind: AttachKind
    name: AttachName
    direction: Direction = "in"
    template_type: Literal["ppp", "ipsubscriber"] | None = None
    profile_interface: SafeName | None = None


class DeviceData(_Strict):
    """Keys allowed under ``data:`` in hosts, groups and defaults (each optional; resolved by inheritance)."""

    pools: list[SafeName] | None = None
    attach: list[Attachment] | None = None
    uplinks: list[AttachName] | None = None
    """linux_nftables: the interfaces toward the Internet and the ISP's MTAs (``eth0``, ``bond*``); the audit
    then checks the packets that leave through them (default: through any interface)."""
    mode: Mode | None = None
    log: bool | None = None
    counters: bool | None = None
    flow_control: FlowControlOverride | None = None
    description: SafeText | None = None
    site: SafeText | None = None


class PluginOptions(_Strict):
    """Nornir ``connection_options.<plugin>``: a port and driver extras (never credentials).

    ``napalm.extras.optional_args`` are passed to the napalm driver (e.g. ``{transport: https}`` for eAPI);
    ``--driver-arg`` on the command line overrides them.
    """

    port: Port | None = None
    extras: dict[str, Any] = Field(default_factory=dict)


class ConnectionOptions(_Strict):
    napalm: PluginOptions | None = None
    netmiko: PluginOptions | None = None


class _Entry(_Strict):
    """A host, group or defaults entry in Nornir's SimpleInventory format."""

    hostname: HostName | None = None
    port: Port | None = None
    username: SafeName | None = None
    platform: str | None = None
    groups: list[str] = Field(default_factory=list)
    data: DeviceData = Field(default_factory=DeviceData)
    connection_options: ConnectionOptions = Field(default_factory=ConnectionOptions)

    @field_validator("connection_options", mode="before")
    @classmethod
    def _no_secrets(cls, value: Any) -> Any:
        """Nornir allows passwords under ``connection_options``; op25b never keeps them in files, and a file
        never switches host-key verification off (only ``--no-verify-host-key`` does, with a warning)."""
        secrets = _key_paths(value, "connection_options", is_secret_key)
        if secrets:
            raise ValueError(
                f"credentials never live in inventory files ({', '.join(secrets)}). Fix: remove them; push reads"
                " OP25B_PASSWORD from the environment or prompts for it"
            )
        switches = _key_paths(value, "connection_options", HOST_KEY_ARGS.__contains__)
        if switches:
            raise ValueError(
                f"{', '.join(switches)} would switch SSH host-key verification off without a word. Fix: remove"
                " it; for a lab pass --no-verify-host-key on the command line (it warns on every run)"
            )
        return value


def _key_paths(value: object, path: str, match: Callable[[str], bool]) -> list[str]:
    """Dotted paths of the keys anywhere inside ``value`` that ``match`` (never their values)."""
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}.{k}"
            if match(str(k)):
                found.append(sub)
            else:
                found += _key_paths(v, sub, match)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _key_paths(v, f"{path}[{i}]", match)
    return found


@dataclass(frozen=True, eq=False)
class Device:
    """One device with every value resolved (host -> groups -> defaults -> policy)."""

    name: str
    hostname: str
    port: int | None
    username: str | None
    platform: str
    groups: tuple[str, ...]
    pools: tuple[Pool, ...]
    attach: tuple[Attachment, ...]
    mode: Mode
    log: bool
    counters: bool
    flow_control: FlowControl
    description: str
    policy: Policy
    sources: dict[str, str] = field(default_factory=dict)
    connection_options: dict[str, PluginOptions] = field(default_factory=dict)
    """Per connection plugin (``napalm``, ``netmiko``), the first host/group/defaults layer that sets it."""
    uplinks: tuple[str, ...] = ()
    """linux_nftables: the Internet/MTA-facing interfaces (empty: any egress)."""

    def source_of(self, key: str) -> str:
        """Where a resolved value came from, e.g. ``groups.yaml: bras.data.mode``."""
        return self.sources.get(key, f"{HOSTS_FILE}: {self.name}")

    @cached_property
    def exemptions(self) -> tuple[tuple[str, Network], ...]:
        """(name, prefix) of every static exemption and opt-out that applies on this device (see
        ``devices``/``groups`` on each entry), static ones first, in policy order
        (:meth:`Exemptions.applying`: one shared tuple per applying set)."""
        return self.policy.exemptions.applying(self.name, self.groups)


@dataclass(frozen=True, eq=False)
class Inventory:
    path: Path
    policy: Policy
    devices: dict[str, Device]

    def select(self, names: list[str] | None = None, where: str | None = None) -> list[Device]:
        """Devices by exact name and/or a ``key=value`` filter (``platform``, ``group``, ``mode``, ``site``)."""
        devs = list(self.devices.values())
        if names:
            names = list(dict.fromkeys(names))  # -d X -d X selects X once
            unknown = [n for n in names if n not in self.devices]
            if unknown:
                raise InventoryError(
                    [
                        Problem(
                            f"{self.path / HOSTS_FILE}",
                            n,
                            "no such device.",
                            f"use one of: {', '.join(sorted(self.devices))}",
                        )
                        for n in unknown
                    ]
                )
            devs = [self.devices[n] for n in names]
        if where:
            key, sep, value = where.partition("=")
            keys = ("platform", "group", "mode", "site", "name")
            if not sep or key not in keys:
                raise InventoryError(
                    [
                        Problem(
                            "--filter", where, "not understood.", f"write KEY=VALUE with KEY one of {', '.join(keys)}"
                        )
                    ]
                )

            def match(d: Device) -> bool:
                if key == "group":
                    return value in d.groups
                if key == "site":
                    return d.sources.get("site_value") == value
                return str(getattr(d, key)) == value

            devs = [d for d in devs if match(d)]
        return devs


# ---------------------------------------------------------------- loading


def _fmt_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _in_our_words(err: Any) -> tuple[str, str]:
    """``(message, fix)`` for one pydantic error, in op25b's words, with the bad value (cut) and a fix.

    >>> _in_our_words({"type": "literal_error", "input": "blok", "ctx": {"expected": "'block' or 'targeted'"}})
    ("'blok' is not allowed here.", "use one of: 'block' or 'targeted'")
    >>> _in_our_words({"type": "greater_than_equal", "input": 0, "ctx": {"ge": 1}})
    ('0 is too small (the minimum is 1).', 'use 1 or more')
    """
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    shown = cut(value, 60)
    if kind == "literal_error":
        return f"{shown!r} is not allowed here.", f"use one of: {ctx.get('expected', '')}"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return "the list is empty." if not value else f"the list has too few entries ({len(value)}).", (
            f"list at least {n} entr{'y' if n == 1 else 'ies'}"
        )
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        return f"{shown} is too small (the minimum is {bound}).", f"use {bound} or more"
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        return f"{shown} is too large (the maximum is {bound}).", f"use {bound} or less"
    if kind == "string_type":
        what, _, fix = _not_text("text", value).partition(". Fix: ")
        return what + ".", fix
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {shown!r}.", "write a whole number such as 587"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {shown!r}.", "write true or false"
    if kind == "list_type":
        return f"expected a list, got {shown!r}.", "write a YAML list, e.g. [587, 465]"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping, got {shown!r}.", "write a YAML mapping (key: value lines)"
    if kind == "missing":
        return "is required.", "add it"
    if kind == "extra_forbidden":
        return "is not a known key.", "remove it or check its spelling (see README: inventory schema)"
    return str(err.get("msg", kind)) + ".", ""


def _problems_from(exc: ValidationError, file: str, prefix: str = "") -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = _fmt_loc(tuple(err["loc"]))
        where = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        msg = str(err["msg"])
        if msg.startswith("Value error, "):  # our own validators: already "what. Fix: how"
            msg, _, fix = msg[len("Value error, ") :].partition(". Fix: ")
            msg = cut(msg, 300) + ("" if msg.endswith(".") else ".")
        elif err["type"] == "extra_forbidden" and is_secret_key(loc.split(".")[-1]):
            msg = "credentials never live in inventory files."
            fix = "remove it; push reads OP25B_PASSWORD from the environment or prompts for it"
        else:
            msg, fix = _in_our_words(err)
        problems.append(Problem(file, where, msg, fix))
    return problems


def _read_yaml(path: Path, required: bool) -> tuple[dict[str, Any], list[Problem]]:
    if not path.exists():
        if required:
            return {}, [Problem(str(path), "", "file not found.", f"create {path.name} (see README: inventory schema)")]
        return {}, []
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [Problem(str(path), "", f"cannot be read ({exc}).", "make it a readable UTF-8 text file")]
    try:
        data = load_yaml(raw)  # safe, refuses duplicate keys and alias bombs (see op25b_cfg.yamlload)
    except YamlProblem as exc:
        return {}, [Problem(str(path), f"line {exc.line}" if exc.line else "", exc.message, exc.fix)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = cut(getattr(exc, "problem", None) or str(exc), 200)
        return {}, [Problem(str(path), where, f"is not valid YAML: {what}.", "correct the YAML syntax there")]
    if data is None:
        if required:
            return {}, [Problem(str(path), "", "is empty (or only comments).", "see README: inventory schema")]
        return {}, []
    if not isinstance(data, dict):
        return {}, [Problem(str(path), "", "must be a YAML mapping at the top level.", "see README: inventory schema")]
    return data, []


def _check_policy(policy: Policy, file: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, pool in enumerate(policy.pools):
        if pool.name in seen:
            problems.append(
                Problem(
                    file, f"pools[{i}].name", f"pool name '{pool.name}' is used twice.", "give each pool a unique name"
                )
            )
        seen[pool.name] = i
        if not pool.all():
            problems.append(
                Problem(file, f"pools[{i}]", f"pool '{pool.name}' has no prefixes.", "add ipv4 and/or ipv6 prefixes")
            )
    # overlapping pools (and duplicates inside one pool)
    flat = [
        (i, fam, k, net)
        for i, pool in enumerate(policy.pools)
        for fam in ("ipv4", "ipv6")
        for k, net in enumerate(getattr(pool, fam))
    ]
    for a in range(len(flat)):
        for b in range(a + 1, len(flat)):
            ia, _fa, _ka, na = flat[a]
            ib, fb, kb, nb = flat[b]
            if overlaps(na, nb):
                problems.append(
                    Problem(
                        file,
                        f"pools[{ib}].{fb}[{kb}]",
                        f"{nb} overlaps {na} of pool '{policy.pools[ia].name}'.",
                        "pools must not overlap; remove the duplicate or split the prefixes",
                    )
                )
    for fam in ("ipv4", "ipv6"):
        for k, mta in enumerate(getattr(policy.mtas, fam)):
            for pool in policy.pools:
                for net in pool.all():
                    if overlaps(mta, net):
                        problems.append(
                            Problem(
                                file,
                                f"mtas.{fam}[{k}]",
                                f"MTA {mta} lies inside dynamic pool '{pool.name}' ({net}).",
                                "an ISP relay must not sit in a subscriber pool; correct the MTA address or the pool",
                            )
                        )
    for i, port in enumerate(policy.submission_ports):
        if port == 25:
            problems.append(
                Problem(
                    file,
                    f"submission_ports[{i}]",
                    "25 cannot be a submission port (it is the port OP25B blocks).",
                    "use 587 and/or 465",
                )
            )
    if len(set(policy.submission_ports)) != len(policy.submission_ports):
        problems.append(Problem(file, "submission_ports", "a port is listed twice.", "list each port once"))
    names = [s.name for s in policy.exemptions.static]
    for i, name in enumerate(names):
        if names.index(name) != i:
            problems.append(
                Problem(
                    file, f"exemptions.static[{i}].name", f"exemption name '{name}' is used twice.", "use unique names"
                )
            )
    subs = [o.subscriber for o in policy.exemptions.opt_out]
    for i, sub in enumerate(subs):
        if subs.index(sub) != i:
            problems.append(
                Problem(
                    file,
                    f"exemptions.opt_out[{i}].subscriber",
                    f"subscriber '{sub}' is listed twice.",
                    "list each subscriber once, with one prefix",
                )
            )
    exempt = [(f"exemptions.static[{i}].prefix", s.prefix) for i, s in enumerate(policy.exemptions.static)] + [
        (f"exemptions.opt_out[{i}].prefix", o.prefix) for i, o in enumerate(policy.exemptions.opt_out)
    ]
    for where, pfx in exempt:
        for pool in policy.pools:
            for net in pool.all():
                if net.version == pfx.version and net.subnet_of(pfx):  # type: ignore[arg-type]
                    problems.append(
                        Problem(
                            file,
                            where,
                            f"{pfx} exempts all of pool '{pool.name}' ({net}).",
                            "remove that prefix from the pool instead of exempting the whole pool",
                        )
                    )
    if policy.mode == "targeted" and not policy.targeted.all():
        problems.append(
            Problem(
                file,
                "targeted",
                "mode is 'targeted' but no destination prefixes are listed.",
                "add targeted.ipv4 / targeted.ipv6 prefixes, or use mode: block",
            )
        )
    return problems


def _check_exemption_scopes(policy: Policy, file: str, hosts: dict[str, Any], groups: dict[str, Any]) -> list[Problem]:
    """Every device and group an exemption names must exist."""
    problems: list[Problem] = []
    entries: list[tuple[str, int, _Scoped]] = [("static", i, e) for i, e in enumerate(policy.exemptions.static)]
    entries += [("opt_out", i, e) for i, e in enumerate(policy.exemptions.opt_out)]
    for kind, i, entry in entries:
        for key, known, where in (("devices", hosts, HOSTS_FILE), ("groups", groups, GROUPS_FILE)):
            for k, name in enumerate(getattr(entry, key) or ()):
                if name not in known:
                    problems.append(
                        Problem(
                            file,
                            f"exemptions.{kind}[{i}].{key}[{k}]",
                            f"unknown {key[:-1]} {name!r}.",
                            f"use one defined in {where} ({', '.join(sorted(known)) or 'none defined'}),"
                            f" or remove {key} to apply the exemption on every device",
                        )
                    )
    return problems


@dataclass
class _Layer:
    file: str
    path: str
    entry: _Entry


def _walk_groups(names: list[str], groups: dict[str, _Layer], seen: tuple[str, ...] = ()) -> Iterator[_Layer]:
    """Nornir order: each group, then that group's own groups, depth first."""
    for name in names:
        if name in seen or name not in groups:
            continue
        layer = groups[name]
        yield layer
        yield from _walk_groups(layer.entry.groups, groups, (*seen, name))


def load_inventory(path: str | Path) -> Inventory:
    """Load and validate an inventory directory. Raises InventoryError listing every problem.

    The garbage collector is paused meanwhile (:func:`~op25b_cfg.gc_pause.paused_gc`): the YAML data, models and
    devices hold no reference cycles, and collector passes over a 10,000-host inventory cost about 0.3 s."""
    with paused_gc():
        return _load_inventory(Path(path))


def _load_inventory(root: Path) -> Inventory:
    from op25b_cfg.platforms import PLATFORMS, get_platform

    problems: list[Problem] = []
    if not root.is_dir():
        raise InventoryError(
            [Problem(str(root), "", "is not a directory.", "pass the inventory directory with --inventory")]
        )

    pol_file = str(root / POLICY_FILE)
    raw_policy, probs = _read_yaml(root / POLICY_FILE, required=True)
    problems += probs
    policy: Policy | None = None
    if raw_policy:
        try:
            policy = Policy.model_validate(raw_policy)
        except ValidationError as exc:
            problems += _problems_from(exc, pol_file)
        else:
            problems += _check_policy(policy, pol_file)

    layers: dict[str, dict[str, _Layer]] = {}
    defaults: _Layer | None = None
    for fname, required in ((HOSTS_FILE, True), (GROUPS_FILE, False), (DEFAULTS_FILE, False)):
        fpath = str(root / fname)
        raw, probs = _read_yaml(root / fname, required)
        problems += probs
        if fname == DEFAULTS_FILE:
            try:
                defaults = _Layer(fpath, "defaults", _Entry.model_validate(raw))
            except ValidationError as exc:
                problems += _problems_from(exc, fpath)
            continue
        table: dict[str, _Layer] = {}
        check_name = device_file_name if fname == HOSTS_FILE else safe_name
        for raw_name, body in raw.items():
            name = str(raw_name)
            try:
                if not isinstance(raw_name, str):
                    raise ValueError(_not_text(f"a {fname.removesuffix('s.yaml')} name", raw_name))
                check_name(name)
            except ValueError as exc:
                what, _, fix = str(exc).partition(". Fix: ")
                problems.append(Problem(fpath, repr(cut(name)), what + ".", fix))
                continue
            try:
                table[name] = _Layer(fpath, name, _Entry.model_validate(body if body is not None else {}))
            except ValidationError as exc:
                problems += _problems_from(exc, fpath, name)
        layers[fname] = table

    hosts = layers.get(HOSTS_FILE, {})
    groups = layers.get(GROUPS_FILE, {})
    if not hosts and not any(p.file.endswith(HOSTS_FILE) for p in problems):
        problems.append(Problem(str(root / HOSTS_FILE), "", "defines no devices.", "add at least one host"))

    # unknown groups (in hosts and in groups themselves)
    for table in (hosts, groups):
        for name, layer in table.items():
            for gi, g in enumerate(layer.entry.groups):
                if g not in groups:
                    problems.append(
                        Problem(
                            layer.file,
                            f"{name}.groups[{gi}]",
                            f"unknown group {g!r}.",
                            f"define it in {GROUPS_FILE} or use one of: "
                            f"{', '.join(sorted(groups)) or '(none defined)'}",
                        )
                    )

    if policy is not None:
        problems += _check_exemption_scopes(policy, pol_file, hosts, groups)
    devices: dict[str, Device] = {}
    if policy is not None:
        pools_by_name = {p.name: p for p in reversed(policy.pools)}  # the first of a name, as Policy.pool
        pool_names = set(pools_by_name)
        for name, host in hosts.items():
            chain = [host, *_walk_groups(host.entry.groups, groups)]
            if defaults is not None:
                chain.append(defaults)

            def resolve(key: str, chain: list[_Layer] = chain) -> tuple[Any, str]:
                for layer in chain:
                    if key in layer.entry.data.model_fields_set:
                        return getattr(layer.entry.data, key), f"{layer.file}: {layer.path}.data.{key}"
                    if key in layer.entry.model_fields_set and key != "data":
                        return getattr(layer.entry, key), f"{layer.file}: {layer.path}.{key}"
                return None, f"{POLICY_FILE}: {key}"

            conn_opts: dict[str, PluginOptions] = {}
            for plugin in ("napalm", "netmiko"):
                for layer in chain:
                    found = getattr(layer.entry.connection_options, plugin)
                    if found is not None:
                        conn_opts[plugin] = found
                        break
            hostname, hostname_src = resolve("hostname")
            port, _ = resolve("port")
            username, _ = resolve("username")
            platform, platform_src = resolve("platform")
            pools_v, pools_src = resolve("pools")
            attach_v, attach_src = resolve("attach")
            uplinks_v, uplinks_src = resolve("uplinks")
            mode_v, mode_src = resolve("mode")
            log_v, _ = resolve("log")
            counters_v, _ = resolve("counters")
            descr, _ = resolve("description")
            site, _ = resolve("site")
            fc: dict[str, Any] | None = None  # None: the policy's flow control, shared (no layer overrides it)
            fc_src = f"{pol_file}: flow_control"
            for layer in reversed(chain):
                ov = layer.entry.data.flow_control
                if ov is not None:
                    fc = policy.flow_control.model_dump() if fc is None else fc
                    fc.update({k: getattr(ov, k) for k in ov.model_fields_set})
                    fc_src = f"{layer.file}: {layer.path}.data.flow_control"
            hfile = host.file
            here = len(problems)
            if platform is None:
                problems.append(
                    Problem(
                        hfile, f"{name}.platform", "no platform set.", f"set platform to one of: {', '.join(PLATFORMS)}"
                    )
                )
            elif platform not in PLATFORMS:
                problems.append(
                    Problem(
                        platform_src.split(": ")[0],
                        platform_src.split(": ")[1],
                        f"unknown platform {platform!r}.",
                        f"use one of: {', '.join(PLATFORMS)}",
                    )
                )
            if not pools_v:
                problems.append(
                    Problem(
                        hfile,
                        f"{name}.data.pools",
                        "device serves no pool.",
                        f"list the dynamic pools it serves (defined in {POLICY_FILE}: "
                        f"{', '.join(sorted(pool_names))}) on the host or one of its groups",
                    )
                )
            else:
                for k, pn in enumerate(pools_v):
                    if pn not in pool_names:
                        f, p = pools_src.split(": ")
                        problems.append(
                            Problem(
                                f,
                                f"{p}[{k}]",
                                f"unknown pool {pn!r}.",
                                f"use one of: {', '.join(sorted(pool_names))} (defined in {POLICY_FILE})",
                            )
                        )
            if not attach_v:
                problems.append(
                    Problem(
                        hfile,
                        f"{name}.data.attach",
                        "no attachment: the filter would never be applied.",
                        "list where the filter attaches (kind, name, direction)",
                    )
                )
            else:
                keys = [(a.kind, a.name, a.direction, a.profile_interface) for a in attach_v]
                for k, key in enumerate(keys):
                    if keys.index(key) != k:
                        f, p = attach_src.split(": ")
                        problems.append(
                            Problem(
                                f,
                                f"{p}[{k}]",
                                f"attachment {' '.join(str(k) for k in key if k)} is listed twice.",
                                "list each attachment once",
                            )
                        )
            if uplinks_v and platform in PLATFORMS and not PLATFORMS[platform].uplinks:
                f, p = uplinks_src.split(": ")
                where = ", ".join(n for n, cls in PLATFORMS.items() if cls.uplinks)
                problems.append(Problem(f, p, f"uplinks apply to {where} only.", "remove uplinks here"))
            if hostname is None:
                problems.append(
                    Problem(
                        hfile,
                        f"{name}.hostname",
                        "no management hostname set.",
                        "set hostname to the device's management address",
                    )
                )
            mode = mode_v if mode_v is not None else policy.mode
            if mode == "targeted" and not policy.targeted.all():
                f, p = mode_src.split(": ")
                problems.append(
                    Problem(
                        f, p, "mode 'targeted' needs destination prefixes.", f"add targeted.ipv4/ipv6 to {POLICY_FILE}"
                    )
                )
            if len(problems) > here:
                continue
            sources = {
                "hostname": hostname_src,
                "mode": mode_src,
                "platform": platform_src,
                "pools": pools_src,
                "attach": attach_src,
                "flow_control": fc_src,
            }
            if site is not None:
                sources["site_value"] = site
            dev = Device(
                name=name,
                hostname=hostname,
                port=port,
                username=username,
                platform=platform,
                groups=tuple(g.path for g in chain if g.file.endswith(GROUPS_FILE)),
                pools=tuple(pools_by_name[p] for p in pools_v),
                attach=tuple(attach_v),
                mode=mode,
                log=policy.log if log_v is None else log_v,
                counters=policy.counters if counters_v is None else counters_v,
                flow_control=policy.flow_control if fc is None else FlowControl(**fc),
                description=descr or "",
                policy=policy,
                sources=sources,
                connection_options=conn_opts,
                uplinks=tuple(uplinks_v or ()),
            )
            try:
                get_platform(platform).check(dev)
            except PlatformError as exc:
                msg, _, fix = str(exc).partition(" Fix: ")
                problems.append(Problem(hfile, name, msg, fix))
                continue
            devices[name] = dev

    if problems:
        # a group or defaults problem is found once per host that inherits it: report it once
        raise InventoryError(list(dict.fromkeys(problems)))
    assert policy is not None
    return Inventory(path=root, policy=policy, devices=devices)
