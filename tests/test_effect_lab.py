"""Effect verification end to end in the namespace lab: ``op25b push`` puts the filter on the bras (real sshd,
real nftables), real SMTP attempts leave the subscriber namespace (blocked to an external MX, delivered to
the ISP relay and to port 587), ``op25b effect collect`` reads the kernel's counters over SSH, and ``op25b
effect report`` shows exactly those numbers per pool."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from op25b_cfg.cli import app
from op25b_cfg.lab.netns import EXTERNAL_V4, EXTERNAL_V6, ISP_MTA_V4, Lab
from op25b_cfg.lab.target import write_inventory
from tests import lab_fixtures

netns_lab = lab_fixtures.netns_lab
lab = lab_fixtures.lab

pytestmark = pytest.mark.lab


@pytest.fixture
def work(lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("OP25B_USERNAME", lab.username)
    monkeypatch.setenv("OP25B_PASSWORD", lab.password())
    monkeypatch.setenv("OP25B_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def op25b(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def kernel_counters(lab: Lab) -> dict[str, int]:
    """Packets per rule counter of the op25b table, keyed '<ip|ip6> <comment>', read straight from the kernel."""
    out: dict[str, int] = {}
    for item in json.loads(lab.nft("-j", "list", "table", "inet", "op25b"))["nftables"]:
        rule = item.get("rule")
        if not rule or "comment" not in rule:
            continue
        fam = next(
            (
                e["match"]["left"]["payload"]["protocol"]
                for e in rule["expr"]
                if "payload" in e.get("match", {}).get("left", {})
            ),
            "",
        )
        for e in rule["expr"]:
            if isinstance(e.get("counter"), dict):
                out[f"{fam} {rule['comment']}"] = int(e["counter"]["packets"])
    return out


def test_push_smtp_collect_report_match_the_kernel(lab: Lab, work: Path) -> None:
    inventory = write_inventory(lab)  # lab-bras: block mode, pools DYN-TOKYO and DYN-V6
    code, out = op25b(
        "push", "-i", str(inventory), "-d", "lab-bras", "--commit", "--known-hosts", str(lab.known_hosts),
        "--backup-dir", str(work / "backups"), "--changelog", str(work / "changes.jsonl"),
    )  # fmt: skip
    assert code == 0, out
    db = str(work / "op25b.db")
    collect = (
        "effect",
        "collect",
        "-i",
        str(inventory),
        "-d",
        "lab-bras",
        "--db",
        db,
        "--known-hosts",
        str(lab.known_hosts),
    )
    code, out = op25b(*collect)  # the baseline: every counter 0 right after the push
    assert code == 0, out

    assert lab.deliver(EXTERNAL_V4, 25, count=3) == ["refused"] * 3  # blocked: one SYN each, answered by RST
    assert lab.deliver(EXTERNAL_V6, 25, count=2) == ["refused"] * 2
    assert lab.deliver(ISP_MTA_V4, 25, count=2) == ["delivered"] * 2  # the ISP relay
    assert lab.deliver(EXTERNAL_V4, 587, count=1) == ["delivered"]  # submission

    code, out = op25b(*collect)
    assert code == 0, out
    kernel = kernel_counters(lab)
    assert kernel["ip block direct SMTP from dynamic pools"] == 3
    assert kernel["ip6 block direct SMTP from dynamic pools"] == 2
    assert kernel["ip ISP mail relays"] > 0 and kernel["ip mail submission stays open"] > 0

    code, out = op25b(
        "effect", "report", "--db", db, "--since", "1h", "--until", "now", "--format", "json",
        "--changelog", str(work / "changes.jsonl"), "--compare", "--window", "1h",
    )  # fmt: skip
    assert code == 0, out  # no deployment gap: the block matched
    doc: dict[str, Any] = json.loads(out)
    pools = {p["pool"]: p for p in doc["pools"]}
    assert pools["DYN-TOKYO"]["blocked"] == kernel["ip block direct SMTP from dynamic pools"] == 3
    assert pools["DYN-V6"]["blocked"] == kernel["ip6 block direct SMTP from dynamic pools"] == 2
    assert pools["DYN-TOKYO"]["mta"] == kernel["ip ISP mail relays"]
    assert pools["DYN-TOKYO"]["submission"] == kernel["ip mail submission stays open"]
    assert pools["DYN-TOKYO"]["exempt"] == kernel["ip exempt static customers and opt-outs"] == 0
    assert [(d["device"], d["pool"], d["blocked"]) for d in doc["devices"] if d["blocked"]] == [
        ("lab-bras", "DYN-TOKYO", 3),
        ("lab-bras", "DYN-V6", 2),
    ]
    assert doc["change"]["devices"] == ["lab-bras"]  # the push above, from the change log
    assert doc["change"]["per_hour_after"]["DYN-TOKYO"]["blocked"] == 3.0
    assert doc["change"]["per_hour_before"].get("DYN-TOKYO", {}).get("blocked", 0) == 0  # all after the push

    code, table = op25b("effect", "report", "--db", db, "--since", "1h")
    assert code == 0 and "DYN-TOKYO" in table and "DYN-V6" in table
    code, msg = op25b("effect", "report", "--db", db, "--since", "1h", "--format", "html", "-o", str(work / "e.html"))
    assert code == 0, msg
    page = (work / "e.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 2 and "DYN-TOKYO" in page
