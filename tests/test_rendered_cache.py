"""The rendered-intent cache (issue 10): an audit of a device from an unchanged, cached inventory takes the
rendered intent from the cache (no Jinja) and reaches the same report; a changed inventory or a damaged entry is
never read; devices not loaded through the cache are rendered."""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from op25b_cfg import api, rendered_cache
from op25b_cfg.audit import runner
from op25b_cfg.audit.drift import render_intent
from op25b_cfg.audit.report import device_dict
from op25b_cfg.platforms.base import Platform

INVENTORY = Path(__file__).resolve().parent.parent / "inventory"
DEVICE = "bras-tyo-ios1"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv("OP25B_NO_CACHE", raising=False)
    monkeypatch.setenv("OP25B_CACHE_DIR", str(tmp_path / "cache"))
    api.clear_caches()
    yield tmp_path / "cache"
    api.clear_caches()


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "rendered").glob("*.txt"))


def test_a_second_audit_reads_the_rendered_intent_and_reports_the_same(cache: Path) -> None:
    first = api.load(INVENTORY).devices[DEVICE]
    rendered = api.render(first)
    drifted = rendered.replace("eq 25", "eq 26", 1)
    assert drifted != rendered
    reports = [device_dict(api.audit_text(first, text)) for text in (rendered, drifted)]
    assert len(entries(cache)) == 1 and entries(cache)[0].read_bytes().endswith(rendered.encode())
    api.clear_caches()
    again = api.load(INVENTORY).devices[DEVICE]
    assert rendered_cache.get(again) == rendered
    assert [device_dict(api.audit_text(again, text)) for text in (rendered, drifted)] == reports
    drift = [any(f["code"] == "DRIFT" for f in r["findings"]) for r in reports]
    assert drift == [False, True]


def test_a_changed_inventory_is_rendered_again(cache: Path, tmp_path: Path) -> None:
    inv = tmp_path / "inventory"
    shutil.copytree(INVENTORY, inv, ignore=shutil.ignore_patterns("running"))
    old = render_intent(api.load(inv).devices[DEVICE])
    policy = inv / "policy.yaml"
    policy.write_text(policy.read_text().replace("100.64.0.0/16", "100.66.0.0/16"))
    api.clear_caches()
    device = api.load(inv).devices[DEVICE]
    assert rendered_cache.get(device) is None
    new = render_intent(device)
    assert new != old and "100.66.0.0" in new
    assert new == api.render(device)


def test_a_damaged_entry_is_ignored_and_rewritten(cache: Path) -> None:
    device = api.load(INVENTORY).devices[DEVICE]
    rendered = render_intent(device)
    (entry,) = entries(cache)
    entry.write_bytes(entry.read_bytes().replace(b"deny", b"permit", 1))
    assert rendered_cache.get(device) == rendered  # this process keeps what it rendered
    api.clear_caches()
    device = api.load(INVENTORY).devices[DEVICE]
    assert rendered_cache.get(device) is None
    assert render_intent(device) == rendered
    api.clear_caches()
    assert rendered_cache.get(api.load(INVENTORY).devices[DEVICE]) == rendered


def test_devices_not_loaded_through_the_cache_are_rendered(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OP25B_NO_CACHE", "1")
    device = api.load(INVENTORY).devices[DEVICE]
    assert render_intent(device) == api.render(device)
    assert not (cache / "rendered").exists()


def test_an_entry_directory_open_to_others_or_an_entry_link_is_not_read(cache: Path, tmp_path: Path) -> None:
    """The entry directory is checked once per process (again after clear_caches), each entry file at every
    read: a directory open to others is not used, nor an entry that is a symbolic link."""
    rendered = render_intent(api.load(INVENTORY).devices[DEVICE])
    (entry,) = entries(cache)
    (cache / "rendered").chmod(0o755)
    api.clear_caches()
    assert rendered_cache.get(api.load(INVENTORY).devices[DEVICE]) is None
    (cache / "rendered").chmod(0o700)
    api.clear_caches()
    device = api.load(INVENTORY).devices[DEVICE]
    assert rendered_cache.get(device) == rendered
    moved = tmp_path / "elsewhere.txt"
    entry.rename(moved)
    entry.symlink_to(moved)
    api.clear_caches()
    assert rendered_cache.get(api.load(INVENTORY).devices[DEVICE]) is None


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_pool_workers_look_up_their_copies_of_the_devices(
    cache: Path, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker processes receive pickled copies of the devices: looked up as the devices they copy, they write
    every entry on the first run and read them on the next (a forked worker then renders nothing), with the
    reports of the process that loaded the inventory; the copies are forgotten after each chunk."""
    devices = list(api.load(INVENTORY).devices.values())
    configs = INVENTORY / "running"
    alone = [device_dict(r) for r in api.audit_saved(devices, configs, workers=1)]
    shutil.rmtree(cache / "rendered")
    api.clear_caches()
    devices = list(api.load(INVENTORY).devices.values())
    first = [device_dict(r) for r in runner._pooled(devices, configs, 2, method)]
    assert len(entries(cache)) == len(devices)
    api.clear_caches()
    devices = list(api.load(INVENTORY).devices.values())
    if method == "fork":  # what the workers inherit: a render there would give another intent, other reports
        monkeypatch.setattr(Platform, "render", lambda self, device, plan=None: "rendered after all")
    again = [device_dict(r) for r in runner._pooled(devices, configs, 2, method)]
    assert first == again == alone
    copy = pickle.loads(pickle.dumps(devices[0]))
    with rendered_cache.adopted([copy], [rendered_cache.origin_of(devices[0])]):
        assert rendered_cache.get(copy) == rendered_cache.get(devices[0]) is not None
    assert rendered_cache.origin_of(copy) is None and rendered_cache.get(copy) is None
