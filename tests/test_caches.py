"""Every process-wide cache is declared in the module that uses it and registered with ``op25b_cfg.caches``:
``api.clear_caches()`` (``caches.clear()``) empties every one of them after real work filled them."""

from __future__ import annotations

import dataclasses
import random
import re
from pathlib import Path

import pytest

from op25b_cfg import api, caches, rules
from op25b_cfg.audit import checks, drift, evaluate
from op25b_cfg.dialects import cisco
from op25b_cfg.platforms import base

REPO = Path(__file__).resolve().parent.parent
NAMED = {
    "rules.PLANS": rules.PLANS,
    "platforms.base.PLAN_BLOCKS": base.PLAN_BLOCKS,
    "platforms.base.RENDERED": base.RENDERED,
    "platforms.base.CHECKED": base.CHECKED,
    "platforms.base.TEMPLATES": base.TEMPLATES,
    "platforms.base.VERIFIED_TEMPLATES": base.VERIFIED_TEMPLATES,
    "dialects.cisco.FAST_ACES": cisco.FAST_ACES,
    "audit.evaluate.FILTER_IDS": evaluate.FILTER_IDS,
    "audit.evaluate.EVALS": evaluate.EVALS,
    "audit.checks.QUERIES": checks.QUERIES,
    "audit.checks.POLICY_SETS": checks.POLICY_SETS,
    "audit.checks.PREFERRED": checks.PREFERRED,
    "audit.checks.PASSED": checks.PASSED,
    "audit.drift.INTENDED_RULES": drift.INTENDED_RULES,
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
    assert {
        "rules.PLANS",
        "platforms.base.RENDERED",
        "platforms.base.CHECKED",
        "audit.evaluate.EVALS",
        "dialects.cisco.FAST_ACES",
    } <= set(filled)
    api.clear_caches()
    assert [name for name, c in NAMED.items() if c] == []


def test_a_loaded_device_is_checked_once_and_a_changed_copy_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader checks every device it validates (``CHECKED`` holds it: rendering does not check it again); a
    copy with another value is another object, checked when rendered: an attachment its platform cannot take is
    refused, though the device it was copied from passed."""
    monkeypatch.setenv("OP25B_NO_CACHE", "1")  # the validating load, not the cache's
    api.clear_caches()
    inv = api.load(REPO / "inventory")
    assert all(base.CHECKED[(d.platform, id(d))] is d for d in inv.devices.values())
    dev = next(d for d in inv.devices.values() if d.platform == "cisco_ios")
    copy = dataclasses.replace(dev, attach=dev.attach[:1])
    assert (copy.platform, id(copy)) not in base.CHECKED
    api.render(copy)  # an attachment it can take: checked and rendered
    assert base.CHECKED[(copy.platform, id(copy))] is copy
    unit = type(dev.attach[0])(kind="unit", name="ge-0/0/1.100", direction="in")
    with pytest.raises(api.Op25bError, match=r"cannot attach a filter to a unit .*Fix: "):
        api.render(dataclasses.replace(dev, attach=(unit,)))
    assert (dev.platform, id(dev)) in base.CHECKED


def _variants(text: str) -> list[str]:
    """The rendered config, without its first port-25 deny, without its attachment lines, each also after
    some comment lines (every line number shifts)."""
    deny = re.sub(
        r"^.*(deny tcp .* eq 25|tcp dport 25 .*reject|action=reject .*dst-port=25).*\n", "", text, count=1, flags=re.M
    )
    unbound = re.sub(
        r"^.*(access-group|traffic-filter|input OP25B|jump subscriber|jump-target=OP25B).*\n", "", text, flags=re.M
    )
    return [v for body in (text, deny, unbound) for v in (body, "#\n" * 3 + body)]


def test_memos_never_change_a_report() -> None:
    """The process-wide memos serve devices by content: every sample device's config and its variants (a deny
    or the attachment removed, every line shifted) audited with every cache emptied first, then all of them
    warm in a random order, twice: the same reports."""
    inv = api.load(REPO / "inventory")
    jobs = [(dev, v) for dev in inv.devices.values() for v in _variants(api.render(dev))]
    cold = []
    for dev, text in jobs:
        api.clear_caches()
        cold.append(api.audit_text(dev, text))
    assert {r.verdict.value for r in cold} >= {"COMPLIANT", "NONCOMPLIANT"}
    order = list(range(len(jobs))) * 2
    random.Random(7).shuffle(order)
    for i in order:
        assert api.audit_text(*jobs[i]) == cold[i], jobs[i][0].name
