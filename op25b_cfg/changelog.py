"""The append-only change log of ``op25b push``: one JSON object per line (JSON Lines).

Default file: ``logs/changes.jsonl`` (``--changelog PATH``). One line per selected device and run, written when
the device's push ends (dry-runs and skipped devices included, so a review can see what was proposed and what
never ran; a second stop signal writes ``interrupted`` for the devices in flight). Fields:

``ts``            UTC time, ISO 8601 (``2024-06-01T01:02:03.456789+00:00``)
``run_id``        one id per ``op25b push`` invocation
``os_user``       the operating-system user who ran op25b
``username``      the device login used (never the password)
``device`` / ``hostname`` / ``platform``
``mode``          ``dry-run`` | ``commit``
``result``        unchanged | dry-run | committed | rolled-back | failed | skipped | interrupted
``verdict``       post-change audit verdict (COMPLIANT, NONCOMPLIANT, ...) or null
``version``       the intent's filter version id (``OP25B-V4-<version>``)
``diff_sha256``   SHA-256 of the redacted diff (``null`` when there was no diff); ``diff_lines``
``cleanup_sha256`` / ``cleanup_lines``  the same for the clean-up change (stale references, old filters)
``cleanup_removed`` / ``cleanup_detached``  old objects removed / stale attachment lines removed
``repaired``      drifted OP25B objects replaced under a fresh version (``version`` is then that version)
``state``         where the device was left (``old config``, ``new config``, ...)
``error``         the error message (redacted) or ""
``backup``        path of the raw backup of the running config taken before the change

The file is only ever opened in append mode (``O_APPEND``); each record is one ``write`` call, which the
kernel appends whole, so concurrent workers (and concurrent op25b runs) never interleave lines. During a run
the file stays open (``with changelog:``), so a finishing device costs one system call and holds no lock.
Every text field passes through :func:`redact_text` before it is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from op25b_cfg.errors import Op25bError
from op25b_cfg.redact import redact

log = logging.getLogger(__name__)

SCHEMA = "op25b.change/1"


class ChangeLogError(Op25bError):
    """The change log cannot be written (permissions, disk)."""


def redact_text(text: str) -> str:
    """``text`` with passwords, secrets, keys and communities replaced (:func:`op25b_cfg.redact.redact`)."""
    return redact(text) if text else text


# ------------------------------------------------------------------ the log


def sha256(text: str) -> str | None:
    """Hex SHA-256 of ``text`` (None for empty text)."""
    return hashlib.sha256(text.encode()).hexdigest() if text else None


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


class ChangeLog:
    """An append-only JSON-lines file. ``append`` is thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> ChangeLog:
        """Keep the file open for appending until the block ends (raises :class:`ChangeLogError`)."""
        self._fd = self._open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _open(self) -> int:
        """Open for appending; a file op25b creates is mode 0640 whatever the umask."""
        try:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o640)
            except FileExistsError:
                return os.open(self.path, os.O_WRONLY | os.O_APPEND)
            os.fchmod(fd, 0o640)
            return fd
        except OSError as exc:
            raise ChangeLogError(f"change log {self.path} cannot be written ({exc.strerror or exc})") from None

    def prepare(self) -> None:
        """Create the directory and check the file can be opened for appending (before any device is touched)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ChangeLogError(
                f"change log {self.path} cannot be written ({exc.strerror or exc}). Fix: choose a writable"
                " --changelog path"
            ) from None
        try:
            os.close(self._open())
        except ChangeLogError as exc:
            raise ChangeLogError(f"{exc}. Fix: choose a writable --changelog path") from None

    def append(self, record: dict[str, Any]) -> None:
        """Append one record (text fields redacted) as one line."""
        clean = {
            k: redact_text(v) if isinstance(v, str) and k not in ("ts", "run_id") else v for k, v in record.items()
        }
        clean.setdefault("schema", SCHEMA)
        clean.setdefault("ts", utc_now())
        data = (json.dumps(clean, sort_keys=False, ensure_ascii=False) + "\n").encode()
        fd = self._fd if self._fd is not None else self._open()
        try:
            written = os.write(fd, data)
            if written != len(data):  # only on a full disk: never leave half a line unexplained
                raise OSError(f"short write ({written} of {len(data)} bytes)")
        except OSError as exc:
            raise ChangeLogError(f"change log {self.path} cannot be written ({exc.strerror or exc})") from None
        finally:
            if fd != self._fd:
                os.close(fd)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record in the file, oldest first (lines that are not JSON objects are skipped)."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict):
                    yield rec
