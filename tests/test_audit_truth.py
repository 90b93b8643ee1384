"""Issue 8 (audit truth), engine part: what a finding may claim as proven.

* a default decision (implicit deny, chain policy) counts every line not understood in the filters it passed;
* must-pass checks ask about the ephemeral source ports (``must_pass_source_ports``), the leak check about all;
* static exemptions and opt-outs are checked wherever they lie, where the inventory says they apply;
* NOT_APPLIED names only a filter that implements OP25B for the pool and is not used for another purpose;
* a device audit has a time budget.

The case folders under tests/audit_cases/ reproduce each defect on the platforms' own syntax; these tests pin the
engine rules on hand-built configs.
"""

from __future__ import annotations

import dataclasses

import pytest

from op25b_cfg.audit.engine import audit_parsed
from op25b_cfg.audit.model import Code, Filter, Unparsed, Verdict
from op25b_cfg.errors import InventoryError
from op25b_cfg.inventory import Device, Inventory, Policy, load_inventory
from op25b_cfg.rules import Action, Rule
from tests.test_engine import ACL4, INVENTORY, Lines, codes, config, good_v4, port

BGP = 179


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(INVENTORY)


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
    assert "not proven" in sub.message
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
        load_inventory(tmp_path / "inv")
    [problem] = err.value.problems
    assert problem.field == "must_pass_source_ports" and "policy.yaml" in problem.file and "LO-HI" in problem.fix
