"""What the layers below the inventory rely on from a device's resolved intent, as structural types.

The inventory's classes (:mod:`op25b_cfg.inventory_model`) sit above the platform registry: a ``Device`` names its
platform spec. The modules the registry imports (the rule plan, connections, dialects, platform packages, lab
emulators) therefore annotate with these Protocols, not with the inventory's classes, so the import graph has no
cycle even counting ``TYPE_CHECKING`` imports (``tests/test_architecture.py``). The inventory's ``Device``,
``Attachment``, ``Policy``, ``Pool``, ``FlowControl`` and ``PluginOptions`` satisfy them; mypy checks it wherever a
real one is passed down. Each Protocol lists only what those layers read (read-only properties, so a field typed
more narrowly, e.g. a ``Literal``, still fits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from op25b_cfg.netaddr import Network


class Prefixes(Protocol):
    """Prefixes split by address family (``FamilyPrefixes``)."""

    def all(self) -> list[Network]: ...

    def family(self, fam: int) -> list[Network]: ...


class Pool(Prefixes, Protocol):
    """A subscriber pool."""

    @property
    def name(self) -> str: ...


class Exemptions(Protocol):
    def applying(self, device: str, groups: tuple[str, ...]) -> tuple[tuple[str, Network], ...]: ...


class Policy(Protocol):
    """A device's policy (``Policy``): what the rule plan is built from."""

    @property
    def name(self) -> str: ...
    @property
    def submission_ports(self) -> Sequence[int]: ...
    @property
    def must_pass_source_ports(self) -> tuple[int, int]: ...
    @property
    def mtas(self) -> Prefixes: ...
    @property
    def targeted(self) -> Prefixes: ...
    @property
    def exemptions(self) -> Exemptions: ...


class FlowControl(Protocol):
    """A device's resolved flow-control settings."""

    @property
    def max_sessions(self) -> int | None: ...
    @property
    def new_per_second(self) -> int: ...
    @property
    def burst(self) -> int: ...
    @property
    def ipv6_subscriber_length(self) -> int: ...
    @property
    def connect_delay_s(self) -> int | None: ...


class Attachment(Protocol):
    """Where a filter attaches (``Attachment``)."""

    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def template_type(self) -> str | None: ...
    @property
    def profile_interface(self) -> str | None: ...


class PluginOptions(Protocol):
    """Nornir ``connection_options.<plugin>``: a port and driver extras."""

    @property
    def port(self) -> int | None: ...
    @property
    def extras(self) -> dict[str, Any]: ...


class Device(Protocol):
    """One device with every value resolved (``Device``)."""

    @property
    def name(self) -> str: ...
    @property
    def hostname(self) -> str: ...
    @property
    def port(self) -> int | None: ...
    @property
    def username(self) -> str | None: ...
    @property
    def platform(self) -> str: ...
    @property
    def groups(self) -> tuple[str, ...]: ...
    @property
    def pools(self) -> Sequence[Pool]: ...
    @property
    def attach(self) -> Sequence[Attachment]: ...
    @property
    def mode(self) -> str: ...
    @property
    def log(self) -> bool: ...
    @property
    def counters(self) -> bool: ...
    @property
    def flow_control(self) -> FlowControl: ...
    @property
    def description(self) -> str: ...
    @property
    def policy(self) -> Policy: ...
    @property
    def connection_options(self) -> Mapping[str, PluginOptions]: ...
    @property
    def uplinks(self) -> tuple[str, ...]: ...
    @property
    def exemptions(self) -> tuple[tuple[str, Network], ...]: ...

    def source_of(self, key: str) -> str: ...
