"""Flow-control limit hits: exact on every platform that has flow control, read from the emulators in the
devices' own formats through the real napalm drivers (``op25b effect collect``), and reported as hits; what
the limit merely applies to is a separate figure, never shown as hits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from op25b_cfg import api
from op25b_cfg.cli import app
from op25b_cfg.dialects.cisco_blocks import acl_entries
from op25b_cfg.effect.db import EffectDB
from tests.labutil import REPO
from tests.test_audit_live import IOS, MX
from tests.test_effect_collect import Bench, started

FLOW = {"mode": "flow-control", "flow_control": {"max_sessions": None, "new_per_second": 1, "burst": 5}}


class FlowBench(Bench):
    """An emulator seeded with the device's flow-control filter, and an inventory that says so."""

    def flow(self, device: str) -> Any:
        hosts = yaml.safe_load((REPO / "inventory" / "hosts.yaml").read_text(encoding="utf-8"))
        host = hosts[device]
        host["data"] |= FLOW
        host["data"]["attach"] = [a for a in host["data"]["attach"] if a["kind"] != "unit"]  # per subscriber only
        draft = self.root / "draft"
        draft.mkdir()
        for name in ("policy.yaml", "groups.yaml", "defaults.yaml"):
            (draft / name).write_text((REPO / "inventory" / name).read_text(encoding="utf-8"), encoding="utf-8")
        (draft / "hosts.yaml").write_text(yaml.safe_dump({device: host}), encoding="utf-8")
        text = api.render(api.load(draft).devices[device])
        self.start({device: text})
        emu = self.emus[device]
        (self.inventory / "hosts.yaml").write_text(
            yaml.safe_dump({device: {**host, "hostname": "127.0.0.1", "port": emu.port}}), encoding="utf-8"
        )
        return emu

    def report(self) -> dict[str, Any]:
        res = CliRunner().invoke(
            app, ["effect", "report", "--db", self.db, "--since", "2000-01-01", "--format", "json"]
        )
        assert res.exit_code in (0, 1), res.output  # 1: a deployment gap (a family the test sent nothing in)
        return dict(json.loads(res.output))


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlowBench]:
    with started(FlowBench, tmp_path, monkeypatch) as b:
        yield b


def test_ios_police_drops_per_virtual_access_are_the_limit_hits(bench: FlowBench) -> None:
    emu = bench.flow(IOS)
    # the policed class ACL counts every new port-25 connection of the subscribers (hits and passes)
    for fam, acl, entries in acl_entries(emu.running.root):
        for seq, text in entries:
            if " syn" in text:
                emu.counters.add(acl, seq, 100 if fam == 4 else 10)
    emu.subscribers = {"Virtual-Access2": "Virtual-Template1", "Virtual-Access3": "Virtual-Template1"}
    emu.police.add("Virtual-Access2", "conformed", 80)
    emu.police.add("Virtual-Access2", "exceeded", 17)
    emu.police.add("Virtual-Access3", "conformed", 10)
    emu.police.add("Virtual-Access3", "exceeded", 3)
    code, out = bench.collect(IOS)
    assert code == 0, out
    totals = bench.totals()
    hits = {k: v for k, v in totals.items() if k[1] == "limited"}
    assert sum(hits.values()) == 20, totals  # 17 + 3 dropped, not the 110 connections the limit applies to
    assert sum(v for k, v in totals.items() if k[1] == "flow_applies") == 110
    emu.police.add("Virtual-Access2", "exceeded", 5)
    assert bench.collect(IOS)[0] == 0
    report = bench.report()
    assert sum(p["limited"] for p in report["pools"]) == 25
    assert all(d["limit_hits_read"] is True for d in report["devices"])
    # both count SYNs: 25 of the 110 new connections were dropped by the limit
    assert {d["limit_share_of_new_connections"] for d in report["devices"]} == {round(25 / 110, 4)}


def test_junos_policer_instances_are_the_limit_hits(bench: FlowBench) -> None:
    emu = bench.flow(MX)
    text = emu.running_config
    v4 = next(w for w in text.split() if w.startswith("OP25B-V4-"))
    version = v4.rsplit("-", 1)[1]
    emu.subscribers = ["pp0.3221225474", "pp0.3221225475"]
    for ifl, applies, dropped in (("pp0.3221225474", 50, 9), ("pp0.3221225475", 20, 0)):
        emu.counters.add(f"{v4}-{ifl}-i", f"OP25B-LIMIT-{ifl}-i", applies)
        emu.policers.add(f"{v4}-{ifl}-i", f"OP25B-SMTP-{version}-limit-{ifl}-i", dropped)
    code, out = bench.collect(MX)
    assert code == 0, out
    totals = bench.totals()
    assert totals[("DYN-TOKYO", "limited")] == 9, totals
    assert totals[("DYN-TOKYO", "flow_applies")] == 70
    report = bench.report()
    tokyo = next(p for p in report["pools"] if p["pool"] == "DYN-TOKYO")
    assert tokyo["limited"] == 9 and tokyo["flow_applies"] == 70 and tokyo["limit_hits_unread_on"] == []
    assert {d["limit_share_of_new_connections"] for d in report["devices"]} == {round(9 / 70, 4)}


def test_a_device_without_a_drop_counter_shows_no_hits(tmp_path: Path) -> None:
    """Only what the limit applies to was read (no policer drops): the report says the hits cannot be read
    for that device and shows none, rather than the connections the limit applies to."""
    from op25b_cfg.effect import report as rep
    from op25b_cfg.effect.model import Sample

    with EffectDB.open(str(tmp_path / "e.db")) as db:
        db.add([Sample("r1", "aaaa0001", "OP25B-LIMIT", "tokyo", "flow_applies", 40, 2400, 1_767_225_600.0)])
        report = rep.build(db, 1_767_225_000.0, 1_767_229_200.0)
    (dev,) = report.devices
    assert dev.limit_hits_read is False and dev.as_dict()["limited"] is None and dev.limit_share is None
    assert "limit hits not readable" in dev.note and not dev.gap
    assert report.pools[0].limit_unread == ["r1"]
    assert "not read on 1 device(s)" in rep.to_html(report)


def test_nft_limit_rule_counters_are_hits(tmp_path: Path) -> None:
    """nftables: op25b's flow-control rules count after the limit, so their counters are the connections the
    limit refused (exact hits). The rendered ruleset is loaded by the real nft in a fresh network namespace
    and read back as ``nft -j list table inet op25b`` prints it."""
    import subprocess

    from op25b_cfg.effect.attribute import attribute
    from op25b_cfg.platforms.linux_nftables.counters import parse_json_listing
    from tests.labutil import need_nft

    nft = need_nft()
    hosts = yaml.safe_load((REPO / "inventory" / "hosts.yaml").read_text(encoding="utf-8"))
    host = hosts["bras-tyo-lnx1"]
    host["data"] |= FLOW
    inv = tmp_path / "inv"
    inv.mkdir()
    for name in ("policy.yaml", "groups.yaml", "defaults.yaml"):
        (inv / name).write_text((REPO / "inventory" / name).read_text(encoding="utf-8"), encoding="utf-8")
    (inv / "hosts.yaml").write_text(yaml.safe_dump({"bras-tyo-lnx1": host}), encoding="utf-8")
    device = api.load(inv).devices["bras-tyo-lnx1"]
    text = api.render(device)
    (tmp_path / "op25b.nft").write_text(text, encoding="utf-8")
    listing = subprocess.run(
        ["unshare", "-n", "sh", "-c", '"$0" -f "$1" && "$0" -j list table inet op25b', nft, tmp_path / "op25b.nft"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    readings = parse_json_listing(listing)
    plan = api.plan(device)
    samples = [s for r in readings if (s := attribute(device, plan, r, 0.0)) is not None]
    limits = [s for s in samples if s.purpose in ("limited", "flow_applies")]
    assert limits and {s.purpose for s in limits} == {"limited"}, [(s.counter, s.purpose) for s in samples]
