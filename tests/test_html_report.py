"""The HTML audit report: self-contained, everything escaped, and it renders in headless Chromium."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from op25b_cfg.audit import report as rep
from op25b_cfg.audit.model import Code, DeviceReport, Finding, Packet, Severity, Verdict
from tests.labutil import need
from tests.test_audit_report import META, SECRET, reports

EVIL = "<script>alert('x')</script>"


def evil_reports() -> list[DeviceReport]:
    f = Finding(
        Code.SMTP_LEAK,
        Severity.CRITICAL,
        "bras-tyo-ios1",
        f"leak decided by remark {EVIL}",
        family=4,
        pool="DYN-TOKYO",
        binding='interface "><img src=x onerror=alert(1)> in',
        lines=[12],
        config_lines=[f" remark {EVIL}", ' remark "><iframe src="https://evil.example/">'],
        counterexample=Packet(4, "100.64.0.10", "203.0.113.29", 6, 25),
        cause="shadowed",
        remediation=f"--- running\n+++ intended\n- remark {EVIL}\n+ deny tcp any any eq 25\n",
    )
    return [*reports(), DeviceReport("evil&<b>", "cisco_ios", Verdict.NONCOMPLIANT, [f], source=f"/tmp/{EVIL}.cfg")]


class _Collect(HTMLParser):
    """Tags and attributes of a document, to check what the browser would load or run."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs


def test_html_escapes_config_text() -> None:
    html = rep.to_html(evil_reports(), META)
    assert EVIL not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    p = _Collect()
    p.feed(html)
    assert "script" not in p.tags and "img" not in p.tags and "iframe" not in p.tags
    assert not [a for a, _ in p.attrs if a.startswith("on")]
    assert SECRET not in html


def test_html_is_self_contained() -> None:
    html = rep.to_html(evil_reports(), META)
    p = _Collect()
    p.feed(html)
    assert set(p.tags) <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "header",
        "main",
        "footer",
        "h1",
        "h2",
        "h3",
        "div",
        "span",
        "b",
        "small",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "a",
        "section",
        "pre",
        "details",
        "summary",
        "code",
    }, set(p.tags)
    for name, value in p.attrs:
        if name in ("href", "src"):
            assert value is not None and value.startswith("#"), (name, value)
    style = html[html.index("<style>") : html.index("</style>")]
    assert "url(" not in style and "@import" not in style


def test_html_content() -> None:
    html = rep.to_html(reports(), META)
    for text in (
        "bras-tyo-ios1",
        "bras-osa-xr1",
        "edge-osa-eos1",
        "bng-tyo-mx1",
        "example-isp-op25b",
        "tcp 100.64.0.10:40000 -&gt; 203.0.113.29:25 flags S",
        "SMTP_LEAK",
        "DYN-TOKYO",
    ):
        assert text in html, text
    assert html.count('class="badge v-NONCOMPLIANT"') == 2  # device table + section
    assert 'id="dev-bras-tyo-ios1"' in html and 'href="#dev-bras-tyo-ios1"' in html
    assert '<span class="del">- permit tcp any any range ftp-data 30</span>' in html
    assert "could not be fully audited" in html  # UNKNOWN + ERROR devices in the headline


def test_html_all_compliant_headline() -> None:
    html = rep.to_html([DeviceReport("r1", "cisco_ios", Verdict.COMPLIANT)], META)
    assert "The device enforces the OP25B policy." in html
    two = [DeviceReport(n, "cisco_ios", Verdict.COMPLIANT) for n in ("r1", "r2")]
    assert "All 2 devices enforce the OP25B policy." in rep.to_html(two, META)
    assert "No findings: every check passed." in html


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe is not None
    base = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={tmp / 'profile'}",
    ]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=120, check=False)


def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    need(
        (shutil.which("chromium") or shutil.which("chromium-browser")) is not None,
        "chromium (Debian package chromium) is not installed",
    )
    page = tmp_path / "report.html"
    page.write_text(rep.to_html(evil_reports(), META), encoding="utf-8")
    dom = _chromium(["--dump-dom", page.as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    for name in ("bras-tyo-ios1", "bras-osa-xr1", "edge-osa-eos1", "bng-tyo-mx1"):
        assert f'id="dev-{name}"' in text
    for verdict in ("NONCOMPLIANT", "COMPLIANT", "UNKNOWN", "ERROR"):
        assert re.search(rf'class="badge v-{verdict}">{verdict}<', text), verdict
    assert "&lt;script&gt;" in text and "<script>alert" not in text  # still text after parsing
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    shots = {}
    for name, src in (("report", page), ("blank", blank)):
        png = tmp_path / f"{name}.png"
        res = _chromium([f"--screenshot={png}", "--window-size=1200,2000", "--hide-scrollbars", src.as_uri()], tmp_path)
        assert res.returncode == 0 and png.is_file(), res.stderr[-2000:]
        shots[name] = png.read_bytes()
    assert _png_size(shots["report"]) == (1200, 2000)
    # a rendered report compresses far worse than an empty page of the same size
    assert len(shots["report"]) > 10 * len(shots["blank"]), (len(shots["report"]), len(shots["blank"]))


@pytest.mark.parametrize("verdict", list(Verdict))
def test_every_verdict_renders(verdict: Verdict) -> None:
    html = rep.to_html([DeviceReport("r1", "cisco_ios", verdict, error="e" if verdict == Verdict.ERROR else "")], META)
    assert f'class="badge v-{verdict}">{verdict}<' in html
