"""``op25b audit`` end to end through the CLI on the sample inventory's saved running configs (real parsers,
real engine): formats, selection, exit codes, per-device errors, and no secret in any output."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from op25b_cfg.cli import app
from tests.platform_data import SAMPLE_LEAKS, sample_summary, sample_verdicts

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "inventory"
RUNNING = SAMPLE / "running"
VERDICTS = sample_verdicts()
# Secrets in inventory/running/*.cfg: none may reach any report.
SECRETS = [
    "Tky0-ro-2025",
    "Osk-ro-2025",
    "0sk-eos-ro",
    "Tky0-mx-ro",
    "104D000A0618131E14",
    "05080F1C22431F5B4A",
    "0822455D0A16544541",
    "070C285F4D06485744",
    "q+VNViP5i4rVjW1cxFv2wA==",
    "$9$",
    "$6$",
]

runner = CliRunner()


def audit(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["audit", "-i", str(SAMPLE), *args])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.stdout


def test_default_table_on_sample() -> None:
    code, out = audit()
    assert code == 1  # findings, no errors
    flat = " ".join(out.split())
    for name, verdict in VERDICTS.items():
        assert any(name in line and f" {verdict} " in line for line in out.splitlines()), (name, verdict)
    assert flat.count("NONCOMPLIANT") >= 2
    assert "SMTP_LEAK" in flat and "DYN-TOKYO" in flat and "counterexample" in flat
    assert sample_summary() in flat
    assert "exit code 1" in flat


def test_json_on_sample() -> None:
    code, out = audit("--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["schema"] == "op25b.audit/1"
    assert doc["configs"] == str(RUNNING)
    assert {d["device"]: d["verdict"] for d in doc["devices"]} == VERDICTS
    assert doc["summary"]["exit_code"] == 1
    ios = next(d for d in doc["devices"] if d["device"] == "bras-tyo-ios1")
    leak = next(f for f in ios["findings"] if f["code"] == "SMTP_LEAK")
    assert leak["cause"] == "shadowed" and leak["family"] == 4 and leak["pool"] == "DYN-TOKYO"
    assert leak["counterexample"]["dst_port"] == 25
    assert any("range ftp-data 30" in line for line in leak["config_lines"])
    assert leak["remediation"] == "" and ios["remediation"].startswith("no ip access-list extended OP25B-V4-")
    mx = next(d for d in doc["devices"] if d["device"] == "bng-tyo-mx1")
    assert {f["family"] for f in mx["findings"] if f["severity"] != "info"} == {6}
    try:
        import jsonschema
    except ImportError:
        return
    jsonschema.validate(doc, json.loads((REPO / "audits" / "op25b.audit-1.schema.json").read_text()))


@pytest.mark.parametrize("fmt", ["table", "json", "junit", "html"])
def test_no_secret_in_any_format(fmt: str, tmp_path: Path) -> None:
    out_file = tmp_path / f"report.{fmt}"
    code, _ = audit("--format", fmt, "--output", str(out_file))
    assert code == 1
    text = out_file.read_text(encoding="utf-8")
    assert "bras-tyo-ios1" in text
    for s in SECRETS:
        assert s not in text, (fmt, s)


def test_junit_file_on_sample(tmp_path: Path) -> None:
    path = tmp_path / "audit.xml"
    code, _ = audit("--format", "junit", "-o", str(path))
    assert code == 1
    root = ET.parse(path).getroot()
    cases = root.findall("testsuite/testcase")
    assert {c.get("classname") for c in cases} == {f"op25b.{n}" for n in VERDICTS}
    failed = {c.get("classname") for c in cases if c.find("failure") is not None}
    assert failed == {f"op25b.{n}" for n in SAMPLE_LEAKS}
    assert root.get("errors") == "0"
    leak = next(c for c in cases if (c.get("name") or "").startswith("smtp-blocked") and c.find("failure") is not None)
    assert "counterexample: tcp " in (leak.findtext("failure") or "")


def test_html_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["audit", "-i", str(SAMPLE), "--format", "html"])
    assert res.exit_code == 1
    page = tmp_path / "op25b-audit.html"
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    for name in VERDICTS:
        assert f'id="dev-{name}"' in html
    assert "op25b-audit.html" in res.stderr


def test_selection() -> None:
    code, out = audit("--device", "bras-osa-xr1", "--format", "json")
    assert code == 0
    assert [d["device"] for d in json.loads(out)["devices"]] == ["bras-osa-xr1"]
    code, out = audit("--filter", "platform=juniper_junos", "--format", "json")
    assert code == 1
    assert [d["device"] for d in json.loads(out)["devices"]] == ["bng-tyo-mx1"]
    code, _ = audit("-d", "edge-osa-eos1", "-d", "bras-tyo-lnx1")
    assert code == 0


def test_bad_selection_and_inventory_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["audit", "-i", str(SAMPLE), "--filter", "platform=nope"])
    assert res.exit_code == 2 and "nothing selected" in res.stderr
    res = runner.invoke(app, ["audit", "-i", str(SAMPLE), "--device", "no-such-router"])
    assert res.exit_code == 2 and "no such device" in res.stderr
    res = runner.invoke(app, ["audit", "-i", str(tmp_path)])
    assert res.exit_code == 2 and "policy.yaml" in res.stderr
    res = runner.invoke(app, ["audit", "-i", str(SAMPLE), "--configs", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "not a directory of saved running configs" in res.stderr


def test_broken_files_are_reported_per_device(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    shutil.copytree(RUNNING, configs)
    (configs / "bras-osa-xr1.cfg").unlink()
    (configs / "edge-osa-eos1.cfg").write_text("")
    lines = (configs / "bng-tyo-mx1.cfg").read_text().splitlines(keepends=True)
    (configs / "bng-tyo-mx1.cfg").write_text("".join(lines[: len(lines) // 2]))
    res = runner.invoke(app, ["audit", "-i", str(SAMPLE), "--configs", str(configs), "--format", "json"])
    assert res.exit_code == 2
    devs = {d["device"]: d for d in json.loads(res.stdout)["devices"]}
    assert list(devs) == list(VERDICTS)
    assert devs["bras-osa-xr1"]["verdict"] == "ERROR" and "no saved running config" in devs["bras-osa-xr1"]["error"]
    assert devs["edge-osa-eos1"]["verdict"] == "ERROR" and "empty file" in devs["edge-osa-eos1"]["error"]
    assert devs["bng-tyo-mx1"]["verdict"] == "ERROR" and "truncated" in devs["bng-tyo-mx1"]["error"]
    assert devs["bras-tyo-ios1"]["verdict"] == "NONCOMPLIANT"
    assert devs["bras-tyo-lnx1"]["verdict"] == "COMPLIANT"


def test_output_to_unwritable_place_is_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["audit", "-i", str(SAMPLE), "--format", "json", "-o", str(tmp_path / "no" / "x.json")])
    assert res.exit_code == 2 and "cannot write" in res.stderr


def test_help_documents_exit_codes() -> None:
    res = runner.invoke(app, ["audit", "--help"])
    assert res.exit_code == 0
    flat = " ".join(res.stdout.split())
    assert "Exit codes: 0 every device COMPLIANT; 1 findings" in flat
    assert "2 a device UNKNOWN or ERROR" in flat
