"""Start-up cost: a command imports only what it uses (issue 10). ``op25b --help``, ``--version`` and
``op25b platforms`` must not load the inventory's pydantic models, Jinja, the audit engine, push, the lab or a
device library. Checked on the module set of a fresh interpreter (a timing would be flaky; bench/startup.py
times it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

HEAVY = (
    "op25b_cfg.inventory",
    "op25b_cfg.generate",
    "op25b_cfg.audit",
    "op25b_cfg.push",
    "op25b_cfg.changelog",
    "op25b_cfg.redact",
    "op25b_cfg.lab",
    "op25b_cfg.connection.napalm_session",
    "op25b_cfg.connection.linux",
    "jinja2",
    "yaml",
    "napalm",
    "netmiko",
    "paramiko",
    "nornir",
    "ncclient",
    "dd",
    "sqlalchemy",
    "psycopg",
    "op25b_cfg.effect",
)

RUN_CLI = """
import json, sys
sys.argv = ["op25b", *json.loads(sys.argv[1])]
from op25b_cfg.cli import app
try:
    app()
except SystemExit as exc:
    code = exc.code
"""
"""The start of a probe script: ``op25b ARGS`` (a JSON list in ``argv[1]``) run in this interpreter, leaving its
exit code in ``code``; the rest of the script prints one JSON line about the process (:func:`run_fresh`)."""

PROBE = (
    RUN_CLI
    + """registry = getattr(sys.modules.get("op25b_cfg.platforms"), "PLATFORMS", None)
scanned = registry is not None and getattr(registry, "_all", True) is not None  # a plain dict: scanned at import
print(json.dumps({"code": code, "modules": sorted(sys.modules), "plugins_scanned": scanned}))
"""
)


def run_fresh(script: str, args: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON line ``script`` prints last, run in a fresh interpreter with ``args`` as a JSON list in
    ``argv[1]`` (and ``env`` added to the environment)."""
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(list(args))],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result


def probe(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``op25b ARGS`` in a fresh interpreter (with ``env`` added to the environment): its exit code, loaded
    modules, and whether the platform plugins (entry points) were scanned."""
    return run_fresh(PROBE, args, env)


def modules_after(*args: str) -> tuple[int, set[str]]:
    """Exit code and the modules loaded by ``op25b ARGS`` in a fresh interpreter."""
    result = probe(*args)
    return result["code"], set(result["modules"])


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("--version",),
        ("platforms",),
        ("platforms", "--format", "json"),
        ("generate", "--help"),
        ("audit", "--help"),
        ("push", "--help"),
        ("lab", "--help"),
        ("effect", "--help"),
        ("effect", "collect", "--help"),
        ("effect", "report", "--help"),
    ],
)
def test_light_commands_import_nothing_heavy(args: tuple[str, ...]) -> None:
    code, modules = modules_after(*args)
    assert code == 0
    assert heavy(modules) == []


@pytest.mark.parametrize("args", [("--help",), ("--version",)])
def test_help_and_version_do_not_load_pydantic(args: tuple[str, ...]) -> None:
    """pydantic itself is loaded only where typer coerces a parameter value or the inventory is read."""
    _, modules = modules_after(*args)
    assert "pydantic" not in modules
    assert "rich.markdown" not in modules  # the plain help formatter, not rich's


@pytest.mark.parametrize("args", [("platforms", "--format", "json"), ("lab", "up", "--help")])
def test_parameters_are_not_converted_through_pydantic(args: tuple[str, ...]) -> None:
    """typer 0.29 builds a pydantic TypeAdapter for every parameter value (pydantic and ~40 ms of adapters in
    every command); the pinned typer (pyproject.toml: <0.29) converts them with click's types."""
    code, modules = modules_after(*args)
    assert code == 0
    assert "pydantic" not in modules and "typer._adapters" not in modules


def test_generate_loads_what_it_uses(tmp_path: Path) -> None:
    """The probe sees a real command's imports (so an empty list above is not an artefact of the probe)."""
    inventory = Path(__file__).resolve().parent.parent / "inventory"
    code, modules = modules_after("generate", "-i", str(inventory), "-o", str(tmp_path), "--quiet")
    assert code == 0
    assert {"op25b_cfg.inventory", "op25b_cfg.generate", "jinja2"} <= modules
    assert not {"op25b_cfg.audit.engine", "op25b_cfg.push", "napalm", "nornir"} & modules


def test_builtin_platforms_need_no_plugin_scan(tmp_path: Path) -> None:
    """Reading every installed distribution's entry points (25-40 ms) is for third-party platforms: generate
    and audit on the built-in ones never do it; listing the platforms does."""
    inventory = Path(__file__).resolve().parent.parent / "inventory"
    generated = probe("generate", "-i", str(inventory), "-o", str(tmp_path), "--quiet")
    assert generated["code"] == 0 and not generated["plugins_scanned"]
    audited = probe("audit", "-i", str(inventory), "--format", "json")
    assert "op25b_cfg.audit.engine" in audited["modules"] and not audited["plugins_scanned"]
    assert probe("platforms")["plugins_scanned"]


def test_generate_from_the_inventory_cache_reads_no_yaml_and_validates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second run on an unchanged inventory takes it from the cache: no YAML reader, no validation checks."""
    inventory = Path(__file__).resolve().parent.parent / "inventory"
    monkeypatch.delenv("OP25B_NO_CACHE", raising=False)
    monkeypatch.setenv("OP25B_CACHE_DIR", str(tmp_path / "cache"))
    args = ("generate", "-i", str(inventory), "-o", str(tmp_path / "out"), "--quiet")
    code, first = modules_after(*args)
    assert code == 0 and {"yaml", "op25b_cfg.yamlload", "op25b_cfg.inventory_checks"} <= first
    code, again = modules_after(*args)
    assert code == 0 and "op25b_cfg.generate" in again
    assert not {"yaml", "op25b_cfg.yamlload", "op25b_cfg.inventory_checks"} & again


@pytest.mark.parametrize("command", ["audit", "generate"])
def test_cached_inventory_needs_no_pydantic(command: str, tmp_path: Path) -> None:
    """On an inventory the cache holds (the second run), ``audit`` and ``generate`` rebuild the intent's runtime
    types without validation: neither pydantic nor the validating models nor the YAML reader is imported. The
    first run (a miss) validates, so it does import them."""
    inventory = Path(__file__).resolve().parent.parent / "inventory"
    args = {
        "audit": ("audit", "-i", str(inventory), "--format", "json"),
        "generate": ("generate", "-i", str(inventory), "-o", str(tmp_path / "out"), "--quiet"),
    }[command]
    env = {"OP25B_NO_CACHE": "", "OP25B_CACHE_DIR": str(tmp_path / "cache")}
    miss, hit = probe(*args, env=env), probe(*args, env=env)
    assert miss["code"] == hit["code"]
    assert {"pydantic", "op25b_cfg.inventory_schema", "yaml"} <= set(miss["modules"])
    loaded = set(hit["modules"])
    assert (
        not {"pydantic", "pydantic_core", "op25b_cfg.inventory_schema", "op25b_cfg.inventory_checks", "yaml"} & loaded
    )
    assert {"op25b_cfg.inventory_model", "op25b_cfg.inventory_cache"} <= loaded
    if command == "audit":  # the rendered intent of the drift check comes from op25b_cfg.rendered_cache
        assert "jinja2" in miss["modules"] and "jinja2" not in loaded
        assert "xml.etree.ElementTree" not in loaded  # only JUnit reports need it
        assert "op25b_cfg.connection.setup" not in loaded  # only --live connects


BUILT = """
import json, sys
import typer.main
built = []
real = typer.main.get_command_from_info
def counting(command_info, **kw):
    cmd = real(command_info, **kw)
    built.append(cmd.name)
    return cmd
typer.main.get_command_from_info = counting
from op25b_cfg.cli import app
try:
    app(json.loads(sys.argv[1]))
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "built": sorted(built)}))
"""


def commands_built(*args: str) -> tuple[int, list[str]]:
    """Exit code of ``op25b ARGS`` in a fresh interpreter, and the click commands typer built for it."""
    result = run_fresh(BUILT, args)
    return result["code"], result["built"]


def test_a_command_builds_only_itself() -> None:
    """typer converts the parameters of every command it builds: a call builds the one it runs (a group: its
    own commands); help and a mistyped name get every command (the list, the suggestion)."""
    assert commands_built("platforms", "--format", "json") == (0, ["platforms"])
    assert commands_built("--version", "platforms") == (0, ["platforms"])
    code, built = commands_built("inventory", "--help")
    assert (code, built) == (0, ["show", "validate"])
    code, everything = commands_built("--help")
    assert code == 0 and {"generate", "platforms", "audit", "push", "show", "validate"} <= set(everything)
    code, built = commands_built("platfroms")
    assert code == 2 and built == everything


COMPILED = (
    RUN_CLI
    + """import op25b_cfg.redact as redact
lazy = [n for n, v in vars(redact).items() if hasattr(v, "cache_info")]
compiled = [n for n in lazy if getattr(redact, n).cache_info().currsize]
print(json.dumps({"code": code, "lazy": lazy, "compiled": compiled}))
"""
)


def test_a_clean_audit_compiles_no_redaction_pattern(tmp_path: Path) -> None:
    """Redaction's secret patterns (21 M instructions to compile) are compiled on first use: a compliant
    audit (five platforms) prints nothing with a secret word, so it compiles none of them; redacting a secret
    compiles them."""
    inventory = Path(__file__).resolve().parent.parent / "inventory"
    compliant = ("bras-osa-xr1", "edge-osa-eos1", "bras-tyo-lnx1", "edge-osa-vrp1", "bras-osa-ros1")
    args = ["audit", "-i", str(inventory), *(a for name in compliant for a in ("-d", name))]
    result = run_fresh(COMPILED, args, {"OP25B_CACHE_DIR": str(tmp_path / "cache")})
    assert result["code"] == 0 and len(result["lazy"]) >= 15
    assert result["compiled"] == []
    import op25b_cfg.redact as redact

    assert redact.redact("snmp-server community S3cret RO") == "snmp-server community <redacted> RO"
    assert redact._SNMP_COMMUNITY_RE.cache_info().currsize == 1


def test_an_audit_imports_only_its_devices_platforms(tmp_path: Path) -> None:
    """The built-in platform packages are imported on first lookup: auditing an IOS device of a cached
    inventory loads cisco_ios's package and no other platform's (importing all seven cost every audit about
    20 M instructions). Validating the inventory (a miss) checks every host against its platform."""
    inventory = Path(__file__).resolve().parent.parent / "inventory"
    env = {"OP25B_NO_CACHE": "", "OP25B_CACHE_DIR": str(tmp_path / "cache")}
    probe("audit", "-i", str(inventory), "-d", "bras-tyo-ios1", env=env)
    modules = set(probe("audit", "-i", str(inventory), "-d", "bras-tyo-ios1", env=env)["modules"])
    packages = {m.split(".")[2] for m in modules if m.startswith("op25b_cfg.platforms.")}
    assert packages == {"base", "cisco_ios"}


def test_every_builtin_name_is_its_class_name() -> None:
    """The lazy registry's names are the classes' own (the check the eager imports used to make at import)."""
    from op25b_cfg.platforms import BUILTIN_NAMES, PLATFORMS, builtin_classes

    assert [cls.name for cls in builtin_classes()] == list(BUILTIN_NAMES) == list(PLATFORMS)[: len(BUILTIN_NAMES)]
