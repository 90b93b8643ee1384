"""The kernel as a second oracle for the nftables audit (see :mod:`tests.nftkernel`).

A seeded run of generated OP25B-style rulesets (:mod:`tests.nftgen`): each is audited by op25b and loaded into a
real router namespace, every counterexample op25b prints is replayed as that packet, and a COMPLIANT verdict is
checked against real SYNs and connections. Any disagreement fails the test with its seed and a reproduction.

``OP25B_NFT_DIFF_COUNT`` (default 200) and ``OP25B_NFT_DIFF_SEED`` (default 0) choose the run; a longer one::

    OP25B_NFT_DIFF_COUNT=2000 OP25B_NFT_DIFF_SEED=5000 python -m pytest -q tests/test_nft_kernel_differential.py -s

``OP25B_NFT_DIFF_SECONDS`` (default 300, scaled with the count) bounds the run: a run that does not finish in
time fails and says how far it got, so a slow audit never hangs CI. The same run from a shell, with every
disagreement's ruleset printed: ``python -m tests.nftkernel --seed S --count N --show``.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.labutil import need_netns, need_nft
from tests.nftgen import generate
from tests.nftkernel import RunStats, audit_case, describe, kernel_lab, run

pytestmark = pytest.mark.lab

COUNT = int(os.environ.get("OP25B_NFT_DIFF_COUNT", "200"))
SEED = int(os.environ.get("OP25B_NFT_DIFF_SEED", "0"))
SECONDS = float(os.environ.get("OP25B_NFT_DIFF_SECONDS", str(max(300, COUNT * 1.5))))
SHOWN = 5
"""At most this many disagreements are printed in full (each with its ruleset)."""


def test_kernel_agrees_with_the_audit(capsys: pytest.CaptureFixture[str]) -> None:
    need_netns()
    need_nft()
    stats = RunStats()
    deadline = time.monotonic() + SECONDS
    start = time.monotonic()
    with kernel_lab() as lab:
        for seed in range(SEED, SEED + COUNT):
            assert time.monotonic() < deadline, (
                f"kernel differential exceeded {SECONDS:.0f} s after {stats.rulesets} of {COUNT} rulesets"
                f" (seed {seed} next): {stats.summary()}"
            )
            one = run(lab, range(seed, seed + 1))
            stats.merge(one)
        full = [
            describe(seed, case, audit_case(case, lab.workdir), d)
            for seed, d in stats.disagreements[:SHOWN]
            for case in [generate(seed)]
        ]
    with capsys.disabled():
        print(f"\nnft kernel differential, seeds {SEED}..{SEED + COUNT - 1}, {time.monotonic() - start:.0f} s:")
        print(f"  {stats.summary()}")
    assert not stats.load_errors, f"generated rulesets nft refused: {stats.load_errors[:5]}"
    assert not stats.disagreements, (
        f"{stats.summary()}\n\n"
        + "\n\n".join(full)
        + "\n\nreproduce one: python -m tests.nftkernel --seed SEED --count 1 --show"
    )
