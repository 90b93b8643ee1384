"""``op25b audit`` as users run it, on one generated ~60k-line IOS-XE BRAS config and one ~63k-line Junos BNG
config, against peers on the same text in the same run.

    python bench/audit_throughput.py [--lines 60000] [--runs 5] [--no-baseline] [--profile]

Per config (median of ``--runs``):

* ``op25b audit -i INV -c DIR -d DEVICE`` as a whole process (console script; table output), lines/s;
* ``python -c pass`` and ``python -c "import typer, rich.console, rich.table"`` (the CLI stack
  ``op25b audit`` imports) as whole processes: the floor under any typer + rich CLI on this machine;
* a Python line scan as a whole process (``python -c``: read the file, strip each line, look for the filter
  keywords): the floor of any tool that reads the config in Python;
* in process, the function the CLI calls per device (:func:`op25b_cfg.api.audit_file`: read, decode,
  audit), and :func:`~op25b_cfg.api.audit_text` split into the truncation check, parser and engine;
* a full ciscoconfparse2 parse of the same text, in process (skip with ``--no-baseline``).

Targets (issue 10): whole process >= 300,000 lines/s and within 8x of the whole-process line scan, on both.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, finish, header, median_call, run_interleaved, script, verdict

from op25b_cfg import api
from op25b_cfg.audit.engine import audit_parsed  # internal: the breakdown's engine stage
from op25b_cfg.audit.model import Verdict
from op25b_cfg.audit.runner import truncation_problem  # internal: the breakdown's first stage
from op25b_cfg.gc_pause import paused_gc  # internal: the breakdown runs as audit_text does
from op25b_cfg.inventory import Device

# What ``op25b audit`` imports besides op25b: the decided CLI stack (typer, rich's console and table).
STACK_IMPORTS = "import typer, rich.console, rich.table"
LINE_SCAN = (
    "import sys\n"
    "hits = 0\n"
    "with open(sys.argv[1], encoding='utf-8') as f:\n"
    "    for line in f:\n"
    "        s = line.strip()\n"
    "        if s.startswith(('ip access-group', 'ipv6 traffic-filter', 'filter', 'deny', 'term')):\n"
    "            hits += 1\n"
    "print(hits)\n"
)
"""The peer floor: a whole Python process that reads the config and looks at every line once."""


def ios_config(dev: Device, target: int) -> str:
    """A BRAS running config of about ``target`` lines: bba-groups, Virtual-Templates, thousands of PPPoE
    sub-interfaces with customer ACLs bound, big customer ACLs, static routes, and the OP25B filter."""
    out = ["!", "version 17.9", "hostname bras-bench", "service timestamps log datetime msec", "aaa new-model", "!"]
    for g in range(8):
        out += [f"bba-group pppoe GRP{g}", f" virtual-template {g + 1}", " sessions per-mac limit 2", "!"]
    for v in range(2, 11):
        out += [f"interface Virtual-Template{v}", " mtu 1492", " ip unnumbered Loopback0", " ppp authentication chap"]
        out += [" ip access-group CUST-0 in", "!"]
    acl = 0
    while len(out) < target * 0.35:
        out += [f"ip access-list extended CUST-{acl}", f" remark customer filter {acl}"]
        for r in range(100):
            a, b = divmod(acl * 100 + r, 250)
            out.append(
                f" permit tcp 10.{a % 250}.{b}.0 0.0.0.255 host 198.51.100.{r % 250} eq {1024 + r}"
                if r % 3
                else f" deny udp host 10.{a % 250}.{b}.1 any range {r + 1} {r + 100} log"
            )
        out.append("!")
        acl += 1
    sub = 0
    while len(out) < target * 0.85:
        vlan = 100 + sub % 3900
        out += [
            f"interface GigabitEthernet0/{sub // 3900}/{sub % 8}.{vlan}",
            f" description pppoe access vlan {vlan} ring {sub % 17}",
            f" encapsulation dot1Q {vlan}",
            f" pppoe enable group GRP{sub % 8}",
            f" ip access-group CUST-{sub % max(acl, 1)} out",
            " no cdp enable",
            "!",
        ]
        sub += 1
    r = 0
    op25b = api.render(dev).replace("\nend\n", "\n")
    tail = op25b.count("\n") + 2
    while len(out) < target - tail:
        out.append(f"ip route 10.{(r // 250) % 250}.{r % 250}.0 255.255.255.0 Null0 tag {r}")
        r += 1
    return "\n".join(out) + "\n" + op25b + "end\n"


def junos_config(dev: Device, target: int) -> str:
    """A Junos BNG config (brace format) of about ``target`` lines: the rendered OP25B stanzas with thousands of
    interface units, customer filters, prefix-lists and static routes merged into the same hierarchy."""
    op25b = api.render(dev).splitlines()
    budget = target - len(op25b)
    units: list[str] = []
    filters: list[str] = []
    plists: list[str] = []
    statics: list[str] = []
    f = 0
    while len(filters) < budget * 0.35:
        filters += [f"        filter CUST-{f} {{"]
        for t in range(20):
            filters += [
                f"            term t{t} {{",
                "                from {",
                f"                    source-address 10.{f % 250}.{t}.0/24;",
                "                    protocol tcp;",
                f"                    destination-port {1024 + t};",
                "                }",
                "                then accept;" if t % 4 else "                then discard;",
                "            }",
            ]
        filters += ["        }"]
        f += 1
    p = 0
    while len(plists) < budget * 0.1:
        plists += (
            [f"    prefix-list CUST-PL-{p} {{"] + [f"        10.{p % 250}.{i}.0/24;" for i in range(8)] + ["    }"]
        )
        p += 1
    u = 0
    while len(units) < budget * 0.4:
        units += [
            f"        unit {100 + u} {{",
            f'            description "pppoe access vlan {100 + u}";',
            f"            vlan-id {100 + u % 3900};",
            "            family inet {",
            f"                filter input CUST-{u % max(f, 1)};",
            f"                address 10.{(u // 250) % 250}.{u % 250}.1/30;",
            "            }",
            "        }",
        ]
        u += 1
    r = 0
    while len(statics) < budget - len(units) - len(filters) - len(plists) - 12:
        statics.append(f"        route 10.{(r // 250) % 250}.{r % 250}.0/24 discard;")
        r += 1
    out: list[str] = ["version 23.4R1;", "system {", "    host-name bng-bench;", "}"]
    out += ["routing-options {", "    static {", *statics, "    }", "}"]
    in_firewall = False
    for line in op25b:
        out.append(line)
        if line == "policy-options {":
            out += plists
        elif line == "firewall {":
            in_firewall = True
        elif in_firewall and line == "    family inet {":
            out += filters
            in_firewall = False
        elif line == "interfaces {":
            out += ["    ge-0/0/2 {", "        vlan-tagging;", *units, "    }"]
    return "\n".join(out) + "\n"


def parse_and_engine(dev: Device, text: str, runs: int) -> tuple[float, float]:
    """Median wall times of the parse and of the engine on that parse, each timed in the same iteration (a
    lazily parsed config is consumed by its audit, so the engine cannot be timed on its own parse twice)."""
    parse_t, engine_t = [], []
    for _ in range(runs):
        with paused_gc():
            t0 = time.perf_counter()
            parsed = api.parse(dev, text, lazy=True)
            t1 = time.perf_counter()
            audit_parsed(dev, parsed, text)
            t2 = time.perf_counter()
        parse_t.append(t1 - t0)
        engine_t.append(t2 - t1)
    return statistics.median(parse_t), statistics.median(engine_t)


def run(label: str, dev: Device, text: str, syntax: str, tmp: Path, args: argparse.Namespace) -> None:
    lines = text.count("\n")
    rep = api.audit_text(dev, text)
    codes = sorted({f.code.value for f in rep.findings})
    print(f"\n[{label}] {lines} lines, device {dev.name} ({dev.platform}, mode {dev.mode}): {rep.verdict} {codes}")
    if rep.verdict is not Verdict.COMPLIANT:
        print(f"  error: {rep.error}")
        verdict(f"{label}: audits COMPLIANT", False, str(rep.verdict))
        return
    configs = tmp / label.replace(" ", "-")
    configs.mkdir()
    path = configs / f"{dev.name}.cfg"
    path.write_text(text, encoding="utf-8")
    got = run_interleaved(
        {
            "op25b": [script("op25b"), "audit", "-i", str(REPO / "inventory"), "-c", str(configs), "-d", dev.name],
            "scan": [sys.executable, "-c", LINE_SCAN, str(path)],
            "python": [sys.executable, "-c", "pass"],
            "stack": [sys.executable, "-c", STACK_IMPORTS],
        },
        args.runs,
    )
    cli, scan = got["op25b"], got["scan"]
    t_trunc = median_call(lambda: truncation_problem(dev.platform, text), args.runs)
    # the parse and the engine as audit_text runs them: with the garbage collector paused (engine.audit_text)
    t_parse, t_engine = parse_and_engine(dev, text, args.runs)
    t_total = median_call(lambda: api.audit_text(dev, text), args.runs)
    t_file = median_call(lambda: api.audit_file(dev, path), args.runs)
    rate = lines / cli.wall
    print(
        f"  op25b audit (whole process): {cli.wall * 1e3:7.1f} ms  {rate:10,.0f} lines/s"
        f"  (CPU {cli.cpu * 1e3:.1f} ms)  peak RSS {cli.rss_mib:.1f} MiB"
    )
    print(
        f"  Python line scan (whole process): {scan.wall * 1e3:7.1f} ms  {lines / scan.wall:10,.0f} lines/s"
        f"  (CPU {scan.cpu * 1e3:.1f} ms); op25b takes {cli.wall / scan.wall:.1f}x its wall time,"
        f" {cli.cpu / scan.cpu:.1f}x its CPU"
    )
    budget = lines / 300_000
    print(
        f"  floor: python -c pass {got['python'].wall * 1e3:.1f} ms; importing the CLI stack alone"
        f" ({STACK_IMPORTS!r}) {got['stack'].wall * 1e3:.1f} ms, {got['stack'].wall / budget:.0%} of the"
        f" {budget * 1e3:.0f} ms that 300,000 lines/s allows"
    )
    print(f"  in process: audit_file (read, decode, audit) {t_file * 1e3:6.1f} ms ({lines / t_file:,.0f} lines/s)")
    print(
        f"  in process: audit_text {t_total * 1e3:6.1f} ms ({lines / t_total:,.0f} lines/s) ="
        f" truncation check {t_trunc * 1e3:5.1f} ms + parse {t_parse * 1e3:5.1f} ms + engine {t_engine * 1e3:5.1f} ms"
    )
    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(api.audit_text, dev, text)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(18)
    verdict(f"{label}: whole process >= 300,000 lines/s", rate >= 300_000, f"{rate:,.0f} lines/s")
    ratio = cli.wall / scan.wall
    verdict(f"{label}: within 8x of the line scan", ratio <= 8, f"{ratio:.1f}x")
    if args.no_baseline:
        return
    from ciscoconfparse2 import CiscoConfParse

    split = text.splitlines()
    base = median_call(lambda: CiscoConfParse(split, syntax=syntax), 1)
    print(
        f"  ciscoconfparse2 (syntax={syntax}, full parse, in process): {base * 1e3:8.1f} ms"
        f"  {lines / base:10,.0f} lines/s; op25b whole process is {base / cli.wall:.1f}x faster"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=60000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-baseline", action="store_true", help="skip the (slow) ciscoconfparse2 baseline")
    ap.add_argument("--profile", action="store_true", help="print the hottest functions of one audit")
    args = ap.parse_args()
    header("op25b audit throughput, whole process")
    inv = api.load(REPO / "inventory")
    ios = inv.devices["bras-tyo-ios1"]
    mx = inv.devices["bng-tyo-mx1"]
    with tempfile.TemporaryDirectory(prefix="op25b-bench-") as name:
        run("IOS-XE BRAS", ios, ios_config(ios, args.lines), "ios", Path(name), args)
        run("Junos BNG", mx, junos_config(mx, args.lines + 3000), "junos", Path(name), args)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
