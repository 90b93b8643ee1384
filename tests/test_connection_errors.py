"""Issue 9 item 16: connection errors carry a Fix on every platform (no raw JSON) and, for an unknown host key,
the fingerprint of the key the device offers (compared here with what OpenSSH's ssh-keygen computes).

Real napalm drivers against the protocol emulators; nothing of op25b is mocked.
"""

from __future__ import annotations

import dataclasses
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from op25b_cfg import api
from op25b_cfg.connection.base import ConnectOptions, Credentials
from op25b_cfg.connection.factory import make_session
from op25b_cfg.connection.napalm_session import map_exception
from op25b_cfg.errors import ConnectionError_
from op25b_cfg.inventory import Device
from op25b_cfg.lab.emulators.faults import Faults
from op25b_cfg.platforms.arista_eos.emulator import EosEmulator
from op25b_cfg.platforms.cisco_ios.emulator import IosEmulator
from tests.labutil import REPO, need


def _device(name: str) -> Device:
    return dataclasses.replace(api.load(REPO / "inventory").devices[name], hostname="127.0.0.1")


def _open(device: Device, creds: Credentials, opts: ConnectOptions) -> str:
    with pytest.raises(ConnectionError_) as info, make_session(device, creds, opts) as session:
        session.get_running()
    return str(info.value)


def test_unknown_host_key_shows_the_offered_fingerprint(tmp_path: Path) -> None:
    need(shutil.which("ssh-keygen") is not None, "ssh-keygen (openssh-client) is not installed")
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with IosEmulator() as emu:
        opts = ConnectOptions(timeout=10, known_hosts=str(empty), port=emu.port)
        msg = _open(_device("bras-tyo-ios1"), Credentials(emu.username, emu.password), opts)
        line = tmp_path / "offered"
        line.write_text(emu.known_hosts_line() + "\n")
        expected = subprocess.run(["ssh-keygen", "-lf", str(line)], capture_output=True, text=True, check=True)
        sha = next(w for w in expected.stdout.split() if w.startswith("SHA256:"))
        assert emu.commands == []  # nothing ran on the device
    assert "not in known_hosts" in msg and f"the device offers {emu.host_key.get_name()} {sha}" in msg
    assert msg.index(sha) < msg.index("Fix:")


def test_eos_wrong_password_has_a_fix_and_no_raw_json() -> None:
    with EosEmulator(hostname="edge-osa-eos1", faults=Faults(wrong_password=True)) as emu:
        opts = ConnectOptions(timeout=10, port=emu.port, driver_args={"transport": "http"})
        msg = _open(_device("edge-osa-eos1"), Credentials(emu.username, emu.password), opts)
    assert "authentication failed" in msg and "Fix: check OP25B_USERNAME" in msg
    assert "{" not in msg and emu.password not in msg


def test_eos_tls_to_a_plain_http_port_has_a_fix() -> None:
    with EosEmulator(hostname="edge-osa-eos1") as emu:
        opts = ConnectOptions(timeout=10, port=emu.port)  # https (default) against the emulator's http
        msg = _open(_device("edge-osa-eos1"), Credentials(emu.username, emu.password), opts)
    assert "TLS handshake failed" in msg and "Fix:" in msg


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("odd library failure"),
        ConnectionResetError(104, "Connection reset by peer"),
        EOFError(),
        OSError(113, "No route to host"),
        ValueError('Unauthorized. {"error": "Unable to authenticate user: Bad username/password"}'),
        ssl.SSLError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_connect_error_has_a_fix(exc: BaseException) -> None:
    err = map_exception(exc, "connect", "r1 (192.0.2.11:22, napalm ios)", Credentials("noc", "pw"), 5)
    assert isinstance(err, ConnectionError_) and "Fix: " in str(err), str(err)
