"""arista_eos running-config parser: data-driven cases, round trip of op25b's own output, EOS specifics.

Case folders: ``tests/parser_cases/arista_eos/<case>/config`` + ``expected.json`` (see test_parse_cisco_ios).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from op25b_cfg.audit.parsers import parse
from op25b_cfg.inventory import Mode
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
    parsed = parse(PLATFORM, text)
    assert [(u.line, u.filter) for u in parsed.unparsed] == [(2, "traffic-policy TP"), (5, "traffic-policy TP")]
    assert len(parsed.notes) == 2 and all("not modelled" in n for n in parsed.notes)


def test_multiple_ports_after_eq() -> None:
    text = "ip access-list A\n   10 permit tcp any any eq smtp submission 465\n"
    flt = parse(PLATFORM, text).filter(4, "A")
    assert flt is not None
    assert [str(p) for p in flt.rules[0].dst_ports] == ["25", "587", "465"]
