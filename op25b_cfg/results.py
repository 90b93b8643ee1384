"""The results of a push: one :class:`DeviceResult` per device (its :class:`Outcome`, redacted diffs, the audit
after the change) and the :class:`PushReport` of a run; what ``op25b push`` prints, writes to JSON and returns
from :func:`op25b_cfg.api.push`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    UNCHANGED = "unchanged"  # no diff: nothing was committed
    DRY_RUN = "dry-run"  # diff shown, candidate discarded
    COMMITTED = "committed"  # committed, audited COMPLIANT, confirmed
    ROLLED_BACK = "rolled-back"  # committed, audit not COMPLIANT, rolled back to the old config
    FAILED = "failed"  # an error; ``state`` says where the device was left
    SKIPPED = "skipped"  # never started (Ctrl-C/SIGTERM/SIGHUP, change window closed)
    INTERRUPTED = "interrupted"  # in flight when a second signal aborted the run (see ``state``)


@dataclass
class DeviceResult:
    """What happened on one device. ``diff`` and ``cleanup_diff`` are already redacted."""

    device: str
    platform: str
    hostname: str = ""
    outcome: Outcome = Outcome.FAILED
    version: str = ""
    diff: str = ""
    cleanup_diff: str = ""
    cleanup_removed: list[str] = field(default_factory=list)
    cleanup_detached: list[str] = field(default_factory=list)  # stale references removed ("parents: line")
    repaired: list[str] = field(default_factory=list)  # drifted OP25B objects replaced under a fresh name
    verdict: str | None = None
    error: str = ""
    state: str = ""
    backup: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """True for every outcome that makes the exit code 1."""
        return self.outcome in (Outcome.FAILED, Outcome.ROLLED_BACK, Outcome.INTERRUPTED) or bool(self.error)

    @property
    def changed(self) -> bool:
        """True when the device's configuration was changed and kept."""
        return (self.outcome is Outcome.COMMITTED and bool(self.diff)) or bool(
            self.cleanup_removed or self.cleanup_detached
        )

    @property
    def diff_lines(self) -> int:
        return count_diff_lines(self.diff)

    @property
    def cleanup_lines(self) -> int:
        return count_diff_lines(self.cleanup_diff)

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "platform": self.platform,
            "hostname": self.hostname,
            "result": str(self.outcome),
            "changed": self.changed,
            "failed": self.failed,
            "version": self.version,
            "diff_lines": self.diff_lines,
            "diff": self.diff,
            "cleanup_lines": self.cleanup_lines,
            "cleanup_diff": self.cleanup_diff,
            "cleanup_removed": list(self.cleanup_removed),
            "cleanup_detached": list(self.cleanup_detached),
            "repaired": list(self.repaired),
            "verdict": self.verdict,
            "state": self.state,
            "error": self.error,
            "backup": self.backup,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class PushReport:
    """The results of one run, in inventory order."""

    results: list[DeviceResult]
    commit: bool
    run_id: str
    interrupted: bool = False
    window_closed: bool = False
    seconds: float = 0.0

    @property
    def failed(self) -> list[DeviceResult]:
        return [r for r in self.results if r.failed]

    @property
    def exit_code(self) -> int:
        """0 when every device ended well, 1 when one failed, rolled back, or was skipped."""
        bad = self.failed or any(r.outcome is Outcome.SKIPPED for r in self.results)
        return 1 if bad else 0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[str(r.outcome)] = out.get(str(r.outcome), 0) + 1
        return out

    def summary(self) -> str:
        c = self.counts()
        parts = [f"{n} {k}" for k, n in sorted(c.items())]
        changed = sum(1 for r in self.results if r.changed)
        mode = "commit" if self.commit else "dry-run"
        text = f"{len(self.results)} device(s), {mode}: " + ", ".join(parts) + f"; {changed} changed"
        if self.interrupted:
            text += "; interrupted (no new device started after Ctrl-C / SIGTERM / SIGHUP)"
        if self.window_closed:
            text += "; the change window closed during the run"
        return text


def count_diff_lines(diff: str) -> int:
    """Changed lines in a diff: lines starting with ``+``/``-`` (not ``+++``/``---`` headers); a diff
    without markers counts its non-empty, non-comment lines."""
    if not diff.strip():
        return 0
    marked = [ln for ln in diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---")) and ln[1:].strip()]
    if marked:
        return len(marked)
    return sum(1 for ln in diff.splitlines() if ln.strip() and not ln.lstrip().startswith(("!", "#", "[edit")))
