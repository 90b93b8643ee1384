"""huawei_vrp running-config parser: data-driven cases, round trip of op25b's own output, VRP semantics.

Case folders: ``tests/platforms/huawei_vrp/parser_cases/<case>/config`` + ``expected.json`` (see
tests/test_parse_cisco_ios.py; rewrite with ``--update-golden``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from op25b_cfg.inventory import Mode
from op25b_cfg.platforms import get_platform
from op25b_cfg.rules import Action
from tests.test_parse_cisco_ios import case_dirs, check_round_trip, run_case

PLATFORM = "huawei_vrp"


def parse(text: str):  # type: ignore[no-untyped-def]
    return get_platform(PLATFORM).parse(text)


@pytest.mark.parametrize("case", case_dirs(PLATFORM), ids=lambda p: p.name)
def test_case(case: Path, update_golden: bool) -> None:
    run_case(PLATFORM, case, update_golden)


@pytest.mark.parametrize("mode", ["block", "targeted"])
def test_round_trip_generator_output(mode: Mode) -> None:
    parsed = check_round_trip(PLATFORM, mode)
    assert {b.kind for b in parsed.bindings} == {"interface"}
    assert all(f.default is Action.PERMIT for f in parsed.filters.values())


def test_unmatched_packets_are_permitted() -> None:
    """A traffic-filter ACL has no implicit deny: its default is PERMIT (an IOS ACL's is DENY)."""
    (flt,) = parse("acl number 3001\n rule 5 deny tcp destination-port eq smtp\n#\n").filters.values()
    assert flt.default is Action.PERMIT
    assert (
        get_platform("cisco_ios")
        .parse("ip access-list extended A\n deny tcp any any eq 25\n")
        .filters[(4, "A")]
        .default
        is Action.DENY
    )


def test_rules_are_evaluated_in_rule_id_order() -> None:
    text = "acl number 3001\n rule 20 deny tcp\n rule 10 permit tcp destination-port eq smtp\n rule permit ip\n"
    flt = parse(text).filters[(4, "3001")]
    assert [(r.name, r.action) for r in flt.rules] == [("10", "permit"), ("20", "deny"), ("25", "permit")]


def test_rule_without_id_follows_step() -> None:
    text = "acl number 3001\n step 10\n rule 5 deny tcp\n rule permit ip\n undo step\n rule permit udp\n"
    assert [r.name for r in parse(text).filters[(4, "3001")].rules] == ["5", "10", "15"]


def test_undo_rule_and_undo_acl() -> None:
    text = (
        "acl number 3001\n rule 5 deny tcp\n rule 10 permit ip\n undo rule 5\n#\n"
        "acl name X\n rule 5 deny ip\n#\nundo acl name X\n"
    )
    parsed = parse(text)
    assert [r.name for r in parsed.filters[(4, "3001")].rules] == ["10"]
    assert (4, "X") not in parsed.filters


def test_duplicate_rule_id_is_unparsed() -> None:
    parsed = parse("acl number 3001\n rule 5 deny tcp\n rule 5 permit ip\n")
    assert parsed.filters[(4, "3001")].rules == []
    assert [u.line for u in parsed.unparsed] == [3] and parsed.unparsed[0].filter == "3001"


def test_binding_by_number_resolves_to_the_named_acl() -> None:
    text = "acl name SMTP 3005\n rule 5 deny tcp\n#\ninterface Eth-Trunk1.10\n traffic-filter inbound acl 3005\n"
    (b,) = parse(text).bindings
    assert (b.kind, b.name, b.direction, b.family, b.filters) == ("interface", "Eth-Trunk1.10", "in", 4, ("SMTP",))


def test_wildcards_masks_and_host() -> None:
    text = (
        "acl number 3001\n rule 5 deny tcp source 10.0.0.1 0 destination 10.1.0.0 0.0.255.255\n"
        " rule 10 deny tcp source 10.2.0.0 255.255.0.0 destination 10.3.0.7 0.0.255.0\n"
    )
    r1, r2 = parse(text).filters[(4, "3001")].rules
    assert (str(r1.src[0]), str(r1.dst[0])) == ("10.0.0.1/32", "10.1.0.0/16")
    assert (str(r2.src[0]), str(r2.dst[0])) == ("10.2.0.0/16", "10.3.0.7/0.0.255.0")  # non-contiguous wildcard


def test_parser_never_raises_on_garbage() -> None:
    for text in (
        "acl\n",
        "acl name\n rule\n",
        "interface\n traffic-filter\n",
        "rule 5 permit\n",
        "\x00acl 3000\n rule x",
    ):
        parse(text)


def test_undo_traffic_filter_short_form() -> None:
    text = (
        "interface Eth-Trunk1.10\n traffic-filter inbound acl 3001\n traffic-filter inbound ipv6 acl 3001\n#\n"
        "interface Eth-Trunk1.10\n undo traffic-filter inbound ipv6\n#\n"
    )
    parsed = parse(text)
    assert [(b.family, b.filters) for b in parsed.bindings] == [(4, ("3001",))] and parsed.unparsed == []
