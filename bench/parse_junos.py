"""Parser throughput on a generated ~60k-line Junos MX BNG config (``show configuration`` brace format),
against a full ciscoconfparse2 parse (``syntax='junos'``) of the same text in the same run (the baseline
issue 3 names). Prints lines/s and the ratio; asserts nothing.

    python bench/parse_junos.py [--lines 60000] [--repeat 5] [--no-baseline] [--set]

The config mixes what a BNG holds: system/protocols sections, customer prefix-lists, many firewall filters
with unique terms, thousands of VLAN units with inet/inet6 filters and addresses, dynamic-profiles, and the
OP25B config op25b itself renders (flow-control mode: policer + interface-specific filter + dynamic-profile).
``--set`` benchmarks the same config in ``display set`` format instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import time
from pathlib import Path

from op25b_cfg import api

REPO = Path(__file__).resolve().parent.parent
DEVICE = next(d for d in api.load(REPO / "inventory").select() if d.platform == "juniper_junos")


def op25b_block() -> str:
    """The OP25B config op25b renders for the sample Junos BNG, in flow-control mode."""
    dev = dataclasses.replace(
        DEVICE,
        mode="flow-control",
        flow_control=DEVICE.flow_control.model_copy(update={"max_sessions": None}),
        attach=tuple(a for a in DEVICE.attach if a.kind == "dynamic-profile"),
    )
    text = api.render(dev)
    return text


def bng_config(target: int) -> str:
    """A synthetic BNG config of about ``target`` lines (brace format)."""
    out: list[str] = [
        "## Last commit: 2024-05-01 10:00:00 JST by netops",
        "version 21.4R3-S5;",
        "system {",
        "    host-name bng-bench;",
        "    services {",
        "        ssh;",
        "        netconf { ssh; }",
        "    }",
        "    syslog {",
        "        host 192.0.2.50 {",
        "            any notice;",
        "        }",
        "    }",
        "}",
    ]
    # customer prefix-lists
    out.append("policy-options {")
    pl = 0
    while len(out) < target * 0.08:
        out.append(f"    prefix-list CUST-{pl} {{")
        for r in range(10):
            out.append(f"        10.{pl % 250}.{r * 16}.0/20;")
        out.append("    }")
        pl += 1
    out.append("}")
    # customer filters
    out.append("firewall {")
    out.append("    family inet {")
    flt = 0
    while len(out) < target * 0.3:
        out.append(f"        filter CUST-IN-{flt} {{")
        for t in range(8):
            out += [
                f"            term t{t} {{",
                "                from {",
                "                    source-address {",
                f"                        10.{flt % 250}.{t}.0/24;",
                f"                        10.{flt % 250}.{t}.128/25 except;",
                "                    }",
                f"                    destination-prefix-list CUST-{(flt + t) % max(pl, 1)};",
                "                    protocol [ tcp udp ];",
                f"                    destination-port [ {1000 + t} {2000 + flt % 1000}-{2100 + flt % 1000} ];",
                "                }",
                "                then {",
                f"                    count c{t};",
                "                    accept;" if t % 2 else "                    discard;",
                "                }",
                "            }",
            ]
        out.append("        }")
        flt += 1
    out.append("    }")
    out.append("}")
    # subscriber-facing units
    out.append("interfaces {")
    unit = 0
    ifd = 0
    while len(out) < target * 0.93:
        if unit % 1000 == 0:
            if unit:
                out.append("    }")
            out += [
                f"    ae{ifd} {{",
                "        flexible-vlan-tagging;",
                "        encapsulation flexible-ethernet-services;",
            ]
            ifd += 1
        v = 100 + unit % 1000
        out += [
            f"        unit {v} {{",
            f'            description "customer {unit} vlan {v}";',
            f"            vlan-id {v};",
            "            family inet {",
            "                filter {",
            f"                    input CUST-IN-{unit % max(flt, 1)};",
            "                }",
            f"                address 100.{64 + unit // 65000}.{(unit // 250) % 250}.{unit % 250 + 1}/30;",
            "            }",
            "            family inet6 {",
            f"                address 2001:db8:{unit:x}::1/64;",
            "            }",
            "        }",
        ]
        unit += 1
    out.append("    }")
    out.append("}")
    out += [
        "protocols {",
        "    bgp {",
        "        group UPSTREAM {",
    ]
    n = 0
    while len(out) < target - 250:
        out += [f"            neighbor 192.0.2.{n % 250} {{", f"                peer-as {64500 + n};", "            }"]
        n += 1
    out += ["        }", "    }", "}"]
    out.append(op25b_block())
    return "\n".join(out) + "\n"


def to_set(text: str) -> str:
    """The same config in ``display set`` form (via our own reader: one line per statement)."""
    from op25b_cfg.dialects.junos import read  # internal: the statement reader (no API gives statements)

    res = read(text, extra=frozenset({"system", "protocols", "version"}))
    return "\n".join("set " + " ".join(f'"{t}"' if " " in t else t for t in st.path) for st in res.stmts) + "\n"


def best_of(fn: object, repeat: int) -> tuple[float, float]:
    """Best wall-clock and best CPU (process) time of ``repeat`` runs; CPU time is the fairer figure on a
    shared machine."""
    best = cpu = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return best, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=60000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-baseline", action="store_true", help="skip the (slow) ciscoconfparse2 baseline")
    ap.add_argument("--set", action="store_true", help="benchmark the display-set form of the config")
    args = ap.parse_args()
    text = bng_config(args.lines)
    if args.set:
        text = to_set(text)
    lines = text.count("\n")
    parsed = api.parse(DEVICE, text)
    rules = sum(len(f.rules) for f in parsed.filters.values())
    print(
        f"config: {lines} lines ({'set' if args.set else 'brace'}), {len(parsed.filters)} filters, {rules} rules,"
        f" {len(parsed.bindings)} bindings, {len(parsed.flow)} flow, {len(parsed.unparsed)} unparsed"
    )
    ours, ours_cpu = best_of(lambda: api.parse(DEVICE, text), args.repeat)
    print(
        f"op25b juniper_junos.parse : {ours * 1000:8.1f} ms  {lines / ours:12,.0f} lines/s wall,"
        f" {lines / ours_cpu:12,.0f} lines/s CPU (best of {args.repeat})"
    )
    if args.no_baseline:
        return
    from ciscoconfparse2 import CiscoConfParse

    split = text.splitlines()
    base, base_cpu = best_of(lambda: CiscoConfParse(split, syntax="junos"), 1)
    print(
        f"ciscoconfparse2 (junos)   : {base * 1000:8.1f} ms  {lines / base:12,.0f} lines/s wall,"
        f" {lines / base_cpu:12,.0f} lines/s CPU"
    )
    print(f"ratio                     : {base / ours:8.1f}x faster (wall), {base_cpu / ours_cpu:.1f}x (CPU)")


if __name__ == "__main__":
    main()
