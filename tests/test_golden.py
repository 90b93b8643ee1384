"""Golden outputs, aerleon-style: one folder per case, ``tests/platforms/<platform>/golden/<case>/``.

Each case folder holds ``case.yaml`` (the input) and exactly one expected file:

``expected.<ext>``
    the rendered config (``<ext>`` is the platform's file extension), compared byte for byte;
``expected_error.txt``
    the validation error the intent must be refused with (for a platform x mode the platform cannot enforce).

``case.yaml`` is either a reference to an inventory directory::

    mode: block                           # the mode this case exercises (checked)
    inventory: ../../../../inventory      # relative to the case folder
    device: bras-tyo-ios1

or a self-contained intent, written to a temporary inventory as ``policy.yaml`` + ``hosts.yaml`` (one host,
``dut``) + optional ``groups.yaml``::

    mode: targeted
    policy: base                          # a file tests/platforms/_policies/base.yaml, or a mapping
    policy_override: {mode: targeted}     # optional, merged over the policy (top-level keys)
    host: {hostname: 192.0.2.1, platform: cisco_ios, data: {pools: [...], attach: [...]}}
    groups: {...}                         # optional

A new case folder is a new test. Golden files change only with ``pytest --update-golden``; otherwise a mismatch
fails with a unified diff.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from op25b_cfg import api
from op25b_cfg.errors import InventoryError
from op25b_cfg.platforms import PLATFORMS, get_platform
from tests.platform_data import PLATFORM_DATA, data_dir, platforms_with_data

GOLDEN = PLATFORM_DATA
POLICIES = PLATFORM_DATA / "_policies"
PLACEHOLDER = "<inventory>"


@dataclass(frozen=True)
class Case:
    platform: str
    name: str
    folder: Path
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.platform}/{self.name}"

    @property
    def expected_config(self) -> Path:
        return self.folder / f"expected.{PLATFORMS[self.platform].file_extension}"

    @property
    def expected_error(self) -> Path:
        return self.folder / "expected_error.txt"

    @property
    def wants_error(self) -> bool:
        return self.expected_error.exists()


def discover() -> list[Case]:
    """Every ``tests/platforms/<platform>/golden/<case>/case.yaml`` (``_`` folders are shared data)."""
    cases = []
    for platform in platforms_with_data():
        gdir = data_dir(platform, "golden")
        for cdir in sorted(gdir.iterdir()) if gdir.is_dir() else ():
            spec_file = cdir / "case.yaml"
            if spec_file.is_file():
                cases.append(Case(platform, cdir.name, cdir, yaml.safe_load(spec_file.read_text(encoding="utf-8"))))
    return cases


CASES = discover()


def load_policy(spec: dict[str, Any]) -> dict[str, Any]:
    pol = spec["policy"]
    if isinstance(pol, str):
        pol = yaml.safe_load((POLICIES / f"{pol}.yaml").read_text(encoding="utf-8"))
    return {**pol, **spec.get("policy_override", {})}


def materialise(case: Case, tmp: Path) -> tuple[Path, str]:
    """The inventory directory and device name a case describes (writing a temporary one if needed)."""
    if "inventory" in case.spec:
        return (case.folder / case.spec["inventory"]).resolve(), case.spec["device"]
    inv = tmp / "inventory"
    inv.mkdir()
    (inv / "policy.yaml").write_text(yaml.safe_dump(load_policy(case.spec), sort_keys=False), encoding="utf-8")
    (inv / "hosts.yaml").write_text(yaml.safe_dump({"dut": case.spec["host"]}, sort_keys=False), encoding="utf-8")
    if "groups" in case.spec:
        (inv / "groups.yaml").write_text(yaml.safe_dump(case.spec["groups"], sort_keys=False), encoding="utf-8")
    return inv, "dut"


def render_case(case: Case, tmp: Path) -> tuple[str, str | None]:
    """(rendered config, None) or ("", error text with the temporary path replaced by a placeholder)."""
    inv_dir, device = materialise(case, tmp)
    try:
        inv = api.load(inv_dir)
    except InventoryError as exc:
        return "", str(exc).replace(str(inv_dir), PLACEHOLDER)
    dev = inv.devices[device]
    assert dev.platform == case.platform, f"case {case.id} is filed under the wrong platform folder"
    assert dev.mode == case_mode(case), f"case {case.id} declares mode {case_mode(case)}, the device has {dev.mode}"
    return api.render(dev), None


def case_mode(case: Case) -> str:
    """The mode a case declares (``mode:`` in case.yaml); checked against the resolved device when it renders."""
    return str(case.spec["mode"])


def compare(expected: Path, actual: str, update: bool) -> None:
    if update:
        expected.write_text(actual, encoding="utf-8")
        return
    assert expected.exists(), f"{expected} is missing; create it with: pytest tests/test_golden.py --update-golden"
    want = expected.read_text(encoding="utf-8")
    if want != actual:
        diff = "".join(
            difflib.unified_diff(
                want.splitlines(keepends=True), actual.splitlines(keepends=True), str(expected), "rendered"
            )
        )
        pytest.fail(f"rendered output differs from {expected} (accept with --update-golden):\n{diff}", pytrace=False)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_golden(case: Case, tmp_path: Path, update_golden: bool) -> None:
    expected_files = [p for p in case.folder.iterdir() if p.name.startswith("expected")]
    assert len(expected_files) <= 1, f"{case.id}: keep exactly one expected file, found {expected_files}"
    text, error = render_case(case, tmp_path)
    if case.wants_error:
        assert error is not None, f"{case.id}: expected a refusal, but it rendered:\n{text}"
        compare(case.expected_error, error + "\n", update_golden)
        # a refusal names the platform, the mode and how to fix it
        assert case.platform in error and f"'{case_mode(case)}'" in error, error
        assert "Fix: " in error, error
    else:
        assert error is None, f"{case.id}: the intent was refused:\n{error}"
        assert text, f"{case.id}: empty output"
        compare(case.expected_config, text, update_golden)


@pytest.mark.parametrize("case", [c for c in CASES if not c.wants_error], ids=lambda c: c.id)
def test_cached_rendering_is_transparent(case: Case, tmp_path: Path) -> None:
    """Platform.render reuses plan-only template blocks across devices; the result must equal a plain,
    uncached render of the whole template, and a second (cached) render must equal the first."""
    inv_dir, name = materialise(case, tmp_path)
    dev = api.load(inv_dir).devices[name]
    plat = get_platform(dev.platform)
    plan = api.plan(dev)
    ctx = {"device": dev, "plan": plan, "platform": plat, "rule_line": plat.rule_line, **plat.context(dev, plan)}
    plain = plat.load_template().render(ctx)
    assert plat.render(dev) == plain
    assert plat.render(dev) == plain
    other = dataclasses.replace(dev, name="another-device")
    assert plat.render(other) == plain.replace(" device dut", " device another-device").replace(
        f" device {name}", " device another-device"
    )
