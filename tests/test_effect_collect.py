"""``op25b effect collect`` against the protocol emulators, driven by the real napalm drivers: each platform's
counter reader (:meth:`Platform.read_counters`) reads the device's own output format, the counters land in
the database attributed to the right pool and purpose, increases are exact and a reload is a reset."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner

from op25b_cfg import api
from op25b_cfg.cli import app
from op25b_cfg.dialects.cisco_blocks import acl_entries
from op25b_cfg.effect.db import EffectDB
from tests.labutil import sample_render
from tests.test_audit_live import EOS, IOS, MX, PASSWORD, USERNAME, XR, Fleet

POOL_V4 = {IOS: "DYN-TOKYO", XR: "DYN-OSAKA", EOS: "DYN-OSAKA", MX: "DYN-TOKYO"}
EXTRA = {EOS: ["--driver-arg", "transport=http", "--allow-cleartext"]}


class Bench(Fleet):
    """One emulator seeded with the device's rendered OP25B config (tests/test_audit_live.py's fleet), and
    ``op25b effect collect`` against it."""

    @property
    def db(self) -> str:
        return str(self.root / "op25b.db")

    def one(self, device: str) -> Any:
        self.start({device: sample_render(device)})
        return self.emus[device]

    def collect(self, device: str) -> tuple[int, str]:
        args = ["effect", "collect", "-i", str(self.inventory), "-d", device, "--db", self.db, "--timeout", "15"]
        if device in EXTRA:
            args += EXTRA[device]
        else:
            args += ["--known-hosts", str(self.known_hosts), "--driver-arg", "read_timeout_override=4"]
        res = CliRunner().invoke(app, args)
        return res.exit_code, res.output

    def totals(self) -> dict[tuple[str, str], int]:
        """Summed increases per (pool, purpose) in the database."""
        out: dict[tuple[str, str], int] = {}
        with EffectDB.open(self.db) as db:
            for r in db.samples():
                out[(r.pool, r.purpose)] = out.get((r.pool, r.purpose), 0) + r.delta_packets
        return out


B = TypeVar("B", bound=Bench)


@contextmanager
def started(kind: type[B], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[B]:
    """A bench of class ``kind`` with the lab credentials; its emulators stop at the end."""
    monkeypatch.setenv("OP25B_USERNAME", USERNAME)
    monkeypatch.setenv("OP25B_PASSWORD", PASSWORD)
    b = kind(tmp_path / "fleet")
    b.root.mkdir()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bench]:
    with started(Bench, tmp_path, monkeypatch) as b:
        yield b


def test_junos_firewall_counters_per_family(bench: Bench) -> None:
    emu = bench.one(MX)
    version = next(w for w in emu.running_config.split() if w.startswith("OP25B-V4-"))
    v4, v6 = version, version.replace("-V4-", "-V6-")
    emu.counters.add(v4, "OP25B-BLOCK", 30)
    emu.counters.add(v4, "OP25B-MTA", 11)
    emu.counters.add(v6, "OP25B-BLOCK", 2)
    emu.counters.add(v6, "OP25B-SUBMISSION", 5)
    code, out = bench.collect(MX)
    assert code == 0, out
    totals = bench.totals()
    assert totals[("DYN-TOKYO", "blocked")] == 30 and totals[("DYN-TOKYO", "mta")] == 11
    assert totals[("DYN-V6", "blocked")] == 2 and totals[("DYN-V6", "submission")] == 5
    assert totals[("DYN-TOKYO", "exempt")] == 0
    emu.counters.add(v4, "OP25B-BLOCK", 4)
    assert bench.collect(MX)[0] == 0
    assert bench.totals()[("DYN-TOKYO", "blocked")] == 34


def acl_hits(
    emu: Any, acls: Callable[[Any], list[tuple[int, str, list[tuple[int, str]]]]] | None = None
) -> Callable[[int, str, int], None]:
    """``hit(family, entry start, packets)``: count packets on the entry of the OP25B ACL of that family
    whose text starts with the given words (e.g. ``deny tcp``, ``permit tcp 2001:db8:8000::/33 any eq 587``).
    ``acls(emu)`` lists the emulator's ACLs as (family, name, [(entry id, text)]) (default: Cisco-style)."""

    def hit(family: int, start: str, packets: int) -> None:
        for fam, name, entries in (acls or (lambda e: acl_entries(e.running.root)))(emu):
            if fam != family or not name.startswith("OP25B-"):
                continue
            for seq, text in entries:
                if text.startswith(start):
                    emu.counters.add(name, seq, packets)
                    return
        raise AssertionError(f"no entry {start!r} in the IPv{family} OP25B ACL")

    return hit


def read_attributed_and_reset(
    bench: Bench,
    device: str,
    hit: Callable[[int, str, int], None],
    exempt: str,
    pool: str,
    block: str = "deny tcp",
) -> None:
    """The per-entry counter checks every ACL platform passes: ``effect collect`` stores each OP25B entry's
    count exactly as the emulator counted it, attributed to the device's IPv4 ``pool`` and ``DYN-V6``;
    increases are exact and a reload is a reset. ``exempt`` and ``block`` start the exemption's and the
    block's entry text."""
    emu = bench.emus[device]
    hit(4, block, 40)
    hit(4, exempt, 0)  # the exemption entry: never matched (IOS and VRP5 print no count)
    hit(6, block, 7)
    code, out = bench.collect(device)
    assert code == 0, out
    first = bench.totals()
    assert first[(pool, "blocked")] == 40
    assert first[("DYN-V6", "blocked")] == 7
    assert first[(pool, "mta")] == 0 and first[("DYN-V6", "submission")] == 0
    with EffectDB.open(bench.db) as db:
        stored = {r.counter: r.packets for r in db.samples()}
    assert len(stored) >= 6
    for key, packets in stored.items():  # "<filter> <entry id>": what the emulator counted, no more, no less
        acl, _, seq = key.rpartition(" ")
        assert packets == emu.counters.get(acl, int(seq) if seq.isdigit() else seq)[0], key
    hit(4, block, 5)
    assert bench.collect(device)[0] == 0
    assert bench.totals()[(pool, "blocked")] == 45  # 40, then the increase of 5
    emu.counters.clear()  # the router reloaded
    hit(4, block, 3)
    assert bench.collect(device)[0] == 0
    with EffectDB.open(bench.db) as db:
        blocked = [r for r in db.samples() if r.purpose == "blocked" and r.pool == pool]
    assert [(r.packets, r.delta_packets, r.reset) for r in blocked] == [(40, 40, True), (45, 5, False), (3, 3, True)]
    assert bench.totals()[(pool, "blocked")] == 48


EVERY_PURPOSE_OSAKA = {
    ("DYN-OSAKA", "exempt"): 2,
    ("DYN-OSAKA", "mta"): 15,
    ("DYN-OSAKA", "submission"): 10,
    ("DYN-OSAKA", "blocked"): 30,
    ("DYN-V6", "exempt"): 0,
    ("DYN-V6", "mta"): 0,
    ("DYN-V6", "submission"): 3,
    ("DYN-V6", "blocked"): 5,
}
"""The totals per (pool, purpose) of an Osaka device whose entries counted: exemption 2, relays 11 + 4,
submission 9 + 1 (587, 465), block 30; IPv6 submission 3, block 5 (the platform tests' "every purpose" case)."""


@pytest.mark.parametrize("device", [IOS, XR, EOS])
def test_cisco_acl_counters_are_read_attributed_and_reset(bench: Bench, device: str) -> None:
    read_attributed_and_reset(bench, device, acl_hits(bench.one(device)), "permit tcp 100.6", POOL_V4[device])


def test_flow_control_class_acl_entries_are_not_blocks(tmp_path: Path) -> None:
    """An IOS flow-control class ACL writes the exemption and relay rules as ``deny`` (left out of the policed
    class): their counters are exempt and relay traffic, never blocked attempts; the policed entry is
    ``flow_applies`` (what the limit applies to, not its hits). Read from the emulator's ``show ip
    access-lists`` with the IOS reader."""
    import yaml

    from op25b_cfg.dialects.cisco_counters import parse_show_access_lists
    from op25b_cfg.effect.attribute import attribute
    from op25b_cfg.platforms.cisco_ios.emulator import IosEmulator, show_access_lists
    from tests.labutil import REPO

    inv = tmp_path / "inventory"
    inv.mkdir()
    for name in ("policy.yaml", "groups.yaml", "defaults.yaml"):
        (inv / name).write_text((REPO / "inventory" / name).read_text(encoding="utf-8"), encoding="utf-8")
    hosts = yaml.safe_load((REPO / "inventory" / "hosts.yaml").read_text(encoding="utf-8"))
    host = hosts[IOS]
    host["data"] |= {"mode": "flow-control", "flow_control": {"max_sessions": None, "new_per_second": 1, "burst": 5}}
    (inv / "hosts.yaml").write_text(yaml.safe_dump({IOS: host}), encoding="utf-8")
    device = api.load(inv).devices[IOS]
    text = api.render(device)
    emu = IosEmulator(initial_config=text, hostname=IOS)
    for fam, acl, entries in acl_entries(emu.running.root):
        for seq, _ in entries:
            emu.counters.add(acl, seq, 10 * fam + seq)
    readings = parse_show_access_lists(show_access_lists(emu, None), "ios")
    assert readings and all(r.rule is not None for r in readings)
    samples = [s for r in readings if (s := attribute(device, api.plan(device), r, 0.0)) is not None]
    purposes = {s.purpose for s in samples}
    assert purposes == {"exempt", "mta", "flow_applies"}, purposes  # no "blocked": the denies are not blocks
    assert any(r.rule is not None and r.rule.action.value == "deny" for r in readings)


def test_a_device_that_cannot_be_read_is_exit_1_and_stores_nothing(bench: Bench) -> None:
    emu = bench.one(IOS)
    emu.faults.wrong_password = True
    code, out = bench.collect(IOS)
    assert code == 1, out
    assert "authentication" in out.lower() and PASSWORD not in out
    with EffectDB.open(bench.db) as db:
        assert db.samples() == []
    res = CliRunner().invoke(app, ["effect", "collect", "-i", str(bench.inventory), "-d", "nope", "--db", bench.db])
    assert res.exit_code == 2


@pytest.mark.parametrize("device", [IOS, XR, EOS, MX])
def test_a_reload_is_seen_by_the_uptime_when_the_counter_climbed_past_its_old_value(bench: Bench, device: str) -> None:
    """The emulator reloads (counters cleared, uptime from zero), then counts more than before the reload
    before the next collect: the uptime read in the same collect (napalm's source of ``get_facts()['uptime']``)
    makes it a reset, so the whole new value is the increase, not its difference to the old one."""
    import time

    emu = bench.one(device)
    emu.booted = time.time() - 7 * 86400  # up a week
    if device == MX:
        v4 = next(w for w in emu.running_config.split() if w.startswith("OP25B-V4-"))

        def hit(packets: int) -> None:
            emu.counters.add(v4, "OP25B-BLOCK", packets)
    else:
        acl = acl_hits(emu)

        def hit(packets: int) -> None:
            acl(4, "deny tcp", packets)

    hit(40)
    assert bench.collect(device)[0] == 0
    hit(5)
    assert bench.collect(device)[0] == 0
    emu.reload()
    hit(60)  # above the 45 read before the reload
    assert bench.collect(device)[0] == 0
    with EffectDB.open(bench.db) as db:
        blocked = [r for r in db.samples() if r.purpose == "blocked" and r.pool == POOL_V4[device]]
    assert [(r.packets, r.delta_packets, r.reset) for r in blocked] == [(40, 40, True), (45, 5, False), (60, 60, True)]
    assert blocked[1].uptime is not None and blocked[1].uptime > 7 * 86400 - 120
    assert blocked[2].uptime is not None and blocked[2].uptime < 120
