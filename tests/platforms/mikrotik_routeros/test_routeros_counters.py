"""``op25b effect collect`` against the RouterOS emulator through op25b's RouterOS session (netmiko
``mikrotik_routeros`` login, one exec channel per command): ``print stats`` of both filter menus, joined with
``print terse show-ids`` of the rules and address lists; the same checks as the ACL platforms
(tests/test_effect_collect.py)."""

from __future__ import annotations

from op25b_cfg.platforms.mikrotik_routeros.counters import parse_stats
from op25b_cfg.platforms.mikrotik_routeros.emulator import filter_entries
from tests.test_effect_collect import EVERY_PURPOSE_OSAKA, Bench, acl_hits, read_attributed_and_reset
from tests.test_effect_collect import bench as bench  # the fixture

DEVICE = "bras-osa-ros1"


def test_rule_counters_are_read_attributed_and_reset(bench: Bench) -> None:
    emu = bench.one(DEVICE)
    hit = acl_hits(emu, filter_entries)
    read_attributed_and_reset(bench, DEVICE, hit, "action=return", "DYN-OSAKA", block="action=reject")


def test_every_purpose_is_stored_as_counted(bench: Bench) -> None:
    """Each verdict rule of op25b's chains is stored with the packets and bytes the router counted; the log rule
    (it only logs) and the forward jump (all subscriber traffic) are not OP25B counters."""
    emu = bench.one(DEVICE)
    counts = {4: [2, 15, 10, 999, 30], 6: [0, 0, 3, 999, 5]}  # exempt, relays, submission, log, block
    for family, chain, rows in filter_entries(emu):
        if chain.startswith("OP25B-"):
            assert [props.split()[0] for _, props in rows] == ["action=return"] * 3 + ["action=log", "action=reject"]
            for (item_id, _), packets in zip(rows, counts[family], strict=True):
                emu.counters.add(chain, item_id, packets, 100 * packets)
        else:
            for item_id, _ in rows:
                emu.counters.add(chain, item_id, 5000)
    code, out = bench.collect(DEVICE)
    assert code == 0, out
    assert bench.totals() == EVERY_PURPOSE_OSAKA
    from op25b_cfg.effect.db import EffectDB

    with EffectDB.open(bench.db) as db:
        assert {r.bytes for r in db.samples() if r.purpose == "blocked"} == {3000, 500}


def test_flow_control_counts_limit_hits_not_the_connections_under_the_rate() -> None:
    """The flow-control chain: the ``connection-limit`` reject and the reject after the ``dst-limit`` return are
    limit hits; the ``dst-limit`` return (connections under the rate) and the log rule are not read."""
    lists = "*1 address=100.65.0.0/16 list=OP25B-POOL-V4-88c49415"
    pool = "connection-state=new dst-port=25 protocol=tcp src-address-list=OP25B-POOL-V4-88c49415"
    rules = "\n".join(
        [
            f"*2 action=log chain=OP25B-V4-88c49415 {pool}",
            f"*3 action=reject chain=OP25B-V4-88c49415 connection-limit=10,32 {pool}",
            f"*4 action=return chain=OP25B-V4-88c49415 dst-limit=2,8,src-address/1m {pool}",
            f"*5 action=reject chain=OP25B-V4-88c49415 {pool}",
        ]
    )
    actions = {2: "log", 3: "reject", 4: "return", 5: "reject"}
    stats = "\n".join(f"*{n} chain=OP25B-V4-88c49415 action={a} bytes={60 * n} packets={n}" for n, a in actions.items())
    readings = parse_stats(lists, rules, stats, 4)
    assert [(r.counter, r.packets, r.rule is not None) for r in readings] == [("*3", 3, True), ("*5", 5, True)]
