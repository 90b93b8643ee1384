"""Round trip: the generator's own output audits COMPLIANT on every platform x mode that renders, and each single
mutation of the rendered text is caught with the right code. linux_nftables is also loaded into a fresh network
namespace and the kernel's own ``nft list ruleset`` is audited."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from op25b_cfg.audit.engine import audit_text
from op25b_cfg.audit.model import Code, DeviceReport, Verdict
from op25b_cfg.errors import PlatformError
from op25b_cfg.inventory import MODES, Device, FlowControl, load_inventory
from op25b_cfg.platforms import get_platform
from tests.labutil import need_nft
from tests.platform_data import PLATFORM_DATA
from tests.test_remediation import apply_remediation

INVENTORY = Path(__file__).resolve().parent.parent / "inventory"

# What a real running config holds besides the rendered snippet, so that templates count as in use.
BASE = {
    "cisco_ios": "bba-group pppoe global\n virtual-template 1\n!\n",
    "cisco_iosxr": (
        "policy-map type control subscriber PM-SUBS\n event session-start match-first\n"
        "  class type control subscriber class-default do-until-failure\n"
        "   10 activate dynamic-template PPPOE-SUBS\n  !\n !\n!\n"
    ),
}


def _device(name: str, mode: str) -> Device:
    """The bundled device in ``mode`` (flow-control: only its per-subscriber attachments, sessions cap only where
    the platform enforces one)."""
    inv = load_inventory(INVENTORY)
    dev = dataclasses.replace(inv.devices[name], mode=mode)  # type: ignore[arg-type]
    plat = get_platform(dev.platform)
    if mode == "flow-control":
        fc = FlowControl(max_sessions=10 if plat.flow_sessions else None, new_per_second=2, burst=7)
        dev = dataclasses.replace(
            dev, flow_control=fc, attach=tuple(a for a in dev.attach if a.kind in plat.flow_rate_kinds)
        )
    return dev


def _renders(dev: Device) -> bool:
    try:
        get_platform(dev.platform).check(dev)
    except PlatformError:
        return False  # refused combinations are covered by tests/platforms/<platform>/golden/*-refused
    return True


def _variants() -> list[tuple[str, str]]:
    """Every bundled device in every mode its platform renders."""
    inv = load_inventory(INVENTORY)
    return [(name, mode) for name in inv.devices for mode in MODES if _renders(_device(name, mode))]


def _mutation_variants() -> list[tuple[str, str, str]]:
    # IOS flow control has no packet filter that passes 587 (only a class ACL that polices port 25): there is no
    # 587 entry to block, so that mutation does not apply there.
    return [
        (name, mode, m)
        for name, mode in _variants()
        for m in MUTATIONS
        if not (m == "block-587" and mode == "flow-control" and name == "bras-tyo-ios1")
    ]


def _render(dev: Device) -> str:
    return BASE.get(dev.platform, "") + get_platform(dev.platform).render(dev)


def _codes(rep: DeviceReport) -> list[Code]:
    return [f.code for f in rep.findings if f.code is not Code.DRIFT]


# ------------------------------------------------------------------------------------------ text mutations
# Each takes (platform, mode, text) and returns the mutated text; it asserts it changed something.


def _block_re(platform: str, mode: str) -> re.Pattern[str]:
    if platform == "juniper_junos":
        return re.compile(r"^\s*term (block|limit) \{$")
    if platform == "linux_nftables":
        return re.compile(r"tcp dport 25 .*reject")
    if platform == "mikrotik_routeros":
        return re.compile(r"^add action=reject chain=OP25B-")
    if mode == "flow-control":  # IOS class ACL: permit = policed
        return re.compile(r"^\s*(\d+ )?permit tcp .* eq 25 syn$")
    return re.compile(r"^\s*(\d+ )?deny tcp .* eq 25( log)?$")


def _junos_term_span(lines: list[str], start: int) -> int:
    depth = 0
    for i in range(start, len(lines)):
        depth += lines[i].count("{") - lines[i].count("}")
        if depth == 0:
            return i + 1
    raise AssertionError("unbalanced braces")


def _insert_before(platform: str, lines: list[str], i: int, what: str, family6: bool) -> None:
    """Insert an entry of kind ``what`` (shadow | block587) before line ``i``."""
    line = lines[i]
    indent = line[: len(line) - len(line.lstrip())]
    if platform == "mikrotik_routeros":
        chain = re.search(r"chain=(\S+)", line)
        assert chain
        entry = "action=accept dst-port=20-30" if what == "shadow" else "action=drop dst-port=587"
        lines.insert(i, f"add {entry} chain={chain[1]} protocol=tcp")
        return
    if platform == "juniper_junos":
        proto = "next-header" if family6 else "protocol"
        if what == "shadow":
            body = f"from {{ {proto} tcp; destination-port 20-30; }} then accept;"
        else:
            body = f"from {{ {proto} tcp; destination-port 587; }} then discard;"
        lines.insert(i, f"{indent}term op25b-mutation-{what} {{ {body} }}")
        return
    if platform == "linux_nftables":
        lines.insert(i, indent + ("tcp dport 20-30 accept" if what == "shadow" else "tcp dport 587 drop"))
        return
    m = re.match(r"\s*(\d+) ", line)
    seq = f"{int(m.group(1)) - 5} " if m else ""
    act = "deny" if platform == "cisco_ios" and "syn" in line and what == "shadow" else "permit"
    entry = f"{act} tcp any any range 20 30" if what == "shadow" else "deny tcp any any eq 587"
    lines.insert(i, f"{indent}{seq}{entry}")


def _family6_at(lines: list[str], i: int) -> bool:
    for j in range(i, -1, -1):
        s = lines[j].strip()
        if s.startswith(("ipv6 access-list", "family inet6")):
            return True
        if s.startswith(("ip access-list", "ipv4 access-list", "family inet ")):
            return False
    return "ip6 " in lines[i]


def mutate_drop_deny(platform: str, mode: str, text: str) -> str:
    lines = text.splitlines()
    pat = _block_re(platform, mode)
    out: list[str] = []
    i = 0
    while i < len(lines):
        if pat.search(lines[i]):
            i = _junos_term_span(lines, i) if platform == "juniper_junos" else i + 1
            continue
        out.append(lines[i])
        i += 1
    assert len(out) < len(lines)
    return "\n".join(out) + "\n"


def _insert_all(platform: str, mode: str, text: str, pat: re.Pattern[str], what: str) -> str:
    lines = text.splitlines()
    hits = [i for i, ln in enumerate(lines) if pat.search(ln)]
    assert hits
    for i in reversed(hits):
        _insert_before(platform, lines, i, what, _family6_at(lines, i))
    return "\n".join(lines) + "\n"


def mutate_shadow(platform: str, mode: str, text: str) -> str:
    pat = _block_re(platform, mode)
    if platform == "linux_nftables":  # one shadowing accept before the first port-25 reject of each family
        lines = text.splitlines()
        firsts: dict[bool, int] = {}
        for i, ln in enumerate(lines):
            if pat.search(ln):
                firsts.setdefault("ip6 " in ln, i)
        for i in sorted(firsts.values(), reverse=True):
            _insert_before(platform, lines, i, "shadow", False)
        return "\n".join(lines) + "\n"
    return _insert_all(platform, mode, text, pat, "shadow")


def mutate_block_587(platform: str, mode: str, text: str) -> str:
    if platform == "juniper_junos":
        pat = re.compile(r"^\s*term submission \{$")
    elif platform == "linux_nftables":
        pat = re.compile(r"tcp dport \{ 587, 465 \}")
    elif platform == "mikrotik_routeros":
        pat = re.compile(r"dst-port=587,465")
    else:
        pat = re.compile(r"permit tcp .* eq 587$")
    return _insert_all(platform, mode, text, pat, "block587")


def mutate_remove_attachment(platform: str, mode: str, text: str) -> str:
    if platform == "juniper_junos":
        pat = re.compile(r"^\s*(input|output) OP25B-")
    elif platform == "linux_nftables":
        pat = re.compile(r"jump subscriber")
    elif platform == "mikrotik_routeros":
        pat = re.compile(r"^add action=jump chain=forward ")
    else:
        pat = re.compile(r"^\s*(ip access-group|ipv6 traffic-filter|ipv[46] access-group|service-policy) ")
    lines = text.splitlines()
    out = [ln for ln in lines if not pat.search(ln)]
    assert len(out) < len(lines)
    return "\n".join(out) + "\n"


def mutate_flip_direction(platform: str, mode: str, text: str) -> str:
    subs: list[tuple[str, str]] = {
        "juniper_junos": [(r"^(\s*)input (OP25B-)", r"\1output \2")],
        "linux_nftables": [(r"\biifname\b", "oifname")],
        "cisco_iosxr": [(r"(access-group \S+) ingress$", r"\1 egress")],
        "mikrotik_routeros": [(r"\bin-interface(-list)?=", r"out-interface\1=")],
    }.get(platform, [(r"^(\s*(?:ip access-group|ipv6 traffic-filter|ipv[46] access-group) \S+) in$", r"\1 out"),
                     (r"^(\s*)service-policy input ", r"\1service-policy output ")])  # fmt: skip
    out = text
    for a, b in subs:
        out = re.sub(a, b, out, flags=re.M)
    assert out != text
    return out


MUTATIONS: dict[str, tuple[Callable[[str, str, str], str], Code, str | None]] = {
    "drop-deny": (mutate_drop_deny, Code.SMTP_LEAK, "not covered"),
    "shadowing-permit": (mutate_shadow, Code.SMTP_LEAK, "shadowed"),
    "remove-attachment": (mutate_remove_attachment, Code.NOT_APPLIED, None),
    "flip-direction": (mutate_flip_direction, Code.WRONG_DIRECTION, None),
    "block-587": (mutate_block_587, Code.SUBMISSION_BLOCKED, None),
}


@pytest.mark.parametrize(("name", "mode"), _variants())
def test_generated_config_is_compliant(name: str, mode: str) -> None:
    dev = _device(name, mode)
    rep = audit_text(dev, _render(dev), source="rendered")
    assert rep.verdict is Verdict.COMPLIANT, [f.message for f in rep.findings]
    assert rep.findings == []  # not even DRIFT: the running config is the intent
    assert rep.checks and all(ok for _, ok in rep.checks)


@pytest.mark.parametrize(("name", "mode", "mutation"), _mutation_variants())
def test_single_mutation_is_caught(name: str, mode: str, mutation: str) -> None:
    dev = _device(name, mode)
    fn, code, cause = MUTATIONS[mutation]
    text = fn(dev.platform, mode, _render(dev))
    rep = audit_text(dev, text, source=mutation)
    assert rep.verdict is Verdict.NONCOMPLIANT, [f.message for f in rep.findings]
    if mutation == "remove-attachment" and dev.platform == "linux_nftables":
        # Without the jump the subscriber chain is unreachable; the nft parser flattens only reachable chains, so
        # the engine sees no filter at all (FILTER_MISSING). Were unreachable chains listed as filters, it would
        # say NOT_APPLIED.
        code = Code.NOT_APPLIED if any(f.code is Code.NOT_APPLIED for f in rep.findings) else Code.FILTER_MISSING
    hits = [f for f in rep.findings if f.code is code]
    assert hits, f"{mutation}: expected {code}, got {_codes(rep)}"
    if cause is not None:
        assert any(f.cause == cause for f in hits), [f.cause for f in hits]
    assert rep.remediation and all(f.remediation == "" for f in rep.findings), "one remediation per device"
    fixed = audit_text(dev, apply_remediation(dev.platform, text, rep.remediation))
    assert fixed.verdict is Verdict.COMPLIANT, (rep.remediation, [f.message for f in fixed.findings])
    for f in hits:
        if code in (Code.SMTP_LEAK, Code.SUBMISSION_BLOCKED):
            assert f.counterexample is not None and f.lines and f.config_lines
    assert any(f.code is Code.DRIFT for f in rep.findings)


@pytest.mark.parametrize(("name", "mode"), _variants())
def test_removed_ipv6_pool_is_caught(name: str, mode: str) -> None:
    """The running config was rendered before the IPv6 pool was added: its v6 filter/prefixes are missing."""
    dev = _device(name, mode)
    v4_only = tuple(p for p in dev.pools if p.ipv4)
    if len(v4_only) == len(dev.pools):
        pytest.skip(f"{name} serves no IPv6-only pool")
    old = dataclasses.replace(dev, pools=v4_only)
    rep = audit_text(dev, _render(old), source="old")
    assert rep.verdict is Verdict.NONCOMPLIANT
    assert any(f.code is Code.FILTER_MISSING and f.family == 6 for f in rep.findings), _codes(rep)
    assert not any(f.family == 4 and f.code is not Code.DRIFT for f in rep.findings)


@pytest.mark.lab
@pytest.mark.parametrize("mode", MODES)
def test_nft_kernel_listing_round_trip(mode: str, tmp_path: Path) -> None:
    """Load the rendered file into a fresh netns and audit what the kernel lists back."""
    dev = _device("bras-tyo-lnx1", mode)
    nft = need_nft()
    rendered = tmp_path / "op25b.nft"
    rendered.write_text(get_platform(dev.platform).render(dev))
    proc = subprocess.run(
        ["unshare", "-n", "sh", "-c", f'"{nft}" -f "{rendered}" && "{nft}" list ruleset'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    listing = proc.stdout
    assert "table inet op25b" in listing
    rep = audit_text(dev, listing, source="nft list ruleset")
    assert rep.verdict is Verdict.COMPLIANT, [f.message for f in rep.findings]
    # and a mutation made in the kernel's own listing format is still caught
    leaked = re.sub(r"^.*tcp dport 25 .*reject.*\n", "", listing, flags=re.M)
    assert leaked != listing
    rep = audit_text(dev, leaked, source="nft list ruleset, mutated")
    assert any(f.code is Code.SMTP_LEAK for f in rep.findings), _codes(rep)


# ------------------------------------------------------------------------------------------ data-driven cases

CASES = PLATFORM_DATA
REPO = Path(__file__).resolve().parent.parent


def _case_dirs() -> list[Path]:
    return sorted(p.parent for p in CASES.glob("*/audit_cases/*/case.yaml"))


def _case_device(case: Path, spec: dict[str, object]) -> Device:
    inv_dir = str(spec.get("inventory", "inventory"))
    inv_path = case / inv_dir if (case / inv_dir).is_dir() else REPO / inv_dir
    inv = load_inventory(inv_path)
    dev = inv.devices[str(spec["device"])]
    over = dict(spec.get("override") or {})  # type: ignore[call-overload]
    if "pools" in over:
        over["pools"] = tuple(inv.policy.pool(n) for n in over["pools"])
    if "attach" in over:
        from op25b_cfg.inventory import Attachment

        over["attach"] = tuple(Attachment(**a) for a in over["attach"])
    return dataclasses.replace(dev, **over)


@pytest.mark.parametrize("case", _case_dirs(), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_audit_case(case: Path) -> None:
    import json

    import yaml

    spec = yaml.safe_load((case / "case.yaml").read_text())
    dev = _case_device(case, spec)
    assert dev.platform == case.parent.parent.name, "a case lives in the folder of its device's platform"
    running = case / "running.cfg" if (case / "running.cfg").exists() else REPO / str(spec["running"])
    expected = json.loads((case / "expected.json").read_text())
    rep = audit_text(dev, running.read_text(), source=str(running))
    got = sorted((f.code.value, f.family, f.cause or "") for f in rep.findings if f.code is not Code.DRIFT)
    want = sorted((e["code"], e.get("family"), e.get("cause", "")) for e in expected["findings"])
    assert (rep.verdict.value, got) == (expected["verdict"], want), [f.message for f in rep.findings]
    for e in expected["findings"]:
        if "lines" in e:
            assert any(f.code.value == e["code"] and f.lines == e["lines"] for f in rep.findings), e
    if "drift" in expected:
        assert any(f.code is Code.DRIFT for f in rep.findings) == expected["drift"]
    for f in rep.findings:
        if f.code in (Code.SMTP_LEAK, Code.MTA_BLOCKED, Code.SUBMISSION_BLOCKED, Code.EXEMPT_BLOCKED):
            assert f.counterexample is not None and f.lines
