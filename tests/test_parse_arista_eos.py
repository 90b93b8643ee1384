"""arista_eos running-config parser: data-driven cases, round trip of op25b's own output, EOS specifics.

Case folders: ``tests/platforms/arista_eos/parser_cases/<case>/config`` + ``expected.json`` (see test_parse_cisco_ios).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from op25b_cfg.audit.parsers import parse, resolve_all
from op25b_cfg.inventory import Mode
from op25b_cfg.rules import Action
from tests.test_parse_cisco_ios import case_dirs, check_round_trip, run_case

PLATFORM = "arista_eos"


@pytest.mark.parametrize("case", case_dirs(PLATFORM), ids=lambda p: p.name)
def test_case(case: Path, update_golden: bool) -> None:
    run_case(PLATFORM, case, update_golden)


@pytest.mark.parametrize("mode", ["block", "targeted"])
def test_round_trip_generator_output(mode: Mode) -> None:
    parsed = check_round_trip(PLATFORM, mode)
    assert {(b.kind, b.in_use) for b in parsed.bindings} == {("interface", None)}


def test_traffic_policy_is_reported_never_ignored() -> None:
    text = (
        "interface Ethernet1\n   traffic-policy input TP\n!\n"
        "traffic-policies\n   traffic-policy TP\n      match M ipv4\n         destination port 25\n"
        "         actions\n            drop\n"
    )
    parsed = resolve_all(parse(PLATFORM, text))
    assert [(u.line, u.filter) for u in parsed.unparsed] == [(6, "traffic-policy TP")]  # the unmodelled match
    assert "destination port 25" in parsed.unparsed[0].reason
    assert [(b.name, b.family, b.filters) for b in parsed.bindings] == [
        ("Ethernet1", 4, ("traffic-policy TP",)),
        ("Ethernet1", 6, ("traffic-policy TP",)),
    ]


def test_traffic_policy_rules_and_defaults() -> None:
    text = (
        "interface Ethernet1\n   traffic-policy input TP\n!\n"
        "traffic-policies\n   field-set l4-port MAIL\n      25,465-587\n   !\n"
        "   field-set ipv4 prefix POOL\n      100.64.0.0/16 100.65.0.0/16\n   !\n"
        "   traffic-policy TP\n      match SMTP ipv4\n         source prefix field-set POOL\n"
        "         protocol tcp destination port field-set MAIL\n         protocol icmp type echo code all\n"
        "         !\n         actions\n            count C\n            drop\n      !\n"
        "      match OK ipv6\n         destination prefix 2001:db8::/32\n         actions\n            log\n"
        "      !\n      match ipv4-all-default ipv4\n      !\n      match ipv6-all-default ipv6\n"
        "         actions\n            drop\n"
    )
    parsed = resolve_all(parse(PLATFORM, text))
    assert parsed.unparsed == []
    v4, v6 = parsed.filter(4, "traffic-policy TP"), parsed.filter(6, "traffic-policy TP")
    assert v4 is not None and v6 is not None
    assert (v4.default, v6.default) == (Action.PERMIT, Action.DENY)
    assert [(r.action, r.protocol, [str(a) for a in r.src], [str(p) for p in r.dst_ports]) for r in v4.rules] == [
        (Action.DENY, 6, ["100.64.0.0/16", "100.65.0.0/16"], ["25", "465-587"]),
        (Action.DENY, 1, ["100.64.0.0/16", "100.65.0.0/16"], []),
    ]
    assert [(r.action, [str(a) for a in r.dst]) for r in v6.rules] == [(Action.PERMIT, ["2001:db8::/32"])]


def test_multiple_ports_after_eq() -> None:
    text = "ip access-list A\n   10 permit tcp any any eq smtp submission 465\n"
    flt = parse(PLATFORM, text).filter(4, "A")
    assert flt is not None
    assert [str(p) for p in flt.rules[0].dst_ports] == ["25", "587", "465"]
