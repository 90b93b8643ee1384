"""Issue 9 item 16: what a new user meets (version, help, completion, exit codes, piped tables, sources, JSON)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from op25b_cfg import __version__
from op25b_cfg.cli import app
from tests.platform_data import sample_hosts

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "inventory"
COMMANDS = [
    [],
    ["generate"],
    ["platforms"],
    ["audit"],
    ["push"],
    ["inventory"],
    ["inventory", "validate"],
    ["inventory", "show"],
    ["lab"],
    ["lab", "up"],
    ["lab", "down"],
    ["lab", "status"],
    ["lab", "emulators"],
]


def op25b(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a process with stdout piped (not a terminal), as in a script or ``| less``."""
    # no COLUMNS, and no shell-completion request another test's in-process run may have left behind
    base = {
        k: v
        for k, v in os.environ.items()
        if k != "COLUMNS" and not k.endswith("_COMPLETE") and not k.startswith(("_TYPER_", "COMP_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "op25b_cfg", *args],
        capture_output=True,
        text=True,
        env={**base, "PYTHONPATH": str(REPO), **(env or {})},
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_version() -> None:
    res = op25b("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"op25b {__version__}"


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "op25b")
def test_help_is_never_cut(cmd: list[str]) -> None:
    res = op25b(*cmd, "--help", env={"COLUMNS": "80"})
    assert res.returncode == 0, res.stderr
    text = "\n".join(line for line in res.stdout.splitlines() if not line.startswith("Usage:"))  # click's [ARGS]...
    assert "..." not in text and "\u2026" not in text, res.stdout


def test_shell_completion() -> None:
    runner = CliRunner()
    env = {"_OP25B_COMPLETE": "complete_bash", "COMP_WORDS": "op25b inv", "COMP_CWORD": "1"}
    assert runner.invoke(app, [], prog_name="op25b", env=env).output.split() == ["inventory"]
    env = {"_OP25B_COMPLETE": "complete_bash", "COMP_WORDS": "op25b audit --form", "COMP_CWORD": "2"}
    assert runner.invoke(app, [], prog_name="op25b", env=env).output.split() == ["--format"]
    # --show-completion detects the shell it runs under (typer asks shellingham for the parent processes): run it
    # from bash, as a user does, whatever started the test run
    base = {k: v for k, v in os.environ.items() if not k.endswith("_COMPLETE") and not k.startswith("_TYPER_")}
    res = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m op25b_cfg --show-completion; exit $?"],
        capture_output=True,
        text=True,
        env={**base, "PYTHONPATH": str(REPO)},
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 0 and "COMP_WORDS" in res.stdout


@pytest.mark.parametrize(
    "cmd",
    [["generate", "-o", "{tmp}/out"], ["inventory", "show"], ["audit"], ["push"], ["audit", "--live"]],
    ids=lambda c: " ".join(c[:2]),
)
def test_nothing_selected_is_exit_2_everywhere(cmd: list[str], tmp_path: Path) -> None:
    args = [a.format(tmp=tmp_path) for a in cmd]
    res = op25b(*args, "-i", str(SAMPLE), "--filter", "platform=nope", env={"OP25B_PASSWORD": "x"})
    assert res.returncode == 2, res.stdout + res.stderr
    assert "nothing selected" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()


def test_piped_table_keeps_long_names_whole(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    shutil.copytree(SAMPLE, inv)
    long = "bras-tokyo-shinjuku-pppoe-subscriber-aggregation-0001.example"
    hosts = yaml.safe_load((inv / "hosts.yaml").read_text())
    hosts[long] = hosts.pop("bras-tyo-ios1")
    (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts))
    for cmd in (["inventory", "show"], ["generate", "-o", str(tmp_path / "out")]):
        res = op25b(*cmd, "-i", str(inv))
        assert res.returncode == 0, res.stderr
        assert long in res.stdout, res.stdout


def test_inventory_show_says_where_values_came_from() -> None:
    res = op25b("inventory", "show", "-i", str(SAMPLE), "-d", "edge-osa-eos1")
    assert "values from" in res.stdout
    assert "mode: groups.yaml: mobile-edge.data.mode" in res.stdout
    assert "hostname: hosts.yaml: edge-osa-eos1.hostname" in res.stdout


def test_inventory_validate_json(tmp_path: Path) -> None:
    ok = op25b("inventory", "validate", "-i", str(SAMPLE), "--format", "json")
    doc = json.loads(ok.stdout)
    assert ok.returncode == 0 and doc["schema"] == "op25b.validate/1" and doc["valid"] is True
    assert doc["devices"] == len(sample_hosts()) and doc["problems"] == []
    inv = tmp_path / "inv"
    shutil.copytree(SAMPLE, inv)
    (inv / "policy.yaml").write_text((inv / "policy.yaml").read_text().replace("mode: block", "mode: blok"))
    bad = op25b("inventory", "validate", "-i", str(inv), "--format", "json")
    doc = json.loads(bad.stdout)
    assert bad.returncode == 2 and doc["valid"] is False and "Traceback" not in bad.stderr
    [p] = doc["problems"]
    assert p["file"].endswith("policy.yaml") and p["field"] == "mode" and "'blok'" in p["message"] and p["fix"]


def _options(*command: str) -> dict[str, tuple[tuple[str, ...], str | None, object]]:
    """The command's options as click holds them: name -> (flags, help, default)."""
    import typer.main

    cmd = typer.main.get_command(app)
    for name in command:
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    return {p.name: (tuple(p.opts + p.secondary_opts), p.help, p.default) for p in cmd.params if p.name}


def test_every_device_command_offers_the_shared_connection_options() -> None:
    """push, audit and effect collect take the same connection options (names, help, defaults): those of
    op25b_cfg.cli_options, declared once (effect collect takes them all through ``connection_options``)."""
    from dataclasses import fields

    from op25b_cfg.cli_options import ConnectionArgs

    shared = [f.name for f in fields(ConnectionArgs)]
    push, audit, collect = _options("push"), _options("audit"), _options("effect", "collect")
    for name in shared:
        assert collect[name] == push[name] == audit[name], name
    result = CliRunner().invoke(app, ["effect", "collect", "-i", "nowhere", "--timeout", "0"], prog_name="op25b")
    assert result.exit_code == 2 and "--timeout" in result.output  # typer checks the shared option's range
