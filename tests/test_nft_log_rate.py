"""Issue 9 item 15: on nftables the block rule's log is rate-limited; the reject itself never is.

The golden files are what ``op25b generate`` renders (``tests/test_golden.py`` proves it); ``tests/test_nft_syntax.py``
loads them into a real kernel and ``tests/test_roundtrip.py`` audits them COMPLIANT.
"""

from __future__ import annotations

from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "platforms" / "linux_nftables" / "golden"
CASES = sorted(p for p in GOLDEN.glob("*/expected.nft"))
VERDICTS = (" accept", " drop", " reject", " continue", " jump ", " goto ", " return")


@pytest.mark.parametrize("path", CASES, ids=[p.parent.name for p in CASES])
def test_every_log_statement_is_rate_limited(path: Path) -> None:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    logged = [i for i, line in enumerate(lines) if " log prefix " in line and "op25b-block" in line]
    for i in logged:
        line = lines[i]
        assert " limit rate " in line and line.index(" limit rate ") < line.index(" log "), line
        assert not any(v in line for v in VERDICTS), f"the log rule must not decide: {line}"
        match = line.split(" limit rate ")[0]
        deny = lines[i + 1]
        assert deny.startswith(match + " counter reject") or deny.startswith(match + " reject"), deny
        assert " limit " not in deny and " log " not in deny  # the reject is never rate-limited


def test_block_golden_logs() -> None:
    assert any(" log prefix " in p.read_text() for p in CASES if p.parent.name == "block")
