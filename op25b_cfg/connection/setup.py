"""What the connection options resolve to: credentials, :class:`~op25b_cfg.connection.base.ConnectOptions` and a
session factory (:class:`Connection`), built by :func:`op25b_cfg.api.connect` (the ``op25b`` commands' options:
:mod:`op25b_cfg.cli_options`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from op25b_cfg.connection.base import ConnectOptions, Credentials
from op25b_cfg.connection.credentials import for_device, is_cleartext, unsafe_args
from op25b_cfg.errors import ConnectionError_, Op25bError

if TYPE_CHECKING:
    from op25b_cfg.connection.base import Session
    from op25b_cfg.inventory import Device

log = logging.getLogger(__name__)


class OptionError(Op25bError):
    """A command-line option value is malformed."""


def refuse_unsafe(args: dict[str, object], verify_host_key: bool) -> None:
    """Raise :class:`OptionError` naming every driver argument that is a secret, or a host-key switch while
    ``verify_host_key`` is on (:func:`op25b_cfg.connection.credentials.unsafe_args`)."""
    bad = unsafe_args(args, verify_host_key)
    if bad:
        raise OptionError("\n".join(f"--driver-arg {key}=...: {what}. Fix: {fix}" for key, what, fix in bad))


@dataclass(frozen=True)
class Connection:
    """What the connection options resolve to: credentials (never printed), options, and a session factory."""

    creds: Credentials
    options: ConnectOptions
    override_username: bool
    allow_cleartext: bool = False

    def session(self, device: Device) -> Session:
        """An unopened session to ``device`` (use it in a ``with`` block).

        Raises :class:`ConnectionError_` when the device's transport (inventory or ``--driver-arg``) is clear
        text and ``--allow-cleartext`` was not given; logs a warning for every such device when it was."""
        from op25b_cfg.connection.factory import make_session

        plugin = device.connection_options.get("napalm")
        merged = {**(plugin.extras.get("optional_args", {}) if plugin else {}), **self.options.driver_args}
        if is_cleartext(merged):
            if not self.allow_cleartext:
                raise ConnectionError_(
                    f"{device.name}: transport {merged['transport']} sends the password in clear text; not"
                    " connecting. Fix: use transport https (eAPI) or ssh, or pass --allow-cleartext for a lab"
                )
            log.warning(
                "%s: transport %s: the password crosses the network unencrypted", device.name, merged["transport"]
            )
        return make_session(device, for_device(self.creds, device, self.override_username), self.options)
