"""Helpers every test uses for things that may be missing on a user's machine.

``need(cond, reason)`` skips with the reason where a lab prerequisite (root, network namespaces, nft,
sshd, chromium, ../shared/) is missing, but fails under ``OP25B_REQUIRE_LAB=1`` (set by .ci/run), so CI
always runs those tests. ``sample_render`` and ``napalm_driver`` are shared by the protocol-emulator tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from napalm.base.base import NetworkDriver

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus" / "public"


def lab_required() -> bool:
    return os.environ.get("OP25B_REQUIRE_LAB") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip (or, under OP25B_REQUIRE_LAB=1, fail) unless ``condition`` holds."""
    if condition:
        return
    if lab_required():
        pytest.fail(f"OP25B_REQUIRE_LAB=1 but the lab is incomplete: {reason}", pytrace=False)
    pytest.skip(reason)


def have_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def have_unshare_net() -> bool:
    """True when ``unshare -n`` works (root, or user namespaces allowed)."""
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def need_nft() -> str:
    """Path of ``nft`` that can run in a fresh network namespace, or skip/fail."""
    nft = shutil.which("nft") or ("/usr/sbin/nft" if Path("/usr/sbin/nft").exists() else None)
    need(nft is not None, "nft (Debian package nftables) is not installed")
    need(have_unshare_net(), "cannot create a network namespace (unshare -n needs root)")
    assert nft is not None
    return nft


def need_netns() -> None:
    need(have_root(), "network-namespace lab tests need root")
    need(shutil.which("ip") is not None, "iproute2 (ip) is not installed")
    need(have_unshare_net(), "cannot create network namespaces here")


def need_corpus() -> Path:
    need(CORPUS.is_dir(), f"public config corpus not found at {CORPUS} (only in the developers' workspace)")
    return CORPUS


def sample_render(device: str) -> str:
    """The rendered OP25B configuration of one device of the bundled sample inventory (what the emulator
    tests load as a candidate)."""
    from op25b_cfg.generate import render_device
    from op25b_cfg.inventory import load_inventory

    text, res = render_device(load_inventory(REPO / "inventory").devices[device])
    assert not res.failed, res.error
    return text


def napalm_driver(
    driver: str, emu: Any, opened: list[Any], timeout: int = 10, **optional_args: object
) -> NetworkDriver:
    """A real napalm ``driver`` for an emulator (its own optional args, then ``optional_args``), recorded in
    ``opened`` so the test can close it while the emulator still runs."""
    import napalm

    args = {**emu.napalm_optional_args(), **optional_args}
    dev = napalm.get_network_driver(driver)(emu.host, emu.username, emu.password, timeout=timeout, optional_args=args)
    opened.append(dev)
    return dev
