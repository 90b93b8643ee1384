"""Cisco IOS-XR, including BNG (filters in a ``dynamic-template``)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, ClassVar

from op25b_cfg.platforms.base import Platform

if TYPE_CHECKING:
    from op25b_cfg.connection.napalm_session import NapalmSession
    from op25b_cfg.dialects.base import ConfigDialect


class CiscoIosxr(Platform):
    """IOS-XR: ``ipv4 access-list`` / ``ipv6 access-list`` with explicit sequence numbers, applied with
    ``ipv4|ipv6 access-group NAME ingress|egress`` on interfaces and BNG dynamic-templates
    (``type ppp`` by default, or ``type ipsubscriber``).

    No flow control: XR has no per-subscriber session cap, and its commit has no revert timer.
    """

    name = "cisco_iosxr"
    netmiko_device_type = "cisco_xr"
    napalm_driver = "iosxr"
    file_extension = "iosxr"

    @functools.cached_property
    def dialect(self) -> ConfigDialect:
        from op25b_cfg.dialects.cisco_blocks import CiscoDialect

        return CiscoDialect()

    attach_kinds: ClassVar[frozenset[str]] = frozenset({"interface", "dynamic-template"})
    addr_style: ClassVar[dict[int, str]] = {4: "prefix", 6: "prefix"}
    any_protocol: ClassVar[dict[int, str]] = {4: "ipv4", 6: "ipv6"}

    def napalm_optional_args(self, session: NapalmSession, extra: dict[str, Any]) -> dict[str, Any]:
        return session.ssh_args()
