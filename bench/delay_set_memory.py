"""Kernel memory of the connection delay's sets (``flow_control.connect_delay_s`` on linux_nftables).

    sudo python bench/delay_set_memory.py [--elements 60000] [--runs 3]

In a network namespace of its own, loads the two delay sets exactly as op25b renders them (type, ``flags
dynamic,timeout``) with a size large enough, adds ``--elements`` keys (source . destination . source port, the
timeout long enough to outlive the measurement) to one IPv4 and one IPv6 set with ``nft -f``, checks with ``nft
list set`` that they are all there, and reads the kernel's slab memory (``/proc/slabinfo``: active objects x
object size, summed over every cache; and ``Slab`` in ``/proc/meminfo``) before the elements are added, after,
and after the table is deleted. Per element = (after - before) / elements, per run; the median is printed. The
machine's other work moves the slab counters too, so the figure is a median over runs and the drop after the
table is deleted is printed beside it as a check. Elements the packet path adds (the delay's ``add @set``) are
built by the same kernel function as these (``nft_set_elem_init``) with the same extensions (key, timeout,
expiration), so they take the same memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

DELAY = 3
TYPES = {4: "ipv4_addr . ipv4_addr . inet_service", 6: "ipv6_addr . ipv6_addr . inet_service"}


def slab_bytes() -> int:
    total = 0
    with open("/proc/slabinfo", encoding="ascii") as fh:
        for line in fh.readlines()[2:]:
            parts = line.split()
            total += int(parts[1]) * int(parts[3])
    return total


def meminfo_slab() -> int:
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Slab:"):
                return int(line.split()[1]) * 1024
    return 0


def nft(ns: str, script: str) -> str:
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "-f", "-"], input=script, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"nft failed: {proc.stderr.strip()[:500]}")
    return proc.stdout


def element(fam: int, i: int) -> str:
    if fam == 4:
        return f"100.64.{i >> 8 & 255}.{i & 255} . 203.0.113.{i >> 16 & 255} . {1024 + i % 60000}"
    return f"2001:db8:8000:{i >> 16:x}::{i & 0xFFFF:x} . 2001:db8:eeee::25 . {1024 + i % 60000}"


def run(ns: str, fam: int, n: int) -> tuple[float, float, float, int]:
    name = f"op25b_delay_seen_v{fam}"
    nft(
        ns,
        f"table inet op25b_bench {{\n\tset {name} {{\n\t\ttype {TYPES[fam]}\n\t\tsize {n + 1024}\n"
        f"\t\tflags dynamic,timeout\n\t\ttimeout {2 * DELAY + 4}s\n\t}}\n}}\n",
    )
    before, before_mi = slab_bytes(), meminfo_slab()
    batch = 5000
    for lo in range(0, n, batch):
        elems = ", ".join(f"{element(fam, i)} timeout 10m" for i in range(lo, min(n, lo + batch)))
        nft(ns, f"add element inet op25b_bench {name} {{ {elems} }}\n")
    after, after_mi = slab_bytes(), meminfo_slab()
    listed = subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "list", "set", "inet", "op25b_bench", name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.count(" expires ")
    nft(ns, "delete table inet op25b_bench\n")
    freed = after - slab_bytes()
    return (after - before) / n, (after_mi - before_mi) / n, freed / n, listed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--elements", type=int, default=60000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (a network namespace and nftables)", file=sys.stderr)
        return 2
    ns = f"op25b-bench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        print(f"delay set memory: {args.elements} elements per run, {args.runs} runs, kernel {os.uname().release}")
        for fam in (4, 6):
            runs = [run(ns, fam, args.elements) for _ in range(args.runs)]
            listed = {r[3] for r in runs}
            slab = statistics.median(r[0] for r in runs)
            mi = statistics.median(r[1] for r in runs)
            freed = statistics.median(r[2] for r in runs)
            print(
                f"IPv{fam} ({TYPES[fam]}): nft list set shows {sorted(listed)} elements;"
                f" slabinfo {slab:.0f} B/element (runs: {', '.join(f'{r[0]:.0f}' for r in runs)}),"
                f" meminfo Slab {mi:.0f} B/element, freed on delete {freed:.0f} B/element"
            )
            per_flow = slab  # one element in the wait set (delay s) and one in the seen set (2*delay + 4 s)
            print(
                f"  per new connection per second (delay {DELAY} s): {per_flow * (DELAY + 2 * DELAY + 4) / 1024:.1f}"
                f" KiB held; a full set (65535 elements) {slab * 65535 / 2**20:.1f} MiB"
            )
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
