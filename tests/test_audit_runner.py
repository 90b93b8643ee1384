"""op25b_cfg.audit.runner: saved-config lookup and the per-device input checks (missing, empty, binary,
truncated), against the real parsers and engine on the sample inventory's saved running configs."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, SupportsIndex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from op25b_cfg import api
from op25b_cfg.audit import engine, runner
from op25b_cfg.audit.model import Code, Verdict
from op25b_cfg.dialects import junos, nft
from op25b_cfg.dialects.base import Lexicon, _quoted_rest, brace_balance
from op25b_cfg.errors import AuditError
from op25b_cfg.inventory import Device, Inventory
from tests.platform_data import sample_verdicts

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "inventory"
RUNNING = SAMPLE / "running"
EXPECTED = {name: Verdict(verdict) for name, verdict in sample_verdicts().items()}


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return api.load(SAMPLE)


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    """A copy of the sample saved configs the test may damage."""
    dst = tmp_path / "configs"
    shutil.copytree(RUNNING, dst)
    return dst


def _by_name(reports: list[runner.DeviceReport]) -> dict[str, runner.DeviceReport]:
    return {r.device: r for r in reports}


def test_sample_running_configs_verdicts(inv: Inventory) -> None:
    reports = _by_name(api.audit_saved(list(inv.devices.values()), RUNNING))
    assert {n: r.verdict for n, r in reports.items()} == EXPECTED, {n: r.error for n, r in reports.items()}
    ios = reports["bras-tyo-ios1"]
    leaks = [f for f in ios.findings if f.code == Code.SMTP_LEAK]
    assert leaks and all(f.family == 4 and f.pool == "DYN-TOKYO" and f.cause == "shadowed" for f in leaks)
    shadow = (RUNNING / "bras-tyo-ios1.cfg").read_text().splitlines().index(" permit tcp any any range ftp-data 30")
    assert shadow + 1 in leaks[0].lines
    assert leaks[0].counterexample is not None and leaks[0].counterexample.dst_port == 25
    mx = reports["bng-tyo-mx1"]
    blocking = [f for f in mx.findings if f.code != Code.DRIFT]
    assert blocking and all(f.family == 6 for f in blocking)
    for r in reports.values():
        assert r.source == str(RUNNING / f"{r.device}.cfg")
        assert r.checks


def test_candidate_names_order(inv: Inventory) -> None:
    dev = inv.devices["bras-tyo-ios1"]
    assert runner.candidate_names(dev) == [
        "bras-tyo-ios1",
        "bras-tyo-ios1.cfg",
        "bras-tyo-ios1.conf",
        "bras-tyo-ios1.txt",
        "bras-tyo-ios1.ios",
        "192.0.2.11",
        "192.0.2.11.cfg",
        "192.0.2.11.conf",
        "192.0.2.11.txt",
    ]


def test_lookup_prefers_bare_name_then_suffixes(inv: Inventory, tmp_path: Path) -> None:
    dev = inv.devices["bras-osa-xr1"]
    text = (RUNNING / "bras-osa-xr1.cfg").read_text()
    (tmp_path / "192.0.2.12.txt").write_text(text)
    assert runner.find_config(tmp_path, dev) == tmp_path / "192.0.2.12.txt"
    (tmp_path / "bras-osa-xr1.conf").write_text(text)
    assert runner.find_config(tmp_path, dev) == tmp_path / "bras-osa-xr1.conf"
    (tmp_path / "bras-osa-xr1").write_text(text)  # Oxidized: no extension
    assert runner.find_config(tmp_path, dev) == tmp_path / "bras-osa-xr1"
    report = api.audit_saved([dev], tmp_path)[0]
    assert report.verdict == Verdict.COMPLIANT
    assert report.source == str(tmp_path / "bras-osa-xr1")


def _full_check(configs_dir: Path, dev: Device) -> Path | str | None:
    """What find_config answered before its lstat shortcut: under() and is_file() for every candidate."""
    from op25b_cfg.paths import PathError, under

    try:
        for name in runner.candidate_names(dev):
            path = under(configs_dir, name)
            if path.is_file():
                return path
    except PathError as exc:
        return f"PathError: {exc}"
    return None


def _found(configs_dir: Path, dev: Device) -> Path | str | None:
    from op25b_cfg.paths import PathError

    try:
        return runner.find_config(configs_dir, dev)
    except PathError as exc:
        return f"PathError: {exc}"


KINDS = ("none", "file", "dir", "link-in", "link-out", "link-dangling", "link-dir")


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=9, max_size=9))
def test_lookup_same_as_the_full_check(
    inv: Inventory, tmp_path_factory: pytest.TempPathFactory, kinds: list[str]
) -> None:
    """Whatever each candidate name is (nothing, a file, a directory, a link inside, outside, dangling, to a
    directory), find_config answers what under() + is_file() answer, PathError included."""
    dev = inv.devices["bras-tyo-ios1"]
    root = tmp_path_factory.mktemp("lookup")
    configs, outside = root / "running", root / "outside.cfg"
    configs.mkdir()
    outside.write_text("hostname x\nend\n")
    (configs / "target.txt").write_text("hostname x\nend\n")
    (configs / "sub").mkdir()
    for name, kind in zip(runner.candidate_names(dev), kinds, strict=True):
        path = configs / name
        if kind == "file":
            path.write_text("hostname x\nend\n")
        elif kind == "dir":
            path.mkdir()
        elif kind == "link-in":
            path.symlink_to(configs / "target.txt")
        elif kind == "link-out":
            path.symlink_to(outside)
        elif kind == "link-dangling":
            path.symlink_to(configs / "missing")
        elif kind == "link-dir":
            path.symlink_to(configs / "sub")
    assert _found(configs, dev) == _full_check(configs, dev)


def test_generated_configs_are_found(inv: Inventory, tmp_path: Path) -> None:
    """`op25b generate -o DIR` output (<device>.<ext>) can be audited directly."""
    from op25b_cfg.platforms import get_platform

    api.generate(list(inv.devices.values()), tmp_path)
    reports = _by_name(api.audit_saved(list(inv.devices.values()), tmp_path))
    for name, r in reports.items():
        ext = get_platform(inv.devices[name].platform).file_extension
        assert r.source == str(tmp_path / f"{name}.{ext}")
        assert r.verdict != Verdict.ERROR, r.error
        assert not [f for f in r.findings if f.code in (Code.SMTP_LEAK, Code.FILTER_MISSING)], name


def test_missing_empty_binary_are_per_device_errors(inv: Inventory, configs: Path) -> None:
    (configs / "bras-tyo-ios1.cfg").unlink()
    (configs / "bras-osa-xr1.cfg").write_bytes(b"")
    (configs / "bng-tyo-mx1.cfg").write_bytes(b"\n  \n\t\n")
    (configs / "edge-osa-eos1.cfg").write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(200))
    reports = _by_name(api.audit_saved(list(inv.devices.values()), configs))
    assert list(reports) == list(EXPECTED)
    missing = reports["bras-tyo-ios1"]
    assert missing.verdict == Verdict.ERROR
    assert "no saved running config for bras-tyo-ios1" in missing.error
    assert "bras-tyo-ios1.cfg" in missing.error and "Fix:" in missing.error
    for name in ("bras-osa-xr1", "bng-tyo-mx1"):
        assert reports[name].verdict == Verdict.ERROR
        assert "empty file" in reports[name].error
        assert reports[name].error.startswith(str(configs / f"{name}.cfg"))
    assert reports["edge-osa-eos1"].verdict == Verdict.ERROR
    assert "binary" in reports["edge-osa-eos1"].error
    assert reports["bras-tyo-lnx1"].verdict == EXPECTED["bras-tyo-lnx1"]  # the others are still audited


def test_binary_detection() -> None:
    with pytest.raises(AuditError, match="NUL byte at offset 5"):
        runner.decode_config(b"host\n\x00rest", "f")
    noise = bytes(range(1, 32)) * 20
    with pytest.raises(AuditError, match="binary or undecodable"):
        runner.decode_config(noise, "f")
    with pytest.raises(AuditError, match="binary or undecodable"):
        runner.decode_config(b"\xff\xfe\xfd\xfc" * 50, "f")


def test_non_utf8_banner_is_read(inv: Inventory, configs: Path) -> None:
    """A Latin-1 / Shift_JIS byte in a banner cannot change an ACL: the file is audited, not refused."""
    path = configs / "bras-osa-xr1.cfg"
    text = path.read_bytes().replace(
        b"hostname bras-osa-xr1\n", b"hostname bras-osa-xr1\nbanner motd ^Caf\xe9 \x93\x8c\x8b\x9e^C\n"
    )
    path.write_bytes(text)
    report = api.audit_saved([inv.devices["bras-osa-xr1"]], configs)[0]
    assert report.verdict == Verdict.COMPLIANT, report.error


def test_crlf_and_bom_are_accepted(inv: Inventory, configs: Path) -> None:
    path = configs / "edge-osa-eos1.cfg"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    report = api.audit_saved([inv.devices["edge-osa-eos1"]], configs)[0]
    assert report.verdict == Verdict.COMPLIANT, report.error


def _cut(path: Path, keep: float) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: int(len(lines) * keep)]))


@pytest.mark.parametrize(
    ("device", "expect"),
    [
        ("bras-tyo-ios1", "not 'end': the file looks truncated"),
        ("bras-osa-xr1", "not 'end': the file looks truncated"),
        ("edge-osa-eos1", "not 'end': the file looks truncated"),
        ("bng-tyo-mx1", "unclosed '{' at the end of the file: the configuration looks truncated"),
        ("bras-tyo-lnx1", "unclosed '{' at the end of the file: the ruleset looks truncated"),
    ],
)
def test_truncated_configs_are_errors(inv: Inventory, configs: Path, device: str, expect: str) -> None:
    _cut(configs / f"{device}.cfg", 0.6)
    report = api.audit_saved([inv.devices[device]], configs)[0]
    assert report.verdict == Verdict.ERROR
    assert expect in report.error
    assert "Fix: save the complete running config" in report.error


def test_truncation_checks_ignore_braces_in_strings_and_comments() -> None:
    junos = 'system {\n    host-name "r{1";\n    /* } */\n    ## }\n}\n'
    assert runner.truncation_problem("juniper_junos", junos) is None
    assert "unbalanced '}' at line 2" in str(runner.truncation_problem("juniper_junos", "a {\n}}\n"))
    nft = 'table inet t {\n  chain c {\n    accept comment "{"  # }\n  }\n}\n'
    assert runner.truncation_problem("linux_nftables", nft) is None
    assert (
        runner.truncation_problem("juniper_junos", "set system host-name r1\nset interfaces ge-0/0/0 unit 0\n") is None
    )
    assert runner.truncation_problem("cisco_ios", "hostname r1\n!\nend\n!\n\nr1#\n") is None
    assert runner.truncation_problem("cisco_ios", "! only\n!\n") == "no configuration lines (only comments)"


def _brace_balance_by_character(text: str, token_start: bool, blocks: bool = True) -> tuple[int, int | None]:
    """The specification of dialects.base.brace_balance, one character at a time (the implementation it replaced,
    which cost more than parsing a Junos config): braces outside quoted strings (to the closing quote or the
    end of the line, backslash escapes), ``/* */`` comments (across lines; with ``blocks``) and ``#`` comments (with
    ``token_start``, as Junos reads them, only a ``#`` at a token's start: not inside a word)."""
    depth, in_block = 0, False
    for lineno, line in enumerate(text.split("\n"), 1):
        i, in_quote, after_mask = 0, False, True
        while i < len(line):
            c = line[i]
            if in_block:
                if line.startswith("*/", i):
                    in_block, i, after_mask = False, i + 1, True
            elif in_quote:
                if c == "\\":
                    i += 1
                elif c == '"':
                    in_quote, after_mask = False, True
            elif c == '"':
                in_quote = True
            elif blocks and line.startswith("/*", i):
                in_block, i = True, i + 1
            elif c == "#" and (not token_start or after_mask or line[i - 1] in " {};"):
                break
            else:
                after_mask = False
                if c in "{}":
                    depth += 1 if c == "{" else -1
                    if depth < 0:
                        return depth, lineno
            i += 1
    return depth, None


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.text(alphabet='{}"#/*\\\n ab', max_size=60), st.sampled_from(["junos", "nft", "both comments"]))
def test_brace_scan_matches_the_character_walk(text: str, rules: str) -> None:
    """The Junos reader's rules (``#`` at a token's start, ``/* */``), the nftables reader's (``#`` anywhere, no
    block comments) and both kinds of comment anywhere."""
    lex = {"junos": junos.LEXICON, "nft": nft.LEXICON, "both comments": Lexicon()}[rules]
    walk = _brace_balance_by_character(text, token_start=rules == "junos", blocks=rules != "nft")
    assert brace_balance(text, lex) == walk


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.text(alphabet="\"'\\\nab{", max_size=40), st.sampled_from(['"', "'"]))
def test_quoted_string_end_matches_the_alternation(text: str, quote: str) -> None:
    """The unrolled pattern that finds a quoted string's end gives the end the plain alternation gives."""
    q = re.escape(quote)
    plain = re.compile(rf"(?:[^{q}\\\n]|\\.)*{q}?")
    for start in range(len(text) + 1):
        assert _quoted_rest(quote).match(text, start).end() == plain.match(text, start).end()  # type: ignore[union-attr]


def test_brace_scan_on_a_junos_config_with_strings_and_comments() -> None:
    text = (
        '/* header { */\nsystem {\n    host-name r1; # {\n    login {\n        message "a } \\" {";\n'
        "    }\n}\ninterfaces {\n    /* two\n    lines } */\n    ge-0/0/0 {\n"
    )
    assert brace_balance(text, junos.LEXICON) == (2, None)
    assert brace_balance(text + "    }\n}\n}\n", junos.LEXICON) == (-1, 14)


def test_truncation_message_redacts_the_last_line(inv: Inventory, configs: Path) -> None:
    path = configs / "bras-tyo-ios1.cfg"
    path.write_text("hostname bras-tyo-ios1\nsnmp-server community TopS3cret RO\n")
    report = api.audit_saved([inv.devices["bras-tyo-ios1"]], configs)[0]
    assert report.verdict == Verdict.ERROR
    assert "TopS3cret" not in report.error and "<redacted>" in report.error


def test_configs_dir_must_exist(inv: Inventory, tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="not a directory of saved running configs"):
        api.audit_saved(list(inv.devices.values()), tmp_path / "nope")


def test_live_entry_point_gives_the_same_verdict(inv: Inventory) -> None:
    """The live path (`--live`, push post-check) calls audit_text with the fetched text and a 'live' source."""
    dev = inv.devices["bras-tyo-ios1"]
    text = (RUNNING / "bras-tyo-ios1.cfg").read_text()
    live = api.audit_text(dev, text, "live 192.0.2.11")
    saved = api.audit_saved([dev], RUNNING)[0]
    assert live.source == "live 192.0.2.11"
    assert live.verdict == saved.verdict == Verdict.NONCOMPLIANT
    assert [f.code for f in live.findings] == [f.code for f in saved.findings]
    cut = api.audit_text(dev, text[: len(text) // 2], "live 192.0.2.11")
    assert cut.verdict == Verdict.ERROR and cut.error.startswith("live 192.0.2.11: ")


def test_engine_bug_is_isolated_to_its_device(inv: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception (a bug) in the engine becomes an ERROR for that device only, without the
    exception text (which could quote config and secrets)."""
    real = engine.audit_text

    def buggy(device: Device, text: str, source: str = "") -> runner.DeviceReport:
        if device.name == "bras-osa-xr1":
            raise RuntimeError("boom: snmp-server community Osk-ro-2025 RO")
        return real(device, text, source)

    monkeypatch.setattr(engine, "audit_text", buggy)
    reports = _by_name(api.audit_saved(list(inv.devices.values()), RUNNING))
    bad = reports["bras-osa-xr1"]
    assert bad.verdict == Verdict.ERROR
    assert "internal error in op25b (RuntimeError at test_audit_runner.py:" in bad.error
    assert "Osk-ro-2025" not in bad.error
    assert reports["edge-osa-eos1"].verdict == Verdict.COMPLIANT


def _many(inv: Inventory, tmp_path: Path, copies: int) -> tuple[list[Device], Path]:
    """``copies`` devices per sample device (names ``<name>-<i>``), each with its sample config saved."""
    import dataclasses

    configs = tmp_path / "many"
    configs.mkdir()
    devices = []
    for i in range(copies):
        for dev in inv.devices.values():
            clone = dataclasses.replace(dev, name=f"{dev.name}-{i}")
            shutil.copy(RUNNING / f"{dev.name}.cfg", configs / f"{clone.name}.cfg")
            devices.append(clone)
    return devices, configs


def _summary(reports: list[runner.DeviceReport]) -> list[tuple[str, str, list[str], str]]:
    return [(r.device, str(r.verdict), sorted(str(f.code) for f in r.findings), r.error) for r in reports]


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_process_pool_gives_the_same_reports_in_inventory_order(inv: Inventory, tmp_path: Path, method: str) -> None:
    devices, configs = _many(inv, tmp_path, 3)
    (configs / "bras-osa-xr1-1.cfg").unlink()  # a missing file is an ERROR report from a worker too
    alone = api.audit_saved(devices, configs, workers=1)
    pooled = list(runner._pooled(devices, configs, 2, method))
    assert [r.device for r in pooled] == [d.name for d in devices]
    assert _summary(pooled) == _summary(alone)
    assert {r.verdict for r in pooled} == {Verdict.COMPLIANT, Verdict.NONCOMPLIANT, Verdict.ERROR}


def test_forked_workers_read_their_devices_from_memory(
    inv: Inventory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under ``fork`` a chunk is sent as its bounds: the workers inherited the devices, none is pickled."""
    devices, configs = _many(inv, tmp_path, 3)
    alone = api.audit_saved(devices, configs, workers=1)

    pickled: list[str] = []
    reduce_ex = Device.__reduce_ex__

    def counted(self: Device, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        pickled.append(self.name)
        return reduce_ex(self, protocol)

    monkeypatch.setattr(Device, "__reduce_ex__", counted)
    pooled = list(runner._pooled(devices, configs, 2, "fork"))
    assert _summary(pooled) == _summary(alone)
    assert pickled == []
    assert not runner._FORKED  # not kept after the pool


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_workers_freeze_what_they_start_with(method: str) -> None:
    """The pool's workers move what they inherit or import at start out of the collector's reach (gc.freeze):
    the collection after each chunk then walks only that chunk's survivors."""
    import gc
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context(method)
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=runner._init_worker, initargs=(None,)) as pool:
        assert pool.submit(gc.get_freeze_count).result() > 1000


def test_forked_workers_collect_while_the_parent_pauses() -> None:
    """api.write_audit_report pauses the collector while the pool streams; workers forked meanwhile turn it on."""
    import gc
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from op25b_cfg.gc_pause import paused_gc

    ctx = multiprocessing.get_context("fork")
    with paused_gc(), ProcessPoolExecutor(1, mp_context=ctx, initializer=runner._init_worker, initargs=(None,)) as pool:
        assert pool.submit(gc.isenabled).result()


def test_pool_only_for_enough_configs() -> None:
    assert runner.audit_workers(1) == runner.audit_workers(runner.POOL_MIN_CONFIGS - 1) == 1
    assert 1 <= runner.audit_workers(10 * runner.POOL_MIN_CONFIGS) <= len(os.sched_getaffinity(0))


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f\ufffd]")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=80).filter(lambda b: b"\x00" not in b and b.strip()))
def test_binary_check_counts_what_the_character_regex_counts(data: bytes) -> None:
    """decode_config counts control bytes on the bytes; the verdict is the one of counting the decoded
    characters with a regex (what it did before, at 50 ms per 60k-line config)."""
    text = data.decode("utf-8-sig", errors="replace")
    refused = len(_CONTROL_CHARS.findall(text)) > max(1.0, runner.BINARY_RATIO * len(text))
    try:
        got = runner.decode_config(data, "f.cfg")
    except AuditError:
        assert refused
    else:
        assert not refused
        assert got == text.replace("\r\n", "\n").replace("\r", "\n")
