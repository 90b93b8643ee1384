"""One reader of Cisco-style configs (``op25b_cfg.dialects.cisco_reader``): the parser's scan, the clean-up planner's
lines (``CiscoDialect.lines``) and the emulators' config store read a config the same way."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from op25b_cfg.cleanup import cleanup_plan
from op25b_cfg.dialects.cisco_blocks import CliConfig
from op25b_cfg.inventory import Attachment
from op25b_cfg.platforms import get_platform

VT = [Attachment(kind="virtual-template", name="Virtual-Template1", direction="in")]
OLD = "OP25B-V4-0000aaaa"
NEW = "OP25B-V4-1111bbbb"

BANNER = f"""hostname r1
banner motd ^C
Authorised access only.
ip access-list extended {OLD}
^C
ip access-list extended {NEW}
 deny tcp any any eq smtp
interface Virtual-Template1
 ip access-group {NEW} in
end
"""


def test_clean_up_does_not_read_banner_text_as_config() -> None:
    """A banner's text is not configuration: the parser skips it, and so does the clean-up planner (it used to
    plan ``no ip access-list extended OP25B-V4-0000aaaa`` for a line of the banner)."""
    parsed = get_platform("cisco_ios").parse(BANNER)
    assert {name for _, name in parsed.filters} == {NEW}
    refs, objects = cleanup_plan("cisco_ios", BANNER, "1111bbbb", VT)
    assert (refs, objects) == ([], [])


def test_emulator_store_holds_the_lines_the_clean_up_reads() -> None:
    """Both skip a banner (as the parser does), so what the emulator shows is what the planner sees."""
    store = CliConfig(BANNER)
    lines = get_platform("cisco_ios").dialect.lines(BANNER)  # type: ignore[union-attr]
    assert [s.strip() for s in store.lines() if s.strip() != "!"] == [ln.text for ln in lines]
    assert "Authorised access only." not in store.render()


def test_line_numbers_agree_with_the_parser() -> None:
    """The clean-up planner reports an old object at the line the parser gives it (lines split as an editor
    splits them: a form feed inside a description does not start a new line)."""
    text = f"interface Gi1\n description a\x0cb\nip access-list extended {OLD}\n deny tcp any any eq smtp\nend\n"
    parsed = get_platform("cisco_ios").parse(text)
    (flt,) = parsed.filters.values()
    _, objects = cleanup_plan("cisco_ios", text, "1111bbbb", VT)
    assert [(o.name, o.first + 1) for o in objects] == [(OLD, flt.line)]


# ------------------------------------------------------------------ children kept as line ranges (scan ``defer``)

_LINES = [
    "ip access-list extended A",
    "ipv6 access-list B",
    "interface Gi1",
    " permit tcp any any eq 25",
    " deny ip any any",
    "10 permit ip any any",
    "permit udp any any",
    " remark x",
    "\t20 deny tcp any any",
    " !",
    "!",
    "",
    " ",
    "\u3000",
    "hostname r1",
    "frobnicate",
    "exit",
    "banner motd ^C",
    "^C",
    "macro name M",
    "@",
    " ip access-group A in",
]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.sampled_from(_LINES), max_size=40), modes=st.booleans())
def test_deferred_children_are_the_children(lines: list[str], modes: bool) -> None:
    """A block of a deferred kind keeps its indented lines as ranges; :func:`children_of` gives exactly the
    children the plain scan collects, and everything else the scan returns is the same."""
    from op25b_cfg.dialects.cisco_reader import children_of, scan
    from op25b_cfg.platforms.cisco_ios.parser import _classify, _submode

    sub = _submode if modes else None
    want = scan(lines, _classify, watch="access-group", submode=sub)
    got = scan(lines, _classify, watch="access-group", submode=sub, defer=frozenset({"acl4", "acl6"}))
    assert (got.watched, got.notes) == (want.watched, want.notes)
    assert len(got.blocks) == len(want.blocks)
    for g, w in zip(got.blocks, want.blocks, strict=True):
        assert g.runs == [] or g.kind in ("acl4", "acl6")
        assert children_of(g, lines) == w.children
        assert (g.kind, g.tokens, g.line, g.text, g.unsure) == (w.kind, w.tokens, w.line, w.text, w.unsure)


def test_deferred_acl_entries_parse_as_before() -> None:
    """The IOS parser reads deferred ACL entries (an ACL in two blocks, a `!` inside, a flattened child) into
    the same rules, line numbers and unparsed entries as collected children."""
    from op25b_cfg.dialects.cisco import AclBlock
    from op25b_cfg.dialects.cisco_reader import scan

    text = (
        "ip access-list extended A\n 10 permit tcp any any eq 25\n !\n 20 deny tcp any any eq bogus\n!\n"
        "interface Gi1\n ip access-group A in\n!\nip access-list extended A\n 30 deny ip any any\nend\n"
    )
    parsed = get_platform("cisco_ios").parse(text)
    lines = text.split("\n")
    blocks = scan(lines, lambda t: "acl4" if t[:2] == ["ip", "access-list"] else None, defer=frozenset({"acl4"}))
    acl = AclBlock(4, "A", 1)
    for blk in blocks.blocks:
        acl.add(blk, lines)
    assert acl.entries == [] and acl.all_entries() == [
        (2, "10 permit tcp any any eq 25"),
        (4, "20 deny tcp any any eq bogus"),
        (10, "30 deny ip any any"),
    ]
    assert [r.line for r in parsed.filters[(4, "A")].rules] == [2, 10]
    assert [(u.line, u.text) for u in parsed.unparsed] == [(4, "20 deny tcp any any eq bogus")]
