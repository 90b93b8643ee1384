"""`op25b effect offenders` ingesting 1,000,000 syslog lines, against a plain regex loop over the same file in the
same run (issue 12 item 6: under 10 s whole process on the 2-core machine; the plain loop is the yardstick).

    python bench/effect_offenders.py [--lines 1000000] [--runs 3]

The file mixes what a collector receives: IOS IPv4/IPv6, IOS-XR, EOS, Junos, nftables (journald), Huawei VRP
(``%%01ACLE/4/ACLLOG``) and RouterOS (``firewall,info op25b-block``) OP25B drop lines (in the formats the parsers
read: tests/platforms/*/log_cases.yaml) from 20,000 subscriber addresses in the sample inventory's pools, and
another ACL's drops and unrelated messages (a quarter of the lines). Both processes read the whole file; the
plain loop is one precompiled regex per line summing a packet count per source into a dict (no pools, platforms,
validation or ranking), i.e. the least a Python reader can do (a RouterOS line's key keeps its source port
there). Prints both times, lines/s and the ratio.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, finish, header, run_interleaved, script, verdict

TARGET_SECONDS = 10.0

PLAIN_LOOP = r"""
import re, sys
rx = re.compile(r"(?:tcp |SRC=|SA |\(SYN\), )\(?([0-9A-Fa-f.:]+)")
cnt = re.compile(r"(\d+) packets?")
counts = {}
with open(sys.argv[1], encoding="utf-8", errors="replace") as fh:
    for line in fh:
        m = rx.search(line)
        if m:
            n = cnt.search(line)
            k = m.group(1)
            counts[k] = counts.get(k, 0) + (int(n.group(1)) if n else 1)
print(len(counts))
"""


def make_log(path: Path, lines: int, seed: int = 12) -> None:
    rnd = random.Random(seed)
    v4 = [f"100.{64 + rnd.randrange(2)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}" for _ in range(16000)]
    v6 = [
        f"2001:db8:8{rnd.randrange(4096):03x}:{rnd.randrange(65536):x}::{rnd.randrange(1, 65535):x}"
        for _ in range(4000)
    ]
    templates = [
        "<190>2026-12-07T{t}+09:00 bras{d} {i}: %SEC-6-IPACCESSLOGP: list OP25B-V4-b1a88b08 denied tcp {s4}({sp}) -> 203.0.113.25(25), {n} packets",  # noqa: E501
        "<190>2026-12-07T{t}+09:00 bras{d} {i}: %IPV6-6-ACCESSLOGP: list OP25B-V6-b1a88b08/40 denied tcp {s6}({sp}) -> 2001:DB8:EEEE::25(25), {n} packets",  # noqa: E501
        "<190>2026-12-07T{t}+09:00 bng{d} {i}: RP/0/RSP0/CPU0:ipv4_acl_mgr[162]: %ACL-IPV4_ACL-6-IPACCESSLOGP : access-list OP25B-V4-b1a88b08 (40) deny tcp {s4}({sp}) -> 203.0.113.25(25), {n} packets",  # noqa: E501
        "<190>2026-12-07T{t}+09:00 edge{d} Acl: %ACL-6-IPACCESS: list OP25B-V4-b1a88b08 Ethernet3 denied tcp {s4}({sp}) -> 203.0.113.25(25)",  # noqa: E501
        "<174>Dec  7 {t} mx{d} fpc0 PFE_FW_SYSLOG_IP: FW: ge-0/0/1.100  D  tcp {s4} 203.0.113.25  {sp} 25 ({n} packets)",  # noqa: E501
        "Dec 07 {t} bras{d} kernel: op25b-block: IN=ppp0 OUT=ext0 MAC=9a:7f:76:62:8f:33:f6:e5:8a:9b:59:73:08:00 SRC={s4} DST=203.0.113.25 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID={i} DF PROTO=TCP SPT={sp} DPT=25 WINDOW=64240 RES=0x00 SYN URGP=0",  # noqa: E501
        "<188>2026-12-07T{t}+09:00 ne40e{d} %%01ACLE/4/ACLLOG(l)[{i}]: Acl 3999 deny GigabitEthernet0/0/1 00e0-fc12-3456 -> 00e0-fc12-3457 tcp {s4}({sp}) -> 203.0.113.25(25) ({n} packets).",  # noqa: E501
        "Dec  7 {t} ros{d} firewall,info op25b-block forward: in:<pppoe-u{i}> out:ether1, connection-state:new proto TCP (SYN), {s4}:{sp}->203.0.113.25:25, len 60",  # noqa: E501
        "<190>2026-12-07T{t}+09:00 bras{d} {i}: %SEC-6-IPACCESSLOGP: list CUSTOMER-IN denied tcp {s4}({sp}) -> 198.51.100.9(445), {n} packets",  # noqa: E501
        "<189>2026-12-07T{t}+09:00 bras{d} {i}: %LINEPROTO-5-UPDOWN: Line protocol on Interface Virtual-Access{sp}, changed state to up",  # noqa: E501
        "<190>2026-12-07T{t}+09:00 bras{d} {i}: %SSH-5-SSH2_SESSION: SSH2 Session request from 192.0.2.{n} (tty = 0) using crypto cipher 'aes256-ctr'",  # noqa: E501
    ]
    weights = [26, 8, 9, 6, 7, 11, 4, 4, 5, 10, 10]  # 75% OP25B drops, 5% another ACL's, 20% other messages
    with path.open("w", encoding="utf-8") as fh:
        for i in range(lines):
            tpl = rnd.choices(templates, weights)[0]
            sec = i * 86400 // lines
            t = f"{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"
            fh.write(
                tpl.format(
                    t=t, d=i % 7, i=i, s4=rnd.choice(v4), s6=rnd.choice(v6), sp=rnd.randrange(1024, 65536), n=1 + i % 9
                )
                + "\n"
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    header(f"op25b effect offenders, {args.lines:,} syslog lines")
    with tempfile.TemporaryDirectory(prefix="op25b-bench-") as tmp:
        log = Path(tmp) / "syslog.log"
        make_log(log, args.lines)
        mib = log.stat().st_size / 2**20
        commands = {
            "op25b": [
                script("op25b"),
                "effect",
                "offenders",
                str(log),
                "-i",
                str(REPO / "inventory"),
                "--format",
                "json",
            ],
            "plain regex loop": [sys.executable, "-c", PLAIN_LOOP, str(log)],
        }
        runs = run_interleaved(commands, runs=args.runs, cwd=REPO)
    ours, plain = runs["op25b"], runs["plain regex loop"]
    for name, run in runs.items():
        print(
            f"{name:>18}: {run.wall:6.2f} s wall, {run.cpu:6.2f} s CPU, {args.lines / run.wall / 1e3:7.0f}k lines/s,"
            f" peak RSS {run.rss_mib:.0f} MiB ({mib:.0f} MiB file)"
        )
    print(f"ratio op25b / plain regex loop: {ours.wall / plain.wall:.2f}x wall, {ours.cpu / plain.cpu:.2f}x CPU")
    verdict(f"{args.lines:,} lines < {TARGET_SECONDS:.0f} s", ours.wall < TARGET_SECONDS, f"{ours.wall:.2f} s")
    return finish()


if __name__ == "__main__":
    raise SystemExit(main())
