"""The SSH CLI emulator driven by the real napalm ``ios`` driver (netmiko CLI + SCP), with injected faults."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from napalm.base.base import NetworkDriver
from napalm.base.exceptions import MergeConfigException

from op25b_cfg.lab.emulators import Faults
from op25b_cfg.platforms.cisco_ios.emulator import IosEmulator
from tests.labutil import napalm_driver, sample_render

DEVICE = "bras-tyo-ios1"
_OPENED: list[NetworkDriver] = []


@pytest.fixture(scope="module")
def rendered() -> str:
    return sample_render(DEVICE)


def driver(emu: IosEmulator, timeout: int = 10, **extra: object) -> NetworkDriver:
    return napalm_driver("ios", emu, _OPENED, timeout, **extra)


def close_all() -> None:
    while _OPENED:
        dev = _OPENED.pop()
        try:
            if dev.device is not None:
                dev.close()
        except Exception:
            pass


@pytest.fixture
def emu() -> Iterator[IosEmulator]:
    with IosEmulator(hostname=DEVICE, timer_scale=0.01) as e:
        try:
            yield e
        finally:
            e.faults.release()
            close_all()


def _chain(err: BaseException | None) -> list[str]:
    out = []
    while err is not None:
        out.append(f"{type(err).__name__}: {err}")
        err = err.__cause__ or err.__context__
    return out


# a dead or silent peer is only noticed when a read times out: keep that short in fault tests
QUICK = {"read_timeout_override": 3}


def wait_for(cond: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_merge_diff_commit_confirm_rollback(emu: IosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    running = dev.get_config(retrieve="running")["running"]
    assert f"hostname {DEVICE}" in running
    dev.load_merge_candidate(config=rendered)
    assert emu.files["merge_config.txt"].decode() == rendered  # arrived by SCP, byte for byte
    diff = dev.compare_config()
    assert "+ip access-list extended OP25B-V4-b1a88b08" in diff
    assert "+ deny tcp 100.64.0.0 0.0.255.255 any eq 25 log" in diff
    assert "+interface Virtual-Template1" in diff
    assert "+ ipv6 traffic-filter OP25B-V6-b1a88b08 in" in diff
    assert "+ ip unnumbered Loopback0" not in diff  # unchanged lines are not listed
    assert emu.running_config == before
    dev.commit_config(revert_in=300)
    assert dev.has_pending_commit()
    dev.confirm_commit()
    assert not dev.has_pending_commit()
    running = dev.get_config(retrieve="running")["running"]
    assert " ip access-group OP25B-V4-b1a88b08 in" in running
    # printed as a real IOS-XE prints it: port names, IPv6 upper-case, a single address as `host`
    assert " permit tcp 100.64.0.0 0.0.255.255 host 192.0.2.25 eq smtp" in running
    assert " permit tcp 2001:DB8:8000::/33 host 2001:DB8:25::25 eq smtp" in running
    assert " permit tcp 100.64.0.0 0.0.255.255 any eq 587" in running  # no keyword for 587
    dev.load_merge_candidate(config=rendered)
    # incremental-diffs compares the typed file with the printed config textually, as the real device does:
    # lines typed as `eq 25` are listed again (op25b compares canonical forms: see cleanup.in_place)
    again = dev.compare_config()
    assert "+ deny tcp 100.64.0.0 0.0.255.255 any eq 25 log" in again
    assert "+ ip access-group OP25B-V4-b1a88b08 in" not in again
    dev.rollback()  # configure replace flash:/rollback_config.txt force
    dev.close()
    assert emu.running_config == before


def test_unconfirmed_commit_reverts_by_itself(emu: IosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    dev.commit_config(revert_in=300)  # 3 s at timer_scale 0.01
    assert "OP25B-V4" in emu.running_config
    assert wait_for(lambda: emu.running_config.replace("file prompt quiet\n", "") == before)


def test_wrong_password() -> None:
    with IosEmulator(faults=Faults(wrong_password=True)) as emu, pytest.raises(Exception, match="Authentication"):
        driver(emu).open()


def test_host_keys(emu: IosEmulator, tmp_path: Path) -> None:
    strict = {"ssh_strict": True, "system_host_keys": False, "alt_host_keys": True}
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(Exception) as info:
        driver(emu, alt_key_file=str(empty), **strict).open()
    assert "not found in known_hosts" in " ".join(_chain(info.value))
    assert emu.commands == []
    known = emu.write_known_hosts(tmp_path / "known_hosts")
    dev = driver(emu, alt_key_file=str(known), **strict)
    dev.open()
    assert dev.is_alive()["is_alive"]


def test_rejected_line_is_rolled_back(emu: IosEmulator, rendered: str) -> None:
    before = emu.running_config
    emu.faults.reject_pattern = r"traffic-filter"
    dev = driver(emu)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    with pytest.raises(MergeConfigException, match="Invalid input"):
        dev.commit_config(revert_in=300)
    # IOS applied the other lines; napalm's automatic rollback (configure revert now) undid them
    assert emu.running_config.replace("file prompt quiet\n", "") == before
    assert not emu.pending_commit()


def test_drop_during_scp_upload(emu: IosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    emu.faults.drop_on = {"load"}
    with pytest.raises(Exception):  # noqa: B017 - scp/paramiko raise different types for a dead peer
        dev.load_merge_candidate(config=rendered)
    assert emu.running_config == before
    assert "merge_config.txt" not in emu.files


def test_drop_during_commit(emu: IosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu, **QUICK)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    emu.faults.drop_on = {"commit"}
    emu.faults.drop_after_apply = True
    with pytest.raises(Exception, match=r"Socket is closed|closed|EOF|Pattern not detected"):
        dev.commit_config(revert_in=600)
    assert "OP25B-V4" in emu.running_config  # applied, then the session died
    assert wait_for(lambda: emu.running_config.replace("file prompt quiet\n", "") == before)


def test_drop_before_confirm_reverts(emu: IosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu, **QUICK)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    dev.commit_config(revert_in=300)
    emu.faults.drop_on = {"confirm"}
    with pytest.raises(Exception, match=r"Socket is closed|closed|EOF|Pattern not detected"):
        dev.confirm_commit()
    assert wait_for(lambda: emu.running_config.replace("file prompt quiet\n", "") == before)


def test_hang_before_confirm_times_out_and_reverts(emu: IosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu, **QUICK)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    dev.commit_config(revert_in=600)
    emu.faults.hang_on = {"confirm"}
    with pytest.raises(Exception, match=r"Pattern not detected|[Tt]imeout|[Tt]imed"):
        dev.confirm_commit()
    _OPENED.remove(dev)  # its session is stuck; the emulator's stop() closes it
    assert wait_for(lambda: emu.running_config.replace("file prompt quiet\n", "") == before)
