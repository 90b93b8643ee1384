"""``op25b push`` through the REAL napalm drivers (netmiko/SCP for ios, pyeapi for eos, PyEZ/ncclient for junos)
against the protocol emulators of op25b_cfg.lab.emulators: connection layer + workflow, end to end.

Every emulator listens on 127.0.0.1 with a port chosen at start and stops at the end of its test. Commit
timers run scaled (``timer_scale``) so a revert can be watched in seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from op25b_cfg import api
from op25b_cfg.audit.engine import audit_text
from op25b_cfg.connection.base import ConnectOptions, Credentials, Session
from op25b_cfg.connection.napalm_session import NapalmSession
from op25b_cfg.inventory import Device
from op25b_cfg.lab.emulators import Faults
from op25b_cfg.platforms.arista_eos.emulator import EosEmulator
from op25b_cfg.platforms.cisco_ios.emulator import IosEmulator
from op25b_cfg.platforms.cisco_ios.emulator import default_config as ios_default
from op25b_cfg.platforms.cisco_iosxr.emulator import IosxrEmulator
from op25b_cfg.platforms.juniper_junos.emulator import JunosEmulator
from op25b_cfg.push import push_device, run_push
from op25b_cfg.results import Outcome
from tests.labutil import REPO
from tests.pushlab import popts
from tests.pushlab import session_factory as factory

HOSTS = {
    "ios-e": {
        "hostname": "127.0.0.1",
        "platform": "cisco_ios",
        "data": {"attach": [{"kind": "virtual-template", "name": "Virtual-Template1", "direction": "in"}]},
    },
    "eos-e": {
        "hostname": "127.0.0.1",
        "port": 10443,  # one management address per device (a push refuses two devices on one host:port)
        "platform": "arista_eos",
        "data": {"attach": [{"kind": "interface", "name": "Ethernet1", "direction": "in"}]},
    },
    "xr-e": {
        "hostname": "127.0.0.1",
        "port": 10022,
        "platform": "cisco_iosxr",
        "data": {"attach": [{"kind": "interface", "name": "Bundle-Ether1.100", "direction": "in"}]},
    },
    "mx-e": {
        "hostname": "127.0.0.1",
        "port": 10830,
        "platform": "juniper_junos",
        "data": {"attach": [{"kind": "unit", "name": "ge-0/0/1.100", "direction": "in"}]},
    },
    "ios-fc": {  # the same IOS BRAS with the flow-control variant (per-subscriber SYN policer)
        "hostname": "127.0.0.1",  # never in one run with ios-e: the same router
        "platform": "cisco_ios",
        "data": {
            "mode": "flow-control",
            "flow_control": {"max_sessions": None},
            "attach": [{"kind": "virtual-template", "name": "Virtual-Template1", "direction": "in"}],
        },
    },
}
# An IOS BRAS whose Virtual-Template is used by a PPPoE bba-group (else the filter protects nobody).
IOS_BRAS = ios_default("ios-e").replace(
    "ip scp server enable\n", "bba-group pppoe global\n virtual-template 1\n!\nip scp server enable\n"
)


@pytest.fixture(autouse=True)
def _lock_dir(lock_dir: Path) -> None:
    """Every test here takes device locks in its own directory."""


@pytest.fixture(scope="module")
def devices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Device]:
    inv = tmp_path_factory.mktemp("inv")
    (inv / "policy.yaml").write_text((REPO / "inventory" / "policy.yaml").read_text())
    (inv / "defaults.yaml").write_text(yaml.safe_dump({"port": 22, "data": {"pools": ["DYN-TOKYO", "DYN-V6"]}}))
    (inv / "hosts.yaml").write_text(yaml.safe_dump(HOSTS))
    return dict(api.load(inv).devices)


EMULATORS: dict[str, Callable[..., Any]] = {
    "ios-e": lambda **kw: IosEmulator(IOS_BRAS, hostname="ios-e", **kw),
    "eos-e": lambda **kw: EosEmulator(hostname="eos-e", **kw),
    "mx-e": lambda **kw: JunosEmulator(hostname="mx-e", **kw),
    "xr-e": lambda **kw: IosxrEmulator(hostname="xr-e", **{k: v for k, v in kw.items() if k != "timer_scale"}),
}


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    started: list[Any] = []

    def start(name: str, **kw: Any) -> Any:
        emu = EMULATORS[name](**kw)
        emu.start()
        started.append(emu)
        return emu

    try:
        yield start
    finally:
        for emu in started:
            emu.faults.release()
            emu.stop()


def wait_for(cond: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def test_ios_mode_switch_leaves_no_stale_policy(lab, devices, tmp_path: Path) -> None:
    """flow control -> block through napalm ios: the merge adds the ACLs to the Virtual-Template, the clean-up
    removes the old service-policy, then the old policy-map, class-map and ACLs (read back from the device)."""
    emu = lab("ios-e", timer_scale=0.2)
    make = factory(emu, tmp_path)
    fc, block = devices["ios-fc"], devices["ios-e"]
    fc_v, block_v = api.plan(fc).version, api.plan(block).version
    first = push_device(fc, make, popts(tmp_path, commit=True, confirm_timeout=60))
    assert first.outcome is Outcome.COMMITTED, f"{first.error} / {first.state}"
    assert f" service-policy input OP25B-FC-{fc_v}" in emu.running_config.splitlines()

    dry = push_device(block, make, popts(tmp_path))
    assert f" no service-policy input OP25B-FC-{fc_v}" in dry.cleanup_diff.splitlines()
    res = push_device(block, make, popts(tmp_path, commit=True, confirm_timeout=60))
    assert res.outcome is Outcome.COMMITTED and not res.failed, f"{res.error} / {res.state}"
    assert res.cleanup_detached == [f"interface Virtual-Template1: service-policy input OP25B-FC-{fc_v}"]
    after = emu.running_config
    assert fc_v not in after and not emu.pending_commit()
    assert f" ip access-group OP25B-V4-{block_v} in" in after.splitlines()
    assert audit_text(block, after, "emulator").verdict == "COMPLIANT"
    again = push_device(block, make, popts(tmp_path, commit=True, confirm_timeout=60))
    assert again.outcome is Outcome.UNCHANGED and not again.cleanup_diff, f"{again.error} {again.diff}"


def test_ios_noncompliant_result_rolls_back(lab, devices, tmp_path: Path) -> None:
    """The emulator's default config has no bba-group: the filter would protect nobody -> roll back."""
    emu = IosEmulator(hostname="ios-e", timer_scale=0.2)
    emu.start()
    try:
        before = emu.running_config
        res = push_device(devices["ios-e"], factory(emu, tmp_path), popts(tmp_path, commit=True, confirm_timeout=60))
        assert res.outcome is Outcome.ROLLED_BACK, f"{res.error} / {res.state}"
        assert res.verdict == "NONCOMPLIANT" and "NOT_APPLIED" in res.error
        assert "OP25B" not in emu.running_config and not emu.pending_commit()
        now = [ln for ln in emu.running_config.strip().splitlines() if ln != "file prompt quiet"]
        assert now == before.strip().splitlines()
    finally:
        emu.stop()


@pytest.mark.parametrize("name", ["ios-e", "eos-e", "mx-e"])
def test_drop_before_confirm_reverts_by_timer(name: str, lab, devices, tmp_path: Path) -> None:
    emu = lab(name, timer_scale=0.03, faults=Faults(drop_on={"confirm"}))
    before = emu.running_config
    make = factory(emu, tmp_path, read_timeout_override=4)  # netmiko otherwise waits 10 s on the dead channel
    res = push_device(devices[name], make, popts(tmp_path, commit=True, confirm_timeout=60))
    assert res.outcome is Outcome.FAILED and "confirm" in res.error
    assert "revert timer" in res.state
    assert wait_for(lambda: not emu.pending_commit() and "OP25B" not in emu.running_config)
    # napalm ios sets 'file prompt quiet' for its file copies and removes it on close, which a dropped
    # connection prevents (as on a real router); everything else is exactly the old config
    now = "\n".join(ln for ln in emu.running_config.strip().splitlines() if ln != "file prompt quiet")
    assert now.strip() == before.strip()


@pytest.mark.parametrize("name", ["ios-e", "eos-e", "mx-e"])
def test_rejected_line_leaves_old_config(name: str, lab, devices, tmp_path: Path) -> None:
    emu = lab(name, faults=Faults(reject_pattern="discard" if name == "mx-e" else "deny tcp"))
    before = emu.running_config
    res = push_device(devices[name], factory(emu, tmp_path), popts(tmp_path, commit=True))
    assert res.outcome is Outcome.FAILED and res.state.startswith("old config"), res.state
    assert emu.running_config == before and not emu.pending_commit()


@pytest.mark.parametrize("name", ["ios-e", "mx-e"])
def test_unknown_host_key_and_wrong_password(name: str, lab, devices, tmp_path: Path) -> None:
    emu = lab(name)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    opts = ConnectOptions(timeout=10, known_hosts=str(empty), port=emu.port)
    res = push_device(
        devices[name], lambda d: NapalmSession(d, Credentials(emu.username, emu.password), opts), popts(tmp_path)
    )
    assert res.outcome is Outcome.FAILED and "known_hosts" in res.error, res.error
    assert res.state == "untouched (not connected)"

    wrong = push_device(
        devices[name], factory(emu, tmp_path, Credentials(emu.username, "not-the-Passw0rd")), popts(tmp_path)
    )
    assert wrong.outcome is Outcome.FAILED and "authentication failed" in wrong.error, wrong.error
    assert "not-the-Passw0rd" not in wrong.error and emu.password not in wrong.error


def test_several_emulators_in_parallel(lab, devices, tmp_path: Path) -> None:
    emus = {n: lab(n, timer_scale=0.2) for n in ("ios-e", "eos-e", "mx-e")}
    makers = {n: factory(e, tmp_path) for n, e in emus.items()}
    emus["eos-e"].faults.wrong_password = True
    report = run_push(
        [devices[n] for n in emus],
        popts(tmp_path, commit=True, confirm_timeout=60, workers=3),
        lambda d: makers[d.name](d),
    )
    by = {r.device: r for r in report.results}
    assert by["ios-e"].outcome is Outcome.COMMITTED and by["mx-e"].outcome is Outcome.COMMITTED
    assert by["eos-e"].outcome is Outcome.FAILED and report.exit_code == 1


def test_cli_push_dry_run_commit_and_exit_codes(lab, devices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``op25b push`` end to end (typer CLI -> nornir -> napalm junos -> NETCONF emulator)."""
    import json

    from typer.testing import CliRunner

    from op25b_cfg.cli import app

    emu = lab("mx-e", timer_scale=0.2)
    inv = Path(next(iter(devices.values())).source_of("platform").split(":")[0]).parent
    known = emu.write_known_hosts(tmp_path / "kh")
    monkeypatch.setenv("OP25B_USERNAME", emu.username)
    monkeypatch.setenv("OP25B_PASSWORD", emu.password)
    monkeypatch.chdir(tmp_path)
    base = ["push", "-i", str(inv), "-d", "mx-e", "--port", str(emu.port), "--known-hosts", str(known)]
    runner = CliRunner()

    dry = runner.invoke(app, [*base, "--format", "json"])
    assert dry.exit_code == 0, dry.output
    doc = json.loads(dry.stdout)
    assert doc["schema"] == "op25b.push/1" and doc["devices"][0]["result"] == "dry-run"
    assert "OP25B" not in emu.running_config

    refused = runner.invoke(app, [*base, "--commit", "--window", "daily 00:00-00:01 Pacific/Kiritimati"])
    if "outside the change window" in refused.output:  # (inside that minute the run simply proceeds)
        assert refused.exit_code == 2 and "OP25B" not in emu.running_config

    done = runner.invoke(app, [*base, "--commit", "--confirm-timeout", "60", "--window", "daily 00:00-24:00 UTC"])
    assert done.exit_code == 0, done.output
    assert "committed" in done.stdout and "OP25B-V4-" in emu.running_config
    assert emu.password not in done.output
    log_lines = (tmp_path / "logs" / "changes.jsonl").read_text().splitlines()
    assert [json.loads(x)["result"] for x in log_lines][-1] == "committed"
    assert list((tmp_path / "backups" / "mx-e").glob("*.cfg"))

    emu.faults.wrong_password = True
    failed = runner.invoke(app, base)
    assert failed.exit_code == 1 and "authentication failed" in failed.stdout


# Faults during the push itself, through the real napalm drivers: whatever happens, the device ends on its old
# config or (reverted by its own timer) back on it, the result names the step, and nothing is half-applied.
FAULTS: dict[str, Callable[[], Faults]] = {  # a fresh Faults per test: the emulator changes it (release())
    "drop-during-load": lambda: Faults(drop_on={"load"}),
    "drop-during-commit": lambda: Faults(drop_on={"commit"}),
    "drop-after-commit-applied": lambda: Faults(drop_on={"commit"}, drop_after_apply=True),
    "device-stops-answering-at-commit": lambda: Faults(hang_on={"commit"}),
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("name", ["ios-e", "eos-e", "mx-e"])
def test_fault_during_push_leaves_old_or_reverted_config(name: str, fault: str, lab, devices, tmp_path: Path) -> None:
    emu = lab(name, timer_scale=0.03, faults=FAULTS[fault]())
    before = emu.running_config
    # a silent device must fail the step in seconds, not minutes
    make = factory(emu, tmp_path, timeout=6, read_timeout_override=4)
    res = push_device(devices[name], make, popts(tmp_path, commit=True, confirm_timeout=60))
    assert res.outcome is Outcome.FAILED, (res.outcome, res.state)
    assert res.error and emu.password not in res.error
    emu.faults.release()  # the device answers again: what it holds now is what it ends on
    # a commit that got applied is reverted by the device's own timer (never confirmed); otherwise nothing
    # was applied at all
    assert wait_for(lambda: not emu.pending_commit() and "OP25B" not in emu.running_config, 40), emu.running_config
    now = "\n".join(ln for ln in emu.running_config.strip().splitlines() if ln != "file prompt quiet")
    assert now.strip() == before.strip()


# --- Drift of OP25B-owned objects: repaired make-before-break on every platform by the contract suite
# (tests/test_contract.py::test_push_repairs_drift); here, a device in place but not compliant.


def test_in_place_but_not_compliant_is_never_unchanged(devices, tmp_path: Path) -> None:
    """The intent is on the device, but the Virtual-Template serves no PPPoE group: the device protects
    nobody, so op25b reports it (FAILED, nothing committed) instead of 'unchanged'."""

    dev = devices["ios-e"]
    emu = IosEmulator(ios_default("ios-e") + api.render(dev), hostname="ios-e")
    emu.start()
    try:
        before = emu.running_config
        res = push_device(dev, factory(emu, tmp_path), popts(tmp_path, commit=True, confirm_timeout=60))
        assert res.outcome is Outcome.FAILED and "not compliant" in res.error and "NOT_APPLIED" in res.error, res
        assert res.state.startswith("old config") and emu.running_config == before and not emu.pending_commit()
    finally:
        emu.stop()


# --- One op25b at a time per device -------------------------------------------------------------------------
def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "op25b_cfg", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _cli_env(emu: Any, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OP25B_USERNAME": emu.username,
        "OP25B_PASSWORD": emu.password,
        "OP25B_LOCK_DIR": str(tmp_path / "locks"),
        "COLUMNS": "200",
    }


def test_second_process_on_the_same_device_is_refused(lab, devices, tmp_path: Path) -> None:
    """Two real ``op25b push`` processes on one router: while the first is in flight (its load hangs), the
    second touches nothing and says the device is busy (exit 1); after the first ends, the device is free."""
    emu = lab("mx-e", timer_scale=0.2, faults=Faults(hang_on={"load"}))
    inv = Path(devices["mx-e"].source_of("platform").split(":")[0]).parent
    known = emu.write_known_hosts(tmp_path / "kh")
    env = _cli_env(emu, tmp_path)
    base = ["push", "-i", str(inv), "-d", "mx-e", "--port", str(emu.port), "--known-hosts", str(known)]
    first = _cli([*base, "--commit", "--timeout", "30"], env, tmp_path)
    try:
        assert wait_for(lambda: "load-configuration" in emu.commands, 30), emu.commands
        sent = len(emu.commands)
        second = _cli(base, env, tmp_path)
        out, _ = second.communicate(timeout=60)
        assert second.returncode == 1, out
        assert "busy" in out and f"pid {first.pid}" in out, out
        assert emu.commands[sent:] == []  # the second run never talked to the device
    finally:
        emu.faults.release()
        first_out, _ = first.communicate(timeout=60)
    assert first.returncode == 1 and "OP25B" not in emu.running_config, first_out
    free = _cli(base, env, tmp_path)
    out, _ = free.communicate(timeout=60)
    assert free.returncode == 0 and "dry-run" in out, out
    assert list((tmp_path / "locks").iterdir()) == []  # every run removed its lock file


def test_two_devices_on_one_management_address_are_refused(devices, tmp_path: Path) -> None:
    from op25b_cfg.errors import PushError

    opened: list[str] = []

    def never(d: Device) -> Session:
        opened.append(d.name)
        raise AssertionError("no device may be touched")

    with pytest.raises(PushError, match=r"share a management address and port: 127\.0\.0\.1:22 \(ios-e, ios-fc\)"):
        run_push([devices["ios-e"], devices["ios-fc"]], popts(tmp_path), never)
    assert opened == []


# --- Signals: a real op25b process, real signals -------------------------------------------------------------
def two_router_inventory(tmp_path: Path, *emus: Any) -> tuple[Path, Path]:
    """An inventory with one Junos router per emulator (``mx-a``, ``mx-b``, ...) and a known_hosts for them."""
    inv = tmp_path / "inv2"
    inv.mkdir()
    (inv / "policy.yaml").write_text((REPO / "inventory" / "policy.yaml").read_text())
    (inv / "defaults.yaml").write_text(yaml.safe_dump({"data": {"pools": ["DYN-TOKYO", "DYN-V6"]}}))
    hosts = {
        f"mx-{chr(97 + i)}": {**HOSTS["mx-e"], "port": emu.port} for i, emu in enumerate(emus)
    }  # mx-a, mx-b: ports of their emulators
    (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts))
    known = tmp_path / "known_hosts"
    known.write_text("".join(e.known_hosts_line() + "\n" for e in emus))
    return inv, known


def changelog_results(path: Path) -> dict[str, dict[str, Any]]:
    import json

    return {r["device"]: r for r in map(json.loads, path.read_text().splitlines())}


@contextlib.contextmanager
def pushing_two_routers(
    tmp_path: Path, faults: Faults, in_flight: str
) -> Iterator[tuple[Any, Any, subprocess.Popen[str]]]:
    """A real ``op25b push --commit --workers 1`` process on mx-a then mx-b, yielded once mx-a's emulator has
    received ``in_flight`` (where ``faults`` make it hang); killed (its group, by pid) if still running."""
    with JunosEmulator(hostname="mx-a", faults=faults) as a, JunosEmulator(hostname="mx-b") as b:
        b.username, b.password = a.username, a.password
        inv, known = two_router_inventory(tmp_path, a, b)
        args = ["push", "-i", str(inv), "--commit", "--workers", "1", "--known-hosts", str(known)]
        proc = _cli([*args, "--changelog", str(tmp_path / "changes.jsonl")], _cli_env(a, tmp_path), tmp_path)
        try:
            assert wait_for(lambda: in_flight in a.commands, 30), a.commands
            yield a, b, proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_first_signal_starts_no_new_device_and_logs_every_device(sig: int, tmp_path: Path) -> None:
    """SIGTERM / SIGHUP behave like Ctrl-C: the in-flight device finishes (here: its hung load fails and it
    stays on its old config), the next device never starts, and both get a change-log line."""
    with pushing_two_routers(tmp_path, Faults(hang_on={"load"}), "load-configuration") as (a, b, proc):
        proc.send_signal(sig)
        time.sleep(0.5)  # the handler has run: now let the hung device answer (it drops the connection)
        a.faults.release()
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 1, out
        assert f"interrupted ({signal.Signals(sig).name})" in out
        logged = changelog_results(tmp_path / "changes.jsonl")
        assert logged["mx-a"]["result"] == "failed" and logged["mx-a"]["state"].startswith("old config"), logged
        assert logged["mx-b"]["result"] == "skipped" and b.commands == []
        assert "OP25B" not in a.running_config + b.running_config


def test_second_signal_logs_in_flight_devices_as_interrupted(tmp_path: Path) -> None:
    with pushing_two_routers(tmp_path, Faults(hang_on={"commit"}), "commit-configuration") as (_a, b, proc):
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)  # exits at once, the device still hangs
        assert proc.returncode == 128 + signal.SIGTERM, out
        logged = changelog_results(tmp_path / "changes.jsonl")
        rec = logged["mx-a"]
        assert rec["result"] == "interrupted" and "a second SIGTERM" in rec["error"], rec
        assert rec["state"].startswith("INTERRUPTED while committing") and "revert timer" in rec["state"], rec
        assert logged["mx-b"]["result"] == "skipped" and b.commands == []


# --- Timeouts that hold ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ios-e", "xr-e", "eos-e", "mx-e"])
def test_commit_hang_is_bounded_by_the_timeout(name: str, lab, devices, tmp_path: Path) -> None:
    """The device stops answering at the commit. With --timeout 3 the push gives up after 3 s (napalm ios alone
    would wait about 150 s), closes that connection, reconnects to see where the device is, and the device
    ends on its old config (the commit never applied, or its revert timer undoes it)."""
    emu = lab(name, timer_scale=0.03, faults=Faults(hang_on={"commit"}))
    before = emu.running_config
    make = factory(emu, tmp_path, timeout=3)  # no read_timeout_override: op25b's own deadline must hold
    res = push_device(devices[name], make, popts(tmp_path, commit=True, confirm_timeout=60))
    assert res.outcome is Outcome.FAILED and "commit" in res.error, (res.error, res.state)
    # op25b's own deadline ended the commit, for every driver: the libraries' own timeouts (netmiko reads, PyEZ
    # RPCs, the eAPI socket) are given a margin over it (napalm ios alone waits 90-150 s and says "timed out")
    assert "within 3s" in res.error, res.error
    assert res.state.startswith("old config") or "revert timer" in res.state, res.state
    assert list((tmp_path / "locks").iterdir()) == []  # the lock, kept across the reconnect, is released
    emu.faults.release()
    assert wait_for(lambda: not emu.pending_commit() and "OP25B" not in emu.running_config, 40), emu.running_config
    now = "\n".join(ln for ln in emu.running_config.strip().splitlines() if ln != "file prompt quiet")
    assert now.strip() == before.strip()


def _library_waits(driver: Any) -> dict[str, float]:
    """The timeouts a napalm driver and the library under it (netmiko, PyEZ, pyeapi) really hold."""
    waits = {"napalm": driver.timeout}
    dev = driver.device
    for attr in ("read_timeout_override", "timeout"):  # netmiko's every read; PyEZ's RPCs; pyIOSXR
        if getattr(dev, attr, None) is not None:
            waits[attr] = getattr(dev, attr)
    transport = getattr(getattr(dev, "connection", None), "transport", None)  # pyeapi: the eAPI socket
    if transport is not None:
        waits["eapi socket"] = transport.timeout
    return waits


@pytest.mark.parametrize("name", ["ios-e", "xr-e", "eos-e", "mx-e"])
def test_the_libraries_wait_longer_than_the_deadline(name: str, lab, devices, tmp_path: Path) -> None:
    """Every wait of the driver and its library outlasts --timeout, so op25b's own deadline is always the one
    that ends a hung call (no race between two timeouts of the same length, each with its own message)."""
    emu = lab(name)
    with factory(emu, tmp_path, timeout=3)(devices[name]) as session:
        waits = session.query("inspect", _library_waits)
    assert len(waits) >= 2 and all(w >= 4 for w in waits.values()), waits


def test_live_audit_waits_for_no_one_and_touches_no_busy_device(lab, devices, tmp_path: Path) -> None:
    """``audit --live`` takes the same per-device lock: while another process holds it, the device is an
    ERROR saying it is busy and the emulator sees no login; once released, the audit runs."""
    from op25b_cfg.audit.runner import audit_live_device

    emu = lab("eos-e")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from op25b_cfg.connection.devlock import DeviceLock as L;"
         f" lock = L('eos-e', '127.0.0.1', {emu.port}); lock.acquire(); print('held', flush=True);"
         " sys.stdin.read(); lock.release()"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = audit_live_device(devices["eos-e"], factory(emu, tmp_path))
        assert str(busy.verdict) == "ERROR" and "busy" in (busy.error or "") and f"pid {holder.pid}" in busy.error
        assert emu.commands == []
    finally:
        holder.communicate("", timeout=30)
    free = audit_live_device(devices["eos-e"], factory(emu, tmp_path))
    assert str(free.verdict) != "ERROR", free.error
