"""Helpers every test uses for things that may be missing on a user's machine.

``need(cond, reason)`` skips with the reason where a lab prerequisite (root, network namespaces, nft,
sshd, chromium, ../shared/) is missing, but fails under ``OP25B_REQUIRE_LAB=1`` (set by .ci/run), so CI
always runs those tests. ``sample_render`` and ``napalm_driver`` are shared by the protocol-emulator tests;
``namespace_kernel_log`` and :class:`Kmsg` by the lab tests that read the nft ``log`` lines a namespace wrote.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
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
    from op25b_cfg import api

    return api.render(api.load(REPO / "inventory").devices[device])


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


NF_LOG_ALL_NETNS = Path("/proc/sys/net/netfilter/nf_log_all_netns")


@contextlib.contextmanager
def namespace_kernel_log() -> Iterator[None]:
    """``nf_log_all_netns=1`` for the block (the previous value restored after it, also on failure).

    The kernel writes netfilter ``log`` lines of a network namespace other than the initial one only when
    ``net.netfilter.nf_log_all_netns`` is 1 (0 by default: then nothing is logged at all; ``nft monitor trace``
    shows only ``meta nftrace`` traces, and there is no ulogd here). Holders wait for each other (a file lock), so
    one's restore never ends another's logging. Raises OSError when it cannot be set."""
    import fcntl
    import tempfile

    if not NF_LOG_ALL_NETNS.exists():
        raise OSError(f"{NF_LOG_ALL_NETNS} missing: the kernel cannot log netfilter lines of a network namespace")
    # one holder at a time (tests run in two workers): another one's restore must not end this one's logging
    with open(Path(tempfile.gettempdir()) / "op25b-nf_log_all_netns.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = NF_LOG_ALL_NETNS.read_text().strip()
        NF_LOG_ALL_NETNS.write_text("1\n")
        try:
            yield
        finally:
            NF_LOG_ALL_NETNS.write_text(old + "\n")


class Kmsg:
    """The kernel log records written after this object was made (``/dev/kmsg``, what ``dmesg`` prints, read
    without blocking)."""

    def __init__(self) -> None:
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def messages(self) -> list[str]:
        out: list[str] = []
        while True:
            try:
                record = os.read(self.fd, 8192).decode("utf-8", "replace")
            except BlockingIOError:
                return out
            except BrokenPipeError:  # records overwritten while reading: go on with the next one
                continue
            _, _, text = record.partition(";")
            out.append(text.split("\n", 1)[0])  # continuation lines (" KEY=value") are not the message

    def wait_for(self, marker: str, count: int, timeout: float = 5.0) -> list[str]:
        """The new messages containing ``marker`` (e.g. ``:<subscriber MAC>:``), waiting up to ``timeout``
        seconds until there are ``count`` of them (the kernel writes log lines asynchronously)."""
        import time

        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines += [m for m in self.messages() if marker in m]
            if len(lines) >= count:
                break
            time.sleep(0.1)
        return lines

    def close(self) -> None:
        os.close(self.fd)
