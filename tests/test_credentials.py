"""Credentials (env / prompt, never inventory, never shown) and the secret hygiene of error mapping."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from op25b_cfg.connection.base import ConnectOptions, Credentials
from op25b_cfg.connection.credentials import CredentialsError, for_device, load_credentials, scrub
from op25b_cfg.connection.napalm_session import NapalmSession, map_exception
from op25b_cfg.errors import ConnectionError_, PushError
from op25b_cfg.inventory import load_inventory
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
    inv = load_inventory(REPO / "inventory")
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
    inv = load_inventory(REPO / "inventory")
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
    inv = load_inventory(REPO / "inventory")
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
