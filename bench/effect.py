"""Effect verification: ``effect collect`` concurrency, and ``effect report`` over a year of hourly samples.

    python bench/effect.py [--devices 200] [--latency 0.1] [--workers 1,10,50] [--report-devices 1000]

Collect: 200 emulated IOS BRAS (tests/pushfake.py devices with an injected per-call latency: connect, then
the show commands) whose answers are the IOS emulator's CLI output of the commands the IOS counter reader
sends (``show ip access-lists`` / ``show ipv6 access-list`` with per-entry counters, ``show policy-map
interface``, ``show version``); op25b runs for real (the IOS counter reader, attribution
against each device's plan, one SQLite transaction per device). As in bench/push.py, the run with one worker
measures the per-device time and each worker count is compared with the ideal ``ceil(devices / workers) x
per-device time``; target: 50 workers within 1.3x of ideal.

Report: a SQLite database holding one year of hourly samples of ``--report-devices`` devices (three counters
each: blocked, to the relays, submission; 10 pools) is built with bulk SQL, after checking on a small slice
that the bulk load gives exactly the tables ``EffectDB.add`` (what ``effect collect`` calls) gives. Then the
whole ``op25b effect report`` process is timed over that year (JSON and table); target: under 5 s.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _common import header, run_process, script, verdict  # noqa: E402

YEAR_START = 1_735_689_600  # 2025-01-01T00:00:00Z
HOURS = 365 * 24
POOLS = 10
COUNTERS = (("blocked", 40), ("mta", 25), ("submission", 60))  # purpose, mean increase per hour


# ---------------------------------------------------------------- collect


def collect_child(devices: int, latency: float, workers: int) -> dict[str, float]:
    """One measured ``effect collect`` run in this (fresh) process."""
    from push import BASE, CREDS, inventory  # bench/push.py: the same 200 IOS BRAS

    from op25b_cfg import api
    from op25b_cfg.connection.base import ConnectOptions, Session
    from op25b_cfg.dialects.cisco_blocks import acl_entries
    from op25b_cfg.effect.collect import collect
    from op25b_cfg.effect.db import EffectDB
    from op25b_cfg.inventory import Device
    from op25b_cfg.platforms.cisco_ios.counters import ACL_COMMANDS, POLICY_COMMAND
    from op25b_cfg.platforms.cisco_ios.emulator import IosEmulator
    from tests.pushfake import FakeDevice, FakeSession

    def emulated(device: Device, seed: int) -> FakeDevice:
        text = api.render(device)
        emu = IosEmulator(initial_config=text, hostname=device.name)
        for fam, acl, entries in acl_entries(emu.running.root):
            for seq, _ in entries:
                emu.counters.add(acl, seq, (seed * 7 + seq * fam) % 1000)

        # the device's answers, printed once (the counters do not move during the run): the emulator's CPU is
        # not op25b's, and it runs in this process
        # (the commands the IOS reader sends: both ACL listings, the policers' drops, and show version for the
        # uptime), answered by the emulator's own CLI
        shell = emu.shell_class(emu, None)
        answers = {cmd: shell.exec_line(cmd) for cmd in (*ACL_COMMANDS, POLICY_COMMAND, "show version")}
        return FakeDevice(device.name, BASE, CREDS.username, CREDS.password, latency=latency, show=answers.__getitem__)

    with tempfile.TemporaryDirectory(prefix="op25b-bench-") as tmp:
        root = Path(tmp)
        devs = inventory(root, devices)
        fakes = {d.name: emulated(d, i) for i, d in enumerate(devs)}

        def session(d: Device) -> Session:
            return FakeSession(d, CREDS, ConnectOptions(), fakes[d.name])

        with EffectDB.open(str(root / "warm.db")) as warm:  # imports, parser and plan caches
            collect([devs[0]], session, warm, workers=1)
        with EffectDB.open(str(root / "op25b.db")) as db:
            cpu0, t0 = time.process_time(), time.perf_counter()
            results = collect(devs, session, db, workers=workers)
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            bad = [r for r in results if not r.ok or not r.samples]
            if bad:
                raise SystemExit(f"unexpected result on {bad[0].device}: {bad[0].error}")
            stored = len(db.samples())
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"wall": wall, "cpu": cpu, "samples": stored, "rss_mb": rss_mb}


def bench_collect(devices: int, latency: float, counts: list[int]) -> None:
    print(f"## effect collect: {devices} emulated IOS BRAS, {latency * 1000:g} ms per call, workers {counts}")
    per_device = cpu_per_device = 0.0
    ratios: dict[int, float] = {}
    for w in counts:
        cmd = [
            sys.executable,
            __file__,
            "--collect-child",
            str(w),
            "--devices",
            str(devices),
            "--latency",
            str(latency),
        ]
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        if not per_device:
            per_device, cpu_per_device = res["wall"] / devices, res["cpu"] / devices
            print(f"  per device: {per_device * 1000:.1f} ms wall, {cpu_per_device * 1000:.1f} ms CPU")
        ideal = math.ceil(devices / w) * per_device
        ratios[w] = res["wall"] / ideal
        print(
            f"  workers {w:>3}: wall {res['wall']:6.2f} s   ideal {ideal:6.2f} s   ratio {ratios[w]:5.2f}x"
            f"   CPU floor {devices * cpu_per_device:5.2f} s   samples {res['samples']}"
            f"   peak RSS {res['rss_mb']:.0f} MB"
        )
    top = max(counts)
    verdict(
        f"collect {devices} devices at {top} workers within 1.3x of ideal", ratios[top] <= 1.3, f"{ratios[top]:.2f}x"
    )


# ---------------------------------------------------------------- report


def bulk_year(path: Path, devices: int, hours: int) -> None:
    """Samples of ``devices`` x :data:`COUNTERS` every hour for ``hours`` hours, and the rollups, with SQL.

    Increase of counter c in hour n: ``(c * 13) % (2 * mean) + n % 24``; the device's value is the running
    sum, so nothing resets (the first reading counts its whole value, as in ``effect collect``)."""
    from op25b_cfg.effect.db import EffectDB

    EffectDB.open(str(path)).close()  # the schema, by the migrations
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("DROP INDEX IF EXISTS sample_counter_time")
    con.executemany(
        "INSERT INTO counter (id, device, filter_version, counter, pool, purpose) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                d * len(COUNTERS) + c + 1,
                f"bras{d:04d}",
                "aaaa0001",
                f"OP25B-V4-aaaa0001 {c}",
                f"POOL-{d % POOLS:02d}",
                p,
            )
            for d in range(devices)
            for c, (p, _) in enumerate(COUNTERS)
        ],
    )
    # increase in hour n: a base per counter plus the hour of the day; the value is its running sum (closed form)
    k = len(COUNTERS)
    cases = " ".join(f"WHEN {i} THEN {2 * m}" for i, (_, m) in enumerate(COUNTERS))
    base = f"(((c.id - 1) * 13) % (CASE (c.id - 1) % {k} {cases} END))"
    inc = f"({base} + h.n % 24)"
    total = f"({base} * (h.n + 1) + 276 * (h.n / 24) + ((h.n % 24) * (h.n % 24 + 1)) / 2)"
    con.execute(
        "CREATE TEMP TABLE hours AS WITH RECURSIVE n(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM n"
        f" WHERE n < {hours - 1}) SELECT n FROM n"
    )
    con.execute(
        "INSERT INTO sample (counter_id, time, packets, bytes, delta_packets, delta_bytes, reset) "
        f"SELECT c.id, {YEAR_START} + h.n * 3600 + 60, {total}, {total} * 60, {inc}, {inc} * 60, h.n = 0"
        " FROM counter c CROSS JOIN hours h"
    )
    con.execute("CREATE INDEX sample_counter_time ON sample (counter_id, time)")
    con.execute(
        "INSERT INTO hourly (pool, purpose, hour, packets, bytes) SELECT c.pool, c.purpose, "
        "CAST(s.time / 3600 AS INTEGER) * 3600, SUM(s.delta_packets), SUM(s.delta_bytes) "
        "FROM sample s JOIN counter c ON c.id = s.counter_id GROUP BY 1, 2, 3"
    )
    con.execute(
        "INSERT INTO daily (device, pool, purpose, day, packets, bytes, samples) SELECT c.device, c.pool, c.purpose, "
        "CAST(s.time / 86400 AS INTEGER) * 86400, SUM(s.delta_packets), SUM(s.delta_bytes), COUNT(*) "
        "FROM sample s JOIN counter c ON c.id = s.counter_id GROUP BY 1, 2, 3, 4"
    )
    con.execute(
        "INSERT INTO latest (device, counter, pool, purpose, filter_version, time, packets, bytes) "
        "SELECT c.device, c.counter, c.pool, c.purpose, c.filter_version, s.time, s.packets, s.bytes "
        f"FROM sample s JOIN counter c ON c.id = s.counter_id WHERE s.time = {YEAR_START + (hours - 1) * 3600 + 60}"
    )
    con.commit()
    con.close()


def same_as_ingest(tmp: Path) -> bool:
    """The bulk load of 3 devices x 50 hours equals what ``EffectDB.add`` stores for the same readings."""
    from op25b_cfg.effect.db import EffectDB
    from op25b_cfg.effect.model import Sample

    bulk, ingest = tmp / "bulk.db", tmp / "ingest.db"
    bulk_year(bulk, 3, 50)
    with EffectDB.open(str(ingest)) as db:
        con = sqlite3.connect(bulk)
        rows = con.execute(
            "SELECT c.device, c.filter_version, c.counter, c.pool, c.purpose, s.packets, s.bytes, s.time "
            "FROM sample s JOIN counter c ON c.id = s.counter_id ORDER BY s.time, c.id"
        ).fetchall()
        con.close()
        for t in sorted({r[7] for r in rows}):
            db.add([Sample(*r) for r in rows if r[7] == t])

    def tables(path: Path) -> list[object]:
        con = sqlite3.connect(path)
        out = [con.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4").fetchall() for t in ("hourly", "daily")]
        out.append(
            con.execute(
                "SELECT c.device, c.counter, c.pool, c.purpose, s.time, s.packets, s.delta_packets, s.reset"
                " FROM sample s JOIN counter c ON c.id = s.counter_id ORDER BY 1, 2, 3, 4, 5"
            ).fetchall()
        )
        con.close()
        return out

    return tables(bulk) == tables(ingest)


def bench_report(devices: int, keep: Path | None) -> None:
    print(f"## effect report: one year of hourly samples, {devices} devices x {len(COUNTERS)} counters, {POOLS} pools")
    with tempfile.TemporaryDirectory(prefix="op25b-bench-") as tmp:
        root = Path(tmp)
        equal = same_as_ingest(root)
        print(f"  bulk load equals effect collect's ingest (3 devices x 50 h): {'yes' if equal else 'NO'}")
        path = (keep or root) / f"year-{devices}.db"
        t0 = time.perf_counter()
        reused = path.exists()
        if not reused:
            bulk_year(path, devices, HOURS)
        rows = sqlite3.connect(path).execute("SELECT COUNT(*) FROM sample").fetchone()[0]
        size = path.stat().st_size / 2**20
        how = f"reused {path}" if reused else f"built in {time.perf_counter() - t0:.1f} s"
        print(f"  {rows:,} samples ({size:,.0f} MiB), {how} (not timed below)")
        base = [
            script("op25b"),
            "effect",
            "report",
            "--db",
            str(path),
            "--since",
            "2025-01-01",
            "--until",
            "2026-01-01",
        ]
        for fmt in ("json", "table"):
            run = run_process([*base, "--format", fmt, "--bucket", "day"], runs=3, cwd=root)
            verdict(
                f"report ({fmt}) over a year x {devices} devices under 5 s",
                run.wall < 5.0 and equal,
                f"{run.wall:.2f} s whole process ({run.wall / 5.0:.2f}x of the 5 s target; CPU {run.cpu:.2f} s,"
                f" peak RSS {run.rss_mib:.0f} MiB)",
            )


def main() -> None:
    from _common import finish

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.1, help="seconds per management call (default 0.1)")
    ap.add_argument("--workers", default="1,10,50")
    ap.add_argument("--report-devices", type=int, default=1000)
    ap.add_argument("--skip-collect", action="store_true")
    ap.add_argument("--skip-report", action="store_true")
    ap.add_argument("--keep", type=Path, help="keep the year's database in DIR (and reuse it when there)")
    ap.add_argument("--collect-child", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.collect_child is not None:
        print(json.dumps(collect_child(a.devices, a.latency, a.collect_child)))
        return
    header("op25b effect bench")
    if not a.skip_collect:
        bench_collect(a.devices, a.latency, [int(x) for x in a.workers.split(",")])
    if not a.skip_report:
        bench_report(a.report_devices, a.keep)
    raise SystemExit(finish())


if __name__ == "__main__":
    main()
