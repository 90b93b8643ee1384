"""One reader of Junos text (``op25b_cfg.dialects.junos``): the emulator's configuration tree, the clean-up
planner's lines (``JunosDialect.lines``), the audit parser and the truncation check read a config the same way."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from op25b_cfg.cleanup import cleanup_plan
from op25b_cfg.dialects import junos
from op25b_cfg.dialects import junos_tree as jt
from op25b_cfg.dialects.base import brace_balance
from op25b_cfg.inventory import Attachment

REPO = Path(__file__).resolve().parent.parent
UNIT = [Attachment(kind="unit", name="ge-0/0/1.100", direction="in")]


def test_clean_up_reads_statements_not_lines() -> None:
    """Several statements on one line (as ``load`` accepts them) are read one by one: the stale filter reference
    inside is found and removed (it used to be one line whose enclosing blocks were unknown)."""
    text = (
        "interfaces {\n"
        "    ge-0/0/1 {\n"
        "        unit 100 { family inet { filter { input OP25B-V4-0000aaaa; } } }\n"
        "    }\n"
        "}\n"
    )
    refs, _ = cleanup_plan("juniper_junos", text, "1111bbbb", UNIT)
    assert [(r.text, r.parents[-3:], r.index) for r in refs] == [
        ("input OP25B-V4-0000aaaa", ("unit 100", "family inet", "filter"), 2)
    ]


def _tree_lines(node: jt.JNode, parents: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    out: list[tuple[str, tuple[str, ...]]] = []
    for child in node.children or []:
        out.append((child.header, parents))
        if child.children is not None:
            out.extend(_tree_lines(child, (*parents, child.header)))
    return out


def test_emulator_tree_and_clean_up_read_the_same_statements() -> None:
    text = (REPO / "inventory" / "running" / "bng-tyo-mx1.cfg").read_text(encoding="utf-8")
    lines = jt.JunosDialect().lines(text)
    assert [(ln.text, ln.parents) for ln in lines] == _tree_lines(jt.parse(text), ())
    assert len(lines) > 50


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(st.text(alphabet='{}"#/*\\\n ab;[]', max_size=50))
def test_the_truncation_scan_sees_the_braces_the_reader_sees(text: str) -> None:
    """Strings and comments start and end in the same places for both: the brace depth the scan finds at the end
    is the number of blocks the reader's statements leave open (when no ``}`` came too early)."""
    depth, negative_at = brace_balance(text, junos.LEXICON)
    if negative_at is None:
        kinds = [st.kind for st in junos.statements(text, strict=False)]
        assert kinds.count("open") - kinds.count("close") == depth


def test_the_audit_reader_and_the_statements_agree_on_the_sample_config() -> None:
    """The flat view (``read``, the audit parser's) and the statements (the emulator's, the clean-up's) give the
    same leaf statements of the kept sections, with quotes removed."""
    text = (REPO / "inventory" / "running" / "bng-tyo-mx1.cfg").read_text(encoding="utf-8")
    flat: list[tuple[str, ...]] = []
    stack: list[tuple[str, ...]] = [()]
    for st_ in junos.statements(text):
        if st_.kind == "close":
            stack.pop()
            continue
        words = tuple(junos.tokens(" ".join(w for w in st_.words if w not in junos.TAGS)))
        if st_.kind == "open":
            stack.append(stack[-1] + words)
        elif (stack[-1] + words)[0] in junos.RELEVANT:
            flat.append(stack[-1] + words)
    assert [s.path for s in junos.read(text).stmts] == flat
    assert len(flat) > 50


@settings(max_examples=600, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "filter F {",
                "term t {",
                "from {",
                "protocol tcp;",
                "then accept;",
                "then discard;",
                "}",
                "",
                ";",
                "; ;",
                "x }",
                "  ",
                'description "a";',
                "# note",
                "/* c */ x;",
                "inactive: term u {",
                "protect: x;",
                "then policer P;",
                "a { b; }",
                "x {{",
                "y;;",
                "z",
                "w inactive: v;",
            ]
        ),
        max_size=25,
    ),
    st.integers(min_value=0, max_value=4),
)
def test_simple_block_end_matches_the_line_check(lines: list[str], indent: int) -> None:
    """The block-end finder that looks for quotes, comments, markers and policers once in the block's text
    gives the answer of the one that checks every line as it goes."""
    lines = [" " * indent + s for s in lines]
    for open_line in range(len(lines) + 1):
        assert junos._simple_block_end(lines, open_line) == junos._simple_block_end(lines, open_line, by_line=True)
