"""``op25b push`` end to end against the namespace lab: the real CLI, nornir, the Linux session over real SSH,
real nftables in the bras, and real SMTP from the subscriber namespaces.

The inventory is the one :func:`op25b_cfg.lab.target.write_inventory` writes (the bundled policy; device
``lab-bras`` switched between block and flow-control by rewriting hosts.yaml, as an operator would).
Make-before-break is checked from the kernel's side: ``nft monitor`` in the bras shows every ruleset
generation, and the replacement of ``table inet op25b`` must be a single generation (one ``nft -f``) holding
both the delete and the new table, so no packet ever sees the bras without its table.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from op25b_cfg import api
from op25b_cfg.cli import app
from op25b_cfg.connection.linux import normalise_table
from op25b_cfg.lab.netns import EXTERNAL_V4, ISP_MTA_V4, Lab
from op25b_cfg.lab.target import write_inventory
from tests import lab_fixtures
from tests.labutil import need
from tests.test_lab_smtp import FOREIGN, MTAS, OTHER_FOREIGN, SESSIONS, expect

netns_lab = lab_fixtures.netns_lab  # the module's lab (fixture)
lab = lab_fixtures.lab  # per test: the lab with no op25b table (fixture)

pytestmark = pytest.mark.lab

FLOW_DATA: dict[str, Any] = SESSIONS["lab-bras-flow-sessions"]
FLOW = {"lab-bras": FLOW_DATA}
"""``lab-bras`` in flow-control mode with a session cap of 3 (and a rate limit out of the way)."""
MAX_SESSIONS = int(FLOW_DATA["flow_control"]["max_sessions"])
OP25B_EVENT = re.compile(r"\binet op25b(\s|$)")
"""A monitor event on ``table inet op25b`` or anything in it."""
HOST_FW_587 = """\
table inet op25b_test_hostfw {
	chain forward {
		type filter hook forward priority filter - 10; policy accept;
		tcp dport 587 counter drop comment "a host firewall rule someone added: blocks mail submission"
	}
}
"""


@pytest.fixture(autouse=True)
def _lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Device locks of this test in its own directory (removed with tmp_path)."""
    monkeypatch.setenv("OP25B_LOCK_DIR", str(tmp_path / "locks"))


@pytest.fixture
def env(lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Credentials in the environment (as an operator sets them), the working directory ``tmp_path``."""
    monkeypatch.setenv("OP25B_USERNAME", lab.username)
    monkeypatch.setenv("OP25B_PASSWORD", lab.password())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def push(lab: Lab, work: Path, *extra: str) -> Result:
    """``op25b push -d lab-bras`` with the lab's inventory and known_hosts (host keys verified)."""
    args = ["push", "-i", str(lab.inventory_dir), "-d", "lab-bras", "--known-hosts", str(lab.known_hosts)]
    args += ["--backup-dir", str(work / "backups"), "--changelog", str(work / "changes.jsonl"), *extra]
    result = CliRunner().invoke(app, args)
    assert lab.password() not in result.output
    return result


def last_record(work: Path) -> dict[str, Any]:
    lines = (work / "changes.jsonl").read_text(encoding="utf-8").splitlines()
    record: dict[str, Any] = json.loads(lines[-1])
    return record


def config_of(text: str) -> str:
    """A listing without counters and dynamic-set contents (traffic changes those, not a push)."""
    return normalise_table(text)


def revert_timers(lab: Lab) -> list[int]:
    """Pids of op25b revert timers running in the bras namespace."""
    pids = subprocess.run(["ip", "netns", "pids", lab.ns("bras")], capture_output=True, text=True).stdout.split()
    found = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"op25b-revert" in cmd:
            found.append(int(pid))
    return found


def no_revert_timer(lab: Lab, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while revert_timers(lab):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


class NftMonitor:
    """``nft monitor`` in the bras: every ruleset change, grouped into the generations (transactions) the
    kernel commits. Started and stopped by this test (by its own pid)."""

    MARK = "op25b_monitor_ready"

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.lines: list[str] = []
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> NftMonitor:
        self._proc = subprocess.Popen(
            ["ip", "netns", "exec", self.lab.ns("bras"), "nft", "monitor"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not any(self.MARK in ln for ln in self.lines):  # wait until the monitor sees changes
            assert time.monotonic() < deadline, "nft monitor did not start"
            self.lab.nft("-f", "-", input_=f"table inet {self.MARK}\ndelete table inet {self.MARK}\n")
            time.sleep(0.2)
        self.lines.clear()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            time.sleep(0.3)  # let the last events arrive
            os.killpg(self._proc.pid, signal.SIGTERM)
            self._proc.wait(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def generations(self) -> list[tuple[str, list[str]]]:
        """(``# new generation N by process PID (cmd)`` line, the events committed in it), in order."""
        out: list[tuple[str, list[str]]] = []
        events: list[str] = []
        for line in self.lines:
            if line.startswith("# new generation"):
                out.append((line, events))
                events = []
            elif line.strip():
                events.append(line)
        return out


def test_block_push_smtp_idempotent_then_flow_control_make_before_break(lab: Lab, env: Path) -> None:
    write_inventory(lab)  # lab-bras: block mode
    ruleset_before = lab.nft("list", "ruleset")

    dry = push(lab, env)
    assert dry.exit_code == 0 and "dry-run" in dry.output, dry.output
    assert lab.op25b_table() == "" and last_record(env)["result"] == "dry-run"

    done = push(lab, env, "--commit")
    assert done.exit_code == 0, done.output
    assert "+table inet op25b {" in done.output and "mode block" in done.output  # the diff is shown
    rec = last_record(env)
    assert (rec["result"], rec["verdict"], rec["state"]) == ("committed", "COMPLIANT", "new config (confirmed)")
    backup = Path(rec["backup"])
    assert backup.parent == env / "backups" / "lab-bras" and stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert config_of(backup.read_text(encoding="utf-8")) == config_of(ruleset_before)  # raw `nft list ruleset`
    assert "mode block" in lab.op25b_table() and no_revert_timer(lab)  # confirmed: the revert timer is gone

    # real SMTP from the subscriber: foreign MX refused (v4 and v6), ISP relays and submission open
    want = {(h, 25): "refused" for h in (*FOREIGN, *OTHER_FOREIGN)}
    want |= {(h, 587): "delivered" for h in FOREIGN}
    want |= {(h, 25): "delivered" for h in MTAS}
    expect(lab, want)
    expect(lab, {(h, 25): "delivered" for h in FOREIGN}, src="exempt")  # ACME-STATIC / cust-4711-v6

    table = config_of(lab.op25b_table())
    again = push(lab, env, "--commit")
    assert again.exit_code == 0 and last_record(env)["result"] == "unchanged", again.output
    assert config_of(lab.op25b_table()) == table

    # the operator switches the device to flow-control and pushes again
    write_inventory(lab, extra=FLOW)
    with NftMonitor(lab) as monitor:
        flow = push(lab, env, "--commit")
    assert flow.exit_code == 0, flow.output
    rec = last_record(env)
    assert (rec["result"], rec["verdict"]) == ("committed", "COMPLIANT"), rec
    assert "mode flow-control" in lab.op25b_table()
    touching = [(g, ev) for g, ev in monitor.generations() if any(OP25B_EVENT.search(e) for e in ev)]
    assert len(touching) == 1, monitor.lines  # one transaction replaced the table
    header, events = touching[0]
    assert re.match(r"# new generation \d+ by process \d+ \(nft\)", header), header
    deleted = events.index("delete table inet op25b")
    assert "add table inet op25b" in events[deleted + 1 :], events  # the new table in the same transaction
    assert no_revert_timer(lab)

    # the session cap with real SMTP: MAX_SESSIONS held open, the next ones fail, a closed one frees a slot
    verdicts = [r["result"] for r in lab.smtp("subscriber", "hold", EXTERNAL_V4, "25", "--count", "5",
                                              "--retry-after-release")]  # fmt: skip
    assert verdicts == ["connected"] * MAX_SESSIONS + ["refused"] * (5 - MAX_SESSIONS) + ["connected"], verdicts
    expect(lab, {(ISP_MTA_V4, 25): "delivered", (EXTERNAL_V4, 587): "delivered"})


@pytest.fixture
def host_firewall_blocks_submission(lab: Lab) -> Iterator[None]:
    """An extra table in the bras that drops tcp/587 in the forward path (removed afterwards, by name)."""
    lab.nft("-f", "-", input_=HOST_FW_587)
    try:
        yield
    finally:
        lab.nft("-f", "-", input_="table inet op25b_test_hostfw\ndelete table inet op25b_test_hostfw\n")


def test_push_whose_post_audit_fails_is_rolled_back(lab: Lab, env: Path, host_firewall_blocks_submission: None) -> None:
    """The bras runs the block table; a host firewall rule drops submission. Switching to flow-control commits,
    the post-audit of the new running ruleset finds SUBMISSION_BLOCKED (the whole ruleset is audited, not just
    op25b's table), so the push rolls back: the bras is on its old block table."""
    lab_fixtures.push(lab, "lab-bras")
    old = config_of(lab.op25b_table())
    assert "mode block" in old
    write_inventory(lab, extra=FLOW)
    res = push(lab, env, "--commit")
    rec = last_record(env)
    assert res.exit_code == 1, res.output
    assert (rec["result"], rec["verdict"]) == ("rolled-back", "NONCOMPLIANT"), rec
    assert "SUBMISSION_BLOCKED" in rec["error"] and rec["state"] == "old config (rolled back, verified)", rec
    assert config_of(lab.op25b_table()) == old and no_revert_timer(lab)
    assert "rolled-back" in res.output and "SUBMISSION_BLOCKED" in res.output
    # still the block table in the packet path: a foreign MX is refused, the ISP relay delivers
    expect(lab, {(EXTERNAL_V4, 25): "refused", (ISP_MTA_V4, 25): "delivered"})


def test_monitor_sees_separate_transactions(lab: Lab) -> None:
    """The make-before-break check above can fail: two ``nft -f`` runs (delete, then create) are two
    generations, and the generation holding the delete has no new table."""
    with NftMonitor(lab) as monitor:
        lab.nft("-f", "-", input_="table inet op25b {\n}\n")
        lab.nft("-f", "-", input_="delete table inet op25b\n")
        lab.nft("-f", "-", input_="table inet op25b {\n}\n")
    touching = [ev for _g, ev in monitor.generations() if any(OP25B_EVENT.search(e) for e in ev)]
    assert len(touching) == 3, monitor.lines
    assert "delete table inet op25b" in touching[1] and "add table inet op25b" not in touching[1]


# ---------------------------------------------------------------------------------------- the lab's guide


def guide_commands(output: str) -> list[str]:
    """The shell commands under "Try it:" in the output of ``op25b lab up``."""
    lines = output.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip() == "Try it:")
    return [ln.strip() for ln in lines[start + 1 :] if ln.strip()]


def attempts(stdout: str) -> dict[tuple[str, int], str]:
    """The results printed by ``python -m op25b_cfg.lab.smtp probe``."""
    found = [json.loads(ln) for ln in stdout.splitlines() if ln.startswith("{")]
    return {(a["host"], a["port"]): a["result"] for a in found}


def command_kind(words: list[str]) -> str:
    """What a guide line runs: ``op25b <command>``, ``smtp`` (a probe) or ``nft``."""
    if words[0] == "op25b":
        return f"op25b {words[1]}" + (f" {words[2]}" if words[1] == "effect" else "")
    if "op25b_cfg.lab.smtp" in words:
        return "smtp"
    return "nft" if "nft" in words else " ".join(words)


def test_the_guide_printed_by_lab_up_runs_as_printed(tmp_path: Path) -> None:
    """``op25b lab up`` (a separate lab, built as a user builds it), then every "Try it" line it prints, run by
    bash in that order: generate, dry-run push, commit, audit --live, SMTP before/after, effect collect and
    report, nft, lab down."""
    lab_fixtures.need_lab()
    op25b = shutil.which("op25b") or str(Path(sys.executable).parent / "op25b")
    need(Path(op25b).exists(), "the op25b command is not installed (pip install -e .)")
    path = f"{Path(op25b).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OP25B_")} | {"PATH": path}
    have_sudo = shutil.which("sudo") is not None
    workdir = tmp_path / "lab-state"
    work = tmp_path / "work"
    work.mkdir()

    def sh(line: str, exports: list[str]) -> subprocess.CompletedProcess[str]:
        if not have_sudo:  # we are root (need_lab): without sudo installed, "sudo X" is just X
            line = line.replace("sudo ", "")
        script = "\n".join([*exports, line])
        return subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=120)

    try:
        up = subprocess.run(
            [op25b, "lab", "up", "--workdir", str(workdir), "--prefix", f"op25b-g{os.getpid()}-"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert up.returncode == 0, up.stderr
        lab = Lab.load(workdir)
        secret = lab.password() if lab is not None else ""
        assert lab is not None and secret not in up.stdout
        commands = guide_commands(up.stdout)
        exports = [c for c in commands if c.startswith("export ")]
        assert [c.split("=")[0] for c in exports] == ["export OP25B_USERNAME", "export OP25B_PASSWORD"]
        ran = []
        for line in commands[len(exports) :]:
            res = sh(line, exports)
            out = res.stdout + res.stderr
            assert secret not in out
            kind = command_kind(shlex.split(line, comments=True))
            ran.append(kind)
            if kind == "smtp":  # before the push / after it
                want = "delivered" if "op25b push" not in ran else "refused"
                assert attempts(res.stdout) == {(EXTERNAL_V4, 25): want, (ISP_MTA_V4, 25): "delivered"}, out
            elif kind == "op25b generate":
                assert res.returncode == 0 and (work / "out" / "lab-bras.nft").is_file(), out
            elif kind == "op25b push":
                assert res.returncode == 0, out
                assert ("committed" if "--commit" in line else "dry-run") in res.stdout, out
            elif kind == "op25b audit":
                assert res.returncode == 0 and "--live" in line and "COMPLIANT" in res.stdout, out
            elif kind == "op25b effect collect":
                assert res.returncode == 0 and "lab-bras" in res.stdout, out
            elif kind == "op25b effect report":  # the one refused attempt, in the Tokyo pool
                assert re.search(r"DYN-TOKYO\s*[│|]\s*1\s*[│|]", res.stdout), out
                # the guide sends no IPv6: the IPv6 block never matched, which the report flags (exit 1)
                assert res.returncode == 1 and re.search(r"DYN-V6 .*deployment gap", res.stdout), out
            elif kind == "nft":
                assert res.returncode == 0 and "mode block" in res.stdout, out
            elif kind == "op25b lab":
                assert res.returncode == 0 and f"netns {lab.ns('bras')}" in res.stdout, out
                assert not Path(f"/run/netns/{lab.ns('bras')}").exists() and Lab.load(workdir) is None
            else:
                pytest.fail(f"the guide prints a command this test does not know: {line}")
        assert ran == [
            "smtp", "op25b generate", "op25b push", "op25b push", "op25b audit", "smtp", "op25b effect collect",
            "op25b effect report", "nft", "op25b lab",
        ], ran  # fmt: skip
    finally:
        left = Lab.load(workdir)
        if left is not None:
            left.down()


def test_drifted_table_is_repaired_then_unchanged(lab: Lab, env: Path) -> None:
    """Someone inserts ``tcp dport 25 accept`` at the top of op25b's subscriber chain: the bras leaks. A push
    replaces the whole table in one transaction (the nftables form of make-before-break), post-audits it, and
    a re-run is unchanged; real SMTP is refused again."""
    write_inventory(lab)
    lab_fixtures.push(lab, "lab-bras")
    good = config_of(lab.op25b_table())
    lab.nft("insert", "rule", "inet", "op25b", "subscriber", "tcp", "dport", "25", "accept")
    expect(lab, {(EXTERNAL_V4, 25): "delivered"})  # really leaking

    fixed = push(lab, env, "--commit")
    rec = last_record(env)
    assert fixed.exit_code == 0 and (rec["result"], rec["verdict"]) == ("committed", "COMPLIANT"), fixed.output
    assert config_of(lab.op25b_table()) == good and no_revert_timer(lab)
    again = push(lab, env, "--commit")
    assert again.exit_code == 0 and last_record(env)["result"] == "unchanged", again.output
    expect(lab, {(EXTERNAL_V4, 25): "refused", (ISP_MTA_V4, 25): "delivered"})


def test_a_command_that_trickles_is_bounded_by_the_timeout(lab: Lab) -> None:
    """Each read has the timeout, and so has the whole command: a host that keeps printing a byte a second
    (never silent long enough for a read to time out) still ends the step after --timeout."""
    from op25b_cfg.connection.base import ConnectOptions, Credentials
    from op25b_cfg.connection.linux import LinuxNftSession
    from op25b_cfg.errors import ConnectionError_

    write_inventory(lab)
    device = api.load(lab.inventory_dir).devices["lab-bras"]
    opts = ConnectOptions(timeout=2, known_hosts=str(lab.known_hosts))
    with LinuxNftSession(device, Credentials(lab.username, lab.password()), opts) as session:
        # op25b's own deadline ended it (the message is run_within's), not the 8 s loop
        with pytest.raises(ConnectionError_, match=r"no answer within 2s"):
            session._call("for i in 1 2 3 4 5 6 7 8; do echo x; sleep 1; done", "trickle")
        assert session.get_running()  # the session is still usable
