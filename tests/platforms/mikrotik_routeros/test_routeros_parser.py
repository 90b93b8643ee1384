"""mikrotik_routeros parser: data-driven cases (``parser_cases/<case>/config`` + ``expected.json``; a new folder is a
new test, ``pytest --update-golden`` rewrites expected.json), and the rendered intent audited back in every mode."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from op25b_cfg import api
from op25b_cfg.audit.model import Code, ParsedConfig, Verdict
from op25b_cfg.inventory import Device
from op25b_cfg.platforms import get_platform
from op25b_cfg.platforms.mikrotik_routeros.parser import (
    _read,
    _read_menu,
    _walk,
    commands,
    commands_of,
    last_command,
    logical_lines,
    tokens,
)
from tests.platform_data import data_dir

PLATFORM = "mikrotik_routeros"
REPO = Path(__file__).resolve().parents[3]
CASES = sorted(p for p in data_dir(PLATFORM, "parser_cases").iterdir() if (p / "config").is_file())


def dump(pc: ParsedConfig) -> dict[str, Any]:
    def rule(f: Any, pos: int, r: Any) -> dict[str, Any]:
        d: dict[str, Any] = {"line": r.line, "action": str(r.action), "protocol": r.protocol}
        for key in ("src", "dst", "src_except", "dst_except", "src_ports", "dst_ports"):
            if getattr(r, key):
                d[key] = [str(x) for x in getattr(r, key)]
        if r.tcp_flags:
            d["tcp_flags"] = [list(x) for x in r.tcp_flags]
        if r.limit is not None:
            d["limit"] = dataclasses.asdict(r.limit)
        call = f.calls.get(pos)
        if call is not None:
            d["call"] = [call.verdict, call.target.name if call.target else None]
        return d

    return {
        "filters": [
            {
                "name": f.name,
                "family": fam,
                "default": str(f.default),
                "rules": [rule(f, i, r) for i, r in enumerate(f.rules)],
            }
            for (fam, _), f in pc.filters.items()
        ],
        "bindings": [[b.kind, b.name, b.family, list(b.filters), b.line] for b in pc.bindings],
        "flow": [dataclasses.asdict(x) | {"text": None} for x in pc.flow],
        "unparsed": sorted({(u.line, u.filter or "", u.reason) for u in pc.unparsed}),
        "notes": pc.notes,
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_parser_case(case: Path, update_golden: bool) -> None:
    got = json.loads(json.dumps(dump(get_platform(PLATFORM).parse((case / "config").read_text()))))
    exp = case / "expected.json"
    if update_golden:
        exp.write_text(json.dumps(got, indent=1) + "\n")
    assert exp.exists(), f"{exp} missing: create it with --update-golden and review it"
    assert got == json.loads(exp.read_text())


def test_continuation_and_quotes() -> None:
    assert logical_lines('add a="x \\\n    y" b=1\n') == [(1, 'add a="x y" b=1')]
    assert tokens('add comment="say \\"hi\\"" x=1') == ["add", 'comment=say "hi"', "x=1"]
    with pytest.raises(ValueError):
        tokens('add comment="open')


def test_parser_never_raises_on_garbage() -> None:
    plat = get_platform(PLATFORM)
    for text in (
        "",
        "\\",
        '/ip firewall filter\nadd chain="',
        "/ip firewall filter add chain=forward action=jump "
        "jump-target=a\n/ip firewall filter add chain=a action=jump jump-target=forward\n",
        "\x00\xff" * 50,
    ):
        plat.parse(text)


def _sample(mode: str) -> Device:
    inv = api.load(REPO / "inventory")
    dev = inv.devices["bras-osa-ros1"]
    pools = dev.pools if mode != "flow-control" else tuple(p for p in dev.pools if p.ipv4)
    return dataclasses.replace(dev, mode=mode, pools=pools)


@pytest.mark.parametrize("mode", ["block", "targeted", "flow-control"])
def test_rendered_intent_audits_compliant(mode: str) -> None:
    """parse(render(intent)) is COMPLIANT with no drift, in every mode."""
    dev = _sample(mode)
    rep = api.audit_text(dev, get_platform(PLATFORM).render(dev))
    assert rep.verdict is Verdict.COMPLIANT, [f.message for f in rep.findings]
    assert not [f for f in rep.findings if f.code is Code.DRIFT]


def test_disabled_reject_is_a_leak() -> None:
    """``disabled=yes`` on op25b's reject: the rule does not exist for the packet path."""
    dev = _sample("block")
    text = get_platform(PLATFORM).render(dev)
    leaked = text.replace("add action=reject chain=OP25B-V4", "add action=reject disabled=yes chain=OP25B-V4")
    rep = api.audit_text(dev, leaked)
    assert rep.verdict is Verdict.NONCOMPLIANT
    assert [f.family for f in rep.findings if f.code is Code.SMTP_LEAK] == [4]


@pytest.mark.parametrize(
    ("attach", "words"),
    [
        ([{"kind": "interface-list", "name": "a"}, {"kind": "interface", "name": "vlan1"}], "one interface list"),
        ([{"kind": "interface-list", "name": "a"}, {"kind": "interface-list", "name": "b"}], "one interface list"),
        ([{"kind": "interface", "name": "vlan1", "direction": "out"}], "direction out"),
        ([{"kind": "virtual-template", "name": "Virtual-Template1"}], "cannot attach"),
    ],
)
def test_refused_attachments_name_the_fix(attach: list[dict[str, str]], words: str) -> None:
    from op25b_cfg.errors import PlatformError
    from op25b_cfg.inventory import Attachment

    dev = dataclasses.replace(_sample("block"), attach=tuple(Attachment(**a) for a in attach))  # type: ignore[arg-type]
    with pytest.raises(PlatformError, match=words) as err:
        get_platform(PLATFORM).check(dev)
    assert "Fix: " in str(err.value)


def test_truncated_export_is_refused() -> None:
    plat = get_platform(PLATFORM)
    assert plat.truncation_problem('/ip firewall filter\nadd chain=forward comment="cut') is not None
    assert plat.truncation_problem("/ip firewall filter\nadd chain=forward \\\n") is not None
    assert plat.truncation_problem((REPO / "inventory" / "running" / "bras-osa-ros1.cfg").read_text()) is None


def test_line_numbers_count_newlines_only() -> None:
    """A form feed or U+2028 inside a line is not a line break: reported lines exist in the file."""
    text = (
        "/ip firewall filter\nadd chain=forward comment=a\x0cb action=bogus\u2028x\nadd chain=forward action=bogus2\n"
    )
    pc = get_platform(PLATFORM).parse(
        text + "/interface list add name=l\n/ip firewall filter add chain=forward in-interface-list=l action=mark\n"
    )
    assert pc.unparsed and all(1 <= u.line <= 5 for u in pc.unparsed), [(u.line, u.reason) for u in pc.unparsed]


@given(st.text(alphabet=st.sampled_from(' \t\x0b\x0c\x1c\x85\xa0\u2003\u3000ab=/[]\\$_#"'), max_size=40) | st.text())
def test_split_fast_path_equals_the_character_walk(line: str) -> None:
    """A line without quotes is split on blanks (escapes act only inside quotes): same words as the walk, for
    every Unicode blank."""
    try:
        walked: list[str] | str = _walk(line)
    except ValueError as exc:
        walked = str(exc)
    try:
        got: list[str] | str = tokens(line)
    except ValueError as exc:
        got = str(exc)
    assert got == walked


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_last_command_from_the_last_menu_line_equals_the_whole_pass(case: Path) -> None:
    """The truncation check reads only the commands after the last menu path line: for every prefix of every
    case config (a cut after each line), its last command is the whole pass's last command."""
    lines = (case / "config").read_text(encoding="utf-8").split("\n")
    for cut in range(1, len(lines) + 1):
        text = "\n".join(lines[:cut])
        whole = commands(text)[0]
        assert last_command(logical_lines(text)) == (whole[-1] if whole else None), cut


EXPORTS = sorted(
    [
        *(c / "config" for c in CASES),
        *data_dir(PLATFORM, "audit_cases").glob("*/running.cfg"),
        *data_dir(PLATFORM, "golden").glob("*/expected.rsc"),
    ]
)
_LINES = st.sampled_from(
    [
        "/ip route",
        "add dst-address=10.0.0.0/8 gateway=192.0.2.1",
        'add comment="a \\"b" dst-address=10.1.0.0/16',
        'add comment="open',
        "/ip dhcp-server",
        "add address-pool=p address-list=SUBS name=d1",
        "/ip firewall filter",
        "add action=drop chain=forward dst-port=25 protocol=tcp src-address-list=SUBS",
        "/ip firewall address-list",
        "add address=100.64.0.0/10 list=SUBS",
        "/interface list member",
        "add interface=ether2 list=LAN",
        "/ppp profile",
        "set default interface-list=LAN",
        ":put x",
        "/ip route add dst-address=0.0.0.0/0 gateway=192.0.2.1",
    ]
)


def _model(text: str, menus: Callable[[tuple[str, ...]], bool] | None) -> tuple[object, ...]:
    cmds, bad = commands_of(logical_lines(text), menus)
    return _read(cmds), bad


@pytest.mark.parametrize("path", EXPORTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_leaving_out_unread_menus_reads_the_same_model(path: Path) -> None:
    """The parser leaves out the commands of menus it does not read: every case export gives the same model
    (rules, lists, interfaces, dynamic lists) and the same lines not read as the full pass."""
    text = path.read_text(encoding="utf-8")
    assert _model(text, _read_menu) == _model(text, None)


@given(st.lists(_LINES, max_size=12))
def test_leaving_out_unread_menus_reads_the_same_model_in_any_order(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert _model(text, _read_menu) == _model(text, None)


@pytest.mark.parametrize("case", ["block", "flow_control"])
def test_each_log_rule_logs_what_the_next_rule_refuses(case: str) -> None:
    """Every rendered ``action=log`` rule sits right before a reject that matches the very same packets (the
    limit's connection-limit included), so its lines are the refused connections, never the ones let through."""
    text = (data_dir("mikrotik_routeros", "golden") / case / "expected.rsc").read_text(encoding="utf-8")
    adds = [
        dict(w.split("=", 1) for w in tokens(t)[1:] if "=" in w) for _, t in logical_lines(text) if t.startswith("add ")
    ]
    verdict_free = {"action", "comment", "limit", "log-prefix", "reject-with"}
    logs = [i for i, p in enumerate(adds) if p.get("action") == "log"]
    assert logs
    for i in logs:
        log, nxt = adds[i], adds[i + 1]
        assert nxt["action"] == "reject", (log, nxt)
        assert {k: v for k, v in log.items() if k not in verdict_free} == {
            k: v for k, v in nxt.items() if k not in verdict_free
        }, (log, nxt)
