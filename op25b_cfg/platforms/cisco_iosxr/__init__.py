"""Cisco IOS-XR, including BNG (filters in a ``dynamic-template``)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, ClassVar

from op25b_cfg.platforms.base import Platform

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session
    from op25b_cfg.connection.napalm_session import NapalmSession
    from op25b_cfg.dialects.base import ConfigDialect
    from op25b_cfg.effect.model import CounterReading


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

    def read_counters(self, session: Session) -> list[CounterReading]:
        """``show access-lists ipv4`` and ``show access-lists ipv6`` (napalm ``cli()``, the XML agent's
        ``<CLI><Exec>``): each entry's ``(N matches)``. These are the software (accounting) counters; a
        line card's hardware counters (``... hardware ingress location``) are not read."""
        from op25b_cfg.dialects.cisco_counters import read_acl_counters

        return read_acl_counters(session, ("show access-lists ipv4", "show access-lists ipv6"), "xr")
