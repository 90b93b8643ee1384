"""Every rendered nftables ruleset passes ``nft -c -f`` (and really loads) inside a fresh ``unshare -n``.

Rulesets checked: every golden ``expected.nft``, the sample inventory's nftables device in each mode, and
variants (IPv4-only, IPv6-only, no MTAs, no submission ports, several interfaces). Loading happens only inside
a throw-away network namespace, so the host's own ruleset is never touched.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from op25b_cfg import api
from op25b_cfg.inventory import Device, FlowControl
from op25b_cfg.platforms import get_platform
from op25b_cfg.platforms.linux_nftables import TABLE
from tests.labutil import need_nft

REPO = Path(__file__).resolve().parent.parent
GOLDEN_NFT = sorted((REPO / "tests" / "platforms" / "linux_nftables" / "golden").glob("*/expected.nft"))


def _variants() -> dict[str, str]:
    inv = api.load(REPO / "inventory")
    dev = inv.devices["bras-tyo-lnx1"]
    pol = dev.policy
    plat = get_platform("linux_nftables")
    out: dict[str, str] = {}

    def add(name: str, d: Device) -> None:
        out[name] = plat.render(d)

    for mode in ("block", "targeted", "flow-control"):
        add(f"sample-{mode}", dataclasses.replace(dev, mode=mode))
    add("sample-rate-only", dataclasses.replace(dev, flow_control=FlowControl(max_sessions=None)))
    add("sample-v6-len-48", dataclasses.replace(dev, flow_control=FlowControl(ipv6_subscriber_length=48)))
    add("sample-delay-63", dataclasses.replace(dev, mode="flow-control", flow_control=FlowControl(connect_delay_s=63)))
    add("v4-only", dataclasses.replace(dev, pools=tuple(p for p in dev.pools if p.ipv4)))
    add("v6-only-flow", dataclasses.replace(dev, pools=tuple(p for p in dev.pools if p.ipv6)))
    bare = pol.model_copy(update={"mtas": pol.mtas.model_copy(update={"ipv4": [], "ipv6": []}), "submission_ports": []})
    add("no-mta-no-submission", dataclasses.replace(dev, policy=bare, mode="block", log=False, counters=False))
    out.update({f"golden-{p.parent.name}": p.read_text(encoding="utf-8") for p in GOLDEN_NFT})
    return out


RULESETS = _variants()


def _nft_in_netns(nft: str, script: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """Run a shell ``script`` (with $NFT set) inside a new network namespace."""
    return subprocess.run(
        ["unshare", "-n", "sh", "-ec", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp,
        env={"NFT": nft, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        check=False,
    )


def test_golden_nft_cases_exist() -> None:
    assert len(GOLDEN_NFT) >= 4


@pytest.mark.parametrize("name", sorted(RULESETS))
def test_nft_check_accepts(name: str, tmp_path: Path) -> None:
    nft = need_nft()
    f = tmp_path / "op25b.nft"
    f.write_text(RULESETS[name], encoding="utf-8")
    res = _nft_in_netns(nft, f'"$NFT" -c -f {f}', tmp_path)
    assert res.returncode == 0, f"nft -c rejected {name}:\n{res.stderr}\n--- ruleset ---\n{RULESETS[name]}"


@pytest.mark.parametrize("name", ["sample-flow-control", "sample-block", "v6-only-flow"])
def test_nft_loads_replaces_and_leaves_other_tables(name: str, tmp_path: Path) -> None:
    """Load twice (the second load replaces the table atomically) next to a table op25b must not touch."""
    nft = need_nft()
    f = tmp_path / "op25b.nft"
    f.write_text(RULESETS[name], encoding="utf-8")
    script = (
        '"$NFT" add table ip hostfw; "$NFT" add chain ip hostfw input "{ type filter hook input priority 0; }";'
        f' "$NFT" -f {f}; "$NFT" -f {f}; "$NFT" list tables; echo ---; "$NFT" list table inet {TABLE}'
    )
    res = _nft_in_netns(nft, script, tmp_path)
    assert res.returncode == 0, res.stderr
    tables, _, listing = res.stdout.partition("---")
    assert sorted(tables.split("\n")) == sorted(["", "table ip hostfw", f"table inet {TABLE}"])
    assert listing.count("chain subscriber") == 1, "the second load replaced, not duplicated, the table"
    assert "jump subscriber" in listing


def test_nft_check_rejects_a_broken_ruleset(tmp_path: Path) -> None:
    """Control: the check really runs (a ruleset with an unknown set reference is refused)."""
    nft = need_nft()
    broken = RULESETS["sample-block"].replace("@OP25B-POOL-V4", "@NO-SUCH-SET", 1)
    f = tmp_path / "broken.nft"
    f.write_text(broken, encoding="utf-8")
    res = _nft_in_netns(nft, f'"$NFT" -c -f {f}', tmp_path)
    assert res.returncode != 0


@pytest.mark.parametrize("name", sorted(RULESETS))
def test_only_the_op25b_table_is_touched(name: str) -> None:
    """Top-level statements only create/delete/define ``table inet op25b``: no flush ruleset, no other table."""
    top = [line for line in RULESETS[name].splitlines() if line and not line[0].isspace() and not line.startswith("#")]
    assert top == [f"table inet {TABLE}", f"delete table inet {TABLE}", f"table inet {TABLE} {{", "}"], top
