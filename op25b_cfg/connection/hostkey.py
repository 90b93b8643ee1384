"""The host key a device offers, for the "not in known_hosts" error: the user compares it out of band.

:func:`offered_key` opens a bare SSH transport (key exchange only: no login, no credentials sent) and returns the
key's type and OpenSSH-style SHA256 fingerprint; :func:`with_offered_key` adds it to an unknown-host-key error.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import socket

from op25b_cfg.errors import ConnectionError_, Op25bError

log = logging.getLogger(__name__)

UNKNOWN_KEY_TEXT = "host key is not in known_hosts"
"""What every session's unknown-host-key message says (napalm and Linux sessions)."""


def fingerprint(blob: bytes) -> str:
    """OpenSSH's ``SHA256:`` fingerprint of a public key blob (as ``ssh-keygen -lf`` prints it).

    >>> fingerprint(b"key")
    'SHA256:LHDhK3oGRvkiefQnx7OOczTY5Tic/xZ6HcMOc/gmtoM'
    """
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def offered_key(host: str, port: int, timeout: float) -> str | None:
    """``"<type> SHA256:<fingerprint>"`` of the host key ``host:port`` offers, or None when it cannot be read."""
    import paramiko

    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            transport = paramiko.Transport(sock)
            try:
                transport.banner_timeout = timeout
                transport.start_client(timeout=timeout)
                key = transport.get_remote_server_key()
            finally:
                transport.close()
    except (OSError, EOFError, paramiko.SSHException) as exc:
        log.info("%s:%s: could not read the offered host key (%s)", host, port, type(exc).__name__)
        return None
    return f"{key.get_name()} {fingerprint(key.asbytes())}"


def with_offered_key(exc: Op25bError, host: str, port: int | None, timeout: float) -> Op25bError:
    """``exc`` with the offered key's fingerprint inserted before its Fix when it is an unknown-host-key error."""
    text = str(exc)
    if UNKNOWN_KEY_TEXT not in text or not port:
        return exc
    key = offered_key(host, port, timeout)
    if key is None:
        return exc
    what, sep, fix = text.partition(". Fix: ")
    return ConnectionError_(f"{what}; the device offers {key}{sep or '. Fix: '}{fix or 'check it out of band'}")
