"""Every validation error named in issue 2 item 5: the message names the file, the field and a fix.

Each test starts from the bundled sample inventory (valid), breaks one thing, and checks the
:class:`~op25b_cfg.errors.Problem` it produces. ``op25b inventory validate`` is checked for exit code 2 and
no traceback.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from op25b_cfg import api
from op25b_cfg.errors import InventoryError, Problem
from op25b_cfg.platforms import PLATFORMS

SAMPLE = Path(__file__).resolve().parent.parent / "inventory"
FILES = ("policy.yaml", "hosts.yaml", "groups.yaml", "defaults.yaml")

Inv = dict[str, dict[str, Any]]


def sample() -> Inv:
    return {f: yaml.safe_load((SAMPLE / f).read_text(encoding="utf-8")) for f in FILES}


def write(tmp: Path, inv: Inv) -> Path:
    d = tmp / "inv"
    d.mkdir(exist_ok=True)
    for name, body in inv.items():
        (d / name).write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return d


def problems(tmp: Path, mutate: Callable[[Inv], None]) -> list[Problem]:
    inv = copy.deepcopy(sample())
    mutate(inv)
    with pytest.raises(InventoryError) as info:
        api.load(write(tmp, inv))
    assert info.value.problems, "an InventoryError always carries problems"
    for p in info.value.problems:
        assert str(p) in str(info.value)
    return info.value.problems


def only(found: list[Problem], file: str, field: str, *words: str) -> Problem:
    """The one problem in ``file`` whose field is ``field``; its message holds ``words``; it has a fix."""
    hits = [p for p in found if p.file.endswith(file) and p.field == field]
    assert len(hits) == 1, f"expected one problem at {file}: {field}, got {[str(p) for p in found]}"
    p = hits[0]
    text = str(p)
    for w in words:
        assert w in text, f"{w!r} not in {text!r}"
    assert p.fix, f"no fix in {text!r}"
    assert "Fix: " in text
    assert "\n" not in text
    return p


def test_sample_inventory_is_valid() -> None:
    inv = api.load(SAMPLE)
    assert {d.platform for d in inv.devices.values()} == set(PLATFORMS), "one sample device per platform"


def test_malformed_prefix(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["policy.yaml"]["pools"][0]["ipv4"] = ["100.64.0/16x"]

    p = only(problems(tmp_path, m), "policy.yaml", "pools[0].ipv4[0]", "'100.64.0/16x'", "not an IP address")
    assert "192.0.2.0/24" in p.fix


def test_non_text_prefix(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["policy.yaml"]["mtas"]["ipv4"] = [12345]

    only(problems(tmp_path, m), "policy.yaml", "mtas.ipv4[0]", "12345")


def test_host_bits_set(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["policy.yaml"]["pools"][1]["ipv4"] = ["100.65.1.1/16"]

    p = only(problems(tmp_path, m), "policy.yaml", "pools[1].ipv4[0]", "host bits")
    assert "100.65.0.0/16" in p.fix


@pytest.mark.parametrize(
    ("where", "value", "field", "fix"),
    [
        (("pools", 2, "ipv6"), "100.99.0.0/16", "pools[2].ipv6[0]", "ipv4 list"),
        (("pools", 0, "ipv4"), "2001:db8:9000::/36", "pools[0].ipv4[0]", "ipv6 list"),
        (("mtas", "ipv4"), "2001:db8:25::26", "mtas.ipv4[0]", "ipv6 list"),
        (("targeted", "ipv6"), "198.51.100.0/24", "targeted.ipv6[0]", "ipv4 list"),
    ],
)
def test_ipv4_ipv6_mixup(tmp_path: Path, where: tuple[Any, ...], value: str, field: str, fix: str) -> None:
    def m(inv: Inv) -> None:
        node: Any = inv["policy.yaml"]
        for k in where:
            node = node[k]
        node.insert(0, value)

    p = only(problems(tmp_path, m), "policy.yaml", field, value, "expected")
    assert fix in p.fix


def test_mta_inside_dynamic_pool(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["policy.yaml"]["mtas"]["ipv4"].append("100.64.0.25")

    p = only(problems(tmp_path, m), "policy.yaml", "mtas.ipv4[2]", "100.64.0.25/32", "DYN-TOKYO")
    assert "MTA" in p.message


def test_duplicate_pool_names(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["policy.yaml"]["pools"].append({"name": "DYN-TOKYO", "ipv4": ["100.70.0.0/16"]})

    p = only(problems(tmp_path, m), "policy.yaml", "pools[3].name", "DYN-TOKYO", "twice")
    assert "unique" in p.fix


def test_overlapping_pools(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["policy.yaml"]["pools"].append({"name": "DYN-NEW", "ipv4": ["100.64.128.0/17"]})

    only(problems(tmp_path, m), "policy.yaml", "pools[3].ipv4[0]", "100.64.128.0/17", "overlaps", "DYN-TOKYO")


def test_overlap_inside_one_pool(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["policy.yaml"]["pools"][2]["ipv6"].append("2001:db8:8000:1::/64")

    only(problems(tmp_path, m), "policy.yaml", "pools[2].ipv6[1]", "overlaps")


def test_unknown_platform(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["hosts.yaml"]["bras-tyo-ios1"]["platform"] = "cisco_nxos"

    p = only(problems(tmp_path, m), "hosts.yaml", "bras-tyo-ios1.platform", "unknown platform 'cisco_nxos'")
    assert "linux_nftables" in p.fix


def test_unknown_platform_from_a_group_names_the_group_file(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["groups.yaml"]["linux-bras"]["platform"] = "linux_iptables"

    only(problems(tmp_path, m), "groups.yaml", "linux-bras.platform", "linux_iptables")


@pytest.mark.parametrize(
    ("device", "file_field"),
    [("edge-osa-eos1", "hosts.yaml"), ("bras-osa-xr1", "hosts.yaml")],
)
def test_unsupported_mode_for_platform(tmp_path: Path, device: str, file_field: str) -> None:
    def m(inv: Inv) -> None:
        inv["hosts.yaml"][device]["data"]["mode"] = "flow-control"

    found = problems(tmp_path, m)
    p = only(found, file_field, device, "mode 'flow-control'")
    platform = sample()["hosts.yaml"][device]["platform"]
    assert f"platform {platform}" in p.message
    assert "block" in p.fix
    assert f"{device}.data.mode" in p.message, "the message points at where the mode was set"


def test_flow_control_session_cap_unsupported(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["hosts.yaml"]["bras-tyo-ios1"]["data"]["mode"] = "flow-control"

    p = only(problems(tmp_path, m), "hosts.yaml", "bras-tyo-ios1", "platform cisco_ios", "mode 'flow-control'")
    assert "max_sessions" in p.message and "null" in p.fix


def test_device_serving_no_pool(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["hosts.yaml"]["edge-osa-eos1"]["groups"] = ["mobile-edge"]

    p = only(problems(tmp_path, m), "hosts.yaml", "edge-osa-eos1.data.pools", "serves no pool")
    assert "DYN-TOKYO" in p.fix


def test_unknown_pool(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["groups.yaml"]["osaka"]["data"]["pools"] = ["DYN-OSAKA", "DYN-KYOTO"]

    only(problems(tmp_path, m), "groups.yaml", "osaka.data.pools[1]", "DYN-KYOTO")


def test_unknown_group(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["hosts.yaml"]["bng-tyo-mx1"]["groups"] = ["tokyo", "kyoto"]

    p = only(problems(tmp_path, m), "hosts.yaml", "bng-tyo-mx1.groups[1]", "unknown group 'kyoto'")
    assert "tokyo" in p.fix and "groups.yaml" in p.fix


UNSAFE = ["x\nno ip access-list", "x}", "x{", "x; flush ruleset", 'x"', "x'", "x y"]


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Inv], None]:
    def m(inv: Inv) -> None:
        node: Any = inv
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value

    return m


@pytest.mark.parametrize(
    "bad", UNSAFE, ids=["newline", "close-brace", "open-brace", "semicolon", "dquote", "squote", "space"]
)
@pytest.mark.parametrize(
    ("path", "file", "field"),
    [
        (("policy.yaml", "name"), "policy.yaml", "name"),
        (("policy.yaml", "pools", 0, "name"), "policy.yaml", "pools[0].name"),
        (("policy.yaml", "exemptions", "static", 0, "name"), "policy.yaml", "exemptions.static[0].name"),
        (("policy.yaml", "exemptions", "opt_out", 0, "subscriber"), "policy.yaml", "exemptions.opt_out[0].subscriber"),
        (
            ("hosts.yaml", "edge-osa-eos1", "data", "attach", 0, "name"),
            "hosts.yaml",
            "edge-osa-eos1.data.attach[0].name",
        ),
        (("hosts.yaml", "bras-tyo-ios1", "username"), "hosts.yaml", "bras-tyo-ios1.username"),
    ],
)
def test_unsafe_names_are_refused(tmp_path: Path, bad: str, path: tuple[Any, ...], file: str, field: str) -> None:
    p = only(problems(tmp_path, _set(path, bad)), file, field, "not a safe name")
    assert "letters, digits" in p.fix


@pytest.mark.parametrize("bad", ['evil"; flush ruleset', "two\nlines", "x } y", "x { y", "a;b", "it's"])
@pytest.mark.parametrize(
    ("path", "file", "field"),
    [
        (("policy.yaml", "description"), "policy.yaml", "description"),
        (("policy.yaml", "pools", 1, "description"), "policy.yaml", "pools[1].description"),
        (("hosts.yaml", "bras-tyo-ios1", "data", "description"), "hosts.yaml", "bras-tyo-ios1.data.description"),
        (("groups.yaml", "tokyo", "data", "site"), "groups.yaml", "tokyo.data.site"),
    ],
)
def test_unsafe_descriptions_are_refused(
    tmp_path: Path, bad: str, path: tuple[Any, ...], file: str, field: str
) -> None:
    only(problems(tmp_path, _set(path, bad)), file, field, "not safe description text")


@pytest.mark.parametrize("bad", ["bras\nevil", "bras;evil", "bras}", 'bras"'])
def test_unsafe_host_and_group_names_are_refused(tmp_path: Path, bad: str) -> None:
    def host(inv: Inv) -> None:
        inv["hosts.yaml"][bad] = inv["hosts.yaml"].pop("bras-tyo-ios1")

    def group(inv: Inv) -> None:
        inv["groups.yaml"][bad] = {"data": {"log": True}}

    only(problems(tmp_path, host), "hosts.yaml", repr(bad), "not a valid device name")
    only(problems(tmp_path, group), "groups.yaml", repr(bad), "not a safe name")


@pytest.mark.parametrize(
    "bad",
    ["192.0.2.11; reload", "host\nname", "-leading-dash", "192.0.2.300", "a..b", "x" * 64 + ".example", "a-.example"],
)
def test_unsafe_management_hostname(tmp_path: Path, bad: str) -> None:
    only(
        problems(tmp_path, _set(("hosts.yaml", "bras-tyo-ios1", "hostname"), bad)),
        "hosts.yaml",
        "bras-tyo-ios1.hostname",
        "neither an IP address nor a DNS name",
    )


@pytest.mark.parametrize(
    ("path", "value", "words", "fix"),
    [
        (("policy.yaml", "mode"), "blok", ["'blok' is not allowed here"], "'block', 'targeted' or 'flow-control'"),
        (("policy.yaml", "pools"), [], ["the list is empty"], "list at least 1 entry"),
        (("policy.yaml", "flow_control", "burst"), 0, ["0 is too small (the minimum is 1)"], "use 1 or more"),
        (("policy.yaml", "submission_ports", 0), 70000, ["70000 is too large (the maximum is 65535)"], "65535 or less"),
        (("hosts.yaml", "bras-tyo-ios1", "port"), "ssh", ["expected a whole number, got 'ssh'"], "whole number"),
        (("policy.yaml", "log"), "maybe", ["expected true or false, got 'maybe'"], "true or false"),
    ],
)
def test_validation_messages_in_our_words(
    tmp_path: Path, path: tuple[Any, ...], value: Any, words: list[str], fix: str
) -> None:
    def mutate(inv: Inv) -> None:
        target = inv[path[0]]
        for k in path[1:-1]:
            target = target[k]
        target[path[-1]] = value

    field = ".".join(str(p) for p in path[1:]).replace(".0", "[0]")
    p = only(problems(tmp_path, mutate), path[0], field, *words)
    assert fix in p.fix and "Input should" not in str(p)


@pytest.mark.parametrize(
    ("path", "file", "field"),
    [
        (("hosts.yaml", "bras-tyo-ios1", "password"), "hosts.yaml", "bras-tyo-ios1.password"),
        (("hosts.yaml", "bras-tyo-ios1", "data", "secret"), "hosts.yaml", "bras-tyo-ios1.data.secret"),
        (("defaults.yaml", "password"), "defaults.yaml", "password"),
        (("groups.yaml", "tokyo", "data", "enable_password"), "groups.yaml", "tokyo.data.enable_password"),
        (("policy.yaml", "community"), "policy.yaml", "community"),
        (
            ("hosts.yaml", "bras-tyo-ios1", "connection_options"),
            "hosts.yaml",
            "bras-tyo-ios1.connection_options",
        ),
    ],
)
def test_password_in_inventory_file(tmp_path: Path, path: tuple[Any, ...], file: str, field: str) -> None:
    secret = "Hunter2-very-secret"
    value: Any = secret
    if path[-1] == "connection_options":
        value = {"napalm": {"extras": {"optional_args": {"secret": secret}}, "password": secret}}
    found = problems(tmp_path, _set(path, value))
    p = only(found, file, field, "credentials never live in inventory files")
    assert "OP25B_PASSWORD" in p.fix
    assert all(secret not in str(q) for q in found), "a secret never appears in an error"


def test_yaml_syntax_error(tmp_path: Path) -> None:
    d = write(tmp_path, sample())
    (d / "groups.yaml").write_text("tokyo:\n  data:\n    pools: [DYN-TOKYO\nosaka: {\n", encoding="utf-8")
    with pytest.raises(InventoryError) as info:
        api.load(d)
    hits = [p for p in info.value.problems if p.file.endswith("groups.yaml")]
    assert len(hits) == 1
    assert hits[0].field.startswith("line ") and "column" in hits[0].field
    assert "not valid YAML" in hits[0].message and hits[0].fix


def test_missing_policy_file(tmp_path: Path) -> None:
    d = write(tmp_path, sample())
    (d / "policy.yaml").unlink()
    with pytest.raises(InventoryError) as info:
        api.load(d)
    p = only(info.value.problems, "policy.yaml", "", "file not found")
    assert "create policy.yaml" in p.fix


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="is not a directory"):
        api.load(tmp_path / "nope")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["policy.yaml"]["pools"][0]["ipv4"] = ["100.64.0.1/16"]
        inv["hosts.yaml"]["bng-tyo-mx1"]["groups"] = ["nowhere"]
        inv["hosts.yaml"]["bras-tyo-ios1"]["hostname"] = "bad host"

    found = problems(tmp_path, m)
    assert {p.field for p in found} >= {"pools[0].ipv4[0]", "bng-tyo-mx1.groups[0]", "bras-tyo-ios1.hostname"}


def test_every_device_problem_is_reported_at_once(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["hosts.yaml"]["bras-tyo-ios1"]["platform"] = "cisco_nxos"
        inv["hosts.yaml"]["edge-osa-eos1"]["data"]["mode"] = "flow-control"
        inv["groups.yaml"]["osaka"]["data"]["pools"] = ["DYN-KYOTO"]

    found = problems(tmp_path, m)
    fields = [p.field for p in found]
    assert "bras-tyo-ios1.platform" in fields and "osaka.data.pools[0]" in fields
    assert fields.count("osaka.data.pools[0]") == 1, "a group problem is reported once, not once per host"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "op25b_cfg", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_cli_validate_exit_2_without_traceback(tmp_path: Path) -> None:
    inv = sample()
    inv["policy.yaml"]["mtas"]["ipv4"].append("100.64.0.25")
    inv["hosts.yaml"]["bras-tyo-ios1"]["password"] = "Hunter2-very-secret"
    d = write(tmp_path, inv)
    res = _cli("inventory", "validate", "-i", str(d))
    assert res.returncode == 2, res
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    assert "2 problem(s)" in res.stderr
    assert f"{d / 'policy.yaml'}: mtas.ipv4[2]" in res.stderr
    assert "Hunter2" not in res.stderr + res.stdout


def test_cli_validate_yaml_error_and_missing_dir(tmp_path: Path) -> None:
    d = write(tmp_path, sample())
    (d / "hosts.yaml").write_text("a: [\n", encoding="utf-8")
    for target in (d, tmp_path / "missing"):
        res = _cli("inventory", "validate", "-i", str(target))
        assert res.returncode == 2
        assert "Traceback" not in res.stderr and "error:" in res.stderr


def test_cli_validate_ok() -> None:
    res = _cli("inventory", "validate", "-i", str(SAMPLE))
    assert res.returncode == 0, res.stderr
    assert "valid" in res.stdout


@pytest.mark.parametrize(
    ("device", "index", "option", "value", "wants"),
    [
        ("bras-tyo-ios1", 0, "template_type", "ppp", "dynamic-template"),
        ("bng-tyo-mx1", 1, "profile_interface", "pp0", "dynamic-profile"),
        ("bras-tyo-lnx1", 0, "profile_interface", "pp0", "dynamic-profile"),
    ],
)
def test_attachment_option_on_the_wrong_kind(
    tmp_path: Path, device: str, index: int, option: str, value: str, wants: str
) -> None:
    """An option that only means something for another attachment kind is refused, not silently ignored."""

    def mutate(inv: Inv) -> None:
        inv["hosts.yaml"][device]["data"]["attach"][index][option] = value

    p = only(problems(tmp_path, mutate), "hosts.yaml", device, option, wants)
    assert f"remove {option}" in p.fix


def test_unsafe_profile_interface_is_refused(tmp_path: Path) -> None:
    def mutate(inv: Inv) -> None:
        inv["hosts.yaml"]["bng-tyo-mx1"]["data"]["attach"][0]["profile_interface"] = "pp0 { }"

    only(problems(tmp_path, mutate), "hosts.yaml", "bng-tyo-mx1.data.attach[0].profile_interface", "not a safe name")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, ("connect_delay_s 0 is not a delay", "null")),
        (64, ("connect_delay_s 64", "63 s after the first SYN", "1 to 63 seconds")),
        ("3s", ("whole number of seconds", "'3s'", "null")),
        (True, ("whole number of seconds", "e.g. 3")),
    ],
)
def test_connect_delay_bad_value(tmp_path: Path, value: object, words: tuple[str, ...]) -> None:
    def m(inv: Inv) -> None:
        inv["policy.yaml"]["flow_control"]["connect_delay_s"] = value

    only(problems(tmp_path, m), "policy.yaml", "flow_control.connect_delay_s", *words)


def test_connect_delay_in_group_data_bad_value(tmp_path: Path) -> None:
    def m(inv: Inv) -> None:
        inv["groups.yaml"]["linux-bras"]["data"]["flow_control"] = {"connect_delay_s": -1}

    only(problems(tmp_path, m), "groups.yaml", "linux-bras.data.flow_control.connect_delay_s", "not a delay")


def test_connect_delay_refused_on_platforms_without_it(tmp_path: Path) -> None:
    """A delay on a device whose platform cannot hold connections back is refused, naming the platform, where
    the delay was set and the fix; on linux_nftables the same intent loads."""

    def m(inv: Inv) -> None:
        inv["policy.yaml"]["mode"] = "flow-control"
        inv["policy.yaml"]["flow_control"] = {"max_sessions": None, "connect_delay_s": 3}

    found = problems(tmp_path, m)
    p = only(found, "hosts.yaml", "bras-tyo-ios1", "platform cisco_ios cannot delay", "connect_delay_s=3")
    assert "policy.yaml: flow_control" in p.message and "connect delay" in p.fix and "op25b platforms" in p.fix
    assert not [x for x in found if "lnx" in x.field], "linux_nftables renders the delay"


def test_connect_delay_switched_off_per_device(tmp_path: Path) -> None:
    """A policy-wide delay with ``connect_delay_s: null`` in a router's host data: that router loads (its rate
    limit alone), the Linux BRAS keeps the delay."""

    def m(inv: Inv) -> None:
        inv["policy.yaml"]["mode"] = "flow-control"
        inv["policy.yaml"]["flow_control"] = {"max_sessions": None, "connect_delay_s": 3}
        inv["hosts.yaml"]["bras-tyo-ios1"]["data"]["flow_control"] = {"connect_delay_s": None}

    found = problems(tmp_path, m)
    assert not [p for p in found if p.field in ("bras-tyo-ios1", "bras-tyo-lnx1")], [str(p) for p in found]
    only(found, "hosts.yaml", "bng-tyo-mx1", "platform juniper_junos cannot delay")  # still set there


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        st.text(alphabet="0123456789.:", max_size=20),
        st.ip_addresses().map(str),
        st.builds(lambda *o: ".".join(o), *[st.integers(0, 400).map(str) | st.text("0123456789", max_size=4)] * 4),
    )
)
def test_host_name_matches_ipaddress_then_dns(value: str) -> None:
    """``host_name`` skips :func:`ipaddress.ip_address` for dotted quads it can read itself and for text that
    cannot be an address: on any text it answers as the address check followed by the DNS-name check."""
    import ipaddress

    from op25b_cfg.inventory_values import _dns_name, host_name

    def outcome(check: Callable[[str], str]) -> str:
        try:
            return "ok " + check(value)
        except ValueError as exc:
            return "error " + str(exc)

    def by_ipaddress(v: str) -> str:
        try:
            ipaddress.ip_address(v)
        except ValueError:
            return _dns_name(v)
        return v

    assert outcome(host_name) == outcome(by_ipaddress)
