"""op25b_cfg.redact: secrets of every platform are removed, nothing else changes, line numbers stay valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from op25b_cfg import api
from op25b_cfg import redact as redact_module
from op25b_cfg.redact import MASK, redact
from tests.labutil import need_corpus

REPO = Path(__file__).resolve().parent.parent

# (line, secret that must disappear, text that must stay)
CRAFTED = [
    ("enable secret 9 $9$Vq8JHt2yR0WXbk$3kS0aTQ4n9b7", "$9$Vq8JHt2yR0WXbk", "enable secret 9 "),
    ("enable password Cl34rT3xt", "Cl34rT3xt", "enable password "),
    ("username noc privilege 15 password 0 hunter2", "hunter2", "username noc privilege 15 password 0 "),
    ("username noc secret 5 $1$abcd$efghijklmnopq", "efghijklmnopq", "username noc secret 5 "),
    (" key 7 104D000A0618131E14", "104D000A0618131E14", " key 7 "),
    ("radius-server key R4d1usKey", "R4d1usKey", "radius-server key "),
    ("tacacs-server host 192.0.2.71 vrf MGMT key 7 070C285F4D06485744", "070C285F4D06485744", "vrf MGMT key 7 "),
    ("snmp-server community Tky0-ro-2025 RO MGMT-VTY", "Tky0-ro-2025", "RO MGMT-VTY"),
    ("snmp-server host 192.0.2.61 version 2c Tky0-ro-2025", "Tky0-ro-2025", "snmp-server host 192.0.2.61"),
    ("snmp-server host 192.0.2.61 informs version 3 auth noc-v3", "noc-v3", "version 3 auth "),
    ("snmp-server user U G v3 auth sha AuthPass1 priv aes 128 PrivPass2", "AuthPass1", "priv aes 128 "),
    ("snmp-server user U G v3 auth sha AuthPass1 priv aes 128 PrivPass2", "PrivPass2", "snmp-server user U G"),
    ("ntp authentication-key 1 md5 0822455D0A16544541 7", "0822455D0A16544541", "ntp authentication-key 1 md5 "),
    (" ip ospf message-digest-key 1 md5 7 0822455D0A16", "0822455D0A16", "message-digest-key 1 md5 7 "),
    ("   neighbor 192.0.2.1 password 7 q+VNViP5i4rVjW1cxFv2wA==", "q+VNViP5i4rVjW1cxFv2wA==", "neighbor 192.0.2.1"),
    ("  password encrypted 0822455D0A16544541", "0822455D0A16544541", "password encrypted "),
    (" secret 10 $6$Lm2Cq/6Wfh4Ks/..$p7yXzQm1kT0aRvB2nH5sWd8g", "p7yXzQm1kT0aRvB2nH5sWd8g", " secret 10 "),
    ("crypto isakmp key Sup3rPSK address 203.0.113.9", "Sup3rPSK", "address 203.0.113.9"),
    ("  pre-shared-key address 203.0.113.9 key Sup3rPSK", "Sup3rPSK", "pre-shared-key address 203.0.113.9 key "),
    ("  pre-shared-key local L0calPSK", "L0calPSK", "pre-shared-key local "),
    (" wpa-psk ascii 0 WiFiPassw0rd", "WiFiPassw0rd", " wpa-psk ascii 0 "),
    ("  key-string 7 045802150C2E", "045802150C2E", "  key-string 7 "),
    ("  key-string password 12495445415F59", "12495445415F59", "  key-string password "),
    ("cable shared-secondary-secret index 1 7 FEDCBA", "FEDCBA", "cable shared-secondary-secret index 1 7 "),
    # issue 9 item 9: forms that leaked
    ("enable password level 15 Cl34rLvl15", "Cl34rLvl15", "enable password level 15 "),
    ("enable password level 15 7 0822455D0A16", "0822455D0A16", "enable password level 15 7 "),
    ("enable secret level 15 5 $1$abcd$efghijklmnopq", "efghijklmnopq", "enable secret level 15 5 "),
    (" standby 1 authentication Hsrp-Pw1", "Hsrp-Pw1", " standby 1 authentication "),
    (" standby 10 authentication md5 key-string 7 0822455D0A16", "0822455D0A16", "key-string 7 "),
    (" vrrp 5 authentication text Vrrp-Pw1", "Vrrp-Pw1", " vrrp 5 authentication text "),
    (" glbp 2 authentication text Glbp-Pw1", "Glbp-Pw1", " glbp 2 authentication text "),
    (
        " ipv6 ospf authentication ipsec spi 256 sha1 0123456789ABCDEF0123456789ABCDEF01234567",
        "0123456789ABCDEF",
        "ipsec spi 256 sha1 ",
    ),
    (" ospfv3 authentication ipsec spi 500 sha1 7 0123456789ABCDEF", "0123456789ABCDEF", "spi 500 sha1 7 "),
    (
        " ospfv3 encryption ipsec spi 1001 esp aes-cbc 128 FEDCBA9876543210FEDCBA9876543210 sha1 0011223344556677",
        "FEDCBA9876543210",
        "esp aes-cbc 128 ",
    ),
    (
        " ospfv3 encryption ipsec spi 1001 esp aes-cbc 128 FEDCBA9876543210FEDCBA9876543210 sha1 0011223344556677",
        "0011223344556677",
        " sha1 ",
    ),
    ("  authentication-key 1 type md5 value Jun0sMd5", "Jun0sMd5", "authentication-key 1 type md5 value "),
    ("  key 1 secret Ch41nKey", "Ch41nKey", "  key 1 secret "),
    ("! token=Tok3nValue", "Tok3nValue", "! token="),
    (" remark api-key: Ap1KeyValue", "Ap1KeyValue", " remark api-key: "),
    (" description NMS apikey=Ap1KeyValue", "Ap1KeyValue", "description NMS apikey="),
    (" description Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9", " description Bearer "),
    ("# curl -H 'Authorization: Bearer s3cr3tT0k3n'", "s3cr3tT0k3n", "# curl -H"),
    ("snmp community C0mmGrp group NETOPS", "C0mmGrp", "group NETOPS"),
    ("snmp-server community C0mmGrp group NETOPS", "C0mmGrp", "group NETOPS"),
    ('    encrypted-password "$6$Wq3r9sT1$Hk2mX8pV4nB7"; ## SECRET-DATA', "Hk2mX8pV4nB7", "encrypted-password"),
    ('            secret "$9$Hk.5F/9tuBEcyKv8X-dbs2gJDk.P5QF"; ## SECRET-DATA', "$9$Hk.5F", "secret"),
    ('    authentication-key "$9$5Fn/EhrlMX-dsvWs4aDjq5Q"; ## SECRET-DATA', "EhrlMX", "authentication-key"),
    ("set system root-authentication encrypted-password $1$CXKwIUfL$6vLSvatE2T", "6vLSvatE2T", "set system"),
    ('set security ike policy P pre-shared-key ascii-text "$9$/E6g9tO1IcSr"', "tO1IcSr", "pre-shared-key ascii-text"),
    ("set snmp community Tky0-mx-ro authorization read-only", "Tky0-mx-ro", "authorization read-only"),
    ("    community Tky0-mx-ro {", "Tky0-mx-ro", "    community "),
    ('  local-secret "p@ss word"', "p@ss word", "local-secret"),
    ("password=SuperS3cret", "SuperS3cret", "password="),
    ("wpa_passphrase=hunter22", "hunter22", "wpa_passphrase="),
    ("PSK = 'abc def'", "abc def", "PSK = "),
    ("chap-secret: Ch4pS3cret", "Ch4pS3cret", "chap-secret: "),
    # RouterOS: the menu path keeps its command word; the key=value secrets go
    ("/ppp secret add name=sub1 password=Pp0eSub1 profile=subs", "Pp0eSub1", "/ppp secret add name=sub1 password="),
    ('/ppp secret set [ find name=sub1 ] password="a b"', "a b", "/ppp secret set [ find name=sub1 ] password="),
    ("/radius add address=192.0.2.5 secret=R4d1usS3c service=ppp", "R4d1usS3c", "/radius add address=192.0.2.5"),
    ("/user add group=full name=noc password=Us3rPw", "Us3rPw", "/user add group=full name=noc password="),
    ("/ip ipsec peer add address=203.0.113.9 secret=Ps3cPsk", "Ps3cPsk", "/ip ipsec peer add"),
    ("/interface wireless security-profiles set wpa2-pre-shared-key=W1f1Psk", "W1f1Psk", "security-profiles set"),
]

# Lines that must come out unchanged (no secret, and OP25B-relevant lines must never be touched).
UNCHANGED = [
    "service password-encryption",
    "security passwords min-length 6",
    "no enable password",
    " permit tcp 100.64.0.0 0.0.255.255 host 192.0.2.25 eq smtp",
    " deny   tcp 100.64.0.0 0.0.255.255 any eq smtp log",
    "   110 deny tcp 100.65.0.0/16 198.51.100.0/24 eq smtp log",
    " ipv6 traffic-filter OP25B-V6-b1a88b08 in",
    "                    destination-port [ 587 465 ];",
    "\t\tip saddr @OP25B-POOL-V4 tcp dport 25 ct state new add @op25b_conn_v4 { ip saddr ct count over 10 } accept",
    "   neighbor 192.0.2.1 send-community standard extended",
    "ip community-list expanded as2_community permit _2:",
    "    set community (64512:500, 64512:400)",
    "username cvpadmin ssh-key ssh-rsa AAAAB3NzaC1yc2E cvpadmin@host",
    "    community CUST-A members 64500:100;",
    'comment "Key (Aug 2013)"',
    "/ppp secret",
    "/ppp secret print",
    "/ppp secret remove [ find name=sub1 ]",
    "",
]


@pytest.mark.parametrize(("line", "secret", "kept"), CRAFTED)
def test_crafted_secret_is_removed(line: str, secret: str, kept: str) -> None:
    out = redact(line)
    assert secret not in out
    assert kept in out
    assert MASK in out
    assert redact(out) == out


@pytest.mark.parametrize("line", UNCHANGED)
def test_no_secret_no_change(line: str) -> None:
    assert redact(line) == line


def test_keeps_lines_and_line_endings() -> None:
    text = "hostname r1\r\nenable secret 5 $1$abc$def\r\n\r\nsnmp-server community pub RO\nend"
    out = redact(text)
    assert out.splitlines(keepends=True)[0] == "hostname r1\r\n"
    assert len(out.splitlines()) == len(text.splitlines())
    assert out.count("\r\n") == text.count("\r\n")
    assert "$1$abc" not in out and "pub" not in out
    assert out.endswith("end")


def test_pem_private_key_block_removed_line_by_line() -> None:
    text = "x\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\nAoGCCqGSM49\n-----END EC PRIVATE KEY-----\ny\n"
    out = redact(text)
    assert "MHcCAQEEIB" not in out and "AoGCCqGSM49" not in out
    assert out.splitlines() == ["x", "-----BEGIN EC PRIVATE KEY-----", MASK, MASK, "-----END EC PRIVATE KEY-----", "y"]


# Secret values that appear in the public corpus (../shared/corpus/public), by file.
CORPUS_SECRETS = {
    "cisco_ios/ciscoconfparse-sample_01-ios.cfg": ["$1$Q0Zl$LN7ONybETL5LJZF1", "107D3D232342041E3A", "SoMeThaNGwIErd"],
    "cisco_ios/labval-onug-exitgw-showrun.cfg": ["FRYkhXSkhV37q_L2pzfpiprs7FHGWeID"],
    "cisco_ios/napalm-csr1000v-showrun.cfg": ["password cisco", "password 0 cisco"],
    "cisco_iosxr/ciscoconfparse-sample_01-iosxr.cfg": [
        "012F0DEADBEEFC00D15003A4",
        "frogRO",
        "0DEADBEEFDEADBEEFDEADBEEF0",
    ],
    "cisco_iosxr/ciscoconfparse-sample_05-ncs57b1-iosxr.cfg": ["12495445415F59527D737D", "$6$vVgiw06f22222w0."],
    "arista_eos/avd-dc1-bl1a.cfg": [
        "AQQvKeimxJu+uGQ/yYvv9w==",
        "q+VNViP5i4rVjW1cxFv2wA==",
        "a153de6290ff1409257ade45f",
    ],
    "arista_eos/napalm-eos-showrun.cfg": ["$1$zr7sHZaW$WagNykw1d5wjy4ZhtMgUS/"],
    "junos/batfish-srx-testbed-1-set.cfg": ["$9$/E6g9tO1IcSrvfTCu1hKv-VwgJD", "$1$CXKwIUfL$6vLSvatE2TCaM25U4u9Bh1"],
    "junos/ciscoconfparse-sample_01-ex-brace-junos.cfg": ["$1$y7ArHxKU$zUbdeLfBirgkCsKiOJ5Qa0"],
    "junos/ciscoconfparse-sample_03-brace-junos.cfg": ["school-ro"],
}
_ACL_LINE = re.compile(r"^\s*(?:\d+\s+)?(?:permit|deny|remark)\s|^\s*(?:ip|ipv6|ipv4) access-(?:list|group)\s")
_HASH = re.compile(r"\$(?:1|5|6|9)\$[A-Za-z0-9./]{4,}")


def test_corpus_known_secrets_removed() -> None:
    corpus = need_corpus()
    for rel, secrets in CORPUS_SECRETS.items():
        path = corpus / rel
        assert path.is_file(), rel
        text = path.read_text(encoding="utf-8", errors="replace")
        assert any(s in text for s in secrets), f"{rel}: corpus changed, update the test"
        out = redact(text)
        for s in secrets:
            assert s not in out, f"{rel}: {s!r} survived redaction"


def test_corpus_invariants() -> None:
    """Every corpus file: same line count, idempotent, no crypt hash left, ACL lines untouched."""
    corpus = need_corpus()
    files = sorted(corpus.glob("*/*.cfg"))
    assert len(files) > 50
    acl_lines = 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        out = redact(text)
        assert len(out.splitlines()) == len(text.splitlines()), path.name
        assert redact(out) == out, path.name
        assert not _HASH.search(out), f"{path.name}: {_HASH.search(out)}"
        for before, after in zip(text.splitlines(), out.splitlines(), strict=True):
            if _ACL_LINE.match(before) and not re.search(r"password|secret|key|community", before):
                acl_lines += 1
                assert after == before, f"{path.name}: ACL line changed: {before!r}"
    assert acl_lines > 1000


def test_sample_running_configs_secrets_removed() -> None:
    running = REPO / "inventory" / "running"
    secrets = [
        "$9$",
        "$6$",
        "104D000A0618131E14",
        "05080F1C22431F5B4A",
        "Tky0-ro-2025",
        "Osk-ro-2025",
        "0sk-eos-ro",
        "Tky0-mx-ro",
        "0822455D0A16544541",
        "070C285F4D06485744",
        "q+VNViP5i4rVjW1cxFv2wA==",
    ]
    seen = set()
    for path in sorted(running.iterdir()):
        text = path.read_text(encoding="utf-8")
        out = redact(text)
        for s in secrets:
            if s in text:
                seen.add(s)
            assert s not in out, f"{path.name}: {s!r} survived"
    assert seen == set(secrets)


def test_truncated_file_last_line_is_redacted_with_its_context(tmp_path: Path) -> None:
    """A file cut inside a private-key block ends on a bare key line: the error message must not quote it."""

    inv = api.load(REPO / "inventory")
    (tmp_path / "bras-tyo-ios1.cfg").write_text(
        "hostname bras-tyo-ios1\ncrypto key import rsa K\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAuPr1v4t3\n"
    )
    [report] = api.audit_saved([inv.devices["bras-tyo-ios1"]], tmp_path)
    assert "truncated" in report.error and "MIIEowIBAAKCAQEAuPr1v4t3" not in report.error
    assert MASK in report.error


_FOLDS = {"s": "\u017f", "k": "\u212a"}
"""Characters the regex's Unicode case folding matches besides upper and lower case (long s, Kelvin sign)."""
_WORD_CASES = st.sampled_from(redact_module._SECRET_WORDS).flatmap(
    lambda w: st.tuples(*(st.sampled_from([c, c.upper(), _FOLDS.get(c, c)]) for c in w)).map("".join)
)
_NEAR_WORDS = st.lists(
    _WORD_CASES
    | st.text(max_size=6)
    | st.sampled_from(["\u212a", "\u017f", "\u0130", "K", "s", "SS", "\u00df", "ke", "y"]),
    max_size=6,
).map("".join)


@given(text=_NEAR_WORDS)
def test_maybe_secret_is_the_regex(text: str) -> None:
    """The prefilter of every redaction answers as the case-insensitive regex it stands for, on ASCII and on
    Unicode text (case-folding characters, split and mixed-case words)."""
    assert redact_module.maybe_secret(text) is (redact_module._MAYBE_SECRET_RE().search(text) is not None)
