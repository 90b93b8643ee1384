"""Junos running-config parser: data-driven cases (tests/platforms/juniper_junos/parser_cases/<case>/config +
expected.json; a new folder is a new test; ``--update-golden`` rewrites expected.json) and targeted checks of
the semantics (except lists, groups, inactive, set/brace equivalence, robustness)."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from op25b_cfg.audit.model import Filter, ParsedConfig
from op25b_cfg.audit.parsers import parse
from op25b_cfg.platforms.juniper_junos.parser import parse_tcp_flags
from op25b_cfg.rules import ACK, RST, SYN, Action, Rule
from tests.platform_data import data_dir, flow_summary

PLATFORM = "juniper_junos"


def rule_str(r: Rule) -> str:
    """One rule as a compact, stable line for expected.json."""
    p = [r.action.value, f"v{r.family}"]
    if r.protocol is not None:
        p.append(f"proto={r.protocol}")
    for label, vals in (("src", r.src), ("src!", r.src_except), ("dst", r.dst), ("dst!", r.dst_except)):
        if vals:
            p.append(f"{label}={','.join(str(v) for v in vals)}")
    for label, ports in (("sport", r.src_ports), ("dport", r.dst_ports)):
        if ports:
            p.append(f"{label}={','.join(str(x) for x in ports)}")
    if r.tcp_flags:
        p.append("flags=" + "|".join(f"{m:#04x}/{v:#04x}" for m, v in r.tcp_flags))
    if r.iifname:
        p.append(("iif!=" if r.iifname_negate else "iif=") + ",".join(r.iifname))
    if r.oifname:
        p.append(("oif!=" if r.oifname_negate else "oif=") + ",".join(r.oifname))
    if r.limit is not None:
        lim = r.limit
        p.append(
            f"limit=sessions:{lim.max_sessions},pps:{lim.new_per_second},burst:{lim.burst},v6len:{lim.ipv6_subscriber_length}"
            + (f",delay:{lim.connect_delay_s}" if lim.connect_delay_s is not None else "")
        )
    if r.src_set:
        p.append(f"src_set={r.src_set}")
    if r.dst_set:
        p.append(f"dst_set={r.dst_set}")
    if r.log:
        p.append("log")
    if r.counter:
        p.append(f"count={r.counter}")
    p.append(f"[{r.name}]@{r.line}")
    return " ".join(p)


def _with_callees(pc: ParsedConfig) -> list[Filter]:
    """Every filter, then the nftables chains they call that are not filters themselves (each once)."""
    out = list(pc.filters.values())
    for f in list(out):
        out.extend(x for x in f.reachable() if all(x is not y for y in out))
    return out


def summary(pc: ParsedConfig) -> dict[str, Any]:
    """What expected.json holds: filters with rules, bindings, flow, unparsed."""
    return {
        "filters": [
            {
                "name": f.name,
                "family": f.family,
                "kind": f.kind,
                "hook": f.hook,
                "default": f.default.value,
                "line": f.line,
                "rules": [
                    rule_str(r) + (f" -> {c.verdict} {c.target.name if c.target else ''}".rstrip() if c else "")
                    for i, r in enumerate(f.rules)
                    for c in [f.calls.get(i)]
                ],
            }
            for f in _with_callees(pc)
        ],
        "bindings": [asdict(b) | {"filters": list(b.filters)} for b in pc.bindings],
        "flow": [flow_summary(f) for f in pc.flow],
        "unparsed": [{"line": u.line, "filter": u.filter, "reason": u.reason} for u in pc.unparsed],
    }


def run_case(platform: str, case: Path, update: bool) -> None:
    text = (case / "config").read_text()
    got = summary(parse(platform, text))
    exp_file = case / "expected.json"
    if update or not exp_file.exists():
        exp_file.write_text(json.dumps(got, indent=2) + "\n")
        if not update:
            pytest.fail(f"{exp_file} did not exist; written from the current parser, review it")
    assert got == json.loads(exp_file.read_text())


def case_dirs(platform: str) -> list[Path]:
    return sorted(p for p in data_dir(platform, "parser_cases").iterdir() if (p / "config").exists())


@pytest.mark.parametrize("case", case_dirs(PLATFORM), ids=lambda p: p.name)
def test_case(case: Path, update_golden: bool) -> None:
    run_case(PLATFORM, case, update_golden)


def _filter(pc: ParsedConfig, fam: int, name: str) -> list[Rule]:
    f = pc.filter(fam, name)
    assert f is not None, f"filter {name} not parsed: {list(pc.filters)}"
    return f.rules


def first_match(rules: list[Rule], src: str, dst: str, proto: int, dport: int, flags: int = SYN) -> Action:
    """Tiny first-match evaluator (IPv4) over parsed rules; DENY at the end (Junos implicit discard)."""
    import ipaddress

    s, d = int(ipaddress.ip_address(src)), int(ipaddress.ip_address(dst))
    for r in rules:
        if r.protocol is not None and r.protocol != proto:
            continue
        if (r.src and not any(a.matches(s) for a in r.src)) or any(a.matches(s) for a in r.src_except):
            continue
        if (r.dst and not any(a.matches(d) for a in r.dst)) or any(a.matches(d) for a in r.dst_except):
            continue
        if r.dst_ports and not any(dport in p for p in r.dst_ports):
            continue
        if r.src_ports and not any(40000 in p for p in r.src_ports):
            continue
        if r.tcp_flags and not any(flags & m == v for m, v in r.tcp_flags):
            continue
        if r.action is Action.NEXT or r.action is Action.LIMIT:
            continue
        return r.action
    return Action.DENY


def test_generated_block_config_semantics() -> None:
    """Our own rendered block config: pool->any:25 dropped, MTA and submission and exemptions pass."""
    pc = parse(PLATFORM, (data_dir(PLATFORM, "parser_cases") / "generated_block" / "config").read_text())
    v4 = next(f for f in pc.filters.values() if f.family == 4)
    assert first_match(v4.rules, "100.64.1.1", "203.0.113.9", 6, 25) is Action.DENY
    assert first_match(v4.rules, "100.64.1.1", "192.0.2.25", 6, 25) is Action.PERMIT
    assert first_match(v4.rules, "100.64.1.1", "203.0.113.9", 6, 587) is Action.PERMIT
    assert first_match(v4.rules, "100.64.200.7", "203.0.113.9", 6, 25) is Action.PERMIT
    assert first_match(v4.rules, "198.51.100.1", "203.0.113.9", 6, 25) is Action.PERMIT
    assert {(b.kind, b.name, b.family) for b in pc.bindings} == {
        ("unit", "ge-0/0/1.100", 4),
        ("unit", "ge-0/0/1.100", 6),
        ("dynamic-profile", "PPPOE-SUBSCRIBER", 4),
        ("dynamic-profile", "PPPOE-SUBSCRIBER", 6),
    }
    assert pc.unparsed == []


def test_except_longest_match() -> None:
    pc = parse(PLATFORM, (data_dir(PLATFORM, "parser_cases") / "except" / "config").read_text())
    rules = _filter(pc, 4, "EXCEPT")
    simple = [r for r in rules if r.name == "simple-except"]
    assert [str(a) for a in simple[0].src] == ["100.64.0.0/16"]
    assert [str(a) for a in simple[0].src_except] == ["100.64.200.0/24"]
    nested = [r for r in rules if r.name == "nested-except"]
    # 10.1.2.0/24 lies inside the except entry: the longest match re-includes it.
    assert first_match(nested, "192.0.2.1", "10.1.2.3", 6, 80) is Action.PERMIT
    assert first_match(nested, "192.0.2.1", "10.1.3.3", 6, 80) is Action.DENY
    assert first_match(nested, "192.0.2.1", "10.9.0.1", 6, 80) is Action.PERMIT
    # Only except entries: the implicit 0/0 except leaves nothing to match.
    assert not [r for r in rules if r.name == "only-except"]
    # 'port' is source OR destination; the alternatives are disjoint rules.
    pl = [r for r in rules if r.name == "prefix-list-except"]
    assert len(pl) == 2
    assert first_match(pl, "100.64.1.1", "203.0.113.1", 6, 25) is Action.DENY
    assert first_match(pl, "100.64.200.1", "203.0.113.1", 6, 25) is Action.DENY  # falls to implicit discard
    assert not [r for r in rules if r.name == "no-v4-entries"]


def test_set_and_brace_formats_agree() -> None:
    """The rendered brace config and its display-set form give the same filters and bindings."""
    brace = (data_dir(PLATFORM, "parser_cases") / "generated_flow_control" / "config").read_text()
    from op25b_cfg.dialects.junos import read

    set_text = "\n".join(
        "set " + " ".join(f'"{t}"' if (" " in t or "$" in t) else t for t in st.path) for st in read(brace).stmts
    )
    a, b = parse(PLATFORM, brace), parse(PLATFORM, set_text)

    def norm(pc: ParsedConfig) -> Any:
        return (
            {k: [replace(r, line=None, text="") for r in f.rules] for k, f in pc.filters.items()},
            [replace(x, line=None) for x in pc.bindings],
            [(f.binding_name, f.family, f.new_per_second, f.burst) for f in pc.flow],
        )

    assert norm(a) == norm(b)
    assert b.flow and b.flow[0].new_per_second == 2 and b.flow[0].burst == 7


def test_inactive_and_deactivate_are_ignored() -> None:
    pc = parse(PLATFORM, (data_dir(PLATFORM, "parser_cases") / "inactive" / "config").read_text())
    assert [r.name for r in _filter(pc, 4, "F")] == ["block", "rest"]
    assert pc.filter(4, "OLD") is None
    assert [(b.name, b.direction, b.filters) for b in pc.bindings] == [("ge-0/0/1.0", "out", ("F",))]
    pc = parse(PLATFORM, (data_dir(PLATFORM, "parser_cases") / "set_format" / "config").read_text())
    assert "old-permit" not in [r.name for r in _filter(pc, 4, "OP25B")]
    shut = {b.name: b.shutdown for b in pc.bindings}
    assert shut == {"ge-0/0/1.100": False, "ge-0/0/2.0": True, "ge-0/0/3.5": True}


def test_apply_groups_wildcards_and_precedence() -> None:
    pc = parse(PLATFORM, (data_dir(PLATFORM, "parser_cases") / "apply_groups" / "config").read_text())
    binds = {(b.name, b.direction): b.filters for b in pc.bindings}
    # <ae*> unit <*> matches the existing units of ae0; the local filter of unit 200 wins over the group.
    assert binds == {("ae0.100", "in"): ("SUBS",), ("ae0.200", "in"): ("LOCAL",)}
    # The locally defined term 'block' wins; the group-only term is appended after the local ones.
    assert [r.name for r in _filter(pc, 4, "SUBS")] == ["block", "from-group"]
    assert any("MISSING" in u.reason for u in pc.unparsed)


def test_tcp_flag_expressions() -> None:
    assert parse_tcp_flags("syn & !ack") == ((SYN | ACK, SYN),)
    assert parse_tcp_flags("(ack | rst)") == ((ACK, ACK), (RST, RST))
    assert parse_tcp_flags("0x12") == ((0x12, 0x12),)


def test_input_list_and_profiles() -> None:
    pc = parse(PLATFORM, (data_dir(PLATFORM, "parser_cases") / "input_list" / "config").read_text())
    binds = {(b.kind, b.name, b.direction): b for b in pc.bindings}
    assert binds[("unit", "ae1.10", "in")].filters == ("COMMON", "OP25B")
    assert binds[("unit", "ae1.20", "in")].filters == ("OP25B", "COMMON")
    assert binds[("dynamic-profile", "PPPOE", "in")].in_use is True
    assert ("dynamic-profile", "RADIUS", "in") not in binds
    assert any("variable" in u.reason for u in pc.unparsed)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "}}}}\n{{{{",
        "firewall { family inet { filter F { term T { from { protocol tcp",
        "set firewall family inet filter F term T from destination-port 99999999\n"
        "set firewall family inet filter F term T then accept",
        "\x00\xff binary garbage \x1b[0m ;;; {",
        'set firewall filter "unterminated term T then accept',
        "/* open comment\nfirewall { filter X { term t { then accept; } } }",
        "firewall {\r\n  filter CRLF {\r\n    term t {\r\n      then discard;\r\n    }\r\n  }\r\n}\r\n",
    ],
)
def test_never_raises(text: str) -> None:
    pc = parse(PLATFORM, text)
    assert isinstance(pc, ParsedConfig)


def test_crlf_is_handled() -> None:
    pc = parse(
        PLATFORM,
        "firewall {\r\n    filter CRLF {\r\n        term t {\r\n            then discard;\r\n  }\r\n  }\r\n}\r\n",
    )
    assert [r.action for r in _filter(pc, 4, "CRLF")] == [Action.DENY]
    assert pc.unparsed == []


def test_random_mutations_do_not_raise() -> None:
    base = (data_dir(PLATFORM, "parser_cases") / "generated_block" / "config").read_text()
    rnd = random.Random(25)
    for _ in range(200):
        chars = list(base)
        for _ in range(rnd.randint(1, 20)):
            i = rnd.randrange(len(chars))
            chars[i] = rnd.choice(["{", "}", ";", '"', "#", "/*", "\n", "x", " ", "except", "inactive: "])
        parse(PLATFORM, "".join(chars))


def test_large_config_is_linear() -> None:
    """A long config parses completely (no quadratic blow-up hides in the reader)."""
    units = "\n".join(
        f"set interfaces ae{i // 1000} unit {i % 1000} family inet filter input F{i % 7}" for i in range(20000)
    )
    pc = parse(PLATFORM, units)
    assert len(pc.bindings) == 20000


def test_dynamic_profile_stanza_without_a_filter_is_an_unfiltered_binding() -> None:
    """A profile stanza with a family but no filter, beside a stanza that filters that family inbound, is an
    unfiltered binding (inbound only: no stanza filters outbound); the inet6-only family has no filtered peer."""
    text = """dynamic-profiles {
    PPPOE-A {
        interfaces {
            pp0 {
                unit "$junos-interface-unit" {
                    family inet {
                        filter {
                            input OP25B-IN;
                        }
                    }
                }
            }
            "$junos-interface-ifd-name" {
                unit "$junos-interface-unit" {
                    family inet {
                        address 192.0.2.1/32;
                    }
                    family inet6;
                }
            }
        }
    }
}
firewall {
    family inet {
        filter OP25B-IN {
            term a {
                then accept;
            }
        }
    }
}
"""
    parsed = parse(PLATFORM, text)
    got = sorted((b.kind, b.name, b.direction, b.family, b.filters, b.line) for b in parsed.bindings)
    assert got == [
        ("dynamic-profile", "PPPOE-A", "in", 4, (), 16),
        ("dynamic-profile", "PPPOE-A", "in", 4, ("OP25B-IN",), 8),
    ]
