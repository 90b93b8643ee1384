"""One reader of Cisco-style configs (``op25b_cfg.dialects.cisco_reader``): the parser's scan, the clean-up planner's
lines (``CiscoDialect.lines``) and the emulators' config store read a config the same way."""

from __future__ import annotations

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
