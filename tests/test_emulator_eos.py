"""The eAPI emulator driven by the real napalm ``eos`` driver (pyeapi over HTTP), with injected faults."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from napalm.base.base import NetworkDriver
from napalm.base.exceptions import MergeConfigException

from op25b_cfg.lab.emulators import Faults
from op25b_cfg.platforms.arista_eos.emulator import EosEmulator
from tests.labutil import napalm_driver, sample_render

DEVICE = "edge-osa-eos1"


@pytest.fixture(scope="module")
def rendered() -> str:
    return sample_render(DEVICE)


_OPENED: list[NetworkDriver] = []


def driver(emu: EosEmulator, timeout: int = 10) -> NetworkDriver:
    return napalm_driver("eos", emu, _OPENED, timeout)


def close_all() -> None:
    """Close every driver while its emulator still runs (napalm's __del__ would talk to a dead port)."""
    while _OPENED:
        dev = _OPENED.pop()
        try:
            dev.close()
        except Exception:
            dev.config_session = None  # type: ignore[attr-defined]


@pytest.fixture
def emu() -> Iterator[EosEmulator]:
    with EosEmulator(hostname=DEVICE, timer_scale=0.01) as e:
        try:
            yield e
        finally:
            e.faults.release()
            close_all()


def wait_for(cond: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(cond) and cond():
            return True
        time.sleep(0.05)
    return False


def test_merge_diff_commit_confirm_rollback(emu: EosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    try:
        running = dev.get_config(retrieve="running")["running"]
        assert f"hostname {DEVICE}" in running
        assert "OP25B" not in running
        dev.load_merge_candidate(config=rendered)
        diff = dev.compare_config()
        assert "+ip access-list OP25B-V4-f88acf66" in diff
        assert "+   30 permit tcp host 100.65.3.7 any eq smtp" in diff  # printed as a real EOS prints it
        assert "+   ip access-group OP25B-V4-f88acf66 in" in diff
        assert not any(line.startswith("-") for line in diff.splitlines())
        assert emu.running_config == before  # a candidate is not live
        dev.commit_config(revert_in=300)
        assert dev.has_pending_commit()
        assert "ip access-list OP25B-V4-f88acf66" in emu.running_config
        dev.confirm_commit()
        assert not dev.has_pending_commit()
        running = dev.get_config(retrieve="running")["running"]
        assert "   110 deny tcp 100.65.0.0/16 198.51.100.0/24 eq smtp log" in running
        assert "   ipv6 access-group OP25B-V6-f88acf66 in" in running
        # idempotent: the same merge again is an empty diff
        dev.load_merge_candidate(config=rendered)
        assert dev.compare_config() == ""
        dev.discard_config()
        dev.rollback()
        assert emu.running_config == before
    finally:
        close_all()


def test_unconfirmed_commit_reverts_by_itself(emu: EosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    dev.commit_config(revert_in=300)  # 3 s at timer_scale 0.01
    assert "OP25B-V4" in emu.running_config
    assert wait_for(lambda: emu.running_config == before)
    assert not emu.pending_commit()


def test_wrong_password_is_refused(rendered: str) -> None:
    with EosEmulator(faults=Faults(wrong_password=True)) as emu:
        dev = driver(emu)
        with pytest.raises(Exception, match=r"Unauthorized|authenticate"):
            dev.open()
        close_all()


def test_rejected_line_leaves_old_config(emu: EosEmulator, rendered: str) -> None:
    before = emu.running_config
    emu.faults.reject_pattern = r"^110 deny"
    dev = driver(emu)
    dev.open()
    with pytest.raises(MergeConfigException, match="110 deny"):
        dev.load_merge_candidate(config=rendered)
    assert emu.running_config == before
    assert emu.sessions == {}  # napalm aborted the half-filled session


@pytest.mark.parametrize("phase", ["load", "commit"])
def test_drop_before_apply_leaves_old_config(emu: EosEmulator, rendered: str, phase: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    emu.faults.drop_on = {phase}
    with pytest.raises(Exception, match=r"Remote end closed|Socket error"):
        dev.load_merge_candidate(config=rendered)
        dev.commit_config(revert_in=300)
    assert emu.running_config == before


def test_drop_after_timed_commit_reverts(emu: EosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    emu.faults.drop_on = {"commit"}
    emu.faults.drop_after_apply = True
    with pytest.raises(Exception, match=r"Remote end closed|Socket error"):
        dev.commit_config(revert_in=300)
    assert "OP25B-V4" in emu.running_config  # applied, then the line went down
    assert wait_for(lambda: emu.running_config == before)


def test_drop_before_confirm_reverts(emu: EosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    dev.commit_config(revert_in=300)
    new = emu.running_config
    assert new != before
    emu.faults.drop_on = {"confirm"}
    with pytest.raises(Exception, match=r"Remote end closed|Socket error"):
        dev.confirm_commit()
    assert emu.running_config in (before, new)
    assert wait_for(lambda: emu.running_config == before)


def test_device_that_stops_answering_times_out(emu: EosEmulator, rendered: str) -> None:
    before = emu.running_config
    dev = driver(emu, timeout=2)
    dev.open()
    dev.load_merge_candidate(config=rendered)
    emu.faults.hang_on = {"commit"}
    with pytest.raises(Exception, match="timed out"):
        dev.commit_config(revert_in=300)
    emu.faults.release()
    assert emu.running_config == before
