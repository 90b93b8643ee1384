"""Login credentials: from the environment or an interactive prompt, never from inventory files, never logged.

Sources, in order:

* ``OP25B_USERNAME`` / ``OP25B_PASSWORD`` / ``OP25B_SECRET`` (enable secret, IOS only; optional);
* the username set for a device in the inventory (``username:`` is allowed there, a password is not);
* an interactive prompt (:func:`getpass.getpass`, no echo) when stdin is a terminal.

No function here logs, prints or puts a secret into an exception message; :class:`Credentials` hides the
password and secret from ``repr``.
"""

from __future__ import annotations

import dataclasses
import getpass
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from op25b_cfg.connection.base import Credentials
from op25b_cfg.errors import Op25bError

if TYPE_CHECKING:
    from op25b_cfg.intent_protocols import Device

log = logging.getLogger(__name__)

ENV_USERNAME = "OP25B_USERNAME"
ENV_PASSWORD = "OP25B_PASSWORD"
ENV_SECRET = "OP25B_SECRET"


_SECRET_KEY_RE = re.compile(r"pass(?:word|wd|phrase)?|secret|token|community|psk|api_?key|^key$", re.IGNORECASE)
HOST_KEY_ARGS = frozenset({"ssh_strict", "system_host_keys", "alt_host_keys", "alt_key_file", "hostkey_verify"})
"""Driver arguments that switch SSH host-key verification off (only ``--no-verify-host-key`` may)."""
CLEARTEXT_TRANSPORTS = frozenset({"http", "telnet"})
"""``transport`` values that send the password unencrypted (EOS eAPI over HTTP, IOS over telnet)."""


def is_secret_key(key: object) -> bool:
    """Whether an option name holds a secret (its value must never be on a command line or in a file).

    >>> [k for k in ("password", "enable_password", "secret", "passphrase", "api_key", "key", "key_file",
    ...              "transport", "auth_token") if is_secret_key(k)]
    ['password', 'enable_password', 'secret', 'passphrase', 'api_key', 'key', 'auth_token']
    """
    return bool(_SECRET_KEY_RE.search(str(key)))


def is_cleartext(args: Mapping[str, object]) -> bool:
    """Whether driver arguments ask for a transport that sends credentials in clear text.

    >>> is_cleartext({"transport": "http"}), is_cleartext({"transport": "https"}), is_cleartext({})
    (True, False, False)
    """
    return str(args.get("transport", "")).lower() in CLEARTEXT_TRANSPORTS


def unsafe_args(args: Mapping[str, object], verify_host_key: bool) -> list[tuple[str, str, str]]:
    """``(key, what, fix)`` for each driver argument that would put a secret where others can read it, or
    switch host-key verification off without ``--no-verify-host-key``. Values are never quoted.

    >>> [k for k, _, _ in unsafe_args({"secret": "x", "ssh_strict": False, "transport": "https"}, True)]
    ['secret', 'ssh_strict']
    >>> unsafe_args({"ssh_strict": False}, verify_host_key=False)
    []
    """
    found: list[tuple[str, str, str]] = []
    for key in args:
        if is_secret_key(key):
            found.append(
                (
                    key,
                    "is a secret: on a command line every local user sees it in the process list, in a file"
                    " anyone who reads the file does",
                    f"remove it; set {ENV_PASSWORD} / {ENV_SECRET} in the environment or let op25b prompt",
                )
            )
        elif key in HOST_KEY_ARGS and verify_host_key:
            found.append(
                (
                    key,
                    "switches SSH host-key verification off",
                    "remove it; for a lab pass --no-verify-host-key on the command line (it warns on every run)",
                )
            )
    return found


class CredentialsError(Op25bError):
    """No credentials could be obtained (not in the environment and no terminal to prompt on)."""


def os_user() -> str:
    """The operating-system user running op25b (for the change log), never failing."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def load_credentials(
    *,
    username: str | None = None,
    env: Mapping[str, str] | None = None,
    interactive: bool | None = None,
    prompt: Callable[[str], str] | None = None,
    ask: Callable[[str], str] | None = None,
) -> Credentials:
    """Credentials for a push or live audit.

    ``username`` (the ``--username`` option) wins over ``OP25B_USERNAME``. Missing values are prompted for
    when ``interactive`` (default: stdin is a terminal); otherwise :class:`CredentialsError` says which
    variable to set. ``prompt`` (no echo, default :func:`getpass.getpass`) and ``ask`` (echo, default
    :func:`input`) are injectable for tests.
    """
    env = os.environ if env is None else env
    if interactive is None:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    prompt = prompt or getpass.getpass
    ask = ask or input

    user = username or env.get(ENV_USERNAME, "")
    if not user:
        if not interactive:
            raise CredentialsError(
                f"no username: set {ENV_USERNAME} (or --username), or run on a terminal to be prompted"
            )
        user = ask("Device username: ").strip()
        if not user:
            raise CredentialsError("no username given")

    password = env.get(ENV_PASSWORD, "")
    if not password:
        if not interactive:
            raise CredentialsError(
                f"no password: set {ENV_PASSWORD} in the environment, or run on a terminal to be prompted"
                " (passwords are never read from inventory files)"
            )
        password = prompt(f"Password for {user}: ")
        if not password:
            raise CredentialsError("no password given")
    secret = env.get(ENV_SECRET, "")
    log.info("credentials: username %s, password from %s", user, "environment" if env.get(ENV_PASSWORD) else "prompt")
    return Credentials(username=user, password=password, secret=secret)


def for_device(base: Credentials, device: Device, override_username: bool = False) -> Credentials:
    """The credentials used for ``device``: the inventory's per-device ``username`` (when set and not
    overridden on the command line) with the shared password and secret."""
    if device.username and not override_username and device.username != base.username:
        return dataclasses.replace(base, username=device.username)
    return base


def scrub(text: str, creds: Credentials | None) -> str:
    """``text`` with the password and enable secret replaced by ``***`` (for error messages from libraries
    that may echo what they sent)."""
    if creds is None:
        return text
    for s in (creds.password, creds.secret):
        if s and len(s) >= 3:
            text = text.replace(s, "***")
    return text
