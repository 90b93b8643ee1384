"""Where each platform's test data lives: ``tests/platforms/<platform>/{golden,parser_cases,audit_cases}/`` and
``contract.yaml`` (the contract suite's data), and the intent the contract suite and the round trip render: the
sample inventory's device of each platform in each mode it supports.

A new platform brings its own folder; a new case folder is a new test. ``tests/platforms/_policies/`` holds the
policies the golden cases share.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from op25b_cfg import api
from op25b_cfg.audit.model import FlowControlSeen
from op25b_cfg.errors import PlatformError
from op25b_cfg.inventory import MODES, Device, FlowControl
from op25b_cfg.platforms import PLATFORMS, get_platform

PLATFORM_DATA = Path(__file__).resolve().parent / "platforms"
KINDS = ("golden", "parser_cases", "audit_cases")


def data_dir(platform: str, kind: str) -> Path:
    """The folder of one kind of test data (``golden``, ``parser_cases``, ``audit_cases``) of one platform."""
    assert kind in KINDS, kind
    return PLATFORM_DATA / platform / kind


def platforms_with_data() -> list[str]:
    """The platforms that have a test-data folder (``_``-prefixed folders are shared data)."""
    return sorted(p.name for p in PLATFORM_DATA.iterdir() if p.is_dir() and not p.name.startswith("_"))


# ------------------------------------------------------------------------------------------ the contract's intent
# What the contract suite (tests/test_contract.py) and the round-trip tests render and audit: the sample
# inventory's device of a platform in each mode, wrapped as a real running config holds it.

REPO = PLATFORM_DATA.parent.parent
SAMPLE_INVENTORY = REPO / "inventory"
CONTRACT_FILE = "contract.yaml"


def contract_file(platform: str) -> Path:
    """``tests/platforms/<platform>/contract.yaml``: the platform's data for the contract suite."""
    return PLATFORM_DATA / platform / CONTRACT_FILE


@cache
def contract(platform: str) -> dict[str, Any]:
    """The platform's contract data ({} when the file is missing: the contract test says what to add)."""
    path = contract_file(platform)
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    assert isinstance(data, dict), f"{path}: a mapping is expected"
    return data


@cache
def _sample_devices() -> dict[str, Device]:
    return dict(api.load(SAMPLE_INVENTORY).devices)


@cache
def base_device(platform: str) -> Device:
    """The first device of ``platform`` in the sample inventory, else the device ``host:`` of its contract.yaml
    describes (a hosts.yaml entry, loaded with the sample inventory's policy, groups and defaults)."""
    for dev in _sample_devices().values():
        if dev.platform == platform:
            return dev
    host = contract(platform).get("host")
    assert host, (
        f"the sample inventory has no {platform} device and {contract_file(platform)} has no 'host:'."
        " Fix: add a device to inventory/hosts.yaml, or a 'host:' entry (hostname, platform, data: pools,"
        " attach) to that file"
    )
    with tempfile.TemporaryDirectory(prefix="op25b-contract-") as tmp:
        inv = Path(tmp)
        for name in ("policy.yaml", "groups.yaml", "defaults.yaml"):
            if (SAMPLE_INVENTORY / name).is_file():
                shutil.copyfile(SAMPLE_INVENTORY / name, inv / name)
        (inv / "hosts.yaml").write_text(yaml.safe_dump({f"contract-{platform}": {"platform": platform, **host}}))
        return api.load(inv).devices[f"contract-{platform}"]


def in_mode(dev: Device, mode: str) -> Device:
    """``dev`` in ``mode`` (flow-control: only its per-subscriber attachments, a sessions cap only where the
    platform enforces one)."""
    dev = dataclasses.replace(dev, mode=mode)  # type: ignore[arg-type]
    plat = get_platform(dev.platform)
    if mode == "flow-control":
        fc = FlowControl(
            max_sessions=10 if plat.flow_sessions else None,
            new_per_second=2,
            burst=7,
            ipv6_subscriber_length=dev.flow_control.ipv6_subscriber_length,  # the device's own IPv6 grouping
        )
        dev = dataclasses.replace(
            dev, flow_control=fc, attach=tuple(a for a in dev.attach if a.kind in plat.flow_rate_kinds)
        )
    return dev


def renders(dev: Device) -> bool:
    """True when the platform renders the device's intent (refusals are golden cases: ``*_refused``)."""
    try:
        get_platform(dev.platform).check(dev)
    except PlatformError:
        return False
    return True


def running_text(dev: Device) -> str:
    """The rendered config as a running config holds it: with ``running: {head, tail}`` of the platform's
    contract.yaml around it (what the device holds besides op25b's part, e.g. the PPPoE group that uses a
    Virtual-Template)."""
    wrap = contract(dev.platform).get("running") or {}
    return str(wrap.get("head", "")) + api.render(dev) + str(wrap.get("tail", ""))


def supported_modes(platform: str) -> list[str]:
    """The modes the platform can enforce (``Platform.modes``), in :data:`~op25b_cfg.inventory.MODES` order."""
    return [m for m in MODES if m in PLATFORMS[platform].modes]


def variants() -> list[tuple[str, str]]:
    """Every registered platform in every mode it supports: what the round trip and the mutations run on."""
    return [(p, m) for p in sorted(PLATFORMS) for m in supported_modes(p)]


def flow_summary(flow: FlowControlSeen) -> dict[str, Any]:
    """A flow-control construct as parser-case ``expected.json`` files hold it: its fields, the connection delay
    (nftables) only where one was found, as in the plan document."""
    return {k: v for k, v in asdict(flow).items() if v is not None or k != "connect_delay_s"}


# ------------------------------------------------------------------------------------------ the sample inventory
# What the shared tests expect of inventory/: derived from the sample itself, so adding a platform (one sample
# device + its saved running config) or removing one touches no shared test.

SAMPLE_RUNNING = SAMPLE_INVENTORY / "running"
SAMPLE_LEAKS = ("bras-tyo-ios1", "bng-tyo-mx1")
"""The sample devices whose saved running config (inventory/running/) is seeded with a leak: NONCOMPLIANT.
Every other sample device's saved config is COMPLIANT."""


@cache
def sample_hosts() -> dict[str, dict[str, Any]]:
    """inventory/hosts.yaml as plain YAML (name -> entry, in file order): read without op25b's loader, so a test
    comparing what op25b loads or writes with it can fail."""
    hosts = yaml.safe_load((SAMPLE_INVENTORY / "hosts.yaml").read_text(encoding="utf-8"))
    assert isinstance(hosts, dict) and hosts, "inventory/hosts.yaml: a mapping of devices is expected"
    return hosts


def sample_names() -> list[str]:
    """The sample devices' names in hosts.yaml order (the order of every report)."""
    return list(sample_hosts())


def sample_platforms() -> dict[str, str]:
    """Sample device -> platform, as op25b resolves it (host, groups, defaults)."""
    return {name: dev.platform for name, dev in _sample_devices().items()}


def sample_verdicts() -> dict[str, str]:
    """Sample device -> the verdict of its saved running config (:data:`SAMPLE_LEAKS` NONCOMPLIANT, others
    COMPLIANT), in hosts.yaml order."""
    return {name: "NONCOMPLIANT" if name in SAMPLE_LEAKS else "COMPLIANT" for name in sample_names()}


def sample_summary() -> str:
    """The audit summary line of the sample's saved configs: ``N device(s): C compliant, 2 noncompliant, ...``."""
    verdicts = list(sample_verdicts().values())
    return (
        f"{len(verdicts)} device(s): {verdicts.count('COMPLIANT')} compliant,"
        f" {verdicts.count('NONCOMPLIANT')} noncompliant, 0 unknown, 0 error"
    )


def sample_files() -> dict[str, str]:
    """Sample device -> the file ``op25b generate`` writes for it (``<device>.<platform extension>``)."""
    return {name: f"{name}.{get_platform(p).file_extension}" for name, p in sample_platforms().items()}
