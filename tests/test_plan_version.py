"""The filter version id: sha256 of the canonical plan serialisation ``op25b.plan/1`` (docs/decisions.md).

The id is in every filter name on every router, so it is pinned: a fixed intent gives a fixed id, the
serialisation is written out here from the documented format without any op25b class, and renaming or
reordering the rule model's classes and fields cannot change it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, cast

import pytest

from op25b_cfg import api
from op25b_cfg.errors import InventoryError
from op25b_cfg.inventory import Inventory
from op25b_cfg.rules import PLAN_FORMAT, FilterPlan, Rule, build_plan, canonical_plan, plan_document, version_id
from tests.test_golden import CASES, materialise

SAMPLE = Path(__file__).resolve().parent.parent / "inventory"

# The sample inventory's ids (every filter name in inventory/running/ and the README carries them). A sample
# device not listed (one per added platform) must have one of these ids: it shares the pools and settings of
# another sample device, so its plan is that device's plan.
GOLDEN_IDS = {
    "bras-tyo-ios1": "b1a88b08",
    "bng-tyo-mx1": "b1a88b08",  # same pools and settings as bras-tyo-ios1: the same plan
    "bras-osa-xr1": "79b17a7e",
    "edge-osa-eos1": "f88acf66",
    "bras-tyo-lnx1": "23c3087f",
}


@pytest.fixture(scope="module")
def sample() -> Inventory:
    return api.load(SAMPLE)


def test_sample_inventory_ids_are_pinned(sample: Inventory) -> None:
    ids = {name: build_plan(dev).version for name, dev in sample.devices.items()}
    assert {n: v for n, v in ids.items() if n in GOLDEN_IDS} == {n: v for n, v in GOLDEN_IDS.items() if n in ids}
    assert set(ids.values()) <= set(GOLDEN_IDS.values()), "a sample device with a plan no other device has"
    assert {n: v for n, v in ids.items() if n not in GOLDEN_IDS}, "the sample has devices beyond the pinned five"


def handwritten_document() -> dict[str, Any]:
    """bras-tyo-lnx1's plan (flow-control, both families, exemption, MTAs, submission, log, counters), written
    from the documented format alone: plain dicts, no op25b type."""
    limit = {"burst": 5, "ipv6_subscriber_length": 64, "max_sessions": 10, "new_per_second": 1}

    def family(fam: int) -> list[dict[str, Any]]:
        tcp = {"family": fam, "protocol": 6, "dst_ports": [25]}
        pool = f"OP25B-POOL-V{fam}"
        return [
            {**tcp, "action": "permit", "name": "exempt", "src_set": f"OP25B-EXEMPT-V{fam}",
             "counter": "OP25B-EXEMPT", "remark": "exempt static customers and opt-outs"},
            {**tcp, "action": "permit", "name": "mta", "src_set": pool, "dst_set": f"OP25B-MTA-V{fam}",
             "counter": "OP25B-MTA", "remark": "ISP mail relays"},
            {**tcp, "action": "permit", "name": "submission", "src_set": pool, "dst_ports": [587, 465],
             "counter": "OP25B-SUBMISSION", "remark": "mail submission stays open"},
            {**tcp, "action": "limit", "name": "limit", "src_set": pool, "tcp_flags": [[2, 2]], "limit": limit,
             "log": True, "counter": "OP25B-LIMIT", "remark": "per-subscriber SMTP flow control"},
            {"family": fam, "action": "permit", "name": "default", "remark": "all other traffic"},
        ]  # fmt: skip

    return {
        "policy": "example-isp-op25b",
        "mode": "flow-control",
        "flow": limit,
        "submission_ports": [587, 465],
        "sets": {
            "OP25B-POOL-V4": {"family": 4, "prefixes": ["100.64.0.0/16"]},
            "OP25B-EXEMPT-V4": {"family": 4, "prefixes": ["100.64.200.0/24"]},
            "OP25B-MTA-V4": {"family": 4, "prefixes": ["192.0.2.25/32", "192.0.2.26/32"]},
            "OP25B-POOL-V6": {"family": 6, "prefixes": ["2001:db8:8000::/33"]},
            "OP25B-EXEMPT-V6": {"family": 6, "prefixes": ["2001:db8:8000:4711::/64"]},
            "OP25B-MTA-V6": {"family": 6, "prefixes": ["2001:db8:25::25/128"]},
        },
        "rules": family(4) + family(6),
    }


def test_id_is_the_hash_of_the_documented_serialisation(sample: Inventory) -> None:
    text = "op25b.plan/1\n" + json.dumps(
        handwritten_document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    plan = build_plan(sample.devices["bras-tyo-lnx1"])
    assert canonical_plan(plan) == text
    assert plan.version == hashlib.sha256(text.encode()).hexdigest()[:8] == GOLDEN_IDS["bras-tyo-lnx1"]
    assert PLAN_FORMAT == "op25b.plan/1"


def renamed(plan: FilterPlan) -> FilterPlan:
    """The same plan with its rules as instances of another class, fields renamed in Python order and a new
    parser-only field: what a refactoring of the rule model looks like from the serialiser's side."""
    names = [f.name for f in dataclasses.fields(Rule)]
    other = dataclasses.make_dataclass(
        "RefactoredRule", [*reversed(names), ("vrf", str, dataclasses.field(default=""))]
    )
    rules = tuple(other(**{n: getattr(r, n) for n in names}) for r in plan.rules)
    return dataclasses.replace(plan, rules=cast(tuple[Rule, ...], rules))


def test_class_names_field_order_and_new_default_fields_do_not_change_the_id(sample: Inventory) -> None:
    for dev in sample.devices.values():
        plan = build_plan(dev)
        assert canonical_plan(renamed(plan)) == canonical_plan(plan)
        assert version_id(canonical_plan(renamed(plan))) == plan.version


def test_parsed_rule_locations_are_not_part_of_the_plan(sample: Inventory) -> None:
    plan = build_plan(sample.devices["bras-tyo-ios1"])
    located = tuple(dataclasses.replace(r, line=i + 10, text=f"line {i}") for i, r in enumerate(plan.rules))
    assert canonical_plan(dataclasses.replace(plan, rules=located)) == canonical_plan(plan)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: dataclasses.replace(r, remark=r.remark + "!"),
        lambda r: dataclasses.replace(r, log=not r.log),
        lambda r: dataclasses.replace(r, name="other"),
        lambda r: dataclasses.replace(r, counter="OP25B-OTHER"),
    ],
    ids=["remark", "log", "name", "counter"],
)
def test_every_rendered_field_is_in_the_id(sample: Inventory, change: Any) -> None:
    plan = build_plan(sample.devices["bras-tyo-ios1"])
    changed = dataclasses.replace(plan, rules=(change(plan.rules[0]), *plan.rules[1:]))
    assert version_id(canonical_plan(changed)) != plan.version


def test_a_rule_that_names_a_set_must_hold_its_addresses(sample: Inventory) -> None:
    plan = build_plan(sample.devices["bras-tyo-ios1"])
    wrong = dataclasses.replace(plan.rules[1], src=plan.rules[0].src)  # the mta rule with the exemption's addresses
    with pytest.raises(ValueError, match="differ from set 'OP25B-POOL-V4'"):
        plan_document(dataclasses.replace(plan, rules=(plan.rules[0], wrong, *plan.rules[2:])))


@pytest.mark.parametrize("case", [c for c in CASES if not c.wants_error], ids=lambda c: c.id)
def test_fast_assembly_equals_the_reference_serialisation(case: Any, tmp_path: Path) -> None:
    """build_plan assembles the canonical text from cached per-family fragments; it must equal
    canonical_plan() for every golden intent."""
    inv_dir, device = materialise(case, tmp_path)
    try:
        dev = api.load(inv_dir).devices[device]
    except InventoryError:
        pytest.fail(f"{case.id} renders but its inventory does not load")
    plan = build_plan(dev)
    assert plan.version == version_id(canonical_plan(plan))
