"""Every device audit has a time budget (``op25b audit --time-budget``, default 30 s): past it the device is
UNKNOWN with the reason, and the run goes on with the other devices. Tested on a ruleset that is really slow to
evaluate (chains that each jump several ways to the next, each with many rules), never with a mock."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from op25b_cfg import api
from op25b_cfg.audit.engine import audit_text
from op25b_cfg.audit.model import DEFAULT_TIME_BUDGET, Verdict, default_time_budget, set_time_budget
from op25b_cfg.cli import app
from op25b_cfg.inventory import Device

REPO = Path(__file__).resolve().parent.parent
JUMPS = ["ip daddr 10.0.0.0/8", "tcp sport 1024-65535", "ip saddr 100.64.0.0/10", "tcp flags syn", "tcp dport != 80"]


def slow_ruleset(width: int = 5, depth: int = 10, rules: int = 1000) -> str:
    """A forward chain jumping into ``depth`` chained regular chains, each jumping ``width`` ways to the next
    and holding ``rules`` drops of distinct pool addresses: a lot of work for any exact evaluation (even
    without the jumps, 10 x 1000 distinct rules take seconds here, many times the 0.2 s budget the tests set)."""
    out = ["table inet fw {", "\tchain forward {", "\t\ttype filter hook forward priority filter; policy accept;"]
    out += ['\t\tiifname "ppp*" jump c0', "\t}"]
    for i in range(depth):
        out.append(f"\tchain c{i} {{")
        for k in range(i * rules, (i + 1) * rules):
            out.append(f"\t\tip saddr 100.64.{k // 250}.{k % 250 + 1} tcp dport 25 drop")
        if i + 1 < depth:
            out += [f"\t\t{cond} jump c{i + 1}" for cond in JUMPS[:width]]
        out.append("\t}")
    out.append("}")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def lnx() -> Device:
    dev = api.load(REPO / "inventory").devices["bras-tyo-lnx1"]
    return dataclasses.replace(dev, mode="block")


def test_slow_device_is_unknown_with_the_reason(lnx: Device) -> None:
    rep = audit_text(lnx, slow_ruleset(), source="slow.nft", time_budget=0.2)
    assert rep.verdict is Verdict.UNKNOWN and not rep.findings
    assert "time budget of 0.2 s" in rep.error and "--time-budget" in rep.error
    assert not rep.checks and rep.source == "slow.nft"  # no check ran to the end (JUnit: one <error>)


def test_budget_only_bounds_the_audit_it_was_set_for(lnx: Device) -> None:
    text = (REPO / "inventory" / "running" / "bras-tyo-lnx1.cfg").read_text()
    dev = dataclasses.replace(lnx, mode="flow-control")
    assert audit_text(dev, text, time_budget=None).verdict is Verdict.COMPLIANT
    assert audit_text(dev, text, time_budget=60).verdict is Verdict.COMPLIANT
    # a budget exceeded by one audit does not leak into the next one of the same thread
    assert audit_text(lnx, slow_ruleset(), time_budget=0.2).verdict is Verdict.UNKNOWN
    assert audit_text(dev, text).verdict is Verdict.COMPLIANT


def test_cli_time_budget_stops_one_device_not_the_run(tmp_path: Path) -> None:
    configs = tmp_path / "running"
    shutil.copytree(REPO / "inventory" / "running", configs)
    (configs / "bras-tyo-lnx1.cfg").write_text(slow_ruleset())
    args = ["audit", "-i", str(REPO / "inventory"), "-c", str(configs), "--format", "json", "--time-budget", "0.2"]
    try:
        res = CliRunner().invoke(app, [*args, "-d", "bras-tyo-lnx1", "-d", "edge-osa-eos1"])
        assert default_time_budget() == 0.2
    finally:
        set_time_budget(DEFAULT_TIME_BUDGET)  # the CLI sets it for its process; this test shares one
    assert res.exit_code == 2, res.stdout  # a device UNKNOWN
    devices = {d["device"]: d for d in json.loads(res.stdout)["devices"]}
    assert devices["bras-tyo-lnx1"]["verdict"] == "UNKNOWN"
    assert "time budget of 0.2 s" in devices["bras-tyo-lnx1"]["error"]
    assert devices["edge-osa-eos1"]["verdict"] == "COMPLIANT"


@pytest.mark.parametrize("bad", ["0", "-1", "soon"])
def test_cli_time_budget_is_validated(bad: str) -> None:
    res = CliRunner().invoke(app, ["audit", "-i", str(REPO / "inventory"), "--time-budget", bad])
    assert res.exit_code == 2 and "--time-budget" in res.output
    assert default_time_budget() == DEFAULT_TIME_BUDGET
