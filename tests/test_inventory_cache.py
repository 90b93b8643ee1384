"""The validated-inventory cache (op25b_cfg/inventory_cache.py): a load of unchanged files gives the same
objects as a full load, any change to a file invalidates the entry, and an entry that fails a check (damaged,
another owner's, open to others, a link) is ignored and never yields a different inventory."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from op25b_cfg import api, inventory_cache
from op25b_cfg.inventory import Inventory, load_inventory
from op25b_cfg.inventory_model import Record
from tests.test_golden import CASES, Case, materialise

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "inventory"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The cache switched on (the suite runs with it off, see conftest.py), in a private temporary directory."""
    where = tmp_path / "cache" / "op25b"
    monkeypatch.delenv("OP25B_NO_CACHE", raising=False)
    monkeypatch.setenv("OP25B_CACHE_DIR", str(where))
    yield where


def entry(where: Path) -> Path:
    (found,) = where.iterdir()
    return found


def snapshot(inv: Inventory) -> Any:
    """Everything a load yields, field by field with the type of every value (a list is not a tuple, a
    network not its text), and the sharing of the policy and pools between devices."""
    ids: dict[int, int] = {}

    def ident(obj: object) -> int:
        return ids.setdefault(id(obj), len(ids))

    def dump(value: Any) -> Any:
        if isinstance(value, Record):
            # the sharing the plan cache keys on: policy and pools (other objects are compared by value: equal
            # immutable ones may be one object in the cache)
            shared = ident(value) if type(value).__name__ in ("Policy", "Pool") else None
            fields = {f.name: dump(getattr(value, f.name)) for f in dataclasses.fields(value)}  # type: ignore[arg-type]
            return (type(value).__name__, shared, fields)
        assert not hasattr(value, "model_fields"), f"a pydantic model in a loaded inventory: {value!r}"
        if isinstance(value, tuple | list):
            return (type(value).__name__, [dump(v) for v in value])
        if isinstance(value, dict):
            return {k: dump(v) for k, v in value.items()}
        return (type(value).__name__, value)

    devices = {
        name: {f.name: dump(getattr(d, f.name)) for f in dataclasses.fields(d)} for name, d in inv.devices.items()
    }
    return inv.path, dump(inv.policy), devices, {n: d.exemptions for n, d in inv.devices.items()}


def copy_sample(tmp_path: Path) -> Path:
    inv = tmp_path / "inv"
    shutil.copytree(SAMPLE, inv)
    return inv


def test_cached_load_equals_full_load(cache: Path, tmp_path: Path) -> None:
    inv_dir = copy_sample(tmp_path)
    first = load_inventory(inv_dir)  # full load, writes the entry
    assert inventory_cache.load(inv_dir, inventory_cache.entry_key(inv_dir)) is not None
    second = load_inventory(inv_dir)  # from the entry
    assert snapshot(second) == snapshot(first)
    assert all(d.policy is second.policy for d in second.devices.values())
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    assert oct(entry(cache).stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("case", [c for c in CASES if not c.wants_error], ids=lambda c: c.id)
def test_goldens_render_the_same_from_the_cache(case: Case, cache: Path, tmp_path: Path) -> None:
    inv_dir, name = materialise(case, tmp_path)
    load_inventory(inv_dir)
    key = inventory_cache.entry_key(inv_dir)
    dev = inventory_cache.load(inv_dir, key)
    assert dev is not None, "the entry was written and is used"
    device = dev.devices[name]
    expected = case.expected_config.read_text(encoding="utf-8")
    assert api.render(device) == expected


@pytest.mark.parametrize(
    ("file", "edit"),
    [
        ("groups.yaml", lambda t: t.replace("mode: targeted", "mode: block")),
        ("hosts.yaml", lambda t: t.replace("edge-osa-eos1:\n", "edge-osa-eos1:\n  port: 2222\n")),
        ("policy.yaml", lambda t: t + "\n# a comment changes the bytes, not the meaning\n"),
        ("defaults.yaml", None),  # a file that disappears
    ],
)
def test_a_changed_file_invalidates(cache: Path, tmp_path: Path, file: str, edit: Any) -> None:
    inv_dir = copy_sample(tmp_path)
    before = load_inventory(inv_dir)
    path = inv_dir / file
    if edit is None:
        path.unlink()
    else:
        text = path.read_text(encoding="utf-8")
        assert edit(text) != text
        path.write_text(edit(text), encoding="utf-8")
    after = load_inventory(inv_dir)
    fresh = _uncached(inv_dir)
    assert snapshot(after) == snapshot(fresh)
    if file != "policy.yaml":
        assert snapshot(after) != snapshot(before)
    if file == "groups.yaml":
        assert after.devices["edge-osa-eos1"].mode == "block"
    if file == "hosts.yaml":
        assert after.devices["edge-osa-eos1"].port == 2222


def _uncached(inv_dir: Path) -> Inventory:
    os.environ["OP25B_NO_CACHE"] = "1"
    try:
        return load_inventory(inv_dir)
    finally:
        del os.environ["OP25B_NO_CACHE"]


def _damage(path: Path, how: str) -> None:
    raw = path.read_bytes()
    head, _, payload = raw.partition(b"\n")
    if how == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "garbage":
        path.write_bytes(os.urandom(len(raw)))
    elif how == "value changed":  # a prefix edited, the digest left as it was
        path.write_bytes(head + b"\n" + payload.replace(b"100.64.", b"100.65.", 1))
        assert b"100.65." in path.read_bytes()
    elif how == "unknown kind, digest recomputed":
        import hashlib

        bad = payload.replace(b'["Pool",', b'["Policy",', 1)
        assert bad != payload
        meta = json.loads(head)
        meta["digest"] = hashlib.sha256(bad).hexdigest()
        path.write_bytes(json.dumps(meta).encode() + b"\n" + bad)
    elif how == "empty":
        path.write_bytes(b"")
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["truncated", "garbage", "value changed", "unknown kind, digest recomputed", "empty"])
def test_a_damaged_entry_is_ignored_and_rewritten(cache: Path, tmp_path: Path, how: str) -> None:
    inv_dir = copy_sample(tmp_path)
    good = snapshot(load_inventory(inv_dir))
    _damage(entry(cache), how)
    os.chmod(entry(cache), 0o600)
    key = inventory_cache.entry_key(inv_dir)
    assert inventory_cache.load(inv_dir, key) is None
    assert snapshot(load_inventory(inv_dir)) == good  # the full load, which writes the entry again
    assert inventory_cache.load(inv_dir, key) is not None


def test_entry_open_to_others_or_linked_is_ignored(cache: Path, tmp_path: Path) -> None:
    inv_dir = copy_sample(tmp_path)
    load_inventory(inv_dir)
    key = inventory_cache.entry_key(inv_dir)
    path = entry(cache)
    path.chmod(0o644)
    assert inventory_cache.load(inv_dir, key) is None
    path.chmod(0o600)
    assert inventory_cache.load(inv_dir, key) is not None
    moved = tmp_path / "elsewhere.json"
    path.rename(moved)
    path.symlink_to(moved)
    assert inventory_cache.load(inv_dir, key) is None


def test_directory_open_to_others_is_neither_read_nor_written(cache: Path, tmp_path: Path) -> None:
    inv_dir = copy_sample(tmp_path)
    load_inventory(inv_dir)
    key = inventory_cache.entry_key(inv_dir)
    cache.chmod(0o755)
    assert inventory_cache.load(inv_dir, key) is None
    entry(cache).unlink()
    load_inventory(inv_dir)
    assert list(cache.iterdir()) == []


def test_directory_that_is_a_link_is_not_used(cache: Path, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    cache.parent.mkdir(parents=True)
    cache.symlink_to(real)
    inv_dir = copy_sample(tmp_path)
    load_inventory(inv_dir)
    assert list(real.iterdir()) == []


def test_uncacheable_values_load_without_an_entry(cache: Path, tmp_path: Path) -> None:
    """A driver extra YAML reads as a date has no JSON form: the inventory loads, nothing is cached."""
    inv_dir = copy_sample(tmp_path)
    hosts = inv_dir / "hosts.yaml"
    text = hosts.read_text(encoding="utf-8")
    hosts.write_text(
        text.replace(
            "bras-tyo-ios1:\n",
            "bras-tyo-ios1:\n  connection_options:\n    napalm:\n      extras: {optional_args: {since: 2024-01-01}}\n",
            1,
        ),
        encoding="utf-8",
    )
    inv = load_inventory(inv_dir)
    assert str(inv.devices["bras-tyo-ios1"].connection_options["napalm"].extras["optional_args"]["since"])
    assert not cache.exists() or list(cache.iterdir()) == []


def test_generate_output_is_identical_with_and_without_the_cache(cache: Path, tmp_path: Path) -> None:
    """The CLI as a process: a run without the cache, one that writes it, one that reads it (which needs
    neither the YAML reader nor pydantic)."""
    inv_dir = copy_sample(tmp_path)
    probe = (
        "import json, sys\n"
        "from op25b_cfg.cli import app\n"
        "sys.argv = ['op25b', *sys.argv[1:]]\n"
        "try:\n    app()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print(json.dumps({'code': code, 'yaml': 'yaml' in sys.modules, 'pydantic': 'pydantic' in sys.modules}))\n"
    )
    outputs = {}
    for run, env in (("off", {"OP25B_NO_CACHE": "1"}), ("write", {}), ("read", {})):
        out = tmp_path / f"out-{run}"
        proc = subprocess.run(
            [sys.executable, "-c", probe, "generate", "-i", str(inv_dir), "-o", str(out), "--quiet"],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            check=True,
        )
        result = json.loads(proc.stdout.splitlines()[-1])
        assert result["code"] == 0, proc.stderr
        assert result["yaml"] is result["pydantic"] is (run != "read")
        outputs[run] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert outputs["off"] == outputs["write"] == outputs["read"]
    hosts = (REPO / "inventory" / "hosts.yaml").read_text(encoding="utf-8")
    assert len(outputs["read"]) == len(re.findall(r"^[a-z0-9][\w.-]*:$", hosts, re.M))  # one file per sample device


def test_inventory_show_is_identical_with_and_without_the_cache(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``inventory show`` dumps through the validating models (pydantic is imported then): same document from
    the cache."""
    from typer.testing import CliRunner

    from op25b_cfg.cli import app

    inv_dir = copy_sample(tmp_path)
    argv = ["inventory", "show", "-i", str(inv_dir), "--format", "json"]
    runner = CliRunner()
    monkeypatch.setenv("OP25B_NO_CACHE", "1")
    off = runner.invoke(app, argv)
    monkeypatch.delenv("OP25B_NO_CACHE")
    written, read = runner.invoke(app, argv), runner.invoke(app, argv)
    assert off.exit_code == written.exit_code == read.exit_code == 0, off.output
    assert inventory_cache.load(inv_dir, inventory_cache.entry_key(inv_dir)) is not None
    assert off.stdout == written.stdout == read.stdout
    assert json.loads(read.stdout)["devices"]


def test_no_home_directory_means_no_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OP25B_NO_CACHE", raising=False)
    monkeypatch.delenv("OP25B_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: (_ for _ in ()).throw(RuntimeError("no home"))))
    assert inventory_cache.disabled()
    assert load_inventory(copy_sample(tmp_path)).devices


def test_no_cache_switch(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OP25B_NO_CACHE", "1")
    load_inventory(copy_sample(tmp_path))
    assert not cache.exists()


def test_equal_scalar_models_are_one_object_and_values_of_other_types_stay_apart() -> None:
    """The encoder's look-up by field values (attachments, flow control) merges equal models only: ``1``,
    ``1.0`` and ``True`` are equal in Python but not the same value in a config."""
    from op25b_cfg.inventory_model import Attachment, FlowControl

    def fc(delay: Any) -> FlowControl:
        return FlowControl.trusted(
            max_sessions=10, new_per_second=1, burst=5, ipv6_subscriber_length=64, connect_delay_s=delay
        )

    def att(name: str) -> Attachment:
        return Attachment.trusted(
            kind="interface", name=name, direction="in", template_type=None, profile_interface=None
        )

    enc = inventory_cache._Encoder()
    one, one_again, one_float, one_bool = (enc.ref(x) for x in (fc(1), fc(1), fc(1.0), fc(True)))
    assert one == one_again
    assert len({one, one_float, one_bool}) == 3
    assert [enc.objects[i][1]["connect_delay_s"] for i in (one, one_float, one_bool)] == [1, 1.0, True]
    assert [type(enc.objects[i][1]["connect_delay_s"]) for i in (one, one_float, one_bool)] == [int, float, bool]
    assert enc.ref(att("Gi0/0")) == enc.ref(att("Gi0/0")) != enc.ref(att("Gi0/1"))
