"""1,000 saved running configs audited end to end (issue 3, benchmark c): read file, parse, engine, drift. Prints
wall time, configs/s, verdict counts and peak memory (process peak RSS, which includes the BDD manager's C heap);
asserts nothing.

    python bench/audit_many.py [--configs 1000] [--noise 400] [--keep DIR]

The configs are written to a temporary directory first, one file per device as Oxidized/RANCID keep them: every
platform of the sample inventory, each the rendered OP25B configuration inside ``--noise`` lines of other
configuration; every 7th has its port-25 deny removed and every 11th its attachment, so the reports are not all
the same.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import resource
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from op25b_cfg.audit.engine import audit_text
from op25b_cfg.inventory import Device, load_inventory
from op25b_cfg.platforms import get_platform

REPO = Path(__file__).resolve().parent.parent

PREFIX = {
    "cisco_ios": "bba-group pppoe global\n virtual-template 1\n!\n",
    "cisco_iosxr": "policy-map type control subscriber PM\n event session-start match-first\n"
    "  class type control subscriber class-default do-until-failure\n   10 activate dynamic-template PPPOE-SUBS\n!\n",
}


def noise(platform: str, n: int, seed: int) -> str:
    """``n`` lines of unrelated configuration in the platform's syntax."""
    if platform == "juniper_junos":
        body = [f"        route 10.{seed % 250}.{i % 250}.0/24 discard;" for i in range(n - 4)]
        return "routing-options {\n    static {\n" + "\n".join(body) + "\n    }\n}\n"
    if platform == "linux_nftables":
        rules = [f"\t\tip saddr 10.{seed % 250}.{i % 250}.0/24 tcp dport {1024 + i} accept" for i in range(n - 4)]
        return "table ip other {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n" + (
            "\n".join(rules) + "\n\t}\n}\n"
        )
    out = []
    for i in range(n // 4):
        addr = f"10.{seed % 250}.{i % 250}.1"
        out += [f"interface Loopback{i + 100}", f" description noise {seed}-{i}", f" ip address {addr} 255.255.255.255"]
        out.append("!")
    return "\n".join(out) + "\n"


def mutate(platform: str, text: str, i: int) -> str:
    if i % 7 == 0:
        return re.sub(r"^.*(deny tcp .* eq 25|tcp dport 25 .*reject).*\n", "", text, count=1, flags=re.M)
    if i % 11 == 0:
        return re.sub(r"^.*(access-group|traffic-filter|input OP25B|jump subscriber).*\n", "", text, flags=re.M)
    return text


def write_configs(devices: list[Device], n: int, lines: int, root: Path) -> list[tuple[Device, Path]]:
    out = []
    for i in range(n):
        base = devices[i % len(devices)]
        dev = dataclasses.replace(base, name=f"{base.name}-{i:04d}")
        rendered = get_platform(dev.platform).render(base)
        text = PREFIX.get(dev.platform, "") + noise(dev.platform, lines, i) + mutate(dev.platform, rendered, i)
        path = root / f"{dev.name}.cfg"
        path.write_text(text)
        out.append((dev, path))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--noise", type=int, default=400)
    ap.add_argument("--keep", type=Path, help="write the configs here and keep them")
    args = ap.parse_args()
    inv = load_inventory(REPO / "inventory")
    devices = list(inv.devices.values())
    root = args.keep or Path(tempfile.mkdtemp(prefix="op25b-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        jobs = write_configs(devices, args.configs, args.noise, root)
        total_lines = sum(p.read_text().count("\n") for _, p in jobs)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        c0, t0 = time.process_time(), time.perf_counter()
        verdicts: Counter[str] = Counter()
        per_platform: Counter[str] = Counter()
        for dev, path in jobs:
            rep = audit_text(dev, path.read_text(encoding="utf-8", errors="replace"), source=str(path))
            verdicts[rep.verdict.value] += 1
            per_platform[f"{dev.platform}:{rep.verdict.value}"] += 1
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"{len(jobs)} configs ({total_lines:,} lines) in {root}")
        print(f"wall time     : {wall:8.2f} s  ({len(jobs) / wall:,.0f} configs/s, {total_lines / wall:,.0f} lines/s)")
        print(f"CPU time      : {cpu:8.2f} s")
        print(f"peak RSS      : {rss1 / 1024:8.1f} MiB (before the audits: {rss0 / 1024:.1f} MiB)")
        print(f"verdicts      : {dict(verdicts)}")
        print(f"per platform  : {dict(sorted(per_platform.items()))}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
