"""Every process-wide cache is declared in the module that uses it and registered with ``op25b_cfg.caches``:
``api.clear_caches()`` (``caches.clear()``) empties every one of them after real work filled them."""

from __future__ import annotations

from pathlib import Path

from op25b_cfg import api, caches, rules
from op25b_cfg.audit import checks, evaluate
from op25b_cfg.dialects import cisco
from op25b_cfg.platforms import base

REPO = Path(__file__).resolve().parent.parent
NAMED = {
    "rules.PLANS": rules.PLANS,
    "platforms.base.PLAN_BLOCKS": base.PLAN_BLOCKS,
    "platforms.base.RENDERED": base.RENDERED,
    "platforms.base.VERIFIED_TEMPLATES": base.VERIFIED_TEMPLATES,
    "dialects.cisco.FAST_ACES": cisco.FAST_ACES,
    "audit.evaluate.FILTER_IDS": evaluate.FILTER_IDS,
    "audit.evaluate.EVALS": evaluate.EVALS,
    "audit.checks.QUERIES": checks.QUERIES,
    "audit.checks.POLICY_SETS": checks.POLICY_SETS,
    "audit.checks.PREFERRED": checks.PREFERRED,
    "audit.checks.PASSED": checks.PASSED,
}


def test_every_cache_is_registered() -> None:
    registered = {id(c) for c in caches._CACHES}
    assert [name for name, c in NAMED.items() if id(c) not in registered] == []


def test_clear_empties_every_cache_a_render_and_an_audit_filled() -> None:
    inv = api.load(REPO / "inventory")
    for dev in inv.devices.values():
        text = api.render(dev)
        api.audit_text(dev, text)
    filled = [name for name, c in NAMED.items() if c]
    assert {"rules.PLANS", "platforms.base.RENDERED", "audit.evaluate.EVALS", "dialects.cisco.FAST_ACES"} <= set(filled)
    api.clear_caches()
    assert [name for name, c in NAMED.items() if c] == []
