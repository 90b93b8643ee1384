"""cisco_ios running-config parser: data-driven cases, round trip of op25b's own output, focused semantics.

Case folders: ``tests/platforms/cisco_ios/parser_cases/<case>/config`` + ``expected.json`` (a new folder is a new test).
``pytest --update-golden`` rewrites expected.json from the parser; review the diff before committing it.
The helpers here (:func:`dump`, :func:`run_case`, :func:`atoms`) are shared by the XR and EOS tests.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from op25b_cfg import api
from op25b_cfg.audit.model import ParsedConfig
from op25b_cfg.audit.parsers import parse
from op25b_cfg.dialects.cisco import DeferredFilter, resolve_all
from op25b_cfg.inventory import Device, Mode
from op25b_cfg.rules import ACK, RST, SYN, Action, Rule
from tests.platform_data import data_dir, flow_summary

REPO = Path(__file__).resolve().parent.parent
PLATFORM = "cisco_ios"


# ----------------------------------------------------------------------------- shared helpers


def rule_dict(r: Rule) -> dict[str, Any]:
    """A rule as JSON: always action/protocol/line, other fields only where they are not the default."""
    d: dict[str, Any] = {"action": str(r.action), "protocol": r.protocol}
    if r.src:
        d["src"] = [str(a) for a in r.src]
    if r.dst:
        d["dst"] = [str(a) for a in r.dst]
    if r.src_ports:
        d["src_ports"] = [str(p) for p in r.src_ports]
    if r.dst_ports:
        d["dst_ports"] = [str(p) for p in r.dst_ports]
    if r.tcp_flags:
        d["tcp_flags"] = [[m, v] for m, v in r.tcp_flags]
    if r.log:
        d["log"] = True
    if r.src_set:
        d["src_set"] = r.src_set
    if r.dst_set:
        d["dst_set"] = r.dst_set
    if r.limit is not None:
        d["limit"] = [r.limit.new_per_second, r.limit.burst]
    if r.name:
        d["name"] = r.name
    if r.remark:
        d["remark"] = r.remark
    d["line"] = r.line
    return d


def dump(parsed: ParsedConfig) -> dict[str, Any]:
    """Everything a case checks, as JSON (deferred filters are parsed first, so ``unparsed`` is complete)."""
    resolve_all(parsed)
    return {
        "filters": [
            {
                "name": f.name,
                "family": f.family,
                "kind": f.kind,
                "default": str(f.default),
                "line": f.line,
                "rules": [rule_dict(r) for r in f.rules],
            }
            for f in parsed.filters.values()
        ],
        "bindings": [dataclasses.asdict(b) | {"filters": list(b.filters)} for b in parsed.bindings],
        "flow": [flow_summary(f) for f in parsed.flow],
        "unparsed": [{"line": u.line, "filter": u.filter, "text": u.text} for u in parsed.unparsed],
    }


def case_dirs(platform: str) -> list[Path]:
    return sorted(p for p in data_dir(platform, "parser_cases").iterdir() if (p / "config").is_file())


def run_case(platform: str, case: Path, update: bool) -> None:
    """Parse ``case/config`` and compare with ``case/expected.json`` (or rewrite it under --update-golden)."""
    text = (case / "config").read_bytes().decode("utf-8", errors="replace")
    got = dump(parse(platform, text))
    exp_file = case / "expected.json"
    if update or not exp_file.exists():
        exp_file.write_text(json.dumps(got, indent=1) + "\n")
        if not update:
            pytest.fail(f"{exp_file} did not exist; written from the parser: review it")
    expected = json.loads(exp_file.read_text())
    assert got == expected


def atoms(rules: list[Rule] | tuple[Rule, ...]) -> list[tuple[object, ...]]:
    """Rules as single-source/destination/port atoms (what an ACL line can say), for comparing a plan with
    what was parsed back from its rendering."""
    out: list[tuple[object, ...]] = []
    for r in rules:
        for s in r.src or (None,):
            for d in r.dst or (None,):
                for p in r.dst_ports or (None,):
                    out.append((r.action, r.protocol, str(s), str(d), str(p), r.tcp_flags))
    return out


def sample_device(platform: str, mode: Mode) -> Device:
    """The sample inventory's device of ``platform``, switched to ``mode``."""
    inv = api.load(REPO / "inventory")
    dev = next(d for d in inv.select() if d.platform == platform)
    fc = dev.flow_control.model_copy(update={"max_sessions": None})
    return dataclasses.replace(dev, mode=mode, flow_control=fc)


def check_round_trip(platform: str, mode: Mode) -> ParsedConfig:
    """Render the sample device in ``mode``, parse it back: the filters hold the plan's rules in order, each
    attachment is bound with the right filter per family, nothing is unparsed."""
    dev = sample_device(platform, mode)
    text = api.render(dev)
    parsed = parse(platform, text)
    plan = api.plan(dev)
    assert parsed.unparsed == []
    for fam in plan.families:
        flt = parsed.filter(fam, plan.filter_name(fam))
        assert flt is not None
        assert not isinstance(flt, DeferredFilter)  # attached filters are parsed at once
        assert atoms(flt.rules) == atoms(plan.family_rules(fam))
        for att in dev.attach:
            got = [b for b in parsed.bindings if (b.kind, b.name, b.family) == (att.kind, att.name, fam)]
            assert [(b.direction, b.filters) for b in got] == [(att.direction, (plan.filter_name(fam),))]
    return parsed


# ----------------------------------------------------------------------------- cases


@pytest.mark.parametrize("case", case_dirs(PLATFORM), ids=lambda p: p.name)
def test_case(case: Path, update_golden: bool) -> None:
    run_case(PLATFORM, case, update_golden)


# ----------------------------------------------------------------------------- op25b's own output


@pytest.mark.parametrize("mode", ["block", "targeted"])
def test_round_trip_generator_output(mode: Mode) -> None:
    parsed = check_round_trip(PLATFORM, mode)
    assert all(b.in_use is False for b in parsed.bindings)  # the rendered snippet has no bba-group


def test_round_trip_flow_control() -> None:
    """Flow-control: the class ACL reads as the plan's port-25 rules (exempt/MTA pass, pool SYNs are limited,
    everything else passes), bound through the service-policy, with the policer's values."""
    dev = sample_device(PLATFORM, "flow-control")
    text = api.render(dev)
    parsed = parse(PLATFORM, text)
    plan = api.plan(dev)
    assert parsed.unparsed == []
    for fam in plan.families:
        flt = parsed.filter(fam, plan.filter_name(fam))
        assert flt is not None and flt.kind == "class-map" and flt.default is Action.PERMIT
        want = [r for r in plan.family_rules(fam) if r.action is Action.LIMIT or any(25 in p for p in r.dst_ports)]
        assert atoms(flt.rules) == atoms(want)
        limited = [r for r in flt.rules if r.action is Action.LIMIT]
        assert limited and all(r.limit is not None and r.limit.new_per_second == 1 for r in limited)
        (seen,) = [f for f in parsed.flow if f.family == fam]
        assert (seen.binding_kind, seen.binding_name, seen.direction) == ("virtual-template", "Virtual-Template1", "in")
        assert (seen.new_per_second, seen.burst) == (dev.flow_control.new_per_second, dev.flow_control.burst)
        assert [b.filters for b in parsed.bindings if b.family == fam] == [(plan.filter_name(fam),)]


# ----------------------------------------------------------------------------- semantics


def _rules(text: str, name: str = "T", family: int = 4) -> list[Rule]:
    parsed = parse(PLATFORM, text)
    flt = parsed.filter(family, name)
    assert flt is not None, parsed
    return flt.rules


def test_non_contiguous_wildcard_matches_exactly() -> None:
    (r,) = _rules("ip access-list extended T\n deny tcp 10.0.0.1 0.255.255.0 any eq smtp\n")
    (src,) = r.src
    assert not src.is_prefix
    assert src.matches(0x0A_11_22_01) and src.matches(0x0A_FF_00_01)
    assert not src.matches(0x0A_11_22_02) and not src.matches(0x0B_00_00_01)
    assert r.dst_ports[0].lo == 25


def test_port_operators_expand_to_ranges() -> None:
    text = (
        "ip access-list extended T\n permit tcp any any neq 25\n permit tcp any any lt 25\n"
        " permit tcp any any gt 25\n permit tcp any any range smtp 30\n permit tcp any eq www any eq pop3\n"
    )
    r = _rules(text)
    assert [str(p) for p in r[0].dst_ports] == ["0-24", "26-65535"]
    assert [str(p) for p in r[1].dst_ports] == ["0-24"]
    assert [str(p) for p in r[2].dst_ports] == ["26-65535"]
    assert [str(p) for p in r[3].dst_ports] == ["25-30"]
    assert ([str(p) for p in r[4].src_ports], [str(p) for p in r[4].dst_ports]) == (["80"], ["110"])


def test_tcp_flags() -> None:
    text = (
        "ip access-list extended T\n permit tcp any any established\n permit tcp any any syn\n"
        " permit tcp any any match-all +syn -ack\n permit tcp any any match-any +rst +ack\n"
    )
    r = _rules(text)
    assert r[0].tcp_flags == ((ACK, ACK), (RST, RST))
    assert r[1].tcp_flags == ((SYN, SYN),)
    assert r[2].tcp_flags == ((SYN | ACK, SYN),)
    assert r[3].tcp_flags == ((RST, RST), (ACK, ACK))


def test_unknown_keyword_in_applied_acl_is_unparsed_not_widened() -> None:
    text = (
        "ip access-list extended T\n 10 deny tcp any any eq 25 dscp ef\n 20 permit ip any any\n"
        "interface Virtual-Template1\n ip access-group T in\n"
    )
    parsed = parse(PLATFORM, text)
    flt = parsed.filter(4, "T")
    assert flt is not None and [r.name for r in flt.rules] == ["20"]
    (u,) = parsed.unparsed
    assert (u.line, u.filter, u.text) == (2, "T", "10 deny tcp any any eq 25 dscp ef")
    assert "dscp" in u.reason


def test_numbered_and_standard_acls() -> None:
    text = "access-list 101 remark smtp\naccess-list 101 deny tcp any any eq 25 log\naccess-list 10 permit 192.0.2.1\n"
    parsed = parse(PLATFORM, text)
    f101, f10 = parsed.filter(4, "101"), parsed.filter(4, "10")
    assert f101 is not None and f10 is not None
    (r,) = f101.rules
    assert (r.action, r.protocol, r.log, r.remark, r.line) == (Action.DENY, 6, True, "smtp", 2)
    assert r.text == "access-list 101 deny tcp any any eq 25 log"
    (s,) = f10.rules
    assert (s.protocol, [str(a) for a in s.src]) == (None, ["192.0.2.1/32"])


def test_unattached_filters_are_deferred_but_complete() -> None:
    parsed = parse(PLATFORM, "ip access-list extended U\n permit tcp any any eq 25 ttl eq 3\n")
    flt = parsed.filter(4, "U")
    assert isinstance(flt, DeferredFilter) and flt.deferred and parsed.unparsed == []
    assert flt.rules == [] and not flt.deferred
    assert [u.line for u in parsed.unparsed] == [2]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00\xff\n\t\n",
        "ip access-list extended\n",
        "ip access-list extended T\n permit\n 10\n deny tcp host\n permit tcp any any range 30 20\n",
        "interface\n ip access-group\nbanner motd ^C\nnever closed\n",
        "policy-map P\n class C\n  police rate x pps\ninterface Virtual-Template1\n service-policy input P\n",
        "object-group network A\n group-object A\nip access-list extended T\n permit ip object-group A any\n",
    ],
)
def test_garbage_never_raises(text: str) -> None:
    parsed = resolve_all(parse(PLATFORM, text))
    assert parsed.platform == PLATFORM
