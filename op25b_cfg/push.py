"""``op25b push``: put the OP25B intent on devices safely, one nornir task per device.

Per device (dry-run unless ``commit``)::

    render intent ──> connect ──> read running, back it up (backups/<device>/<UTC>.cfg, mode 0600)
      ──> load ONLY the OP25B part as a merge candidate ──> diff
          no diff ......... discard; "unchanged" (no commit ever happens without a diff)
          dry-run ......... discard; show the diff and the old-filter removal that would follow
          --commit ........ commit with the platform's revert timer (ios archive, eos, junos; iosxr none)
                            ──> read running again ──> audit it (op25b_cfg.audit.runner.audit_text)
                                COMPLIANT ──> confirm          anything else ──> rollback
      ──> make-before-break clean-up (commit mode): old versioned OP25B objects no longer referenced by
          anything are removed as a second small change (same commit / audit / confirm cycle)

Make-before-break: filter names carry the intent's version (``OP25B-V4-<version>``), so the candidate creates
the new filter and re-points the attachment in one merge; the old filter stays until nothing uses it. There
is never a moment with the attachment pointing at nothing. A re-run after any partial failure converges:
no diff means no commit, and left-over old filters are removed by the clean-up step.

Concurrency: :func:`op25b_cfg.fanout.run_each` (nornir's threaded runner) with ``workers`` threads. One device
failing never stops the others. :func:`run_push` checks a :class:`threading.Event` (set by Ctrl-C) and the
change window before each device starts: once set, no new device starts and in-flight ones finish (or roll
back). Every device ends with one :class:`DeviceResult` and one change-log line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from op25b_cfg.changelog import ChangeLog, redact_text, sha256
from op25b_cfg.cleanup import MAX_REPAIRS, active_version, cleanup_plan, drifted_objects, in_place, removal_config
from op25b_cfg.defaults import DEFAULT_BACKUP_DIR, DEFAULT_CONFIRM_TIMEOUT
from op25b_cfg.errors import Op25bError, PushError
from op25b_cfg.fanout import ctrl_c_sets, run_each, shared_addresses
from op25b_cfg.paths import PathError, atomic_write, under
from op25b_cfg.platforms import get_platform
from op25b_cfg.rules import build_plan
from op25b_cfg.window import ChangeWindow

if TYPE_CHECKING:
    from op25b_cfg.audit.model import DeviceReport
    from op25b_cfg.connection.base import Session
    from op25b_cfg.inventory import Device
    from op25b_cfg.rules import FilterPlan

log = logging.getLogger(__name__)

SessionFactory = Callable[["Device"], "Session"]
Auditor = Callable[["Device", str, str], "DeviceReport"]


class Outcome(StrEnum):
    UNCHANGED = "unchanged"  # no diff: nothing was committed
    DRY_RUN = "dry-run"  # diff shown, candidate discarded
    COMMITTED = "committed"  # committed, audited COMPLIANT, confirmed
    ROLLED_BACK = "rolled-back"  # committed, audit not COMPLIANT, rolled back to the old config
    FAILED = "failed"  # an error; ``state`` says where the device was left
    SKIPPED = "skipped"  # never started (Ctrl-C/SIGTERM/SIGHUP, change window closed)
    INTERRUPTED = "interrupted"  # in flight when a second signal aborted the run (see ``state``)


@dataclass
class PushOptions:
    """Everything :func:`run_push` needs besides the devices and the sessions."""

    commit: bool = False
    confirm_timeout: int = DEFAULT_CONFIRM_TIMEOUT  # seconds of revert timer (0: no timer)
    workers: int = 10
    backup_dir: Path = DEFAULT_BACKUP_DIR
    changelog: Path | None = None
    cleanup: bool = True  # remove old, unreferenced OP25B objects after a confirmed change
    window: ChangeWindow | None = None
    force: bool = False  # ignore the change window
    os_user: str = ""
    username: str = ""  # the device login used (for the change log)


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


# ---------------------------------------------------------------------------------------------------------------
# Backups


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


# ---------------------------------------------------------------------------------------------------------------
# The per-device workflow


def default_auditor() -> Auditor:
    """:func:`op25b_cfg.audit.runner.audit_text`: the one entry point every audit source goes through (saved
    file, ``--live``, post-change check), so a truncated read-back is an ERROR, never a verdict."""
    from op25b_cfg.audit.runner import audit_text

    return audit_text


def _op25b_lines(text: str) -> list[str]:
    """The lines of a config that concern OP25B (for 'did the commit apply?' checks)."""
    return [ln.strip() for ln in text.splitlines() if "OP25B" in ln]


class _Step(Exception):
    """Internal: ends the workflow of one device with a filled-in result."""


class DevicePush:
    """The workflow for one device. ``run()`` never raises: every error ends in the returned result."""

    def __init__(
        self, device: Device, open_session: SessionFactory, opts: PushOptions, auditor: Auditor | None
    ) -> None:
        self.device = device
        self.open_session = open_session
        self.opts = opts
        self.auditor = auditor
        self.platform = get_platform(device.platform)
        self.timer = opts.confirm_timeout if (self.platform.commit_confirm and opts.confirm_timeout > 0) else None
        self.result = DeviceResult(device.name, device.platform, device.hostname)
        self.session: Session | None = None
        self.running_before = ""

    # -------------------------------------------------------------- helpers

    def _fail(self, error: str, state: str, outcome: Outcome = Outcome.FAILED) -> _Step:
        self.result.outcome = outcome
        self.result.error = error
        self.result.state = state
        return _Step()

    def _revert_note(self) -> str:
        return f"the device's revert timer restores the old config within {self.timer}s" if self.timer else ""

    def _audit(self, text: str, source: str) -> tuple[str | None, str]:
        """(verdict, problem) of ``text``; verdict None when the audit itself failed."""
        assert self.auditor is not None
        try:
            report = self.auditor(self.device, text, source)
        except Op25bError as exc:
            return None, f"post-change audit failed: {exc}"
        except Exception as exc:  # a bug in the auditor must not leave the change unconfirmed and unreported
            log.exception("%s: auditor crashed", self.device.name)
            return None, f"post-change audit crashed: {type(exc).__name__}"
        verdict = str(report.verdict)
        if verdict != "COMPLIANT":
            codes = sorted({str(f.code) for f in report.findings if str(f.severity) in ("critical", "high")})
            detail = report.error or ", ".join(codes) or "see op25b audit"
            return verdict, f"post-change audit: {verdict} ({detail})"
        return verdict, ""

    # -------------------------------------------------------------- phases

    def _commit_cycle(self, label: str, before: str) -> tuple[bool, str]:
        """Commit the loaded candidate, audit, confirm or roll back. Returns (kept, running after).

        Raises _Step with the result filled in when the change was not kept.
        """
        s = self.session
        assert s is not None
        try:
            s.commit(self.timer)
        except Op25bError as exc:
            raise self._fail(f"{label}: {exc}", self._state_after_failed_commit(before)) from None
        try:
            after = s.get_running()
        except Op25bError as exc:
            after = ""
            verdict, problem = None, f"cannot read the config after the commit: {exc}"
        else:
            verdict, problem = self._audit(after, f"push:{label}")
        self.result.verdict = verdict
        if verdict == "COMPLIANT":
            try:
                s.confirm()
            except Op25bError as exc:
                state = f"not confirmed: {self._revert_note()}" if self.timer else "new config (confirm failed)"
                raise self._fail(f"{label}: {exc}", state) from None
            return True, after
        # Not compliant (or unknown): back to the old config.
        try:
            s.rollback()
        except Op25bError as exc:
            if self.timer:
                state = f"rollback failed; not confirmed, so {self._revert_note()}"
            else:
                state = f"NEW CONFIG ACTIVE AND NOT VERIFIED: rollback failed; restore {self.result.backup}"
            raise self._fail(f"{label}: {problem}; rollback failed: {exc}", state) from None
        raise self._fail(f"{label}: {problem}; rolled back", self._verify_old(before), Outcome.ROLLED_BACK)

    def _verify_old(self, before: str) -> str:
        s = self.session
        assert s is not None
        try:
            now = s.get_running()
        except Op25bError:
            return "old config (rolled back; not re-read)"
        if _op25b_lines(now) == _op25b_lines(before):
            return "old config (rolled back, verified)"
        return f"UNKNOWN: OP25B lines differ from before after rollback; compare with {self.result.backup}"

    def _reread(self) -> tuple[str | None, bool]:
        """(the running config, read over a new session?): a new session when the old one is gone (a call
        that hit the deadline closes its connection). None when the device cannot be read."""
        assert self.session is not None
        try:
            return self.session.get_running(), False
        except Op25bError:
            pass
        try:
            new = self.open_session(self.device)
        except Op25bError:
            return None, True
        self.session.pass_lock_to(new)  # the device stays locked across the reconnect
        self.session.close()
        self.session = new
        try:
            new.open()
            return new.get_running(), True
        except Op25bError:
            return None, True

    def _state_after_failed_commit(self, before: str) -> str:
        """Where is the device after a commit raised (refused, connection lost, no answer in time)? Read it,
        reconnecting if needed; roll back if the change landed."""
        now, reconnected = self._reread()
        s = self.session
        if now is None:
            if self.timer:
                return f"unknown (connection lost); not confirmed, so {self._revert_note()}"
            return f"UNKNOWN (connection lost during commit, no revert timer): check it; backup {self.result.backup}"
        assert s is not None
        if _op25b_lines(now) == _op25b_lines(before):
            if reconnected and self.timer:  # the old session is gone: its change may have been reverted
                return "old config (read again over a new connection: not applied, or undone by the revert timer)"
            return "old config (the commit did not apply)"
        try:
            s.rollback()
        except Op25bError:
            if self.timer:
                return f"partly applied, rollback failed; not confirmed, so {self._revert_note()}"
            return f"UNKNOWN (partly applied, rollback failed): restore {self.result.backup}"
        return self._verify_old(before)

    def _cleanup(self, running: str) -> None:
        """Remove stale OP25B references from the intended attachments, then old OP25B objects nothing
        references any more (commit mode, after the intent is in place and confirmed)."""
        refs, objs = cleanup_plan(self.device.platform, running, self.result.version, self.device.attach)
        if not objs and not refs:
            return
        s = self.session
        assert s is not None
        text = removal_config(self.device.platform, objs, refs)
        try:
            s.load_candidate(text)
            diff = s.diff()
        except Op25bError as exc:
            with contextlib.suppress(Op25bError):
                s.discard()
            self.result.error = f"removing old filters: {exc}"
            self.result.state = "new config (old filters not removed; re-run to retry)"
            return
        if not diff.strip():
            with contextlib.suppress(Op25bError):
                s.discard()
            return
        self.result.cleanup_diff = redact_text(diff)
        outcome = self.result.outcome
        try:
            self._commit_cycle("remove old filters", running)
        except _Step:
            # The intent itself is confirmed; only the clean-up did not stick.
            self.result.outcome = outcome
            self.result.state = "new config (old filters not removed; re-run to retry)"
            return
        self.result.cleanup_removed = [o.name for o in objs]
        self.result.cleanup_detached = [f"{' / '.join(r.parents)}: {r.text}" for r in refs]

    def _preview_cleanup(self, running: str, candidate: str) -> None:
        refs, objs = cleanup_plan(self.device.platform, running, self.result.version, self.device.attach, candidate)
        if objs or refs:
            self.result.cleanup_diff = redact_text(
                "! after the change is confirmed, stale OP25B references and old OP25B objects no longer"
                " referenced are removed:\n" + removal_config(self.device.platform, objs, refs)
            )
            self.result.cleanup_removed = []

    def _render(self, plan: FilterPlan, version: str) -> str:
        return self.platform.render(
            self.device, plan if version == plan.version else dataclasses.replace(plan, version=version)
        )

    def _candidate(self, before: str, plan: FilterPlan) -> str:
        """The intent under the version the device already uses (the intent's, or a repair of it); under the
        next fresh repair version when OP25B objects of that version drifted (make-before-break: the new
        objects are built, the attachments re-pointed, the drifted ones removed by the clean-up)."""
        r, platform = self.result, self.device.platform
        if self.platform.atomic_replace:  # the session replaces what op25b owns at once: nothing can stay behind
            return self._render(plan, plan.version)
        active, fresh = active_version(before, plan.version)
        candidate = self._render(plan, active)
        r.version = active
        drift = drifted_objects(platform, before, candidate)
        if not drift:
            return candidate
        if fresh is None:
            raise self._fail(
                f"OP25B objects drifted ({', '.join(drift)}) and all {MAX_REPAIRS} repair names of version"
                f" {plan.version} are in use. Fix: remove the unused OP25B objects by hand, then re-run",
                "old config (nothing committed)",
            )
        r.repaired, r.version = drift, fresh
        return self._render(plan, fresh)

    def _check_in_place(self, before: str) -> None:
        """The intent is in place: audit the running config before calling the device unchanged (a device
        that leaks is never 'unchanged')."""
        verdict, problem = self._audit(before, "push:pre-check")
        self.result.verdict = verdict
        if verdict != "COMPLIANT":
            raise self._fail(
                f"the intent is in place, but the running config is not compliant: {problem.split(': ', 1)[-1]}."
                f" Fix: see op25b audit --live -d {self.device.name}",
                "old config (nothing committed)",
            )

    def _steps(self) -> None:
        r, opts = self.result, self.opts
        try:
            plan = build_plan(self.device)
            r.version = plan.version
            candidate = self.platform.render(self.device, plan)
        except Op25bError as exc:
            raise self._fail(f"render: {exc}", "untouched (not connected)") from None
        try:
            self.session = self.open_session(self.device)
            self.session.open()
        except Op25bError as exc:
            raise self._fail(str(exc), "untouched (not connected)") from None
        s = self.session
        try:
            before = s.get_running()
        except Op25bError as exc:
            raise self._fail(str(exc), "untouched") from None
        self.running_before = before
        try:
            r.backup = str(write_backup(opts.backup_dir, self.device.name, before))
        except PushError as exc:
            raise self._fail(str(exc), "untouched") from None
        candidate = self._candidate(before, plan)
        try:
            s.load_candidate(candidate)
            diff = s.diff()
        except Op25bError as exc:
            with contextlib.suppress(Op25bError):
                s.discard()
            raise self._fail(str(exc), "old config (candidate discarded, nothing committed)") from None
        # a textual device diff (IOS) lists lines the device only prints differently: compare canonical forms
        if diff.strip() and not r.repaired and in_place(self.device.platform, before, candidate):
            diff = ""
        r.diff = redact_text(diff.strip())
        if not diff.strip() or not opts.commit:
            try:
                s.discard()
            except Op25bError as exc:
                raise self._fail(str(exc), "old config (nothing committed)") from None
            if not diff.strip():
                self._check_in_place(before)
            r.outcome = Outcome.UNCHANGED if not diff.strip() else Outcome.DRY_RUN
            r.state = "old config" if diff.strip() else "intent already in place"
            if r.repaired:
                r.state += f" (drifted {', '.join(r.repaired)}: --commit repairs them under version {r.version})"
            if not opts.commit:
                self._preview_cleanup(before, candidate)
            elif opts.cleanup:
                self._cleanup(before)
            return
        r.state = "committing"
        _, after = self._commit_cycle("repair drifted OP25B objects" if r.repaired else "apply intent", before)
        r.outcome = Outcome.COMMITTED
        r.state = "new config (confirmed)" if self.timer else "new config"
        if r.repaired:
            r.state += f"; repaired {', '.join(r.repaired)} under version {r.version}"
        if opts.cleanup:
            self._cleanup(after)

    def interrupted(self, why: str) -> DeviceResult:
        """A copy of the result so far, marked as interrupted (a second signal aborts the run mid-device)."""
        r = dataclasses.replace(self.result, outcome=Outcome.INTERRUPTED, error=f"interrupted by {why}")
        phase = self.result.state or "connecting / reading the running config"
        if self.timer:
            after = f"an unconfirmed change is undone by the device's revert timer within {self.timer}s"
        else:
            after = f"check the device (no revert timer); backup {self.result.backup or 'not taken yet'}"
        r.state = f"INTERRUPTED while {phase}: {after}"
        return r

    def run(self) -> DeviceResult:
        t0 = time.monotonic()
        try:
            self._steps()
        except _Step:
            pass
        except Exception as exc:  # a bug in op25b must not stop the other devices
            log.exception("%s: internal error", self.device.name)
            self.result.outcome = Outcome.FAILED
            self.result.error = f"internal error: {type(exc).__name__}: {exc}"
            self.result.state = self.result.state or "unknown"
        finally:
            if self.session is not None:
                self.session.close()
            self.result.seconds = time.monotonic() - t0
        return self.result


def push_device(
    device: Device, open_session: SessionFactory, opts: PushOptions, auditor: Auditor | None = None
) -> DeviceResult:
    """Run the push workflow on one device (see the module doc). Never raises."""
    if auditor is None:
        auditor = default_auditor()
    return DevicePush(device, open_session, opts, auditor).run()


# ---------------------------------------------------------------------------------------------------------------
# Running many devices


def _skipped(device: Device, why: str) -> DeviceResult:
    return DeviceResult(device.name, device.platform, device.hostname, Outcome.SKIPPED, state=f"untouched ({why})")


class InFlight:
    """What one :func:`run_push` has started and not yet logged. :meth:`abort` (a second Ctrl-C, SIGTERM or
    SIGHUP) writes a change-log line for every device not logged yet: ``interrupted`` for those in flight,
    ``skipped`` for those not started; after it no further line of this run is written."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, DevicePush] = {}
        self._logged: set[str] = set()
        self._devices: Sequence[Device] = ()
        self._log: Callable[[DeviceResult], None] = lambda _r: None
        self.aborted = False

    def bind(self, devices: Sequence[Device], log_result: Callable[[DeviceResult], None]) -> None:
        self._devices, self._log = devices, log_result

    def start(self, push: DevicePush) -> bool:
        """Register a device about to start; False once the run is aborted (then it must not start)."""
        with self._lock:
            if self.aborted:
                return False
            self._running[push.device.name] = push
            return True

    def finish(self, res: DeviceResult) -> None:
        """Log a device's result (raises ChangeLogError); nothing once the run is aborted."""
        with self._lock:
            self._running.pop(res.device, None)
            if self.aborted:
                return
            self._logged.add(res.device)
            self._log(res)

    def abort(self, why: str) -> list[DeviceResult]:
        """Log every device not logged yet (see the class doc) and return those results."""
        with self._lock:
            if self.aborted:
                return []
            self.aborted = True
            out = []
            for d in self._devices:
                if d.name in self._logged:
                    continue
                push = self._running.get(d.name)
                res = push.interrupted(why) if push is not None else _skipped(d, f"{why} before it started")
                with contextlib.suppress(Op25bError):
                    self._log(res)
                out.append(res)
            return out


def run_push(
    devices: Sequence[Device],
    opts: PushOptions,
    open_session: SessionFactory,
    *,
    auditor: Auditor | None = None,
    stop: threading.Event | None = None,
    on_start: Callable[[Device], None] | None = None,
    on_done: Callable[[DeviceResult], None] | None = None,
    now: Callable[[], datetime] | None = None,
    inflight: InFlight | None = None,
) -> PushReport:
    """Push to every device through nornir's threaded runner with ``opts.workers`` threads.

    ``stop`` (set by Ctrl-C, SIGTERM or SIGHUP, see :func:`ctrl_c_sets`) and the change window are checked
    before each device starts. Every selected device gets a change-log line (when ``opts.changelog`` is set;
    skipped ones included) and an ``on_done`` call; ``inflight.abort()`` (a second signal) logs the devices in
    flight as interrupted. Raises only for errors that stop the whole run before any device is touched (auditor missing,
    change log not writable, two devices sharing a management address and port).
    """
    shared = shared_addresses(devices)
    if shared:
        raise PushError(
            "devices share a management address and port: " + "; ".join(shared) + ". Fix: one inventory entry"
            " per router (hostname and port must identify one device); nothing was touched"
        )
    stop = stop or threading.Event()
    now = now or (lambda: datetime.now(UTC))
    if auditor is None:  # also in a dry run: no device is called unchanged before its running config is audited
        auditor = default_auditor()
    changelog = ChangeLog(opts.changelog) if opts.changelog else None
    if changelog is not None:
        changelog.prepare()
    run_id = uuid.uuid4().hex[:12]
    window_closed = threading.Event()

    def log_result(res: DeviceResult) -> None:
        if changelog is None:
            return
        changelog.append(
            {
                "ts": now().astimezone(UTC).isoformat(),
                "run_id": run_id,
                "os_user": opts.os_user,
                "username": opts.username,
                "device": res.device,
                "hostname": res.hostname,
                "platform": res.platform,
                "mode": "commit" if opts.commit else "dry-run",
                "result": str(res.outcome),
                "verdict": res.verdict,
                "version": res.version,
                "diff_sha256": sha256(res.diff),
                "diff_lines": res.diff_lines,
                "cleanup_sha256": sha256(res.cleanup_diff),
                "cleanup_lines": res.cleanup_lines,
                "cleanup_removed": res.cleanup_removed,
                "cleanup_detached": res.cleanup_detached,
                "repaired": res.repaired,
                "state": res.state,
                "error": res.error,
                "backup": res.backup,
            }
        )

    tracker = inflight or InFlight()
    tracker.bind(devices, log_result)

    def task(dev: Device) -> DeviceResult:
        push = DevicePush(dev, open_session, opts, auditor)
        if stop.is_set():
            res = _skipped(dev, "interrupted before it started")
        elif opts.commit and opts.window is not None and not opts.force and not opts.window.contains(now()):
            window_closed.set()
            res = _skipped(dev, f"change window '{opts.window}' closed before it started")
        elif not tracker.start(push):
            res = _skipped(dev, "the run was aborted before it started")
        else:
            if on_start:
                on_start(dev)
            res = push.run()
        try:
            tracker.finish(res)
        except Op25bError as exc:
            res.error = f"{res.error}; {exc}".strip("; ")
        if on_done:
            on_done(res)
        return res

    def crashed(d: Device, exc: BaseException | None) -> DeviceResult:
        return DeviceResult(
            d.name, d.platform, d.hostname, Outcome.FAILED, error=f"internal error: {exc!r}", state="unknown"
        )

    t0 = time.monotonic()
    with changelog if changelog is not None else contextlib.nullcontext():  # open once for the whole run
        results = run_each(devices, opts.workers, task, crashed, failed=lambda r: r.failed, name="op25b push")
    return PushReport(
        results,
        commit=opts.commit,
        run_id=run_id,
        interrupted=stop.is_set(),
        window_closed=window_closed.is_set(),
        seconds=time.monotonic() - t0,
    )


def with_username(opts: PushOptions, os_user: str, username: str) -> PushOptions:
    """A copy of ``opts`` with the change-log identity filled in."""
    return dataclasses.replace(opts, os_user=os_user, username=username)


__all__ = [
    "DevicePush",
    "DeviceResult",
    "InFlight",
    "Outcome",
    "PushOptions",
    "PushReport",
    "count_diff_lines",
    "ctrl_c_sets",
    "push_device",
    "run_push",
    "write_backup",
]
