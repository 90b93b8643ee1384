"""Backups of running configs: the exact text a device ran before op25b changed it (or a live audit fetched),
written once per read under ``<backup dir>/<device>/<UTC timestamp>.cfg`` with mode 0600."""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path

from op25b_cfg.errors import PushError
from op25b_cfg.paths import PathError, atomic_write, under


def write_backup(backup_dir: Path, device: str, text: str, when: datetime | None = None) -> Path:
    """Write the raw running config to ``backup_dir/<device>/<UTC timestamp>.cfg``.

    The file is created with mode 0600 (directories 0700): it is the exact config, secrets included, so it
    can be restored; op25b never prints it unredacted. Never overwrites: a clash gets a ``-N`` suffix.
    """
    when = when or datetime.now(UTC)
    folder = backup_dir / device
    try:
        folder = under(backup_dir, device)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o700)
        stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        for n in range(1000):
            try:
                return atomic_write(
                    under(folder, f"{stamp}.cfg" if n == 0 else f"{stamp}-{n}.cfg"), text, 0o600, replace=False
                )
            except FileExistsError:
                continue
    except (OSError, PathError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PushError(f"{device}: backup to {folder} failed ({why}); nothing was changed") from None
    raise PushError(f"{device}: backup to {folder} failed (too many backups in the same second)")
