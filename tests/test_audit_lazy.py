"""The audit parses lazily (only the filters it evaluates are tokenised) and memoises evaluation across devices;
neither may change a report. Every report here is compared in full (verdict, findings with messages, lines,
counterexamples, remediation, checks) against the same audit of an eagerly parsed config, on the shipped running
configs, the data-driven audit cases, hand-made configs with unparsed lines in evaluated and unevaluated filters,
and every public corpus config audited at each of its own bindings (so real-world filters are evaluated)."""

from __future__ import annotations

import dataclasses
import gc
import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from op25b_cfg import api
from op25b_cfg.audit.engine import audit_parsed, audit_text
from op25b_cfg.audit.lazy import DeferredFilter
from op25b_cfg.audit.model import DeviceReport, ParsedConfig
from op25b_cfg.audit.parsers import parse, resolve_all
from op25b_cfg.dialects.junos import read
from op25b_cfg.errors import PlatformError
from op25b_cfg.inventory import Attachment, Device, Mode
from op25b_cfg.platforms import get_platform
from tests.labutil import CORPUS, need_corpus
from tests.test_caches import _variants

REPO = Path(__file__).resolve().parent.parent
INV = api.load(REPO / "inventory")
SAMPLE = {d.platform: d for d in INV.devices.values()}
CORPUS_DIRS = {
    "cisco_ios": "cisco_ios",
    "cisco_iosxr": "cisco_iosxr",
    "arista_eos": "arista_eos",
    "junos": "juniper_junos",
    "nftables": "linux_nftables",
}


def _eager(dev: Device, text: str) -> DeviceReport:
    """The audit of an eagerly parsed config (every bound filter tokenised before the engine runs)."""
    return audit_parsed(dev, parse(dev.platform, text), text)


def _same(dev: Device, text: str) -> DeviceReport:
    """The lazy audit (with whatever the process-wide memos hold) equals the eager one with cold memos."""
    lazy = audit_text(dev, text)
    api.clear_caches()
    assert dataclasses.asdict(lazy) == dataclasses.asdict(_eager(dev, text))
    return lazy


@pytest.mark.parametrize("name", sorted(INV.devices))
def test_shipped_running_configs(name: str) -> None:
    dev = INV.devices[name]
    _same(dev, (REPO / "inventory" / "running" / f"{name}.cfg").read_text())


def _variant(name: str, mode: str) -> Device:
    dev = dataclasses.replace(INV.devices[name], mode=mode)  # type: ignore[arg-type]
    if mode == "flow-control":
        dev = dataclasses.replace(dev, flow_control=dev.flow_control.model_copy(update={"max_sessions": None}))
    return dev


def _renders(dev: Device) -> bool:
    try:
        get_platform(dev.platform).check(dev)
    except PlatformError:
        return False  # refused combinations are covered by tests/platforms/<platform>/golden/*-refused
    return True


@pytest.mark.parametrize(
    ("name", "mode"),
    [(n, m) for n in sorted(INV.devices) for m in ("block", "targeted", "flow-control") if _renders(_variant(n, m))],
)
def test_rendered_intent_and_a_broken_copy(name: str, mode: Mode) -> None:
    dev = _variant(name, mode)
    text = api.render(dev)
    _same(dev, text)
    lines = text.splitlines()
    block = re.compile(
        r"deny tcp .* eq 25|tcp dport 25 .*(reject|drop)|^\s*(discard|reject);|action=reject chain=OP25B"
    )
    i = next(k for k, ln in enumerate(lines) if block.search(ln))  # the first port-25 block (Junos: its action)
    assert _same(dev, "\n".join(lines[:i] + lines[i + 1 :]) + "\n").verdict == "NONCOMPLIANT"


def _cases() -> list[Path]:
    return sorted(p for p in (REPO / "tests" / "platforms").glob("*/audit_cases/*") if (p / "case.yaml").is_file())


@pytest.mark.parametrize("case", _cases(), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_audit_cases(case: Path) -> None:
    spec = yaml.safe_load((case / "case.yaml").read_text())
    inv_dir = case / spec.get("inventory", "inventory")
    inv = api.load(inv_dir if inv_dir.is_dir() else REPO / spec.get("inventory", "inventory"))
    dev = inv.devices[spec["device"]]
    over = spec.get("override") or {}
    if "attach" in over:
        dev = dataclasses.replace(dev, attach=tuple(Attachment(**a) for a in over["attach"]))
    if "mode" in over:
        dev = dataclasses.replace(dev, mode=over["mode"])
    running = case / "running.cfg"
    text = running.read_text() if running.is_file() else (REPO / spec["running"]).read_text()
    _same(dev, text)


IOS_UNPARSED = """\
interface Virtual-Template1
 ip access-group CUST in
 ipv6 traffic-filter CUST in
!
interface GigabitEthernet0/2
 ip access-group OTHER in
!
ip access-list extended CUST
 permit tcp 100.64.200.0 0.0.0.255 any eq 25
 deny tcp any any eq 25
 permit ip any any
!
ipv6 access-list CUST
 deny tcp any any eq 25
 permit tcp any any eq 587 ttl eq 3
 permit ipv6 any any
!
ip access-list extended OTHER
 permit tcp any any eq 25 ttl eq 3
!
ip access-list extended UNBOUND
 deny tcp any any eq 25 ttl eq 3
!
bba-group pppoe global
 virtual-template 1
"""


def test_unparsed_line_in_an_evaluated_filter_counts_in_an_unevaluated_one_does_not() -> None:
    dev = SAMPLE["cisco_ios"]
    rep = _same(dev, IOS_UNPARSED)
    unparsed = [f for f in rep.findings if f.code == "UNPARSED"]
    assert [f.lines for f in unparsed] == [[15]]  # the IPv6 CUST entry; not OTHER (line 19), not UNBOUND (22)
    assert rep.verdict in ("UNKNOWN", "NONCOMPLIANT")
    parsed = parse("cisco_ios", IOS_UNPARSED, lazy=True)
    assert all(isinstance(f, DeferredFilter) and f.deferred for f in parsed.filters.values())
    assert parsed.unparsed == []  # nothing tokenised yet


SAME_NAME = """\
interface Virtual-Template1
 ip access-group CUST in
 ipv6 traffic-filter CUST6 in
!
interface GigabitEthernet0/3
 ipv6 traffic-filter CUST out
!
ip access-list extended CUST
 deny tcp any any eq 25
 permit ip any any
!
ipv6 access-list CUST6
 deny tcp any any eq 25
 permit ipv6 any any
!
ipv6 access-list CUST
 permit tcp any any eq 25 ttl eq 3
!
bba-group pppoe global
 virtual-template 1
"""


def test_unparsed_line_of_a_same_named_filter_of_the_other_family() -> None:
    """``Unparsed.filter`` names a filter, not a family: the engine reports every not-understood line of the
    filters called like one it evaluates, also when the other family's filter is bound elsewhere and so was
    never read by the evaluation (the lazy parse must build it first)."""
    rep = _same(SAMPLE["cisco_ios"], SAME_NAME)
    assert [f.lines for f in rep.findings if f.code == "UNPARSED"] == [[17]]


def _corpus() -> list[tuple[str, Path]]:
    if not CORPUS.is_dir():
        return [(p, CORPUS / d / "<corpus missing>") for d, p in CORPUS_DIRS.items()]
    return [(p, f) for d, p in CORPUS_DIRS.items() for f in sorted((CORPUS / d).glob("*.cfg"))]


def _attachments(platform: str, parsed: ParsedConfig) -> list[tuple[Attachment, ...]]:
    """The sample device's own attachments, then up to four of the config's bindings (deduplicated)."""
    out = [SAMPLE[platform].attach]
    for b in parsed.bindings:
        if b.kind == "nft-forward":
            continue
        try:
            att = (Attachment(kind=b.kind, name=b.name, direction=b.direction),)  # type: ignore[arg-type]
        except ValueError:
            continue
        if att not in out:
            out.append(att)
        if len(out) > 4:
            break
    return out


@pytest.mark.parametrize(("platform", "path"), _corpus(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_public_corpus_at_its_own_bindings(platform: str, path: Path) -> None:
    need_corpus()
    text = path.read_bytes().decode("utf-8", errors="replace")
    for attach in _attachments(platform, parse(platform, text)):
        _same(dataclasses.replace(SAMPLE[platform], attach=attach), text)


def test_memo_gives_the_cold_answer() -> None:
    """A report computed with cold caches equals the one computed after other devices filled them."""
    dev = SAMPLE["cisco_ios"]
    api.clear_caches()
    cold = dataclasses.asdict(audit_text(dev, IOS_UNPARSED))
    for name, other in INV.devices.items():
        audit_text(other, (REPO / "inventory" / "running" / f"{name}.cfg").read_text())
        audit_text(other, api.render(other))
    assert dataclasses.asdict(audit_text(dev, IOS_UNPARSED)) == cold


def test_memo_tells_filters_apart_by_their_default() -> None:
    """Two forward chains with the same rules but another policy must not share memoised results: without
    its accept rules for submission, the chain's policy decides tcp/587."""
    dev = SAMPLE["linux_nftables"]
    text = api.render(dev)
    keep = [ln for ln in text.splitlines() if "mail submission stays open" not in ln and "all other traffic" not in ln]
    accept = "\n".join(keep) + "\n"
    assert "hook forward priority filter; policy accept;" in accept
    drop = accept.replace("priority filter; policy accept;", "priority filter; policy drop;")
    assert "SUBMISSION_BLOCKED" not in {f.code for f in audit_text(dev, accept).findings}  # fills the memo
    assert "SUBMISSION_BLOCKED" in {f.code for f in _same(dev, drop).findings}


# ----------------------------------------------------------------------------- parser level


def _resolved(platform: str, text: str, lazy: bool) -> dict[str, object]:
    """Everything a parse yields once every filter is built (notes compared as a multiset: a deferred
    filter adds its notes when it is built)."""
    d = dataclasses.asdict(resolve_all(parse(platform, text, lazy=lazy)))
    d["notes"] = sorted(d["notes"])
    d["unparsed"] = sorted(d["unparsed"], key=repr)
    return d


def _lazy_parse_is_complete(platform: str, text: str) -> None:
    assert _resolved(platform, text, lazy=True) == _resolved(platform, text, lazy=False)


@pytest.mark.parametrize(("platform", "path"), _corpus(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_lazy_parse_of_corpus_resolves_to_the_full_parse(platform: str, path: Path) -> None:
    need_corpus()
    _lazy_parse_is_complete(platform, path.read_bytes().decode("utf-8", errors="replace"))


JUNOS_FILTER = """\
firewall {
    family inet {
        filter F {
            term a {
                from {
                    protocol tcp;
                    destination-port 25;
                }
                then discard;
            }
            term b {
                then accept;
            }
        }
    }
}
"""


@pytest.mark.parametrize(
    "extra",
    [
        "",  # a plain block: read when the filter is built
        "set firewall family inet filter F term c then accept\n",  # more terms elsewhere: read at once
        "firewall {\n    family inet {\n        filter F {\n            term z {\n                then reject;\n"
        "            }\n        }\n    }\n}\n",  # a second block of the same filter
        "deactivate firewall family inet filter F term a\n",
        "delete firewall family inet filter F term b\n",
        "firewall {\n    family inet {\n        filter E {\n        }\n    }\n}\n",  # empty filter block
        # a block of `;` lines holds no statement: the filter is not defined, read now or later
        "firewall {\n    filter S {\n        ;\n        term t {\n            ; ;\n        }\n    }\n}\n",
        "firewall {\n    family any {\n        filter A {\n            term t {\n                then accept;\n"
        "            }\n        }\n    }\n}\n",
        "firewall {\n    filter G {\n        term t {\n            from {\n                protocol tcp;\n"
        "            }\n            then policer P;\n        }\n    }\n    policer P {\n"
        "        if-exceeding-pps {\n            pps-limit 5;\n        }\n        then discard;\n    }\n}\n",
        'firewall {\n    filter Q {\n        term "t 1" {\n            then accept; /* c */\n        }\n    }\n}\n',
        "firewall {\n    filter T {\n        term t {\n            then {\n                accept;\n",  # truncated
    ],
)
def test_junos_deferred_filter_blocks(extra: str) -> None:
    text = JUNOS_FILTER + extra
    if not extra:  # the plain case is really left unread by the first pass
        assert [b.path for b in read(text, prune=True, defer=True).deferred] == [
            ("firewall", "family", "inet", "filter", "F")
        ]
    _lazy_parse_is_complete("juniper_junos", text)
    lazy = parse("juniper_junos", text, lazy=True)
    assert lazy.filter(4, "F") is not None
    assert [r.action for r in resolve_all(lazy).filters[(4, "F")].rules][:1] in (["deny"], ["permit"])


_PL_LINES = [
    "192.0.2.0/24;",
    "2001:db8::/32;",
    "198.51.100.0/255.255.255.0;",
    '"203.0.113.0/24";',
    'x "a { b } ;";',
    "10.0.0.0/8; 10.1.0.0/16;",
    "/* note */",
    "/* open",
    "*/ 10.2.0.0/16;",
    "# 10.3.0.0/16;",
    "inactive: 10.4.0.0/16;",
    "protect: 10.5.0.0/16;",
    "not-a-prefix;",
    "10.6.0.0/16",
    "{",
    "}",
    "a { b; }",
    "",
    "   ",
]
_PL_EXTRA = [
    "routing-options {\n    static {\n        route 192.0.2.0/24 discard;\n    }\n}",
    "routing-options {\n    static {\n        route 192.0.2.0/24 discard;\n",
    "set policy-options prefix-list P0 10.7.0.0/16",
    "set policy-options prefix-list P0 also-not-a-prefix",
    "deactivate policy-options prefix-list P1",
    "delete policy-options prefix-list P0 192.0.2.0/24",
    "policy-options {\n    prefix-list P1 {\n        10.8.0.0/16;\n    }\n}",
    "policy-options {\n    prefix-list P2 {\n    }\n}",
    "policy-options {\n    inactive: prefix-list P0 {\n        10.9.0.0/16;\n    }\n}",
    'policy-options {\n    prefix-list P1 {\n        apply-path "interfaces <*> unit <*> family inet address <*>";'
    "\n    }\n}",
]


def _junos_with_prefix_lists(bodies: list[list[str]], extra: list[str]) -> str:
    """Prefix-lists P0.. with the given body lines (the last one's also in a skipped section before them), a
    filter whose terms name P0, P1 and P2 (the last may not exist), bound to a unit, and ``extra`` statements
    after them."""
    out = ["system {", *(f"    {ln}" for ln in bodies[-1]), "}", "policy-options {"]  # a skipped section
    for i, body in enumerate(bodies):
        out += [f"    prefix-list P{i} {{", *(f"        {ln}" for ln in body), "    }"]
    out += ["}", "firewall {", "    family inet {", "        filter F {"]
    for i in range(3):
        out += [f"            term t{i} {{", "                from {", f"                    source-prefix-list P{i};"]
        out += ["                    protocol tcp;", "                }", "                then discard;"]
        out += ["            }"]
    out += ["            term z {", "                then accept;", "            }", "        }", "    }", "}"]
    out += ["interfaces {", "    ge-0/0/0 {", "        unit 0 {", "            family inet {"]
    out += ["                filter {", "                    input F;", "                }", "            }"]
    out += ["        }", "    }", "}", *extra]
    return "\n".join(out) + "\n"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(st.sampled_from(_PL_LINES), max_size=6), min_size=1, max_size=3),
    st.lists(st.sampled_from(_PL_EXTRA), max_size=2),
)
def test_junos_deferred_prefix_lists_resolve_to_the_full_parse(bodies: list[list[str]], extra: list[str]) -> None:
    """Prefix-list blocks left unread until a filter names them (plain ones, without groups or apply-path) give
    the parse of reading them at once: quotes, comments, annotations across lines, markers, braces in strings,
    several statements on a line, a list also defined elsewhere, deactivated or deleted, a truncated block."""
    text = _junos_with_prefix_lists(bodies, extra)
    _lazy_parse_is_complete("juniper_junos", text)
    _lazy_parse_is_complete("juniper_junos", text[: len(text) // 3])


def test_junos_plain_prefix_list_is_read_when_a_filter_names_it() -> None:
    """A plain prefix-list block is left unread by the first pass; the filter naming it gets its entries."""
    text = _junos_with_prefix_lists([["192.0.2.0/24;", "2001:db8::/32;"], ["198.51.100.0/24;"], []], [])
    assert [b.path for b in read(text, prune=True, defer=True).deferred] == [
        ("policy-options", "prefix-list", "P0"),
        ("policy-options", "prefix-list", "P1"),
        ("policy-options", "prefix-list", "P2"),
        ("firewall", "family", "inet", "filter", "F"),
    ]
    _lazy_parse_is_complete("juniper_junos", text)
    parsed = resolve_all(parse("juniper_junos", text, lazy=True))
    got = [(r.name, r.src_set, [(a.value, a.mask) for a in r.src]) for r in parsed.filters[(4, "F")].rules]
    assert got == [("t0", "P0", [(0xC0000200, 0xFFFFFF00)]), ("t1", "P1", [(0xC6336400, 0xFFFFFF00)]), ("z", None, [])]
    assert [u.reason for u in parsed.unparsed] == ["term t2: prefix-list P2 is not defined"]  # an empty block


@pytest.mark.parametrize("name", sorted(INV.devices))
def test_lazy_parse_of_rendered_configs_resolves_to_the_full_parse(name: str) -> None:
    dev = INV.devices[name]
    text = api.render(dev)
    _lazy_parse_is_complete(dev.platform, text)
    for cut in (len(text) // 3, len(text) // 2, 2 * len(text) // 3):  # truncated copies
        _lazy_parse_is_complete(dev.platform, text[:cut])


def _seeds(platform: str) -> list[str]:
    files = sorted((REPO / "tests" / "platforms" / platform / "parser_cases").glob("*/config"))
    return [f.read_text(errors="replace") for f in files] or [""]


_EDITS = ["}", "{", ";", '"', "/* x", "*/", "#", " inactive: ", "deactivate firewall", "policer", "\n", "!", " eq 25"]


@pytest.mark.parametrize("platform", sorted(SAMPLE))
@settings(max_examples=40, deadline=timedelta(seconds=20), suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_lazy_parse_of_mutated_configs_resolves_to_the_full_parse(platform: str, data: st.DataObject) -> None:
    """Random line deletions, duplications and insertions into real configs: the lazy parse, once every
    filter is built, equals the full parse."""
    lines = data.draw(st.sampled_from(_seeds(platform))).split("\n")
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines)))
        op = data.draw(st.sampled_from(["delete", "duplicate", "insert", "append"]))
        if op == "delete" and i < len(lines):
            del lines[i]
        elif op == "duplicate" and i < len(lines):
            lines.insert(i, lines[i])
        elif op == "insert":
            lines.insert(i, data.draw(st.sampled_from(_EDITS)))
        elif i < len(lines):
            lines[i] += data.draw(st.sampled_from(_EDITS))
    _lazy_parse_is_complete(platform, "\n".join(lines))


SERVICE_GROUP_BOTH_FAMILIES = """\
object-group service OTHER
 ip
 tcp eq smtp
!
ipv6 access-list CUST6
 deny tcp any any eq 25
 permit object-group OTHER any any
!
ip access-list extended CUST
 deny tcp any any eq 25
 permit object-group OTHER any any
!
interface Virtual-Template1
 ip access-group CUST in
 ipv6 traffic-filter CUST6 in
!
bba-group pppoe global
 virtual-template 1
"""


def test_service_group_used_by_both_families_does_not_depend_on_read_order() -> None:
    """A service object-group resolves per family (``ip`` is any protocol in IPv4 and not an IPv6 protocol):
    the eager parse reads the IPv6 ACL first, the lazy audit the IPv4 one; both must give the same report,
    with the IPv6 entry not understood and the IPv4 entry permitting everything else."""
    rep = _same(SAMPLE["cisco_ios"], SERVICE_GROUP_BOTH_FAMILIES)
    assert [(f.family, f.lines) for f in rep.findings if f.code == "UNPARSED"] == [(6, [7])]
    v4 = resolve_all(parse("cisco_ios", SERVICE_GROUP_BOTH_FAMILIES)).filters[(4, "CUST")]
    assert [(str(r.action), r.protocol) for r in v4.rules] == [("deny", 6), ("permit", None), ("permit", 6)]


_NFT_INPUT = (
    "table ip other {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n"
    "\t\tip saddr 192.0.2.0/24 tcp dport 22 accept\n\t}\n\tchain spare {\n\t\tip saddr 192.0.2.7 drop\n\t}\n}\n"
)


def test_an_audit_leaves_no_reference_cycles() -> None:
    """What an audit builds (lazily parsed configs, their deferred builds, the parsers' tokens) is freed by
    reference counting as the audit ends: the audit pool relies on it (its collector is off for a whole chunk,
    and garbage in cycles waited for the pass after it: 1,250 objects per nftables config). Every sample
    device's config and its variants, audited after a first warm-up audit: nothing for the collector."""
    inv = api.load(REPO / "inventory")
    jobs = [(dev, text) for dev in inv.devices.values() for text in _variants(api.render(dev))]
    # nftables: a table whose chains the audit never reads stays deferred (forward chains are built at once)
    jobs += [(dev, _NFT_INPUT + text) for dev, text in jobs if dev.platform == "linux_nftables"]
    for dev, text in jobs:
        api.audit_text(dev, text)  # warm: process-wide memos may hold cycles of their own
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        leftovers = {}
        for dev, text in jobs:
            api.audit_text(dev, text)
            leftovers[dev.platform] = leftovers.get(dev.platform, 0) + gc.collect()
    finally:
        if was:
            gc.enable()
    assert leftovers == dict.fromkeys(leftovers, 0)
