"""Every public real-world config in ``../shared/corpus/public/<dir>/*.cfg`` parses without an exception.

Unknown constructs must be reported (Unparsed / notes), never raised. Deferred (unattached) filters are
parsed too (:func:`resolve_all`), so every ACL entry of every file goes through its parser. The corpus exists
only in the developers' workspace: elsewhere these tests skip (and fail under OP25B_REQUIRE_LAB=1).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from op25b_cfg.audit.model import ParsedConfig
from op25b_cfg.audit.parsers import parse
from op25b_cfg.dialects.cisco import DeferredFilter
from tests.labutil import CORPUS, need_corpus

PLATFORM_OF_DIR = {
    "cisco_ios": "cisco_ios",
    "cisco_iosxr": "cisco_iosxr",
    "arista_eos": "arista_eos",
    "junos": "juniper_junos",
    "nftables": "linux_nftables",
}


def _files() -> list[tuple[str, Path]]:
    if not CORPUS.is_dir():
        return [(p, CORPUS / d / "<corpus missing>") for d, p in PLATFORM_OF_DIR.items()]
    return [(p, f) for d, p in PLATFORM_OF_DIR.items() for f in sorted((CORPUS / d).glob("*.cfg"))]


@pytest.mark.parametrize(("platform", "path"), _files(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_corpus_file_parses(platform: str, path: Path) -> None:
    need_corpus()
    text = path.read_bytes().decode("utf-8", errors="replace")
    parsed = parse(platform, text)
    assert isinstance(parsed, ParsedConfig) and parsed.platform == platform
    for flt in parsed.filters.values():
        assert isinstance(flt.rules, list)  # parses deferred filters; must not raise either
        assert not (isinstance(flt, DeferredFilter) and flt.deferred)
    for u in parsed.unparsed:
        assert u.line >= 1 and u.reason


def test_corpus_is_complete() -> None:
    """SOURCES.md promises these five folders; an empty one would silently test nothing."""
    need_corpus()
    for d in PLATFORM_OF_DIR:
        assert list((CORPUS / d).glob("*.cfg")), f"no corpus files for {d}"
