"""``op25b push`` to RouterOS through the real netmiko ``mikrotik_routeros`` driver and paramiko, against the RouterOS
SSH emulator (console + exec on 127.0.0.1): dry run, commit, post-audit, re-run unchanged, make-before-break order,
same-version repair, refusals and faults."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from op25b_cfg import api
from op25b_cfg.connection.base import ConnectOptions, Credentials
from op25b_cfg.errors import ConnectionError_
from op25b_cfg.inventory import Device
from op25b_cfg.lab.emulators import Faults
from op25b_cfg.lab.emulators.faults import EmulatorDropped
from op25b_cfg.platforms.mikrotik_routeros.emulator import RouterosEmulator
from op25b_cfg.platforms.mikrotik_routeros.session import RouterosSession
from op25b_cfg.push import Outcome, PushOptions, push_device

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OP25B_LOCK_DIR", str(tmp_path / "locks"))


@pytest.fixture
def dev() -> Device:
    inv = api.load(REPO / "inventory")
    return dataclasses.replace(inv.devices["bras-osa-ros1"], hostname="127.0.0.1")


@pytest.fixture
def emu() -> Iterator[RouterosEmulator]:
    e = RouterosEmulator(hostname="bras-osa-ros1")
    e.start()
    try:
        yield e
    finally:
        e.faults.release()
        e.stop()


def factory(
    emu: RouterosEmulator, tmp_path: Path, timeout: float = 10, **kw: str
) -> Callable[[Device], RouterosSession]:
    known = str(emu.write_known_hosts(tmp_path / f"known_hosts-{emu.port}"))
    opts = ConnectOptions(timeout=timeout, known_hosts=known, port=emu.port)
    creds = Credentials(kw.get("username", emu.username), kw.get("password", emu.password))
    return lambda d: RouterosSession(d, creds, opts)


def popts(tmp_path: Path, **kw: bool) -> PushOptions:
    return PushOptions(backup_dir=tmp_path / "backups", changelog=tmp_path / "changes.jsonl", **kw)


def test_dry_run_commit_post_audit_and_rerun(emu: RouterosEmulator, dev: Device, tmp_path: Path) -> None:
    make = factory(emu, tmp_path)
    version = api.plan(dev).version
    before = emu.op25b_items()
    assert before == []

    dry = push_device(dev, make, popts(tmp_path))
    assert dry.outcome is Outcome.DRY_RUN, dry.error
    assert f"jump-target=OP25B-V4-{version}" in dry.diff and dry.diff_lines > 10
    assert emu.op25b_items() == [] and not [c for c in emu.commands if " add " in c]
    assert "/ip firewall filter add" in Path(dry.backup).read_text()  # the whole export is the backup

    res = push_device(dev, make, popts(tmp_path, commit=True))
    assert res.outcome is Outcome.COMMITTED, f"{res.error} / {res.state}"
    assert res.verdict == "COMPLIANT"
    after = emu.running_config
    assert api.audit_text(dev, after, "emulator").verdict == "COMPLIANT"
    # the jumps sit before every other forward rule
    forward = [ln for ln in after.splitlines() if "/ip firewall filter add" in ln and "chain=forward" in ln]
    assert f"jump-target=OP25B-V4-{version}" in forward[0]

    again = push_device(dev, make, popts(tmp_path, commit=True))
    assert again.outcome is Outcome.UNCHANGED and not again.failed, f"{again.error} {again.diff}"
    assert emu.running_config.splitlines()[3:] == after.splitlines()[3:]  # nothing sent (the stamp aside)


def test_what_the_router_prints_differently_is_unchanged(emu: RouterosEmulator, dev: Device, tmp_path: Path) -> None:
    """A router that prints ``192.0.2.25/32`` or reorders a port list still runs the intent: unchanged."""
    make = factory(emu, tmp_path)
    assert push_device(dev, make, popts(tmp_path, commit=True)).outcome is Outcome.COMMITTED
    with emu.lock:
        for menu, table in emu.items.items():
            for it in table:
                if it.get("address") == "192.0.2.25":
                    it["address"] = "192.0.2.25/32"
                if it.get("dst-port") == "587,465":
                    it["dst-port"] = "465,587"
                if menu[0] == "ipv6" and "address" in it:
                    it["address"] = it["address"].upper()
    res = push_device(dev, make, popts(tmp_path, commit=True))
    assert res.outcome is Outcome.UNCHANGED, res.diff


def test_new_version_is_made_before_the_old_one_breaks(emu: RouterosEmulator, dev: Device, tmp_path: Path) -> None:
    make = factory(emu, tmp_path)
    old = api.plan(dev).version
    assert push_device(dev, make, popts(tmp_path, commit=True)).outcome is Outcome.COMMITTED
    emu.commands.clear()
    targeted = dataclasses.replace(dev, mode="targeted")
    new = api.plan(targeted).version
    res = push_device(targeted, make, popts(tmp_path, commit=True))
    assert res.outcome is Outcome.COMMITTED, f"{res.error} / {res.state}"
    changes = [c for c in emu.commands if " add " in c or " remove " in c]
    first_new_jump = next(i for i, c in enumerate(changes) if f"jump-target=OP25B-V4-{new}" in c)
    last_new_rule = max(i for i, c in enumerate(changes) if f"chain=OP25B-V4-{new}" in c)
    first_remove = next(i for i, c in enumerate(changes) if " remove " in c)
    assert last_new_rule < first_new_jump < first_remove  # chain complete, then jumps, then the old goes
    assert all(old not in item for item in emu.op25b_items())
    assert api.audit_text(targeted, emu.running_config).verdict == "COMPLIANT"


def test_same_version_drift_is_repaired_without_a_gap(emu: RouterosEmulator, dev: Device, tmp_path: Path) -> None:
    make = factory(emu, tmp_path)
    assert push_device(dev, make, popts(tmp_path, commit=True)).outcome is Outcome.COMMITTED
    with emu.lock:  # someone turned op25b's reject into an accept on the router
        rule = next(it for it in emu.items[("ip", "firewall", "filter")] if it.get("action") == "reject")
        rule["action"] = "accept"
    assert api.audit_text(dev, emu.running_config).verdict == "NONCOMPLIANT"
    res = push_device(dev, make, popts(tmp_path, commit=True))
    assert res.outcome is Outcome.COMMITTED, f"{res.error} / {res.state}"
    assert api.audit_text(dev, emu.running_config).verdict == "COMPLIANT"
    version = api.plan(dev).version
    assert {i.split("comment=")[1].split()[1].rstrip('"') for i in emu.op25b_items()} == {version}  # no temporary
    assert push_device(dev, make, popts(tmp_path, commit=True)).outcome is Outcome.UNCHANGED


def test_refused_line_rolls_back_to_the_old_block(emu: RouterosEmulator, dev: Device, tmp_path: Path) -> None:
    make = factory(emu, tmp_path)
    assert push_device(dev, make, popts(tmp_path, commit=True)).outcome is Outcome.COMMITTED
    before = emu.op25b_items()
    targeted = dataclasses.replace(dev, mode="targeted")
    new = api.plan(targeted).version
    emu.faults.reject_pattern = rf"chain=forward .*jump-target=OP25B-V6-{new}"  # the router refuses the new jump
    res = push_device(targeted, make, popts(tmp_path, commit=True))
    assert res.failed and "refused" in res.error, res.error
    assert res.state.startswith("old config"), res.state
    assert emu.op25b_items() == before
    assert api.audit_text(dev, emu.running_config).verdict == "COMPLIANT"


def test_connection_lost_mid_commit_is_rolled_back_over_a_new_session(
    emu: RouterosEmulator, dev: Device, tmp_path: Path
) -> None:
    """The router applies the first new item, then the connection drops: push reconnects, finds the change half
    done and rolls it back (the new session knows the items read before the commit)."""
    make = factory(emu, tmp_path)
    assert push_device(dev, make, popts(tmp_path, commit=True)).outcome is Outcome.COMMITTED
    before = emu.op25b_items()
    strike = emu.faults.strike

    def once(phase: str, stop: threading.Event, applied: bool) -> None:
        try:
            strike(phase, stop, applied)
        except EmulatorDropped:
            emu.faults.drop_on.clear()  # the next connection works
            raise

    emu.faults.strike = once  # type: ignore[method-assign]
    emu.faults.drop_on.add("commit")
    emu.faults.drop_after_apply = True
    res = push_device(dataclasses.replace(dev, mode="targeted"), make, popts(tmp_path, commit=True))
    assert res.failed and res.state == "old config (rolled back, verified)", (res.error, res.state)
    assert emu.op25b_items() == before


def test_hung_router_times_out(emu: RouterosEmulator, dev: Device, tmp_path: Path) -> None:
    make = factory(emu, tmp_path, timeout=2)
    emu.faults.hang_on.add("commit")
    t0 = time.monotonic()
    res = push_device(dev, make, popts(tmp_path, commit=True))
    assert res.failed and "2s" in res.error, res.error
    assert time.monotonic() - t0 < 30


def test_wrong_password_is_a_clear_error(emu: RouterosEmulator, dev: Device, tmp_path: Path) -> None:
    make = factory(emu, tmp_path, password="not-the-password")
    with pytest.raises(ConnectionError_) as err:
        make(dev).open()
    assert "not-the-password" not in str(err.value)


def test_emulator_prints_what_the_parser_reads(emu: RouterosEmulator, dev: Device) -> None:
    """The emulator's export round-trips through the parser with nothing left unparsed."""
    text = api.render(dev)
    fresh = RouterosEmulator(text, hostname="x", faults=Faults())
    pc = api.parse(dev, fresh.running_config)
    assert not pc.unparsed
    assert api.audit_text(dev, fresh.running_config).verdict == "COMPLIANT"
