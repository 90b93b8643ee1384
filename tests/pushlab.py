"""Pushing to the protocol emulators through the real drivers: sessions and push options, shared by
tests/test_push_napalm.py and the contract suite (tests/test_contract.py). The lock directory is the
``lock_dir`` fixture of conftest.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from op25b_cfg.connection.base import ConnectOptions, Credentials, Session
from op25b_cfg.inventory import Device
from op25b_cfg.platforms import get_platform
from op25b_cfg.push import PushOptions


def session_factory(
    emu: Any,
    tmp_path: Path,
    creds: Credentials | None = None,
    verify: bool = True,
    timeout: float = 15,
    **driver_args: Any,
) -> Callable[[Device], Session]:
    """Sessions of the device's platform (``Platform.session_class()``) to ``emu``, with the driver arguments the
    emulator lab writes for it (``lab_optional_args()``) plus ``driver_args``, and strict host-key checking
    against a known_hosts file holding its key."""
    known = None
    if verify and hasattr(emu, "write_known_hosts"):
        known = str(emu.write_known_hosts(tmp_path / f"known_hosts-{emu.port}"))
    extra = {**type(emu).lab_optional_args(), **driver_args}
    opts = ConnectOptions(timeout=timeout, verify_host_key=verify, known_hosts=known, port=emu.port, driver_args=extra)
    creds = creds or Credentials(emu.username, emu.password)
    return lambda d: get_platform(d.platform).session_class()(d, creds, opts)


def popts(tmp_path: Path, **kw: Any) -> PushOptions:
    """Push options writing backups and the change log under ``tmp_path``."""
    return PushOptions(backup_dir=tmp_path / "backups", changelog=tmp_path / "changes.jsonl", **kw)
