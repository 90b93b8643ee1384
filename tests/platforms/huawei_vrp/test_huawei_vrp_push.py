"""op25b's push workflow on huawei_vrp against the VRP emulator (VRP8 and VRP5), through the platform's own
session (``Platform.session_class``) and the real netmiko: dry run, commit, post-audit, re-run unchanged, drift
repair make-before-break, clean-up of an older version, a refused line rolled back, a hung commit cut off."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from op25b_cfg import api
from op25b_cfg.connection.base import ConnectOptions, Credentials, Session
from op25b_cfg.inventory import Device
from op25b_cfg.platforms import get_platform
from op25b_cfg.platforms.huawei_vrp._store import Node
from op25b_cfg.platforms.huawei_vrp.emulator import VrpEmulator
from op25b_cfg.push import Outcome, PushOptions, push_device
from tests.labutil import REPO

DEVICE = "edge-osa-vrp1"


@pytest.fixture(autouse=True)
def _lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OP25B_LOCK_DIR", str(tmp_path / "locks"))


def device(emu: VrpEmulator, **changes: object) -> Device:
    dev = api.load(REPO / "inventory").devices[DEVICE]
    return dataclasses.replace(dev, hostname=emu.host, port=emu.port, **changes)  # type: ignore[arg-type]


def factory(emu: VrpEmulator, tmp_path: Path, timeout: float = 15) -> Callable[[Device], Session]:
    """Sessions of the platform's own class, with strict host-key checking against the emulator's key."""
    known = str(emu.write_known_hosts(tmp_path / f"known_hosts-{emu.port}"))
    opts = ConnectOptions(timeout=timeout, verify_host_key=True, known_hosts=known, port=emu.port)
    cls = get_platform("huawei_vrp").session_class()
    return lambda d: cls(d, Credentials(emu.username, emu.password), opts)


def popts(tmp_path: Path, **kw: object) -> PushOptions:
    return PushOptions(backup_dir=tmp_path / "backups", changelog=tmp_path / "changes.jsonl", **kw)  # type: ignore[arg-type]


def test_dry_run_commit_and_rerun(emu: VrpEmulator, tmp_path: Path) -> None:
    dev, make = device(emu), factory(emu, tmp_path)
    version = api.plan(dev).version
    before = emu.running_config

    dry = push_device(dev, make, popts(tmp_path))
    assert dry.outcome is Outcome.DRY_RUN, dry.error
    assert f"+acl name OP25B-V4-{version} advance" in dry.diff and dry.diff_lines > 10
    assert emu.running_config == before
    assert "OP25B" not in Path(dry.backup).read_text()

    res = push_device(dev, make, popts(tmp_path, commit=True))
    assert res.outcome is Outcome.COMMITTED, f"{res.error} / {res.state}"
    assert res.verdict == "COMPLIANT"
    after = emu.running_config
    assert f"traffic-filter inbound ipv6 acl name OP25B-V6-{version}" in after
    assert api.audit_text(dev, after, "emulator").verdict == "COMPLIANT"

    sent = len(emu.commands)
    again = push_device(dev, make, popts(tmp_path, commit=True))
    assert again.outcome is Outcome.UNCHANGED and not again.failed, f"{again.error} {again.diff}"
    assert emu.running_config == after
    assert "system-view" not in emu.commands[sent:]


def test_drifted_filter_is_repaired_make_before_break_then_unchanged(emu: VrpEmulator, tmp_path: Path) -> None:
    dev, make = device(emu), factory(emu, tmp_path)
    version = api.plan(dev).version
    assert push_device(dev, make, popts(tmp_path, commit=True)).outcome is Outcome.COMMITTED
    with emu.lock:  # someone's hand edit: rule 1 permits SMTP before op25b's rules
        acl = emu.running.view(f"acl name OP25B-V4-{version} advance")
        assert acl is not None
        acl.children.append(Node("rule 1 permit tcp destination-port eq smtp"))
    assert api.audit_text(dev, emu.running_config, "emulator").verdict == "NONCOMPLIANT"

    dry = push_device(dev, make, popts(tmp_path))
    assert dry.outcome is Outcome.DRY_RUN and dry.repaired == [f"OP25B-V4-{version}"], (dry.outcome, dry.state)

    fixed = push_device(dev, make, popts(tmp_path, commit=True))
    assert fixed.outcome is Outcome.COMMITTED and not fixed.failed, f"{fixed.error} / {fixed.state}"
    assert fixed.repaired == [f"OP25B-V4-{version}"] and fixed.version != version
    after = emu.running_config
    assert f"OP25B-V4-{fixed.version}" in after and version not in after, after  # the drifted ACLs are gone
    assert f"undo acl name OP25B-V4-{version}" in emu.commands
    assert api.audit_text(dev, after, "emulator").verdict == "COMPLIANT"

    again = push_device(dev, make, popts(tmp_path, commit=True))
    assert again.outcome is Outcome.UNCHANGED, f"{again.error} / {again.state} {again.diff}"
    assert again.version == fixed.version and emu.running_config == after


def test_older_version_is_cleaned_up(emu: VrpEmulator, tmp_path: Path) -> None:
    """targeted mode first, then block: the attachment is re-pointed in one change, the old ACLs removed after."""
    make = factory(emu, tmp_path)
    old = device(emu, mode="targeted")
    assert push_device(old, make, popts(tmp_path, commit=True)).outcome is Outcome.COMMITTED
    new = device(emu)
    old_v, new_v = api.plan(old).version, api.plan(new).version
    res = push_device(new, make, popts(tmp_path, commit=True))
    assert res.outcome is Outcome.COMMITTED, f"{res.error} / {res.state}"
    assert sorted(res.cleanup_removed) == [f"OP25B-V4-{old_v}", f"OP25B-V6-{old_v}"]
    after = emu.running_config
    assert old_v not in after and f"traffic-filter inbound acl name OP25B-V4-{new_v}" in after
    assert api.audit_text(new, after, "emulator").verdict == "COMPLIANT"


def test_refused_line_leaves_the_old_config(emu: VrpEmulator, tmp_path: Path) -> None:
    emu.faults.reject_pattern = r"^traffic-filter inbound ipv6"
    before = emu.running_config
    res = push_device(device(emu), factory(emu, tmp_path), popts(tmp_path, commit=True))
    assert res.failed and "refused" in res.error, (res.outcome, res.error)
    assert emu.running_config == before, res.state  # VRP8: never committed; VRP5: rolled back


def test_commit_hang_is_bounded_by_the_timeout(emu: VrpEmulator, tmp_path: Path) -> None:
    emu.faults.hang_on = {"commit"}
    before = emu.running_config
    res = push_device(device(emu), factory(emu, tmp_path, timeout=8), popts(tmp_path, commit=True))
    assert res.failed and re.search(r"no answer within 8s", res.error), res.error
    emu.faults.release()
    assert emu.running_config == before
