"""Audit reports: rich table, JSON (schema ``op25b.audit/1``), JUnit XML and a self-contained HTML page.

Every format is rendered from the same dictionaries (:func:`device_dict`), and every string that came from
a device config goes through :func:`op25b_cfg.redact.redact` there, so no format can leak a secret the
others hide. The JSON schema is documented in ``audits/README.md`` and ``audits/op25b.audit-1.schema.json``.

Exit code of an audit (:func:`exit_code`): 0 every device COMPLIANT, 1 a device NONCOMPLIANT (and none
ERROR/UNKNOWN), 2 a device ERROR or UNKNOWN.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import encode_basestring_ascii as _encode_str  # C, as json.dumps uses
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from op25b_cfg import __version__
from op25b_cfg.audit.model import DeviceReport, Finding, Severity, Verdict
from op25b_cfg.errors import AuditError
from op25b_cfg.platforms.base import data_dir
from op25b_cfg.redact import printable, redact

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

    import jinja2

log = logging.getLogger(__name__)

_redact = lru_cache(maxsize=4096)(redact)
""":func:`op25b_cfg.redact.redact` once per distinct text: a device's findings share their remediation and
often their config lines, and a run's findings repeat the same messages."""

SCHEMA = "op25b.audit/1"
SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)
VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)
EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
HTML_TEMPLATE = "report.html.j2"


@dataclass
class AuditMeta:
    """What the report says about the run itself."""

    policy: str = ""
    inventory: str = ""
    configs: str = ""  # the configs directory, or "live"
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "inventory": self.inventory,
            "configs": self.configs,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
        }


def audits_dir() -> Path:
    """The ``audits/`` directory (report templates and the JSON schema), installed or in a checkout."""
    found = data_dir("audits")
    if found is None:
        raise AuditError("audits directory (report templates) not found next to op25b_cfg; reinstall op25b")
    return found


# ------------------------------------------------------------------------------------------- common data


def exit_code(reports: list[DeviceReport]) -> int:
    """0: all COMPLIANT; 1: a device NONCOMPLIANT; 2: a device ERROR or UNKNOWN (2 wins over 1).

    >>> r = lambda v: DeviceReport("d", "cisco_ios", v)
    >>> exit_code([r(Verdict.COMPLIANT)]), exit_code([r(Verdict.COMPLIANT), r(Verdict.NONCOMPLIANT)])
    (0, 1)
    >>> exit_code([r(Verdict.NONCOMPLIANT), r(Verdict.UNKNOWN)]), exit_code([r(Verdict.ERROR)])
    (2, 2)
    """
    verdicts = {r.verdict for r in reports}
    if verdicts & {Verdict.ERROR, Verdict.UNKNOWN}:
        return EXIT_ERROR
    if Verdict.NONCOMPLIANT in verdicts:
        return EXIT_FINDINGS
    return EXIT_OK


def _severity_rank(f: Finding) -> int:
    return SEVERITIES.index(str(f.severity)) if str(f.severity) in SEVERITIES else len(SEVERITIES)


def sorted_findings(report: DeviceReport) -> list[Finding]:
    """Findings most severe first, then by first config line."""
    return sorted(report.findings, key=lambda f: (_severity_rank(f), min(f.lines, default=0), str(f.code)))


def family_label(family: int | None) -> str:
    """``IPv4``, ``IPv6``, ``IPv4+IPv6`` (0) or ``''``."""
    return {4: "IPv4", 6: "IPv6", 0: "IPv4+IPv6"}.get(family, "") if family is not None else ""


def finding_dict(f: Finding) -> dict[str, Any]:
    """One finding as in the JSON schema; config-derived text redacted."""
    ce = f.counterexample
    return {
        "device": f.device,
        "code": str(f.code),
        "severity": str(f.severity),
        "message": _redact(f.message),
        "family": f.family,
        "pool": f.pool,
        "binding": f.binding,
        "lines": list(f.lines),
        "config_lines": [_redact(line) for line in f.config_lines],
        "counterexample": None
        if ce is None
        else {
            "family": ce.family,
            "src": ce.src,
            "dst": ce.dst,
            "protocol": ce.protocol,
            "src_port": ce.src_port,
            "dst_port": ce.dst_port,
            "tcp_flags": ce.tcp_flags,
            "text": str(ce),
        },
        "cause": f.cause,
        "remediation": _redact(f.remediation),
    }


def device_dict(r: DeviceReport) -> dict[str, Any]:
    """One device as in the JSON schema."""
    counts = dict.fromkeys(SEVERITIES, 0)  # a Counter per device cost three times as much (5,000: 19 ms)
    for f in r.findings:
        severity = str(f.severity)
        if severity in counts:
            counts[severity] += 1
    return {
        "device": r.device,
        "platform": r.platform,
        "verdict": str(r.verdict),
        "source": r.source,
        "error": _redact(r.error),
        "counts": counts,
        "checks": [{"id": cid, "passed": ok} for cid, ok in r.checks],
        "findings": [finding_dict(f) for f in sorted_findings(r)],
        "remediation": _redact(r.remediation),
    }


class Tally:
    """The run's summary, counted as devices finish (no report is kept)."""

    def __init__(self) -> None:
        self.devices = 0
        self.verdicts: Counter[str] = Counter()
        self.severities: Counter[str] = Counter()
        self.codes: Counter[str] = Counter()

    def add(self, r: DeviceReport) -> None:
        self.devices += 1
        self.verdicts[str(r.verdict)] += 1
        for f in r.findings:
            self.severities[str(f.severity)] += 1
            self.codes[str(f.code)] += 1

    def exit_code(self) -> int:
        """As :func:`exit_code`."""
        if self.verdicts["ERROR"] or self.verdicts["UNKNOWN"]:
            return EXIT_ERROR
        return EXIT_FINDINGS if self.verdicts["NONCOMPLIANT"] else EXIT_OK

    def summary(self) -> dict[str, Any]:
        return {
            "devices": self.devices,
            "verdicts": {v: self.verdicts.get(v, 0) for v in VERDICTS},
            "findings": sum(self.severities.values()),
            "severities": {s: self.severities.get(s, 0) for s in SEVERITIES},
            "codes": dict(sorted(self.codes.items())),
            "exit_code": self.exit_code(),
        }


def tally(reports: Iterable[DeviceReport]) -> Tally:
    t = Tally()
    for r in reports:
        t.add(r)
    return t


def summary_dict(reports: list[DeviceReport]) -> dict[str, Any]:
    return tally(reports).summary()


def _head_dict(meta: AuditMeta, summary: dict[str, Any]) -> dict[str, Any]:
    return {"schema": SCHEMA, "tool": {"name": "op25b", "version": __version__}, **meta.to_dict(), "summary": summary}


def report_dict(reports: list[DeviceReport], meta: AuditMeta) -> dict[str, Any]:
    """The whole report as in the JSON schema ``op25b.audit/1``."""
    return {**_head_dict(meta, summary_dict(reports)), "devices": [device_dict(r) for r in reports]}


# ------------------------------------------------------------------------------------------- table

_VERDICT_STYLE = {"COMPLIANT": "green", "NONCOMPLIANT": "bold red", "UNKNOWN": "yellow", "ERROR": "bold magenta"}
_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def _lines_label(lines: list[int]) -> str:
    return ",".join(str(n) for n in lines[:6]) + (",..." if len(lines) > 6 else "")


_SHORT_SEVERITY = {"critical": "crit", "high": "high", "medium": "med", "low": "low", "info": "info"}


WIDE_TABLE = 120
"""Consoles at least this wide get the findings as a table; narrower ones get one block per finding."""


def _deciding_lines(fd: dict[str, Any]) -> list[tuple[int, str]]:
    """(line number, text) of the deciding config lines the message does not already quote."""
    return [
        (num, line.strip())
        for num, line in zip(fd["lines"], fd["config_lines"], strict=False)
        if line.strip() and line.strip() not in fd["message"]
    ]


def _findings_table(rows: list[tuple[str, dict[str, Any]]]) -> Table:
    ft = Table(title="findings")
    ft.add_column("device", overflow="fold")
    ft.add_column("sev", no_wrap=True)
    ft.add_column("code", no_wrap=True)
    ft.add_column("family", no_wrap=True)
    ft.add_column("pool", overflow="fold")
    ft.add_column("line", overflow="fold")
    ft.add_column("counterexample", overflow="fold")
    ft.add_column("finding", overflow="fold", ratio=2)
    for device, fd in rows:
        ce = fd["counterexample"]
        message = Text(fd["message"] + (f" [{fd['cause']}]" if fd["cause"] else ""))
        for num, line in _deciding_lines(fd)[:3]:
            message.append(f"\n{num}: {line}", style="dim")
        ft.add_row(
            Text(device),
            Text(_SHORT_SEVERITY.get(fd["severity"], fd["severity"]), style=_SEVERITY_STYLE.get(fd["severity"], "")),
            Text(fd["code"]),
            Text(family_label(fd["family"])),
            Text(fd["pool"] or ""),
            Text(_lines_label(fd["lines"])),
            Text(ce["text"] if ce else ""),
            message,
        )
    return ft


def _print_finding_block(console: Console, device: str, fd: dict[str, Any]) -> None:
    head = Text.assemble(
        (device, "bold"),
        "  ",
        (fd["severity"], _SEVERITY_STYLE.get(fd["severity"], "")),
        " ",
        (fd["code"], "bold"),
    )
    for part in (
        family_label(fd["family"]),
        f"pool {fd['pool']}" if fd["pool"] else "",
        f"line {_lines_label(fd['lines'])}" if fd["lines"] else "",
    ):
        if part:
            head.append(f"  {part}")
    console.print(head)
    console.print(Text("  " + fd["message"] + (f" [{fd['cause']}]" if fd["cause"] else "")))
    if fd["counterexample"]:
        console.print(Text(f"  counterexample: {fd['counterexample']['text']}"))
    for num, line in _deciding_lines(fd)[:3]:
        console.print(Text(f"  {num}: {line}", style="dim"))


def _printable_tree(value: Any) -> Any:
    """``value`` (a report dict) with :func:`~op25b_cfg.redact.printable` applied to every string in it."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {k: _printable_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable_tree(v) for v in value]
    return value


def render_table(
    reports: list[DeviceReport], console: Console, meta: AuditMeta | None = None, summarise: bool = False
) -> None:
    """Per device: verdict and counts by severity; then why devices could not be audited; then every finding
    (code, family, pool, line, counterexample, message and deciding config lines). Config text is never markup.

    ``summarise`` (a large run): the device table lists only the devices that are not COMPLIANT; the summary
    line counts every device."""
    title = "op25b audit" + (f" - policy '{meta.policy}'" if meta and meta.policy else "")
    if summarise:
        title += " - devices not COMPLIANT (--all-rows: every device)"
    table = Table(title=title)
    table.add_column("device", no_wrap=True)
    table.add_column("platform", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    for sev in SEVERITIES:
        table.add_column(_SHORT_SEVERITY[sev], justify="right", no_wrap=True)
    dicts = [_printable_tree(device_dict(r)) for r in reports if not (summarise and r.verdict == Verdict.COMPLIANT)]
    for d in dicts:
        table.add_row(
            Text(d["device"]),
            Text(d["platform"]),
            Text(d["verdict"], style=_VERDICT_STYLE.get(d["verdict"], "")),
            *(Text(str(d["counts"][s]) if d["counts"][s] else "-", style=_SEVERITY_STYLE[s]) for s in SEVERITIES),
        )
    if dicts or not summarise:
        console.print(table)
    for d in dicts:
        if d["error"]:
            console.print(Text.assemble((f"{d['device']}: ", "bold"), (d["error"], "magenta")))
    rows = [(d["device"], fd) for d in dicts for fd in d["findings"]]
    if rows and console.width >= WIDE_TABLE:
        console.print(_findings_table(rows))
    elif rows:
        console.print(Text("findings", style="bold"))
        for device, fd in rows:
            _print_finding_block(console, device, fd)
    s = summary_dict(reports)
    v = s["verdicts"]
    console.print(
        Text(
            f"{s['devices']} device(s): {v['COMPLIANT']} compliant, {v['NONCOMPLIANT']} noncompliant,"
            f" {v['UNKNOWN']} unknown, {v['ERROR']} error; {s['findings']} finding(s); exit code {s['exit_code']}"
        )
    )


# ------------------------------------------------------------------------------------------- JUnit

# Characters XML 1.0 cannot carry at all, even escaped: all but tab, LF, CR, U+0020-D7FF, U+E000-FFFD and
# U+10000-10FFFF. Written as the (short) class of the excluded ones: the complement of those ranges took
# 17 ms to compile, in every audit's start-up (tests/test_audit_report.py compares both on every code point).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _XML_ILLEGAL.sub("\ufffd", text)


def finding_text(fd: dict[str, Any]) -> str:
    """The body of a JUnit failure / a plain-text block: message, where, counterexample, lines, remediation."""
    parts = [fd["message"]]
    where = ", ".join(
        x
        for x in (
            family_label(fd["family"]),
            f"pool {fd['pool']}" if fd["pool"] else "",
            f"on {fd['binding']}" if fd["binding"] else "",
            f"cause: {fd['cause']}" if fd["cause"] else "",
        )
        if x
    )
    if where:
        parts.append(where)
    if fd["counterexample"]:
        parts.append(f"counterexample: {fd['counterexample']['text']}")
    if fd["config_lines"]:
        nums = fd["lines"]
        parts.append("config:")
        parts += [f"  {nums[i] if i < len(nums) else '?':>6}  {line}" for i, line in enumerate(fd["config_lines"])]
    if fd["remediation"]:
        parts += ["remediation:", fd["remediation"].rstrip("\n")]
    return "\n".join(parts)


# The engine's check ids (op25b_cfg.audit.engine) and the finding codes that refute each:
# "applied KIND:NAME:DIR vF", "smtp-blocked KIND:NAME:DIR vF pool P", "mta-open ...", "submission-open tcp/N ...",
# "exempt-open ...", "flow-control KIND:NAME:DIR vF", "parsed", "drift".
CHECK_OF_CODE: dict[str, tuple[str, ...]] = {
    "FILTER_MISSING": ("applied",),
    "NOT_APPLIED": ("applied",),
    "WRONG_DIRECTION": ("applied",),
    "SMTP_LEAK": ("smtp-blocked",),
    "MTA_BLOCKED": ("mta-open",),
    "SUBMISSION_BLOCKED": ("submission-open",),
    "EXEMPT_BLOCKED": ("exempt-open",),
    "FLOW_CONTROL_MISSING": ("flow-control",),
    "UNPARSED": ("parsed",),
    "DRIFT": ("drift",),
}


def _check_matches(check_id: str, fd: dict[str, Any]) -> bool:
    """Whether a finding belongs to a check: the check is of the kind that finding code refutes, and where the
    check id names an attachment, family, pool or port, they are the finding's.

    >>> fd = {"code": "SMTP_LEAK", "family": 4, "pool": "P1", "binding": "interface Gi1 in", "counterexample": None}
    >>> _check_matches("smtp-blocked interface:Gi1:in v4 pool P1", fd)
    True
    >>> _check_matches("smtp-blocked interface:Gi1:in v6 pool P1", fd)
    False
    >>> _check_matches("mta-open interface:Gi1:in v4 pool P1", fd)
    False
    """
    words = check_id.split()
    if not words or words[0] not in CHECK_OF_CODE.get(fd["code"], (fd["code"].lower(),)):
        return False
    fam = fd["family"]
    fams = [w for w in words if w in ("v4", "v6")]
    if fam in (4, 6) and fams and fams[0] != f"v{fam}":
        return False
    if fd["pool"] and "pool" in words and words[words.index("pool") + 1 :][:1] != [fd["pool"]]:
        return False
    binding = fd.get("binding")
    places = [w for w in words if w.count(":") >= 2]
    if binding and places and places[0] != ":".join(binding.split()):
        return False
    ports = [w[4:] for w in words if w.startswith("tcp/")]
    ce = fd.get("counterexample")
    return not (ports and ce and str(ce["dst_port"]) != ports[0])


def _finding_case_name(fd: dict[str, Any]) -> str:
    return " ".join(x for x in (fd["code"], fd["pool"] or "", family_label(fd["family"])) if x)


@dataclass
class _JunitCases:
    """The ``<testcase>`` elements of one device, with the counts the suite's attributes sum."""

    cases: list[ET.Element] = field(default_factory=list)
    failures: int = 0
    errors: int = 0


def _junit_cases(r: DeviceReport) -> _JunitCases:
    """One ``<testcase>`` per check of ``r`` (classname = device); see :func:`to_junit`."""
    import xml.etree.ElementTree as ET  # only JUnit reports need it

    out = _JunitCases()

    def case(name: str) -> ET.Element:
        attrs = {"classname": f"op25b.{r.device}", "name": name, "time": "0"}
        if r.source:
            attrs["file"] = r.source
        el = ET.Element("testcase", {k: _xml_text(v) for k, v in attrs.items()})
        out.cases.append(el)
        return el

    def attach(tc: ET.Element, fd: dict[str, Any]) -> None:
        if fd["severity"] == Severity.INFO:
            sysout = tc.find("system-out")
            if sysout is None:
                sysout = ET.SubElement(tc, "system-out")
                sysout.text = ""
            sysout.text = (sysout.text or "") + _xml_text(f"[{fd['code']}] {finding_text(fd)}\n")
            return
        kind = "error" if fd["code"] == "UNPARSED" else "failure"
        if tc.find(kind) is None:
            if kind == "error":
                out.errors += 1
            else:
                out.failures += 1
        el = ET.SubElement(tc, kind, message=_xml_text(fd["message"]), type=fd["code"])
        el.text = _xml_text(finding_text(fd))

    d = device_dict(r)
    if r.verdict == Verdict.ERROR and not d["findings"]:
        el = ET.SubElement(case("config"), "error", message=_xml_text(d["error"] or "audit error"), type="ERROR")
        el.text = _xml_text(d["error"])
        out.errors += 1
        return out
    used: set[int] = set()
    fix = d["remediation"]  # once per device: in the first failed check's system-out
    for check in d["checks"]:
        tc = case(check["id"])
        if fix and not check["passed"]:
            ET.SubElement(tc, "system-out").text = _xml_text(f"remediation for {r.device}:\n{fix}")
            fix = ""
        attached = 0
        for i, fd in enumerate(d["findings"]):
            fits = _check_matches(check["id"], fd) and (not check["passed"] or fd["severity"] == "info")
            if i not in used and fits:
                used.add(i)
                attach(tc, fd)
                attached += 1
        if not check["passed"] and not attached:
            el = ET.SubElement(tc, "failure", message=f"check {check['id']} failed", type="CHECK")
            el.text = _xml_text(f"check {check['id']} failed; see the device's findings")
            out.failures += 1
    for i, fd in enumerate(d["findings"]):
        if i not in used:
            attach(case(_finding_case_name(fd)), fd)
    if not d["checks"] and not d["findings"]:
        tc = case("compliance")
        if r.verdict != Verdict.COMPLIANT:
            el = ET.SubElement(tc, "error", message=f"verdict {d['verdict']}", type=d["verdict"])
            el.text = _xml_text(d["error"])
            out.errors += 1
    return out


def to_junit(reports: list[DeviceReport], meta: AuditMeta | None = None) -> str:
    """JUnit XML: one ``<testsuite>``; per device one ``<testcase>`` per check (classname = device).

    A failed check carries a ``<failure>`` per finding (message + counterexample + lines + remediation);
    UNPARSED findings and devices with verdict ERROR are ``<error>``; INFO findings (DRIFT) go to
    ``<system-out>`` of a passing case. Findings no check names get a case of their own.
    """
    return _render(JunitWriter, reports, meta)


# ------------------------------------------------------------------------------------------- streaming


class ReportWriter:
    """A report written to ``fh`` as devices finish: :meth:`add` each device's report in inventory order, then
    :meth:`close`. A report is not kept after :meth:`add`; the parts that need every device first (the
    summary and totals at the top) are written at :meth:`close`, with the devices' parts spooled to a
    temporary file in between."""

    def __init__(self, fh: IO[str], meta: AuditMeta | None = None) -> None:
        self.fh = fh
        self.meta = meta or AuditMeta()
        self.tally = Tally()
        self._spool: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115  # closed in close()

    def add(self, r: DeviceReport) -> None:
        self.tally.add(r)
        self._write_device(r)

    def _write_device(self, r: DeviceReport) -> None:
        raise NotImplementedError

    def _copy_spool(self) -> None:
        self._spool.seek(0)
        shutil.copyfileobj(self._spool, self.fh)

    def close(self) -> None:
        self._spool.close()

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._spool.close()


_JSON_WORDS: dict[object, str] = {None: "null", True: "true", False: "false"}


def json_indented(value: Any, indent: str = "") -> str:
    """``json.dumps(value, indent=2)`` with every line after the first prefixed by ``indent``: the same text,
    about four times faster. Python 3.11's ``json`` encodes with ``indent`` in pure Python (a generator per
    dict and list, most of the JSON report's time); here strings, numbers and constants are encoded by the
    C parts ``json`` itself uses and joined once per dict or list. Anything else (a key that is not a
    string, a value ``json`` would refuse) is left to ``json.dumps``, which gives its text or its error.

    >>> print(json_indented({"a": [1, "x\u00e9"], "b": {}, "c": None}, "  "))
    {
        "a": [
          1,
          "x\\u00e9"
        ],
        "b": {},
        "c": null
      }
    >>> json_indented({1: 2.5}, "  ") == json.dumps({1: 2.5}, indent=2).replace("\\n", "\\n  ")
    True
    """
    try:
        return _indented(value, "\n" + indent)
    except _NotPlain:
        return json.dumps(value, indent=2).replace("\n", "\n" + indent)


class _NotPlain(Exception):
    """A value :func:`_indented` leaves to ``json.dumps``."""


_FLAT_TYPES = frozenset({str, bool, int, type(None)})
_FLAT_TEXT: dict[tuple[tuple[tuple[Any, Any], ...], tuple[type, ...], str], str] = {}
"""The text of a dict whose values are all of :data:`_FLAT_TYPES`, by its items, the exact type of each value
(``True == 1`` and the two hash alike: the types keep them apart) and its indentation. A report repeats such
dicts: every device of the same attachments and pools has the same ``{"id": ..., "passed": ...}`` checks,
most of the JSON writer's work (5,000 devices: 0.29-0.38 -> 0.20 s for the devices' text)."""
_FLAT_MAX = 4096


def _indented(o: Any, nl: str) -> str:
    t = type(o)
    if t is str:
        return _encode_str(o)
    inner = nl + "  "
    if t is dict:
        if not o:
            return "{}"
        flat = _FLAT_TYPES.issuperset(map(type, o.values()))
        if flat:
            key = (tuple(o.items()), tuple(map(type, o.values())), nl)
            text = _FLAT_TEXT.get(key)
            if text is not None:
                return text
        items = [
            (_encode_str(k) if type(k) is str else _key(k))
            + ": "
            + (_encode_str(v) if type(v) is str else _indented(v, inner))
            for k, v in o.items()
        ]
        text = "{" + inner + ("," + inner).join(items) + nl + "}"
        if flat and len(_FLAT_TEXT) < _FLAT_MAX:
            _FLAT_TEXT[key] = text
        return text
    if t is list or t is tuple:
        if not o:
            return "[]"
        return "[" + inner + ("," + inner).join([_indented(v, inner) for v in o]) + nl + "]"
    # the order of json.encoder's _iterencode: str, None/True/False, int, float, list/tuple, dict
    if o is None or o is True or o is False:
        return _JSON_WORDS[o]
    if isinstance(o, str):
        return _encode_str(o)
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, (list, tuple, dict)):
        return _indented(dict(o) if isinstance(o, dict) else list(o), nl)
    raise _NotPlain  # floats (rare) and what json refuses


def _key(k: Any) -> str:
    if isinstance(k, str):
        return _encode_str(k)
    raise _NotPlain


class JsonWriter(ReportWriter):
    """``op25b.audit/1`` JSON, the same text as ``json.dumps(report_dict(...), indent=2)``."""

    _EMPTY = '"devices": []\n}'

    def _write_device(self, r: DeviceReport) -> None:
        text = json_indented(device_dict(r), "    ")
        self._spool.write(("    " if self.tally.devices == 1 else ",\n    ") + text)

    def close(self) -> None:
        head = json.dumps({**_head_dict(self.meta, self.tally.summary()), "devices": []}, indent=2)
        if self.tally.devices:
            self.fh.write(head[: -len("[]\n}")] + "[\n")
            self._copy_spool()
            self.fh.write("\n  ]\n}\n")
        else:
            self.fh.write(head + "\n")
        super().close()


class JunitWriter(ReportWriter):
    """JUnit XML (see :func:`to_junit`), indented as ``ET.indent`` does."""

    def __init__(self, fh: IO[str], meta: AuditMeta | None = None) -> None:
        super().__init__(fh, meta)
        self.tests = self.failures = self.errors = 0

    def _write_device(self, r: DeviceReport) -> None:
        import xml.etree.ElementTree as ET

        got = _junit_cases(r)
        self.tests += len(got.cases)
        self.failures += got.failures
        self.errors += got.errors
        for tc in got.cases:
            ET.indent(tc, level=2)
            self._spool.write("    " + ET.tostring(tc, encoding="unicode") + "\n")

    def close(self) -> None:
        import xml.etree.ElementTree as ET

        # JUnit's timestamp is an xs:dateTime without zone (UTC here), as Ant/Jenkins/GitLab write it
        stamp = self.meta.generated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        totals = {"tests": str(self.tests), "failures": str(self.failures), "errors": str(self.errors)}
        root = ET.Element("testsuites", {"name": "op25b audit", **totals, "time": "0"})
        suite_attrs = {"name": "op25b.audit", "timestamp": stamp, "time": "0", **totals, "skipped": "0"}
        suite = ET.SubElement(root, "testsuite", suite_attrs)
        props = ET.SubElement(suite, "properties")
        for key, value in (("schema", SCHEMA), ("policy", self.meta.policy), ("configs", self.meta.configs)):
            ET.SubElement(props, "property", name=key, value=_xml_text(value))
        ET.indent(root)
        head, sep, tail = ET.tostring(root, encoding="unicode").rpartition("  </testsuite>")
        self.fh.write('<?xml version="1.0" encoding="UTF-8"?>\n' + head)
        self._copy_spool()
        self.fh.write(sep + tail + "\n")
        super().close()


def _render(writer: type[ReportWriter], reports: Iterable[DeviceReport], meta: AuditMeta | None) -> str:
    buf = io.StringIO()
    with writer(buf, meta) as w:
        for r in reports:
            w.add(r)
        w.close()
    return buf.getvalue()


# ------------------------------------------------------------------------------------------- HTML


@lru_cache(maxsize=1)
def _html_env() -> jinja2.Environment:
    import jinja2  # only the HTML report needs it

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(audits_dir())),
        autoescape=True,  # every value is HTML-escaped; the template has no |safe
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["family"] = family_label
    return env


def diff_rows(diff: str) -> list[tuple[str, str]]:
    """(css class, line) for a unified diff: ``add``, ``del``, ``hunk`` or ``ctx``.

    >>> [cls for cls, _ in diff_rows("--- running\\n+++ intended\\n@@ -1 +1 @@\\n-deny\\n+permit\\n x")]
    ['hunk', 'hunk', 'hunk', 'del', 'add', 'ctx']
    """
    rows = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---", "@@")):
            cls = "hunk"
        elif line.startswith("+"):
            cls = "add"
        elif line.startswith("-"):
            cls = "del"
        else:
            cls = "ctx"
        rows.append((cls, line))
    return rows


def _html_device(r: DeviceReport) -> dict[str, Any]:
    """:func:`device_dict` with what the HTML template shows besides: anchor, diff rows, numbered lines."""
    dev = device_dict(r)
    dev["anchor"] = "dev-" + re.sub(r"[^A-Za-z0-9_-]", "-", dev["device"])
    # the device's remediation is shown once, after its findings
    dev["remediation_rows"] = diff_rows(dev["remediation"])
    for fd in dev["findings"]:
        fd["diff_rows"] = diff_rows(fd["remediation"])
        fd["numbered"] = [
            (fd["lines"][i] if i < len(fd["lines"]) else "", line) for i, line in enumerate(fd["config_lines"])
        ]
    return dev


class HtmlWriter(ReportWriter):
    """The HTML page (see :func:`to_html`). The page lists the devices twice (overview, then details) under a
    headline that needs every verdict, so the devices' data is kept (not their reports) and the page is
    rendered at :meth:`close`, streamed to ``fh`` chunk by chunk."""

    def __init__(self, fh: IO[str], meta: AuditMeta | None = None) -> None:
        super().__init__(fh, meta)
        self.devices: list[dict[str, Any]] = []

    def _write_device(self, r: DeviceReport) -> None:
        self.devices.append(_html_device(r))

    def close(self) -> None:
        data = {**_head_dict(self.meta, self.tally.summary()), "devices": self.devices}
        template = _html_env().get_template(HTML_TEMPLATE)
        self.fh.writelines(template.generate(report=data, meta=data, severities=SEVERITIES))
        super().close()


def to_html(reports: list[DeviceReport], meta: AuditMeta | None = None) -> str:
    """One self-contained HTML page (inline CSS, no script, no external asset) for managers and auditors."""
    return _render(HtmlWriter, reports, meta)


def to_json(reports: list[DeviceReport], meta: AuditMeta | None = None) -> str:
    """The report as JSON text (schema ``op25b.audit/1``)."""
    return _render(JsonWriter, reports, meta)


WRITERS: dict[str, type[ReportWriter]] = {"json": JsonWriter, "junit": JunitWriter, "html": HtmlWriter}
"""The streaming writer of each file format (``op25b audit --format``)."""
