"""Semantic engine on one ACL of 1k, 10k and 100k rules (issue 3, benchmark b). Prints the time of a full device
audit (every check, both families' structure, drift) on a pre-parsed config and the growth ratios; asserts nothing.

    python bench/engine_scale.py [--sizes 1000,10000,100000] [--repeat 3]

The ACL is what a large BRAS filter looks like, and it makes the engine work: a third of the entries sit inside
the dynamic pool on port 25 (per-subscriber opt-out permits to the MTAs, per-host port-25 denies, so the remaining
packet set is punched with thousands of holes), the rest are customer entries on other ports and protocols; the
OP25B entries close it. Targets: 10k rules under 1 s, near-linear growth (ratio ~10 per 10x).
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from pathlib import Path

from op25b_cfg import api
from op25b_cfg.audit.engine import audit_parsed
from op25b_cfg.audit.evaluate import SYN_ONLY, Evaluator, Query
from op25b_cfg.audit.model import Binding, Filter, ParsedConfig
from op25b_cfg.audit.space import BACKEND
from op25b_cfg.inventory import Device
from op25b_cfg.netaddr import parse_prefix
from op25b_cfg.rules import TCP, UDP, Action, AddrMatch, PortRange, Rule

REPO = Path(__file__).resolve().parent.parent
ALL4 = 0xFFFFFFFF


def big_acl(dev: Device, n: int, seed: int = 25) -> list[Rule]:
    """``n`` entries before the device's own OP25B IPv4 rules."""
    rnd = random.Random(seed)
    pool = 0x64400000  # 100.64.0.0/16 (DYN-TOKYO)
    mta = AddrMatch(4, 0xC0000219, ALL4)  # 192.0.2.25
    rules: list[Rule] = []
    for i in range(n):
        kind = i % 3
        host = AddrMatch(4, pool | rnd.getrandbits(16), ALL4)
        if kind == 0 and i % 2:
            r = Rule(Action.DENY, 4, TCP, src=(host,), dst_ports=(PortRange(25, 25),))
        elif kind == 0:
            r = Rule(Action.PERMIT, 4, TCP, src=(host,), dst=(mta,), dst_ports=(PortRange(25, 25),))
        elif kind == 1:
            net = AddrMatch(4, (10 << 24) | (rnd.getrandbits(16) << 8), 0xFFFFFF00)
            p = 1024 + rnd.getrandbits(12)
            r = Rule(Action.PERMIT, 4, TCP, src=(net,), dst_ports=(PortRange(p, p + rnd.getrandbits(4)),))
        else:
            r = Rule(Action.DENY, 4, UDP, src=(host,), dst_ports=(PortRange(1, 1024),))
        rules.append(Rule(**{**r.__dict__, "line": i + 2, "text": f"entry {i}"}))
    plan = api.plan(dev)
    rules += [Rule(**{**r.__dict__, "line": n + 2 + k}) for k, r in enumerate(plan.family_rules(4))]
    return rules


def config(dev: Device, rules: list[Rule]) -> ParsedConfig:
    pc = ParsedConfig(dev.platform, {(4, "BIG"): Filter("BIG", 4, rules, line=1)})
    for att in dev.attach:
        pc.bindings.append(Binding(att.kind, att.name, att.direction, 4, ("BIG",), line=len(rules) + 10, in_use=True))
    return pc


def timed(fn: object, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        api.clear_caches()  # every run is a cold audit: no result of the previous run is reused
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    inv = api.load(REPO / "inventory")
    base = inv.devices["bras-tyo-ios1"]
    import dataclasses

    dev = dataclasses.replace(base, pools=(base.policy.pool("DYN-TOKYO"),))  # IPv4 only: one ACL
    print(f"BDD backend: dd.{BACKEND}")
    prev: tuple[int, float, float] | None = None
    for n in (int(x) for x in args.sizes.split(",")):
        rules = big_acl(dev, n)
        pc = config(dev, rules)
        rep = audit_parsed(dev, pc, "")
        t_audit = timed(lambda pc=pc: audit_parsed(dev, pc, ""), args.repeat)
        # the bare first-match evaluation of the leak query, with a cold rule cache each time
        pool = (AddrMatch.from_prefix(parse_prefix("100.64.0.0/16")),)

        def leak_eval(rules: list[Rule] = rules, pool: tuple[AddrMatch, ...] = pool) -> None:
            ev = Evaluator(4)
            q = Query(4, ev.hs.box(protocol=TCP, src=pool, dst_ports=(PortRange(25, 25),), flags=SYN_ONLY),
                      pool, (), (25,), SYN_ONLY)  # fmt: skip
            ev.evaluate([Filter("BIG", 4, rules)], q, limit_terminal=False)

        t_eval = timed(leak_eval, args.repeat)
        codes = sorted({f.code.value for f in rep.findings})
        line = (
            f"{n:>7} rules: audit {t_audit * 1000:9.1f} ms ({len(rep.checks)} checks, {rep.verdict}, {codes});"
            f" one leak evaluation {t_eval * 1000:8.1f} ms"
        )
        if prev is not None:
            pn, pa, pe = prev
            line += f"  growth x{n / pn:.0f} rules: audit x{t_audit / pa:.1f}, evaluation x{t_eval / pe:.1f}"
        print(line)
        prev = (n, t_audit, t_eval)


if __name__ == "__main__":
    main()
