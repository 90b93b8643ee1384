"""Start-up of the ``op25b`` console script as a whole process, against ``aclgen --help`` and ``python -c pass``
in the same run.

    python bench/startup.py [--runs 15]

Times (median of ``--runs``, the commands taking turns) ``op25b --help``, ``op25b --version``,
``op25b platforms`` and ``op25b audit --help``, ``aclgen --help`` (aerleon, installed with the bench extra) and
a bare interpreter. Target (issue 10): ``op25b --help`` takes at most as long as ``aclgen --help``.
"""

from __future__ import annotations

import argparse
import sys

from _common import finish, header, run_interleaved, script, verdict


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args(argv)
    header("start-up, whole process")
    op25b = script("op25b")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "aclgen --help": [script("aclgen"), "--help"],  # aclgen prints its help and exits 1
        "op25b --help": [op25b, "--help"],
        "op25b --version": [op25b, "--version"],
        "op25b platforms": [op25b, "platforms"],
        "op25b audit --help": [op25b, "audit", "--help"],
    }
    figures = run_interleaved(commands, args.runs, ok=(0, 1))
    base = figures["python -c pass"].wall
    peer = figures["aclgen --help"].wall
    for name, r in figures.items():
        print(
            f"{name:>20}  {r.wall * 1e3:7.1f} ms  (python -c pass + {(r.wall - base) * 1e3:6.1f} ms;"
            f" {r.wall / peer:4.2f}x aclgen --help)  CPU {r.cpu * 1e3:6.1f} ms  peak RSS {r.rss_mib:5.1f} MiB"
        )
    mine = figures["op25b --help"].wall
    verdict("op25b --help at most aclgen --help", mine <= peer, f"{mine * 1e3:.1f} ms vs {peer * 1e3:.1f} ms")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
