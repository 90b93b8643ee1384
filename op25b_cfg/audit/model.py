"""Data model shared by the parsers, the semantic engine, the reports and the push post-check.

Parsers turn running-config text into a :class:`ParsedConfig`: the filters defined (each an ordered list
of :class:`~op25b_cfg.rules.Rule`, the same type the generator builds), where filters are attached
(:class:`Binding`), the flow-control constructs found (:class:`FlowControlSeen`), and everything that was
not understood (:class:`Unparsed`). Parsers never raise on bad input: what they cannot read they report.

The engine turns a device's intent and its ParsedConfig into a :class:`DeviceReport` of :class:`Finding`s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum

from op25b_cfg.defaults import DEFAULT_TIME_BUDGET
from op25b_cfg.rules import Action, Rule


@dataclass
class Filter:
    """One filter as defined in the running config.

    ``family`` is 4 or 6; nftables chains in an ``inet`` table hold both and use 0. ``default`` is what
    happens to a packet no rule decides (Cisco/Arista ACL: implicit deny; Junos: implicit discard; nft base
    chain: its policy; nft regular chain: return, expressed as Action.NEXT).
    """

    name: str
    family: int
    rules: list[Rule] = field(default_factory=list)
    default: Action = Action.DENY
    line: int | None = None
    kind: str = "acl"  # acl | junos-filter | nft-chain | class-map
    hook: str | None = None  # nft base chains: "forward", "input", ...
    calls: dict[int, Call] = field(default_factory=dict)
    """nftables: the rule at this position (an Action.NEXT rule: its match only) hands the packets it matches to
    another chain (``jump``/``goto``) or back to the caller (``return``). Read after :attr:`rules` (a lazily
    built filter fills both on first read)."""
    shared: bool = False
    """A chain op25b shares with the device's own rules (RouterOS ``forward``, into which op25b only inserts its
    jumps): the audit evaluates it whole, but drift and remediation compare only the chains it calls that op25b
    owns."""

    def reachable(self) -> list[Filter]:
        """This filter and every chain its calls reach, each once, in first-call (pre-)order."""
        out: list[Filter] = []
        seen: set[int] = set()
        stack: list[Filter] = [self]
        while stack:
            f = stack.pop()
            if id(f) in seen:
                continue
            seen.add(id(f))
            out.append(f)
            _ = f.rules
            stack.extend(c.target for _, c in sorted(f.calls.items(), reverse=True) if c.target is not None)
        return out


@dataclass(frozen=True)
class Call:
    """nftables ``jump``/``goto`` to ``target`` (a regular chain, default Action.NEXT = return), or ``return``
    (``target`` None). The engine evaluates each target once per question and reuses that result at every call
    site, so chains that jump many ways stay polynomial."""

    verdict: str  # jump | goto | return
    target: Filter | None = None


@dataclass
class Binding:
    """A filter attached somewhere: ``kind``/``name``/``direction`` use the intent's vocabulary
    (interface, virtual-template, dynamic-template, unit, dynamic-profile, nft-forward), so the engine can
    compare them with :class:`op25b_cfg.inventory.Attachment` directly.

    ``filters`` is the evaluation chain (one name, or a Junos input-list). ``in_use`` says whether a template
    or profile is referenced by anything that instantiates it (bba-group/vpdn-group for a Virtual-Template);
    None where the question does not apply or could not be answered.
    """

    kind: str
    name: str
    direction: str  # "in" | "out"
    family: int  # 4 | 6 | 0 (both: nft inet)
    filters: tuple[str, ...]
    line: int | None = None
    in_use: bool | None = None
    shutdown: bool = False


@dataclass
class FlowControlSeen:
    """A flow-control construct found on a binding: session cap, new-connection rate and/or connection delay."""

    binding_kind: str
    binding_name: str
    direction: str
    family: int
    max_sessions: int | None = None
    new_per_second: int | None = None
    burst: int | None = None
    line: int | None = None
    text: str = ""
    connect_delay_s: int | None = None
    ipv6_keys: list[int] = field(default_factory=list)
    """IPv6: the source prefix lengths the limits count per (``connection-limit=N,64``: /64; a per-address meter:
    /128); empty where the construct is not keyed on the source address (a policer on a subscriber interface)."""

    def counts_per(self, length: int) -> None:
        """One of its IPv6 limits counts per source /``length`` (:attr:`ipv6_keys`)."""
        self.ipv6_keys = sorted({*self.ipv6_keys, length})


@dataclass
class Unparsed:
    """A line that was not understood. ``filter`` names the filter it sits in (None: outside any filter).
    Inside a filter that is evaluated it makes the verdict UNKNOWN, never COMPLIANT."""

    line: int
    text: str
    reason: str
    filter: str | None = None


@dataclass
class ParsedConfig:
    """Everything the auditor needs from one running config."""

    platform: str
    filters: dict[tuple[int, str], Filter] = field(default_factory=dict)
    bindings: list[Binding] = field(default_factory=list)
    flow: list[FlowControlSeen] = field(default_factory=list)
    unparsed: list[Unparsed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    notrack: list[tuple[Unparsed, list[Rule]]] = field(default_factory=list)
    """nftables: each ``notrack`` rule that can make forwarded TCP packets untracked, with rules covering (at
    least) the packets it matches. The replies of a connection whose packets it leaves untracked are ``ct state
    invalid``, which the audit does not model (see the reply check of the engine)."""

    def filter(self, family: int, name: str) -> Filter | None:
        """The filter ``name`` usable for ``family`` (exact family, then a both-families nft chain)."""
        return self.filters.get((family, name)) or self.filters.get((0, name))


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class Code(StrEnum):
    FILTER_MISSING = "FILTER_MISSING"
    NOT_APPLIED = "NOT_APPLIED"
    WRONG_DIRECTION = "WRONG_DIRECTION"
    SMTP_LEAK = "SMTP_LEAK"
    MTA_BLOCKED = "MTA_BLOCKED"
    SUBMISSION_BLOCKED = "SUBMISSION_BLOCKED"
    EXEMPT_BLOCKED = "EXEMPT_BLOCKED"
    FLOW_CONTROL_MISSING = "FLOW_CONTROL_MISSING"
    UNPARSED = "UNPARSED"
    DRIFT = "DRIFT"


class Verdict(StrEnum):
    COMPLIANT = "COMPLIANT"
    NONCOMPLIANT = "NONCOMPLIANT"
    UNKNOWN = "UNKNOWN"
    ERROR = "ERROR"


@dataclass(frozen=True)
class Packet:
    """A concrete counterexample packet."""

    family: int
    src: str
    dst: str
    protocol: int
    dst_port: int
    src_port: int = 40000
    tcp_flags: str = "S"

    def __str__(self) -> str:
        return f"tcp {self.src}:{self.src_port} -> {self.dst}:{self.dst_port} flags {self.tcp_flags}"


@dataclass
class Finding:
    """One result of one check on one device."""

    code: Code
    severity: Severity
    device: str
    message: str
    family: int | None = None
    pool: str | None = None
    binding: str | None = None
    lines: list[int] = field(default_factory=list)
    config_lines: list[str] = field(default_factory=list)
    counterexample: Packet | None = None
    cause: str | None = None  # SMTP_LEAK: "shadowed" | "not covered"
    remediation: str = ""  # unused since the remediation moved to DeviceReport (kept: JSON schema op25b.audit/1)


@dataclass
class DeviceReport:
    """The audit of one device: the verdict, the findings, and the checks that passed (for JUnit)."""

    device: str
    platform: str
    verdict: Verdict
    findings: list[Finding] = field(default_factory=list)
    checks: list[tuple[str, bool]] = field(default_factory=list)  # (check id, passed)
    error: str = ""
    source: str = ""  # where the config came from (file path or "live")
    remediation: str = ""
    """The platform commands that take the running OP25B part to the intent, once per device (audit.remediation)."""


class BudgetExceeded(BaseException):
    """The audit of one device ran past its time budget. A BaseException, like KeyboardInterrupt, so that the
    parsers' and the engine's "never raise, report it" handlers (``except Exception``) let it through to
    :func:`op25b_cfg.audit.engine.audit_text`, which turns it into an UNKNOWN report."""


_time_budget: list[float | None] = [DEFAULT_TIME_BUDGET]


def set_time_budget(seconds: float | None) -> None:
    """Set the time budget of every later device audit of this process that names none (None: no budget).
    The CLI sets it from ``--time-budget``; a process pool's workers must set it too."""
    _time_budget[0] = seconds


def default_time_budget() -> float | None:
    """The time budget :func:`set_time_budget` set (default :data:`DEFAULT_TIME_BUDGET`)."""
    return _time_budget[0]


_DEADLINE: ContextVar[float | None] = ContextVar("op25b_audit_deadline", default=None)


def check_deadline() -> None:
    """Raise :class:`BudgetExceeded` once the deadline of the device audit running in this thread has passed.
    Cheap: the evaluation loops (rules, chains, jumps) call it as they go. No deadline set: never raises."""
    end = _DEADLINE.get()
    if end is not None and time.monotonic() > end:
        raise BudgetExceeded


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Run the body with a deadline ``seconds`` from now (None: none) for :func:`check_deadline`; per thread."""
    token = _DEADLINE.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)
