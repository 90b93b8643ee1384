"""One reader of Junos brace text (``op25b_cfg.dialects.junos_tree.statements``): the emulator's configuration tree
and the clean-up planner's lines (``JunosDialect.lines``) read a config the same way."""

from __future__ import annotations

from pathlib import Path

from op25b_cfg.cleanup import cleanup_plan
from op25b_cfg.dialects import junos_tree as jt
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
