"""Fixtures for tests that need the network-namespace lab (real sshd + nftables in a ``bras`` namespace,
real SMTP servers). Import them into a test module::

    from tests import lab_fixtures

    netns_lab = lab_fixtures.netns_lab
    lab = lab_fixtures.lab

``netns_lab`` (module scope) builds one lab per test module with names unique to this run and removes it
afterwards, also on failure; ``lab`` (per test) hands it over with the op25b table deleted and revert
timers stopped, so every test starts from the host's own firewall only. Both skip with a reason where
root / netns / nft / sshd are missing, and fail under ``OP25B_REQUIRE_LAB=1``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from op25b_cfg import api
from op25b_cfg.connection.base import ConnectOptions, Credentials
from op25b_cfg.connection.linux import LinuxNftSession
from op25b_cfg.inventory import Device
from op25b_cfg.lab.netns import SSHD, Lab, running_lab
from op25b_cfg.lab.target import push_target
from tests.labutil import need, need_netns, need_nft


def need_lab() -> None:
    """Skip (fail under OP25B_REQUIRE_LAB=1) unless the namespace lab can be built here."""
    need_netns()
    need_nft()
    need(Path(SSHD).exists(), f"{SSHD} not found (Debian package openssh-server)")
    need(shutil.which("ssh-keygen") is not None, "ssh-keygen not found (Debian package openssh-client)")
    need(shutil.which("openssl") is not None, "openssl not found (Debian package openssl)")


@pytest.fixture(scope="module")
def netns_lab() -> Iterator[Lab]:
    need_lab()
    with running_lab() as built:
        yield built


@pytest.fixture
def lab(netns_lab: Lab) -> Iterator[Lab]:
    netns_lab.reset_bras()
    yield netns_lab
    netns_lab.reset_bras()


def target(
    lab: Lab, device: str = "lab-bras", extra: dict[str, dict[str, Any]] | None = None
) -> tuple[Device, Credentials, ConnectOptions]:
    """(device, credentials, options) for one of the lab's inventory devices."""
    return push_target(lab, device, extra=extra)


def session(lab: Lab, device: str = "lab-bras", extra: dict[str, dict[str, Any]] | None = None) -> LinuxNftSession:
    """An unopened session to the lab's bras as ``device`` (use it in a ``with`` block)."""
    return LinuxNftSession(*target(lab, device, extra))


def rendered(lab: Lab, device: str = "lab-bras", extra: dict[str, dict[str, Any]] | None = None) -> str:
    """The rendered nft ruleset of one lab device."""
    dev, _c, _o = target(lab, device, extra)
    text = api.render(dev)
    return text


def push(lab: Lab, device: str, extra: dict[str, dict[str, Any]] | None = None, revert_seconds: int = 30) -> str:
    """Load, diff, commit with a revert timer, confirm: the push workflow's steps for one device. The diff."""
    text = rendered(lab, device, extra)
    with session(lab, device, extra) as s:
        s.load_candidate(text)
        diff = s.diff()
        s.commit(revert_seconds)
        s.confirm()
    return diff


def mac(lab: Lab, role: str) -> str:
    """The MAC address of a lab namespace's ``eth0`` (random per lab: it tells this lab's kernel log lines)."""
    link = json.loads(lab.exec(role, ["ip", "-j", "link", "show", "eth0"]))
    return str(link[0]["address"])
