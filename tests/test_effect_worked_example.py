"""The README's effect worked example is a real run: tests/lab_worked_example.py runs its commands in a namespace
lab, each as its own process, and the README's block must be exactly what that run prints (normalised as the
script's doc says), so the README's numbers cannot drift from what op25b really reports. The packets to the relay
and on 587 vary by one between runs (TCP's delayed ACKs): there the run must equal the kernel's own counters and
the README may differ from the run by that one packet."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from op25b_cfg.lab.netns import Lab
from tests import lab_fixtures
from tests.lab_worked_example import COMMANDS, block, mask_varying, readme_block, run
from tests.labutil import need
from tests.test_effect_lab import kernel_counters

netns_lab = lab_fixtures.netns_lab
lab = lab_fixtures.lab

pytestmark = pytest.mark.lab


def test_readme_block_lists_exactly_the_commands_the_script_runs() -> None:
    shown = [line[2:] for line in readme_block().splitlines() if line.startswith("$ ")]
    assert shown == COMMANDS


def test_the_readme_worked_example_is_what_a_lab_run_prints(lab: Lab, tmp_path: Path) -> None:
    try:
        steps = run(lab, tmp_path)
    except OSError as exc:  # nf_log_all_netns cannot be set: no log lines for effect offenders
        need(False, f"cannot log netfilter lines of a namespace (needs root in the initial namespace): {exc}")
    assert [s.code for s in steps] == [0] * len(steps), block(steps)
    got = block(steps)
    # the numbers first, so a failure names them: per pool blocked / relays / submission / exempt, the offenders
    row = r"│ (DYN-\S+) +│ +(\d+) │.*?│ +(\d+) │ +(\d+) │ +(\d+) │ +\S+% │"
    pools = {p: tuple(map(int, v)) for p, *v in re.findall(row, got)}
    kernel = kernel_counters(lab)
    relay, submission = kernel["ip ISP mail relays"], kernel["ip mail submission stays open"]
    assert pools == {"DYN-TOKYO": (3, relay, submission, 0), "DYN-V6": (1, 0, 0, 0)}, got
    assert kernel["ip block direct SMTP from dynamic pools"] == 3
    assert kernel["ip6 block direct SMTP from dynamic pools"] == 1
    assert re.findall(r"│ (100\.64\.1\.10|2001:db8:8000:1::10) +│ +│ (\d+) +│", got) == [
        ("100.64.1.10", "3"),
        ("2001:db8:8000:1::10", "1"),
    ], got
    assert (tmp_path / "op25b-effect.html").read_text(encoding="utf-8").count("<svg") == 2
    readme = readme_block()
    assert mask_varying(got) == mask_varying(readme)
    shown = {p: tuple(map(int, v)) for p, *v in re.findall(row, readme)}
    assert all(abs(a - b) <= 1 for a, b in zip(shown["DYN-TOKYO"], pools["DYN-TOKYO"], strict=True)), (shown, pools)
