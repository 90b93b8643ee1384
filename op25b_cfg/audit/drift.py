"""The rendered intent of a device (parsed once per platform and text) and the drift between it and the running
config: which intended filters, bindings and flow-control limits are absent or differ."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from op25b_cfg import caches
from op25b_cfg.audit.evaluate import rule_key
from op25b_cfg.audit.model import (
    Binding,
    Filter,
    ParsedConfig,
)
from op25b_cfg.rules import Rule

if TYPE_CHECKING:
    from op25b_cfg.inventory import Device

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- intent, drift


@dataclass
class Intent:
    rendered: str
    parsed: ParsedConfig | None


def render_intent(device: Device) -> str:
    """The rendered intent of ``device``; from :mod:`op25b_cfg.rendered_cache` when an unchanged inventory
    rendered it before (no Jinja), else rendered (and kept there)."""
    from op25b_cfg import rendered_cache
    from op25b_cfg.platforms import get_platform

    text = rendered_cache.get(device)
    if text is None:
        text = get_platform(device.platform).render(device)
        rendered_cache.put(device, text)
    return text


@lru_cache(maxsize=256)
def intent_of(platform: str, rendered: str) -> Intent:
    from op25b_cfg.platforms import get_platform

    try:
        intended: ParsedConfig | None = get_platform(platform).parse(rendered)
    except Exception as exc:  # a missing or broken parser must not stop the audit
        log.warning("cannot parse the rendered intent of platform %s: %s", platform, exc)
        intended = None
    return Intent(rendered, intended)


caches.on_clear(intent_of.cache_clear)


def norm_rule(r: Rule) -> tuple[object, ...]:
    """A rule's meaning for drift: what the evaluator reads, plus the flow-control limit."""
    return (*rule_key(r), r.limit)


def flat_rules(flt: Filter) -> list[tuple[Rule, tuple[object, ...]]]:
    """Each rule of ``flt`` and of the nftables chains it calls (in call order) with its meaning for drift."""
    return [
        (r, (*norm_rule(r), c.verdict if (c := f.calls.get(pos)) is not None else None))
        for f in flt.reachable()
        for pos, r in enumerate(f.rules)
    ]


INTENDED_RULES: dict[int, tuple[Filter, list[tuple[Rule, tuple[object, ...]]]]] = caches.register({})
""":func:`flat_rules` of the filters of rendered intents (:func:`intent_of` keeps those parsed configs, and every
device of a platform and policy compares with the same ones), by ``id``; the filter is kept in the value, so its
id is not reused while cached."""


def _intended_rules(flt: Filter) -> list[tuple[Rule, tuple[object, ...]]]:
    hit = INTENDED_RULES.get(id(flt))
    if hit is None or hit[0] is not flt:
        if len(INTENDED_RULES) >= 4096:
            INTENDED_RULES.clear()
        hit = INTENDED_RULES[id(flt)] = (flt, flat_rules(flt))
    return hit[1]


def intent_drift(intended: ParsedConfig, running: ParsedConfig) -> list[tuple[str, int | None]]:
    """What of the intended OP25B configuration is absent or different in the running config. ``intended`` is a
    rendered intent (:func:`intent_of`), never changed once parsed: its filters' rules are remembered."""
    out: list[tuple[str, int | None]] = []
    for key, want in intended.filters.items():
        if want.shared:
            continue
        have = running.filters.get(key)
        if have is None:
            out.append((f"filter {want.name} (IPv{want.family or '4+6'}) is not in the running config", None))
            continue
        want_rules, have_rules = _intended_rules(want), flat_rules(have)
        w, h = [k for _, k in want_rules], [k for _, k in have_rules]
        if w != h:
            i = next((k for k, (a, b) in enumerate(zip(w, h, strict=False)) if a != b), min(len(w), len(h)))
            if i < len(h):
                note = f"intended `{want_rules[i][0].text}`" if i < len(w) else "not intended"
                out.append(
                    (f"filter {want.name} entry {i + 1} is `{have_rules[i][0].text}` ({note})", have_rules[i][0].line)
                )
            else:
                out.append((f"filter {want.name} lacks intended entry `{want_rules[i][0].text}`", have.line))
        elif want.default != have.default:
            out.append((f"filter {want.name} default is {have.default}, intended {want.default}", have.line))
    wanted = {(b.kind, b.name, b.direction, b.family) for b in intended.bindings}
    running_at: dict[tuple[str, str, str, int], list[Binding]] = {}
    for x in running.bindings:  # one pass: a BNG config has thousands of bindings
        at = (x.kind, x.name, x.direction, x.family)
        if at in wanted:
            running_at.setdefault(at, []).append(x)
    for b in intended.bindings:
        match = running_at.get((b.kind, b.name, b.direction, b.family), [])
        if not any(x.filters == b.filters for x in match):
            now = ", ".join("/".join(x.filters) for x in match) or "nothing"
            out.append(
                (
                    f"{b.kind} {b.name} {b.direction} IPv{b.family or '4+6'} should use {'/'.join(b.filters)},"
                    f" uses {now}",
                    match[0].line if match else None,
                )
            )
    want_flow = {
        (f.binding_kind, f.binding_name, f.family, f.max_sessions, f.new_per_second, f.burst) for f in intended.flow
    }
    have_flow = {
        (f.binding_kind, f.binding_name, f.family, f.max_sessions, f.new_per_second, f.burst) for f in running.flow
    }
    for f in sorted(want_flow - have_flow, key=str):
        out.append((f"flow control {f[0]} {f[1]} (sessions {f[3]}, rate {f[4]}/s, burst {f[5]}) is not running", None))
    return out
