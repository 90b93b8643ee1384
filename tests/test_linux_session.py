"""LinuxNftSession against real sshd + real nftables in the namespace lab (and its pure helpers)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from op25b_cfg.cli import app
from op25b_cfg.connection.linux import (
    LinuxNftSession,
    normalise_table,
    split_tables,
    strip_dynamic_elements,
    table_diff,
)
from op25b_cfg.errors import ConnectionError_, PushError
from op25b_cfg.lab.netns import OPERATOR, Lab, LabError
from op25b_cfg.lab.target import push_target
from tests import lab_fixtures
from tests.lab_fixtures import need_lab, rendered, session, target
from tests.labutil import need

netns_lab = lab_fixtures.netns_lab  # the module's lab (fixture)
lab = lab_fixtures.lab  # per test: the lab with no op25b table (fixture)

pytestmark = pytest.mark.lab

BLOCK, TARGETED = "lab-bras", "lab-bras-targeted"


# ---------------------------------------------------------------- pure helpers


def test_normalise_drops_counters_and_dynamic_set_contents_only() -> None:
    listing = (
        "table inet op25b {\n"
        "\tset OP25B-POOL-V4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 100.64.0.0/16 }\n\t}\n\n"
        "\tset op25b_rate_v4 {\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic,timeout\n\t\ttimeout 1m\n"
        "\t\telements = { 100.64.1.10 limit rate over 1/second expires 59s,\n"
        "\t\t\t     100.64.1.11 limit rate over 1/second expires 58s }\n\t}\n\n"
        "\tchain subscriber {\n\t\ttcp dport 25 counter packets 12 bytes 720 reject with tcp reset\n\t}\n}\n"
    )
    out = normalise_table(listing)
    assert "elements = { 100.64.0.0/16 }" in out  # configuration stays
    assert "100.64.1.1" not in out and "expires" not in out  # meter state goes, even multi-line
    assert "tcp dport 25 counter reject with tcp reset" in out
    assert "timeout 1m\n\t}" in out
    assert strip_dynamic_elements(out) == out
    assert table_diff(listing, out) == ""
    changed = out.replace("100.64.0.0/16", "100.65.0.0/16")
    diff = table_diff(listing, changed)
    assert "-\t\telements = { 100.64.0.0/16 }" in diff and "+\t\telements = { 100.65.0.0/16 }" in diff


def test_split_tables() -> None:
    text = 'table inet filter {\n\tchain input {\n\t}\n}\ntable inet op25b {\n\tcomment "x"\n}\n'
    blocks = split_tables(text)
    assert list(blocks) == ["table inet filter", "table inet op25b"]
    assert blocks["table inet op25b"] == 'table inet op25b {\n\tcomment "x"\n}\n'


# ---------------------------------------------------------------- connecting


def test_open_verifies_host_key_and_reads_the_ruleset(lab: Lab) -> None:
    with session(lab) as s:
        running = s.get_running()
    assert "table inet filter" in running and "management ssh" in running
    assert "table inet op25b" not in running


def test_unknown_host_key_is_rejected(lab: Lab, tmp_path: os.PathLike[str]) -> None:
    empty = os.path.join(tmp_path, "known_hosts")
    open(empty, "w").close()
    dev, creds, opts = target(lab)
    with pytest.raises(ConnectionError_, match="not in known_hosts"):
        LinuxNftSession(dev, creds, dataclasses.replace(opts, known_hosts=empty)).open()


def test_changed_host_key_is_rejected(lab: Lab, tmp_path: os.PathLike[str]) -> None:
    key = os.path.join(tmp_path, "other")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    with open(key + ".pub") as f:
        kind, blob = f.read().split()[:2]
    wrong = os.path.join(tmp_path, "known_hosts")
    with open(wrong, "w") as f:
        f.write(f"{lab.mgmt_bras_ip} {kind} {blob}\n")
    dev, creds, opts = target(lab)
    with pytest.raises(ConnectionError_, match="does NOT match"):
        LinuxNftSession(dev, creds, dataclasses.replace(opts, known_hosts=wrong)).open()


def test_missing_known_hosts_file_is_an_error_and_opt_out_connects(lab: Lab, tmp_path: os.PathLike[str]) -> None:
    missing = os.path.join(tmp_path, "nope")
    dev, creds, opts = target(lab)
    with pytest.raises(ConnectionError_, match="does not exist"):
        LinuxNftSession(dev, creds, dataclasses.replace(opts, known_hosts=missing)).open()
    with LinuxNftSession(dev, creds, dataclasses.replace(opts, known_hosts=missing, verify_host_key=False)) as s:
        assert "table inet filter" in s.get_running()


def test_wrong_password_is_a_connection_error_without_the_secret(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    dev, creds, opts = target(lab)
    bad = dataclasses.replace(creds, password="Wr0ng-" + creds.password[:6])
    with pytest.raises(ConnectionError_, match="login as 'root' failed") as info:
        LinuxNftSession(dev, bad, opts).open()
    for secret in (bad.password, creds.password):
        assert secret not in str(info.value)
        assert secret not in caplog.text
    assert bad.password not in repr(bad)


def test_closed_port_is_a_connection_error(lab: Lab) -> None:
    dev, creds, opts = target(lab)
    with pytest.raises(ConnectionError_, match="refused"):
        LinuxNftSession(dev, creds, dataclasses.replace(opts, port=2222)).open()


def test_non_root_login_runs_nft_through_sudo(lab: Lab) -> None:
    need(shutil.which("sudo") is not None, "sudo not installed (Debian package sudo)")
    dev, creds, opts = target(lab)
    operator = dataclasses.replace(creds, username=OPERATOR)
    with LinuxNftSession(dev, operator, opts) as s:
        s.load_candidate(rendered(lab))
        assert "mode block" in s.diff()
        s.commit(30)
        s.confirm()
        assert "mode block" in lab.op25b_table()
        s.rollback()
    assert lab.op25b_table() == ""
    assert os.listdir(lab.workdir / "remote-tmp") == []


# ---------------------------------------------------------------- load / diff / commit


def test_rejected_candidate_names_the_line_and_applies_nothing(lab: Lab) -> None:
    bad = "table inet op25b\ndelete table inet op25b\ntable inet op25b {\n\tchain c {\n\t\tfrobnicate 25\n\t}\n}\n"
    with session(lab) as s, pytest.raises(PushError, match=r"candidate line 5: .*frobnicate"):
        s.load_candidate(bad)
    assert lab.op25b_table() == ""


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("flush ruleset\ntable inet op25b {\n}\n", "changes table inet filter"),
        ("table inet op25b {\n}\ntable ip evil {\n}\n", "changes table ip evil"),
        ("table inet op25b {\n}\nadd rule inet filter input tcp dport 22 drop\n", "does not load in a copy"),
        ("table inet op25b {\n}\nflush table inet filter\n", "changes table inet filter"),
    ],
)
def test_candidate_touching_another_table_is_refused(lab: Lab, text: str, error: str) -> None:
    before = normalise_table(lab.nft("list", "ruleset"))
    with session(lab) as s, pytest.raises(PushError, match=f"{error}.*[Nn]othing was applied"):
        s.load_candidate(text)
    assert normalise_table(lab.nft("list", "ruleset")) == before


def test_commit_replaces_only_the_op25b_table_and_is_idempotent(lab: Lab) -> None:
    firewall_before = normalise_table(lab.nft("list", "table", "inet", "filter"))
    text = rendered(lab, BLOCK)
    with session(lab) as s:
        s.load_candidate(text)
        diff = s.diff()
        assert diff.startswith("--- running: table inet op25b\n+++ candidate: table inet op25b\n")
        assert '+\tcomment "op25b example-isp-op25b' in diff and "mode block" in diff
        assert lab.op25b_table() == ""  # loading applies nothing
        s.commit(None)
        table = lab.op25b_table()
        assert "mode block" in table and "reject with tcp reset" in table
        s.load_candidate(text)
        assert s.diff() == ""  # re-push of the same intent: no diff
    assert normalise_table(lab.nft("list", "table", "inet", "filter")) == firewall_before


def test_diff_against_a_different_mode_and_discard(lab: Lab) -> None:
    with session(lab) as s:
        s.load_candidate(rendered(lab, BLOCK))
        s.commit(None)
    with session(lab, TARGETED) as s:
        s.load_candidate(rendered(lab, TARGETED))
        diff = s.diff()
        assert '-\tcomment "op25b example-isp-op25b' in diff and "mode block" in diff
        assert '+\tcomment "op25b example-isp-op25b' in diff and "mode targeted" in diff
        assert any(line.startswith("+") and "OP25B-TARGET" in line for line in diff.splitlines())
        s.discard()
        with pytest.raises(PushError, match="no candidate loaded"):
            s.commit(30)
    assert "mode block" in lab.op25b_table()


def test_revert_timer_restores_the_old_table_when_not_confirmed(lab: Lab) -> None:
    with session(lab) as s:
        s.load_candidate(rendered(lab, BLOCK))
        s.commit(None)
    old = normalise_table(lab.op25b_table())
    with session(lab, TARGETED) as s:
        assert isinstance(s, LinuxNftSession)
        s.load_candidate(rendered(lab, TARGETED))
        s.commit(2)
        assert "mode targeted" in lab.op25b_table()
        assert s.wait_for_revert(15)
        assert normalise_table(lab.op25b_table()) == old
        with pytest.raises(PushError, match="fired before confirm"):
            s.confirm()


def test_revert_timer_fires_after_the_session_drops(lab: Lab) -> None:
    s = session(lab)
    s.open()
    s.load_candidate(rendered(lab, BLOCK))
    s.commit(1)
    assert "mode block" in lab.op25b_table()
    s.close()  # no confirm: the connection is gone, the host must revert by itself
    deadline = time.monotonic() + 15
    while lab.op25b_table() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lab.op25b_table() == ""  # there was no op25b table before
    time.sleep(0.5)
    assert os.listdir(lab.workdir / "remote-tmp") == []  # the timer cleaned up its files


def test_confirm_cancels_the_timer(lab: Lab) -> None:
    with session(lab) as s:
        assert isinstance(s, LinuxNftSession)
        s.load_candidate(rendered(lab, BLOCK))
        s.commit(1)
        s.confirm()
        assert not s.timer_pending
        assert not s.wait_for_revert(2.5)  # well past the timer: nothing fired
    assert "mode block" in lab.op25b_table()
    assert os.listdir(lab.workdir / "remote-tmp") == []


def test_rollback_restores_the_previous_table_or_none(lab: Lab) -> None:
    with session(lab) as s:
        with pytest.raises(PushError, match="nothing to roll back"):
            s.rollback()
        s.load_candidate(rendered(lab, BLOCK))
        s.commit(30)
        assert "mode block" in lab.op25b_table()
        s.rollback()  # also stops the pending timer
        assert lab.op25b_table() == ""
        s.load_candidate(rendered(lab, BLOCK))
        s.commit(None)
        old = normalise_table(lab.op25b_table())
        s.load_candidate(rendered(lab, TARGETED))
        s.commit(None)
        assert "mode targeted" in lab.op25b_table()
        s.rollback()
        assert normalise_table(lab.op25b_table()) == old


# ---------------------------------------------------------------- the lab itself


def _gone(lab: Lab) -> list[str]:
    """Whatever of ``lab`` still exists (should be nothing after down)."""
    left = [ns for ns in lab.namespaces if os.path.exists(f"/run/netns/{ns}")]
    left += [link for link in lab.links if os.path.exists(f"/sys/class/net/{link}")]
    left += [f"pid {pid}" for pid in lab.pids.values() if os.path.exists(f"/proc/{pid}") and _ours(pid)]
    left += [str(lab.workdir)] if lab.workdir.exists() else []
    return left


def _ours(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"op25b" in f.read()
    except OSError:
        return False


class _BrokenLab(Lab):
    def _start_smtp(self, role: str, hostname: str) -> None:
        raise LabError("injected: SMTP listener failed to start")


def test_a_failed_build_removes_everything_it_made() -> None:
    need_lab()
    base = Lab.for_tests()
    broken = _BrokenLab(prefix=base.prefix, workdir=base.workdir, mgmt_if=base.mgmt_if)
    with pytest.raises(LabError, match="injected"):
        broken.up()
    assert broken.namespaces and broken.pids.get("sshd")  # it got as far as sshd
    time.sleep(0.2)
    assert _gone(broken) == []


def test_cli_lab_up_status_down(tmp_path: os.PathLike[str]) -> None:
    need_lab()
    workdir = os.path.join(tmp_path, "state")
    prefix = f"op25b-c{os.getpid()}-"
    runner = CliRunner()
    try:
        up = runner.invoke(app, ["lab", "up", "--workdir", workdir, "--prefix", prefix])
        assert up.exit_code == 0, up.output
        lab = Lab.load(Path(workdir))
        assert lab is not None
        assert f"ssh root@{lab.mgmt_bras_ip}" in up.output and str(lab.known_hosts) in up.output
        assert lab.password() not in up.output  # the secret is only in the 0600 file
        assert os.stat(lab.password_file).st_mode & 0o077 == 0
        again = runner.invoke(app, ["lab", "up", "--workdir", workdir, "--prefix", prefix])
        assert again.exit_code == 2 and "already recorded" in again.output
        status = runner.invoke(app, ["lab", "status", "--workdir", workdir, "--format", "json"])
        assert status.exit_code == 0 and json.loads(status.output)["up"] is True
        with LinuxNftSession(*push_target(lab, "lab-bras-flow")) as s:  # the inventory it wrote works
            assert "table inet filter" in s.get_running()
        down = runner.invoke(app, ["lab", "down", "--workdir", workdir])
        assert down.exit_code == 0 and f"netns {prefix}bras" in down.output
        assert _gone(lab) == []
        status = runner.invoke(app, ["lab", "status", "--workdir", workdir])
        assert status.exit_code == 1 and "no lab recorded" in status.output
    finally:
        leftover = Lab.load(Path(workdir))
        if leftover is not None:
            leftover.down()
