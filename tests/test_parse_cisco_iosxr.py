"""cisco_iosxr running-config parser: data-driven cases, round trip of op25b's own output, XR specifics.

Case folders: ``tests/platforms/cisco_iosxr/parser_cases/<case>/config`` + ``expected.json`` (see test_parse_cisco_ios).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from op25b_cfg.audit.parsers import parse
from op25b_cfg.inventory import Mode
from tests.test_parse_cisco_ios import case_dirs, check_round_trip, run_case

PLATFORM = "cisco_iosxr"


@pytest.mark.parametrize("case", case_dirs(PLATFORM), ids=lambda p: p.name)
def test_case(case: Path, update_golden: bool) -> None:
    run_case(PLATFORM, case, update_golden)


@pytest.mark.parametrize("mode", ["block", "targeted"])
def test_round_trip_generator_output(mode: Mode) -> None:
    parsed = check_round_trip(PLATFORM, mode)
    kinds = {(b.kind, b.in_use) for b in parsed.bindings}
    assert kinds == {("interface", None), ("dynamic-template", False)}  # no control policy activates it


def test_common_acl_is_evaluated_first() -> None:
    text = "interface GigabitEthernet0/0/0/0\n ipv4 access-group common C I ingress hardware-count\n"
    (b,) = parse(PLATFORM, text).bindings
    assert (b.direction, b.family, b.filters) == ("in", 4, ("C", "I"))


def test_dynamic_template_activation() -> None:
    text = (
        "policy-map type control subscriber PM\n event session-start match-first\n"
        "  class type control subscriber class-default do-until-failure\n   10 activate dynamic-template USED\n"
        "dynamic-template\n type ppp USED\n  ipv4 access-group A ingress\n !\n type ipsubscriber IDLE\n"
        "  ipv6 access-group B ingress\n !\n type service SVC\n  ipv4 access-group A egress\n"
    )
    got = {(b.name, b.family, b.direction, b.in_use) for b in parse(PLATFORM, text).bindings}
    assert got == {("USED", 4, "in", True), ("IDLE", 6, "in", False), ("SVC", 4, "out", None)}
