"""Pick the session class for a device's platform: napalm drivers for routers, netmiko + nft for Linux."""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from op25b_cfg.connection.base import ConnectOptions, Credentials, Session
from op25b_cfg.errors import ConnectionError_
from op25b_cfg.platforms import get_platform

if TYPE_CHECKING:
    from op25b_cfg.inventory import Device

LINUX_SESSION = "op25b_cfg.connection.linux:LinuxNftSession"


def session_class(device: Device) -> type[Session]:
    """The :class:`Session` subclass for ``device`` (imported lazily: the Linux one pulls in netmiko)."""
    plat = get_platform(device.platform)
    if plat.napalm_driver:
        from op25b_cfg.connection.napalm_session import NapalmSession

        return NapalmSession
    if plat.netmiko_device_type == "linux":
        mod_name, _, cls_name = LINUX_SESSION.partition(":")
        try:
            cls: type[Session] = getattr(importlib.import_module(mod_name), cls_name)
        except (ImportError, AttributeError) as exc:
            raise ConnectionError_(
                f"{device.name}: the Linux nftables session ({LINUX_SESSION}) is not available ({exc})"
            ) from None
        return cls
    raise ConnectionError_(f"{device.name}: no session type for platform {device.platform}")


def make_session(device: Device, creds: Credentials, opts: ConnectOptions) -> Session:
    """A session for ``device``, not yet connected: use ``with make_session(...) as s:``."""
    return session_class(device)(device, creds, opts)


def open_session(device: Device, creds: Credentials, opts: ConnectOptions) -> Session:
    """A connected session for ``device``. The caller closes it (``session.close()``); prefer
    :func:`make_session` in a ``with`` block, which closes it on every path."""
    session = make_session(device, creds, opts)
    session.open()
    return session


LIBRARY_LOGGERS = ("napalm", "netmiko", "paramiko", "ncclient", "jnpr", "pyeapi", "nornir")


def quiet_library_logs(verbose: bool = False) -> None:
    """Silence the connection libraries' own logging (some log tracebacks with request data at ERROR
    level for a mere timeout); op25b reports every failure itself. ``verbose`` keeps their warnings."""
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if verbose else logging.CRITICAL)
