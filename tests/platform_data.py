"""Where each platform's test data lives: ``tests/platforms/<platform>/{golden,parser_cases,audit_cases}/``.

A new platform brings its own folder; a new case folder is a new test. ``tests/platforms/_policies/`` holds the
policies the golden cases share.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from op25b_cfg.audit.model import FlowControlSeen

PLATFORM_DATA = Path(__file__).resolve().parent / "platforms"
KINDS = ("golden", "parser_cases", "audit_cases")


def data_dir(platform: str, kind: str) -> Path:
    """The folder of one kind of test data (``golden``, ``parser_cases``, ``audit_cases``) of one platform."""
    assert kind in KINDS, kind
    return PLATFORM_DATA / platform / kind


def platforms_with_data() -> list[str]:
    """The platforms that have a test-data folder (``_``-prefixed folders are shared data)."""
    return sorted(p.name for p in PLATFORM_DATA.iterdir() if p.is_dir() and not p.name.startswith("_"))


def flow_summary(flow: FlowControlSeen) -> dict[str, Any]:
    """A flow-control construct as parser-case ``expected.json`` files hold it: its fields, the connection delay
    (nftables) only where one was found, as in the plan document."""
    return {k: v for k, v in asdict(flow).items() if v is not None or k != "connect_delay_s"}
