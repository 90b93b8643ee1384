"""``op25b generate`` as users run it, against aerleon's ``aclgen`` on the same policy, in the same run.

Usage::

    python bench/generate.py                          # the 5-device sample, N = 1, 100, 1000, 10000
    python bench/generate.py --sizes 1 100 --runs 3

For the sample inventory and for each N (a synthesised ISP: one policy, 60 dynamic pools, N devices round-robin
over the five platforms, each serving 1-3 pools and attaching to 1-2 interfaces/templates) it times, median of
``--runs``:

* ``op25b generate -i INV -o OUT`` as a whole process (console script), inventory load included, taking turns
  with aclgen;
* ``aclgen`` as a whole process on the equivalent policies (one ``.yaml`` policy per device, the same exemption,
  MTA, submission, block and default terms and prefixes, for aerleon's cisco, ciscoxr, juniper, arista and
  nftables targets) and definitions; up to ``--aclgen-max`` devices (aclgen takes ~20 ms per device);
* in process, what the CLI runs, through the API (:func:`op25b_cfg.api.generate` after :func:`op25b_cfg.api.load`)
  against ``aerleon.api.Generate`` on the same policies (aerleon's definitions built before the timer).

At 10,000 devices it also prints, for scale, what creating that many files costs the file system alone in the
same run: on this machine's ext4 (no journal) that varies from 0.3 s to 5 s with how many files the machine
deleted in the last minutes, and it is part of the first-run figure.

Targets (issue 10): whole-process ``op25b generate`` faster than ``aclgen`` at every N, one device included;
10,000 devices including the inventory load under 3 s. Mode is ``block`` for every device because aerleon cannot
express flow control. aerleon is a bench-only dependency (``pip install '.[bench]'``); nothing else imports it.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from _common import REPO, finish, header, median_call, run_interleaved, run_process, script, verdict

from op25b_cfg import api as op25b
from op25b_cfg.inventory import Device

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


def aerleon_inputs(devices: list[Device]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The equivalent aerleon policies (one per device) and their definitions (networks and services)."""
    networks: dict[str, Any] = {}
    policies = []
    for k, dev in enumerate(devices):
        plan = op25b.plan(dev)
        nets: dict[str, list[str]] = {"POOL": [], "EXEMPT": [], "MTA": []}
        for s in plan.sets.values():
            kind = s.name.split("-")[1]
            if kind in nets:  # targeted mode's TARGET set has no aerleon counterpart: the block terms stand in
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
    defs = {
        "networks": networks,
        "services": {
            "SMTP": [{"port": 25, "protocol": "tcp"}],
            "SUBMISSION": [{"port": 587, "protocol": "tcp"}, {"port": 465, "protocol": "tcp"}],
        },
    }
    return policies, defs


def write_aclgen_tree(devices: list[Device], root: Path) -> Path:
    """``root/policies/pol/<device>.yaml`` (aclgen reads ``pol`` directories) and ``root/def/definitions.yaml``;
    returns ``root``."""
    policies, defs = aerleon_inputs(devices)
    (root / "policies" / "pol").mkdir(parents=True)
    (root / "def").mkdir()
    (root / "out").mkdir()
    (root / "def" / "definitions.yaml").write_text(yaml.safe_dump(defs), encoding="utf-8")
    for pol in policies:
        body = {"filters": pol["filters"]}
        (root / "policies" / "pol" / f"{pol['filename']}.yaml").write_text(yaml.safe_dump(body), encoding="utf-8")
    return root


def aclgen_argv(tree: Path) -> list[str]:
    return [
        script("aclgen"),
        f"--base_directory={tree / 'policies'}",
        f"--definitions_directory={tree / 'def'}",
        f"--output_directory={tree / 'out'}",
    ]


def bare_creations(directory: Path, n: int, size: int) -> float:
    """Seconds to create ``n`` files of ``size`` bytes in the new ``directory`` with plain open/write/close."""
    directory.mkdir()
    data = b"x" * size
    start = time.perf_counter()
    for i in range(n):
        with open(directory / f"f{i:06d}", "wb") as fh:
            fh.write(data)
    return time.perf_counter() - start


def in_process(inv_dir: Path, devices: list[Device], tree: Path, runs: int, with_aerleon: bool) -> None:
    """The exact function the CLI calls against aerleon's API on the same policies."""
    from aerleon import api
    from aerleon.lib import naming

    out = tree / "op25b-api-out"
    t_op = median_call(lambda: op25b.generate(list(op25b.load(inv_dir).devices.values()), out), runs)
    line = f"  in process: api.load + api.generate {t_op * 1e3:8.1f} ms"
    if with_aerleon:
        policies, defs_obj = aerleon_inputs(devices)
        defs = naming.Naming()
        defs.ParseDefinitionsObject(defs_obj, "")
        t_aer = median_call(lambda: api.Generate(policies, defs), runs)
        line += f"   aerleon api.Generate {t_aer * 1e3:8.1f} ms   ratio {t_aer / t_op:5.1f}x"
    print(line)


def bench_size(label: str, inv_dir: Path, tmp: Path, args: argparse.Namespace) -> None:
    devices = list(op25b.load(inv_dir).devices.values())
    n = len(devices)
    # aerleon has no target for some platforms (the sample's Huawei VRP and MikroTik RouterOS devices): aclgen
    # renders the others, op25b all of them (op25b does more work, not less)
    peers = [d for d in devices if d.platform in AERLEON_TARGET]
    untargeted = sorted({d.platform for d in devices} - set(AERLEON_TARGET))
    runs = args.runs if n <= 100 else max(1, args.runs // 3)
    out = tmp / f"out-{label}"
    # what a user types: the table below 50 devices, its summary above (the same code path as --quiet then)
    commands = {"op25b": [script("op25b"), "generate", "-i", str(inv_dir), "-o", str(out)]}
    with_aclgen = n <= args.aclgen_max
    tree = tmp / f"aclgen-{label}"
    if with_aclgen:
        write_aclgen_tree(peers, tree)
        commands["aclgen"] = aclgen_argv(tree)
    got = run_interleaved(commands, runs)
    op = got["op25b"]
    assert len(list(out.iterdir())) == n, "op25b wrote one file per device"
    line = (
        f"{label:>14} N={n:>6}  op25b generate (whole process) {op.wall:7.3f} s (CPU {op.cpu:6.3f} s)"
        f"  peak RSS {op.rss_mib:6.1f} MiB"
    )
    if with_aclgen:
        acl = got["aclgen"]
        assert len(list((tree / "out").iterdir())) == len(peers), "aclgen wrote one file per device"
        print(
            f"{line}   aclgen {acl.wall:7.3f} s (CPU {acl.cpu:6.3f} s)   ratio aclgen/op25b {acl.wall / op.wall:5.2f}x"
        )
        if untargeted:
            print(
                f"{'':>14} aclgen renders {len(peers)} of the {n} devices (no aerleon target for"
                f" {', '.join(untargeted)}); op25b renders all {n}"
            )
        verdict(
            f"generate {label}: op25b faster than aclgen", op.wall < acl.wall, f"{op.wall:.3f} s vs {acl.wall:.3f} s"
        )
    else:
        tree.mkdir()
        print(f"{line}   (aclgen not run above --aclgen-max {args.aclgen_max})")
    if n >= 10000:
        # the target is judged on the first run (every file new, the inventory not yet in the cache); a user
        # re-running generate meets the inventory cache, and unchanged files, which are not rewritten: shown
        # for information
        # what the file system alone costs in this run, right after op25b's first run (creating files frees no
        # inode, so the next figures do not pay for it): on an ext4 without a journal a new inode is allocated
        # past every inode freed in the last minutes, so this varies from 0.3 s to 5 s with what was deleted lately
        size = sum(f.stat().st_size for f in out.iterdir()) // n
        bare = bare_creations(tmp / f"bare-{label}", n, size)
        print(
            f"{'':>14} N={n:>6}  for scale, the file system alone: {n} bare creations of {size}-byte files"
            f" (open/write/close, one thread) in a new directory {bare:7.3f} s"
        )
        again = run_process(commands["op25b"], 1)
        print(
            f"{'':>14} N={n:>6}  again into the same directory (files unchanged, inventory from the cache)"
            f" {again.wall:7.3f} s (CPU {again.cpu:6.3f} s)"
        )
        fresh = [*commands["op25b"][:-1], str(tmp / f"out-{label}-2")]
        warm = run_process(fresh, 1)
        shutil.rmtree(fresh[-1], ignore_errors=True)
        print(
            f"{'':>14} N={n:>6}  into a new empty directory, inventory from the cache {warm.wall:7.3f} s"
            f" (CPU {warm.cpu:6.3f} s)"
        )
        verdict(f"generate {n} devices incl. inventory load < 3 s", op.wall < 3.0, f"{op.wall:.3f} s")
    if not args.no_api:
        in_process(inv_dir, peers, tree, runs, with_aerleon=with_aclgen)
    shutil.rmtree(out, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[1, 100, 1000, 10000])
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (median); a third of it above 100 devices")
    ap.add_argument("--aclgen-max", type=int, default=1000, help="largest N aclgen is run on")
    ap.add_argument("--mix", default="regional", choices=["regional", "random"])
    ap.add_argument("--no-api", action="store_true", help="skip the in-process comparison")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:
        import aerleon  # noqa: F401
    except ImportError:
        print("aerleon is not installed: pip install '.[bench]'", file=sys.stderr)
        return 2
    header(f"op25b generate vs aclgen (mix {args.mix}, mode block)")
    with tempfile.TemporaryDirectory(prefix="op25b-bench-") as name:
        tmp = Path(name)
        bench_size("sample", REPO / "inventory", tmp, args)
        for n in args.sizes:
            inv_dir = tmp / f"inventory-{n}"
            inv_dir.mkdir()
            synthesise(n, inv_dir, args.mix)
            bench_size(f"synthesised-{n}", inv_dir, tmp, args)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
