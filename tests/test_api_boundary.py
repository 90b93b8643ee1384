"""The commands, tests and bench scripts use the public API (:mod:`op25b_cfg.api`) for what it offers (issue 11
item 6).

A test of a unit (the audit engine, a parser, a dialect reader, an emulator, a platform hook, the push state
machine) imports its unit; a test of a workflow (load an inventory, build a plan, render, audit a text, a saved
config or a device, push) goes through the API, so the supported surface is what the suite exercises, and the
``op25b`` commands (``op25b_cfg/cli*.py``) are thin layers over it. This test reads every module under ``tests/``
and ``bench/`` and every command module with :mod:`ast` and fails on an internal function the API wraps
(:data:`WRAPPED`), imported by name or reached through its module (``runner.audit_saved``), and on
``get_platform(device.platform).render(...)`` / ``.parse(...)`` (``api.render`` / ``api.parse``), unless the file
is in :data:`ALLOWED` with the reason it needs the internal. An entry no longer needed fails too, so the list
only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# internal function -> the API function that does the same for a user
WRAPPED: dict[str, str] = {
    "op25b_cfg.inventory.load_inventory": "api.load",
    "op25b_cfg.rules.build_plan": "api.plan",
    "op25b_cfg.generate.generate": "api.generate",
    "op25b_cfg.generate.render_device": "api.render (text) / api.generate (summary)",
    "op25b_cfg.audit.runner.audit_text": "api.audit_text",
    "op25b_cfg.audit.runner.audit_file": "api.audit_file",
    "op25b_cfg.audit.runner.audit_saved": "api.audit_saved",
    "op25b_cfg.audit.runner.iter_saved": "api.iter_audit_saved",
    "op25b_cfg.audit.runner.audit_live_device": "api.audit_device",
    "op25b_cfg.audit.runner.audit_live": "api.audit_devices",
    "op25b_cfg.audit.engine.audit_text": "api.audit_text",
    "op25b_cfg.audit.model.set_time_budget": "api.set_time_budget",
    "op25b_cfg.caches.clear": "api.clear_caches",
    "op25b_cfg.push.run_push": "api.push",
    "op25b_cfg.window.parse_window": "api.change_window",
    "get_platform(<device>.platform).render": "api.render",
    "get_platform(<device>.platform).parse": "api.parse",
}

# (file, internal) -> why that test needs the internal rather than the API
_PUSH_SEAM = (
    "push's session-factory seam: fake or emulator sessions (and an injected auditor or clock) instead of a real"
    " connection; api.push opens its sessions from a Connection"
)
_MODEL_TEXT = (
    "audits model texts (mutated renders, an emulator's config store, apply_change output), not saved configs:"
    " on Cisco-style platforms they lack the trailing 'end', so api.audit_text's truncation check would stop"
    " them before the engine under test"
)
_RULES_UNIT = "a test of the rules unit (plan construction, version id, properties of build_plan itself)"
_LOADER_UNIT = "a test of the inventory loader unit (its cache and runtime model), not of a workflow"
ALLOWED: dict[tuple[str, str], str] = {
    ("bench/push.py", "op25b_cfg.push.run_push"): _PUSH_SEAM,
    ("tests/test_push_napalm.py", "op25b_cfg.push.run_push"): _PUSH_SEAM,
    ("tests/test_push_napalm.py", "op25b_cfg.audit.runner.audit_live_device"): _PUSH_SEAM,
    ("tests/test_push_napalm.py", "op25b_cfg.audit.engine.audit_text"): _MODEL_TEXT,
    ("tests/test_push_workflow.py", "op25b_cfg.push.run_push"): _PUSH_SEAM,
    ("tests/test_push_workflow.py", "op25b_cfg.audit.engine.audit_text"): "the auditor injected into run_push",
    ("tests/test_contract.py", "op25b_cfg.audit.engine.audit_text"): _MODEL_TEXT,
    ("tests/test_remediation.py", "op25b_cfg.audit.engine.audit_text"): _MODEL_TEXT,
    ("tests/test_audit_budget.py", "op25b_cfg.audit.engine.audit_text"): "a test of the engine's time_budget argument",
    ("tests/test_audit_budget.py", "op25b_cfg.audit.model.set_time_budget"): "a test of the budget's default",
    ("tests/test_audit_lazy.py", "op25b_cfg.audit.engine.audit_text"): "compares the engine's lazy and eager parse",
    ("tests/test_audit_runner.py", "op25b_cfg.audit.engine.audit_text"): "replaces the engine by a buggy one",
    ("tests/test_counters.py", "get_platform(<device>.platform).parse"): "a counter case names a platform, no device",
    ("tests/test_inventory_cache.py", "op25b_cfg.inventory.load_inventory"): _LOADER_UNIT,
    ("tests/test_inventory_model.py", "op25b_cfg.inventory.load_inventory"): _LOADER_UNIT,
    ("tests/test_plan_version.py", "op25b_cfg.rules.build_plan"): _RULES_UNIT,
    ("tests/test_properties.py", "op25b_cfg.rules.build_plan"): _RULES_UNIT,
    ("tests/test_rules.py", "op25b_cfg.rules.build_plan"): _RULES_UNIT,
    ("tests/test_window.py", "op25b_cfg.window.parse_window"): "a test of the change-window parser unit",
}


def uses(tree: ast.AST) -> set[str]:
    """The :data:`WRAPPED` internals a module uses.

    >>> sorted(uses(ast.parse("from op25b_cfg.audit import runner\\nrunner.audit_saved([], p)")))
    ['op25b_cfg.audit.runner.audit_saved']
    >>> sorted(uses(ast.parse("from op25b_cfg.rules import Rule, build_plan as bp")))
    ['op25b_cfg.rules.build_plan']
    >>> sorted(uses(ast.parse("get_platform(dev.platform).render(dev)\\nget_platform('cisco_ios').parse(t)")))
    ['get_platform(<device>.platform).render']
    """
    found: set[str] = set()
    modules: dict[str, str] = {}  # local name -> internal module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in WRAPPED:
                    found.add(full)
                elif any(w.startswith(full + ".") for w in WRAPPED):
                    modules[alias.asname or alias.name] = full
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and any(w.startswith(alias.name + ".") for w in WRAPPED):
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if isinstance(node.value, ast.Name) and f"{modules.get(node.value.id)}.{node.attr}" in WRAPPED:
            found.add(f"{modules[node.value.id]}.{node.attr}")
        call = node.value
        if (
            node.attr in ("render", "parse")
            and isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "get_platform"
            and call.args
            and isinstance(call.args[0], ast.Attribute)
            and call.args[0].attr == "platform"
        ):
            found.add(f"get_platform(<device>.platform).{node.attr}")
    return found


def scanned() -> dict[str, set[str]]:
    """Every test, bench and command module with the wrapped internals it uses."""
    files = sorted([*REPO.glob("tests/**/*.py"), *REPO.glob("bench/*.py"), *REPO.glob("op25b_cfg/cli*.py")])
    return {str(f.relative_to(REPO)): uses(ast.parse(f.read_text(encoding="utf-8"))) for f in files}


def test_workflow_tests_use_the_public_api() -> None:
    found = {(f, name) for f, names in scanned().items() for name in names}
    unexplained = sorted(found - ALLOWED.keys())
    assert not unexplained, "\n".join(f"{f}: {name} -> use {WRAPPED[name]}" for f, name in unexplained)


def test_the_allow_list_has_no_stale_entry() -> None:
    found = {(f, name) for f, names in scanned().items() for name in names}
    assert sorted(ALLOWED.keys() - found) == []


@pytest.mark.parametrize("name", sorted(WRAPPED))
def test_every_wrapped_internal_has_its_api_function(name: str) -> None:
    """The replacement named exists in :mod:`op25b_cfg.api` (so the message never sends anyone to nothing)."""
    from op25b_cfg import api

    for target in WRAPPED[name].replace("/", " ").split():
        if target.startswith("api."):
            assert callable(getattr(api, target.removeprefix("api."))), target
