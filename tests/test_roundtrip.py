"""Round trip beyond the contract suite (tests/test_contract.py, which proves every platform's own output COMPLIANT
and catches each single mutation of it): an older rendering without the IPv6 pool is caught; linux_nftables is
loaded into a fresh network namespace and the kernel's own ``nft list ruleset`` is audited; and the data-driven
audit cases."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import pytest

from op25b_cfg import api
from op25b_cfg.audit.model import Code, DeviceReport, Verdict
from op25b_cfg.inventory import MODES, Device, FlowControl
from tests.labutil import need_nft
from tests.platform_data import PLATFORM_DATA, base_device, in_mode, running_text, variants


def _codes(rep: DeviceReport) -> list[Code]:
    return [f.code for f in rep.findings if f.code is not Code.DRIFT]


@pytest.mark.parametrize(("platform", "mode"), variants())
def test_removed_ipv6_pool_is_caught(platform: str, mode: str) -> None:
    """The running config was rendered before the IPv6 pool was added: its v6 filter/prefixes are missing."""
    dev = in_mode(base_device(platform), mode)
    v4_only = tuple(p for p in dev.pools if p.ipv4)
    if len(v4_only) == len(dev.pools):
        pytest.skip(f"{dev.name} serves no IPv6-only pool")
    old = dataclasses.replace(dev, pools=v4_only)
    rep = api.audit_text(dev, running_text(old), source="old")
    assert rep.verdict is Verdict.NONCOMPLIANT
    assert any(f.code is Code.FILTER_MISSING and f.family == 6 for f in rep.findings), _codes(rep)
    assert not any(f.family == 4 and f.code is not Code.DRIFT for f in rep.findings)


@pytest.mark.lab
@pytest.mark.parametrize("mode", MODES)
def test_nft_kernel_listing_round_trip(mode: str, tmp_path: Path) -> None:
    """Load the rendered file into a fresh netns and audit what the kernel lists back."""
    dev = in_mode(base_device("linux_nftables"), mode)
    nft = need_nft()
    rendered = tmp_path / "op25b.nft"
    rendered.write_text(api.render(dev))
    proc = subprocess.run(
        ["unshare", "-n", "sh", "-c", f'"{nft}" -f "{rendered}" && "{nft}" list ruleset'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    listing = proc.stdout
    assert "table inet op25b" in listing
    rep = api.audit_text(dev, listing, source="nft list ruleset")
    assert rep.verdict is Verdict.COMPLIANT, [f.message for f in rep.findings]
    # and a mutation made in the kernel's own listing format is still caught
    leaked = re.sub(r"^.*tcp dport 25 .*reject.*\n", "", listing, flags=re.M)
    assert leaked != listing
    rep = api.audit_text(dev, leaked, source="nft list ruleset, mutated")
    assert any(f.code is Code.SMTP_LEAK for f in rep.findings), _codes(rep)


# ------------------------------------------------------------------------------------------ data-driven cases

CASES = PLATFORM_DATA
REPO = Path(__file__).resolve().parent.parent


def _case_dirs() -> list[Path]:
    return sorted(p.parent for p in CASES.glob("*/audit_cases/*/case.yaml"))


def _case_device(case: Path, spec: dict[str, object]) -> Device:
    inv_dir = str(spec.get("inventory", "inventory"))
    inv_path = case / inv_dir if (case / inv_dir).is_dir() else REPO / inv_dir
    inv = api.load(inv_path)
    dev = inv.devices[str(spec["device"])]
    over = dict(spec.get("override") or {})  # type: ignore[call-overload]
    if "pools" in over:
        over["pools"] = tuple(inv.policy.pool(n) for n in over["pools"])
    if "attach" in over:
        from op25b_cfg.inventory import Attachment

        over["attach"] = tuple(Attachment(**a) for a in over["attach"])
    if "flow_control" in over:  # merged over the device's resolved values
        over["flow_control"] = FlowControl(**{**dev.flow_control.model_dump(), **over["flow_control"]})
    return dataclasses.replace(dev, **over)


@pytest.mark.parametrize("case", _case_dirs(), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_audit_case(case: Path) -> None:
    import json

    import yaml

    spec = yaml.safe_load((case / "case.yaml").read_text())
    dev = _case_device(case, spec)
    assert dev.platform == case.parent.parent.name, "a case lives in the folder of its device's platform"
    running = case / "running.cfg" if (case / "running.cfg").exists() else REPO / str(spec["running"])
    expected = json.loads((case / "expected.json").read_text())
    rep = api.audit_text(dev, running.read_text(), source=str(running))
    got = sorted((f.code.value, f.family, f.cause or "") for f in rep.findings if f.code is not Code.DRIFT)
    want = sorted((e["code"], e.get("family"), e.get("cause", "")) for e in expected["findings"])
    assert (rep.verdict.value, got) == (expected["verdict"], want), [f.message for f in rep.findings]
    for e in expected["findings"]:
        if "lines" in e:
            assert any(f.code.value == e["code"] and f.lines == e["lines"] for f in rep.findings), e
    if "drift" in expected:
        assert any(f.code is Code.DRIFT for f in rep.findings) == expected["drift"]
    for f in rep.findings:
        if f.code in (Code.SMTP_LEAK, Code.MTA_BLOCKED, Code.SUBMISSION_BLOCKED, Code.EXEMPT_BLOCKED):
            assert f.counterexample is not None and f.lines
