"""Make the session for a device: the class its platform names (napalm drivers for routers, netmiko + nft for
Linux, or a platform package's own)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from op25b_cfg.connection.base import ConnectOptions, Credentials, Session
from op25b_cfg.errors import ConnectionError_
from op25b_cfg.platforms import get_platform

if TYPE_CHECKING:
    from op25b_cfg.inventory import Device


def session_class(device: Device) -> type[Session]:
    """The :class:`Session` subclass for ``device``: its platform's
    :meth:`~op25b_cfg.platforms.base.Platform.session_class` (imported lazily: sessions pull in their libraries)."""
    plat = get_platform(device.platform)
    try:
        return plat.session_class()
    except ImportError as exc:
        raise ConnectionError_(f"{device.name}: the {plat.name} session is not available ({exc})") from None


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
