"""The push workflow (op25b_cfg.push) against device test doubles (tests/pushfake.py) and the real auditor.

The doubles stand in for the DEVICES (their state machine is under test control); everything of op25b runs
for real: inventory, rendering, merge candidate, diff handling, the auditor, nornir, the change log.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import stat
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from op25b_cfg import api
from op25b_cfg.changelog import ChangeLog, sha256
from op25b_cfg.cleanup import cleanup_plan, removal_config
from op25b_cfg.connection.base import ConnectOptions, Credentials, Session
from op25b_cfg.errors import ConnectionError_, PushError
from op25b_cfg.inventory import Device
from op25b_cfg.platforms import get_platform
from op25b_cfg.push import PushOptions, ctrl_c_sets, push_device, run_push
from op25b_cfg.results import Outcome
from tests.labutil import REPO
from tests.pushfake import FakeDevice, FakeSession, parse_blocks

SECRETS = ("Sup3rEnable$ecret", "cisco-User-Pw1", "c0mmunityRW", "0822455D0A16")
CREDS = Credentials("netops", "fake-pass-Secr3t!")

IOS_BASE = f"""hostname {{name}}
enable secret 9 {SECRETS[0]}
username admin privilege 15 password 0 {SECRETS[1]}
snmp-server community {SECRETS[2]} RW 99
interface GigabitEthernet0/0
 description uplink
 ip address 192.0.2.1 255.255.255.0
interface Virtual-Template1
 ip unnumbered Loopback0
 ppp authentication chap
 ppp chap password 7 {SECRETS[3]}
 peer default ip address pool DYN
bba-group pppoe global
 virtual-template 1
interface GigabitEthernet0/1
 pppoe enable group global
"""
EOS_BASE = """hostname {name}
username admin secret sha512 $6$abcdefgh$ijklmnop
interface Ethernet1
   description subscribers
   no switchport
"""
XR_BASE = """hostname {name}
interface Bundle-Ether1.100
 description subscribers
"""

# ------------------------------------------------------------------ auditor


@pytest.fixture(scope="session")
def auditor() -> Callable[[Device, str, str], object]:
    """The real audit engine: push's post-change audit is what these tests check."""
    from op25b_cfg.audit.engine import audit_text

    return audit_text  # type: ignore[return-value]


# ------------------------------------------------------------------ inventory + fleet


def make_inventory(
    root: Path, hosts: dict[str, dict[str, object]], policy_patch: dict[str, object] | None = None
) -> Path:
    inv = root / "inv"
    inv.mkdir(parents=True, exist_ok=True)
    policy = yaml.safe_load((REPO / "inventory" / "policy.yaml").read_text())
    if policy_patch:
        policy.update(policy_patch)
    (inv / "policy.yaml").write_text(yaml.safe_dump(policy))
    (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts))
    (inv / "defaults.yaml").write_text(yaml.safe_dump({"data": {"pools": ["DYN-TOKYO", "DYN-V6"]}}))
    return inv


def ios_host(i: int) -> dict[str, object]:
    return {
        "hostname": f"192.0.2.{10 + i}",
        "platform": "cisco_ios",
        "data": {"attach": [{"kind": "virtual-template", "name": "Virtual-Template1", "direction": "in"}]},
    }


HOST_SPECS: dict[str, dict[str, object]] = {
    "eos1": {
        "hostname": "192.0.2.101",
        "platform": "arista_eos",
        "data": {"attach": [{"kind": "interface", "name": "Ethernet1", "direction": "in"}]},
    },
    "xr1": {
        "hostname": "192.0.2.102",
        "platform": "cisco_iosxr",
        "data": {"attach": [{"kind": "interface", "name": "Bundle-Ether1.100", "direction": "in"}]},
    },
}


class Fleet:
    """Fake devices by name plus a session factory for run_push / push_device."""

    def __init__(self, devices: list[Device], latency: float = 0.0) -> None:
        self.fakes: dict[str, FakeDevice] = {}
        for d in devices:
            base = {"cisco_ios": IOS_BASE, "arista_eos": EOS_BASE, "cisco_iosxr": XR_BASE}[d.platform]
            self.fakes[d.name] = FakeDevice(
                d.name,
                base.format(name=d.name),
                revert_timer=get_platform(d.platform).commit_confirm,
                latency=latency,
            )
        self.creds = CREDS

    def session(self, device: Device) -> Session:
        return FakeSession(device, self.creds, ConnectOptions(), self.fakes[device.name])


@pytest.fixture
def fleet_of(tmp_path: Path) -> Callable[..., tuple[list[Device], Fleet]]:
    def build(n_ios: int = 1, extra: tuple[str, ...] = (), policy_patch: dict[str, object] | None = None):
        hosts = {f"ios{i}": ios_host(i) for i in range(1, n_ios + 1)}
        hosts.update({k: HOST_SPECS[k] for k in extra})
        inv = api.load(make_inventory(tmp_path, hosts, policy_patch))
        devs = list(inv.devices.values())
        return devs, Fleet(devs)

    return build


def opts(tmp_path: Path, **kw: object) -> PushOptions:
    base: dict[str, object] = {
        "backup_dir": tmp_path / "backups",
        "changelog": tmp_path / "logs" / "changes.jsonl",
        "workers": 4,
        "os_user": "tester",
        "username": CREDS.username,
    }
    base.update(kw)
    return PushOptions(**base)  # type: ignore[arg-type]


def attached_acls(config: str) -> set[str]:
    out = set()
    for header, children in parse_blocks(config):
        if header.startswith("interface"):
            for c in children:
                w = c.split()
                if w[:2] in (["ip", "access-group"], ["ipv6", "traffic-filter"], ["ipv4", "access-group"]):
                    out.add(w[2])
    return out


def defined_acls(config: str) -> set[str]:
    return {h.split()[-1] for h, _ in parse_blocks(config) if "access-list" in h}


# ------------------------------------------------------------------ dry-run, commit, idempotence


def test_dry_run_shows_diff_and_changes_nothing(tmp_path: Path, fleet_of, auditor) -> None:
    devs, fleet = fleet_of(1)
    dev, fake = devs[0], fleet.fakes["ios1"]
    before = fake.config
    res = push_device(dev, fleet.session, opts(tmp_path), auditor)
    version = api.plan(dev).version
    assert res.outcome is Outcome.DRY_RUN and not res.failed and not res.changed
    assert f"+ip access-list extended OP25B-V4-{version}" in res.diff
    assert f"+ ip access-group OP25B-V4-{version} in" in res.diff
    assert res.diff_lines > 10
    assert fake.config == before and fake.commits == 0
    assert "commit" not in fake.calls and fake.calls.count("discard") == 1
    # the diff shows context lines of the Virtual-Template, secrets in them are redacted
    assert "ppp chap password 7 <redacted>" in res.diff
    assert not any(s in res.diff for s in SECRETS)
    # raw backup, private
    backup = Path(res.backup)
    assert backup.parent == tmp_path / "backups" / "ios1" and backup.suffix == ".cfg"
    assert backup.read_text() == before
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(backup.parent.stat().st_mode) == 0o700


def test_commit_compliant_confirms_and_rerun_is_noop(tmp_path: Path, fleet_of, auditor) -> None:
    devs, fleet = fleet_of(1)
    dev, fake = devs[0], fleet.fakes["ios1"]
    version = api.plan(dev).version
    res = push_device(dev, fleet.session, opts(tmp_path, commit=True), auditor)
    assert res.outcome is Outcome.COMMITTED, res.error
    assert res.changed and not res.failed and res.verdict == "COMPLIANT"
    assert res.state == "new config (confirmed)"
    assert fake.pending is None and fake.commits == 1 and "confirm" in fake.calls
    assert attached_acls(fake.config) == {f"OP25B-V4-{version}", f"OP25B-V6-{version}"}
    assert "ppp chap password 7" in fake.config  # unrelated config untouched
    calls_before = list(fake.calls)

    again = push_device(dev, fleet.session, opts(tmp_path, commit=True), auditor)
    assert again.outcome is Outcome.UNCHANGED and not again.changed and not again.failed
    assert again.diff == "" and fake.commits == 1
    assert "commit" not in fake.calls[len(calls_before) :]


def test_noncompliant_post_audit_rolls_back(tmp_path: Path, fleet_of, auditor) -> None:
    devs, fleet = fleet_of(1)
    dev, fake = devs[0], fleet.fakes["ios1"]
    before = fake.config
    # the device silently drops the deny entries when applying the change (e.g. TCAM exhausted)
    fake.mangle = lambda text: "\n".join(ln for ln in text.splitlines() if not ln.strip().startswith("deny "))
    res = push_device(dev, fleet.session, opts(tmp_path, commit=True), auditor)
    assert res.outcome is Outcome.ROLLED_BACK and res.failed
    assert res.verdict in ("NONCOMPLIANT", "UNKNOWN")
    assert "rolled back" in res.error and res.state == "old config (rolled back, verified)"
    assert fake.config == before and fake.pending is None
    assert "confirm" not in fake.calls and "rollback" in fake.calls


def test_iosxr_without_timer_commits_audits_and_rolls_back(tmp_path: Path, fleet_of, auditor) -> None:
    devs, fleet = fleet_of(0, extra=("xr1",))
    dev, fake = devs[0], fleet.fakes["xr1"]
    res = push_device(dev, fleet.session, opts(tmp_path, commit=True), auditor)
    assert res.outcome is Outcome.COMMITTED, res.error
    assert res.state == "new config" and fake.pending is None  # committed without a timer

    devs2, fleet2 = fleet_of(0, extra=("xr1",))
    fake2 = fleet2.fakes["xr1"]
    before = fake2.config
    fake2.mangle = lambda text: text.replace("deny tcp", "permit tcp")
    res2 = push_device(devs2[0], fleet2.session, opts(tmp_path, commit=True), auditor)
    assert res2.outcome is Outcome.ROLLED_BACK and fake2.config == before


def test_eos_commit(tmp_path: Path, fleet_of, auditor) -> None:
    devs, fleet = fleet_of(0, extra=("eos1",))
    res = push_device(devs[0], fleet.session, opts(tmp_path, commit=True), auditor)
    assert res.outcome is Outcome.COMMITTED, res.error
    assert res.verdict == "COMPLIANT" and "+ip access-list OP25B-V4-" in res.diff


# ------------------------------------------------------------------ make-before-break


def _old_policy_fleet(fleet_of):
    """A device already running the policy of an older intent (different MTA list -> other version)."""
    old_devs, old_fleet = fleet_of(1, policy_patch={"mtas": {"ipv4": ["192.0.2.25"], "ipv6": ["2001:db8:25::25"]}})
    old_dev = old_devs[0]
    return old_dev, old_fleet


def test_make_before_break_and_cleanup(tmp_path: Path, fleet_of, auditor) -> None:
    old_dev, old_fleet = _old_policy_fleet(fleet_of)
    fake = old_fleet.fakes["ios1"]
    assert push_device(old_dev, old_fleet.session, opts(tmp_path, commit=True), auditor).outcome is Outcome.COMMITTED
    old_version = api.plan(old_dev).version

    devs, fleet = fleet_of(1)  # the current intent
    dev = devs[0]
    new_version = api.plan(dev).version
    assert new_version != old_version
    fleet.fakes["ios1"] = fake  # same device, new intent
    snapshots: list[str] = []
    fake.on_call = lambda step: snapshots.append(fake.config)

    dry = push_device(dev, fleet.session, opts(tmp_path), auditor)
    assert dry.outcome is Outcome.DRY_RUN
    assert f"no ip access-list extended OP25B-V4-{old_version}" in dry.cleanup_diff
    assert f"no ipv6 access-list OP25B-V6-{old_version}" in dry.cleanup_diff

    res = push_device(dev, fleet.session, opts(tmp_path, commit=True), auditor)
    assert res.outcome is Outcome.COMMITTED and not res.failed, res.error
    assert sorted(res.cleanup_removed) == [f"OP25B-V4-{old_version}", f"OP25B-V6-{old_version}"]
    assert f"-ip access-list extended OP25B-V4-{old_version}" in res.cleanup_diff
    assert defined_acls(fake.config) == {f"OP25B-V4-{new_version}", f"OP25B-V6-{new_version}"}
    assert fake.commits == 3  # old intent, new intent, removal of the old filters
    # never a moment with an attachment pointing at a filter that does not exist
    for cfg in [*snapshots, fake.config]:
        assert attached_acls(cfg) <= defined_acls(cfg)
        assert attached_acls(cfg), "the attachment was never removed"


FLOW_CONTROL = {
    "mode": "flow-control",
    "flow_control": {"max_sessions": None, "new_per_second": 1, "burst": 5, "ipv6_subscriber_length": 64},
}


def vt_lines(config: str) -> list[str]:
    return [c.strip() for h, ch in parse_blocks(config) if h == "interface Virtual-Template1" for c in ch]


def op25b_objects(config: str) -> set[str]:
    return {h.split()[-1] for h, _ in parse_blocks(config) if "OP25B-" in h.split()[-1]}


def test_mode_switch_removes_the_other_modes_attachment(tmp_path: Path, fleet_of, auditor) -> None:
    """flow control -> block -> flow control on an IOS Virtual-Template: a merge only adds lines, so the old
    mode's attachment (service-policy / access-group) must go in the clean-up, then its objects."""
    fc_devs, fc_fleet = fleet_of(1, policy_patch=FLOW_CONTROL)
    fc_dev, fake = fc_devs[0], fc_fleet.fakes["ios1"]
    first = push_device(fc_dev, fc_fleet.session, opts(tmp_path, commit=True), auditor)
    assert first.outcome is Outcome.COMMITTED, first.error
    fc_version = api.plan(fc_dev).version
    assert f"service-policy input OP25B-FC-{fc_version}" in vt_lines(fake.config)

    devs, fleet = fleet_of(1)  # block mode
    dev, block_version = devs[0], api.plan(devs[0]).version
    fleet.fakes["ios1"] = fake
    snapshots: list[str] = []
    fake.on_call = lambda step: snapshots.append(fake.config)

    dry = push_device(dev, fleet.session, opts(tmp_path), auditor)
    assert dry.outcome is Outcome.DRY_RUN
    preview = dry.cleanup_diff.splitlines()
    stale = f" no service-policy input OP25B-FC-{fc_version}"
    assert preview.index("interface Virtual-Template1") + 1 == preview.index(stale)
    assert preview.index(stale) < preview.index(f"no policy-map OP25B-FC-{fc_version}")
    assert f"no ip access-list extended OP25B-V4-{fc_version}" in preview

    res = push_device(dev, fleet.session, opts(tmp_path, commit=True), auditor)
    assert res.outcome is Outcome.COMMITTED and not res.failed, (res.error, res.state)
    assert res.verdict == "COMPLIANT" and res.changed
    assert res.cleanup_detached == [f"interface Virtual-Template1: service-policy input OP25B-FC-{fc_version}"]
    assert vt_lines(fake.config) == [
        "ip unnumbered Loopback0",
        "ppp authentication chap",
        f"ppp chap password 7 {SECRETS[3]}",
        "peer default ip address pool DYN",
        f"ip access-group OP25B-V4-{block_version} in",
        f"ipv6 traffic-filter OP25B-V6-{block_version} in",
    ]
    assert op25b_objects(fake.config) == {f"OP25B-V4-{block_version}", f"OP25B-V6-{block_version}"}
    # the block filter was in place before the policer left: never a moment without either
    for cfg in [*snapshots, fake.config]:
        assert attached_acls(cfg) or any(ln.startswith("service-policy input OP25B") for ln in vt_lines(cfg))
        assert attached_acls(cfg) <= defined_acls(cfg)
    again = push_device(dev, fleet.session, opts(tmp_path, commit=True), auditor)
    assert again.outcome is Outcome.UNCHANGED and not again.cleanup_diff and not again.changed

    # and back to flow control: the block ACLs leave the Virtual-Template and the device
    back = push_device(fc_dev, fc_fleet.session, opts(tmp_path, commit=True), auditor)
    assert back.outcome is Outcome.COMMITTED and not back.failed, (back.error, back.state)
    assert sorted(back.cleanup_detached) == [
        f"interface Virtual-Template1: ip access-group OP25B-V4-{block_version} in",
        f"interface Virtual-Template1: ipv6 traffic-filter OP25B-V6-{block_version} in",
    ]
    assert [ln for ln in vt_lines(fake.config) if "OP25B" in ln] == [f"service-policy input OP25B-FC-{fc_version}"]
    assert op25b_objects(fake.config) == {
        f"OP25B-V4-{fc_version}",
        f"OP25B-V6-{fc_version}",
        f"OP25B-FC-{fc_version}",
    }


def test_cleanup_plan_junos_family_left_the_intent() -> None:
    """IPv6 pools leave the intent: the unit's inet6 filter input points at the old filter and nothing fills
    that slot any more, so the clean-up deletes the statement, then the old IPv6 filter and prefix lists."""
    from op25b_cfg.dialects.junos_tree import load_set, parse, render

    inv = api.load(REPO / "inventory")
    dev = inv.devices["bng-tyo-mx1"]
    version = api.plan(dev).version
    old = api.render(dev).replace(version, "0123abcd")
    v4_only = dataclasses.replace(dev, pools=tuple(p for p in dev.pools if p.ipv4))
    cur = api.plan(v4_only).version
    candidate = api.render(v4_only)
    assert cur != "0123abcd" and "inet6" not in candidate.split("dynamic-profiles")[-1]

    refs, objs = cleanup_plan("juniper_junos", old, cur, dev.attach, candidate)
    assert refs and {r.text for r in refs} == {"input OP25B-V6-0123abcd"}  # one per attachment stanza
    text = removal_config("juniper_junos", objs, refs)
    for line in text.splitlines()[: len(refs)]:
        assert line.startswith("delete ") and line.endswith(" family inet6 filter input"), line
    assert "delete firewall family inet6 filter OP25B-V6-0123abcd" in text
    # the IPv4 filter is re-pointed by the candidate, so the preview also lists it (the merge frees it)
    assert "delete firewall family inet filter OP25B-V4-0123abcd" in text
    tree = parse(old)
    load_set(tree, text)
    after = render(tree)
    assert "OP25B-V6-0123abcd" not in after
    assert "input OP25B-V4-0123abcd" in after  # the merge (not the clean-up) re-points IPv4


def test_cleanup_keeps_objects_still_referenced() -> None:
    cfg = """ip access-list extended OP25B-V4-aaaaaaaa
 deny tcp any any eq 25
ip access-list extended OP25B-V4-bbbbbbbb
 deny tcp any any eq 25
class-map match-any OP25B-FC-aaaaaaaa
 match access-group name OP25B-V4-aaaaaaaa
policy-map OP25B-FC-aaaaaaaa
 class OP25B-FC-aaaaaaaa
  police rate 1 pps burst 5 packets
interface GigabitEthernet0/1
 ip access-group OP25B-V4-bbbbbbbb in
interface Virtual-Template1
 service-policy input OP25B-FC-aaaaaaaa
!
end
"""
    assert cleanup_plan("cisco_ios", cfg, "cccccccc") == ([], [])  # everything is in use
    kept_b = cleanup_plan(
        "cisco_ios", cfg.replace("ip access-group OP25B-V4-bbbbbbbb in", "description x"), "cccccccc"
    )[1]
    assert [o.name for o in kept_b] == ["OP25B-V4-bbbbbbbb"]
    gone = cleanup_plan(
        "cisco_ios", cfg.replace(" service-policy input OP25B-FC-aaaaaaaa", " description y"), "bbbbbbbb"
    )[1]
    assert [o.remove for o in gone] == [
        "no policy-map OP25B-FC-aaaaaaaa",
        "no class-map OP25B-FC-aaaaaaaa",
        "no ip access-list extended OP25B-V4-aaaaaaaa",
    ]


def test_cleanup_plan_junos_objects() -> None:
    inv = api.load(REPO / "inventory")
    dev = inv.devices["bng-tyo-mx1"]
    text = api.render(dev)
    version = api.plan(dev).version
    old = text.replace(version, "0123abcd")
    assert cleanup_plan("juniper_junos", old, version) == ([], [])  # still attached
    preview = cleanup_plan("juniper_junos", old, version, dev.attach)[1]
    removes = [o.remove for o in preview]
    assert removes[0] == "delete firewall family inet filter OP25B-V4-0123abcd"
    assert "delete policy-options prefix-list OP25B-POOL-V4-0123abcd" in removes
    assert cleanup_plan("juniper_junos", text, version) == ([], [])  # current version is never removed


# ------------------------------------------------------------------ faults


@pytest.mark.parametrize(
    ("step", "exc", "after_apply", "state"),
    [
        ("load", PushError("ios1: load merge candidate failed: % Invalid input"), False, "old config"),
        ("diff", ConnectionError_("ios1: compare config failed: the connection was lost"), False, "old config"),
        ("commit", PushError("ios1: commit failed: the device refused it"), False, "old config"),
        ("commit", ConnectionError_("ios1: commit failed: the connection was lost"), True, "revert timer"),
        ("confirm", ConnectionError_("ios1: confirm commit failed: the connection was lost"), False, "revert timer"),
    ],
)
def test_fault_leaves_old_config_and_reports(
    tmp_path: Path, fleet_of, auditor, step: str, exc: Exception, after_apply: bool, state: str
) -> None:
    devs, fleet = fleet_of(1)
    dev, fake = devs[0], fleet.fakes["ios1"]
    before = fake.config
    fake.fail(step, exc, after_apply=after_apply)
    res = push_device(dev, fleet.session, opts(tmp_path, commit=True), auditor)
    assert res.outcome is Outcome.FAILED and res.failed
    assert str(exc) in res.error
    assert state in res.state
    assert fake.config == before  # after the session closed: old config (timer fired where it applied)
    assert fake.pending is None
    # a re-run after the partial failure converges
    again = push_device(dev, fleet.session, opts(tmp_path, commit=True), auditor)
    assert again.outcome is Outcome.COMMITTED and not again.failed, again.error


def test_rejected_line_is_reported(tmp_path: Path, fleet_of, auditor, monkeypatch: pytest.MonkeyPatch) -> None:
    devs, fleet = fleet_of(1)
    dev, fake = devs[0], fleet.fakes["ios1"]
    plat = get_platform(dev.platform)
    monkeypatch.setattr(type(plat), "render", lambda self, d, plan=None: "ip access-list extended REJECT-ME\n")
    res = push_device(dev, fleet.session, opts(tmp_path, commit=True), auditor)
    assert res.outcome is Outcome.FAILED and "Invalid input" in res.error and fake.commits == 0


def test_rollback_failure_without_timer_says_so(tmp_path: Path, fleet_of, auditor) -> None:
    devs, fleet = fleet_of(0, extra=("xr1",))
    fake = fleet.fakes["xr1"]
    fake.mangle = lambda text: text.replace("deny tcp", "permit tcp")
    fake.fail("rollback", ConnectionError_("xr1: rollback failed: the connection was lost"))
    res = push_device(devs[0], fleet.session, opts(tmp_path, commit=True), auditor)
    assert res.outcome is Outcome.FAILED
    assert "NEW CONFIG ACTIVE AND NOT VERIFIED" in res.state and res.backup in res.state


def test_wrong_password_is_a_clear_error_without_secret(tmp_path: Path, fleet_of, auditor) -> None:
    devs, fleet = fleet_of(1)
    fleet.creds = Credentials("netops", "wrong-Passw0rd-xyz")
    res = push_device(devs[0], fleet.session, opts(tmp_path, commit=True), auditor)
    assert res.outcome is Outcome.FAILED and "authentication failed" in res.error
    assert "wrong-Passw0rd-xyz" not in res.error and res.state == "untouched (not connected)"


def test_cleanup_failure_is_reported_and_rerun_converges(tmp_path: Path, fleet_of, auditor) -> None:
    old_dev, old_fleet = _old_policy_fleet(fleet_of)
    fake = old_fleet.fakes["ios1"]
    push_device(old_dev, old_fleet.session, opts(tmp_path, commit=True), auditor)
    devs, fleet = fleet_of(1)
    fleet.fakes["ios1"] = fake
    # the second commit (the removal of the old filters) is lost
    fake.fail("commit", PushError("ios1: commit failed: lock held"), times=1)
    fake.faults["commit"].insert(0, None)  # type: ignore[arg-type]  # first commit (the intent) passes
    res = push_device(devs[0], fleet.session, opts(tmp_path, commit=True), auditor)
    assert res.outcome is Outcome.COMMITTED and res.failed and "lock held" in res.error
    assert "old filters not removed" in res.state and not res.cleanup_removed
    again = push_device(devs[0], fleet.session, opts(tmp_path, commit=True), auditor)
    assert again.outcome is Outcome.UNCHANGED and not again.failed, again.error
    assert len(again.cleanup_removed) == 2 and again.changed


# ------------------------------------------------------------------ many devices: nornir, isolation, Ctrl-C


def test_isolation_with_several_workers_and_changelog(tmp_path: Path, fleet_of, auditor) -> None:
    devs, fleet = fleet_of(12)
    fleet.fakes["ios3"].fail("open", ConnectionError_("ios3: connect failed: timed out after 30s"))
    fleet.fakes["ios7"].fail("load", PushError("ios7: load merge candidate failed: % Invalid input"))
    done: list[str] = []
    o = opts(tmp_path, commit=True, workers=5)
    report = run_push(devs, o, fleet.session, auditor=auditor, on_done=lambda r: done.append(r.device))
    by = {r.device: r for r in report.results}
    assert [r.device for r in report.results] == [d.name for d in devs]  # inventory order
    assert sorted(done) == sorted(by)
    assert by["ios3"].outcome is Outcome.FAILED and "timed out" in by["ios3"].error
    assert by["ios7"].outcome is Outcome.FAILED and fleet.fakes["ios7"].commits == 0
    ok = [r for n, r in by.items() if n not in ("ios3", "ios7")]
    assert all(r.outcome is Outcome.COMMITTED for r in ok)
    assert report.exit_code == 1 and len(report.failed) == 2
    assert "10 committed" in report.summary() and "2 failed" in report.summary()

    text = Path(o.changelog).read_text()  # type: ignore[arg-type]
    assert not any(s in text for s in SECRETS) and CREDS.password not in text
    recs = list(ChangeLog(Path(o.changelog)).records())  # type: ignore[arg-type]
    assert len(recs) == 12 and {r["device"] for r in recs} == set(by)
    rec = next(r for r in recs if r["device"] == "ios1")
    assert rec["os_user"] == "tester" and rec["username"] == "netops" and rec["mode"] == "commit"
    assert rec["result"] == "committed" and rec["verdict"] == "COMPLIANT"
    assert rec["diff_sha256"] == sha256(by["ios1"].diff) and rec["diff_lines"] == by["ios1"].diff_lines
    assert datetime.fromisoformat(rec["ts"]).tzinfo is not None
    assert rec["backup"] == by["ios1"].backup and len({r["run_id"] for r in recs}) == 1
    bad = next(r for r in recs if r["device"] == "ios7")
    assert bad["result"] == "failed" and "Invalid input" in bad["error"]


def test_dry_run_all_ok_exit_0(tmp_path: Path, fleet_of, auditor) -> None:
    devs, fleet = fleet_of(3, extra=("eos1", "xr1"))
    report = run_push(devs, opts(tmp_path), fleet.session)
    assert {r.outcome for r in report.results} == {Outcome.DRY_RUN}
    assert report.exit_code == 0 and all(f.commits == 0 for f in fleet.fakes.values())


def test_ctrl_c_starts_no_new_device_and_lets_in_flight_finish(tmp_path: Path, fleet_of, auditor) -> None:
    devs, fleet = fleet_of(5)
    stop = threading.Event()
    first = fleet.fakes["ios1"]
    first.on_call = lambda step: stop.set() if step == "commit" else None  # Ctrl-C while ios1 commits
    report = run_push(devs, opts(tmp_path, commit=True, workers=1), fleet.session, auditor=auditor, stop=stop)
    by = {r.device: r for r in report.results}
    assert by["ios1"].outcome is Outcome.COMMITTED and first.pending is None  # finished and confirmed
    assert all(by[f"ios{i}"].outcome is Outcome.SKIPPED for i in range(2, 6))
    assert all(fleet.fakes[f"ios{i}"].calls == [] for i in range(2, 6))  # never even connected
    assert report.interrupted and report.exit_code == 1 and "interrupted" in report.summary()


def test_real_sigint_sets_the_stop_event(tmp_path: Path, fleet_of, auditor) -> None:
    devs, fleet = fleet_of(4)
    stop = threading.Event()
    notes: list[str] = []

    def ctrl_c(step: str) -> None:
        if step == "load":  # the terminal delivers SIGINT to the main thread while ios1 is in flight
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
            assert stop.wait(10)

    fleet.fakes["ios1"].on_call = ctrl_c
    with ctrl_c_sets(stop, notes.append):
        report = run_push(devs, opts(tmp_path, commit=True, workers=1), fleet.session, auditor=auditor, stop=stop)
    assert stop.is_set() and notes and "starting no new device" in notes[0]
    outcomes = [r.outcome for r in report.results]
    assert outcomes[0] is Outcome.COMMITTED and outcomes[1:] == [Outcome.SKIPPED] * 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_window_closing_mid_run_skips_devices_not_started(tmp_path: Path, fleet_of, auditor) -> None:
    devs, fleet = fleet_of(3)
    window = api.change_window("daily 01:00-05:00 UTC")
    inside = datetime(2024, 6, 1, 4, 59, tzinfo=UTC)
    clock = iter([inside, inside, inside + timedelta(minutes=2)] + [inside + timedelta(minutes=3)] * 20)
    o = opts(tmp_path, commit=True, workers=1, window=window)
    report = run_push(devs, o, fleet.session, auditor=auditor, now=lambda: next(clock))
    outcomes = [r.outcome for r in report.results]
    assert outcomes[0] is Outcome.COMMITTED
    assert Outcome.SKIPPED in outcomes and report.window_closed
    skipped = [r for r in report.results if r.outcome is Outcome.SKIPPED]
    assert all("change window" in r.state for r in skipped)
    assert all(fleet.fakes[r.device].calls == [] for r in skipped)
    # --force ignores the window
    forced = run_push(
        devs,
        opts(tmp_path, commit=True, window=window, force=True),
        fleet.session,
        auditor=auditor,
        now=lambda: inside + timedelta(hours=3),
    )
    assert Outcome.SKIPPED not in [r.outcome for r in forced.results]


def test_changelog_records_dry_run_and_no_secret(tmp_path: Path, fleet_of) -> None:
    devs, fleet = fleet_of(2)
    o = opts(tmp_path)
    run_push(devs, o, fleet.session)
    lines = Path(o.changelog).read_text().splitlines()  # type: ignore[arg-type]
    assert len(lines) == 2
    for line in lines:
        rec = json.loads(line)
        assert rec["mode"] == "dry-run" and rec["result"] == "dry-run" and rec["verdict"] is None
        assert len(rec["diff_sha256"]) == 64
    assert not any(s in "\n".join(lines) for s in SECRETS)
    run_push(devs, o, fleet.session)
    assert len(Path(o.changelog).read_text().splitlines()) == 4  # appended, never rewritten


def test_factory_picks_the_session_by_platform() -> None:
    from op25b_cfg.connection.factory import make_session, session_class
    from op25b_cfg.connection.linux import LinuxNftSession
    from op25b_cfg.connection.napalm_session import NapalmSession

    inv = api.load(REPO / "inventory")
    kinds = {name: session_class(d) for name, d in inv.devices.items()}
    assert kinds["bras-tyo-lnx1"] is LinuxNftSession
    assert {kinds[n] for n in ("bras-tyo-ios1", "bras-osa-xr1", "bng-tyo-mx1", "edge-osa-eos1")} == {NapalmSession}
    s = make_session(inv.devices["bras-osa-xr1"], CREDS, ConnectOptions())
    assert isinstance(s, NapalmSession) and s.driver_name == "iosxr" and not s.has_revert_timer
