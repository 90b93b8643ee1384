"""op25b_cfg.audit.report: table, JSON (schema op25b.audit/1) and JUnit XML from DeviceReports, with secrets
redacted in every format."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from op25b_cfg.audit import report as rep
from op25b_cfg.audit.model import Code, DeviceReport, Finding, Packet, Severity, Verdict

REPO = Path(__file__).resolve().parent.parent
SCHEMA_FILE = REPO / "audits" / "op25b.audit-1.schema.json"
META = rep.AuditMeta(
    policy="example-isp-op25b",
    inventory="inventory",
    configs="inventory/running",
    generated_at=datetime(2025, 11, 4, 1, 2, 3, tzinfo=UTC),
)
SECRET = "Tky0-ro-2025"
DIFF = (
    "--- running\n+++ intended\n@@ -1,3 +1,2 @@\n- permit tcp any any range ftp-data 30\n"
    f"  deny tcp 100.64.0.0 0.0.255.255 any eq smtp log\n-snmp-server community {SECRET} RO\n"
)


def leak(device: str = "bras-tyo-ios1") -> Finding:
    return Finding(
        Code.SMTP_LEAK,
        Severity.CRITICAL,
        device,
        "IPv4 SMTP from pool DYN-TOKYO leaks through virtual-template Virtual-Template1 in",
        family=4,
        pool="DYN-TOKYO",
        binding="virtual-template Virtual-Template1 in",
        lines=[126, 128],
        config_lines=[" permit tcp any any range ftp-data 30", f" snmp-server community {SECRET} RO [bold]x[/bold]"],
        counterexample=Packet(4, "100.64.0.10", "203.0.113.29", 6, 25),
        cause="shadowed",
        remediation=DIFF,
    )


def reports() -> list[DeviceReport]:
    drift = Finding(Code.DRIFT, Severity.INFO, "bras-tyo-ios1", "running differs from the rendered intent", lines=[115])
    unparsed = Finding(
        Code.UNPARSED,
        Severity.MEDIUM,
        "edge-osa-eos1",
        "line 77 in applied filter F is not understood",
        family=4,
        lines=[77],
        config_lines=["   77 permit tcp any any eq smtp weird-keyword \x07"],
    )
    tag = "virtual-template:Virtual-Template1:in"
    return [
        DeviceReport(
            "bras-tyo-ios1",
            "cisco_ios",
            Verdict.NONCOMPLIANT,
            [drift, leak()],
            checks=[
                (f"applied {tag} v4", True),
                (f"smtp-blocked {tag} v4 pool DYN-TOKYO", False),
                (f"mta-open {tag} v4 pool DYN-TOKYO", True),
                ("drift", False),
            ],
            source="inventory/running/bras-tyo-ios1.cfg",
        ),
        DeviceReport("bras-osa-xr1", "cisco_iosxr", Verdict.COMPLIANT, checks=[("parsed", True)], source="x.cfg"),
        DeviceReport("edge-osa-eos1", "arista_eos", Verdict.UNKNOWN, [unparsed], checks=[("parsed", False)]),
        DeviceReport(
            "bng-tyo-mx1",
            "juniper_junos",
            Verdict.ERROR,
            error=f"r.cfg: last line is 'snmp-server community {SECRET}', not 'end'",
            source="r.cfg",
        ),
    ]


@pytest.mark.parametrize(
    ("verdicts", "code"),
    [
        ([], 0),
        ([Verdict.COMPLIANT], 0),
        ([Verdict.COMPLIANT, Verdict.NONCOMPLIANT], 1),
        ([Verdict.NONCOMPLIANT, Verdict.UNKNOWN], 2),
        ([Verdict.COMPLIANT, Verdict.ERROR], 2),
        ([Verdict.UNKNOWN], 2),
    ],
)
def test_exit_code(verdicts: list[Verdict], code: int) -> None:
    assert rep.exit_code([DeviceReport("d", "cisco_ios", v) for v in verdicts]) == code


def _json() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(rep.to_json(reports(), META))
    return doc


def test_json_document() -> None:
    doc = _json()
    assert doc["schema"] == "op25b.audit/1"
    assert doc["policy"] == "example-isp-op25b"
    assert doc["generated_at"] == "2025-11-04T01:02:03+00:00"
    s = doc["summary"]
    assert s["devices"] == 4
    assert s["verdicts"] == {"COMPLIANT": 1, "NONCOMPLIANT": 1, "UNKNOWN": 1, "ERROR": 1}
    assert s["severities"] == {"critical": 1, "high": 0, "medium": 1, "low": 0, "info": 1}
    assert s["codes"] == {"DRIFT": 1, "SMTP_LEAK": 1, "UNPARSED": 1}
    assert s["exit_code"] == 2
    ios = doc["devices"][0]
    assert ios["verdict"] == "NONCOMPLIANT" and ios["counts"]["critical"] == 1
    assert [f["code"] for f in ios["findings"]] == ["SMTP_LEAK", "DRIFT"]  # most severe first
    f = ios["findings"][0]
    assert f["counterexample"] == {
        "family": 4,
        "src": "100.64.0.10",
        "dst": "203.0.113.29",
        "protocol": 6,
        "src_port": 40000,
        "dst_port": 25,
        "tcp_flags": "S",
        "text": "tcp 100.64.0.10:40000 -> 203.0.113.29:25 flags S",
    }
    assert (f["family"], f["pool"], f["cause"], f["lines"]) == (4, "DYN-TOKYO", "shadowed", [126, 128])
    assert f["binding"] == "virtual-template Virtual-Template1 in"
    assert ios["checks"][1] == {
        "id": "smtp-blocked virtual-template:Virtual-Template1:in v4 pool DYN-TOKYO",
        "passed": False,
    }


def test_json_validates_against_published_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(_json(), schema)
    bad = _json()
    bad["devices"][0]["verdict"] = "MAYBE"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_secrets_redacted_in_every_format() -> None:
    outputs = {
        "json": rep.to_json(reports(), META),
        "junit": rep.to_junit(reports(), META),
        "html": rep.to_html(reports(), META),
    }
    buf = io.StringIO()
    rep.render_table(reports(), Console(file=buf, width=200, no_color=True), META)
    outputs["table"] = buf.getvalue()
    for name, text in outputs.items():
        assert SECRET not in text, name
        assert "redacted" in text, name


def test_table_shows_devices_findings_and_never_reads_config_as_markup() -> None:
    for width in (200, 80):
        buf = io.StringIO()
        rep.render_table(reports(), Console(file=buf, width=width, no_color=True), META)
        out = buf.getvalue()
        for name in ("bras-tyo-ios1", "bras-osa-xr1", "edge-osa-eos1", "bng-tyo-mx1"):
            assert name in out
        for word in ("NONCOMPLIANT", "COMPLIANT", "UNKNOWN", "ERROR", "SMTP_LEAK", "DYN-TOKYO", "IPv4"):
            assert word in out, (width, word)
        flat = " ".join(out.split())
        assert "counterexample" in flat and "tcp 100.64.0.10:40000 -> 203.0.113.29:25 flags S" in flat
        assert "[bold]x[/bold]" in out  # literal, not rich markup
        assert "last line is" in out  # the ERROR device says why
        assert "exit code 2" in flat


def test_large_table_lists_only_devices_not_compliant() -> None:
    compliant = [
        DeviceReport(f"ok-{i:03d}", "cisco_ios", Verdict.COMPLIANT, checks=[("parsed", True)]) for i in range(60)
    ]
    buf = io.StringIO()
    rep.render_table(compliant + reports(), Console(file=buf, width=200, no_color=True), META, summarise=True)
    out = buf.getvalue()
    assert "ok-000" not in out and "ok-059" not in out
    assert "bras-tyo-ios1" in out and "edge-osa-eos1" in out and "SMTP_LEAK" in out
    assert "bras-osa-xr1" not in out.split("findings")[0]  # the sample's compliant device: no row either
    assert "--all-rows" in out
    flat = " ".join(out.split())
    assert f"{len(compliant) + len(reports())} device(s): {len(compliant) + 1} compliant" in flat
    full = io.StringIO()
    rep.render_table(compliant + reports(), Console(file=full, width=200, no_color=True), META)
    assert "ok-000" in full.getvalue() and "ok-059" in full.getvalue()


def test_streamed_json_is_the_document() -> None:
    """The JSON writer spools device by device; the text is the one json.dumps gives for the whole document."""
    for rs in (reports(), [], reports()[:1]):
        assert rep.to_json(rs, META) == json.dumps(rep.report_dict(rs, META), indent=2) + "\n"


_JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_JSON_TREE = st.recursive(
    _JSON_LEAF,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.tuples(kids, kids)
        | st.dictionaries(st.text(max_size=5) | st.integers() | st.booleans() | st.none(), kids, max_size=4)
    ),
    max_leaves=30,
)


@given(value=_JSON_TREE, indent=st.sampled_from(["", "  ", "    "]))
def test_json_indented_is_json_dumps(value: Any, indent: str) -> None:
    """The report's encoder gives json.dumps(indent=2)'s text (each later line behind ``indent``) for any tree of
    JSON values, non-string keys, NaN and control/non-ASCII characters included."""
    assert rep.json_indented(value, indent) == json.dumps(value, indent=2).replace("\n", "\n" + indent)


@given(st.permutations([{"a": 1}, {"a": True}, {"a": "1"}, {"a": None}, {"a": False}, {"a": 0}, {"a": 1.0}]))
def test_json_indented_keeps_equal_dicts_of_other_types_apart(dicts: list[dict[str, Any]]) -> None:
    """Flat dicts' texts are kept by their items and value types: ``{"a": 1}`` and ``{"a": True}`` are equal
    (and hash alike) but are different JSON, in whichever order they come."""
    for d in dicts:
        for indent in ("", "    "):
            assert rep.json_indented(d, indent) == json.dumps(d, indent=2).replace("\n", "\n" + indent)


def test_json_indented_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        rep.json_indented({"a": [object()]})


def test_streamed_junit_counts_match_its_cases() -> None:
    buf = io.StringIO()
    with rep.JunitWriter(buf, META) as writer:
        for r in reports() + reports():
            writer.add(r)
        writer.close()
    root = ET.fromstring(buf.getvalue())
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert (
        int(root.get("tests", "-1"))
        == int(suite.get("tests", "-1"))
        == len(cases)
        == 2 * len(_junit().findall("testsuite/testcase"))
    )
    assert int(suite.get("failures", "-1")) == sum(1 for c in cases if c.find("failure") is not None)
    assert suite.find("properties") is not None and suite[0].tag == "properties"


def _junit() -> ET.Element:
    return ET.fromstring(rep.to_junit(reports(), META))


def test_junit_structure() -> None:
    root = _junit()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "-1")) == len(cases) == int(root.get("tests", "-1"))
    assert int(suite.get("failures", "-1")) == sum(1 for c in cases if c.find("failure") is not None)
    assert int(suite.get("errors", "-1")) == sum(1 for c in cases if c.find("error") is not None)
    names = {(c.get("classname"), c.get("name")) for c in cases}
    tag = "virtual-template:Virtual-Template1:in"
    assert ("op25b.bras-tyo-ios1", f"applied {tag} v4") in names
    assert ("op25b.bras-osa-xr1", "parsed") in names
    by = {(c.get("classname"), c.get("name")): c for c in cases}
    leak_case = by[("op25b.bras-tyo-ios1", f"smtp-blocked {tag} v4 pool DYN-TOKYO")]
    failure = leak_case.find("failure")
    assert failure is not None and failure.get("type") == "SMTP_LEAK"
    assert "leaks through" in (failure.get("message") or "")
    body = failure.text or ""
    assert "counterexample: tcp 100.64.0.10:40000 -> 203.0.113.29:25 flags S" in body
    assert "126" in body and "remediation:" in body
    assert by[("op25b.bras-tyo-ios1", f"mta-open {tag} v4 pool DYN-TOKYO")].find("failure") is None
    drift = by[("op25b.bras-tyo-ios1", "drift")]  # informational: not a failure, text in system-out
    assert drift.find("failure") is None and "DRIFT" in (drift.findtext("system-out") or "")
    unparsed = by[("op25b.edge-osa-eos1", "parsed")]
    assert unparsed.find("error") is not None and unparsed.find("error").get("type") == "UNPARSED"  # type: ignore[union-attr]
    err = by[("op25b.bng-tyo-mx1", "config")].find("error")
    assert err is not None and "not 'end'" in (err.get("message") or "")
    assert leak_case.get("file") == "inventory/running/bras-tyo-ios1.cfg"
    assert suite.get("timestamp") == "2025-11-04T01:02:03"


def test_junit_survives_control_characters_and_markup() -> None:
    """A config line with a BEL byte and XML metacharacters still gives well-formed XML."""
    text = rep.to_junit(reports(), META)
    assert "\x07" not in text
    ET.fromstring(text)
    r = [DeviceReport("d&<x>", "cisco_ios", Verdict.ERROR, error='"<end>" & \x00\x1b', source="a&b")]
    root = ET.fromstring(rep.to_junit(r, META))
    case = root.find("testsuite/testcase")
    assert case is not None and case.get("classname") == "op25b.d&<x>"


def test_junit_finding_without_check_gets_own_case() -> None:
    r = [DeviceReport("d", "cisco_ios", Verdict.NONCOMPLIANT, [leak("d")])]
    cases = ET.fromstring(rep.to_junit(r, META)).findall("testsuite/testcase")
    assert [c.get("name") for c in cases] == ["SMTP_LEAK DYN-TOKYO IPv4"]
    assert cases[0].find("failure") is not None


def test_junit_compliant_device_without_checks_passes() -> None:
    r = [DeviceReport("d", "cisco_ios", Verdict.COMPLIANT)]
    root = ET.fromstring(rep.to_junit(r, META))
    assert root.get("failures") == "0" and root.get("errors") == "0" and root.get("tests") == "1"


def test_xml_text_replaces_exactly_what_xml_cannot_carry() -> None:
    """XML 1.0 Char: tab, LF, CR, U+0020-D7FF, U+E000-FFFD, U+10000-10FFFF; every other code point becomes
    U+FFFD (checked on all of them, against the definition written as the complement of those ranges)."""
    import re

    allowed = re.compile("[\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
    every = "".join(chr(i) for i in range(0x110000))
    expected = "".join(c if allowed.fullmatch(c) else "\ufffd" for c in every)
    assert rep._xml_text(every) == expected
