"""Issue 8 (audit truth), engine part: what a finding may claim as proven.

* a default decision (implicit deny, chain policy) counts every line not understood in the filters it passed;
* must-pass checks ask about the ephemeral source ports (``must_pass_source_ports``), the leak check about all;
* static exemptions and opt-outs are checked wherever they lie, where the inventory says they apply;
* NOT_APPLIED names only a filter that implements OP25B for the pool and is not used for another purpose;
* a device audit has a time budget.

The case folders under tests/platforms/<platform>/audit_cases/ reproduce each defect on the platforms' own
syntax; these tests pin the engine rules on hand-built configs.
"""

from __future__ import annotations

import dataclasses

import pytest

from op25b_cfg import api
from op25b_cfg.audit.engine import audit_parsed
from op25b_cfg.audit.model import Code, Filter, Unparsed, Verdict
from op25b_cfg.errors import InventoryError
from op25b_cfg.inventory import Device, Inventory, Policy
from op25b_cfg.rules import Action, Rule
from tests.test_engine import ACL4, INVENTORY, Lines, codes, config, good_v4, port

BGP = 179


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return api.load(INVENTORY)


@pytest.fixture
def ios(inv: Inventory) -> Device:
    """bras-tyo-ios1 reduced to its IPv4 pool DYN-TOKYO (100.64.0.0/16, exempt 100.64.200.0/24)."""
    dev = inv.devices["bras-tyo-ios1"]
    return dataclasses.replace(dev, pools=(dev.policy.pool("DYN-TOKYO"),))


def with_policy(dev: Device, **update: object) -> Device:
    pol = Policy.model_validate({**dev.policy.model_dump(mode="json"), **update})
    return dataclasses.replace(dev, policy=pol)


# ------------------------------------------------------------------------------------- defect 2: default decisions


def test_implicit_deny_counts_unparsed_lines_after_the_filter_header(ios: Device) -> None:
    L = Lines()
    rules = [r for r in good_v4(L) if r.text not in ("submission", "permit ip any any")]  # 587 falls to the end
    pc = config(rules)
    pc.unparsed.append(Unparsed(40, "permit tcp any any eq 587 time-range T", "time-range", ACL4))
    rep = audit_parsed(ios, pc, "")
    assert Code.SUBMISSION_BLOCKED in codes(rep)
    assert rep.verdict is Verdict.UNKNOWN  # the implicit deny at the end is passed after line 40
    sub = next(f for f in rep.findings if f.code is Code.SUBMISSION_BLOCKED)
    assert "not proven: line 40, not understood" in sub.message
    # a rule that decides before the line not understood stays certain
    first = Rule(Action.DENY, 4, 6, dst_ports=port(587), line=1, text="deny tcp any any eq 587")
    pc = config([first, *rules])
    pc.unparsed.append(Unparsed(40, "permit tcp any any eq 587 time-range T", "time-range", ACL4))
    rep = audit_parsed(ios, pc, "")
    assert rep.verdict is Verdict.NONCOMPLIANT
    assert next(f for f in rep.findings if f.code is Code.SUBMISSION_BLOCKED).lines == [1]


def test_unparsed_in_earlier_filter_of_a_list_counts_for_the_next(inv: Inventory) -> None:
    """A Junos input-list: a line not understood in the first filter may decide before anything of the second,
    whatever the line numbers say."""
    from op25b_cfg.audit.model import Binding, ParsedConfig

    dev: Device = dataclasses.replace(inv.devices["bng-tyo-mx1"], pools=(inv.policy.pool("DYN-TOKYO"),))
    L = Lines()
    second = [r for r in good_v4(L) if r.text != "submission"]
    second[-1:-1] = [L(Action.DENY, dst_ports=port(587, 465), text="deny submission")]
    pc = ParsedConfig("juniper_junos")
    pc.filters[(4, "FIRST")] = Filter("FIRST", 4, [], Action.NEXT, line=500, kind="junos-filter")
    pc.filters[(4, "SECOND")] = Filter("SECOND", 4, second, Action.DENY, line=5, kind="junos-filter")
    pc.bindings.append(Binding("unit", "ge-0/0/1.100", "in", 4, ("FIRST", "SECOND"), line=900, in_use=True))
    dev = dataclasses.replace(dev, attach=tuple(a for a in dev.attach if a.kind == "unit"))
    assert audit_parsed(dev, pc, "").verdict is Verdict.NONCOMPLIANT
    pc.unparsed.append(Unparsed(501, "term x from dscp af11 then accept", "dscp", "FIRST"))
    rep = audit_parsed(dev, pc, "")
    assert Code.SUBMISSION_BLOCKED in codes(rep) and rep.verdict is Verdict.UNKNOWN


# ------------------------------------------------------------------------------- defect 6: must-pass source ports


def _bgp_first(L: Lines) -> list[Rule]:
    return [L(Action.DENY, src_ports=port(BGP), text="deny tcp any eq bgp any"), *good_v4(L)]


def test_source_port_deny_does_not_block_must_pass_traffic(ios: Device) -> None:
    rep = audit_parsed(ios, config(_bgp_first(Lines())), "")
    assert codes(rep) == [] and rep.verdict is Verdict.COMPLIANT


def test_must_pass_source_ports_is_the_policy_setting(ios: Device) -> None:
    every = with_policy(ios, must_pass_source_ports="1-65535")
    rep = audit_parsed(every, config(_bgp_first(Lines())), "")
    got = codes(rep)
    assert Code.MTA_BLOCKED in got and Code.SUBMISSION_BLOCKED in got and Code.EXEMPT_BLOCKED in got
    cx = next(f for f in rep.findings if f.code is Code.MTA_BLOCKED).counterexample
    assert cx is not None and cx.src_port == BGP
    # a narrower range that still holds 179 is honoured too
    assert Code.MTA_BLOCKED in codes(
        audit_parsed(with_policy(ios, must_pass_source_ports="100-200"), config(_bgp_first(Lines())), "")
    )


def test_leak_check_stays_exhaustive_over_source_ports(ios: Device) -> None:
    L = Lines()
    rules = [L(Action.PERMIT, src_ports=port(BGP), text="permit tcp any eq bgp any"), *good_v4(L)]
    rep = audit_parsed(ios, config(rules), "")
    [leak] = [f for f in rep.findings if f.code is Code.SMTP_LEAK]
    assert leak.counterexample is not None and leak.counterexample.src_port == BGP
    assert rep.verdict is Verdict.NONCOMPLIANT


@pytest.mark.parametrize("bad", ["0-1023", "2000-1000", "70000", "ephemeral", True, [1024, 65535]])
def test_must_pass_source_ports_is_validated(tmp_path, bad: object) -> None:  # type: ignore[no-untyped-def]
    import shutil

    import yaml

    shutil.copytree(INVENTORY, tmp_path / "inv")
    pol = yaml.safe_load((tmp_path / "inv" / "policy.yaml").read_text())
    pol["must_pass_source_ports"] = bad
    (tmp_path / "inv" / "policy.yaml").write_text(yaml.safe_dump(pol))
    with pytest.raises(InventoryError) as err:
        api.load(tmp_path / "inv")
    [problem] = err.value.problems
    assert problem.field == "must_pass_source_ports" and "policy.yaml" in problem.file and "LO-HI" in problem.fix


# ------------------------------------------------------------------- defect 1: exemptions wherever they lie


def _scoped(dev: Device, **scope: object) -> Device:
    """``dev`` with the exemptions ACME-STATIC (inside DYN-TOKYO) and BIZ, 100.66.10.0/24 (outside every pool),
    scoped by ``scope``."""
    pol = dev.policy.model_dump(mode="json")
    pol["exemptions"] = {
        "static": [pol["exemptions"]["static"][0], {"name": "BIZ", "prefix": "100.66.10.0/24", **scope}]
    }
    return dataclasses.replace(dev, policy=Policy.model_validate(pol))


def _deny_any_25(L: Lines) -> list[Rule]:
    rules = good_v4(L)
    rules[3] = L(Action.DENY, dst_ports=port(25), text="deny tcp any any eq smtp")
    return rules


def test_static_exemption_outside_the_pools_is_checked(ios: Device) -> None:
    rep = audit_parsed(ios, config(good_v4(Lines())), "")
    assert rep.verdict is Verdict.COMPLIANT
    dev = _scoped(ios)
    assert audit_parsed(dev, config(good_v4(Lines())), "").verdict is Verdict.COMPLIANT
    rules = _deny_any_25(Lines())
    rep = audit_parsed(dev, config(rules), "")
    [f] = [f for f in rep.findings if f.code is Code.EXEMPT_BLOCKED]
    assert "BIZ" in f.message and f.lines == [rules[3].line] and rep.verdict is Verdict.NONCOMPLIANT
    assert f.counterexample is not None and f.counterexample.src.startswith("100.66.10.")
    assert f.counterexample.dst not in ("192.0.2.25", "192.0.2.26")  # to a foreign host
    assert ("exempt-open virtual-template:Virtual-Template1:in v4", False) in rep.checks


def test_exemption_scope_devices_and_groups(ios: Device) -> None:
    rules = _deny_any_25(Lines())
    blocked = [
        {"devices": ["bras-tyo-ios1"]},
        {"groups": ["tokyo"]},
        {"devices": ["edge-osa-eos1"], "groups": ["tokyo"]},
    ]
    for scope in blocked:
        assert Code.EXEMPT_BLOCKED in codes(audit_parsed(_scoped(ios, **scope), config(rules), "")), scope
    for scope in ({"devices": ["edge-osa-eos1"]}, {"groups": ["osaka"]}, {"devices": [], "groups": []}):
        dev = _scoped(ios, **scope)
        assert [n for n, _ in dev.exemptions].count("BIZ") == 0
        assert audit_parsed(dev, config(rules), "").verdict is Verdict.COMPLIANT, scope


def test_exemption_not_applying_here_is_blocked_in_the_pool(ios: Device) -> None:
    """An in-pool exemption scoped to another device is pool space here: permitting it is a leak, and the
    rendered filter of this device does not carve it out."""

    pol = ios.policy.model_dump(mode="json")
    pol["exemptions"]["static"][0]["groups"] = ["osaka"]  # ACME-STATIC, inside DYN-TOKYO
    dev = dataclasses.replace(ios, policy=Policy.model_validate(pol))
    assert not any(r.name == "exempt" and r.family == 4 for r in api.plan(dev).rules)
    rep = audit_parsed(dev, config(good_v4(Lines())), "")  # permits ACME's SMTP first
    leak = [f for f in rep.findings if f.code is Code.SMTP_LEAK]
    assert leak and leak[0].counterexample is not None and leak[0].counterexample.src.startswith("100.64.200.")


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"name": "X", "prefix": "100.66.0.0/24", "devices": ["no-such-bras"]}, "exemptions.static[1].devices[0]"),
        ({"name": "X", "prefix": "100.66.0.0/24", "groups": ["tokyo", "nowhere"]}, "exemptions.static[1].groups[1]"),
    ],
)
def test_exemption_scope_names_are_validated(tmp_path, entry: dict[str, object], field: str) -> None:  # type: ignore[no-untyped-def]
    import shutil

    import yaml

    shutil.copytree(INVENTORY, tmp_path / "inv")
    pol = yaml.safe_load((tmp_path / "inv" / "policy.yaml").read_text())
    pol["exemptions"]["static"].append(entry)
    (tmp_path / "inv" / "policy.yaml").write_text(yaml.safe_dump(pol))
    with pytest.raises(InventoryError) as err:
        api.load(tmp_path / "inv")
    [problem] = err.value.problems
    assert problem.field == field and problem.file.endswith("policy.yaml")
    assert "unknown" in problem.message and "defined in" in problem.fix


def test_blocked_exemptions_are_named_at_most_five_per_attachment(ios: Device) -> None:
    pol = ios.policy.model_dump(mode="json")
    pol["exemptions"] = {"static": [{"name": f"BIZ{i}", "prefix": f"100.66.{i}.0/24"} for i in range(7)]}
    dev = dataclasses.replace(ios, policy=Policy.model_validate(pol))
    rep = audit_parsed(dev, config(_deny_any_25(Lines())), "")
    named = [f.message.split(" ")[4] for f in rep.findings if f.code is Code.EXEMPT_BLOCKED]
    assert named == ["BIZ0", "BIZ1", "BIZ2", "BIZ3", "BIZ4"]
