"""The NETCONF emulator driven by the real napalm ``junos`` driver (PyEZ + ncclient over SSH), with faults."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from napalm.base.base import NetworkDriver
from napalm.base.exceptions import MergeConfigException

from op25b_cfg.lab.emulators import Faults
from op25b_cfg.platforms.juniper_junos.emulator import JunosEmulator
from tests.labutil import napalm_driver, sample_render

DEVICE = "bng-tyo-mx1"
_OPENED: list[NetworkDriver] = []


@pytest.fixture(scope="module")
def rendered() -> str:
    return sample_render(DEVICE)


def driver(emu: JunosEmulator, timeout: int = 10, **extra: object) -> NetworkDriver:
    return napalm_driver("junos", emu, _OPENED, timeout, **extra)


def close_all() -> None:
    while _OPENED:
        dev = _OPENED.pop()
        try:
            if dev.device.connected:
                dev.close()
        except Exception:
            pass


@pytest.fixture
def emu() -> Iterator[JunosEmulator]:
    with JunosEmulator(hostname=DEVICE, timer_scale=0.01) as e:
        try:
            yield e
        finally:
            e.faults.release()
            close_all()


def wait_for(cond: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_merge_diff_commit_confirm_rollback(emu: JunosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    running = dev.get_config(retrieve="running")["running"]
    assert f"host-name {DEVICE};" in running
    dev.load_merge_candidate(config=rendered)
    diff = dev.compare_config()
    assert "[edit]" in diff
    assert "+       prefix-list OP25B-POOL-V4-b1a88b08 {" in diff
    assert "+   /* op25b example-isp-op25b b1a88b08 mode block device bng-tyo-mx1 */" in diff
    assert "[edit interfaces ge-0/0/1 unit 100 family inet]" in diff
    assert emu.running_config == before
    dev.commit_config(revert_in=60)
    assert dev.has_pending_commit()
    dev.confirm_commit()
    assert not dev.has_pending_commit()
    running = dev.get_config(retrieve="running")["running"]
    assert "filter OP25B-V4-b1a88b08 {" in running
    assert "input OP25B-V6-b1a88b08;" in running
    dev.load_merge_candidate(config=rendered)  # idempotent
    assert dev.compare_config() == ""
    dev.discard_config()
    # Junos (and so napalm's rollback = "rollback 1") counts the confirming commit as a commit:
    # rollback 1 is the commit-confirmed config, rollback 2 the one before it.
    dev.rollback()
    assert "OP25B-V4" in emu.running_config
    dev.close()


def test_rollback_before_confirm_restores(emu: JunosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    dev.commit_config(revert_in=120)
    assert "OP25B-V4" in emu.running_config
    dev.rollback()  # the push workflow's path when the post-audit fails
    assert emu.running_config == before
    assert not emu.pending_commit()


def test_unconfirmed_commit_reverts_by_itself(emu: JunosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    dev.commit_config(revert_in=60)  # 0.6 s at timer_scale 0.01
    assert wait_for(lambda: emu.running_config == before)


def test_wrong_password(rendered: str) -> None:
    with JunosEmulator(faults=Faults(wrong_password=True)) as emu, pytest.raises(Exception, match="ConnectAuthError"):
        driver(emu).open()


def _strict(dev: NetworkDriver) -> None:
    dev.device._hostkey_verify = True  # napalm's junos driver does not pass hostkey_verify to PyEZ


def test_host_key_checked_against_known_hosts(emu: JunosEmulator, tmp_path: Path) -> None:
    known = emu.write_known_hosts(tmp_path / "known_hosts")
    cfg = tmp_path / "ssh_config"
    cfg.write_text(f"Host *\n  UserKnownHostsFile {known}\n")
    dev = driver(emu, ssh_config_file=str(cfg))
    _strict(dev)
    dev.open()
    assert dev.is_alive()["is_alive"]
    dev.close()


def test_unknown_host_key_is_refused(emu: JunosEmulator, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    cfg = tmp_path / "ssh_config"
    cfg.write_text(f"Host *\n  UserKnownHostsFile {known}\n")
    dev = driver(emu, ssh_config_file=str(cfg))
    _strict(dev)
    with pytest.raises(Exception) as info:
        dev.open()
    chain: list[str] = []
    err: BaseException | None = info.value
    while err is not None:
        chain.append(type(err).__name__)
        err = err.__cause__ or err.__context__
    assert "SSHUnknownHostError" in chain  # PyEZ re-raises it as ConnectRefusedError
    assert emu.commands == []  # nothing reached the device


def test_rejected_line(emu: JunosEmulator, rendered: str) -> None:
    before = emu.running_config
    emu.faults.reject_pattern = r"destination-port \[ 587 465 \]"
    dev = driver(emu)
    dev.open()
    with pytest.raises(MergeConfigException, match="syntax error"):
        dev.load_merge_candidate(config=rendered)
    assert emu.running_config == before
    assert emu.candidate_config == before
    assert emu.lock_owner is None


def test_drop_during_load_discards_candidate(emu: JunosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    emu.faults.drop_on = {"load"}
    emu.faults.drop_after_apply = True  # loaded into the candidate, then the session dies
    with pytest.raises(Exception, match=r"ConnectClosedError|closed|Session"):
        dev.load_merge_candidate(config=rendered)
    assert wait_for(lambda: emu.lock_owner is None)
    assert emu.candidate_config == before  # the dead session's changes were discarded
    assert emu.running_config == before


def test_drop_during_commit(emu: JunosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    emu.faults.drop_on = {"commit"}
    with pytest.raises(Exception, match=r"ConnectClosedError|closed|Session"):
        dev.commit_config(revert_in=60)
    assert emu.running_config == before


def test_drop_after_confirmed_commit_and_before_confirm_reverts(emu: JunosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    dev.commit_config(revert_in=120)
    new = emu.running_config
    emu.faults.drop_on = {"confirm"}
    with pytest.raises(Exception, match=r"ConnectClosedError|closed|Session"):
        dev.confirm_commit()
    assert emu.running_config in (before, new)
    assert wait_for(lambda: emu.running_config == before)


def test_hang_times_out(emu: JunosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu, timeout=2)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    emu.faults.hang_on = {"commit"}
    with pytest.raises(Exception, match=r"RpcTimeoutError|timeout|Timeout"):
        dev.commit_config(revert_in=60)
    emu.faults.release()
    assert emu.running_config == before
