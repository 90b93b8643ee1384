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

Layout: the runtime types every command uses (:class:`Policy`, :class:`Device`, :class:`Inventory`, ...; plain
dataclasses) are in :mod:`op25b_cfg.inventory_model`, the pydantic models that validate the files in
:mod:`op25b_cfg.inventory_schema` (converted into the runtime types once per load), the checks of single values
in :mod:`op25b_cfg.inventory_values`, the checks across fields and files in :mod:`op25b_cfg.inventory_checks`;
this module reads the files, resolves host -> groups -> defaults -> policy and is where callers import the
model's names from. Validation (pydantic) is imported only when the files are read, not on a cache hit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from op25b_cfg.errors import InventoryError, PlatformError, Problem, cut
from op25b_cfg.gc_pause import paused_gc
from op25b_cfg.inventory_model import Attachment, Device, FlowControl, Inventory, PluginOptions, Policy, from_model
from op25b_cfg.inventory_values import (
    DEFAULTS_FILE,
    GROUPS_FILE,
    HOSTS_FILE,
    MODES,
    POLICY_FILE,
    Mode,
    not_text,
    safe_name,
)
from op25b_cfg.paths import device_file_name

if TYPE_CHECKING:
    from op25b_cfg.inventory_schema import HostEntry

log = logging.getLogger(__name__)


def _read_yaml(path: Path, required: bool) -> tuple[dict[str, Any], list[Problem]]:
    import yaml  # not needed when the inventory comes from the cache (op25b_cfg.inventory_cache)

    from op25b_cfg.yamlload import YamlProblem, load_yaml

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


@dataclass
class _Layer:
    file: str
    path: str
    entry: HostEntry
    _keys: dict[str, tuple[Any, str]] | None = None

    def keys(self) -> dict[str, tuple[Any, str]]:
        """Every key this layer sets, with its value and where it is written (``file: path.data.key``); a key
        under ``data`` wins over the entry's own. Computed once per layer: a group's is shared by its hosts."""
        if self._keys is None:
            entry, data = self.entry, self.entry.data
            where = f"{self.file}: {self.path}"
            keys = {k: (getattr(entry, k), f"{where}.{k}") for k in entry.model_fields_set if k != "data"}
            keys.update({k: (getattr(data, k), f"{where}.data.{k}") for k in data.model_fields_set})
            self._keys = keys
        return self._keys


def _walk_groups(names: list[str], groups: dict[str, _Layer], seen: tuple[str, ...] = ()) -> Iterator[_Layer]:
    """Nornir order: each group, then that group's own groups, depth first."""
    for name in names:
        if name in seen or name not in groups:
            continue
        layer = groups[name]
        yield layer
        yield from _walk_groups(layer.entry.groups, groups, (*seen, name))


_FROM_POLICY: dict[str, tuple[Any, str]] = {
    key: (None, f"{POLICY_FILE}: {key}")
    for key in (
        "hostname",
        "port",
        "username",
        "platform",
        "pools",
        "attach",
        "uplinks",
        "mode",
        "log",
        "counters",
        "description",
        "site",
    )
}
"""What a device resolves when no host, group or defaults entry sets the key: no value of its own (the policy's,
where the policy has one), and where that is written."""


def load_inventory(path: str | Path) -> Inventory:
    """Load and validate an inventory directory. Raises InventoryError listing every problem.

    The garbage collector is paused meanwhile (:func:`~op25b_cfg.gc_pause.paused_gc`): the YAML data, models and
    devices hold no reference cycles, and collector passes over a 10,000-host inventory cost about 0.3 s.

    A validated inventory is kept in a per-user cache (:mod:`op25b_cfg.inventory_cache`): loading the same files
    again rebuilds the same objects from it without YAML or validation (``OP25B_NO_CACHE=1`` bypasses it)."""
    root = Path(path)
    with paused_gc():
        from op25b_cfg import inventory_cache, rendered_cache

        if inventory_cache.disabled() or not root.is_dir():
            return _load_inventory(root)
        key = inventory_cache.entry_key(root)
        hit = inventory_cache.load(root, key)
        if hit is not None:
            rendered_cache.remember(hit, root, key)
            return hit
        inventory = _load_inventory(root)
        if inventory_cache.entry_key(root) == key:  # not edited while it was read
            inventory_cache.store(root, inventory, key)
            rendered_cache.remember(inventory, root, key)
        return inventory


def _load_inventory(root: Path) -> Inventory:
    # validation (pydantic) is imported only here: a cached inventory needs none of it
    from pydantic import ValidationError

    from op25b_cfg.inventory_checks import check_exemption_scopes, check_policy, problems_from
    from op25b_cfg.inventory_schema import HostEntry
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
            problems += problems_from(exc, pol_file)
        else:
            problems += check_policy(policy, pol_file)

    layers: dict[str, dict[str, _Layer]] = {}
    defaults: _Layer | None = None
    for fname, required in ((HOSTS_FILE, True), (GROUPS_FILE, False), (DEFAULTS_FILE, False)):
        fpath = str(root / fname)
        raw, probs = _read_yaml(root / fname, required)
        problems += probs
        if fname == DEFAULTS_FILE:
            try:
                defaults = _Layer(fpath, "defaults", HostEntry.model_validate(raw))
            except ValidationError as exc:
                problems += problems_from(exc, fpath)
            continue
        table: dict[str, _Layer] = {}
        check_name = device_file_name if fname == HOSTS_FILE else safe_name
        for raw_name, body in raw.items():
            name = str(raw_name)
            try:
                if not isinstance(raw_name, str):
                    raise ValueError(not_text(f"a {fname.removesuffix('s.yaml')} name", raw_name))
                check_name(name)
            except ValueError as exc:
                what, _, fix = str(exc).partition(". Fix: ")
                problems.append(Problem(fpath, repr(cut(name)), what + ".", fix))
                continue
            try:
                table[name] = _Layer(fpath, name, HostEntry.model_validate(body if body is not None else {}))
            except ValidationError as exc:
                problems += problems_from(exc, fpath, name)
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
        problems += check_exemption_scopes(policy, pol_file, hosts, groups)
    devices: dict[str, Device] = {}
    memo: dict[int, tuple[Any, Any]] = {}  # validated models -> runtime objects (one per model, shared)
    if policy is not None:
        pools_by_name = {p.name: p for p in reversed(policy.pools)}  # the first of a name, as Policy.pool
        pool_names = set(pools_by_name)
        for name, host in hosts.items():
            chain = [host, *_walk_groups(host.entry.groups, groups)]
            if defaults is not None:
                chain.append(defaults)

            # host -> groups -> defaults: the first layer setting a key; else the policy's value (None here)
            resolved = dict(_FROM_POLICY)
            for layer in reversed(chain):
                resolved.update(layer.keys())
            resolve = resolved.__getitem__

            conn_opts: dict[str, PluginOptions] = {}
            for plugin in ("napalm", "netmiko"):
                for layer in chain:
                    found = getattr(layer.entry.connection_options, plugin)
                    if found is not None:
                        conn_opts[plugin] = from_model(found, memo)
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
                    fc = policy.flow_control.as_dict() if fc is None else fc
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
                attach=tuple(from_model(attach_v, memo)),
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
                get_platform(platform).checked(dev)
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


__all__ = [
    "DEFAULTS_FILE",
    "GROUPS_FILE",
    "HOSTS_FILE",
    "MODES",
    "POLICY_FILE",
    "Attachment",
    "Device",
    "FlowControl",
    "Inventory",
    "Mode",
    "Policy",
    "load_inventory",
]
