"""Where each platform's test data lives: ``tests/platforms/<platform>/{golden,parser_cases,audit_cases}/``.

A new platform brings its own folder; a new case folder is a new test. ``tests/platforms/_policies/`` holds the
policies the golden cases share.
"""

from __future__ import annotations

from pathlib import Path

PLATFORM_DATA = Path(__file__).resolve().parent / "platforms"
KINDS = ("golden", "parser_cases", "audit_cases")


def data_dir(platform: str, kind: str) -> Path:
    """The folder of one kind of test data (``golden``, ``parser_cases``, ``audit_cases``) of one platform."""
    assert kind in KINDS, kind
    return PLATFORM_DATA / platform / kind


def platforms_with_data() -> list[str]:
    """The platforms that have a test-data folder (``_``-prefixed folders are shared data)."""
    return sorted(p.name for p in PLATFORM_DATA.iterdir() if p.is_dir() and not p.name.startswith("_"))
