"""``op25b audit`` of thousands of saved running configs as users run it (issue 10): a whole process reading an
inventory of ``--configs`` devices and one saved config per device, writing the JSON report, against a whole
Python process that only reads the same files, in the same run. Prints wall time, lines/s, the process's peak
RSS and the verdicts; PASS/FAIL against the targets.

    python bench/audit_many.py [--configs 5000] [--noise 105] [--runs 3] [--format json] [--keep DIR]

The configs are written to a temporary directory first, one file per device as Oxidized/RANCID keep them: every
platform of the sample inventory, each the rendered OP25B configuration inside ``--noise`` lines of other
configuration in that platform's syntax. Hosts are cloned round-robin; the clones of each sample host are counted
separately, so every platform has the same mix: of each host's clones every 7th has its port-25 deny removed and
every 11th its attachment (where the platform's config has such a line), and the reports are not all the same.
The inventory is the sample's policy, groups and defaults with ``--configs`` hosts cloned from its hosts.

Targets (issue 10): 5,000 configs (about 934k lines) in at most 4 s and at most 150 MiB peak RSS.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml
from _common import REPO, finish, header, run_interleaved, script, verdict

from op25b_cfg import api
from op25b_cfg.inventory import Device

READ_ALL = (
    "import os, sys\n"
    "n = 0\n"
    "for entry in os.scandir(sys.argv[1]):\n"
    "    with open(entry.path, encoding='utf-8') as f:\n"
    "        n += f.read().count('\\n')\n"
    "print(n)\n"
)
"""The floor: a whole Python process that reads every saved config once."""

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
    if platform == "mikrotik_routeros":
        body = [f"add dst-address=10.{seed % 250}.{i % 250}.0/24 gateway=192.0.2.1" for i in range(n - 1)]
        return "/ip route\n" + "\n".join(body) + "\n"
    out = []
    sep, loop = ("#", "LoopBack") if platform == "huawei_vrp" else ("!", "Loopback")
    for i in range(n // 4):
        addr = f"10.{seed % 250}.{i % 250}.1"
        out += [f"interface {loop}{i + 100}", f" description noise {seed}-{i}", f" ip address {addr} 255.255.255.255"]
        out.append(sep)
    return "\n".join(out) + "\n"


def mutate(text: str, k: int) -> str:
    """The ``k``-th clone of a sample host's config: every 7th without its first port-25 deny, every 11th
    without its attachment lines."""
    if k % 7 == 0:
        return re.sub(
            r"^.*(deny tcp .* eq 25|tcp dport 25 .*reject|action=reject .*dst-port=25).*\n",
            "",
            text,
            count=1,
            flags=re.M,
        )
    if k % 11 == 0:
        return re.sub(
            r"^.*(access-group|traffic-filter|input OP25B|jump subscriber|jump-target=OP25B).*\n", "", text, flags=re.M
        )
    return text


def write_configs(devices: list[Device], n: int, lines: int, root: Path) -> list[tuple[Device, Path]]:
    out = []
    for i in range(n):
        base = devices[i % len(devices)]
        dev = dataclasses.replace(base, name=f"{base.name}-{i:04d}")
        rendered = api.render(base)
        text = PREFIX.get(dev.platform, "") + noise(dev.platform, lines, i) + mutate(rendered, i // len(devices))
        path = root / f"{dev.name}.cfg"
        path.write_text(text)
        out.append((dev, path))
    return out


def write_inventory(jobs: list[tuple[Device, Path]], root: Path) -> Path:
    """The sample inventory's policy, groups and defaults, with one host per job (cloned from its sample host)."""
    inv = root / "inventory"
    inv.mkdir()
    for name in ("policy.yaml", "groups.yaml", "defaults.yaml"):
        shutil.copy(REPO / "inventory" / name, inv / name)
    sample = yaml.safe_load((REPO / "inventory" / "hosts.yaml").read_text(encoding="utf-8"))
    hosts = {dev.name: sample[dev.name.rsplit("-", 1)[0]] for dev, _ in jobs}
    (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False), encoding="utf-8")
    return inv


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", type=int, default=5000)
    ap.add_argument("--noise", type=int, default=105)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--format", default="json", choices=["json", "junit", "html", "table"])
    ap.add_argument("--keep", type=Path, help="write the configs here and keep them")
    args = ap.parse_args()
    header(f"op25b audit of {args.configs} saved configs, whole process")
    devices = list(api.load(REPO / "inventory").devices.values())
    root = args.keep or Path(tempfile.mkdtemp(prefix="op25b-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        configs = root / "running"
        configs.mkdir()
        jobs = write_configs(devices, args.configs, args.noise, configs)
        inv = write_inventory(jobs, root)
        total_lines = sum(p.read_text().count("\n") for _, p in jobs)
        report = root / f"report.{args.format}"
        argv = [script("op25b"), "audit", "-i", str(inv), "-c", str(configs), "--format", args.format]
        got = run_interleaved(
            {"op25b": [*argv, "-o", str(report)], "read": [sys.executable, "-c", READ_ALL, str(configs)]},
            args.runs,
            ok=(0, 1, 2),
        )
        cli, read = got["op25b"], got["read"]
        print(f"{len(jobs)} configs ({total_lines:,} lines), report {args.format}")
        print(
            f"op25b audit (whole process): {cli.wall:6.2f} s  ({len(jobs) / cli.wall:,.0f} configs/s,"
            f" {total_lines / cli.wall:,.0f} lines/s)  CPU {cli.cpu:.2f} s (all processes)"
            f"  peak RSS {cli.rss_mib:.1f} MiB (largest process)  exit {cli.returncode}"
        )
        print(f"reading the files (whole process): {read.wall:6.2f} s; op25b is {cli.wall / read.wall:.1f}x that")
        if args.format == "json":
            data = json.loads(report.read_text(encoding="utf-8"))
            print(f"verdicts: {data['summary']['verdicts']}")
            per = Counter(f"{d['platform']}:{d['verdict']}" for d in data["devices"])
            print(f"per platform: {dict(sorted(per.items()))}")
        verdict(f"{len(jobs)} configs in <= 4 s", cli.wall <= 4.0, f"{cli.wall:.2f} s")
        verdict(f"{len(jobs)} configs in <= 150 MiB peak RSS", cli.rss_mib <= 150, f"{cli.rss_mib:.1f} MiB")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
