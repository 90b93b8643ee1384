"""``op25b effect collect`` against the VRP emulator through op25b's VRP session (netmiko ``huawei``), as VRP8
(``(N times matched)``) and VRP5 (``(N matches)``, no count before the first match): the same checks as the
Cisco-style platforms (tests/test_effect_collect.py), and the reader against the documented output."""

from __future__ import annotations

import pytest

from op25b_cfg.platforms.huawei_vrp.counters import parse_display_acl
from op25b_cfg.platforms.huawei_vrp.emulator import acl_entries
from tests.test_effect_collect import EVERY_PURPOSE_OSAKA, Bench, acl_hits, read_attributed_and_reset
from tests.test_effect_collect import bench as bench  # the fixture

DEVICE = "edge-osa-vrp1"


@pytest.mark.parametrize("version", [8, 5])
def test_rule_counters_are_read_attributed_and_reset(bench: Bench, version: int) -> None:
    emu = bench.one(DEVICE)
    emu.version = version  # before the session connects: VRP5 is an AR router's CLI
    hit = acl_hits(emu, lambda e: acl_entries(e.running))
    read_attributed_and_reset(bench, DEVICE, hit, "permit tcp source 100.65.3.7", "DYN-OSAKA")


def test_every_purpose_is_stored_as_counted(bench: Bench) -> None:
    emu = bench.one(DEVICE)
    hit = acl_hits(emu, lambda e: acl_entries(e.running))
    hit(4, "permit tcp source 100.65.3.7", 2)  # exempt
    hit(4, "permit tcp source 100.65.0.0 0.0.255.255 destination 192.0.2.25", 11)  # relay 1
    hit(4, "permit tcp source 100.65.0.0 0.0.255.255 destination 192.0.2.26", 4)  # relay 2
    hit(4, "permit tcp source 100.65.0.0 0.0.255.255 destination-port eq 587", 9)
    hit(4, "permit tcp source 100.65.0.0 0.0.255.255 destination-port eq 465", 1)
    hit(4, "deny tcp", 30)
    hit(4, "permit ip", 1000)  # the final permit counts no OP25B purpose
    hit(6, "deny tcp", 5)
    hit(6, "permit tcp source 2001:DB8:8000::/33 destination-port eq 587", 3)
    code, out = bench.collect(DEVICE)
    assert code == 0, out
    assert bench.totals() == EVERY_PURPOSE_OSAKA


# Huawei's command reference for ``display acl`` (CloudEngine V300R023C00, VRP8), its example (a public copy:
# github.com/WheaterW/INTA-project, nassim-main/corpus/hw/hw_CE6800_V300R023C00/cmd_corpus/References/
# Command_Reference/Command_Reference/IP_Addresses_and_Services/ACL_Configuration_Commands/display_acl.md); and an
# AR router's (VRP5) answer as published in public notes: the ACL's description on its own line after the header.
VRP8_DOC = """Basic ACL 2001, 2 rules
ACL's step is 5
 rule 5 permit source 10.1.1.1 0 (2 times matched)
 rule 10 permit source 10.2.1.1 0 (3 times matched)
"""
VRP5_NOTE = """Basic ACL 2999, 3 rules
MGMT-ACCESS
Acl's step is 5
 rule 5 permit source 10.0.1.0 0.0.0.255 (38 matches)
 rule 3000 deny (180 matches)
"""


@pytest.mark.parametrize(
    ("text", "expected"), [(VRP8_DOC, [("5", 2), ("10", 3)]), (VRP5_NOTE, [("5", 38), ("3000", 180)])]
)
def test_documented_formats(text: str, expected: list[tuple[str, int]]) -> None:
    """The counts of the documented outputs are read (``prefix=""``: these ACLs are not op25b's); an op25b
    prefix leaves numbered ACLs out."""
    assert [(r.counter, r.packets) for r in parse_display_acl(text, 4, prefix="")] == expected
    assert parse_display_acl(text, 4) == []
