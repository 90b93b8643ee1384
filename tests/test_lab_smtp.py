"""Real SMTP through the namespace lab after a real push over SSH: what OP25B must do to subscriber traffic.

Each test renders a lab device from the bundled policy (pools DYN-TOKYO/DYN-V6, MTAs, ACME-STATIC and the
cust-4711-v6 opt-out, the targeted prefixes), pushes it to the bras with LinuxNftSession (load, diff,
commit with a revert timer, confirm), then sends SMTP from the subscriber namespaces with smtplib.
"""

from __future__ import annotations

import time

import pytest

from op25b_cfg.lab.netns import (
    EXTERNAL_V4,
    EXTERNAL_V6,
    ISP_MTA_V4,
    ISP_MTA_V6,
    OTHER_EXTERNAL_V4,
    OTHER_EXTERNAL_V6,
    Lab,
)
from tests import lab_fixtures
from tests.lab_fixtures import push, rendered, session

netns_lab = lab_fixtures.netns_lab  # the module's lab (fixture)
lab = lab_fixtures.lab  # per test: the lab with no op25b table (fixture)

pytestmark = pytest.mark.lab

FOREIGN = (EXTERNAL_V4, EXTERNAL_V6)
OTHER_FOREIGN = (OTHER_EXTERNAL_V4, OTHER_EXTERNAL_V6)
MTAS = (ISP_MTA_V4, ISP_MTA_V6)

SESSIONS = {
    "lab-bras-flow-sessions": {
        "mode": "flow-control",
        "flow_control": {"max_sessions": 3, "new_per_second": 1000, "burst": 1000},
    }
}
RATE = {"lab-bras-flow-rate": {"mode": "flow-control", "flow_control": {"max_sessions": 1000}}}
"""Rate limit from the bundled policy (1/second, burst 5); the session cap is set out of the way."""
BURST = 5


def one(lab: Lab, host: str, port: int, src: str = "subscriber") -> str:
    return lab.deliver(host, port, src=src)[0]


def expect(lab: Lab, want: dict[tuple[str, int], str], src: str = "subscriber") -> None:
    """SMTP from ``src`` to every (host, port) of ``want`` gives the wanted result (one probe process)."""
    got = lab.deliver_many(list(want), src=src)
    wrong = {f"{src} -> {h}:{p}": f"{got.get((h, p))} (want {w})" for (h, p), w in want.items() if got.get((h, p)) != w}
    assert not wrong, wrong


def test_block_mode(lab: Lab) -> None:
    expect(lab, {(h, 25): "delivered" for h in FOREIGN})  # the lab carries port 25 before the push
    diff = push(lab, "lab-bras")
    assert "mode block" in diff
    before = len(lab.spool("isp-mta"))
    want = {(h, 25): "refused" for h in (*FOREIGN, *OTHER_FOREIGN)}  # blocked, IPv4 and IPv6
    want |= {(h, 587): "delivered" for h in (*FOREIGN, *OTHER_FOREIGN)}  # submission stays open
    want |= {(h, 25): "delivered" for h in MTAS}  # the ISP's relays
    expect(lab, want)
    assert len(lab.spool("isp-mta")) == before + 2
    # 100.64.200.5 is in ACME-STATIC, 2001:db8:8000:4711::5 in the cust-4711-v6 opt-out
    expect(lab, {(h, 25): "delivered" for h in FOREIGN}, src="exempt")


def test_targeted_mode(lab: Lab) -> None:
    push(lab, "lab-bras-targeted")
    want = {(h, 25): "refused" for h in FOREIGN}  # in the targeted list
    want |= {(h, 587): "delivered" for h in FOREIGN}
    want |= {(h, 25): "delivered" for h in (*OTHER_FOREIGN, *MTAS)}  # not targeted / the ISP's relays
    expect(lab, want)


@pytest.mark.parametrize("host", FOREIGN)
def test_flow_control_caps_concurrent_sessions(lab: Lab, host: str) -> None:
    push(lab, "lab-bras-flow-sessions", SESSIONS)
    results = lab.smtp("subscriber", "hold", host, "25", "--count", "5", "--retry-after-release")
    verdicts = [r["result"] for r in results]
    assert verdicts[:3] == ["connected"] * 3, verdicts  # max_sessions = 3 held open at once
    assert verdicts[3:5] == ["refused"] * 2, verdicts  # the 4th and 5th concurrent session fail
    assert verdicts[5] == "connected", verdicts  # a closed session frees its slot


@pytest.mark.parametrize("host", FOREIGN)
def test_flow_control_caps_the_new_connection_rate(lab: Lab, host: str) -> None:
    push(lab, "lab-bras-flow-rate", RATE)
    verdicts = lab.deliver(host, 25, count=10)
    assert verdicts[:BURST] == ["delivered"] * BURST, verdicts  # the burst passes
    assert verdicts[BURST] == "refused", verdicts  # the first one over the burst is reset
    assert verdicts.count("refused") >= 3, verdicts  # at most a token or two refill while the loop runs
    time.sleep(2.2)  # 1 new connection per second refills the bucket
    assert one(lab, host, 25) == "delivered"
    assert one(lab, ISP_MTA_V4 if ":" not in host else ISP_MTA_V6, 25) == "delivered"  # relays are not limited


def test_unconfirmed_commit_reverts_and_traffic_flows_again(lab: Lab) -> None:
    text = rendered(lab, "lab-bras")
    s = session(lab)
    s.open()
    try:
        s.load_candidate(text)
        s.commit(2)
        assert one(lab, EXTERNAL_V4, 25) == "refused"
    finally:
        s.close()  # never confirmed
    deadline = time.monotonic() + 15
    while lab.op25b_table() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lab.op25b_table() == ""
    assert "table inet filter" in lab.nft("list", "ruleset")
    assert one(lab, EXTERNAL_V4, 25) == "delivered"


def test_rollback_reopens_port_25(lab: Lab) -> None:
    with session(lab) as s:
        s.load_candidate(rendered(lab, "lab-bras"))
        s.commit(30)
        assert one(lab, EXTERNAL_V6, 25) == "refused"
        s.rollback()
    assert lab.op25b_table() == ""
    assert one(lab, EXTERNAL_V6, 25) == "delivered"
