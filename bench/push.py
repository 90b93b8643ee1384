"""Push concurrency: 200 emulated devices with an injected per-call latency, through the nornir runner.

    python bench/push.py [--devices 200] [--latency 0.02] [--workers 1,10,50] [--mode commit|dry-run]

Each device is a tests/pushfake.py FakeDevice (IOS BRAS, revert timer) that sleeps ``--latency`` seconds on
every management call; op25b runs for real (render, merge candidate, diff, commit with timer, post-change
audit with the real auditor, confirm, backup, change log). The run with the first worker count (1) measures
the per-device time; for each worker count the script prints the wall time against the ideal
``ceil(devices / workers) x per-device time`` and the peak memory (max RSS of a fresh child process per run).

op25b's own CPU work per device (render, audit, redaction) runs under the GIL and does not parallelise in
threads, so the script also prints the CPU floor (``devices x CPU per device``): when the floor is above the
ideal, that - not the runner - bounds the wall time. Asserts nothing; prints ratios measured in this run.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from op25b_cfg import api  # noqa: E402
from op25b_cfg.connection.base import ConnectOptions, Credentials, Session  # noqa: E402
from op25b_cfg.inventory import Device  # noqa: E402
from op25b_cfg.push import PushOptions, run_push  # noqa: E402
from op25b_cfg.results import Outcome  # noqa: E402
from tests.pushfake import FakeDevice, FakeSession  # noqa: E402

BASE = """hostname bras
interface GigabitEthernet0/1
 pppoe enable group global
interface Virtual-Template1
 ip unnumbered Loopback0
 ppp authentication chap
bba-group pppoe global
 virtual-template 1
"""
CREDS = Credentials("bench", "bench-password")


def inventory(root: Path, n: int) -> list[Device]:
    import yaml

    inv = root / "inv"
    inv.mkdir(parents=True)
    (inv / "policy.yaml").write_text((REPO / "inventory" / "policy.yaml").read_text())
    (inv / "defaults.yaml").write_text(yaml.safe_dump({"data": {"pools": ["DYN-TOKYO", "DYN-V6"]}}))
    hosts = {
        f"bras{i:03d}": {
            "hostname": f"192.0.2.{i % 250 + 1}",
            "platform": "cisco_ios",
            "data": {"attach": [{"kind": "virtual-template", "name": "Virtual-Template1", "direction": "in"}]},
        }
        for i in range(n)
    }
    (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts))
    return list(api.load(inv).devices.values())


def child(devices: int, latency: float, workers: int, mode: str) -> dict[str, float]:
    """One measured run in this (fresh) process."""
    with tempfile.TemporaryDirectory(prefix="op25b-bench-") as tmp:
        root = Path(tmp)
        devs = inventory(root, devices)
        fakes = {
            d.name: FakeDevice(d.name, BASE, username=CREDS.username, password=CREDS.password, latency=latency)
            for d in devs
        }

        def session(d: Device) -> Session:
            return FakeSession(d, CREDS, ConnectOptions(), fakes[d.name])

        opts = PushOptions(
            commit=mode == "commit",
            workers=workers,
            backup_dir=root / "backups",
            changelog=root / "changes.jsonl",
            os_user="bench",
            username=CREDS.username,
        )
        # warm-up on a separate device (imports, template and auditor caches) outside the measurement
        warm = devs[0]
        spare = FakeDevice("warm", BASE, username=CREDS.username, password=CREDS.password)
        run_push([warm], opts, lambda d: FakeSession(d, CREDS, ConnectOptions(), spare))
        cpu0, t0 = time.process_time(), time.perf_counter()
        report = run_push(devs, opts, session)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        ok = Outcome.COMMITTED if mode == "commit" else Outcome.DRY_RUN
        bad = [r for r in report.results if r.outcome is not ok]
        if bad:
            raise SystemExit(f"unexpected result on {bad[0].device}: {bad[0].outcome} {bad[0].error}")
        calls = sum(len(f.calls) for f in fakes.values()) / devices
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"wall": wall, "cpu": cpu, "calls": calls, "rss_mb": rss_mb}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.02, help="seconds per management call (default 0.02)")
    ap.add_argument("--workers", default="1,10,50")
    ap.add_argument("--mode", choices=("commit", "dry-run"), default="commit")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child is not None:
        print(json.dumps(child(a.devices, a.latency, a.child, a.mode)))
        return
    counts = [int(x) for x in a.workers.split(",")]
    print(
        f"op25b push bench: {a.devices} emulated IOS BRAS, {a.latency * 1000:g} ms per call, mode {a.mode},"
        f" workers {counts}"
    )
    per_device = None
    for w in counts:
        cmd = [sys.executable, __file__, "--child", str(w), "--devices", str(a.devices)]
        cmd += ["--latency", str(a.latency), "--mode", a.mode]
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        if per_device is None:
            per_device = res["wall"] / a.devices  # measured with the first worker count (1)
            cpu_per_device = res["cpu"] / a.devices
            print(
                f"  per device: {per_device * 1000:.1f} ms wall ({res['calls']:.1f} calls x {a.latency * 1000:g} ms"
                f" latency + op25b work), {cpu_per_device * 1000:.1f} ms CPU"
            )
        ideal = math.ceil(a.devices / w) * per_device
        floor = a.devices * cpu_per_device
        print(
            f"  workers {w:>3}: wall {res['wall']:7.2f} s   ideal {ideal:7.2f} s   ratio {res['wall'] / ideal:5.2f}x"
            f"   CPU floor {floor:5.2f} s   CPU used {res['cpu']:5.2f} s   peak RSS {res['rss_mb']:6.1f} MB"
        )


if __name__ == "__main__":
    main()
