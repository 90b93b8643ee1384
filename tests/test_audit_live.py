"""``op25b audit --live``: running configs fetched through the shared connection layer, audited by the same code
as saved configs.

* Protocol emulators (ios over SSH, eos over eAPI, junos over NETCONF, iosxr over SSH/XML) driven by the real
  napalm drivers: seeded with a compliant and a non-compliant config each, the live audit gives the verdicts
  and findings that auditing the seeded text from a saved file gives, and ``--save`` keeps exactly what was
  fetched (auditing the saved files reproduces the live report line for line).
* A wrong password makes that device ERROR; the others are still audited.
* The namespace lab (real sshd + nftables): after a push the live audit is COMPLIANT; after an out-of-band
  ``nft delete rule`` of the deny on the bras it reports SMTP_LEAK, and real SMTP confirms the leak.

Every emulator listens on 127.0.0.1 with a port chosen at start and is stopped at the end of its test.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from op25b_cfg import api
from op25b_cfg.api import Connection
from op25b_cfg.cli import app
from op25b_cfg.connection.base import ConnectOptions, Credentials
from op25b_cfg.dialects import junos_tree as junostree
from op25b_cfg.lab.netns import EXTERNAL_V4, ISP_MTA_V4, Lab
from op25b_cfg.platforms import get_platform
from op25b_cfg.platforms.arista_eos.emulator import EosEmulator
from op25b_cfg.platforms.cisco_ios.emulator import IosEmulator
from op25b_cfg.platforms.cisco_iosxr.emulator import IosxrEmulator
from op25b_cfg.platforms.juniper_junos.emulator import JunosEmulator
from tests import lab_fixtures
from tests.labutil import REPO

netns_lab = lab_fixtures.netns_lab  # the module's namespace lab (fixture)
lab = lab_fixtures.lab  # per test: that lab with no op25b table (fixture)

BUNDLED = REPO / "inventory"
IOS, EOS, MX, XR = "bras-tyo-ios1", "edge-osa-eos1", "bng-tyo-mx1", "bras-osa-xr1"
SSH_DEVICES = (IOS, MX, XR)  # one run: the SSH/NETCONF drivers share the driver arguments
EMULATOR = {IOS: IosEmulator, EOS: EosEmulator, MX: JunosEmulator, XR: IosxrEmulator}
USERNAME = "netops"
PASSWORD = "Audit-Live-pw-9f3k"  # the emulators' password for these tests (never in any output)
STAMP = re.compile(r"^\d{8}T\d{6}Z(-\d+)?\.cfg$")


def bundled(device: str) -> str:
    """The sample saved running config of ``device`` (inventory/running)."""
    return (BUNDLED / "running" / f"{device}.cfg").read_text(encoding="utf-8")


def without(text: str, needle: str) -> str:
    """``text`` without the lines containing ``needle`` (which must occur)."""
    assert needle in text
    return "".join(ln for ln in text.splitlines(keepends=True) if needle not in ln)


def junos_compliant() -> str:
    """The sample Junos config (IPv6 filters missing) with the rendered intent merged in, as Junos would."""
    device = api.load(BUNDLED).devices[MX]
    intent = api.render(device)
    tree = junostree.parse(bundled(MX))
    junostree.merge(tree, junostree.parse(intent))
    return junostree.render(tree)


CASES: dict[str, dict[str, Callable[[], str]]] = {
    "compliant": {
        IOS: lambda: without(bundled(IOS), "permit tcp any any range ftp-data 30"),  # the shadowing permit gone
        EOS: lambda: bundled(EOS),
        MX: junos_compliant,
        XR: lambda: bundled(XR),
    },
    "noncompliant": {
        IOS: lambda: bundled(IOS),  # a permit shadows the deny
        EOS: lambda: without(bundled(EOS), "ip access-group"),  # filters defined, not applied
        MX: lambda: bundled(MX),  # no IPv6 filter
        XR: lambda: bundled(XR).replace(
            "ipv4 access-group OP25B-V4-79b17a7e ingress", "ipv4 access-group OP25B-V4-79b17a7e egress", 1
        ),
    },
}
EXPECTED: dict[str, dict[str, tuple[str, set[str]]]] = {
    "compliant": {d: ("COMPLIANT", set()) for d in EMULATOR},
    "noncompliant": {
        IOS: ("NONCOMPLIANT", {"SMTP_LEAK"}),
        EOS: ("NONCOMPLIANT", {"NOT_APPLIED"}),
        MX: ("NONCOMPLIANT", {"FILTER_MISSING"}),
        XR: ("NONCOMPLIANT", {"WRONG_DIRECTION"}),
    },
}


@dataclass
class Fleet:
    """Running emulators, an inventory pointing at them and the seeded texts as saved configs."""

    root: Path
    emus: dict[str, Any] = field(default_factory=dict)

    @property
    def inventory(self) -> Path:
        return self.root / "inventory"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def seeded(self) -> Path:
        return self.root / "seeded"

    def start(self, configs: dict[str, str]) -> None:
        self.inventory.mkdir()
        self.seeded.mkdir()
        for name in ("policy.yaml", "groups.yaml", "defaults.yaml"):
            shutil.copy(BUNDLED / name, self.inventory / name)
        hosts = yaml.safe_load((BUNDLED / "hosts.yaml").read_text(encoding="utf-8"))
        keep = {}
        for device, text in configs.items():
            cls = EMULATOR.get(device) or get_platform(hosts[device]["platform"]).emulator()
            assert cls is not None, device
            emu = cls(initial_config=text, hostname=device, username=USERNAME, password=PASSWORD)
            emu.start()
            self.emus[device] = emu
            keep[device] = {**hosts[device], "hostname": "127.0.0.1", "port": emu.port}
            (self.seeded / f"{device}.cfg").write_text(text, encoding="utf-8")
        (self.inventory / "hosts.yaml").write_text(yaml.safe_dump(keep, sort_keys=False), encoding="utf-8")
        lines = [e.known_hosts_line() + "\n" for e in self.emus.values() if hasattr(e, "known_hosts_line")]
        self.known_hosts.write_text("".join(lines), encoding="utf-8")

    def stop(self) -> None:
        for emu in self.emus.values():
            emu.faults.release()
            emu.stop()


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Fleet]]:
    """``fleet(case)`` starts one emulator per device seeded with that case's configs; all stop at the end."""
    monkeypatch.setenv("OP25B_USERNAME", USERNAME)
    monkeypatch.setenv("OP25B_PASSWORD", PASSWORD)
    monkeypatch.chdir(tmp_path)
    started: list[Fleet] = []

    def start(case: str) -> Fleet:
        f = Fleet(tmp_path / case)
        f.root.mkdir()
        started.append(f)
        f.start({d: make() for d, make in CASES[case].items()})
        return f

    try:
        yield start
    finally:
        for f in started:
            f.stop()


def run(*args: str) -> tuple[int, dict[str, Any], str]:
    """``op25b audit ... --format json``: exit code, the JSON report, and everything printed."""
    result = CliRunner().invoke(app, ["audit", *args, "--format", "json"])
    try:
        doc = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"exit {result.exit_code}, no JSON report:\n{result.output}")
    return result.exit_code, doc, result.output


def live(f: Fleet, *extra: str) -> tuple[int, dict[str, Any], str]:
    """``audit --live`` of the SSH devices (3 workers) and of the eAPI device; the per-device reports merged."""
    ssh = [a for d in SSH_DEVICES for a in ("-d", d)]
    code, doc, out = run(
        "--live", "-i", str(f.inventory), *ssh, "--known-hosts", str(f.known_hosts), "--workers", "3",
        "--timeout", "15", "--driver-arg", "read_timeout_override=4", *extra,  # pyIOSXR waits a read timeout
    )  # fmt: skip
    code2, doc2, out2 = run(
        "--live", "-i", str(f.inventory), "-d", EOS, "--driver-arg", "transport=http", "--allow-cleartext", *extra
    )
    doc["devices"] += doc2["devices"]
    return max(code, code2), doc, out + out2


def by_device(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["device"]: d for d in doc["devices"]}


def semantic(dev: dict[str, Any]) -> Counter[tuple[Any, ...]]:
    """What a finding says, independent of line numbers (the device may reformat the config it returns)."""
    return Counter(
        (
            f["code"],
            f["severity"],
            f["family"],
            f["pool"],
            f["cause"],
            (f["counterexample"] or {}).get("text"),
        )
        for f in dev["findings"]
    )


@pytest.mark.parametrize("case", ["compliant", "noncompliant"])
def test_live_audit_matches_the_saved_file_audit(case: str, fleet: Callable[[str], Fleet], tmp_path: Path) -> None:
    f = fleet(case)
    save = tmp_path / f"saved-{case}"
    code, doc, out = live(f, "--save", str(save))
    assert doc["configs"] == "live" and PASSWORD not in out
    saved_code, saved_doc, _ = run("-i", str(f.inventory), "--configs", str(f.seeded))
    got, want = by_device(doc), by_device(saved_doc)
    assert set(got) == set(EMULATOR)
    for device, (verdict, codes) in EXPECTED[case].items():
        g, w = got[device], want[device]
        assert g["source"] == "live 127.0.0.1", g
        assert g["verdict"] == w["verdict"] == verdict, (device, g["error"], g["verdict"], w["verdict"])
        assert codes <= {fd["code"] for fd in g["findings"]}, (device, g["findings"])
        assert semantic(g) == semantic(w), device
    assert code == saved_code == (0 if case == "compliant" else 1)

    # --save: one raw backup per device in push's layout; auditing those files reproduces the live report
    flat = tmp_path / f"flat-{case}"
    flat.mkdir()
    for device in f.emus:
        files = list((save / device).iterdir())
        assert len(files) == 1 and STAMP.match(files[0].name), files
        assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
        assert stat.S_IMODE((save / device).stat().st_mode) == 0o700
        text = files[0].read_text(encoding="utf-8")
        assert "OP25B" in text and text.strip().endswith(("end", "}")), device
        shutil.copy(files[0], flat / f"{device}.cfg")
    _, from_saved, _ = run("-i", str(f.inventory), "--configs", str(flat))
    for device, dev in by_device(from_saved).items():
        assert dev["findings"] == got[device]["findings"], device  # same lines, messages, remediation
        assert dev["checks"] == got[device]["checks"], device


def test_wrong_password_is_one_device_error(fleet: Callable[[str], Fleet]) -> None:
    f = fleet("noncompliant")
    f.emus[MX].faults.wrong_password = True
    code, doc, out = live(f)
    got = by_device(doc)
    assert got[MX]["verdict"] == "ERROR" and "authentication failed" in got[MX]["error"], got[MX]["error"]
    assert got[MX]["source"] == "live 127.0.0.1" and not got[MX]["findings"]
    for device in (IOS, EOS, XR):  # the others are audited as usual
        assert got[device]["verdict"] == "NONCOMPLIANT", got[device]["error"]
    assert code == 2 and doc["summary"]["verdicts"]["ERROR"] == 1
    assert PASSWORD not in out


def test_live_options_are_checked_before_any_device_is_touched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OP25B_USERNAME", raising=False)
    monkeypatch.delenv("OP25B_PASSWORD", raising=False)
    runner = CliRunner()
    inv = str(BUNDLED)
    res = runner.invoke(app, ["audit", "-i", inv, "--known-hosts", str(tmp_path / "kh"), "--save", str(tmp_path)])
    assert res.exit_code == 2 and "--save, --known-hosts only apply with --live" in res.output
    res = runner.invoke(app, ["audit", "-i", inv, "--live", "--configs", str(BUNDLED / "running")])
    assert res.exit_code == 2 and "--configs and --live exclude each other" in res.output
    res = runner.invoke(app, ["audit", "-i", inv, "--live", "--username", "netops"])  # stdin is not a terminal
    assert res.exit_code == 2 and "no password: set OP25B_PASSWORD" in res.output
    monkeypatch.setenv("OP25B_PASSWORD", PASSWORD)
    res = runner.invoke(app, ["audit", "-i", inv, "--live", "-u", "x", "--driver-arg", "novalue"])
    assert res.exit_code == 2 and "write KEY=VALUE" in res.output
    (tmp_path / "file").write_text("")
    res = runner.invoke(app, ["audit", "-i", inv, "--live", "-u", "x", "--save", str(tmp_path / "file" / "sub")])
    assert res.exit_code == 2 and "cannot create the directory" in res.output
    assert PASSWORD not in res.output


def test_ctrl_c_starts_no_new_device(fleet: Callable[[str], Fleet]) -> None:
    """Once the stop event is set (the first Ctrl-C) no device starts; the ones not started are ERROR and
    were never contacted. One worker, stop set when the first device is done."""
    f = fleet("compliant")
    devices = api.load(f.inventory).devices
    options = ConnectOptions(timeout=15, known_hosts=str(f.known_hosts), driver_args={"read_timeout_override": 4})
    conn = Connection(Credentials(USERNAME, PASSWORD), options, override_username=False)
    stop = threading.Event()
    reports = api.audit_devices(
        [devices[d] for d in SSH_DEVICES], conn, workers=1, stop=stop, on_done=lambda r: stop.set()
    )
    assert [r.device for r in reports] == list(SSH_DEVICES)
    assert str(reports[0].verdict) == "COMPLIANT" and f.emus[SSH_DEVICES[0]].commands  # it was contacted
    for r in reports[1:]:
        assert str(r.verdict) == "ERROR" and "interrupted" in r.error, r.error
        assert f.emus[r.device].commands == [], r.device  # never connected


def test_unreachable_devices_are_errors_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing listens on the port: every device is ERROR with the connection layer's message; exit 2."""
    import socket

    with socket.socket() as s:  # a loopback port nothing listens on (bound, never listened)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        inv = tmp_path / "inv"
        inv.mkdir()
        for name in ("policy.yaml", "groups.yaml", "defaults.yaml"):
            shutil.copy(BUNDLED / name, inv / name)
        hosts = yaml.safe_load((BUNDLED / "hosts.yaml").read_text(encoding="utf-8"))
        for h in hosts.values():
            h["hostname"] = "127.0.0.1"
        (inv / "hosts.yaml").write_text(yaml.safe_dump({n: hosts[n] for n in (IOS, "bras-tyo-lnx1")}))
        monkeypatch.setenv("OP25B_USERNAME", USERNAME)
        monkeypatch.setenv("OP25B_PASSWORD", PASSWORD)
        code, doc, out = run("--live", "-i", str(inv), "--port", str(port), "--timeout", "5", "--no-verify-host-key")
    assert code == 2 and [d["verdict"] for d in doc["devices"]] == ["ERROR", "ERROR"]
    for d in doc["devices"]:
        assert d["error"].startswith(d["device"]) and f"127.0.0.1:{port}" in d["error"], d["error"]
    assert "host keys are NOT verified" in out and PASSWORD not in out


# ---------------------------------------------------------------------------------------- namespace lab


def lab_audit(lab: Lab, *extra: str) -> tuple[int, dict[str, Any], str]:
    return run("--live", "-i", str(lab.inventory_dir), "-d", "lab-bras", "--known-hosts", str(lab.known_hosts), *extra)


def delete_rule(lab: Lab, chain: str, match: Callable[[str], bool]) -> str:
    """Delete, directly in the bras namespace (out of band, as an admin would), the one rule ``match`` picks."""
    listing = lab.nft("-a", "list", "chain", "inet", "op25b", chain)
    rules = [ln.strip() for ln in listing.splitlines() if "# handle" in ln and match(ln)]
    assert len(rules) == 1, rules
    handle = rules[0].rsplit("# handle", 1)[1].strip()
    lab.nft("delete", "rule", "inet", "op25b", chain, "handle", handle)
    return rules[0]


@pytest.mark.lab
def test_live_audit_of_the_lab_bras_then_an_out_of_band_change(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OP25B_USERNAME", lab.username)
    monkeypatch.setenv("OP25B_PASSWORD", lab.password())
    lab_fixtures.push(lab, "lab-bras")  # the block-mode table, through the Linux session
    code, doc, out = lab_audit(lab, "--save", str(tmp_path / "saved"))
    dev = doc["devices"][0]
    assert code == 0 and dev["verdict"] == "COMPLIANT", (dev["error"], dev["findings"])
    assert dev["source"] == f"live {lab.mgmt_bras_ip}" and lab.password() not in out
    (saved,) = (tmp_path / "saved" / "lab-bras").iterdir()
    assert "table inet op25b" in saved.read_text() and "table inet filter" in saved.read_text()  # nft list ruleset

    # an admin deletes the IPv4 deny on the bras by hand
    deleted = delete_rule(lab, "subscriber", lambda r: "ip saddr @OP25B-POOL-V4 tcp dport 25" in r and "reject" in r)
    code, doc, out = lab_audit(lab)
    dev = doc["devices"][0]
    leaks = [fd for fd in dev["findings"] if fd["code"] == "SMTP_LEAK"]
    assert code == 1 and dev["verdict"] == "NONCOMPLIANT", deleted
    assert leaks and {fd["family"] for fd in leaks} == {4}, dev["findings"]
    table = CliRunner().invoke(app, ["audit", "--live", "-i", str(lab.inventory_dir), "-d", "lab-bras",
                                     "--known-hosts", str(lab.known_hosts)])  # fmt: skip
    assert table.exit_code == 1 and "SMTP_LEAK" in table.output and "counterexample" in table.output
    # the finding is real: SMTP from the subscriber to a foreign MX gets through again, the relay still works
    assert lab.deliver_many([(EXTERNAL_V4, 25), (ISP_MTA_V4, 25)]) == {
        (EXTERNAL_V4, 25): "delivered",
        (ISP_MTA_V4, 25): "delivered",
    }
