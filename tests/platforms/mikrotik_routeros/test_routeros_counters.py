"""``op25b effect collect`` against the RouterOS emulator through op25b's RouterOS session (netmiko
``mikrotik_routeros`` login, one exec channel per command): ``:put [... print as-value stats ...]`` of both filter
menus, joined with ``print terse show-ids`` of the rules and address lists; the same checks as the ACL platforms
(tests/test_effect_collect.py); and the two output shapes of RouterOS's rule stats against real samples."""

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
    stats = ";".join(
        f".id=*{n};action={a};bytes={60 * n};chain=OP25B-V4-88c49415;packets={n}" for n, a in actions.items()
    )
    readings = parse_stats(lists, rules, stats, 4)
    assert [(r.counter, r.packets, r.rule is not None) for r in readings] == [("*3", 3, True), ("*5", 5, True)]


MANUAL_PRINT_STATS = """\
[admin@MikroTik] > ip firewall filter print stats
Flags: X - disabled, I - invalid, D - dynamic
 #    CHAIN                                                             ACTION                BYTES         PACKETS
 0  D ;;; special dummy rule to show fasttrack counters
      forward                                                           passthrough  50 507 925 242      50 048 246
 1    ;;; defconf: drop invalid
      forward                                                           drop                432 270           9 719
"""
"""``print stats`` as MikroTik's manual shows it (help.mikrotik.com, "Common Firewall Matchers and Actions", Stats;
the first two rows): a column table, numbers grouped by spaces. The excerpt the manual's text gives has lost its
column alignment; the alignment here is the usual RouterOS table's."""

MEASURED_AS_VALUE = (
    ".id=*2;disabled=false;name=ether1;running=true;rx-byte=79740110494;rx-drop=0;rx-error=0;rx-packet=105512018;"
    "tx-byte=119752269836;tx-drop=0;tx-error=0;tx-packet=121576454;tx-queue-drop=2234046;.id=*3;disabled=false;"
    "name=ether2;running=true;rx-byte=1;rx-drop=0;rx-error=0;rx-packet=1;tx-byte=2;tx-drop=0;tx-error=0;tx-packet=2;"
    "tx-queue-drop=0\n"
)
"""``:put [/interface/print as-value stats]`` as a public RouterOS client quotes it, measured on RouterOS 7.20.8
(the first item verbatim; the second shortened): one line, items' fields joined by ``;``, ``.id`` first, then the
fields in alphabetical order, values unquoted."""


def test_the_reader_splits_a_real_as_value_answer_into_its_items() -> None:
    from op25b_cfg.platforms.mikrotik_routeros.counters import as_value_records

    items = as_value_records(MEASURED_AS_VALUE)
    assert [(i[".id"], i["name"], i["rx-byte"], i["tx-packet"]) for i in items] == [
        ("*2", "ether1", "79740110494", "121576454"),
        ("*3", "ether2", "1", "2"),
    ]


def test_the_emulator_prints_stats_as_the_manual_shows_and_as_value_as_measured() -> None:
    """``print stats`` (with or without ``terse``) is the manual's column table, which has no ``key=value`` for the
    reader; ``:put [... print as-value stats ...]`` is the measured shape, and the reader reads it."""
    from op25b_cfg.platforms.mikrotik_routeros.counters import as_value_records, stats_command
    from op25b_cfg.platforms.mikrotik_routeros.emulator import RouterosEmulator

    emu = RouterosEmulator(initial_config="", hostname="ros")
    emu.run(
        '/ip firewall filter add action=drop chain=forward comment="defconf: drop invalid" connection-state=invalid'
    )
    emu.run("/ip firewall filter add action=reject chain=OP25B-V4-1a2b3c4d dst-port=25 protocol=tcp")
    ids = {chain: rows[-1][0] for fam, chain, rows in filter_entries(emu) if fam == 4}  # the rules just added
    emu.counters.add("forward", ids["forward"], 9719, 432270)
    emu.counters.add("OP25B-V4-1a2b3c4d", ids["OP25B-V4-1a2b3c4d"], 10, 600)
    table = emu.run("/ip firewall filter print stats terse show-ids without-paging").splitlines()
    assert table[0] == MANUAL_PRINT_STATS.splitlines()[1]  # the flags legend
    assert table[1].split() == ["#", "CHAIN", "ACTION", "BYTES", "PACKETS"]
    assert not any("=" in line for line in table)
    at = next(i for i, line in enumerate(table) if line.endswith(";;; defconf: drop invalid"))
    assert table[at + 1].split() == ["forward", "drop", "432", "270", "9", "719"]  # as the manual's row
    answer = emu.run(stats_command("/ip firewall filter"))  # op25b's chains only
    assert answer.count("\n") == 1 and answer.startswith(f".id={ids['OP25B-V4-1a2b3c4d']};action=reject;bytes=600;")
    assert [(i["chain"], i["bytes"], i["packets"], i["dst-port"]) for i in as_value_records(answer)] == [
        ("OP25B-V4-1a2b3c4d", "600", "10", "25")
    ]
