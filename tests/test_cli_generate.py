"""``op25b generate`` and ``op25b platforms`` through the real CLI (typer's CliRunner, one subprocess)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from op25b_cfg import api, cli
from op25b_cfg.cli import app
from op25b_cfg.generate import Rendered
from op25b_cfg.inventory import Device
from tests.platform_data import sample_files, sample_hosts

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "inventory"
EXPECTED = set(sample_files().values())
OSAKA = sorted(f for n, f in sample_files().items() if "osaka" in sample_hosts()[n].get("groups", []))

runner = CliRunner()


def test_generate_sample_writes_one_file_per_platform(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["generate", "-i", str(SAMPLE), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} == EXPECTED
    assert f"{len(EXPECTED)} rendered, 0 failed" in res.stdout
    inv = api.load(SAMPLE)
    for dev in inv.devices.values():
        f = out / f"{dev.name}.{api.platforms()[dev.platform].file_extension}"
        assert f.read_text(encoding="utf-8") == api.render(dev)


def test_generate_json(tmp_path: Path) -> None:
    res = runner.invoke(app, ["generate", "-i", str(SAMPLE), "-o", str(tmp_path), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["schema"] == "op25b.generate/1"
    assert doc["out"] == str(tmp_path)
    rows = {r["device"]: r for r in doc["devices"]}
    assert set(rows) == set(sample_files())
    for r in rows.values():
        assert r["error"] == ""
        assert Path(r["path"]).is_file()
        assert r["version"] and r["version"] in r["filters"]
        assert r["rules"] > 0 and r["lines"] > 0
        assert r["platform"] in api.platforms()
    assert rows["edge-osa-eos1"]["mode"] == "targeted"
    assert rows["bras-tyo-lnx1"]["mode"] == "flow-control"


def _big_inventory(tmp_path: Path, n: int) -> Path:
    """The sample inventory with ``n`` hosts cloned from its IOS host."""
    import yaml

    inv = tmp_path / "inv"
    shutil.copytree(SAMPLE, inv, ignore=shutil.ignore_patterns("running"))
    hosts = yaml.safe_load((SAMPLE / "hosts.yaml").read_text(encoding="utf-8"))
    (inv / "hosts.yaml").write_text(yaml.safe_dump({f"r{i:03d}": hosts["bras-tyo-ios1"] for i in range(n)}))
    return inv


def test_generate_large_run_shows_a_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.out, "_width", 200)
    n = cli.SUMMARY_ABOVE + 10
    inv = _big_inventory(tmp_path, n)
    res = runner.invoke(app, ["generate", "-i", str(inv), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "r000" not in res.stdout and "r059" not in res.stdout
    assert f"{n} rendered, 0 failed" in res.stdout and "--all-rows" in res.stdout
    assert len(list((tmp_path / "out").iterdir())) == n
    every = runner.invoke(app, ["generate", "-i", str(inv), "-o", str(tmp_path / "out"), "--all-rows"])
    assert all(f"r{i:03d}" in every.stdout for i in range(n))


def test_large_table_lists_the_failing_devices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from op25b_cfg.api import Rendered

    monkeypatch.setattr(cli.out, "_width", 200)
    ok = [Rendered(f"r{i:03d}", "cisco_ios", "block", rules=5, lines=20, path=f"out/r{i:03d}.ios") for i in range(60)]
    bad = Rendered("broken-1", "cisco_ios", "block", error="broken-1: template error")
    with cli.out.capture() as cap:
        cli._generate_table([*ok, bad], tmp_path, all_rows=False)
    text = cap.get()
    assert "broken-1" in text and "template error" in text and "r000" not in text
    assert "60 rendered, 1 failed" in text


def test_generate_quiet_prints_nothing_on_success(tmp_path: Path) -> None:
    res = runner.invoke(app, ["generate", "-i", str(SAMPLE), "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 0 and res.stdout == "" and res.stderr == ""
    assert {p.name for p in (tmp_path / "out").iterdir()} == EXPECTED


def test_version() -> None:
    from op25b_cfg import __version__

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout == f"op25b {__version__}\n"


def test_generate_one_device(tmp_path: Path) -> None:
    res = runner.invoke(app, ["generate", "-i", str(SAMPLE), "-o", str(tmp_path), "--device", "bng-tyo-mx1"])
    assert res.exit_code == 0, res.output
    assert [p.name for p in tmp_path.iterdir()] == ["bng-tyo-mx1.junos"]


def test_generate_repeated_device(tmp_path: Path) -> None:
    args = ["generate", "-i", str(SAMPLE), "-o", str(tmp_path), "-d", "bng-tyo-mx1", "-d", "edge-osa-eos1"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bng-tyo-mx1.junos", "edge-osa-eos1.eos"]


@pytest.mark.parametrize(
    ("where", "files"),
    [
        ("platform=cisco_iosxr", ["bras-osa-xr1.iosxr"]),
        ("platform=linux_nftables", ["bras-tyo-lnx1.nft"]),
        ("group=osaka", OSAKA),
        ("mode=targeted", ["edge-osa-eos1.eos"]),
        ("name=bras-tyo-ios1", ["bras-tyo-ios1.ios"]),
    ],
)
def test_generate_filter(tmp_path: Path, where: str, files: list[str]) -> None:
    res = runner.invoke(app, ["generate", "-i", str(SAMPLE), "-o", str(tmp_path), "--filter", where])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)


def test_generate_unknown_device_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["generate", "-i", str(SAMPLE), "-o", str(tmp_path), "--device", "no-such-router"])
    assert res.exit_code == 2
    assert "no-such-router" in res.stderr and "no such device" in res.stderr
    assert "bng-tyo-mx1" in res.stderr, "the error lists the known devices"
    assert not list(tmp_path.iterdir())


def test_generate_bad_filter_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["generate", "-i", str(SAMPLE), "-o", str(tmp_path), "--filter", "colour=red"])
    assert res.exit_code == 2
    assert "KEY=VALUE" in res.stderr


def test_generate_invalid_inventory_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["generate", "-i", str(tmp_path / "missing"), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "is not a directory" in res.stderr
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_platforms_json() -> None:
    res = runner.invoke(app, ["platforms", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = {r["platform"]: r for r in json.loads(res.stdout)}
    assert set(rows) == set(api.platforms())
    assert rows["linux_nftables"]["flow_control_sessions"] is True
    assert "flow-control" not in rows["cisco_iosxr"]["modes"]
    assert "flow-control" not in rows["arista_eos"]["modes"]
    assert rows["cisco_ios"]["flow_control_rate_on"] == ["virtual-template"]
    assert rows["juniper_junos"]["flow_control_rate_on"] == ["dynamic-profile"]
    assert rows["cisco_iosxr"]["netmiko_device_type"] == "cisco_xr"
    assert rows["linux_nftables"]["napalm_driver"] is None
    assert [n for n, r in rows.items() if r["flow_control_delay"]] == ["linux_nftables"]


def test_platforms_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.out, "_width", 200)  # a wide terminal, so cells are not folded
    res = runner.invoke(app, ["platforms"])
    assert res.exit_code == 0
    rows = {line.split("│")[1].strip(): line for line in res.stdout.splitlines() if line.startswith("│")}
    assert set(rows) == set(api.platforms())
    assert "sessions + rate" in rows["linux_nftables"]
    assert "rate only, on virtual-template" in rows["cisco_ios"]
    assert "refused" not in rows["linux_nftables"] and "refused" in rows["arista_eos"]


def test_generate_subprocess_no_traceback(tmp_path: Path) -> None:
    """The installed entry point, end to end: exit 2 and a one-line reason for an unknown device."""
    res = subprocess.run(
        [sys.executable, "-m", "op25b_cfg", "generate", "-i", str(SAMPLE), "-o", str(tmp_path), "-d", "ghost"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "ghost" in res.stderr


def test_generate_rewrites_only_changed_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert runner.invoke(app, ["generate", "-i", str(SAMPLE), "-o", str(out), "-q"]).exit_code == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    tampered = out / "bras-tyo-ios1.ios"
    good = tampered.read_text(encoding="utf-8")
    tampered.write_text(good.replace("deny", "permit"), encoding="utf-8")
    time_of_tamper = tampered.stat().st_mtime_ns
    assert runner.invoke(app, ["generate", "-i", str(SAMPLE), "-o", str(out), "-q"]).exit_code == 0
    assert tampered.read_text(encoding="utf-8") == good
    after = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert after[tampered.name] >= time_of_tamper
    assert {n: t for n, t in after.items() if n != tampered.name} == {
        n: t for n, t in before.items() if n != tampered.name
    }


def _mixed_inventory(tmp_path: Path, n: int) -> Path:
    """The sample inventory with ``n`` hosts cloned round-robin from all its hosts (every platform)."""
    import yaml

    inv = tmp_path / "inv"
    shutil.copytree(SAMPLE, inv, ignore=shutil.ignore_patterns("running"))
    hosts = yaml.safe_load((SAMPLE / "hosts.yaml").read_text(encoding="utf-8"))
    bodies = list(hosts.values())
    (inv / "hosts.yaml").write_text(yaml.safe_dump({f"r{i:03d}": bodies[i % len(bodies)] for i in range(n)}))
    return inv


@pytest.mark.parametrize("workers", [2, 3])
def test_generate_in_forked_workers_writes_what_one_process_writes(tmp_path: Path, workers: int) -> None:
    from op25b_cfg import generate as gen

    devices = list(api.load(_mixed_inventory(tmp_path, 40)).devices.values())
    (tmp_path / "single").mkdir()
    (tmp_path / "forked").mkdir()
    single = gen._generate(devices, tmp_path / "single")
    forked = gen._generate_forked(devices, tmp_path / "forked", workers)
    assert [r.device for r in forked] == [d.name for d in devices] and not any(r.failed for r in forked)
    assert [{**r.to_dict(), "path": Path(r.path).name} for r in forked] == [
        {**r.to_dict(), "path": Path(r.path).name} for r in single
    ]
    files = sorted(p.name for p in (tmp_path / "single").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "forked").iterdir()) and len(files) == 40
    for name in files:
        assert (tmp_path / "forked" / name).read_bytes() == (tmp_path / "single" / name).read_bytes()
    assert gen._INHERITED == []


def test_generate_forks_only_for_many_devices_and_without_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from op25b_cfg import generate as gen

    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert gen.generate_workers(gen.POOL_MIN_DEVICES - 1) == 1
    cores = len(os.sched_getaffinity(0))
    assert gen.generate_workers(100 * gen.POOL_MIN_DEVICES) == cores
    monkeypatch.setattr(threading, "active_count", lambda: 2)  # forking a process with threads is not safe
    assert gen.generate_workers(100 * gen.POOL_MIN_DEVICES) == 1


def test_generate_cli_uses_the_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the command: above the threshold the forked path runs and writes every file."""
    import threading

    from op25b_cfg import generate as gen

    calls: list[int] = []
    real = gen._generate_forked

    def spy(devices: list[Device], out_dir: Path | None, workers: int) -> list[Rendered]:
        calls.append(workers)
        return real(devices, out_dir, workers)

    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(gen, "POOL_MIN_DEVICES", 10)
    monkeypatch.setattr(gen, "_generate_forked", spy)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    inv = _mixed_inventory(tmp_path, 30)
    res = runner.invoke(app, ["generate", "-i", str(inv), "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 0, res.output
    assert calls == [2] and len(list((tmp_path / "out").iterdir())) == 30
