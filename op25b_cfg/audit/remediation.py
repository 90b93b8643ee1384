"""Remediation: the change, in the platform's own syntax, that takes a device's running OP25B part to its intent.

Computed once per device from the parsed models, not from text: an intended filter whose rules mean the same as
the running one's (``eq smtp`` / ``eq 25``, address case, ``host X`` / ``X/128``, a Junos prefix-list already
there) is not touched. In order:

1. the OP25B objects that are missing or differ, as rendered by ``op25b generate``, written by the platform's
   dialect (:meth:`op25b_cfg.dialects.base.ConfigDialect.remediation`; Cisco-style: the whole block, preceded by
   its removal when a different one of that name runs; Junos: ``delete`` + ``set`` statements of that filter,
   prefix-list or policer; class-maps and policy-maps when the running flow control differs);
2. the intended attachment lines that do not run (an attachment of the same slot is replaced by them);
3. the removal of what the intent no longer uses: the stale attachment lines and old-version objects of the
   push clean-up planner (:func:`op25b_cfg.cleanup.cleanup_plan` / :func:`op25b_cfg.cleanup.removal_config`).

A platform whose session replaces what op25b owns at once (nftables: the op25b table) gets the whole rendered
config when anything in it differs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from op25b_cfg.audit.engine import _flat_rules
from op25b_cfg.audit.model import Filter, ParsedConfig
from op25b_cfg.cleanup import cleanup_plan, removal_config
from op25b_cfg.dialects.base import Need
from op25b_cfg.inventory import Attachment
from op25b_cfg.platforms import get_platform

log = logging.getLogger(__name__)


def same_filter(want: Filter, have: Filter | None) -> bool:
    """Whether the running filter ``have`` decides every packet as the intended ``want`` does, rule by rule."""
    if have is None or have.default != want.default:
        return False
    return [k for _, k in _flat_rules(want)] == [k for _, k in _flat_rules(have)]


def changed_filters(intended: ParsedConfig, running: ParsedConfig) -> set[str]:
    """Names of the intended filters that are missing in ``running`` or decide differently there."""
    return {
        name
        for (fam, name), want in intended.filters.items()
        if not want.shared and not same_filter(want, running.filter(fam, name))
    }


def missing_bindings(intended: ParsedConfig, running: ParsedConfig) -> set[tuple[str, str]]:
    """(attachment name, filter name) of every intended binding that does not run as intended."""
    have = {(b.kind, b.name, b.direction, b.family, b.filters) for b in running.bindings}
    return {
        (b.name, f)
        for b in intended.bindings
        if (b.kind, b.name, b.direction, b.family, b.filters) not in have
        for f in b.filters
    }


def _flow_differs(intended: ParsedConfig, running: ParsedConfig) -> bool:
    def key(p: ParsedConfig) -> set[tuple[object, ...]]:
        return {
            (f.binding_kind, f.binding_name, f.direction, f.family, f.max_sessions, f.new_per_second, f.burst)
            for f in p.flow
        }

    return not key(intended) <= key(running)


def plan(
    platform: str,
    rendered: str,
    intended: ParsedConfig,
    running: ParsedConfig,
    running_text: str,
    attach: Sequence[Attachment],
    version: str,
) -> str:
    """The remediation of one device ('' when the running OP25B part already is the intent), in the syntax of
    the platform's :class:`~op25b_cfg.dialects.base.ConfigDialect`. A platform whose session replaces
    everything op25b owns at once (``atomic_replace``) gets the whole rendered config when anything differs."""
    spec = get_platform(platform)
    changed = changed_filters(intended, running)
    missing = missing_bindings(intended, running)
    if spec.atomic_replace or spec.dialect is None:
        return "" if not changed and not missing else rendered
    dialect = spec.dialect
    present = {name for (_, name) in running.filters}
    need = Need(changed, missing, _flow_differs(intended, running), present)
    change = dialect.remediation(rendered, running_text, need)
    refs, objs = cleanup_plan(platform, running_text, version, attach, candidate=rendered)
    removal = removal_config(platform, objs, refs)  # ends with the dialect's epilogue
    if change and not removal:
        change.extend(dialect.epilogue)
    return "".join(ln + "\n" for ln in change) + removal
