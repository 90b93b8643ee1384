"""Issue 9 items 6, 12 and 13: device names never leave op25b's directories; every artifact is written whole.

The real writers are exercised: ``backups.write_backup`` (push backups and ``audit --live --save``),
``audit_saved`` (``--configs`` lookup), ``op25b generate`` as a process; the full disk is a real 16 KiB tmpfs
in a private mount namespace.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from op25b_cfg import api
from op25b_cfg.audit.model import Verdict
from op25b_cfg.backups import write_backup
from op25b_cfg.errors import InventoryError, PushError
from op25b_cfg.paths import PathError, atomic_write, under
from tests.labutil import have_root, need

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "inventory"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "op25b_cfg", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def _inventory_with_host(tmp: Path, name: str) -> Path:
    inv = tmp / "inv"
    shutil.copytree(SAMPLE, inv)
    hosts = yaml.safe_load((inv / "hosts.yaml").read_text())
    hosts[name] = hosts.pop("bras-tyo-ios1")
    (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts))
    return inv


@pytest.mark.parametrize("bad", ["a/../../victim", "../victim", "r1/sub", ".hidden", "r1\\x", "-r1"])
def test_device_names_are_single_safe_path_components(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InventoryError) as info:
        api.load(_inventory_with_host(tmp_path, bad))
    [p] = [p for p in info.value.problems if p.file.endswith("hosts.yaml") and p.field == repr(bad)]
    assert "not a valid device name" in p.message and "letters, digits" in p.fix


def test_generate_and_dry_run_refuse_a_path_name(tmp_path: Path) -> None:
    inv = _inventory_with_host(tmp_path, "a/../../victim")
    res = _cli("generate", "-i", str(inv), "-o", str(tmp_path / "out" / "x"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "not a valid device name" in res.stderr
    assert not (tmp_path / "victim.cfg").exists() and not (tmp_path / "out").exists()


def test_backup_refuses_a_name_that_leaves_the_backup_dir(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir(mode=0o755)
    with pytest.raises(PushError, match="leaves"):
        write_backup(tmp_path / "backups", "../etc", "hostname r1\n")
    assert stat.S_IMODE((tmp_path / "etc").stat().st_mode) == 0o755  # not chmod-ed 0700
    assert list((tmp_path / "etc").iterdir()) == []


def test_backup_refuses_a_symlink_out_of_the_backup_dir(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o755)
    (tmp_path / "backups").mkdir()
    (tmp_path / "backups" / "r1").symlink_to(outside)
    with pytest.raises(PushError, match="outside"):
        write_backup(tmp_path / "backups", "r1", "hostname r1\n")
    assert list(outside.iterdir()) == [] and stat.S_IMODE(outside.stat().st_mode) == 0o755


def test_backup_is_whole_0600_and_never_overwritten(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = write_backup(tmp_path, "r1", "one\n", when)
    second = write_backup(tmp_path, "r1", "two\n", when)
    assert first.name == "20260102T030405Z.cfg" and second.name == "20260102T030405Z-1.cfg"
    assert first.read_text() == "one\n" and second.read_text() == "two\n"
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert {p.name for p in (tmp_path / "r1").iterdir()} == {first.name, second.name}  # no temp file left


def test_configs_lookup_does_not_follow_a_link_out_of_the_directory(tmp_path: Path) -> None:
    inv = api.load(SAMPLE)
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$x:1:0\nlast-line-of-a-private-file\n")
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "bras-tyo-ios1.cfg").symlink_to(secret)
    [report] = api.audit_saved([inv.devices["bras-tyo-ios1"]], configs)
    assert report.verdict == Verdict.ERROR and "outside" in report.error
    assert "last-line-of-a-private-file" not in report.error


def test_under_refuses_parent_absolute_and_empty_parts(tmp_path: Path) -> None:
    for part in ("..", "/etc/passwd", "", ".", "a/b"):
        with pytest.raises(PathError):
            under(tmp_path, part)
    assert under(tmp_path, "r1.cfg") == tmp_path / "r1.cfg"


def test_generate_does_not_write_through_a_symlinked_output_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (out / "bras-tyo-ios1.ios").symlink_to(victim)
    res = _cli("generate", "-i", str(SAMPLE), "-o", str(out), "-d", "bras-tyo-ios1", "--format", "json")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert victim.read_text() == "keep\n"


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "r1.cfg"
    target.write_text("old\n")
    with pytest.raises(TypeError):
        atomic_write(target, 12345)  # type: ignore[arg-type]
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["r1.cfg"]
    atomic_write(target, "new\n", 0o640)
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o640


# ------------------------------------------------------------------------------------------- item 12: generate -o


def test_generate_out_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    res = _cli("generate", "-i", str(SAMPLE), "-o", str(f))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "is a file, not a directory" in res.stderr and "Fix:" in res.stderr


def test_generate_out_under_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    res = _cli("generate", "-i", str(SAMPLE), "-o", str(f / "sub"))
    assert res.returncode == 2 and "Traceback" not in res.stderr and "Fix:" in res.stderr


def test_generate_out_unwritable(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    gen = f"{sys.executable} -m op25b_cfg generate -i {SAMPLE} -o {ro}/out"
    if have_root():  # root writes anywhere: make it a read-only file system in a private mount namespace
        need(shutil.which("unshare") is not None, "unshare (util-linux) is missing")
        cmd = ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o ro,size=16k tmpfs {ro} && {gen}"]
    else:
        ro.chmod(0o500)
        cmd = ["sh", "-c", gen]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and "cannot create the directory" in res.stderr and "Fix:" in res.stderr


def on_a_full_tmpfs(tmp_path: Path, before: str, op25b: str, after: str) -> subprocess.CompletedProcess[str]:
    """In a private mount namespace: a 16 KiB tmpfs on ``MNT``, ``before``, fill it, run ``op25b ...``, print
    ``rc=<exit code>``, then run ``after`` (``MNT`` replaced by the mount point everywhere)."""
    need(have_root() and shutil.which("unshare") is not None, "a private tmpfs needs root and unshare -m")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (
        f"mount -t tmpfs -o size=16k tmpfs MNT && {before} &&"
        " (dd if=/dev/zero of=MNT/fill bs=1k count=64 2>/dev/null; true) &&"
        f" {sys.executable} -m op25b_cfg {op25b}; echo rc=$?; {after}"
    ).replace("MNT", str(mnt))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=120)


def test_generate_on_a_full_disk_leaves_no_partial_file(tmp_path: Path) -> None:
    res = on_a_full_tmpfs(tmp_path, "mkdir MNT/out", f"generate -i {SAMPLE} -o MNT/out --format json", "ls -a MNT/out")
    assert "rc=1" in res.stdout, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    listing = res.stdout.rsplit("rc=1", 1)[1].split()
    assert listing == [".", ".."], f"partial files left: {listing}"
    assert "No space left on device" in res.stdout


def test_audit_report_on_a_full_disk_keeps_the_old_report(tmp_path: Path) -> None:
    op25b = f"audit -i {SAMPLE} --format html -o MNT/report.html"
    res = on_a_full_tmpfs(tmp_path, "echo old-report > MNT/report.html", op25b, "cat MNT/report.html; ls -a MNT")
    assert "rc=2" in res.stdout and "Traceback" not in res.stderr, res.stdout + res.stderr
    assert "No space left on device" in res.stderr
    after = res.stdout.split("rc=2", 1)[1].split()
    assert after[0] == "old-report" and sorted(after[1:]) == [".", "..", "fill", "report.html"]


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_change_log_is_0640_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    from op25b_cfg.changelog import ChangeLog

    old = os.umask(umask)
    try:
        log = ChangeLog(tmp_path / "logs" / "changes.jsonl")
        log.prepare()
        log.append({"device": "r1", "result": "unchanged"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o640
