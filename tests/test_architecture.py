"""The architecture rules of issue 11 item 5, checked on the source with ``ast``:

* the graph of imports between op25b's modules has no cycle. Every import statement counts, wherever it is
  (module level, inside a function, or under ``if TYPE_CHECKING:``: a type-only import is still a dependency of
  the importer's meaning on the imported module, so the layers below the inventory annotate with the Protocols of
  ``op25b_cfg.intent_protocols``). An import of ``a.b.c`` is an edge to the module ``a.b.c`` (the parent
  package's ``__init__`` that Python runs first is not counted as an edge of the importer);
* no module outside ``op25b_cfg/platforms/`` names a registered platform, napalm driver or netmiko device type
  in a string literal (so none can compare against one): vendor behaviour lives in the platform packages,
  behind the documented hooks of ``op25b_cfg.platforms.base.Platform``. Docstrings (and the doctests in them)
  are excepted.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from op25b_cfg.platforms import builtin_classes

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "op25b_cfg"


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _known(name: str) -> str | None:
    """The op25b module ``name`` refers to (``a.b.c`` or, for ``from a.b import c`` of a name, ``a.b``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    """The op25b modules ``module`` imports (at module level, in a function or for type checking only)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(m for a in node.names if (m := _known(a.name)))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            for alias in node.names:
                target = _known(f"{name}.{alias.name}") if f"{name}.{alias.name}" in MODULES else _known(name)
                if target:
                    out.add(target)
    out.discard(module)
    return out


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted.

    >>> find_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}})
    [['a', 'b']]
    >>> find_cycles({"a": {"b"}, "b": set()})
    []
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle() -> None:
    graph = {m: imports_of(m) for m in MODULES}
    cycles = find_cycles(graph)
    assert not cycles, "import cycles (function-level and type-only imports included): " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


def test_the_cycle_check_sees_function_level_and_type_only_imports(tmp_path: Path) -> None:
    """The check is not vacuous: a function-level import back into an importer is a cycle, and so is a
    TYPE_CHECKING one."""
    a = "from op25b_cfg.b import x\n"
    b = "def f():\n    from op25b_cfg.a import y\n"
    tc = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from op25b_cfg.a import y\n"
    for text_b, cyclic in ((b, True), (tc, True), ("x = 1\n", False)):
        MODULES_BACKUP = dict(MODULES)
        try:
            (tmp_path / "a.py").write_text(a)
            (tmp_path / "b.py").write_text(text_b)
            MODULES["op25b_cfg.a"], MODULES["op25b_cfg.b"] = tmp_path / "a.py", tmp_path / "b.py"
            graph = {m: imports_of(m) for m in ("op25b_cfg.a", "op25b_cfg.b")}
            assert bool(find_cycles(graph)) is cyclic
        finally:
            MODULES.clear()
            MODULES.update(MODULES_BACKUP)


def _vendor_names() -> set[str]:
    names: set[str] = set()
    for cls in builtin_classes():
        names.add(cls.name)
        names.update(n for n in (cls.napalm_driver, cls.netmiko_device_type) if n)
    return names


def _docstrings(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
        # attribute docstrings: a bare string right after an assignment
        for field in ("body", "orelse"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list):
                for stmt in stmts[1:]:
                    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                        ids.add(id(stmt.value))
    return ids


def _os_checks(tree: ast.AST) -> set[int]:
    """String constants compared with ``sys.platform`` (``"linux"`` there is the OS, not netmiko's type)."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and "sys.platform" in ast.unparse(node):
            ids.update(id(n) for n in (node.left, *node.comparators))
    return ids


def vendor_literals(path: Path, names: set[str]) -> Iterator[tuple[int, str]]:
    """(line, literal) of every string constant in ``path`` (docstrings and ``sys.platform`` checks excepted)
    that is one of ``names``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree) | _os_checks(tree)
    for node in ast.walk(tree):
        literal = isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
        if literal and id(node) not in docs:
            assert isinstance(node, ast.Constant)
            yield node.lineno, str(node.value)


def test_no_platform_name_outside_platform_packages() -> None:
    names = _vendor_names()
    platforms = PACKAGE / "platforms"
    found = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if platforms not in path.parents
        for line, value in vendor_literals(path, names)
    ]
    assert not found, "platform/driver names outside op25b_cfg/platforms/:\n" + "\n".join(found)


def test_the_name_check_finds_a_comparison(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text('"""Doc: cisco_ios."""\n\ndef f(p):\n    """junos"""\n    return p == "juniper_junos"\n')
    assert list(vendor_literals(src, _vendor_names())) == [(5, "juniper_junos")]
