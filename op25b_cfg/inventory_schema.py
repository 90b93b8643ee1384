"""The validation side of the intent: the pydantic models of ``policy.yaml`` and of the Nornir-layout
host/group/defaults entries, with the field types built on :mod:`op25b_cfg.inventory_values`.

Every command works on the runtime types of :mod:`op25b_cfg.inventory_model` (frozen dataclasses, no pydantic),
which have the same names and fields as the models in :data:`MODELS`: the loader converts what it validated here
once per load (:func:`~op25b_cfg.inventory_model.from_model`), and a runtime type built from raw values
(``Pool(name=..., ipv4=[...])``, ``Policy.model_validate(data)``) is validated by its model here, so its errors
are these models' (same class names, same messages). The inventory cache rebuilds runtime objects without this
module: a command on a cached inventory imports neither it nor pydantic.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
)

from op25b_cfg.connection.credentials import HOST_KEY_ARGS, is_secret_key
from op25b_cfg.inventory_values import (
    AttachKind,
    Direction,
    Mode,
    attach_name,
    connect_delay,
    host_name,
    port_range,
    prefix_validator,
    safe_name,
    safe_text,
)
from op25b_cfg.netaddr import Network

log = logging.getLogger(__name__)

_ser = PlainSerializer(str, return_type=str)
PortRangeText = Annotated[
    tuple[int, int],
    PlainValidator(port_range),
    PlainSerializer(lambda v: f"{v[0]}-{v[1]}", return_type=str),
    WithJsonSchema({"type": "string"}),
]
V4Prefix = Annotated[
    ipaddress.IPv4Network, PlainValidator(prefix_validator(4)), _ser, WithJsonSchema({"type": "string"})
]
V6Prefix = Annotated[
    ipaddress.IPv6Network, PlainValidator(prefix_validator(6)), _ser, WithJsonSchema({"type": "string"})
]
AnyPrefix = Annotated[Network, PlainValidator(prefix_validator(None)), _ser, WithJsonSchema({"type": "string"})]
SafeName = Annotated[str, PlainValidator(safe_name), WithJsonSchema({"type": "string"})]
SafeText = Annotated[str, PlainValidator(safe_text), WithJsonSchema({"type": "string"})]
HostName = Annotated[str, PlainValidator(host_name), WithJsonSchema({"type": "string"})]
Port = Annotated[int, Field(ge=1, le=65535, strict=True)]
AttachName = Annotated[str, PlainValidator(attach_name), WithJsonSchema({"type": "string"})]
ConnectDelay = Annotated[
    int | None, PlainValidator(connect_delay), WithJsonSchema({"type": ["integer", "null"], "minimum": 1})
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class FamilyPrefixes(Strict):
    ipv4: list[V4Prefix] = Field(default_factory=list)
    ipv6: list[V6Prefix] = Field(default_factory=list)


class Pool(FamilyPrefixes):
    name: SafeName
    description: SafeText = ""


class Scoped(Strict):
    devices: list[SafeName] | None = None
    groups: list[SafeName] | None = None


class StaticExemption(Scoped):
    name: SafeName
    prefix: AnyPrefix
    description: SafeText = ""


class OptOut(Scoped):
    subscriber: SafeName
    prefix: AnyPrefix


class Exemptions(Strict):
    static: list[StaticExemption] = Field(default_factory=list)
    opt_out: list[OptOut] = Field(default_factory=list)


class FlowControl(Strict):
    max_sessions: int | None = Field(default=10, ge=1, le=65535)
    new_per_second: int = Field(default=1, ge=1, le=100000)
    burst: int = Field(default=5, ge=1, le=100000)
    ipv6_subscriber_length: int = Field(default=64, ge=32, le=128)
    connect_delay_s: ConnectDelay = None


class FlowControlOverride(Strict):
    max_sessions: int | None = Field(default=None, ge=1, le=65535)
    new_per_second: int | None = Field(default=None, ge=1, le=100000)
    burst: int | None = Field(default=None, ge=1, le=100000)
    ipv6_subscriber_length: int | None = Field(default=None, ge=32, le=128)
    connect_delay_s: ConnectDelay = None


class Policy(Strict):
    name: SafeName
    description: SafeText = ""
    mode: Mode = "block"
    submission_ports: list[Port] = Field(default_factory=lambda: [587, 465])
    must_pass_source_ports: PortRangeText = (1024, 65535)
    log: bool = True
    counters: bool = True
    flow_control: FlowControl = Field(default_factory=FlowControl)
    pools: list[Pool] = Field(min_length=1)
    mtas: FamilyPrefixes = Field(default_factory=FamilyPrefixes)
    exemptions: Exemptions = Field(default_factory=Exemptions)
    targeted: FamilyPrefixes = Field(default_factory=FamilyPrefixes)


class Attachment(Strict):
    kind: AttachKind
    name: AttachName
    direction: Direction = "in"
    template_type: Literal["ppp", "ipsubscriber"] | None = None
    profile_interface: SafeName | None = None


class DeviceData(Strict):
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


class PluginOptions(Strict):
    port: Port | None = None
    extras: dict[str, Any] = Field(default_factory=dict)


class ConnectionOptions(Strict):
    napalm: PluginOptions | None = None
    netmiko: PluginOptions | None = None


class HostEntry(Strict):
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


MODELS: dict[str, type[Strict]] = {
    cls.__name__: cls
    for cls in (
        FamilyPrefixes,
        Pool,
        StaticExemption,
        OptOut,
        Exemptions,
        FlowControl,
        Policy,
        Attachment,
        PluginOptions,
    )
}
"""The validating model of each runtime type of :mod:`op25b_cfg.inventory_model`, by the name they share."""
