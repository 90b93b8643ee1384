"""Fuzzing the running-config parsers with hypothesis: random bytes and random mutations of real configs must
never raise, never hang, and every line number they report must exist in the input.

Every registered platform is fuzzed (the contract suite, tests/test_contract.py, checks each has seeds). Seeds are
the parser case configs (``tests/platforms/<platform>/parser_cases/*/config``, which include op25b's own output)
plus, where present, the public corpus folder (``corpus:`` in the platform's contract.yaml, default its name).
The hypothesis ``deadline`` is a hang guard (seconds per example, where a parse takes milliseconds), not a
performance assertion.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from op25b_cfg.audit.lazy import resolve_all
from op25b_cfg.audit.model import ParsedConfig
from op25b_cfg.platforms import PLATFORMS, get_platform
from tests.labutil import CORPUS
from tests.platform_data import contract, data_dir

VOCAB = [
    "permit", "deny", "remark", "any", "host", "eq", "neq", "lt", "gt", "range", "established", "syn", "ack",
    "match-all", "match-any", "+syn", "-ack", "log", "object-group", "net-group", "port-group", "portgroup",
    "tcp", "udp", "ip", "ipv4", "ipv6", "icmp", "smtp", "25", "65536", "-1", "0.0.0.255", "255.255.255.255",
    "10.0.0.0/8", "2001:db8::/32", "::", "interface", "ip access-list extended X", "access-list 101",
    "ip access-group X in", "ipv4 access-group X ingress", "shutdown", "banner motd ^C", "^C", "EOF", "!",
    "class-map", "policy-map", "police rate 1 pps burst", "service-policy input", "virtual-template 1",
    "dynamic-template", "type ppp", "traffic-policy", "group-object", "sequence", "\t", "\r", "\x00", "@",
]  # fmt: skip
SETTINGS = settings(
    max_examples=120,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
)


@cache
def seeds(platform: str) -> tuple[str, ...]:
    files = sorted(data_dir(platform, "parser_cases").glob("*/config"))
    if CORPUS.is_dir():
        files += sorted((CORPUS / str(contract(platform).get("corpus", platform))).glob("*.cfg"))
    return tuple(f.read_bytes().decode("utf-8", errors="replace") for f in files)


def check(platform: str, text: str) -> ParsedConfig:
    """Parse (deferred filters too) and check every reported line number exists."""
    parsed = resolve_all(get_platform(platform).parse(text))
    n = len(text.split("\n"))
    for u in parsed.unparsed:
        assert 1 <= u.line <= n
    for flt in parsed.filters.values():
        assert flt.line is None or 1 <= flt.line <= n
        for r in flt.rules:
            assert r.line is not None and 1 <= r.line <= n
    for b in parsed.bindings:
        assert b.line is None or 1 <= b.line <= n
    return parsed


@st.composite
def mutated(draw: st.DrawFn, platform: str) -> str:
    """A seed config with a few random line edits."""
    pool = seeds(platform)
    lines = draw(st.sampled_from(pool)).split("\n")
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["drop", "dup", "swap", "insert", "cut", "token", "indent"]))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if not lines:
            lines = [""]
        if op == "drop" and len(lines) > 1:
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "insert":
            lines.insert(i, " ".join(draw(st.lists(st.sampled_from(VOCAB), max_size=8))))
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "token":
            toks = lines[i].split(" ")
            k = draw(st.integers(0, len(toks) - 1))
            toks[k] = draw(st.sampled_from(VOCAB) | st.text(max_size=6))
            lines[i] = " ".join(toks)
        else:
            lines[i] = draw(st.sampled_from(["", " ", "  ", "\t", "   "])) + lines[i].lstrip()
    return "\n".join(lines)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_seeds_exist(platform: str) -> None:
    assert seeds(platform), f"no seed configs for {platform} in {data_dir(platform, 'parser_cases')}"


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
@SETTINGS
@given(data=st.binary(max_size=3000))
def test_random_bytes(platform: str, data: bytes) -> None:
    check(platform, data.decode("utf-8", errors="replace"))


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
@SETTINGS
@given(data=st.data())
def test_mutated_real_configs(platform: str, data: st.DataObject) -> None:
    check(platform, data.draw(mutated(platform)))


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_huge_and_pathological_inputs(platform: str) -> None:
    """Very long lines, an unclosed banner, deep object-group nesting and a 60k-line file still parse."""
    groups = "".join(f"object-group network G{i}\n group-object G{i + 1}\n" for i in range(400))
    texts = [
        "ip access-list extended X\n permit tcp " + "host 10.0.0.1 " * 20000 + "\n",
        "banner motd ^C\n" + "ip access-list extended X\n deny ip any any\n" * 2000,
        groups + "ip access-list extended X\n permit ip object-group G0 any\n",
        "".join(seeds(platform)) * 20,
    ]
    for text in texts:
        check(platform, text)
