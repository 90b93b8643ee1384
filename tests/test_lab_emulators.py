"""``op25b lab emulators``: a newcomer's generate -> push -> audit against emulated routers, no root needed.

The end-to-end test starts the real command as a subprocess, waits for its "ready" line, runs every shell
command it prints (in order, through bash and the real ``op25b`` CLI: real napalm drivers over SSH/SCP,
the IOS-XR XML agent, NETCONF and eAPI to the emulators on 127.0.0.1), then stops it with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from op25b_cfg import api
from op25b_cfg.cli import app
from op25b_cfg.lab.emulated import READY, EmulatorLab, emulated_platforms, starting_config
from op25b_cfg.lab.emulators.sshserver import SshEmulator
from op25b_cfg.platforms import get_platform
from op25b_cfg.platforms.juniper_junos.emulator import JunosEmulator
from tests.labutil import REPO
from tests.platform_data import contract, sample_platforms

ROUTERS = {name: platform for name, platform in sample_platforms().items() if platform in emulated_platforms()}
"""The sample devices the emulator lab serves: those of a platform with an emulator (hosts.yaml order)."""
SSH_ROUTERS = [n for n, p in ROUTERS.items() if issubclass(get_platform(p).emulator() or object, SshEmulator)]
"""Those served over SSH (their host keys go into known_hosts; eos: eAPI)."""


# ------------------------------------------------------------------------------------------ starting configs


@pytest.mark.parametrize("name", sorted(ROUTERS))
def test_starting_config_is_the_sample_router_before_op25b(name: str) -> None:
    """The sample running config minus its OP25B part: parses cleanly, every filter is missing, and
    everything unrelated to OP25B is still there (a push must show only the OP25B lines)."""
    inv = api.load(REPO / "inventory")
    device = inv.devices[name]
    sample = (REPO / "inventory" / "running" / f"{name}.cfg").read_text()
    text, source = starting_config(device, REPO / "inventory")
    assert "without its OP25B part" in source
    assert "op25b" not in text.lower()
    kept = {ln.strip() for ln in text.splitlines()}
    unrelated = [
        ln.split(" ## ")[0].strip()  # Junos '## SECRET-DATA' trailers are comments
        for ln in sample.splitlines()
        if "op25b" not in ln.lower() and ln.strip() and not ln.strip().startswith(("!", "#", "/*", "}", "filter {"))
    ]
    # every unrelated statement of the sample survives (OP25B blocks' own children excepted)
    missing = [ln for ln in unrelated if ln not in kept]
    assert all(_inside_op25b_block(sample, ln) for ln in missing), missing[:5]
    report = api.audit_text(device, text, "start")
    assert report.verdict == "NONCOMPLIANT", [f.code for f in report.findings]
    # nothing protects the subscribers yet: no filter, or only an unrelated ACL (MGMT-VTY) that is not bound
    # (RouterOS: chain forward, which every forwarded packet traverses, lets port 25 through: SMTP_LEAK "not
    # covered", no deny anywhere)
    critical = {f.code for f in report.findings if f.severity == "critical"}
    assert critical & {"FILTER_MISSING", "SMTP_LEAK"} and critical <= {"FILTER_MISSING", "NOT_APPLIED", "SMTP_LEAK"}
    assert all(f.cause == "not covered" for f in report.findings if f.code == "SMTP_LEAK"), critical


def _inside_op25b_block(sample: str, line: str) -> bool:
    """True when every occurrence of ``line`` in ``sample`` sits below a header that names OP25B."""
    lines = sample.splitlines()
    for i, raw in enumerate(lines):
        if raw.split(" ## ")[0].strip() != line:
            continue
        indent = len(raw) - len(raw.lstrip())
        inside = False
        for prev in reversed(lines[:i]):
            p_indent = len(prev) - len(prev.lstrip())
            if prev.strip() and p_indent < indent:
                if "op25b" in prev.lower():
                    inside = True
                    break
                indent = p_indent
        if not inside:
            return False
    return True


def test_strip_keeps_the_junos_unit_and_drops_only_emptied_containers() -> None:
    text = """interfaces {
    ge-0/0/1 {
        unit 100 {
            family inet {
                filter {
                    input OP25B-V4-0badc0de;
                }
                address 100.64.0.1/16;
            }
            family mpls;
        }
    }
}
firewall {
    family inet {
        /* op25b example */
        filter OP25B-V4-0badc0de {
            term block {
                then discard;
            }
        }
    }
}
"""
    out = JunosEmulator.strip_op25b(text)
    assert "OP25B" not in out and "firewall" not in out and "filter" not in out
    assert "address 100.64.0.1/16;" in out and "family mpls;" in out


@pytest.mark.parametrize("name", sorted(ROUTERS))
def test_without_a_saved_config_the_emulator_default_is_used(name: str, tmp_path: Path) -> None:
    """No ``running/<device>.cfg``: the emulator's default config plus what the driver needs; for ios a
    PPPoE bba-group uses the attached Virtual-Template (else the filter would protect nobody)."""
    device = api.load(REPO / "inventory").devices[name]
    text, source = starting_config(device, tmp_path)
    assert source.endswith("default config") and f"{name}" in text
    needs = contract(device.platform)["lab"]["default_needs"]  # tests/platforms/<platform>/contract.yaml
    assert needs, device.platform
    assert all(any(ln.rstrip() == n.rstrip() or ln.strip() == n.strip() for ln in text.splitlines()) for n in needs)
    assert api.audit_text(device, text, "start").verdict == "NONCOMPLIANT"


def test_no_router_in_the_inventory_is_a_clear_error(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    inv.mkdir()
    (inv / "policy.yaml").write_text((REPO / "inventory" / "policy.yaml").read_text())
    hosts = yaml.safe_load((REPO / "inventory" / "hosts.yaml").read_text())
    (inv / "hosts.yaml").write_text(yaml.safe_dump({"bras-tyo-lnx1": hosts["bras-tyo-lnx1"]}))
    (inv / "groups.yaml").write_text((REPO / "inventory" / "groups.yaml").read_text())
    res = CliRunner().invoke(app, ["lab", "emulators", "-i", str(inv), "--workdir", str(tmp_path / "w")])
    assert res.exit_code == 2, res.output
    assert "no device with a router platform" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "w" / "password").exists()


def test_the_guide_names_what_each_session_really_uses(tmp_path: Path) -> None:
    """Each row of the guide names the library and driver the device's session talks through: napalm's
    driver for the napalm platforms, the netmiko device type for VRP and RouterOS (never "None")."""
    from op25b_cfg.connection.napalm_session import NapalmSession
    from op25b_cfg.platforms import get_platform

    lab = EmulatorLab(tmp_path / "w", REPO / "inventory")
    try:
        lab.start()
        rows = {ln.split()[0]: ln.split() for ln in lab.guide().splitlines() if ln.startswith("  ")}
    finally:
        lab.stop()
    assert {n: rows[n][1] for n in ROUTERS} == ROUTERS
    for name, platform in ROUTERS.items():
        spec = get_platform(platform)
        session = spec.session_class()
        used = ("napalm", spec.napalm_driver) if session is NapalmSession else ("netmiko", spec.netmiko_device_type)
        assert tuple(rows[name][2:4]) == used, rows[name]
    assert "None" not in lab.guide()


# ------------------------------------------------------------------------------------------ end to end


class LabProcess:
    """``op25b lab emulators`` as a subprocess whose stdout is read line by line in a thread."""

    def __init__(self, workdir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OP25B_")}
        env["COLUMNS"] = "200"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "op25b_cfg", "lab", "emulators", "--workdir", str(workdir), "--duration", "600"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def wait_for(self, prefix: str, seconds: float = 45.0) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self._q.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting with {prefix!r}; output so far:\n" + "\n".join(self.lines))

    def rest(self) -> list[str]:
        while (line := self._q.get(timeout=10)) is not None:
            self.lines.append(line)
        return self.lines


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabProcess]:
    proc = LabProcess(tmp_path / "emu")
    try:
        yield proc
    finally:
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait(10)


def shim(tmp_path: Path) -> Path:
    """A bin directory whose ``op25b`` runs this interpreter's op25b (the printed commands call ``op25b``)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "op25b"
    exe.write_text(f'#!/bin/sh\nexec {sys.executable} -m op25b_cfg "$@"\n')
    exe.chmod(0o755)
    return bindir


def device_sections(output: str) -> dict[str, str]:
    """The per-device diff sections of ``op25b push`` (each starts with a rule titled ``device (platform)``)."""
    titles = list(re.finditer(r"^─+ (\S+) \((\w+)\) ─+$", output, re.M))
    # piped (no terminal, no COLUMNS): each title is a short line, not as wide as the piped console (10,000)
    assert titles and all(len(m[0]) <= 80 for m in titles), [len(m[0]) for m in titles]
    return {
        m[1]: output[m.end() : (titles[i + 1].start() if i + 1 < len(titles) else len(output))]
        for i, m in enumerate(titles)
    }


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_printed_commands_work_end_to_end(lab: LabProcess, tmp_path: Path) -> None:
    lab.wait_for(f"{READY}:")
    guide = lab.lines
    commands = [ln.strip() for ln in guide[guide.index("Try it in another terminal:") + 1 :] if ln.startswith("  ")]
    setup = [c for c in commands if not c.startswith("op25b ")]
    steps = [c for c in commands if c.startswith("op25b ")]
    assert [c.split()[0] for c in setup] == ["cd", "export", "export"]
    assert [" ".join(c.split("#")[0].split()[:3]) for c in steps] == [
        "op25b audit --live",
        "op25b push -i",
        "op25b push -i",
        "op25b push -i",
        "op25b audit --live",
    ]
    assert "--commit" in steps[2] and "--commit" not in steps[1] + steps[3]
    assert all("--known-hosts known_hosts" in c for c in steps)

    workdir = Path(setup[0].split(maxsplit=1)[1])
    password = (workdir / "password").read_text().strip()
    assert stat.S_IMODE((workdir / "password").stat().st_mode) == 0o600 and len(password) >= 16
    hosts = yaml.safe_load((workdir / "inventory" / "hosts.yaml").read_text())
    assert {n: h["platform"] for n, h in hosts.items()} == ROUTERS
    username = setup[1].split("=", 1)[1]
    assert all(h["hostname"] == "127.0.0.1" and h["username"] == username for h in hosts.values())
    assert all(password not in p.read_text() for p in (workdir / "inventory").iterdir())
    ports = {n: h["connection_options"]["napalm"]["port"] for n, h in hosts.items()}
    assert len((workdir / "known_hosts").read_text().splitlines()) == len(SSH_ROUTERS) > 0

    env = {k: v for k, v in os.environ.items() if not k.startswith("OP25B_")}
    env.update(PATH=f"{shim(tmp_path)}{os.pathsep}{env.get('PATH', '')}", COLUMNS="200")
    outputs: list[str] = []
    for step in steps:
        script = "\n".join([*setup, step])
        res = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
        outputs.append(res.stdout + res.stderr)
        expected_rc = 1 if len(outputs) == 1 else 0  # only the audit before the push finds problems
        assert res.returncode == expected_rc, f"{step}\n{outputs[-1]}"
    before, dry, commit, again, after = outputs

    # before: every router lacks its filters (the starting configs are the samples minus OP25B)
    n = len(ROUTERS)
    assert f"{n} device(s): 0 compliant, {n} noncompliant, 0 unknown, 0 error" in before
    # (RouterOS: chain forward, which every forwarded packet traverses, accepts port 25: a leak, not a missing filter)
    assert all(re.search(rf"{n}\s.*(FILTER_MISSING|SMTP_LEAK)", before) for n in ROUTERS), before
    # dry run: a diff adding this version's filters on every router, nothing changed
    assert f"{n} device(s), dry-run: {n} dry-run; 0 changed" in dry
    sections = device_sections(dry)
    assert sorted(sections) == sorted(ROUTERS)
    for name, diff in sections.items():
        added = [ln for ln in diff.splitlines() if ln.startswith("+")]
        assert any("OP25B-V4-" in ln for ln in added) and any("OP25B-V6-" in ln for ln in added), (name, diff)
    # commit: post-audit COMPLIANT and confirmed on every device
    assert f"{n} device(s), commit: {n} committed; {n} changed" in commit
    assert all(re.search(rf"{n}\s.*committed.*COMPLIANT", commit) for n in ROUTERS), commit
    # idempotent
    assert f"{n} device(s), dry-run: {n} unchanged; 0 changed" in again
    # after: what the devices now run is compliant
    assert f"{n} device(s): {n} compliant, 0 noncompliant, 0 unknown, 0 error; 0 finding(s)" in after

    log = [json.loads(x) for x in (workdir / "logs" / "changes.jsonl").read_text().splitlines()]
    assert sorted(e["device"] for e in log if e["result"] == "committed") == sorted(ROUTERS)
    assert sorted(p.name for p in (workdir / "backups").iterdir()) == sorted(ROUTERS)

    assert all(port_open(p) for p in ports.values())
    lab.proc.send_signal(signal.SIGINT)
    assert lab.proc.wait(30) == 0
    text = "\n".join(lab.rest())
    assert f"stopped {n} emulator(s)" in text and str(workdir) in text
    assert not any(port_open(p) for p in ports.values())
    assert (workdir / "inventory" / "hosts.yaml").is_file()  # the work directory stays
    for out in [text, *outputs]:
        assert password not in out


def test_every_napalm_platform_has_an_emulator_the_lab_can_start() -> None:
    """Each router platform brings an emulator whose lab hooks give a starting config that already has what the
    driver needs (adding the prerequisites again changes nothing) and no OP25B part."""
    from op25b_cfg.platforms import PLATFORMS, get_platform

    routers = [p for p in PLATFORMS if get_platform(p).napalm_driver]
    assert set(routers) <= set(emulated_platforms())
    inv = api.load(REPO / "inventory")
    for platform in emulated_platforms():
        emulator = get_platform(platform).emulator()
        assert emulator is not None
        dev = next((d for d in inv.devices.values() if d.platform == platform), None)
        if dev is None:
            continue
        start = emulator.with_prerequisites(emulator.default_config(dev))
        assert emulator.with_prerequisites(start) == start, platform
        assert "OP25B" not in emulator.strip_op25b(start).upper(), platform
