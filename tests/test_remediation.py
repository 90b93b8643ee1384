"""The remediation is what an engineer pastes: applied to the drifted running config (through the emulators'
config stores, which apply commands as the devices do), the device audits COMPLIANT; spelling differences are no
change; it appears once per device in every report format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from op25b_cfg import api
from op25b_cfg.audit import engine  # the model text apply_change returns has no trailing 'end': not a saved config
from op25b_cfg.audit.model import DeviceReport, Verdict
from op25b_cfg.audit.report import AuditMeta, to_html, to_json, to_junit
from op25b_cfg.inventory import Device
from op25b_cfg.platforms import get_platform

REPO = Path(__file__).resolve().parent.parent
INV = api.load(REPO / "inventory")
DEV = {d.platform: d for d in INV.devices.values()}


def _running(dev: Device) -> str:
    return (REPO / "inventory" / "running" / f"{dev.name}.cfg").read_text()


def apply_remediation(platform: str, running: str, fix: str) -> str:
    """``fix`` applied to ``running`` as the device would (:meth:`Platform.apply_change`)."""
    return get_platform(platform).apply_change(running, fix)


def _drifted(dev: Device) -> str:
    """The shipped running config with its first port-25 block removed (for the shipped configs that comply)."""
    lines = _running(dev).splitlines()
    block = re.compile(
        r"deny tcp .* eq (25|smtp)|tcp dport 25 .*(reject|drop)|^\s*(discard|reject);|action=reject chain=OP25B"
    )
    i = next(k for k, ln in enumerate(lines) if block.search(ln))
    return "\n".join(lines[:i] + lines[i + 1 :]) + "\n"


@pytest.mark.parametrize("platform", sorted(DEV))
def test_remediation_applied_to_the_drifted_config_audits_compliant(platform: str) -> None:
    dev = DEV[platform]
    running = _drifted(dev)
    before = api.audit_text(dev, running)
    assert before.verdict == Verdict.NONCOMPLIANT, [f.message for f in before.findings]
    assert before.remediation and all(f.remediation == "" for f in before.findings)
    after = engine.audit_text(dev, apply_remediation(dev.platform, running, before.remediation))
    assert after.verdict == Verdict.COMPLIANT, (before.remediation, [f.message for f in after.findings])
    assert after.remediation == ""


@pytest.mark.parametrize("name", sorted(INV.devices))
def test_remediation_of_the_shipped_configs(name: str) -> None:
    """The shipped configs (a leak on IOS, IPv6 filters missing on Junos, ...) are fixed by their remediation."""
    dev = INV.devices[name]
    before = api.audit_text(dev, _running(dev))
    if before.verdict == Verdict.COMPLIANT:
        assert before.remediation == ""
        return
    after = engine.audit_text(dev, apply_remediation(dev.platform, _running(dev), before.remediation))
    assert after.verdict == Verdict.COMPLIANT, (before.remediation, [f.message for f in after.findings])


def test_junos_remediation_leaves_present_prefix_lists_and_filters_alone() -> None:
    dev = DEV["juniper_junos"]
    fix = api.audit_text(dev, _running(dev)).remediation
    assert "OP25B-POOL-V4" not in fix and "filter OP25B-V4" not in fix.replace("filter input", "")
    assert "set policy-options prefix-list OP25B-POOL-V6" in fix
    assert 'unit "$junos-interface-unit" family inet6 filter input OP25B-V6-' in fix


def test_ios_remediation_replaces_only_the_drifted_acl() -> None:
    dev = DEV["cisco_ios"]
    fix = api.audit_text(dev, _running(dev)).remediation.splitlines()
    assert fix[0] == "no ip access-list extended OP25B-V4-b1a88b08" and fix[-1] == "end"
    assert not any("ipv6" in ln or ln.startswith("interface") for ln in fix)


def _respelled(dev: Device) -> str:
    """The shipped running config (without the IOS leak) in other spelling than the rendered intent: named
    ports, upper-case IPv6, ``host X`` for ``X/128``."""
    text = "".join(
        ln for ln in _running(dev).splitlines(keepends=True) if "TT#48213" not in ln and "ftp-data 30" not in ln
    )
    text = text.replace(" eq 25", " eq smtp").replace("2001:db8:", "2001:DB8:")
    return re.sub(r"(2001:DB8:[0-9A-Fa-f:]+)/128", r"host \1", text)


@pytest.mark.parametrize("platform", ["cisco_ios", "cisco_iosxr", "arista_eos"])
def test_spelling_differences_are_no_change(platform: str) -> None:
    dev = DEV[platform]
    text = _respelled(dev)
    assert "eq smtp" in text and "2001:DB8:" in text
    rep = api.audit_text(dev, text)
    assert rep.verdict == Verdict.COMPLIANT and rep.remediation == "", rep.remediation


def test_remediation_appears_once_per_device_in_every_format() -> None:
    dev = DEV["cisco_ios"]
    rep = api.audit_text(dev, _running(dev))
    assert len(rep.findings) >= 2 and rep.remediation
    marker = rep.remediation.splitlines()[0]
    two = [rep, DeviceReport(**{**rep.__dict__, "device": "other"})]
    meta = AuditMeta()
    data = json.loads(to_json(two, meta))
    assert [d["remediation"] for d in data["devices"]] == [rep.remediation, rep.remediation]
    assert all(f["remediation"] == "" for d in data["devices"] for f in d["findings"])
    for text in (to_json(two, meta), to_junit(two, meta), to_html(two, meta)):
        assert text.count(marker) == 2, text[:2000]
