"""The house's layout: a ground floor of small shared pieces, stages above it, the command line on top; no
import cycle and no arrow from a lower floor up."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "albert_bench"
FLOORS = [
    {"__init__", "errors", "files", "progress", "hub", "settings"},  # ground floor: used by every stage, uses none of them
    {"formats"},
    {"data", "metric"},
    {"features"},
    {"decode", "calibrate"},
    {"model", "rundir", "synthetic", "card", "trackers", "onnx_backend"},
    {"export", "qa", "train"},
    {"predict", "qa_pipeline"},
    {"serve", "report"},
    {"cli", "__main__"},  # the command line, on top
]


def _nodes(f: Path):
    """The module's AST nodes; for `__init__`, those outside its PEP 562 `__getattr__`, which may forward a name of
    a higher floor lazily (`albert_bench.pipeline`): imported on first use, never when the package is imported."""
    tree = ast.parse(f.read_text())
    if f.stem == "__init__":
        lazy = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "__getattr__"]
        tree.body = [n for n in tree.body if n not in lazy]
    return ast.walk(tree)


def imports() -> dict[str, set[str]]:
    graph = {}
    for f in PKG.glob("*.py"):
        deps = set()
        for node in _nodes(f):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names if (PKG / f"{a.name}.py").exists()} or {"__init__"}
        graph[f.stem] = deps - {f.stem}
    return graph


def floor(module: str) -> int:
    return next(i for i, mods in enumerate(FLOORS) if module in mods)


def test_every_module_has_a_floor_and_no_import_goes_up():
    graph = imports()
    assert set(graph) == set().union(*FLOORS), "a new module: give it a floor in FLOORS"
    up = [(m, d) for m, deps in graph.items() for d in deps if floor(d) > floor(m)]
    assert up == [], f"imports from a higher floor: {up}"
    assert [m for m, deps in graph.items() if "cli" in deps] == ["__main__"]


def test_no_import_cycle():
    graph = imports()
    seen, stack = set(), []

    def visit(m):
        assert m not in stack, f"import cycle: {' -> '.join(stack[stack.index(m):] + [m])}"
        if m in seen:
            return
        stack.append(m)
        for d in graph.get(m, ()):
            visit(d)
        stack.pop()
        seen.add(m)

    for m in graph:
        visit(m)


def test_importing_the_package_imports_nothing_of_it():
    """`import albert_bench` (which every module's import runs first) stays the ground floor: no import at module
    level, and `albert_bench.pipeline` is loaded on first use only."""
    import subprocess
    import sys

    tree = ast.parse((PKG / "__init__.py").read_text())
    assert not [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    code = "import sys, albert_bench; assert 'albert_bench.qa_pipeline' not in sys.modules; albert_bench.pipeline; assert 'albert_bench.qa_pipeline' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
