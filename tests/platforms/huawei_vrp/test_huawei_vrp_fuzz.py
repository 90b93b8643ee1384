"""VRP's evaluation order as a property: rules are evaluated in rule-id order whatever order the text has them in.
(Random edits of the parser cases are fuzzed for every platform by tests/test_parser_fuzz.py.)"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from op25b_cfg.rules import Action
from tests.test_parser_fuzz import check

PLATFORM = "huawei_vrp"
SETTINGS = settings(max_examples=150, deadline=timedelta(seconds=10), suppress_health_check=[HealthCheck.too_slow])


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
