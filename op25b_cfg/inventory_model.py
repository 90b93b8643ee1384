"""The intent's data model as every command uses it: the checks of single values (safe names and texts,
prefixes, ports), the runtime types of ``policy.yaml``'s parts (:class:`Policy`, :class:`Pool`, exemptions,
:class:`FlowControl`, :class:`Attachment`, :class:`PluginOptions`) and the resolved :class:`Device` and
:class:`Inventory`. Loaded by :func:`op25b_cfg.inventory.load_inventory`.

The runtime types are frozen, slotted dataclasses: importing and rebuilding them needs no pydantic (a command on
a cached inventory, :mod:`op25b_cfg.inventory_cache`, never imports it). Validation is pydantic's, in
:mod:`op25b_cfg.inventory_schema` (models of the same names, the host/group/defaults entries): the loader
converts what it validated once per load, and a runtime type built from raw values (``Pool(name=...,
ipv4=[...])``, ``Policy.model_validate(data)``) is validated there, with the same errors."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from op25b_cfg.errors import InventoryError, Problem
from op25b_cfg.inventory_values import HOSTS_FILE, AttachKind, Direction, Mode
from op25b_cfg.netaddr import Network

if TYPE_CHECKING:
    from op25b_cfg.platforms.base import Platform

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- runtime types

R = TypeVar("R", bound="Record")


class Record:
    """Base of the runtime types: frozen, slotted dataclasses (``init=False``) whose constructor validates.

    ``Type(**raw)`` and ``Type.model_validate(raw)`` validate with the pydantic model of the same name
    (:data:`op25b_cfg.inventory_schema.MODELS`, imported then); :meth:`trusted` builds from values already
    validated (the loader's conversion, the inventory cache) without it. ``model_copy(update=...)`` replaces
    fields without validation and ``model_dump`` dumps through the model, as pydantic's methods of those names
    do."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **data: Any) -> None:
        from op25b_cfg.inventory_schema import MODELS

        model = MODELS[type(self).__name__](**_raw(data))
        memo: dict[int, tuple[Any, Any]] = {}
        for k in self._fields:
            object.__setattr__(self, k, from_model(getattr(model, k), memo))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The fields, in declaration order (inherited ones first)."""
        return cls._fields

    @classmethod
    def trusted(cls: type[R], **values: Any) -> R:
        """An object of values that are already valid, every field given (no validation)."""
        obj = object.__new__(cls)
        for k in cls._fields:
            object.__setattr__(obj, k, values[k])
        return obj

    @classmethod
    def model_validate(cls: type[R], data: Any) -> R:
        """Validate raw ``data`` (a mapping) into this type (pydantic's ``ValidationError`` if it is not valid)."""
        from op25b_cfg.inventory_schema import MODELS

        built: R = from_model(MODELS[cls.__name__].model_validate(_raw(data)))
        return built

    def model_copy(self: R, update: dict[str, Any] | None = None) -> R:
        """A copy with the fields in ``update`` replaced, not validated (as pydantic's ``model_copy``)."""
        return type(self).trusted(**{k: getattr(self, k) for k in self._fields} | (update or {}))

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        """pydantic's ``model_dump`` of this object (``mode="json"``, ``exclude_none``, ...), through its model."""
        dumped: dict[str, Any] = _to_model(self).model_dump(**kwargs)
        return dumped

    def as_dict(self) -> dict[str, Any]:
        """The field values (not copied, not converted)."""
        return {k: getattr(self, k) for k in self._fields}


def from_model(value: Any, memo: dict[int, tuple[Any, Any]] | None = None) -> Any:
    """``value`` with every validated model in it (:mod:`op25b_cfg.inventory_schema`) replaced by the runtime
    type of the same name (lists, tuples and dicts copied). ``memo`` (by ``id``; it keeps the models alive)
    makes a model that several devices share (the policy's pools, a group's attachments) one runtime object."""
    if type(value) in _PLAIN:  # most fields: nothing to convert
        return value
    cls = _RUNTIME.get(type(value).__name__)
    if cls is not None and type(value).__module__ == _SCHEMA:
        if memo is None:
            memo = {}
        hit = memo.get(id(value))
        if hit is None:
            fields = {}
            for k in cls._fields:  # most fields are plain: no call for them
                v = getattr(value, k)
                fields[k] = v if type(v) in _PLAIN else from_model(v, memo)
            built = cls.trusted(**fields)
            hit = memo[id(value)] = (value, built)
        return hit[1]
    if isinstance(value, list):
        return [from_model(v, memo) for v in value]
    if isinstance(value, tuple):
        return tuple(from_model(v, memo) for v in value)
    if isinstance(value, dict):
        return {k: from_model(v, memo) for k, v in value.items()}
    return value


_PLAIN = frozenset({str, int, bool, float, type(None)})


def _raw(value: Any) -> Any:
    """Raw values to validate, with any runtime object in them as the mapping of its fields (its networks and
    port ranges are accepted as they are): ``dataclasses.replace`` passes them back."""
    if isinstance(value, Record):
        return {k: _raw(getattr(value, k)) for k in value._fields}
    if isinstance(value, list):
        return [_raw(v) for v in value]
    if isinstance(value, dict):
        return {k: _raw(v) for k, v in value.items()}
    return value


def _to_model(value: Any) -> Any:
    """A runtime object as its validating model, not validated again (``model_construct``): for dumping."""
    if isinstance(value, Record):
        from op25b_cfg.inventory_schema import MODELS

        fields_ = {k: _to_model(getattr(value, k)) for k in value._fields}
        return MODELS[type(value).__name__].model_construct(**fields_)
    if isinstance(value, list):
        return [_to_model(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_model(v) for k, v in value.items()}
    return value


_RUNTIME: dict[str, type[Record]] = {}
"""The runtime types, by name (each concrete one has the validating model of that name), filled by
:func:`record`."""


def record(cls: type[R]) -> type[R]:
    """Declare a runtime type: a frozen, slotted dataclass with :class:`Record`'s constructor."""
    built: type[R] = dataclass(frozen=True, slots=True, init=False)(cls)
    built._fields = tuple(f.name for f in fields(built))  # type: ignore[arg-type]
    _RUNTIME[built.__name__] = built
    return built


@record
class FamilyPrefixes(Record):
    """Prefixes split by address family, so an IPv6 prefix in an IPv4 list is caught."""

    ipv4: list[ipaddress.IPv4Network]
    ipv6: list[ipaddress.IPv6Network]

    def all(self) -> list[Network]:
        return [*self.ipv4, *self.ipv6]

    def family(self, fam: int) -> list[Network]:
        return list(self.ipv4) if fam == 4 else list(self.ipv6)


@record
class Pool(FamilyPrefixes):
    """A named dynamic subscriber pool (IPv4 and/or IPv6)."""

    name: str
    description: str


@record
class Scoped(Record):
    """Where an exemption applies: on the ``devices`` listed and the devices of the ``groups`` listed; both
    absent (the default): on every device."""

    devices: list[str] | None
    groups: list[str] | None

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


@record
class StaticExemption(Scoped):
    """A static-IP customer prefix that is never blocked where it applies (carved out of any pool it lies in;
    the audit checks it wherever it lies)."""

    name: str
    prefix: Network
    description: str


@record
class OptOut(Scoped):
    """A per-subscriber opt-out: the subscriber's address (or delegated prefix) is not blocked where it
    applies."""

    subscriber: str
    prefix: Network


@record
class Exemptions(Record):
    static: list[StaticExemption]
    opt_out: list[OptOut]

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
        if hit is None or hit.exemptions is not self:  # the object is kept alive in the value: its id is not reused
            if len(_APPLYING) >= _APPLYING_MAX:
                _APPLYING.clear()
            hit = _APPLYING[id(self)] = _Applying.index(self)
        return hit.on(device, groups)


@dataclass(slots=True)
class _Applying:
    """One :class:`Exemptions` object's entries indexed by where they apply: a device's set is the unscoped
    entries plus those naming the device or one of its groups (dictionary look-ups, not a walk of every entry
    per device: 11 µs per device with 28 entries, more with every per-device opt-out)."""

    exemptions: Exemptions
    entries: tuple[tuple[str, Network], ...]
    everywhere: tuple[int, ...]
    by_device: dict[str, list[int]]
    by_group: dict[str, list[int]]
    shared: dict[tuple[int, ...], tuple[tuple[str, Network], ...]]

    @classmethod
    def index(cls, ex: Exemptions) -> _Applying:
        scoped: list[Scoped] = [*ex.static, *ex.opt_out]
        entries = tuple((s.name, s.prefix) for s in ex.static) + tuple((o.subscriber, o.prefix) for o in ex.opt_out)
        by_device: dict[str, list[int]] = {}
        by_group: dict[str, list[int]] = {}
        for i, e in enumerate(scoped):
            for name in e.devices or ():
                by_device.setdefault(name, []).append(i)
            for name in e.groups or ():
                by_group.setdefault(name, []).append(i)
        everywhere = tuple(i for i, e in enumerate(scoped) if e.devices is None and e.groups is None)
        return cls(ex, entries, everywhere, by_device, by_group, {})

    def on(self, device: str, groups: tuple[str, ...]) -> tuple[tuple[str, Network], ...]:
        """The applying entries of ``device`` (a member of ``groups``), one shared tuple per set."""
        named = [self.by_group[g] for g in groups if g in self.by_group]
        if device in self.by_device:
            named.append(self.by_device[device])
        key = tuple(sorted({*self.everywhere, *(i for ids in named for i in ids)})) if named else self.everywhere
        found = self.shared.get(key)
        if found is None:
            found = self.shared[key] = tuple(self.entries[i] for i in key)
        return found


_APPLYING: dict[int, _Applying] = {}
"""Per :class:`Exemptions` object (by identity; a copy is another object): its entries indexed, and one shared
tuple per applying set. Not a cached property: ``model_copy(update=...)`` would carry it over to changed
exemptions."""
_APPLYING_MAX = 1024


@record
class FlowControl(Record):
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

    max_sessions: int | None
    new_per_second: int
    burst: int
    ipv6_subscriber_length: int
    connect_delay_s: int | None


@record
class Policy(Record):
    """``policy.yaml``: the ISP-wide OP25B policy."""

    name: str
    description: str
    mode: Mode
    submission_ports: list[int]
    must_pass_source_ports: tuple[int, int]
    """Source ports of the connections that must pass (to the MTAs, submission, exemptions): mail clients and
    relays use ephemeral ports. The audit's leak check still covers every source port."""
    log: bool
    counters: bool
    flow_control: FlowControl
    pools: list[Pool]
    mtas: FamilyPrefixes
    exemptions: Exemptions
    targeted: FamilyPrefixes

    def pool(self, name: str) -> Pool:
        for p in self.pools:
            if p.name == name:
                return p
        raise KeyError(name)


@record
class Attachment(Record):
    """Where a filter attaches: an interface, a BRAS template/profile, or the nftables forward hook.

    ``kind`` per platform: cisco_ios ``interface`` | ``virtual-template``; cisco_iosxr ``interface`` |
    ``dynamic-template`` (``template_type`` ppp or ipsubscriber); juniper_junos ``unit`` (e.g. ge-0/0/1.100) |
    ``dynamic-profile`` (``profile_interface``: the interface stanza subscribers are created on, e.g. ``pp0``
    for PPPoE or ``demux0``; default ``"$junos-interface-ifd-name"``); arista_eos ``interface``; linux_nftables
    ``nft-forward`` (name = subscriber-facing interface). ``direction`` ``in`` filters traffic arriving from
    subscribers.
    """

    kind: AttachKind
    name: str
    direction: Direction
    template_type: Literal["ppp", "ipsubscriber"] | None
    profile_interface: str | None


@record
class PluginOptions(Record):
    """Nornir ``connection_options.<plugin>``: a port and driver extras (never credentials).

    ``napalm.extras.optional_args`` are passed to the napalm driver (e.g. ``{transport: https}`` for eAPI);
    ``--driver-arg`` on the command line overrides them.
    """

    port: int | None
    extras: dict[str, Any]


_SCHEMA = "op25b_cfg.inventory_schema"


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

    @property
    def spec(self) -> Platform:
        """The device's :class:`~op25b_cfg.platforms.base.Platform` (its registry entry)."""
        from op25b_cfg.platforms import get_platform

        return get_platform(self.platform)

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
