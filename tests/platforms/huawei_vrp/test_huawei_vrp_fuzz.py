"""huawei_vrp parser under random edits of its parser cases (it never raises, every line it names exists), and
VRP's evaluation order as a property: rules are evaluated in rule-id order whatever order the text has them in."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from op25b_cfg.rules import Action
from tests.platform_data import data_dir
from tests.test_parser_fuzz import check

PLATFORM = "huawei_vrp"
SEEDS = tuple(f.read_text() for f in sorted(data_dir(PLATFORM, "parser_cases").glob("*/config")))
VOCAB = [
    "acl", "number", "name", "ipv6", "advance", "basic", "match-order", "auto", "rule", "5", "permit", "deny", "tcp",
    "ip", "source", "destination", "destination-port", "source-port", "eq", "range", "gt", "lt", "smtp", "0",
    "0.0.0.255", "255.255.255.255", "2001:DB8::/32", "any", "logging", "step", "undo", "interface",
    "traffic-filter", "inbound", "outbound", "#", "return", "quit", "\t", "\x00",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A parser case with a few random line edits (drop, duplicate, swap, insert tokens, cut, re-indent)."""
    lines = draw(st.sampled_from(SEEDS)).split("\n")
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "swap", "insert", "cut", "indent"]))
        if op == "drop" and len(lines) > 1:
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "insert":
            lines.insert(i, " ".join(draw(st.lists(st.sampled_from(VOCAB) | st.text(max_size=5), max_size=9))))
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        else:
            lines[i] = draw(st.sampled_from(["", " ", "  "])) + lines[i].lstrip()
    return "\n".join(lines)


SETTINGS = settings(max_examples=150, deadline=timedelta(seconds=10), suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(text=mutated())
def test_mutated_configs_never_raise(text: str) -> None:
    check(PLATFORM, text)


@SETTINGS
@given(
    ids=st.lists(st.integers(1, 4000), min_size=1, max_size=12, unique=True),
    order=st.randoms(use_true_random=False),
    actions=st.lists(st.sampled_from(["permit", "deny"]), min_size=12, max_size=12),
)
def test_rules_are_evaluated_in_rule_id_order(ids: list[int], order: object, actions: list[str]) -> None:
    lines = [f" rule {rid} {actions[i]} tcp destination-port eq {1000 + i}" for i, rid in enumerate(ids)]
    shuffled = list(lines)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    parsed = check(PLATFORM, "acl number 3001\n" + "\n".join(shuffled) + "\n#\n")
    flt = parsed.filters[(4, "3001")]
    assert [int(r.name) for r in flt.rules] == sorted(ids)
    by_id = dict(zip(ids, actions[: len(ids)], strict=True))
    assert [str(r.action) for r in flt.rules] == [by_id[i] for i in sorted(ids)]
    assert flt.default is Action.PERMIT and parsed.unparsed == []
