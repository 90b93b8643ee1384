"""Issue 9 items 11 and 12: the YAML of the inventory is read strictly and never produces a traceback.

Duplicate keys, alias bombs, YAML 1.1 values where text is expected, long values, empty files: each is a
problem naming the file, where, and a fix; ``op25b inventory validate`` exits 2.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from op25b_cfg import api
from op25b_cfg.errors import InventoryError, Problem
from op25b_cfg.yamlload import YamlProblem, load_yaml

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "inventory"


def copy_sample(tmp: Path) -> Path:
    inv = tmp / "inv"
    shutil.copytree(SAMPLE, inv, ignore=shutil.ignore_patterns("running"))
    return inv


def problems_of(inv: Path) -> list[Problem]:
    with pytest.raises(InventoryError) as info:
        api.load(inv)
    return info.value.problems


def validate(inv: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "op25b_cfg", "inventory", "validate", "-i", str(inv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,  # a guard against the old minutes-long expansion, not a timing assertion
    )


def test_duplicate_host_is_refused_with_its_line(tmp_path: Path) -> None:
    inv = copy_sample(tmp_path)
    hosts = (inv / "hosts.yaml").read_text()
    block = hosts[hosts.index("bras-tyo-ios1:") : hosts.index("bras-osa-xr1:")]
    (inv / "hosts.yaml").write_text(hosts + block.replace("192.0.2.11", "192.0.2.99"))
    first = hosts[: hosts.index("bras-tyo-ios1:")].count("\n") + 1
    second = hosts.count("\n") + 1
    [p] = problems_of(inv)
    assert p.file.endswith("hosts.yaml") and p.field == f"line {second}"
    assert f"'bras-tyo-ios1' is given twice (first on line {first})" in p.message and p.fix


def test_duplicate_mtas_block_is_refused(tmp_path: Path) -> None:
    inv = copy_sample(tmp_path)
    with (inv / "policy.yaml").open("a") as fh:
        fh.write("mtas:\n  ipv4: [198.51.100.25/32]\n")
    [p] = problems_of(inv)
    assert p.file.endswith("policy.yaml") and "'mtas' is given twice" in p.message


def test_alias_bomb_fails_fast_with_a_message(tmp_path: Path) -> None:
    inv = copy_sample(tmp_path)
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev, cur = chr(96 + i), chr(97 + i)
        levels.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    (inv / "policy.yaml").write_text(
        (inv / "policy.yaml").read_text() + "bomb:\n" + "".join(f"  {line}\n" for line in levels)
    )
    res = validate(inv)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "expands to more than" in res.stderr and "Fix:" in res.stderr


@pytest.mark.parametrize(("key", "read"), [("no", "False (bool)"), ("1:30", "90 (int)"), ("on", "True (bool)")])
def test_yaml11_host_names_must_be_quoted(tmp_path: Path, key: str, read: str) -> None:
    inv = copy_sample(tmp_path)
    hosts = (inv / "hosts.yaml").read_text().replace("bras-tyo-ios1:", f"{key}:", 1)
    (inv / "hosts.yaml").write_text(hosts)
    found = [p for p in problems_of(inv) if p.file.endswith("hosts.yaml")]
    assert len(found) == 1 and f"expected a host name (text), but YAML read {read}" in found[0].message
    assert "quote it" in found[0].fix
    (inv / "hosts.yaml").write_text(hosts.replace(f"{key}:", f'"{key}":', 1))
    if key != "1:30":  # quoted, "no" and "on" are valid device names
        assert key in api.load(inv).devices


def test_yaml11_value_where_a_name_is_expected(tmp_path: Path) -> None:
    inv = copy_sample(tmp_path)
    pol = yaml.safe_load((inv / "policy.yaml").read_text())
    (inv / "policy.yaml").write_text((inv / "policy.yaml").read_text().replace(f"name: {pol['name']}", "name: no", 1))
    [p] = [p for p in problems_of(inv) if p.field == "name"]
    assert "YAML read False (bool)" in p.message and "quote it" in p.fix


def test_long_values_are_cut_in_messages(tmp_path: Path) -> None:
    inv = copy_sample(tmp_path)
    long = "x;" * 5000
    hosts = (inv / "hosts.yaml").read_text().replace("Tokyo PPPoE BRAS (IOS-XE)", long, 1)
    (inv / "hosts.yaml").write_text(hosts)
    found = problems_of(inv)
    assert found and all(len(str(p)) < 600 for p in found), [len(str(p)) for p in found]


@pytest.mark.parametrize("body", ["", "# only a comment\n", "---\n"])
def test_empty_policy_is_an_error_not_a_traceback(tmp_path: Path, body: str) -> None:
    inv = copy_sample(tmp_path)
    (inv / "policy.yaml").write_text(body)
    res = validate(inv)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "policy.yaml: is empty" in res.stderr and "Fix:" in res.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!python/object/apply:os.system [id]\n", "is not allowed"),
        ("a: &a [*a]\n", "refers to itself"),
        ("a: 1\n---\nb: 2\n", "second YAML document"),
        ("? [1, 2]\n: x\n", "used as a key"),
        ("a: *nope\n", "unknown alias"),
    ],
)
def test_other_refusals(text: str, message: str) -> None:
    with pytest.raises(YamlProblem, match=message) as info:
        load_yaml(text)
    assert info.value.line >= 1 and info.value.fix


def test_same_values_as_pyyaml_safe_load() -> None:
    """Every YAML file in the repository reads to exactly what yaml.safe_load returns."""
    files = [Path(f) for f in glob.glob(str(REPO / "**" / "*.yaml"), recursive=True)]
    assert len(files) > 20
    extra = (
        "base: &b {x: 1, y: [a, 'b', no, on, 1:30, 0x1f, 1_000, 1.5e3, ~, 2024-01-01]}\nd: {<<: *b, y: 3, '<<': q}\n"
    )
    for text in [f.read_text(encoding="utf-8") for f in files] + [extra]:
        assert load_yaml(text) == yaml.safe_load(text)
