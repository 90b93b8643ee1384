"""Remove secrets from device configuration text before it reaches a report, a diff, a backup or a log.

:func:`redact` is the one function every output path uses. It works line by line and never adds or removes
a line, so line numbers stay valid. What it removes (replaced by ``<redacted>``):

* the value after a secret keyword: ``secret``, ``password``, ``key``, ``key-string``, ``authentication-key``,
  ``message-digest-key``, ``pre-shared-key``, ``encrypted-password``, ``psk``/``wpa-psk``, ``passphrase``,
  ``privacy-key`` (type tokens such as ``7``, ``0``, ``5``, ``sha512``, ``encrypted``, ``hmac-md5``, ``md5``,
  ``ascii-text`` are skipped and kept);
* SNMP communities (``snmp-server community X``, ``snmp-server host H ... X``, Junos ``community X {`` and
  ``set snmp community X``) and SNMPv3 ``auth``/``priv`` keys;
* crypt hashes anywhere (``$1$``, ``$5$``, ``$6$``, ``$8$``, ``$9$`` Junos, ``$y$``, bcrypt), Junos values on
  ``## SECRET-DATA`` lines, ``key=value`` secrets of Linux files, and PEM private key blocks.

It errs on the side of removing too much: a redacted key id or key-chain name costs nothing, a leaked
secret does. It is idempotent: ``redact(redact(t)) == redact(t)``.

>>> redact("enable secret 5 $1$Q0Zl$LN7ONybETL5LJZF1")
'enable secret 5 <redacted>'
>>> redact("username noc privilege 15 password 0 cisco")
'username noc privilege 15 password 0 <redacted>'
>>> redact(" password 7 107D3D232342041E3A")
' password 7 <redacted>'
>>> redact("tacacs-server host 192.0.2.5 key 7 0822455D0A16")
'tacacs-server host 192.0.2.5 key 7 <redacted>'
>>> redact("snmp-server community S3cr3tRO RO 99")
'snmp-server community <redacted> RO 99'
>>> redact("snmp-server host 192.0.2.9 traps version 2c encrypted 121C121A01")
'snmp-server host 192.0.2.9 traps version 2c encrypted <redacted>'
>>> redact("snmp-server user RO-USER RO-GROUP v3 auth sha encrypted 1515030165 priv aes 128 encrypted 020155B1")
'snmp-server user RO-USER RO-GROUP v3 auth sha encrypted <redacted> priv aes 128 encrypted <redacted>'
>>> redact("   neighbor UNDERLAY password 7 0nsCUm70mvSTxVO0ldytrg==")
'   neighbor UNDERLAY password 7 <redacted>'
>>> redact("  lsp-password hmac-md5 encrypted 0DEADBEEF0")
'  lsp-password hmac-md5 encrypted <redacted>'
>>> redact(" authentication-key 1 md5 encrypted 02D55F5D08055C24")
' authentication-key 1 md5 encrypted <redacted>'
>>> redact("  pre-shared-key address 192.0.2.77 key FRYkhXSkhV37q")
'  pre-shared-key address 192.0.2.77 key <redacted>'
>>> redact("crypto isakmp key MyPSK address 203.0.113.9")
'crypto isakmp key <redacted> address 203.0.113.9'
>>> redact('        encrypted-password "$1$y7ArHxKU$zUbdeLfBirgkCsKiOJ5Qa0"; ## SECRET-DATA')
'        encrypted-password "<redacted>"; ## SECRET-DATA'
>>> redact('set security ike policy P pre-shared-key ascii-text "$9$/E6g9tO1IcSrvfTCu1hKv-VwgJD"')
'set security ike policy P pre-shared-key ascii-text "<redacted>"'
>>> redact("set snmp community public authorization read-only")
'set snmp community <redacted> authorization read-only'
>>> redact("    community school-ro {")
'    community <redacted> {'
>>> redact("wpa_passphrase=hunter22")
'wpa_passphrase=<redacted>'
>>> redact("/ppp secret add name=sub1 password=Pw1 profile=subscribers")
'/ppp secret add name=sub1 password=<redacted> profile=subscribers'
>>> redact("service password-encryption")
'service password-encryption'
>>> redact(" permit tcp 100.64.0.0 0.0.255.255 any eq 25")
' permit tcp 100.64.0.0 0.0.255.255 any eq 25'
>>> redact("no enable password")
'no enable password'
"""

from __future__ import annotations

import re

from op25b_cfg.caches import lazy_regex

MASK = "<redacted>"

# Keywords whose next value (after optional type tokens) is a secret. Matched case-sensitively (device keywords
# are lower case; "Key" in a comment is not one), after start of line, blank or hyphen (lsp-password), but not
# ``ssh-key`` (a public key).
_KEYWORDS = (
    "secret",
    "password",
    "passwd",
    "key",
    "key-string",
    "authentication-key",
    "message-digest-key",
    "pre-shared-key",
    "encrypted-password",
    "psk",
    "passphrase",
    "privacy-key",
    "password-encrypt",
    "shared-secret",
)
_KEYWORD_RE = lazy_regex(
    r"(?<![\w.$])(?<!ssh-)(" + "|".join(re.escape(k) for k in sorted(_KEYWORDS, key=len, reverse=True)) + r")(?=[ \t])"
)
# Tokens between a keyword and its value that say how the value is written, not what it is.
_TYPE_TOKENS = frozenset(
    {
        "encrypted",
        "clear",
        "cleartext",
        "unencrypted",
        "hidden",
        "sha",
        "sha1",
        "sha256",
        "sha512",
        "md5",
        "hmac-md5",
        "hmac-sha1",
        "hmac-sha-256",
        "ascii",
        "ascii-text",
        "hex",
        "hexadecimal",
        "text",
        "plain",
        "plaintext",
        "local",
        "remote",
        "string",
        "encryption",
        "index",
        "password",
        "level",
        "type",
        "value",
    }
)
# Tokens that mean the keyword introduced something that is not a value (a sub-command).
_STOP_TOKENS = frozenset(
    {
        "address",
        "hostname",
        "chain",
        "generate",
        "config-key",
        "zeroize",
        "pubkey-chain",
        "import",
        "export",
        "storage",
        "keyring",
        "profile",
    }
)
# RouterOS commands: after a menu path (``/ppp secret add name=x password=y``) a keyword names a menu, and the
# word after it is the command, not a value (the values are ``key=value``: :data:`_ASSIGN_RE`).
_ROUTEROS_COMMANDS = frozenset(
    {"add", "set", "remove", "print", "export", "edit", "find", "get", "unset", "enable", "disable", "comment", "move"}
)
# Blanks, then a value: a double-quoted string or a run of non-blank characters (a trailing ";" ends it).
_TOKEN_RE = lazy_regex(r'[ \t]+("(?:[^"\\]|\\.)*"|[^\s;]+)')

_HASH_RE = lazy_regex(r"\$(?:1|2[abxy]?|5|6|7|8|9|y|sha1|md5)\$[^\s\";']+")
_SNMP_COMMUNITY_RE = lazy_regex(r"(\bsnmp(?:-server)?\s+community\s+)([^\s;]+)", re.IGNORECASE)
# HSRP/VRRP/GLBP: "standby 1 authentication <pw>", "vrrp 5 authentication text <pw>", "... md5 key-string 7 <pw>"
_FHRP_RE = lazy_regex(
    r"(\b(?:standby|vrrp|glbp|hsrp)\s+(?:\d+\s+)?(?:ipv[46]\s+)?authentication\s+"
    r"(?:text\s+|md5\s+key-(?:string|chain)\s+(?:\d+\s+)?)?)([^\s;]+)",
    re.IGNORECASE,
)
# OSPFv3 IPsec manual keys: "authentication ipsec spi 256 sha1 [0|7] <hex>", "... esp aes-cbc 128 <hex>"
_IPSEC_KEY_RE = lazy_regex(
    r"(\b(?:md5|sha1|3des|des|aes-cbc(?:\s+\d{3})?)\s+(?:[07]\s+)?)([0-9A-Fa-f]{8,})", re.IGNORECASE
)
_BEARER_RE = lazy_regex(r"(\b(?:Bearer|Basic)\s+)([A-Za-z0-9._~+/=-]{6,})", re.IGNORECASE)
_SNMP_HOST_RE = lazy_regex(
    r"(\bsnmp-server\s+host\s+\S+(?:\s+vrf\s+\S+)?(?:\s+(?:traps|informs))?"
    r"(?:\s+version\s+(?:1|2c|3\s+(?:auth|noauth|priv)))?(?:\s+encrypted)?\s+)([^\s;]+)",
    re.IGNORECASE,
)
_SNMP_V3_RE = lazy_regex(
    r"(\b(?:auth\s+(?:md5|sha\S*)|priv\s+(?:des56|3des|des|aes\d*(?:\s+\d{3})?))\s+(?:encrypted\s+)?)([^\s;]+)",
    re.IGNORECASE,
)
_JUNOS_COMMUNITY_RE = lazy_regex(r"^(\s*(?:set\s+snmp\s+)?community\s+)(\"[^\"]*\"|[^\s;{]+)(?=\s*(?:\{|;|$|\s))")
_ASSIGN_RE = lazy_regex(
    r"(\b(?:[\w-]*pass(?:word|wd|phrase)?|[\w-]*secret|[\w-]*token|api[-_]?key|access[-_]?key|authorization|psk"
    r"|[\w-]*pre[-_]shared[-_]key|wpa_psk|auth_pass|community)\s*[=:]\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s,;]+)",
    re.IGNORECASE,
)
_QUOTED_RE = lazy_regex(r'"(?:[^"\\]|\\.)*"')
# Every pattern above needs one of these words (case-insensitively) on the line: a line without any is returned
# as it is, which is most of a config (ACL entries, interfaces) and most of the time redaction takes.
_SECRET_WORDS = (
    "$",
    "secret",
    "pass",
    "key",
    "psk",
    "communit",
    "auth",
    "priv",
    "snmp",
    "token",
    "bearer",
    "basic",
    "ipsec",
)
_MAYBE_SECRET_RE = lazy_regex("|".join(map(re.escape, _SECRET_WORDS)), re.IGNORECASE)
_KEYWORD_SET = frozenset(_KEYWORDS)


def maybe_secret(text: str) -> bool:
    """Whether ``text`` has one of the words every secret pattern needs (:data:`_MAYBE_SECRET_RE`). ASCII text
    (nearly all) is lowered and searched word by word with ``in`` (ten times faster than the case-insensitive
    alternation on a 3 kB remediation); other text goes through the regex, whose Unicode case folding (the
    Kelvin sign matches ``k``) ``str.lower`` does not copy.

    >>> maybe_secret("snmp-server community X RO"), maybe_secret("ip access-list extended OP25B")
    (True, False)
    >>> maybe_secret("\u212aEY 1"), maybe_secret("Pa$$")
    (True, True)
    """
    if text.isascii():
        low = text.lower()
        return any(word in low for word in _SECRET_WORDS)
    return _MAYBE_SECRET_RE().search(text) is not None


_PEM_BEGIN = lazy_regex(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_PEM_END = lazy_regex(r"-----END [A-Z0-9 ]*PRIVATE KEY-----")


def _mask_value(token: str) -> str:
    """``"abc"`` -> ``"<redacted>"``, ``abc`` -> ``<redacted>``."""
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return f"{token[0]}{MASK}{token[0]}"
    return MASK


def _redact_keywords(line: str) -> str:
    """Mask the value after each secret keyword on ``line``."""
    out: list[str] = []
    pos = 0
    for m in _KEYWORD_RE().finditer(line):
        if m.start() < pos:
            continue
        # Walk the tokens after the keyword: skip type tokens while another token follows.
        tokens: list[re.Match[str]] = []
        scan = m.end()
        while len(tokens) < 6:
            t = _TOKEN_RE().match(line, scan)
            if t is None:
                break
            tokens.append(t)
            scan = t.end()
        target = None
        for i, t in enumerate(tokens):
            word = t.group(1).lower()
            last = i == len(tokens) - 1
            if word in _STOP_TOKENS or (word in _KEYWORD_SET and word not in _TYPE_TOKENS):
                break  # a sub-command, or another keyword (``key 1 secret X``): that keyword masks its value
            if not last and (word in _TYPE_TOKENS or (word.isdigit() and len(word) <= 5)):
                continue
            target = t
            break
        if target is None or (target.group(1) in _ROUTEROS_COMMANDS and line.lstrip().startswith("/")):
            continue
        value = target.group(1)
        if value.strip("\"'") == MASK:
            continue
        out.append(line[pos : target.start(1)])
        out.append(_mask_value(value))
        pos = target.end(1)
    out.append(line[pos:])
    return "".join(out)


def redact_line(line: str) -> str:
    """Redact one line (no newline inside). See :func:`redact`."""
    if not maybe_secret(line):
        return line
    new = _HASH_RE().sub(MASK, line)
    new = _SNMP_COMMUNITY_RE().sub(lambda m: m.group(1) + _mask_value(m.group(2)), new)
    new = _SNMP_HOST_RE().sub(lambda m: m.group(1) + _mask_value(m.group(2)), new)
    new = _SNMP_V3_RE().sub(lambda m: m.group(1) + _mask_value(m.group(2)), new)
    new = _FHRP_RE().sub(lambda m: m.group(1) + _mask_value(m.group(2)), new)
    if "ipsec" in new.lower():
        new = _IPSEC_KEY_RE().sub(lambda m: m.group(1) + MASK, new)
    new = _BEARER_RE().sub(lambda m: m.group(1) + MASK, new)
    if "members" not in new:
        new = _JUNOS_COMMUNITY_RE().sub(lambda m: m.group(1) + _mask_value(m.group(2)), new)
    new = _ASSIGN_RE().sub(lambda m: m.group(1) + _mask_value(m.group(2)), new)
    new = _redact_keywords(new)
    if "SECRET-DATA" in new:
        head, sep, tail = new.partition("##")
        new = _QUOTED_RE().sub(f'"{MASK}"', head) + sep + tail
    return new


def redact(text: str) -> str:
    """``text`` with every secret replaced by ``<redacted>``; same number of lines, same line endings.

    >>> print(redact("crypto key\\n-----BEGIN RSA PRIVATE KEY-----\\nMIIEow\\n-----END RSA PRIVATE KEY-----\\nend"))
    crypto key
    -----BEGIN RSA PRIVATE KEY-----
    <redacted>
    -----END RSA PRIVATE KEY-----
    end
    """
    if not maybe_secret(text):  # every secret (a PEM header says KEY) matches this: nothing to do
        return text
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    in_pem = False
    for raw in lines:
        if not in_pem and not maybe_secret(raw):
            out.append(raw)
            continue
        body = raw.rstrip("\r\n")
        ending = raw[len(body) :]
        if in_pem:
            if _PEM_END().search(body):
                in_pem = False
                out.append(raw)
            else:
                out.append(MASK + ending)
            continue
        if _PEM_BEGIN().search(body) and not _PEM_END().search(body):
            in_pem = True
            out.append(raw)
            continue
        out.append(redact_line(body) + ending)
    return "".join(out)


# Terminal control: ESC sequences (CSI ``ESC [ ... final``, OSC ``ESC ] ... BEL|ST``, DCS/APC/PM/SOS strings, any
# other ``ESC x``), the 8-bit CSI/OSC forms, every other C0/C1 control but tab and newline, and Unicode bidi
# overrides (which reorder what a reader sees).
_TERMINAL_RE = lazy_regex(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x9d\x90\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b.?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)


def printable(text: str) -> str:
    """``text`` without terminal escapes and control characters (tab and newline kept): what every place that
    prints config-derived text to a terminal or plain-text file shows.

    >>> printable("deny ip any any\\x1b]0;owned\\x07 log\\x1b[2J")
    'deny ip any any log'
    >>> printable("a\\tb\\nc\\rd\\x00e")
    'a\\tb\\ncde'
    """
    if text.isprintable():
        return text
    return _TERMINAL_RE().sub("", text)
