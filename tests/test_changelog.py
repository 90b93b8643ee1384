"""The append-only JSON-lines change log (op25b_cfg.changelog)."""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path

import pytest

from op25b_cfg.changelog import ChangeLog, ChangeLogError, sha256


def test_append_only_one_json_object_per_line(tmp_path: Path) -> None:
    log = ChangeLog(tmp_path / "logs" / "changes.jsonl")
    log.prepare()
    log.append({"device": "r1", "result": "committed", "diff_sha256": sha256("+x")})
    log.append({"device": "r2", "result": "failed", "error": "boom"})
    lines = log.path.read_text().splitlines()
    assert [json.loads(x)["device"] for x in lines] == ["r1", "r2"]
    rec = json.loads(lines[0])
    assert rec["schema"] == "op25b.change/1" and rec["ts"].endswith("+00:00")
    assert rec["diff_sha256"] == sha256("+x") and len(rec["diff_sha256"]) == 64
    assert sha256("") is None
    ChangeLog(log.path).append({"device": "r3"})  # a new run appends, never truncates
    assert [r["device"] for r in log.records()] == ["r1", "r2", "r3"]


def test_text_fields_are_redacted(tmp_path: Path) -> None:
    log = ChangeLog(tmp_path / "c.jsonl")
    log.append({"device": "r1", "error": "rejected: snmp-server community Pr1vateRW RW", "state": "x"})
    text = log.path.read_text()
    assert "Pr1vateRW" not in text and "<redacted>" in text


@pytest.mark.parametrize("kept_open", [False, True])
def test_concurrent_appends_never_interleave(tmp_path: Path, kept_open: bool) -> None:
    """8 threads of this log plus a second ChangeLog on the same file (another op25b run) append at once."""
    log, other = ChangeLog(tmp_path / "c.jsonl"), ChangeLog(tmp_path / "c.jsonl")

    def writer(n: int) -> None:
        for i in range(50):
            (other if n == 0 else log).append({"device": f"d{n}-{i}", "pad": "x" * 30000})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    with log if kept_open else contextlib.nullcontext():
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        lines = log.path.read_text().splitlines()  # written through, not buffered until the block ends
    assert len(lines) == 400
    assert len({json.loads(x)["device"] for x in lines}) == 400
    if kept_open:
        assert log._fd is None  # closed at the end of the block
        log.append({"device": "after"})  # and appending still works (open, write, close)
        assert list(log.records())[-1]["device"] == "after"


def test_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ChangeLogError) as ei:
        ChangeLog(blocker / "changes.jsonl").prepare()
    assert "--changelog" in str(ei.value)


def test_records_skip_garbage_lines(tmp_path: Path) -> None:
    p = tmp_path / "c.jsonl"
    p.write_text('{"device": "a"}\nnot json\n[1, 2]\n\n{"device": "b"}\n')
    assert [r["device"] for r in ChangeLog(p).records()] == ["a", "b"]
