"""Flow control as the ISPs ran it, proven with real SMTP in the namespace lab (real nftables in the bras, pushed
over SSH; smtplib clients in the subscriber namespaces, the lab's SMTP servers behind the bras).

- ``max_sessions: 10``: the 11th concurrent session of one subscriber is refused while another subscriber
  still opens all of its 10;
- ``connect_delay_s: 3``: a connection to a foreign port 25 takes at least 3 s and 20 sequential ones at least
  60 s, while the relay, port 587 and an exempt static customer are never held back (their connections leave
  no key in the delay's sets);
- the rate limit caps new connections: the burst passes, the next one is refused, the bucket refills.

The measured figures go to ``request.node.user_properties`` (shown under "measured figures" after the run and
kept in JUnit XML). The assertions are behaviour only: what connects, what fails, what takes at least N s.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from op25b_cfg.lab.netns import EXEMPT_V4, EXTERNAL_V6, ISP_MTA_V4, OTHER_EXTERNAL_V4, Lab
from tests import lab_fixtures
from tests.conftest import FIGURE
from tests.lab_fixtures import push

netns_lab = lab_fixtures.netns_lab  # the module's lab (fixture)
lab = lab_fixtures.lab  # per test: the lab with no op25b table (fixture)

pytestmark = pytest.mark.lab

SUBSCRIBERS = ("100.64.1.11", "100.64.1.12", "100.64.1.13", "100.64.1.14")
"""More dynamic subscribers (DYN-TOKYO), as extra addresses in the subscriber namespace: each is a subscriber
of its own to the bras, whose limits are keyed by source address."""
FOREIGN = OTHER_EXTERNAL_V4  # a foreign MX (not one of the ISP's relays)
DELAY_S = 3
SEQUENTIAL = 20
OPEN = 1000  # a limit set out of the way of the one under test

SESSIONS = {
    "lab-bras-sessions": {
        "mode": "flow-control",
        "flow_control": {"max_sessions": 10, "new_per_second": OPEN, "burst": OPEN},
    }
}
DELAY = {
    "lab-bras-delay": {
        "mode": "flow-control",
        "flow_control": {"max_sessions": OPEN, "new_per_second": OPEN, "burst": OPEN, "connect_delay_s": DELAY_S},
    }
}
RATE_PER_SECOND, RATE_BURST = 2, 4
RATE = {
    "lab-bras-rate": {
        "mode": "flow-control",
        "flow_control": {"max_sessions": OPEN, "new_per_second": RATE_PER_SECOND, "burst": RATE_BURST},
    }
}
_ELEMENT = re.compile(r"([0-9a-f.:]+) \. ([0-9a-f.:]+) \. (\d+)")


@pytest.fixture
def subscribers(lab: Lab) -> Iterator[tuple[str, ...]]:
    """The extra subscriber addresses, added for the test and removed after it (also on failure)."""
    added = []
    try:
        for addr in SUBSCRIBERS:
            lab.exec("subscriber", ["ip", "addr", "add", f"{addr}/24", "dev", "eth0", "nodad"])
            added.append(addr)
        yield SUBSCRIBERS
    finally:
        for addr in added:
            lab.exec("subscriber", ["ip", "addr", "del", f"{addr}/24", "dev", "eth0"], check=False)


def figure(request: pytest.FixtureRequest, text: str) -> None:
    request.node.user_properties.append((FIGURE, text))


def probe(lab: Lab, role: str, *args: str) -> list[dict[str, Any]]:
    """Full SMTP transactions from a namespace (waiting out any delay); the attempts."""
    return lab.smtp(role, "probe", *args, "--timeout", "30", timeout=600)


def delay_keys(lab: Lab) -> set[tuple[str, str, int]]:
    """The (source, destination, source port) keys in the bras's delay sets now."""
    keys = set()
    for name in ("op25b_delay_wait_v4", "op25b_delay_seen_v4", "op25b_delay_wait_v6", "op25b_delay_seen_v6"):
        text = lab.nft("list", "set", "inet", "op25b", name)
        keys |= {(a, b, int(p)) for a, b, p in _ELEMENT.findall(text)}
    return keys


def key(src: str, attempt: dict[str, Any]) -> tuple[str, str, int]:
    return (src, attempt["host"], attempt["sport"])


def timed(fn: Callable[[], Any]) -> Callable[[], tuple[Any, float]]:
    def run() -> tuple[Any, float]:
        start = time.monotonic()
        out = fn()
        return out, time.monotonic() - start

    return run


def test_session_cap_per_subscriber(lab: Lab, subscribers: tuple[str, ...], request: pytest.FixtureRequest) -> None:
    """max_sessions 10: one subscriber holds 10 sessions and its 11th is refused; meanwhile another subscriber
    opens all of its 10."""
    push(lab, "lab-bras-sessions", SESSIONS)
    first, other = subscribers[0], subscribers[1]
    argv = ["ip", "netns", "exec", lab.ns("subscriber"), sys.executable, "-m", "op25b_cfg.lab.smtp", "hold"]
    argv += [FOREIGN, "25", "--count", "11", "--source", first, "--linger", "60"]
    holder = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        held = [line for line in (holder.stdout.readline() for _ in range(11)) if line.startswith("{")]
        verdicts = [json.loads(line)["result"] for line in held]
        others = [
            a["result"] for a in lab.smtp("subscriber", "hold", FOREIGN, "25", "--count", "10", "--source", other)
        ]
        still = holder.poll() is None  # the first subscriber's sessions were held open all along
    finally:
        holder.terminate()
        holder.wait(timeout=30)
    figure(
        request,
        f"max_sessions 10: subscriber {first}: {verdicts.count('connected')} connected,"
        f" {verdicts.count('refused')} refused of 11 concurrent; subscriber {other} meanwhile:"
        f" {others.count('connected')} of 10 connected",
    )
    assert verdicts == ["connected"] * 10 + ["refused"], verdicts
    assert others == ["connected"] * 10, others
    assert still


def test_connection_delay(lab: Lab, subscribers: tuple[str, ...], request: pytest.FixtureRequest) -> None:
    """connect_delay_s 3: every new connection to a foreign port 25 is held back at least 3 s (20 in a row: at
    least 60 s); the relay, port 587 and the exempt static customer connect without being held back."""
    push(lab, "lab-bras-delay", DELAY)
    seq_src, other_src = subscribers[0], subscribers[1]

    def others() -> tuple[list[dict[str, Any]], set[tuple[str, str, int]]]:
        got = probe(lab, "subscriber", FOREIGN, "25", ISP_MTA_V4, "25", FOREIGN, "587", "--source", other_src)
        return got, delay_keys(lab)  # within the seen set's timeout of the held-back connection

    def exempt() -> tuple[list[dict[str, Any]], set[tuple[str, str, int]]]:
        return probe(lab, "exempt", FOREIGN, "25"), delay_keys(lab)

    with ThreadPoolExecutor(4) as pool:  # everything else runs while the 20 sequential connections wait
        seq = pool.submit(
            timed(lambda: probe(lab, "subscriber", FOREIGN, "25", "--count", str(SEQUENTIAL), "--source", seq_src))
        )
        oth = pool.submit(others)
        v6 = pool.submit(lambda: probe(lab, "subscriber", EXTERNAL_V6, "25"))
        ex = pool.submit(exempt)
        (sequential, wall), (other, keys), ipv6, (exempted, ex_keys) = (
            seq.result(),
            oth.result(),
            v6.result(),
            ex.result(),
        )
    foreign, relay, submission = other
    took = [a["elapsed"] for a in sequential]
    figure(
        request,
        f"connect_delay_s {DELAY_S}: one foreign port-25 connect {foreign['elapsed']:.2f} s (IPv6"
        f" {ipv6[0]['elapsed']:.2f} s); {SEQUENTIAL} sequential: {wall:.1f} s in all, connect min"
        f" {min(took):.2f} / median {statistics.median(took):.2f} / max {max(took):.2f} s; relay"
        f" {relay['elapsed'] * 1000:.1f} ms, port 587 {submission['elapsed'] * 1000:.1f} ms, exempt static"
        f" {exempted[0]['elapsed'] * 1000:.1f} ms",
    )
    assert [a["result"] for a in sequential] == ["delivered"] * SEQUENTIAL, sequential
    assert min(took) >= DELAY_S, took
    assert wall >= SEQUENTIAL * DELAY_S and sum(took) >= SEQUENTIAL * DELAY_S
    assert foreign["result"] == "delivered" and foreign["elapsed"] >= DELAY_S, foreign
    assert ipv6[0]["result"] == "delivered" and ipv6[0]["elapsed"] >= DELAY_S, ipv6
    assert key(other_src, foreign) in keys, "the held-back connection is in the delay's seen set"
    # the relay and submission pass before the delay: no SYN of theirs ever entered the delay's sets
    assert relay["result"] == "delivered" and key(other_src, relay) not in keys, relay
    assert submission["result"] == "delivered" and key(other_src, submission) not in keys, submission
    assert exempted[0]["result"] == "delivered" and key(EXEMPT_V4, exempted[0]) not in ex_keys, exempted
    assert not any(k[0] == EXEMPT_V4 for k in ex_keys)


def test_rate_limit_caps_new_connections(
    lab: Lab, subscribers: tuple[str, ...], request: pytest.FixtureRequest
) -> None:
    """new_per_second 2, burst 4: back-to-back connections pass up to the burst, the next is refused, and after a
    pause the bucket has refilled."""
    push(lab, "lab-bras-rate", RATE)
    src = subscribers[2]
    start = time.monotonic()
    verdicts = [a["result"] for a in probe(lab, "subscriber", FOREIGN, "25", "--count", "12", "--source", src)]
    wall = time.monotonic() - start
    time.sleep(1.5)  # at 2 per second the bucket refills
    after = probe(lab, "subscriber", FOREIGN, "25", "--source", src)[0]["result"]
    other = probe(lab, "subscriber", FOREIGN, "25", "--source", subscribers[3])[0]["result"]
    figure(
        request,
        f"rate {RATE_PER_SECOND}/s burst {RATE_BURST}: {verdicts.count('delivered')} of 12 back-to-back"
        f" delivered in {wall:.2f} s, {verdicts.count('refused')} refused; after 1.5 s: {after}; another"
        f" subscriber: {other}",
    )
    assert verdicts[:RATE_BURST] == ["delivered"] * RATE_BURST, verdicts
    assert verdicts[RATE_BURST] == "refused", verdicts
    assert verdicts.count("delivered") < len(verdicts), verdicts
    assert after == "delivered"
    assert other == "delivered"  # the limit is per subscriber
