"""The platform registry: one package per platform, keyed by the inventory's ``platform`` value.

Each package (``op25b_cfg/platforms/<platform>/``) holds one :class:`Platform` subclass and everything
vendor-specific behind it (template, parser, emulator; see :mod:`op25b_cfg.platforms.base`). The built-in
platforms are listed here; third-party packages add theirs under the ``op25b.platforms`` entry point group
(``name = "package.module:PlatformClass"``), as napalm loads ``napalm_<driver>`` packages and aerleon loads
generator plugins. The keys are op25b's platform names rather than bare netmiko device types because two of them
are more specific than netmiko's (``cisco_iosxr`` is netmiko's ``cisco_xr``; ``linux_nftables`` is a ``linux``
host whose filter is nftables); see docs/decisions.md.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator, Mapping

from op25b_cfg.errors import PlatformError
from op25b_cfg.platforms.base import Platform

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "op25b.platforms"
_BUILTIN: dict[str, str] = {
    "cisco_ios": "CiscoIos",
    "cisco_iosxr": "CiscoIosxr",
    "juniper_junos": "JuniperJunos",
    "arista_eos": "AristaEos",
    "linux_nftables": "LinuxNftables",
    "huawei_vrp": "HuaweiVrp",
    "mikrotik_routeros": "MikrotikRouteros",
}
"""The built-in platforms: name (= package ``op25b_cfg.platforms.<name>``) -> class name, in listing order."""
BUILTIN_NAMES: tuple[str, ...] = tuple(_BUILTIN)
"""The names of the built-in platforms. Their packages are imported when a platform is first looked up, so a
command on one platform loads only that one's (importing all seven cost every audit about 20 M instructions)."""


def _import_builtin(name: str) -> type[Platform]:
    cls: type[Platform] = getattr(importlib.import_module(f"{__name__}.{name}"), _BUILTIN[name])
    return cls


def builtin_classes() -> tuple[type[Platform], ...]:
    """The built-in platform classes, in :data:`BUILTIN_NAMES` order (imports every built-in package)."""
    return tuple(PLATFORMS[name] for name in BUILTIN_NAMES)


def _plugins() -> list[type[Platform]]:
    """Platform classes registered by installed packages under :data:`ENTRY_POINT_GROUP`. A plugin that fails
    to load, is not a :class:`Platform` or reuses a built-in name is skipped with a warning naming it."""
    from importlib.metadata import entry_points

    out: list[type[Platform]] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not break op25b
            log.warning("platform plugin %s (%s) does not load: %s", ep.name, ep.value, exc)
            continue
        if not (isinstance(cls, type) and issubclass(cls, Platform)) or getattr(cls, "name", None) != ep.name:
            log.warning(
                "platform plugin %s (%s) is not a Platform subclass named %r; skipped", ep.name, ep.value, ep.name
            )
            continue
        if ep.name in _BUILTIN:
            log.warning("platform plugin %s (%s) reuses a built-in platform name; skipped", ep.name, ep.value)
            continue
        out.append(cls)
    return out


class _Registry(Mapping[str, type[Platform]]):
    """The platform classes by name: the built-in ones at once; the installed plugins (:func:`_plugins` reads
    the entry points of every installed distribution, 25-40 ms of start-up) only when a name that is not built
    in is looked up, or the registry is listed. A command on built-in platforms never scans them."""

    def __init__(self) -> None:
        self._builtin: dict[str, type[Platform]] = {}  # the built-in classes imported so far
        self._all: dict[str, type[Platform]] | None = None

    def _every(self) -> dict[str, type[Platform]]:
        if self._all is None:
            self._all = {**{name: self[name] for name in _BUILTIN}, **{cls.name: cls for cls in _plugins()}}
        return self._all

    def __getitem__(self, name: str) -> type[Platform]:
        cls = self._builtin.get(name)
        if cls is None:
            if name not in _BUILTIN:
                return self._every()[name]
            cls = self._builtin[name] = _import_builtin(name)
        return cls

    def __contains__(self, name: object) -> bool:
        return name in _BUILTIN or name in self._every()

    def __iter__(self) -> Iterator[str]:
        return iter(self._every())

    def __len__(self) -> int:
        return len(self._every())


PLATFORMS: Mapping[str, type[Platform]] = _Registry()
"""Every platform class by name, built-in ones first (a read-only mapping)."""

_INSTANCES: dict[str, Platform] = {}


def get_platform(name: str) -> Platform:
    """The platform object for ``name``; PlatformError naming the known platforms otherwise."""
    try:
        return _INSTANCES[name]
    except KeyError:
        pass
    if name not in PLATFORMS:
        raise PlatformError(f"unknown platform '{name}'. Fix: use one of: {', '.join(PLATFORMS)}")
    inst = _INSTANCES[name] = PLATFORMS[name]()
    return inst


__all__ = ["BUILTIN_NAMES", "ENTRY_POINT_GROUP", "PLATFORMS", "Platform", "builtin_classes", "get_platform"]
