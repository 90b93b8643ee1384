"""The public surface: ``op25b_cfg.api`` gives what the ``op25b`` commands give, and the Nornir tasks of
``op25b_cfg.nornir_tasks`` run through a real ``InitNornir`` over op25b's own inventory directory."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from nornir import InitNornir
from nornir.core import Nornir
from typer.testing import CliRunner

from op25b_cfg import api
from op25b_cfg.audit.report import device_dict
from op25b_cfg.cli import app
from op25b_cfg.nornir_tasks import op25b_audit, op25b_generate, op25b_push
from op25b_cfg.platforms import get_platform
from op25b_cfg.platforms.cisco_ios.emulator import IosEmulator
from tests.labutil import REPO
from tests.platform_data import SAMPLE_LEAKS, sample_files, sample_verdicts
from tests.test_push_napalm import IOS_BRAS

SAMPLE = REPO / "inventory"
runner = CliRunner()


@pytest.fixture(scope="module")
def intent() -> api.Inventory:
    return api.load(SAMPLE)


def nornir_over(inventory: Path) -> Nornir:
    """InitNornir with op25b's inventory directory as its SimpleInventory (threaded runner, 4 workers)."""
    files = {"host_file": "hosts.yaml", "group_file": "groups.yaml", "defaults_file": "defaults.yaml"}
    return InitNornir(
        runner={"plugin": "threaded", "options": {"num_workers": 4}},
        logging={"enabled": False},
        inventory={
            "plugin": "SimpleInventory",
            "options": {k: str(inventory / v) for k, v in files.items() if (inventory / v).is_file()},
        },
    )


# ------------------------------------------------------------------------------------------------ api


def test_render_equals_what_op25b_generate_writes(intent: api.Inventory, tmp_path: Path) -> None:
    res = runner.invoke(app, ["generate", "-i", str(SAMPLE), "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(sample_files().values())
    for name, dev in intent.devices.items():
        path = tmp_path / f"{name}.{get_platform(dev.platform).file_extension}"
        assert api.render(dev) == path.read_text(encoding="utf-8"), name
    summary = {r.device: (r.version, r.failed) for r in api.generate(list(intent.devices.values()))}
    assert summary == {n: (api.plan(d).version, False) for n, d in intent.devices.items()}


def test_audit_saved_equals_what_op25b_audit_reports(intent: api.Inventory) -> None:
    res = runner.invoke(app, ["audit", "-i", str(SAMPLE), "--format", "json"])
    assert res.exit_code == 1, res.output  # the sample has two NONCOMPLIANT devices
    cli = json.loads(res.output)["devices"]
    reports = api.audit_saved(list(intent.devices.values()), SAMPLE / "running")
    assert [device_dict(r) for r in reports] == cli
    assert {d["device"]: d["verdict"] for d in cli} == sample_verdicts()
    one = api.audit_file(intent.devices["bras-tyo-ios1"], SAMPLE / "running" / "bras-tyo-ios1.cfg")
    assert device_dict(one) == cli[0]
    text = (SAMPLE / "running" / "bras-tyo-ios1.cfg").read_text(encoding="utf-8")
    assert device_dict(api.audit_text(intent.devices["bras-tyo-ios1"], text, one.source)) == cli[0]


def test_connect_takes_credentials_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OP25B_USERNAME", "ops")
    monkeypatch.delenv("OP25B_PASSWORD", raising=False)
    with pytest.raises(api.Op25bError, match="OP25B_PASSWORD"):
        api.connect()
    monkeypatch.setenv("OP25B_PASSWORD", "s3cret-value")
    conn = api.connect("admin", timeout=5, port=2222, driver_args={"transport": "http"})
    assert conn.creds.username == "admin" and "s3cret-value" not in repr(conn)
    assert (conn.options.timeout, conn.options.port, conn.options.driver_args) == (5, 2222, {"transport": "http"})


CONCURRENT_AUDITS = """
import sys, threading
from op25b_cfg import api
intent = api.load(sys.argv[1])
devs = list(intent.devices.values())
barrier = threading.Barrier(len(devs))
out = {}
def work(d):
    text = open(f"{sys.argv[1]}/running/{d.name}.cfg", encoding="utf-8").read()
    barrier.wait()
    out[d.name] = str(api.audit_text(d, text, "t").verdict)
threads = [threading.Thread(target=work, args=(d,)) for d in devs]
for t in threads: t.start()
for t in threads: t.join()
print(sorted(out.items()))
"""


def test_audits_in_threads_of_a_cold_process_give_the_sequential_verdicts(intent: api.Inventory) -> None:
    """Regression: the engine's BDD manager and caches are shared by the process; five audits started at once
    in threads (nornir's threaded runner, ``audit --live --workers``) used to mix managers and end ERROR."""
    want = sorted(
        (r.device, str(r.verdict)) for r in api.audit_saved(list(intent.devices.values()), SAMPLE / "running")
    )
    for _ in range(3):  # a fresh process each time: the race is worst while the engine warms up
        out = subprocess.run(
            [sys.executable, "-c", CONCURRENT_AUDITS, str(SAMPLE)], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip() == str(want), out.stderr[-2000:]


# ------------------------------------------------------------------------------------------------ nornir


def test_nornir_generate_over_the_op25b_inventory(intent: api.Inventory, tmp_path: Path) -> None:
    nr = nornir_over(SAMPLE)
    assert sorted(nr.inventory.hosts) == sorted(intent.devices)
    agg = nr.run(task=op25b_generate, intent=intent)
    assert not agg.failed
    assert {h: m[0].result for h, m in agg.items()} == {n: api.render(d) for n, d in intent.devices.items()}
    assert not any(m[0].changed for m in agg.values())

    first = nr.run(task=op25b_generate, intent=intent, out_dir=tmp_path)
    assert all(m[0].changed and "+ip access-list" in m[0].diff for h, m in first.items() if h == "bras-tyo-ios1")
    assert all(m[0].changed for m in first.values())
    again = nr.run(task=op25b_generate, intent=intent, out_dir=tmp_path)
    assert not any(m[0].changed or m[0].diff for m in again.values()), "an unchanged intent rewrites nothing"
    for name, dev in intent.devices.items():
        assert (tmp_path / f"{name}.{get_platform(dev.platform).file_extension}").read_text() == api.render(dev)


def test_nornir_audit_of_saved_configs(intent: api.Inventory) -> None:
    nr = nornir_over(SAMPLE)
    agg = nr.run(task=op25b_audit, intent=intent)
    want = {r.device: r for r in api.audit_saved(list(intent.devices.values()), SAMPLE / "running")}
    got = {h: m[0] for h, m in agg.items()}
    assert {h: device_dict(r.result) for h, r in got.items()} == {h: device_dict(r) for h, r in want.items()}
    assert sorted(agg.failed_hosts) == sorted(SAMPLE_LEAKS), "failed = not COMPLIANT"
    assert all(m[0].exception is None for m in agg.values())
    assert "deny   tcp 100.64.0.0 0.0.255.255 any eq smtp log" not in got["bras-osa-xr1"].diff
    assert got["bng-tyo-mx1"].diff, "the remediation of the missing IPv6 filter"


def test_nornir_task_on_a_host_op25b_does_not_know(intent: api.Inventory, tmp_path: Path) -> None:
    inv = tmp_path / "nr"
    inv.mkdir()
    (inv / "hosts.yaml").write_text(yaml.safe_dump({"core-1": {"hostname": "192.0.2.99"}}))
    agg = nornir_over(inv).run(task=op25b_audit, intent=intent)
    res = agg["core-1"][0]
    assert res.failed and res.exception is None
    assert "core-1: not in the op25b inventory" in str(res.result) and "Fix:" in str(res.result)


# ------------------------------------------------------------------------------------------------ push


@pytest.fixture
def ios_emulator() -> Iterator[IosEmulator]:
    emu = IosEmulator(IOS_BRAS, hostname="ios-e", timer_scale=0.2)
    emu.start()
    try:
        yield emu
    finally:
        emu.faults.release()
        emu.stop()


def emulated_ios(tmp_path: Path, emu: IosEmulator, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, api.Connection]:
    """An inventory with the one device ``ios-e`` served by ``emu``, and a connection to it."""
    inv = tmp_path / "inventory"
    inv.mkdir()
    (inv / "policy.yaml").write_text((SAMPLE / "policy.yaml").read_text())
    (inv / "defaults.yaml").write_text(yaml.safe_dump({"port": 22, "data": {"pools": ["DYN-TOKYO", "DYN-V6"]}}))
    host = {
        "hostname": "127.0.0.1",
        "platform": "cisco_ios",
        "data": {"attach": [{"kind": "virtual-template", "name": "Virtual-Template1", "direction": "in"}]},
    }
    (inv / "hosts.yaml").write_text(yaml.safe_dump({"ios-e": host}))
    monkeypatch.setenv("OP25B_USERNAME", emu.username)
    monkeypatch.setenv("OP25B_PASSWORD", emu.password)
    conn = api.connect(
        port=emu.port,
        known_hosts=emu.write_known_hosts(tmp_path / "known_hosts"),
        timeout=15,
        driver_args=dict(type(emu).lab_optional_args()),  # what the emulator lab writes for it
    )
    return inv, conn


def test_nornir_push_dry_run_commit_and_rerun_against_the_ios_emulator(
    ios_emulator: IosEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = ios_emulator
    inv, conn = emulated_ios(tmp_path, emu, monkeypatch)
    intent = api.load(inv)
    opts: dict[str, Any] = {"backup_dir": tmp_path / "backups", "changelog": tmp_path / "changes.jsonl"}
    version = api.plan(intent.devices["ios-e"]).version
    nr = nornir_over(inv)
    before = emu.running_config

    dry = nr.run(task=op25b_push, intent=intent, connection=conn, **opts)["ios-e"][0]
    assert not dry.failed, dry.result
    assert dry.changed and f"+ip access-list extended OP25B-V4-{version}" in dry.diff
    assert dry.result.outcome is api.Outcome.DRY_RUN and emu.running_config == before

    done = nr.run(task=op25b_push, intent=intent, connection=conn, commit=True, confirm_timeout=60, **opts)
    res = done["ios-e"][0]
    assert not res.failed and res.changed, f"{res.result.error} / {res.result.state}"
    assert res.result.outcome is api.Outcome.COMMITTED and res.result.verdict == "COMPLIANT"
    assert f" ip access-group OP25B-V4-{version} in" in emu.running_config.splitlines()
    assert not emu.pending_commit()

    again = nr.run(task=op25b_push, intent=intent, connection=conn, commit=True, **opts)["ios-e"][0]
    assert not again.failed and not again.changed and not again.diff
    assert again.result.outcome is api.Outcome.UNCHANGED
    log = [json.loads(line) for line in (tmp_path / "changes.jsonl").read_text().splitlines()]
    assert [e["result"] for e in log] == ["dry-run", "committed", "unchanged"]
    assert all(e["version"] == version and e["username"] == emu.username for e in log)


def test_the_readme_example_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API and Nornir tasks", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    monkeypatch.chdir(REPO)
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.splitlines() == ["NONCOMPLIANT", "['bng-tyo-mx1', 'bras-tyo-ios1']"]


def test_nornir_generate_into_an_unwritable_place_fails_that_host_with_a_message(
    intent: api.Inventory, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    agg = nornir_over(SAMPLE).run(task=op25b_generate, intent=intent, out_dir=blocker / "out")
    res = agg["bras-osa-xr1"][0]
    assert res.failed and res.exception is None
    path = blocker / "out" / "bras-osa-xr1.iosxr"
    assert str(res.result) == f"{path}: cannot be written (Not a directory). Fix: check out_dir"


def test_api_live_audit_and_push_report_each_device_as_it_finishes(
    ios_emulator: IosEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``op25b audit --live`` and ``op25b push`` build on: per-device callbacks, ``--save``, the change
    window refused before any device is touched, and a set ``stop`` that starts no device."""
    emu = ios_emulator
    inv, conn = emulated_ios(tmp_path, emu, monkeypatch)
    devices = list(api.load(inv).devices.values())
    seen: list[str] = []
    reports = api.audit_devices(devices, conn, save_dir=tmp_path / "saved", on_done=lambda r: seen.append(r.device))
    assert seen == ["ios-e"] and reports[0].verdict is api.Verdict.NONCOMPLIANT  # no OP25B filter yet
    assert [p.name for p in (tmp_path / "saved").iterdir()] == ["ios-e"]
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(api.Op25bError, match="--save"):
        api.audit_devices(devices, conn, save_dir=blocker / "saved")

    before = emu.running_config
    opts: dict[str, Any] = {"backup_dir": tmp_path / "backups", "changelog": tmp_path / "changes.jsonl"}
    closed = "Mon 00:00-00:01 UTC" if datetime.now(UTC).strftime("%a") != "Mon" else "Tue 00:00-00:01 UTC"
    with pytest.raises(api.Op25bError, match="outside the change window"):
        api.push(devices, conn, commit=True, window=closed, **opts)
    assert "dry-run; window" in api.window_status(api.change_window(closed), commit=False)
    assert not (tmp_path / "changes.jsonl").exists() and emu.running_config == before

    stop = threading.Event()
    stop.set()
    skipped = api.push(devices, conn, commit=True, stop=stop, **opts)
    assert [r.outcome for r in skipped.results] == [api.Outcome.SKIPPED] and emu.running_config == before
    done: list[str] = []
    report = api.push(devices, conn, commit=True, confirm_timeout=60, on_done=lambda r: done.append(r.outcome), **opts)
    assert done == [api.Outcome.COMMITTED] and report.exit_code == 0
    assert api.audit_devices(devices, conn)[0].verdict is api.Verdict.COMPLIANT


def test_api_connect_refuses_what_the_command_line_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OP25B_USERNAME", "ops")
    monkeypatch.setenv("OP25B_PASSWORD", "s3cret-value")
    with pytest.raises(api.Op25bError, match="secret"):
        api.connect(driver_args={"secret": "enable-pw"})
    with pytest.raises(api.Op25bError, match="ssh_strict"):
        api.connect(driver_args={"ssh_strict": False})
    assert api.connect(verify_host_key=False, driver_args={"ssh_strict": False}).options.driver_args


def test_api_reports_equal_the_command_s(intent: api.Inventory, tmp_path: Path) -> None:
    """``iter_audit_saved`` + ``write_audit_report`` give the file ``op25b audit --format F -o FILE`` writes
    (but the time stamp), with the command's exit code."""
    devices = list(intent.devices.values())
    for fmt in ("json", "junit"):
        res = runner.invoke(app, ["audit", "-i", str(SAMPLE), "--format", fmt, "-o", str(tmp_path / f"cli.{fmt}")])
        with (tmp_path / f"api.{fmt}").open("w", encoding="utf-8") as fh:
            meta = {"policy": intent.policy.name, "inventory": str(SAMPLE), "configs": str(SAMPLE / "running")}
            code, count = api.write_audit_report(api.iter_audit_saved(devices, SAMPLE / "running"), fh, fmt, **meta)
        assert (code, count) == (res.exit_code, len(devices)) == (1, len(sample_verdicts()))
        stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\+00:00|Z)?")
        cli_text, api_text = ((tmp_path / f"{w}.{fmt}").read_text(encoding="utf-8") for w in ("cli", "api"))
        assert stamp.sub("T", api_text) == stamp.sub("T", cli_text) and "bras-tyo-ios1" in api_text
    with pytest.raises(api.Op25bError, match="unknown audit report format"):
        api.write_audit_report([], io.StringIO(), "yaml")


LIGHT = """
import json, sys
import op25b_cfg.api as api
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_api_loads_nothing_heavy() -> None:
    """The commands import ``op25b_cfg.api`` at start-up: it must not cost them (tests/test_cli_imports.py)."""
    from tests.test_cli_imports import heavy

    proc = subprocess.run([sys.executable, "-c", LIGHT], capture_output=True, text=True, check=True)
    modules = set(json.loads(proc.stdout))
    assert heavy(modules) == [] and "pydantic" not in modules
    assert api.Verdict.COMPLIANT.value == "COMPLIANT" and api.Device.__name__ == "Device"  # loaded on first use
    with pytest.raises(AttributeError):
        api.no_such_name  # noqa: B018
