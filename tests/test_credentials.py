"""Credentials (env / prompt, never inventory, never shown) and the secret hygiene of error mapping."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from op25b_cfg import api
from op25b_cfg.api import Connection
from op25b_cfg.cli_options import driver_args
from op25b_cfg.connection.base import ConnectOptions, Credentials
from op25b_cfg.connection.credentials import CredentialsError, for_device, load_credentials, scrub
from op25b_cfg.connection.napalm_session import NapalmSession, map_exception
from op25b_cfg.errors import ConnectionError_, InventoryError, PushError
from tests.labutil import REPO

PW = "Tr0ub4dor&3-secret"


def test_from_environment() -> None:
    env = {"OP25B_USERNAME": "noc", "OP25B_PASSWORD": PW, "OP25B_SECRET": "en4ble"}
    c = load_credentials(env=env, interactive=False)
    assert (c.username, c.password, c.secret) == ("noc", PW, "en4ble")
    assert PW not in repr(c) and "en4ble" not in repr(c) and "noc" in repr(c)
    assert load_credentials(username="other", env=env, interactive=False).username == "other"


def test_prompt_when_interactive() -> None:
    asked: list[str] = []
    c = load_credentials(
        env={}, interactive=True, ask=lambda p: asked.append(p) or "noc", prompt=lambda p: asked.append(p) or PW
    )
    assert (c.username, c.password) == ("noc", PW)
    assert asked == ["Device username: ", "Password for noc: "]


def test_missing_without_terminal_names_the_variable() -> None:
    with pytest.raises(CredentialsError, match="OP25B_USERNAME"):
        load_credentials(env={}, interactive=False)
    with pytest.raises(CredentialsError, match="OP25B_PASSWORD") as ei:
        load_credentials(env={"OP25B_USERNAME": "noc"}, interactive=False)
    assert "never read from inventory" in str(ei.value)


def test_inventory_username_but_never_password(tmp_path: Path) -> None:
    inv = api.load(REPO / "inventory")
    dev = inv.devices["bras-tyo-ios1"]
    base = Credentials("noc", PW)
    assert for_device(base, dev) is base  # no per-device username in the example inventory
    import dataclasses

    dev2 = dataclasses.replace(dev, username="bras-admin")
    c = for_device(base, dev2)
    assert c.username == "bras-admin" and c.password == PW
    assert for_device(base, dev2, override_username=True).username == "noc"


def test_scrub() -> None:
    c = Credentials("noc", PW, "en4ble")
    assert scrub(f"login {PW} enable en4ble", c) == "login *** enable ***"


class EchoError(Exception):
    """A library error that echoes what was sent (some do)."""


def test_map_exception_never_leaks_and_classifies() -> None:
    c = Credentials("noc", PW, "en4ble")
    err = map_exception(EchoError(f"cmd failed: enable en4ble / {PW}"), "load merge candidate", "r1", c)
    assert isinstance(err, PushError) and PW not in str(err) and "en4ble" not in str(err)
    assert str(err).startswith("r1: load merge candidate failed")

    import paramiko

    auth = map_exception(paramiko.AuthenticationException(f"bad {PW}"), "connect", "r1", c)
    assert isinstance(auth, ConnectionError_) and "authentication failed for user 'noc'" in str(auth)
    assert PW not in str(auth)
    key = map_exception(paramiko.SSHException("Server '[127.0.0.1]:2222' not found in known_hosts"), "connect", "r1")
    assert isinstance(key, ConnectionError_) and "not in known_hosts" in str(key) and "--no-verify" in str(key)
    assert "timed out after 5s" in str(map_exception(TimeoutError("x"), "connect", "r1", timeout=5))
    assert isinstance(map_exception(ConnectionRefusedError(111, "refused"), "connect", "r1"), ConnectionError_)
    from napalm.base.exceptions import MergeConfigException

    rej = map_exception(MergeConfigException("% Invalid input detected at '^' marker."), "load", "r1")
    assert isinstance(rej, PushError) and "refused" in str(rej) and "Invalid input" in str(rej)


def test_real_napalm_driver_refused_port_is_connection_error() -> None:
    """The real napalm ios driver (netmiko, paramiko) against a closed loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    inv = api.load(REPO / "inventory")
    dev = inv.devices["bras-tyo-ios1"]
    import dataclasses

    dev = dataclasses.replace(dev, hostname="127.0.0.1")
    sess = NapalmSession(dev, Credentials("noc", PW), ConnectOptions(timeout=3, port=port))
    with pytest.raises(ConnectionError_) as ei:
        sess.open()
    msg = str(ei.value)
    assert f"127.0.0.1:{port}" in msg and "connect failed" in msg and PW not in msg
    sess.close()  # never raises


def test_optional_args_verify_host_keys_by_default() -> None:
    inv = api.load(REPO / "inventory")
    ios = NapalmSession(inv.devices["bras-tyo-ios1"], Credentials("n", PW, "en"), ConnectOptions())
    a = ios.optional_args()
    assert a["ssh_strict"] is True and a["system_host_keys"] is True and a["secret"] == "en" and a["port"] == 22
    kh = NapalmSession(
        inv.devices["bras-osa-xr1"], Credentials("n", PW), ConnectOptions(known_hosts="/tmp/kh", port=2022)
    ).optional_args()
    assert kh["alt_host_keys"] is True and kh["alt_key_file"] == "/tmp/kh" and kh["port"] == 2022
    off = NapalmSession(
        inv.devices["bras-tyo-ios1"], Credentials("n", PW), ConnectOptions(verify_host_key=False)
    ).optional_args()
    assert off["ssh_strict"] is False and off["system_host_keys"] is False
    eos = NapalmSession(inv.devices["edge-osa-eos1"], Credentials("n", PW), ConnectOptions()).optional_args()
    assert eos["transport"] == "https" and "port" not in eos  # inventory SSH port 22 is not the eAPI port
    import ssl

    assert eos["context"].verify_mode == ssl.CERT_REQUIRED
    junos = NapalmSession(inv.devices["bng-tyo-mx1"], Credentials("n", PW), ConnectOptions(known_hosts="/tmp/kh"))
    cfg = junos.optional_args()["ssh_config_file"]
    assert "UserKnownHostsFile /tmp/kh" in Path(cfg).read_text()
    junos.close()
    assert not Path(cfg).exists()


# ------------------------------------------------------------------------------------------- issue 9 items 7, 8


def _audit_live(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OP25B_USERNAME": "noc", "OP25B_PASSWORD": PW}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "op25b_cfg",
            "audit",
            "--live",
            "-i",
            str(REPO / "inventory"),
            "--format",
            "json",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("key", ["secret", "password", "enable_password", "passphrase", "api_key", "auth_token"])
def test_secret_driver_args_are_refused(key: str) -> None:
    res = _audit_live("--driver-arg", f"{key}=hunter2secret")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"--driver-arg {key}=...: is a secret" in res.stderr and "Fix:" in res.stderr
    assert "hunter2secret" not in res.stderr + res.stdout


@pytest.mark.parametrize("arg", ["ssh_strict=false", "system_host_keys=false", "alt_host_keys=false"])
def test_host_key_switches_need_no_verify_host_key(arg: str) -> None:
    res = _audit_live("--driver-arg", arg)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "switches SSH host-key verification off" in res.stderr and "--no-verify-host-key" in res.stderr
    assert driver_args([arg], verify_host_key=False)  # the explicit opt-out accepts it (and warns, see below)


def test_no_verify_host_key_warns_on_every_run() -> None:
    # every device refused before connecting (clear text): the warning is still printed
    res = _audit_live("--no-verify-host-key", "-d", "edge-osa-eos1", "--driver-arg", "transport=http")
    assert "host keys are NOT verified" in res.stderr


@pytest.mark.parametrize(
    "options",
    [
        {"napalm": {"extras": {"optional_args": {"ssh_strict": False}}}},
        {"netmiko": {"extras": {"system_host_keys": False}}},
        {"napalm": {"extras": {"optional_args": {"secret": "hunter2secret"}}}},
        {"napalm": {"extras": {"optional_args": {"api_key": "hunter2secret"}}}},
    ],
)
def test_inventory_cannot_switch_host_keys_off_or_hold_secrets(tmp_path: Path, options: dict[str, object]) -> None:
    from tests.test_connection_options import inventory_with

    with pytest.raises(InventoryError) as err:
        api.load(inventory_with(tmp_path, options))
    text = str(err.value)
    assert "hosts.yaml" in text and "Fix:" in text and "hunter2secret" not in text
    assert ("host-key verification off" in text) or ("credentials never live" in text)


def test_cleartext_transport_needs_allow_cleartext(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tests.test_connection_options import inventory_with

    device = api.load(
        inventory_with(tmp_path, {"napalm": {"extras": {"optional_args": {"transport": "http"}}}})
    ).devices["edge-osa-eos1"]
    creds = Credentials("noc", PW)
    with pytest.raises(ConnectionError_, match=r"clear text.*Fix: .*--allow-cleartext"):
        Connection(creds, ConnectOptions(), override_username=False).session(device)
    with caplog.at_level("WARNING"):
        session = Connection(creds, ConnectOptions(), override_username=False, allow_cleartext=True).session(device)
    assert session is not None and "unencrypted" in caplog.text
    # the same from the command line (refused before any connection is attempted)
    res = _audit_live("-d", "edge-osa-eos1", "--driver-arg", "transport=http")
    assert res.returncode == 2 and "--allow-cleartext" in res.stdout and "Traceback" not in res.stderr


def test_the_same_device_twice_is_selected_once() -> None:
    """Issue 9 item 12: ``audit --live -d X -d X`` showed a traceback."""
    res = _audit_live("-d", "edge-osa-eos1", "-d", "edge-osa-eos1", "--driver-arg", "transport=http")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert [d["device"] for d in json.loads(res.stdout)["devices"]] == ["edge-osa-eos1"]
