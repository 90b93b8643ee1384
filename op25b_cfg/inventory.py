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
from collections.abc import Iterator
from dataclasses import dataclass, field
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

from op25b_cfg.errors import InventoryError, PlatformError, Problem
from op25b_cfg.netaddr import Network, overlaps, parse_prefix

log = logging.getLogger(__name__)

POLICY_FILE = "policy.yaml"
HOSTS_FILE = "hosts.yaml"
GROUPS_FILE = "groups.yaml"
DEFAULTS_FILE = "defaults.yaml"

Mode = Literal["block", "targeted", "flow-control"]
MODES: tuple[str, ...] = ("block", "targeted", "flow-control")
Direction = Literal["in", "out"]
AttachKind = Literal["interface", "virtual-template", "dynamic-template", "unit", "dynamic-profile", "nft-forward"]

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}")
_SAFE_TEXT = re.compile(r"[A-Za-z0-9 _.:/,()+#@=-]{0,120}")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster on large inventories
_SECRET_KEYS = frozenset({"password", "secret", "enable_password", "enable_secret", "community", "key", "passphrase"})


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
        raise ValueError(f"expected a name (text), got {type(value).__name__} {value!r}")
    if not _SAFE_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a safe name. Fix: use 1-64 letters, digits and _ . : / - starting with a letter or"
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
        raise ValueError(f"expected text, got {type(value).__name__} {value!r}")
    if not _SAFE_TEXT.fullmatch(value):
        raise ValueError(
            f"{value!r} is not safe description text. Fix: use up to 120 letters, digits, spaces and"
            " _ . : / , ( ) + # @ = - (no newlines, quotes, braces or semicolons)"
        )
    return value


def _hostname(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a host name or address, got {value!r}")
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not _HOSTNAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid host name or IP address. Fix: give the management address")
    return value


def _prefix_validator(family: int | None) -> Any:
    def check(value: object) -> Network:
        if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
            value = str(value)
        if not isinstance(value, str):
            raise ValueError(
                f"expected a prefix, got {type(value).__name__} {value!r}. Fix: write a prefix such as"
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


_ser = PlainSerializer(str, return_type=str)
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


class StaticExemption(_Strict):
    """A static-IP customer prefix that is never blocked (carved out of any pool it lies in)."""

    name: SafeName
    prefix: AnyPrefix
    description: SafeText = ""


class OptOut(_Strict):
    """A per-subscriber opt-out: the subscriber's address (or delegated prefix) is not blocked."""

    subscriber: SafeName
    prefix: AnyPrefix


class Exemptions(_Strict):
    static: list[StaticExemption] = Field(default_factory=list)
    opt_out: list[OptOut] = Field(default_factory=list)


class FlowControl(_Strict):
    """Per-subscriber limits for ``flow-control`` mode.

    ``max_sessions``: concurrent port-25 sessions per subscriber (a spam tool opens 100-1000; the default 10 is
    about a tenth of that). ``null`` asks for rate limiting only, which is what per-subscriber policers on
    routers can enforce. ``new_per_second`` and ``burst``: new port-25 connections per subscriber.
    ``ipv6_subscriber_length``: where limits are keyed on the source address (nftables), IPv6 sources are
    grouped by this prefix length, so a subscriber cannot escape the limit by rotating addresses in its /64.
    """

    max_sessions: int | None = Field(default=10, ge=1, le=65535)
    new_per_second: int = Field(default=1, ge=1, le=100000)
    burst: int = Field(default=5, ge=1, le=100000)
    ipv6_subscriber_length: int = Field(default=64, ge=32, le=128)


class FlowControlOverride(_Strict):
    max_sessions: int | None = Field(default=None, ge=1, le=65535)
    new_per_second: int | None = Field(default=None, ge=1, le=100000)
    burst: int | None = Field(default=None, ge=1, le=100000)
    ipv6_subscriber_length: int | None = Field(default=None, ge=32, le=128)


class Policy(_Strict):
    """``policy.yaml``: the ISP-wide OP25B policy."""

    name: SafeName
    description: SafeText = ""
    mode: Mode = "block"
    submission_ports: list[Port] = Field(default_factory=lambda: [587, 465])
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
        """Nornir allows passwords under ``connection_options``; op25b never keeps them in files."""
        found = _secret_paths(value, "connection_options")
        if found:
            raise ValueError(
                f"credentials never live in inventory files ({', '.join(found)}). Fix: remove them; push reads"
                " OP25B_PASSWORD from the environment or prompts for it"
            )
        return value


def _secret_paths(value: object, path: str) -> list[str]:
    """Dotted paths of secret-looking keys anywhere inside ``value`` (never their values)."""
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}.{k}"
            if str(k).lower() in _SECRET_KEYS:
                found.append(sub)
            else:
                found += _secret_paths(v, sub)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _secret_paths(v, f"{path}[{i}]")
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


@dataclass(frozen=True, eq=False)
class Inventory:
    path: Path
    policy: Policy
    devices: dict[str, Device]

    def select(self, names: list[str] | None = None, where: str | None = None) -> list[Device]:
        """Devices by exact name and/or a ``key=value`` filter (``platform``, ``group``, ``mode``, ``site``)."""
        devs = list(self.devices.values())
        if names:
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


_FIXES = {
    "extra_forbidden": "remove it or check its spelling",
    "missing": "add it",
    "literal_error": "",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "int_type": "write a whole number",
    "greater_than_equal": "",
    "less_than_equal": "",
    "too_short": "",
    "list_type": "write a YAML list",
    "model_type": "write a YAML mapping (key: value lines)",
    "dict_type": "write a YAML mapping (key: value lines)",
}


def _problems_from(exc: ValidationError, file: str, prefix: str = "") -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = _fmt_loc(tuple(err["loc"]))
        where = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        msg = str(err["msg"])
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        fix = ""
        if ". Fix: " in msg:
            msg, fix = msg.split(". Fix: ", 1)
            msg += "."
        else:
            fix = _FIXES.get(err["type"], "")
            if err["type"] == "extra_forbidden" and loc.split(".")[-1] in _SECRET_KEYS:
                msg = "credentials never live in inventory files"
                fix = "remove it; push reads OP25B_PASSWORD from the environment or prompts for it"
            if not msg.endswith("."):
                msg += "."
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
        data = yaml.load(raw, Loader=_YAML_LOADER)  # a safe loader (libyaml when available)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc)
        return {}, [Problem(str(path), where, f"is not valid YAML: {what}.", "correct the YAML syntax there")]
    if data is None:
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
    """Load and validate an inventory directory. Raises InventoryError listing every problem."""
    from op25b_cfg.platforms import PLATFORMS, get_platform

    root = Path(path)
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
        for name, body in raw.items():
            name = str(name)
            try:
                safe_name(name)
            except ValueError as exc:
                what, _, fix = str(exc).partition(". Fix: ")
                problems.append(Problem(fpath, repr(name), what + ".", fix))
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

    devices: dict[str, Device] = {}
    if policy is not None:
        pool_names = {p.name for p in policy.pools}
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
            hostname, _ = resolve("hostname")
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
            fc = policy.flow_control.model_dump()
            fc_src = f"{pol_file}: flow_control"
            for layer in reversed(chain):
                ov = layer.entry.data.flow_control
                if ov is not None:
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
            if uplinks_v and platform != "linux_nftables":
                f, p = uplinks_src.split(": ")
                problems.append(Problem(f, p, "uplinks apply to linux_nftables only.", "remove uplinks here"))
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
                pools=tuple(policy.pool(p) for p in pools_v),
                attach=tuple(attach_v),
                mode=mode,
                log=policy.log if log_v is None else log_v,
                counters=policy.counters if counters_v is None else counters_v,
                flow_control=FlowControl(**fc),
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
