"""Benchmark ``op25b generate`` against aerleon's Python API, in the same run.

Usage::

    python bench/generate.py                      # N = 1, 100, 10000
    python bench/generate.py --sizes 1 100 --aerleon-sample 50

For each N it synthesises an ISP (one policy, 60 dynamic pools, N devices round-robin over the five platforms,
each serving 1-3 pools and attaching to 1-2 interfaces/templates), writes it as an inventory directory and
times, per device:

* ``op25b load``: :func:`load_inventory` (YAML + validation of every device);
* ``op25b render``: :func:`build_plan` + the platform template, in memory;
* ``op25b generate``: :func:`op25b_cfg.generate.generate`, which also writes ``<out>/<device>.<ext>``;
* ``aerleon``: ``aerleon.api.Generate`` on the equivalent policy (same exemption, MTA, submission, block and
  default terms, same prefixes) for the four aerleon targets matching our platforms (cisco, ciscoxr,
  juniper, arista) and nftables. Aerleon takes ~20 ms per device, so for large N it runs on the first
  ``--aerleon-sample`` devices (same platform mix) and the per-device figure is taken from that sample.

Mode is ``block`` for every device because aerleon cannot express flow control. aerleon's definitions
(``Naming``) are built before the timer starts, which favours aerleon. Ratios compare per-device times.
aerleon is a bench-only dependency (``pip install '.[bench]'``); nothing else imports it.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from op25b_cfg.generate import generate
from op25b_cfg.inventory import Device, load_inventory
from op25b_cfg.platforms import get_platform
from op25b_cfg.rules import build_plan

log = logging.getLogger(__name__)

PLATFORMS = ("cisco_ios", "cisco_iosxr", "juniper_junos", "arista_eos", "linux_nftables")
AERLEON_TARGET = {
    "cisco_ios": ("cisco", "{name} mixed"),
    "cisco_iosxr": ("ciscoxr", "{name} mixed"),
    "juniper_junos": ("juniper", "{name} mixed"),
    "arista_eos": ("arista", "{name} mixed"),
    "linux_nftables": ("nftables", "mixed FORWARD"),
}
ATTACH = {
    "cisco_ios": [("virtual-template", "Virtual-Template{i}"), ("interface", "GigabitEthernet0/0/{i}")],
    "cisco_iosxr": [("dynamic-template", "PPPOE-{i}"), ("interface", "Bundle-Ether{i}.100")],
    "juniper_junos": [("dynamic-profile", "PPPOE-PROFILE-{i}"), ("unit", "ge-0/0/{i}.100")],
    "arista_eos": [("interface", "Ethernet{i}"), ("interface", "Port-Channel{i}")],
    "linux_nftables": [("nft-forward", "ppp*"), ("nft-forward", "eth{i}")],
}


def synthesise(n: int, root: Path, mix: str = "regional", seed: int = 25) -> None:
    """Write an inventory with ``n`` devices to ``root``.

    ``regional``: 40 regions; a device serves its region's IPv4 pool(s) and IPv6 pool, as BRAS/BNG in one
    region do (devices of a region share a filter, attachments differ per device). ``random``: every device
    draws its own 1-2 of 50 IPv4 pools and 1 of 10 IPv6 pools (worst case: nearly every device a distinct
    filter)."""
    rng = random.Random(seed)
    pools = []
    for i in range(50):
        pools.append({"name": f"DYN-V4-{i}", "ipv4": [f"100.{64 + i}.0.0/16"]})
    for i in range(10):
        pools.append({"name": f"DYN-V6-{i}", "ipv6": [f"2001:db8:{0x8000 + i:x}::/48"]})
    policy = {
        "name": "bench-isp",
        "mode": "block",
        "pools": pools,
        "mtas": {"ipv4": ["192.0.2.25", "192.0.2.26"], "ipv6": ["2001:db8:25::25"]},
        "exemptions": {
            "static": [{"name": f"STATIC-{i}", "prefix": f"100.{64 + i}.200.0/24"} for i in range(0, 50, 3)],
            "opt_out": [{"subscriber": f"cust-{i}", "prefix": f"2001:db8:{0x8000 + i:x}:4711::/64"} for i in range(10)],
        },
    }
    hosts: dict[str, Any] = {}
    for d in range(n):
        platform = PLATFORMS[d % len(PLATFORMS)]
        if mix == "regional":
            region = d % 40
            served = [f"DYN-V4-{region}"] + ([f"DYN-V4-{40 + region // 4}"] if region % 4 == 0 else [])
            served.append(f"DYN-V6-{region % 10}")
        else:
            served = rng.sample([p["name"] for p in pools[:50]], rng.randint(1, 2))
            served.append(pools[50 + rng.randrange(10)]["name"])
        attach = [
            {"kind": kind, "name": name.format(i=1 + rng.randrange(8)), "direction": "in"}
            for kind, name in ATTACH[platform][: rng.randint(1, 2)]
        ]
        hosts[f"dev{d:05d}-{platform}"] = {
            "hostname": str(ipaddress.ip_address("10.0.0.0") + d + 1),
            "platform": platform,
            "data": {"pools": served, "attach": attach},
        }
    (root / "policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    (root / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False), encoding="utf-8")


def aerleon_inputs(devices: list[Device]) -> tuple[list[dict[str, Any]], Any]:
    """The equivalent aerleon policies (one per device) and their Naming definitions."""
    from aerleon.lib import naming

    networks: dict[str, Any] = {}
    policies = []
    for k, dev in enumerate(devices):
        plan = build_plan(dev)
        nets: dict[str, list[str]] = {"POOL": [], "EXEMPT": [], "MTA": []}
        for s in plan.sets.values():
            kind = s.name.split("-")[1]
            nets[kind] += [str(p) for p in s.prefixes]
        for kind, vals in nets.items():
            if vals:
                networks[f"{kind}_{k}"] = {"values": [{"address": v} for v in vals]}
        terms: list[dict[str, Any]] = []
        if nets["EXEMPT"]:
            terms.append(
                {
                    "name": "exempt",
                    "source-address": f"EXEMPT_{k}",
                    "protocol": "tcp",
                    "destination-port": "SMTP",
                    "action": "accept",
                    "counter": "OP25B-EXEMPT",
                }
            )
        terms += [
            {
                "name": "mta",
                "source-address": f"POOL_{k}",
                "destination-address": f"MTA_{k}",
                "protocol": "tcp",
                "destination-port": "SMTP",
                "action": "accept",
                "counter": "OP25B-MTA",
            },
            {
                "name": "submission",
                "source-address": f"POOL_{k}",
                "protocol": "tcp",
                "destination-port": "SUBMISSION",
                "action": "accept",
                "counter": "OP25B-SUBMISSION",
            },
            {
                "name": "block",
                "source-address": f"POOL_{k}",
                "protocol": "tcp",
                "destination-port": "SMTP",
                "action": "deny",
                "logging": "true",
                "counter": "OP25B-BLOCK",
            },
            {"name": "default", "action": "accept"},
        ]
        target, opts = AERLEON_TARGET[dev.platform]
        policies.append(
            {
                "filename": dev.name,
                "filters": [
                    {
                        "header": {"targets": {target: opts.format(name=plan.filter_name(4))}, "comment": plan.header},
                        "terms": terms,
                    }
                ],
            }
        )
    defs = naming.Naming()
    defs.ParseDefinitionsObject(
        {
            "networks": networks,
            "services": {
                "SMTP": [{"port": 25, "protocol": "tcp"}],
                "SUBMISSION": [{"port": 587, "protocol": "tcp"}, {"port": 465, "protocol": "tcp"}],
            },
        },
        "",
    )
    return policies, defs


def timed(fn: Any, repeats: int = 1, cold: bool = True) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls (caches cleared before each when ``cold``), and the last result."""
    times = []
    result = None
    for _ in range(repeats):
        if cold:
            clear_caches()
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def clear_caches() -> None:
    """Start every measurement cold: no plan or rendered-filter cache from the previous one (compiled Jinja
    templates stay, as in any process that renders more than one device)."""
    from op25b_cfg import rules
    from op25b_cfg.platforms import base

    rules._plan.cache_clear()
    rules._family.cache_clear()
    rules._BY_INTENT.clear()
    base._PLAN_BLOCKS.clear()


def warm_up(tmp: Path) -> None:
    """Import and compile everything once for both tools (templates, aerleon generators), untimed."""
    from aerleon import api

    synthesise(len(PLATFORMS), tmp)
    devices = list(load_inventory(tmp).devices.values())
    for d in devices:
        get_platform(d.platform).render(d)
    api.Generate(*aerleon_inputs(devices))


def run_op25b(n: int, mix: str, tmp: Path) -> tuple[dict[str, float], list[Device]]:
    """Time load, render and generate for ``n`` synthesised devices; print one line."""
    inv_dir = tmp / f"inventory-{mix}-{n}"
    inv_dir.mkdir()
    synthesise(n, inv_dir, mix)
    reps = max(1, min(20, 500 // n))
    t_load, inv = timed(lambda: load_inventory(inv_dir), reps)
    devices = list(inv.devices.values())
    assert len(devices) == n
    t_render, texts = timed(lambda: [get_platform(d.platform).render(d) for d in devices], reps)
    t_gen, results = timed(lambda: generate(devices, tmp / f"out-{mix}-{n}"), reps)
    assert not [r for r in results if r.failed]
    distinct = len({r.version for r in results})
    per = {"load": t_load / n * 1e3, "render": t_render / n * 1e3, "generate": t_gen / n * 1e3}
    lines = sum(t.count("\n") for t in texts)
    print(
        f"N={n:>6} {mix:>8}  op25b: load {t_load:6.3f} s ({per['load']:.3f} ms/dev)"
        f"  render {t_render:6.3f} s ({per['render']:.3f} ms/dev)"
        f"  generate+write {t_gen:6.3f} s ({per['generate']:.3f} ms/dev)"
        f"  load+generate {t_load + t_gen:6.3f} s  [{distinct} distinct filters, {lines} lines]"
    )
    return per, devices


def run_aerleon(devices: list[Device], sample: int) -> float:
    """aerleon api.Generate on the first ``sample`` devices; returns ms per device."""
    from aerleon import api

    subset = devices[: min(len(devices), sample)]
    policies, defs = aerleon_inputs(subset)
    t_aer, out = timed(lambda: api.Generate(policies, defs), max(1, 20 // len(subset)), cold=False)
    assert out is not None and len(out) == len(subset), "aerleon rendered every sampled device"
    per = t_aer / len(subset) * 1e3
    print(f"N={len(devices):>6}  aerleon api.Generate: {t_aer:6.3f} s on {len(subset)} device(s) ({per:.3f} ms/dev)")
    return per


def run(n: int, aerleon_sample: int, mixes: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="op25b-bench-") as tmp:
        results = {mix: run_op25b(n, mix, Path(tmp)) for mix in mixes}
        aer = run_aerleon(results[mixes[0]][1], aerleon_sample)
        for mix, (per, _) in results.items():
            print(
                f"N={n:>6} {mix:>8}  ratio aerleon/op25b per device: render {aer / per['render']:6.1f}x"
                f"  generate+write {aer / per['generate']:6.1f}x  load+generate"
                f" {aer / (per['load'] + per['generate']):6.1f}x"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 10000])
    ap.add_argument("--aerleon-sample", type=int, default=200, help="devices aerleon renders per size")
    ap.add_argument("--mix", nargs="+", default=["regional", "random"], choices=["regional", "random"])
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:
        import aerleon  # noqa: F401
    except ImportError:
        print("aerleon is not installed: pip install '.[bench]'", file=sys.stderr)
        return 2
    print(f"python {sys.version.split()[0]}; platforms {', '.join(PLATFORMS)} round-robin; mode block")
    with tempfile.TemporaryDirectory(prefix="op25b-bench-warm-") as tmp:
        warm_up(Path(tmp))
    for n in args.sizes:
        run(n, args.aerleon_sample, args.mix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
