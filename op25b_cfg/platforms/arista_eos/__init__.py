"""Arista EOS."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, ClassVar

from op25b_cfg.platforms.base import Platform

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session
    from op25b_cfg.connection.napalm_session import NapalmSession
    from op25b_cfg.dialects.base import ConfigDialect
    from op25b_cfg.effect.model import CounterReading


class AristaEos(Platform):
    """EOS: ``ip access-list`` / ``ipv6 access-list`` with sequence numbers and ``counters per-entry``,
    applied with ``ip|ipv6 access-group NAME in|out`` on interfaces. Commit with a revert timer through
    configure sessions (``commit timer``). No flow control: EOS ACLs cannot limit per subscriber.
    """

    name = "arista_eos"
    netmiko_device_type = "arista_eos"
    napalm_driver = "eos"
    file_extension = "eos"

    @functools.cached_property
    def dialect(self) -> ConfigDialect:
        from op25b_cfg.dialects.cisco_blocks import CiscoDialect

        return CiscoDialect()

    attach_kinds: ClassVar[frozenset[str]] = frozenset({"interface"})
    commit_confirm = True
    addr_style: ClassVar[dict[int, str]] = {4: "prefix", 6: "prefix"}
    any_protocol: ClassVar[dict[int, str]] = {4: "ip", 6: "ipv6"}

    def napalm_port(self, session: NapalmSession, extra: dict[str, Any], port: int | None) -> int | None:
        if extra.get("transport", "https") != "ssh" and not session.opts.port and port == 22:
            return None  # the inventory's SSH port (22, nornir's default) is not the eAPI port
        return port

    def napalm_optional_args(self, session: NapalmSession, extra: dict[str, Any]) -> dict[str, Any]:
        """eAPI over HTTPS (certificate checked unless host-key checks are off; ``ca_file`` names the CA),
        HTTP, or SSH."""
        import ssl

        transport = extra.get("transport", "https")
        args: dict[str, Any] = {"transport": transport}
        if transport == "ssh":
            args.update(session.ssh_args())
        elif transport == "https":
            ca = extra.pop("ca_file", None)
            if session.opts.verify_host_key:
                args["context"] = ssl.create_default_context(cafile=ca)
            else:
                args["context"] = ssl._create_unverified_context()
        if session.creds.secret:
            args["enable_password"] = session.creds.secret
        return args

    def read_counters(self, session: Session) -> list[CounterReading]:
        """eAPI ``show ip access-lists`` / ``show ipv6 access-lists`` in JSON: each entry's ``counterData``
        (ACLs rendered with ``counters per-entry``)."""
        from op25b_cfg.platforms.arista_eos.counters import read

        return read(session)
