"""The semantic engine: does the running config enforce the device's OP25B intent?

Contract::

    audit_parsed(device: Device, parsed: ParsedConfig, running_text: str, source: str = "") -> DeviceReport
    audit_text(device: Device, text: str, source: str = "") -> DeviceReport   # parse + audit_parsed

For every intended attachment of the device and every address family its pools have, the engine finds the
:class:`~op25b_cfg.audit.model.Binding` there (same kind, name and direction), then evaluates the bound filter
chain first-match over the exact packet header space (:mod:`op25b_cfg.audit.space`) for each pool:

* ``smtp-blocked``: tcp/25 SYNs from the pool minus its exemptions to any non-MTA destination (targeted mode: to
  the targeted prefixes minus the MTAs) are all dropped (flow-control mode: dropped or rate limited);
* ``mta-open``: tcp/25 from the pool to the ISP's MTAs is never dropped;
* ``submission-open``: tcp/587 and tcp/465 from the pool are never dropped;
* ``exempt-open``: tcp/25 from every static exemption and opt-out that applies on the device (wherever its prefix
  lies) to any non-MTA host is never dropped;
* ``flow-control`` (flow-control mode): the per-subscriber limits are present with the configured values.

The must-pass checks (MTA, submission, exempt) ask about the source ports ``must_pass_source_ports`` of the policy
(ephemeral ports, default 1024-65535); the leak check about every source port. A finding that a line not
understood could overturn (see :func:`op25b_cfg.audit.checks._unparsed_before`) is not proven: the verdict is
then UNKNOWN. Every device audit has a time budget (:func:`audit_text`).

Every refutation names a concrete packet and the config lines that decide it. See
:data:`~op25b_cfg.audit.checks.SEVERITY` for the severity of each :class:`~op25b_cfg.audit.model.Code`.

Layout: :mod:`op25b_cfg.audit.evaluate` (first-match evaluation of filter chains), :mod:`op25b_cfg.audit.checks`
(the queries of a policy, the checks and their counterexamples), :mod:`op25b_cfg.audit.drift` (the rendered
intent and its drift); this module holds the entry points and the verdict.

Speed: :func:`audit_text` parses lazily (only the filters the audit reads are tokenised; before it reports
UNPARSED it builds every filter named like one it evaluated) with the garbage collector paused, and the
engine memoises by content what the devices of one policy share: queries, policy sets, first-match results
and passing checks (:func:`op25b_cfg.caches.clear` forgets them; results never depend on them).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from op25b_cfg.audit.checks import (
    AuditCtx,
    delay_check,
    exempt_check,
    flow_check,
    leak_check,
    open_check,
    questions,
    structural,
    unparsed_of,
)
from op25b_cfg.audit.drift import Intent, intent_drift, intent_of, render_intent
from op25b_cfg.audit.evaluate import Evaluator
from op25b_cfg.audit.model import (
    BudgetExceeded,
    Code,
    DeviceReport,
    ParsedConfig,
    Severity,
    Verdict,
    deadline,
    default_time_budget,
)
from op25b_cfg.errors import Op25bError, PlatformError
from op25b_cfg.gc_pause import paused_gc
from op25b_cfg.rules import build_plan

if TYPE_CHECKING:
    from op25b_cfg.inventory import Device

log = logging.getLogger(__name__)


def _remediation(device: Device, intent: Intent, parsed: ParsedConfig, running_text: str, version: str) -> str:
    """The device's remediation (:func:`op25b_cfg.audit.remediation.plan`); '' without a parsed intent."""
    from op25b_cfg.audit.remediation import plan

    if intent.parsed is None:
        return ""
    return plan(device.platform, intent.rendered, intent.parsed, parsed, running_text, device.attach, version)


# ---------------------------------------------------------------------------------------------- entry points


def _verdict(ctx: AuditCtx) -> Verdict:
    certain = [
        f
        for f in ctx.findings
        if f.severity is not Severity.INFO and f.code is not Code.UNPARSED and id(f) not in ctx.uncertain
    ]
    if certain:
        return Verdict.NONCOMPLIANT
    if any(f.code is Code.UNPARSED or id(f) in ctx.uncertain for f in ctx.findings):
        return Verdict.UNKNOWN
    return Verdict.COMPLIANT


def audit_parsed(device: Device, parsed: ParsedConfig, running_text: str, source: str = "") -> DeviceReport:
    """Audit one device's parsed running config against its intent. Never raises: an internal problem
    becomes an ERROR report."""
    name, platform = device.name, device.platform
    try:
        return _audit(device, parsed, running_text, source)
    except Op25bError as exc:
        return DeviceReport(name, platform, Verdict.ERROR, error=str(exc), source=source)
    except Exception as exc:  # an engine bug must not stop a 1,000-device run
        log.exception("audit of %s failed", name)
        return DeviceReport(
            name,
            platform,
            Verdict.ERROR,
            error=f"internal error in the audit engine: {type(exc).__name__}: {exc}",
            source=source,
        )


def _audit(device: Device, parsed: ParsedConfig, running_text: str, source: str) -> DeviceReport:
    from op25b_cfg.platforms import get_platform

    plan = build_plan(device)
    platform = get_platform(device.platform)
    mode: str = device.mode
    intended = frozenset((a.kind, a.name, a.direction) for a in device.attach)
    ctx = AuditCtx(device.name, device.platform, mode, parsed, text=running_text, intended=intended)
    flow_mode = mode == "flow-control"
    # must-pass checks ask about the source ports mail clients and relays use; the leak check asks about all
    sports = device.policy.must_pass_source_ports
    uplinks = tuple(device.uplinks)
    evaluators = {fam: Evaluator(fam) for fam in plan.families}  # one per family: attachments share filters
    for att in device.attach:
        for fam in plan.families:
            ev = evaluators[fam]
            asked = questions(device, ev, mode, plan.submission_ports)
            delay = device.flow_control.connect_delay_s if flow_mode else None
            if flow_mode:
                fc, sessions = device.flow_control, platform.flow_sessions
                if not flow_check(ctx, att.kind, att.name, att.direction, fam, fc, sessions):
                    delay = None  # already FLOW_CONTROL_MISSING: where it is missing is not asked again
            target = structural(
                ctx, ev, plan.filter_name(fam), att.kind, att.name, att.direction, fam, asked.all_pool, uplinks
            )
            if target is None:
                continue
            for pq in asked.pools:
                tag = f"{att.kind}:{att.name}:{att.direction} v{fam} pool {pq.name}"
                if pq.leak is not None:
                    ok = leak_check(ctx, ev, target, pq.leak, pq.name, pq.nets, pq.leak_prefer, flow_mode)
                    ctx.checks.append((f"smtp-blocked {tag}", ok))
                    if delay is not None:
                        ok = delay_check(ctx, ev, target, pq.leak, pq.name, pq.leak_prefer, delay)
                        ctx.checks.append((f"connect-delay {tag}", ok))
                if pq.mta is not None:
                    q, prefer, reply = pq.mta
                    what = "SMTP to the ISP MTAs"
                    ok = open_check(ctx, ev, target, q, Code.MTA_BLOCKED, what, pq.name, prefer, reply)
                    ctx.checks.append((f"mta-open {tag}", ok))
                for port, q, prefer, reply in pq.submission:
                    what = f"mail submission tcp/{port}"
                    ok = open_check(ctx, ev, target, q, Code.SUBMISSION_BLOCKED, what, pq.name, prefer, reply)
                    ctx.checks.append((f"submission-open tcp/{port} {tag}", ok))
            if asked.exempt is not None:
                ok = exempt_check(ctx, ev, target, asked.exempts, asked.exempt, asked.mtas, sports)
                ctx.checks.append((f"exempt-open {att.kind}:{att.name}:{att.direction} v{fam}", ok))
    # lines not understood inside evaluated filters
    seen_unparsed: set[int] = set()
    in_evaluated = unparsed_of(ctx, (fname for _, fname in ctx.evaluated))
    families: dict[str, set[int]] = {}  # the families each filter name is evaluated for
    for fam, fname in ctx.evaluated:
        families.setdefault(fname, set()).add(fam)
    for u in in_evaluated:
        if u.line not in seen_unparsed and u.filter is not None:
            seen_unparsed.add(u.line)
            fams = families[u.filter]
            # the line belongs to every family its filter is evaluated for (None: both)
            ctx.add(
                Code.UNPARSED,
                f"line {u.line} in applied filter {u.filter} is not understood ({u.reason}); the verdict cannot be"
                " proved while it is there",
                family=next(iter(fams)) if len(fams) == 1 else None,
                lines=[(u.line, u.text)],
            )
    ctx.checks.append(("parsed", not seen_unparsed))
    # drift against the rendered intent
    rendered = render_intent(device)
    # the device name only appears in the header comment: devices with the same intent share one parsed intent
    intent = intent_of(device.platform, rendered.replace(f" device {device.name}", " device -", 1))
    intent = Intent(rendered, intent.parsed)
    if intent.parsed is not None:
        diffs = intent_drift(intent.parsed, parsed)
        ctx.checks.append(("drift", not diffs))
        if diffs:
            ctx.add(
                Code.DRIFT,
                "running OP25B configuration differs from the rendered intent: " + "; ".join(d for d, _ in diffs),
                lines=[(ln, d) for d, ln in diffs if ln is not None],
            )
    remediation = _remediation(device, intent, parsed, running_text, plan.version) if ctx.findings else ""
    return DeviceReport(
        ctx.device_name, ctx.platform, _verdict(ctx), ctx.findings, ctx.checks, source=source, remediation=remediation
    )


def audit_text(device: Device, text: str, source: str = "", time_budget: float | None = None) -> DeviceReport:
    """Parse ``text`` with the device platform's parser, then :func:`audit_parsed`. Empty or binary input is an
    ERROR report, never an exception.

    The audit stops after ``time_budget`` seconds (None: the process default, see
    :func:`~op25b_cfg.audit.model.set_time_budget`); the device is then UNKNOWN with the reason, and the run goes
    on with the next device.
    """
    budget = default_time_budget() if time_budget is None else time_budget
    try:
        with deadline(budget):
            return _audit_text(device, text, source)
    except BudgetExceeded:
        log.warning("%s: audit stopped at its time budget of %s s", device.name, budget)
        return DeviceReport(
            device.name,
            device.platform,
            Verdict.UNKNOWN,
            error=f"the audit of {device.name} did not finish within its time budget of {budget:g} s, so nothing"
            " is proven. Fix: raise --time-budget, or simplify the filters (e.g. fewer nft chains jumping to"
            " each other)",
            source=source,
        )


def _audit_text(device: Device, text: str, source: str) -> DeviceReport:
    """:func:`audit_text` without the time budget."""

    name, platform = device.name, device.platform
    if not text or text.isspace():
        return DeviceReport(name, platform, Verdict.ERROR, error="the running config is empty", source=source)
    if "\x00" in text:
        return DeviceReport(
            name, platform, Verdict.ERROR, error="the running config is binary (NUL bytes), not text", source=source
        )
    # The collector stays off for the parse and the audit: a lazily parsed config keeps its parser's state
    # (tokens, statements) alive until the audit ends, and collector passes over it would cost more than the
    # audit. That state holds no reference cycles, so it is freed the moment the audit drops it.
    with paused_gc():
        report = _parse_and_audit(device, text, source)
    return report


def _parse_and_audit(device: Device, text: str, source: str) -> DeviceReport:
    from op25b_cfg.platforms import get_platform

    name, platform = device.name, device.platform
    try:
        # only the filters the audit evaluates are tokenised
        parsed = get_platform(platform).parse(text, lazy=True)
    except PlatformError as exc:
        return DeviceReport(name, platform, Verdict.ERROR, error=f"no running-config parser: {exc}", source=source)
    except Op25bError as exc:
        return DeviceReport(name, platform, Verdict.ERROR, error=str(exc), source=source)
    except ImportError as exc:
        return DeviceReport(name, platform, Verdict.ERROR, error=f"no {platform} parser: {exc}", source=source)
    except Exception as exc:  # parsers must not raise; if one does, report it per device
        log.exception("parser %s failed on %s", platform, name)
        return DeviceReport(
            name,
            platform,
            Verdict.ERROR,
            error=f"the {platform} parser failed: {type(exc).__name__}: {exc}",
            source=source,
        )
    return audit_parsed(device, parsed, text, source)
