"""The IOS-XR emulator (CLI + XML agent) driven by the real napalm ``iosxr`` driver (pyIOSXR over netmiko)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from napalm.base.base import NetworkDriver
from napalm.base.exceptions import MergeConfigException

from op25b_cfg.lab.emulators import Faults
from op25b_cfg.platforms.cisco_iosxr.emulator import IosxrEmulator
from tests.labutil import napalm_driver, sample_render

DEVICE = "bras-osa-xr1"
_OPENED: list[NetworkDriver] = []


@pytest.fixture(scope="module")
def rendered() -> str:
    return sample_render(DEVICE)


def driver(emu: IosxrEmulator, **extra: object) -> NetworkDriver:
    return napalm_driver("iosxr", emu, _OPENED, 5, **{"read_timeout_override": 4, **extra})


@pytest.fixture
def emu() -> Iterator[IosxrEmulator]:
    with IosxrEmulator(hostname=DEVICE) as e:
        try:
            yield e
        finally:
            e.faults.release()
            while _OPENED:
                with contextlib.suppress(Exception):
                    _OPENED.pop().close()


def test_dry_run_commit_rollback(emu: IosxrEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    assert f"hostname {DEVICE}" in dev.get_config(retrieve="running")["running"]
    dev.load_merge_candidate(config=rendered)
    diff = dev.compare_config()
    assert "+ipv4 access-list OP25B-V4-79b17a7e" in diff
    assert "+ 110 deny tcp 100.65.0.0/16 any eq smtp log" in diff  # printed as a real IOS-XR prints it
    assert "+ ipv4 access-group OP25B-V4-79b17a7e ingress" in diff
    assert "+  ipv6 access-group OP25B-V6-79b17a7e ingress" in diff  # inside dynamic-template type ppp
    dev.discard_config()  # dry run ends here
    assert emu.running_config == before
    assert dev.compare_config() == ""
    dev.load_merge_candidate(config=rendered)
    dev.commit_config()
    running = dev.get_config(retrieve="running")["running"]
    assert " 130 permit ipv4 any any" in running
    dev.load_merge_candidate(config=rendered)
    assert "+" not in "".join(ln[:1] for ln in dev.compare_config().splitlines()[2:])  # idempotent
    dev.discard_config()
    dev.rollback()
    assert emu.running_config == before


def test_wrong_password() -> None:
    with IosxrEmulator(faults=Faults(wrong_password=True)) as emu, pytest.raises(Exception, match="Authentication"):
        driver(emu).open()


def test_rejected_line(emu: IosxrEmulator, rendered: str) -> None:
    before = emu.running_config
    emu.faults.reject_pattern = r"ipv6 access-group"
    dev = driver(emu)
    dev.open()
    with pytest.raises(MergeConfigException, match="Invalid input"):
        dev.load_merge_candidate(config=rendered)
    assert emu.target is None  # pyIOSXR cleared the half-loaded target config
    assert emu.running_config == before


def test_drop_during_commit(emu: IosxrEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    emu.faults.drop_on = {"commit"}
    with pytest.raises(Exception):  # noqa: B017 - netmiko/pyIOSXR raise several types for a dead peer
        dev.commit_config()
    assert emu.running_config == before
