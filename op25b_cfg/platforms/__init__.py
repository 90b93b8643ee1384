"""The platform registry: one class per platform, keyed by the inventory's ``platform`` value.

Each class names its netmiko ``device_type`` and napalm driver (see :class:`Platform`). The keys are op25b's
platform names rather than bare netmiko device types because two of them are more specific than netmiko's
(``cisco_iosxr`` is netmiko's ``cisco_xr``; ``linux_nftables`` is a ``linux`` host whose filter is nftables);
see docs/decisions.md.
"""

from __future__ import annotations

from op25b_cfg.errors import PlatformError
from op25b_cfg.platforms.arista_eos import AristaEos
from op25b_cfg.platforms.base import Platform
from op25b_cfg.platforms.cisco_ios import CiscoIos
from op25b_cfg.platforms.cisco_iosxr import CiscoIosxr
from op25b_cfg.platforms.juniper_junos import JuniperJunos
from op25b_cfg.platforms.linux_nftables import LinuxNftables

PLATFORMS: dict[str, type[Platform]] = {
    cls.name: cls for cls in (CiscoIos, CiscoIosxr, JuniperJunos, AristaEos, LinuxNftables)
}

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


__all__ = ["PLATFORMS", "Platform", "get_platform"]
