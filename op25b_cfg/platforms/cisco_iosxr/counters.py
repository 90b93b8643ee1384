"""Cisco IOS-XR: the uptime for ``op25b effect collect``'s reload detection.

``show version`` (napalm ``cli()``, through the XML agent) prints ``<host> uptime is 1 week, 2 days, 3 hours,
4 minutes`` as IOS does, so IOS's reader serves; the ACL counters are read by the Cisco-style reader
(:meth:`op25b_cfg.platforms.cisco_iosxr.CiscoIosxr.read_counters`).
"""

from __future__ import annotations

from op25b_cfg.platforms.cisco_ios.counters import read_uptime

__all__ = ["read_uptime"]
