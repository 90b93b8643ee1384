"""Nornir ``connection_options`` in the inventory reach the drivers (and secrets there are refused)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from op25b_cfg import api
from op25b_cfg.connection.base import ConnectOptions, Credentials
from op25b_cfg.connection.factory import make_session
from op25b_cfg.errors import InventoryError
from op25b_cfg.platforms.arista_eos.emulator import EosEmulator
from tests.labutil import REPO

DEVICE = "edge-osa-eos1"


def inventory_with(tmp_path: Path, options: dict[str, object], where: str = "host") -> Path:
    inv = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", inv)
    hosts = yaml.safe_load((inv / "hosts.yaml").read_text())
    hosts[DEVICE]["hostname"] = "127.0.0.1"  # the emulator; never a real address
    if where == "host":
        hosts[DEVICE]["connection_options"] = options
    (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts))
    if where != "host":
        groups = yaml.safe_load((inv / "groups.yaml").read_text())
        groups["mobile-edge"]["connection_options"] = options
        (inv / "groups.yaml").write_text(yaml.safe_dump(groups))
    return inv


@pytest.mark.parametrize("where", ["host", "group"])
def test_napalm_optional_args_from_the_inventory_reach_the_eos_driver(tmp_path: Path, where: str) -> None:
    with EosEmulator(hostname=DEVICE) as emu:
        inv = inventory_with(
            tmp_path, {"napalm": {"port": emu.port, "extras": {"optional_args": {"transport": "http"}}}}, where
        )
        device = api.load(inv).devices[DEVICE]
        creds = Credentials(emu.username, emu.password)
        # no --port and no --driver-arg: everything comes from the inventory
        with make_session(device, creds, ConnectOptions(timeout=10)) as session:
            running = session.get_running()
        assert f"hostname {DEVICE}" in running
        assert "show running-config" in " ".join(emu.commands)


def test_command_line_driver_args_override_the_inventory(tmp_path: Path) -> None:
    with EosEmulator(hostname=DEVICE) as emu:
        inv = inventory_with(tmp_path, {"napalm": {"port": 1, "extras": {"optional_args": {"transport": "https"}}}})
        device = api.load(inv).devices[DEVICE]
        opts = ConnectOptions(timeout=10, port=emu.port, driver_args={"transport": "http"})
        with make_session(device, Credentials(emu.username, emu.password), opts) as session:
            assert f"hostname {DEVICE}" in session.get_running()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"napalm": {"extras": {"optional_args": {"password": "hunter2"}}}}, "credentials never live"),
        ({"netconf": {"port": 830}}, "connection_options.netconf"),
        ({"napalm": {"hostname": "x"}}, "connection_options.napalm.hostname"),
    ],
)
def test_bad_connection_options_are_refused(tmp_path: Path, options: dict[str, object], expected: str) -> None:
    inv = inventory_with(tmp_path, options)
    with pytest.raises(InventoryError) as err:
        api.load(inv)
    text = str(err.value)
    assert expected in text and "hosts.yaml" in text
    assert "hunter2" not in text
