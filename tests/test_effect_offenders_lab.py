"""`op25b effect offenders` end to end in the namespace lab: real SMTP attempts from the subscriber namespace
through the pushed nftables filter, the kernel log lines its ``log prefix "op25b-block: "`` rule really wrote,
and the offenders report naming the subscriber's addresses with exactly the attempts that were refused.

How the lines are read (:func:`tests.labutil.namespace_kernel_log`, :class:`tests.labutil.Kmsg`): the test sets
``net.netfilter.nf_log_all_netns`` to 1 for its duration (without it a namespace's ``log`` lines are not written),
reads the new records from ``/dev/kmsg`` (what ``dmesg`` prints) and keeps those whose ``MAC=`` field holds the
lab subscriber's own (random) MAC, so a concurrent lab's lines are never mixed in.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from op25b_cfg.lab.netns import (
    ISP_MTA_V4,
    OTHER_EXTERNAL_V4,
    OTHER_EXTERNAL_V6,
    SUBSCRIBER_V4,
    SUBSCRIBER_V6,
    Lab,
)
from tests import lab_fixtures
from tests.labutil import Kmsg, namespace_kernel_log, need

netns_lab = lab_fixtures.netns_lab
lab = lab_fixtures.lab

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def netns_kernel_log() -> Iterator[None]:
    """nf_log_all_netns=1 for the test (the previous value restored after it, also on failure)."""
    try:
        with namespace_kernel_log():
            yield
    except OSError as exc:
        need(False, f"cannot log netfilter lines of a namespace (needs root in the initial namespace): {exc}")


def offenders(log: Path, *args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "op25b_cfg", "effect", "offenders", str(log), "--format", "json", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_offenders_names_the_subscriber_with_the_refused_attempts(
    lab: Lab, netns_kernel_log: None, tmp_path: Path
) -> None:
    lab_fixtures.push(lab, "lab-bras")  # block mode, log on: the rendered rate-limited log rule
    assert 'log prefix "op25b-block: "' in lab.op25b_table()
    subscriber_mac = lab_fixtures.mac(lab, "subscriber")
    kmsg = Kmsg()
    try:
        # 3 + 2 refused attempts stay inside the log rule's burst (5); the relay and submission are not logged
        assert lab.deliver(OTHER_EXTERNAL_V4, 25, count=3) == ["refused"] * 3
        assert lab.deliver(OTHER_EXTERNAL_V6, 25, count=2) == ["refused"] * 2
        assert lab.deliver(ISP_MTA_V4, 25) == ["delivered"]
        assert lab.deliver(OTHER_EXTERNAL_V4, 587) == ["delivered"]
        lines = kmsg.wait_for(f":{subscriber_mac}:", 5)
    finally:
        kmsg.close()
    assert len(lines) == 5, lines
    assert all(m.startswith("op25b-block: IN=ppp0 ") and " DPT=25 " in m for m in lines), lines
    log = tmp_path / "kernel.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(*lines, sep="\n")  # shown with -s: the real lines tests/platforms/linux_nftables/log_cases.yaml quotes

    doc = offenders(log, "-i", str(lab.inventory_dir))
    rows = {(o["pool"], o["address"]): o["attempts"] for o in doc["offenders"]}  # type: ignore[attr-defined]
    assert rows == {("DYN-TOKYO", SUBSCRIBER_V4): 3, ("DYN-V6", SUBSCRIBER_V6): 2}
    summary = doc["summary"]
    assert (summary["counted"], summary["malformed"], summary["by_platform"]) == (5, 0, {"linux_nftables": 5})  # type: ignore[index]

    # the abuse desk's view: RADIUS accounting names the account (the kernel lines carry no wall-clock time,
    # so the account is named only because one session ever held each address)
    detail = tmp_path / "detail"
    now = int(time.time())
    detail.write_text(
        f"{time.strftime('%a %b %d %H:%M:%S %Y', time.gmtime(now - 60))}\n"
        '\tAcct-Session-Id = "lab-0001"\n\tUser-Name = "lab-subscriber@isp.example"\n\tAcct-Status-Type = Start\n'
        f"\tFramed-IP-Address = {SUBSCRIBER_V4}\n\tFramed-IPv6-Prefix = 2001:db8:8000:1::/64\n"
        f"\tNAS-IP-Address = 192.0.2.1\n\tTimestamp = {now - 60}\n\n",
        encoding="utf-8",
    )
    doc = offenders(log, "-i", str(lab.inventory_dir), "--radius", str(detail))
    named = {(o["address"], o["subscriber"]): o["attempts"] for o in doc["offenders"]}  # type: ignore[attr-defined]
    assert named == {(SUBSCRIBER_V4, "lab-subscriber@isp.example"): 3, (SUBSCRIBER_V6, "lab-subscriber@isp.example"): 2}
