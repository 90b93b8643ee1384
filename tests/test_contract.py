"""The platform contract: the same checks for every registered platform (napalm's ``BaseTestGetters`` idea).

Parametrised over ``op25b_cfg.platforms.PLATFORMS`` (built-ins and entry-point plugins alike), so a new platform is
covered with no edit here; it is not done until ``pytest tests/test_contract.py -k <platform>`` passes. What a
platform provides is listed in tests/platforms/README.md. For each platform:

- golden output or refusal for every mode (compared by tests/test_golden.py; checked for coverage here);
- ``parse(render(intent))`` audits COMPLIANT in every mode the platform supports;
- each mutation of the rendered config, written in the platform's own syntax in
  ``tests/platforms/<platform>/contract.yaml``, is caught with its finding code, and the remediation the audit
  proposes makes the config COMPLIANT again;
- the parser fuzz covers it (tests/test_parser_fuzz.py) and a rendered config cut in the middle is reported as
  truncated;
- the clean-up of an older version removes exactly the old objects and leaves the device COMPLIANT;
- a full push cycle against its emulator through the real driver (dry run, commit with clean-up of an older
  version, post-audit, re-run unchanged, drift repair), or, for a platform without an emulator, the lab tests that
  cover it. One emulator per platform serves the module; the drifted device is a second one, started from what the
  first printed with a hand edit in op25b's filter.

And the registry: a third-party platform registered under the ``op25b.platforms`` entry point group is loaded
(and so runs through this suite), a broken one is skipped with a warning naming it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from op25b_cfg import api
from op25b_cfg.audit.engine import audit_text
from op25b_cfg.audit.model import Code, DeviceReport, Verdict
from op25b_cfg.cleanup import cleanup_plan, removal_config
from op25b_cfg.dialects.base import OBJECT_NAME
from op25b_cfg.inventory import MODES, Device
from op25b_cfg.platforms import PLATFORMS, get_platform
from op25b_cfg.push import Outcome, push_device
from tests import test_golden, test_parser_fuzz
from tests.platform_data import (
    REPO,
    base_device,
    contract,
    contract_file,
    data_dir,
    in_mode,
    renders,
    running_text,
    supported_modes,
    variants,
)
from tests.pushlab import popts, session_factory
from tests.test_remediation import apply_remediation

NAMES = sorted(PLATFORMS)


@dataclass(frozen=True)
class Expect:
    """The finding a mutation must produce."""

    code: Code
    family: int | None = None
    cause: str | None = None
    what: str = ""


MUTATIONS: dict[str, Expect] = {
    "dropped-block": Expect(Code.SMTP_LEAK, cause="not covered", what="the port-25 block entries removed"),
    "shadowing-permit": Expect(Code.SMTP_LEAK, cause="shadowed", what="a permit of tcp/25 before the block"),
    "missing-family": Expect(Code.FILTER_MISSING, family=6, what="the IPv6 filter and its bindings removed"),
    "wrong-direction": Expect(Code.WRONG_DIRECTION, what="the filter bound in the other direction"),
    "unbound-filter": Expect(Code.NOT_APPLIED, what="the filter defined but bound nowhere"),
    "blocked-mta": Expect(Code.MTA_BLOCKED, what="tcp/25 to the ISP's relays dropped before their permit"),
    "blocked-submission": Expect(Code.SUBMISSION_BLOCKED, what="tcp/587 dropped before the submission permit"),
    "blocked-exemption": Expect(Code.EXEMPT_BLOCKED, what="tcp/25 dropped before the exemption's permit"),
}
"""The mutations every platform's contract.yaml writes in its own syntax, and what the audit must say."""

MODE_KEYS = ("default", *MODES)
TOP_KEYS = {"running", "host", "mutations", "push", "corpus", "lab", "properties", "log_format"}
"""``lab``, ``properties`` and ``log_format`` are the data of tests/test_lab_emulators.py, tests/test_properties.py
and tests/test_effect_offenders.py (tests/platforms/README.md)."""
PUSH_KEYS = {"covered_by", "drift"}


def _need_contract(platform: str) -> dict[str, Any]:
    data = contract(platform)
    if not data:
        pytest.fail(
            f"{contract_file(platform).relative_to(REPO)} is missing. Fix: create it with 'mutations:' giving, for"
            f" each of {', '.join(MUTATIONS)}, the regex edits that make that mistake in {platform}'s own syntax"
            " (see tests/platforms/README.md and the other platforms' files)",
            pytrace=False,
        )
    return data


# ------------------------------------------------------------------------------------------ contract data


@pytest.mark.parametrize("platform", NAMES)
def test_contract_data_is_complete(platform: str) -> None:
    """contract.yaml exists, has only known keys, and every mutation has a recipe (or a stated reason why it
    cannot be written) for every mode the platform supports."""
    data = _need_contract(platform)
    where = contract_file(platform).relative_to(REPO)
    assert set(data) <= TOP_KEYS, f"{where}: unknown keys {sorted(set(data) - TOP_KEYS)}; known: {sorted(TOP_KEYS)}"
    push = data.get("push") or {}
    assert set(push) <= PUSH_KEYS, f"{where}: unknown push keys {sorted(set(push) - PUSH_KEYS)}"
    muts = data.get("mutations") or {}
    assert set(muts) <= set(MUTATIONS), f"{where}: unknown mutations {sorted(set(muts) - set(MUTATIONS))}"
    missing = [(m, mode) for m in MUTATIONS for mode in supported_modes(platform) if recipe(platform, mode, m) is None]
    assert not missing, (
        f"{where}: no recipe for {missing}. Fix: add under 'mutations:' a list of {{sub: REGEX, with: REPLACEMENT}}"
        " edits (per mode under 'default:' or the mode's name), or {not_applicable: why} where the mode has no"
        " such line"
    )


def recipe(platform: str, mode: str, mutation: str) -> list[dict[str, Any]] | str | None:
    """The edits of ``mutation`` in ``mode``, the reason it does not apply (str), or None (not written)."""
    entry = (contract(platform).get("mutations") or {}).get(mutation)
    if entry is None:
        return None
    if isinstance(entry, list):
        return entry
    assert isinstance(entry, dict) and set(entry) <= set(MODE_KEYS), (
        f"{contract_file(platform)}: mutations.{mutation} is a list of edits or a mapping with keys {MODE_KEYS}"
    )
    chosen = entry.get(mode, entry.get("default"))
    if isinstance(chosen, dict):
        reason = str(chosen.get("not_applicable") or "")
        assert reason, f"{contract_file(platform)}: mutations.{mutation}.{mode}: give 'not_applicable: <why>'"
        return reason
    return chosen


def apply_edits(text: str, edits: list[dict[str, Any]], label: str) -> str:
    """``text`` with each ``{sub, with, count?}`` applied (Python ``re``, MULTILINE); each edit must change it."""
    for i, edit in enumerate(edits):
        pattern = re.compile(str(edit["sub"]), re.M)
        new, n = pattern.subn(str(edit["with"]), text, count=int(edit.get("count", 0)))
        assert n and new != text, f"{label}: edit {i + 1} ({edit['sub']!r}) matches nothing in the rendered config"
        text = new
    return text


# ------------------------------------------------------------------------------------------ golden coverage


@pytest.mark.parametrize(("platform", "mode"), [(p, m) for p in NAMES for m in MODES])
def test_golden_output_or_refusal_for_every_mode(platform: str, mode: str) -> None:
    """A golden case renders the mode (when the platform supports it) or pins its refusal (when it does not);
    tests/test_golden.py compares them byte for byte."""
    cases = [c for c in test_golden.CASES if c.platform == platform and test_golden.case_mode(c) == mode]
    folder = data_dir(platform, "golden").relative_to(REPO)
    ext = PLATFORMS[platform].file_extension
    covered = [c for c in cases if c.wants_error or c.expected_config.exists()]
    assert covered, (
        f"no golden case for {platform} mode {mode}. Fix: create {folder}/<case>/case.yaml (mode: {mode}, see"
        f" tests/test_golden.py) and run 'pytest tests/test_golden.py --update-golden' to write expected.{ext}; for a"
        " mode the platform refuses, write the refusal to expected_error.txt instead"
    )
    if mode in PLATFORMS[platform].modes:
        assert any(not c.wants_error for c in cases), f"{platform} supports {mode}: {folder} needs a rendered case"
    else:
        wrong = [c.id for c in cases if not c.wants_error]
        assert not wrong, f"{platform} cannot enforce {mode} (Platform.modes), yet {wrong} expect output"


# ------------------------------------------------------------------------------------------ round trip


def _codes(rep: DeviceReport) -> list[str]:
    return [f"{f.code}/{f.family}/{f.cause}" for f in rep.findings if f.code is not Code.DRIFT]


def contract_device(platform: str, mode: str) -> Device:
    dev = in_mode(base_device(platform), mode)
    assert renders(dev), (
        f"{dev.name} ({platform}) does not render in mode {mode}, which the platform supports: give it an"
        f" attachment of a kind in {sorted(PLATFORMS[platform].flow_rate_kinds or PLATFORMS[platform].attach_kinds)}"
    )
    return dev


ROUND_TRIP = variants()


@pytest.mark.parametrize(("platform", "mode"), ROUND_TRIP)
def test_rendered_config_audits_compliant(platform: str, mode: str) -> None:
    """parse(render(intent)): the generator's own output proves COMPLIANT, with no finding at all (not even
    DRIFT: the running config is the intent) and every check passed."""
    dev = contract_device(platform, mode)
    rep = audit_text(dev, running_text(dev), source="rendered")
    assert rep.verdict is Verdict.COMPLIANT, [f.message for f in rep.findings]
    assert rep.findings == []
    assert rep.checks and all(ok for _, ok in rep.checks)


# ------------------------------------------------------------------------------------------ mutations


def _applicable(platform: str, mode: str, mutation: str) -> bool:
    """False only for a mutation the contract data declares not applicable, with its reason (checked by
    test_contract_data_is_complete); a broken entry stays in, so its test fails and says why."""
    try:
        return not isinstance(recipe(platform, mode, mutation), str)
    except AssertionError:
        return True


MUTATION_CASES = [(p, m, mut) for p, m in ROUND_TRIP for mut in MUTATIONS if _applicable(p, m, mut)]
EMULATED = [p for p in NAMES if get_platform(p).emulator() is not None]


@pytest.mark.parametrize(("platform", "mode", "mutation"), MUTATION_CASES)
def test_mutation_is_caught(platform: str, mode: str, mutation: str) -> None:
    """One mistake in the rendered config, written in the platform's syntax: NONCOMPLIANT with the right code
    (and counterexample), one remediation for the device, and that remediation applied audits COMPLIANT."""
    _need_contract(platform)
    edits = recipe(platform, mode, mutation)
    assert not isinstance(edits, str)
    assert edits, f"{contract_file(platform)}: no recipe for {mutation} in mode {mode}"
    want = MUTATIONS[mutation]
    dev = contract_device(platform, mode)
    text = apply_edits(running_text(dev), edits, f"{platform} {mode} {mutation}")
    rep = audit_text(dev, text, source=mutation)
    assert rep.verdict is Verdict.NONCOMPLIANT, (want.what, [f.message for f in rep.findings])
    hits = [
        f
        for f in rep.findings
        if f.code is want.code
        and (want.family is None or f.family == want.family)
        and (want.cause is None or f.cause == want.cause)
    ]
    assert hits, f"{mutation} ({want.what}): expected {want}, got {_codes(rep)}"
    for f in hits:
        if f.code in (Code.SMTP_LEAK, Code.MTA_BLOCKED, Code.SUBMISSION_BLOCKED, Code.EXEMPT_BLOCKED):
            assert f.counterexample is not None and f.lines and f.config_lines, f.message
    assert any(f.code is Code.DRIFT for f in rep.findings), "a changed OP25B object is DRIFT too"
    assert rep.remediation and all(f.remediation == "" for f in rep.findings), "one remediation per device"
    fixed = audit_text(dev, apply_remediation(platform, text, rep.remediation), source=f"{mutation}, remediated")
    assert fixed.verdict is Verdict.COMPLIANT, (rep.remediation, [f.message for f in fixed.findings])


# ------------------------------------------------------------------------------------------ fuzz and truncation


@pytest.mark.parametrize("platform", NAMES)
def test_parser_is_fuzzed(platform: str) -> None:
    """tests/test_parser_fuzz.py fuzzes every registered platform (random bytes, mutated real configs, huge
    inputs); this checks it has seed configs to mutate (the platform's parser cases and public corpus)."""
    assert test_parser_fuzz.seeds(platform), (
        f"no seed config for the parser fuzz of {platform}. Fix: add parser cases"
        f" ({data_dir(platform, 'parser_cases').relative_to(REPO)}/<case>/config)"
    )


@pytest.mark.parametrize(("platform", "mode"), ROUND_TRIP)
def test_cut_config_is_reported_truncated(platform: str, mode: str) -> None:
    """A complete running config passes the platform's truncation check; the same config cut in the middle (a
    saved ``show running-config`` that lost its end) is reported, and the audit of it is ERROR, not a verdict."""
    check = get_platform(platform).truncation_problem
    dev = contract_device(platform, mode)
    text = running_text(dev)
    assert check(text) is None, check(text)
    cut = text[: len(text) // 2]
    assert check(cut), f"{platform}: the first half of the rendered config passes as complete"
    rep = api.audit_text(dev, cut, source="cut.cfg")
    assert rep.verdict is Verdict.ERROR and "truncated" in (rep.error or ""), (rep.verdict, rep.error)


# ------------------------------------------------------------------------------------------ clean-up


def old_and_new(platform: str) -> tuple[Device, Device]:
    """The device in its first supported mode (new) and the intent it had before (old): another mode where the
    platform has one, else fewer pools. Both give different versions."""
    modes = supported_modes(platform)
    new = contract_device(platform, modes[0])
    old = contract_device(platform, modes[1]) if len(modes) > 1 else dataclasses.replace(new, pools=new.pools[:-1])
    assert api.plan(old).version != api.plan(new).version
    return old, new


def object_names(text: str, version: str) -> set[str]:
    return {m.group(0) for m in OBJECT_NAME.finditer(text) if m["version"] == version}


@pytest.mark.parametrize("platform", NAMES)
def test_cleanup_removes_exactly_the_old_version(platform: str) -> None:
    """A running config holding the objects of an older version (left unbound by the merge of the new one) and
    the new filter: the clean-up plan removes exactly the old objects, and applied it leaves the device
    COMPLIANT with nothing of the old version left."""
    old, new = old_and_new(platform)
    old_v, new_v = api.plan(old).version, api.plan(new).version
    if PLATFORMS[platform].atomic_replace:  # one transaction replaces all op25b owns (the nftables table)
        assert cleanup_plan(platform, running_text(old) + running_text(new), new_v, new.attach) == ([], [])
        assert old_v not in running_text(new), "the replacement carries nothing of the old version"
        return
    old_objects = get_platform(platform).render(dataclasses.replace(old, attach=()))
    assert object_names(old_objects, old_v), f"{platform}: the old version's objects carry no OP25B name"
    running = old_objects + running_text(new)
    assert audit_text(new, running).verdict is Verdict.COMPLIANT
    refs, objects = cleanup_plan(platform, running, new_v, new.attach)
    assert refs == []
    assert {o.name for o in objects} == object_names(old_objects, old_v)
    removal = removal_config(platform, objects, refs)
    assert new_v not in removal, removal
    after = apply_remediation(platform, running, removal)
    assert not object_names(after, old_v), after
    assert object_names(after, new_v) == object_names(running_text(new), new_v)
    rep = audit_text(new, after, source="cleaned up")
    assert rep.verdict is Verdict.COMPLIANT and rep.findings == [], [f.message for f in rep.findings]


# ------------------------------------------------------------------------------------------ push cycle


def push_covered_elsewhere(platform: str) -> str:
    """The lab tests covering the push of a platform without an emulator (``push: {covered_by: [FILE::TEST]}``),
    each checked to exist."""
    covered = [str(t) for t in (contract(platform).get("push") or {}).get("covered_by") or ()]
    assert covered, (
        f"{platform} has no emulator (Platform.emulator() is None) and {contract_file(platform).name} names no"
        " lab test. Fix: ship an emulator (emulator.py with EMULATOR) or add 'push: {covered_by: [tests/<file>.py::"
        "<test>]}' naming the lab tests that push to the real thing (dry run, commit, re-run, drift repair)"
    )
    for test in covered:
        file, _, name = test.partition("::")
        path = REPO / file
        assert path.is_file() and re.search(rf"^def {re.escape(name)}\(", path.read_text(), re.M), f"no test {test}"
    return ", ".join(covered)


@contextlib.contextmanager
def emulated(platform: str, text: str) -> Iterator[Any]:
    """An emulator of ``platform`` started on ``text`` (its running config), stopped on leaving."""
    emulator = get_platform(platform).emulator()
    assert emulator is not None
    with emulator(text, hostname=base_device(platform).name) as emu:  # real timers: no revert fires in a test
        yield emu


@pytest.fixture(scope="module")
def emulators() -> Iterator[dict[str, Any]]:
    """One emulator per platform for this module, started on first use (from the platform's starting config for
    its contract device), all stopped at the end."""
    from op25b_cfg.lab.emulated import starting_config

    with contextlib.ExitStack() as stack:

        class Lab(dict[str, Any]):
            def __missing__(self, platform: str) -> Any:
                text, _ = starting_config(base_device(platform), REPO / "inventory")
                emu = self[platform] = stack.enter_context(emulated(platform, text))
                return emu

        yield Lab()


@pytest.fixture(scope="module")
def in_place() -> dict[str, str]:
    """platform -> what its emulator printed once the push cycle had put the current version in place."""
    return {}


def _push(dev: Device, make: Any, tmp_path: Path, commit: bool) -> Any:
    return push_device(dev, make, popts(tmp_path, commit=commit, confirm_timeout=60))


def committed(commands: list[str]) -> list[str]:
    """The commands among ``commands`` that commit a change (a commit, or napalm ios's copy into running-config)."""
    return [c for c in commands if "commit" in c.lower() or re.match(r"copy \S+ running-config$", c)]


def _on(emu: Any, dev: Device) -> Device:
    """``dev`` at the emulator's address (a test never connects anywhere else)."""
    return dataclasses.replace(dev, hostname=emu.host, port=emu.port)


@pytest.mark.parametrize("platform", sorted(set(NAMES) - set(EMULATED)))
def test_push_without_emulator_is_covered_by_lab_tests(platform: str) -> None:
    """A platform tested on the real thing instead of an emulator names the lab tests that push to it."""
    assert push_covered_elsewhere(platform)


@pytest.mark.parametrize("platform", EMULATED)
def test_push_cycle(
    platform: str, emulators: dict[str, Any], in_place: dict[str, str], tmp_path: Path, lock_dir: Path
) -> None:
    """Through the platform's real driver against its emulator: the device runs an older version; a dry run
    shows the diff and the clean-up and changes nothing; the commit puts the new version in place, removes
    exactly the old objects and post-audits COMPLIANT; a re-run is unchanged."""
    emu = emulators[platform]
    make = session_factory(emu, tmp_path)
    old, new = (_on(emu, d) for d in old_and_new(platform))
    old_v, new_v = api.plan(old).version, api.plan(new).version

    first = _push(old, make, tmp_path, commit=True)
    assert first.outcome in (Outcome.COMMITTED, Outcome.UNCHANGED), f"old version: {first.error} / {first.state}"
    before = emu.running_config
    assert object_names(before, old_v) and audit_text(old, before, "emulator").verdict is Verdict.COMPLIANT

    dry = _push(new, make, tmp_path, commit=False)
    assert dry.outcome is Outcome.DRY_RUN, f"{dry.error} / {dry.state}"
    assert new_v in dry.diff and dry.diff_lines > 1, dry.diff
    atomic = PLATFORMS[platform].atomic_replace  # one transaction replaces all op25b owns: no separate clean-up
    assert (not dry.cleanup_diff) if atomic else (old_v in dry.cleanup_diff), dry.cleanup_diff
    assert emu.running_config == before and not emu.pending_commit(), "a dry run changed the device"
    backup = Path(dry.backup).read_text(encoding="utf-8")  # the device as it was, saved before anything else
    assert object_names(backup, old_v) == object_names(before, old_v) and new_v not in backup

    res = _push(new, make, tmp_path, commit=True)
    assert res.outcome is Outcome.COMMITTED and not res.failed, f"{res.error} / {res.state}"
    assert res.verdict == "COMPLIANT"
    after = emu.running_config
    assert set(res.cleanup_removed) == (set() if atomic else object_names(before, old_v)), res.cleanup_removed
    assert old_v not in after and object_names(after, new_v), after
    assert audit_text(new, after, "emulator").verdict is Verdict.COMPLIANT and not emu.pending_commit()

    sent = len(emu.commands)
    again = _push(new, make, tmp_path, commit=True)
    assert again.outcome is Outcome.UNCHANGED and not again.failed, f"{again.error} / {again.state} {again.diff}"
    assert emu.running_config == after and not committed(emu.commands[sent:]), emu.commands[sent:]
    in_place[platform] = after


@pytest.mark.parametrize("platform", EMULATED)
def test_push_repairs_drift(
    platform: str, emulators: dict[str, Any], in_place: dict[str, str], tmp_path: Path, lock_dir: Path
) -> None:
    """A hand edit inside op25b's own filter (the device as the push cycle left it, with the shadowing permit of
    contract.yaml, or its ``push: drift`` edits, applied to what the device prints): the dry run names the filter
    to repair, the commit replaces it make-before-break under a fresh name and post-audits COMPLIANT, the
    drifted objects are gone, and a re-run is unchanged. A platform with ``atomic_replace`` replaces its whole
    part in one transaction instead (same version, nothing renamed)."""
    _, new = old_and_new(platform)
    if platform not in in_place:  # run alone: put the current version in place first
        emu = emulators[platform]
        first = _push(_on(emu, new), session_factory(emu, tmp_path), tmp_path, commit=True)
        assert first.outcome in (Outcome.COMMITTED, Outcome.UNCHANGED), f"{first.error} / {first.state}"
        in_place[platform] = emu.running_config
    version = api.plan(new).version
    edits = (contract(platform).get("push") or {}).get("drift") or recipe(platform, new.mode, "shadowing-permit")
    assert isinstance(edits, list), f"{contract_file(platform)}: give 'push: {{drift: [edits]}}'"
    drifted = apply_edits(in_place[platform], edits, f"{platform} drift (on the config the emulator prints)")

    with emulated(platform, drifted) as device:
        dev, make = _on(device, new), session_factory(device, tmp_path)
        start = device.running_config
        assert audit_text(dev, start, "emulator").verdict is Verdict.NONCOMPLIANT
        dry = _push(dev, make, tmp_path, commit=False)
        assert dry.outcome is Outcome.DRY_RUN and dry.diff, (dry.outcome, dry.error, dry.state)
        atomic = PLATFORMS[platform].atomic_replace  # the whole op25b part is replaced: nothing to rename
        assert bool(dry.repaired) is not atomic and set(dry.repaired) <= object_names(start, version), dry.repaired
        assert device.running_config == start, "a dry run changed the device"

        fixed = _push(dev, make, tmp_path, commit=True)
        assert fixed.outcome is Outcome.COMMITTED and not fixed.failed, f"{fixed.error} / {fixed.state}"
        assert fixed.repaired == dry.repaired and (fixed.version != version) is not atomic
        after = device.running_config
        assert not set(fixed.repaired) & object_names(after, version), after  # the drifted objects are gone
        assert audit_text(dev, after, "emulator").verdict is Verdict.COMPLIANT and not device.pending_commit()

        sent = len(device.commands)
        again = _push(dev, make, tmp_path, commit=True)
        assert again.outcome is Outcome.UNCHANGED and not again.failed, f"{again.error} / {again.state}"
        assert again.version == fixed.version and again.verdict == "COMPLIANT"
        assert device.running_config == after and not committed(device.commands[sent:]), device.commands[sent:]


# ------------------------------------------------------------------------------------------ registry

PLUGIN = '''
from op25b_cfg.platforms.base import Platform


class AcmeOs(Platform):
    """A third-party platform."""

    name = "acme_os"
    netmiko_device_type = "cisco_ios"
    napalm_driver = None
    attach_kinds = frozenset({"interface"})


class Imposter(AcmeOs):
    name = "cisco_ios"


NOT_A_PLATFORM = object()
'''
ENTRY_POINTS = """\
[op25b.platforms]
acme_os = acme_plugin:AcmeOs
broken_os = acme_broken:Broken
cisco_ios = acme_plugin:Imposter
odd_os = acme_plugin:NOT_A_PLATFORM
"""


def test_third_party_platform_is_loaded_from_its_entry_point(tmp_path: Path) -> None:
    """A real distribution (``*.dist-info`` with ``entry_points.txt``) on sys.path registers a platform under
    ``op25b.platforms``: ``op25b platforms`` lists it next to the built-ins, and the contract suite would run it.
    A plugin that does not import, is not a Platform or reuses a built-in name is skipped with a warning
    naming it, and op25b keeps working."""
    site = tmp_path / "site"
    dist = site / "op25b_acme-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: op25b-acme\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    (site / "acme_plugin.py").write_text(PLUGIN)
    (site / "acme_broken.py").write_text("raise ImportError('the acme SDK is not installed')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]), "COLUMNS": "200"}
    env["PYTEST_ADDOPTS"] = ""  # the nested run below is read as one process's output (CI adds -n 2)

    proc = subprocess.run(
        [sys.executable, "-m", "op25b_cfg", "platforms", "--format", "json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = {r["platform"]: r for r in json.loads(proc.stdout)}
    assert set(rows) == {*NAMES, "acme_os"}, sorted(rows)
    assert rows["acme_os"]["attach"] == ["interface"] and rows["acme_os"]["napalm_driver"] is None
    assert rows["cisco_ios"]["napalm_driver"] == "ios", "a plugin never replaces a built-in platform"
    warnings = proc.stderr
    assert "broken_os (acme_broken:Broken) does not load" in warnings and "acme SDK is not installed" in warnings
    assert "odd_os (acme_plugin:NOT_A_PLATFORM) is not a Platform subclass" in warnings, warnings
    assert "cisco_ios (acme_plugin:Imposter) reuses a built-in platform name" in warnings, warnings
    assert "Traceback" not in warnings

    table = subprocess.run(
        [sys.executable, "-m", "op25b_cfg", "platforms"], capture_output=True, text=True, env=env, timeout=60
    )
    assert table.returncode == 0 and "acme_os" in table.stdout, table.stdout + table.stderr

    # the contract covers the plugin with no edit, and says what it lacks
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_contract.py", "-k",
         "acme_os and (data_is_complete or golden_output or push_without_emulator)"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    out = run.stdout
    assert "tests/platforms/acme_os/contract.yaml is missing. Fix: create it" in out, out
    assert "no golden case for acme_os mode block. Fix: create tests/platforms/acme_os/golden/<case>/" in out, out
    assert "acme_os has no emulator (Platform.emulator() is None)" in out, out
    assert re.search(r"\b5 failed\b", out), out  # data, golden x 3 modes, push
