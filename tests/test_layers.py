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


# The one rule for writing files (files.atomic_write's guarantee: a reader sees the old file or the new one, never
# half of one). Every other write in the package is named here with why it keeps that promise; a new plain
# `open(path, "w")` fails the test below until it goes through files' writers or is named here with its reason.
PLAIN_WRITES = {
    ("files", "atomic_write"): "the writer itself: a temporary name, renamed when whole",
    ("files", "hold"): "a lock file; its content is never read",
    ("data", "resolve"): "a download into mkstemp's .part file, renamed onto the cache only when complete and checked",
    ("export", "export_onnx"): "inside the temporary folder that replace_dir puts in place whole",
    ("rundir", "save_checkpoint"): "inside the temporary folder that replace_dir puts in place whole",
    ("rundir", "append_metrics"): "appends whole lines to the metrics log (fsync'd); a torn last line is dropped on resume",
    ("predict", "predict"): "appends whole answer lines; a torn last line is cut off on resume (_written)",
    ("predict", "merge_parts"): "appends the parts' whole lines to the output; a resume continues it",
    ("predict", "_written"): "cuts a torn last line off (repair), nothing else",
}


def plain_writes(f: Path) -> set[tuple[str, str]]:
    """(module, function) of every open() for writing (mode with w, x, a or +, or a mode not written out) and every
    Path.write_text/write_bytes in the module."""
    found = set()

    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            if isinstance(child, ast.Call):
                fn = child.func
                called = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else None
                if called in ("open", "fdopen"):
                    mode = child.args[1] if len(child.args) > 1 else next((k.value for k in child.keywords if k.arg == "mode"), None)
                    text = "r" if mode is None else mode.value if isinstance(mode, ast.Constant) and isinstance(mode.value, str) else "?"
                    if set(text) & set("wxa+?"):
                        found.add((f.stem, name))
                elif called in ("write_text", "write_bytes"):
                    found.add((f.stem, name))
            visit(child, name)

    visit(ast.parse(f.read_text()), None)
    return found


def test_files_are_written_only_through_files_writers_or_for_a_named_reason():
    found = set().union(*(plain_writes(f) for f in PKG.glob("*.py")))
    unnamed = sorted(found - set(PLAIN_WRITES))
    assert not unnamed, f"plain file writes outside files' writers (use files.atomic_write, or name them in PLAIN_WRITES): {unnamed}"
    assert not set(PLAIN_WRITES) - found, f"PLAIN_WRITES names writes that no longer exist: {sorted(set(PLAIN_WRITES) - found)}"


def test_the_scan_sees_the_writes_it_is_meant_to_see(tmp_path):
    """The scan itself: each way of writing a file is seen, reading is not."""
    f = tmp_path / "m.py"
    f.write_text("from pathlib import Path\nimport os\n"
                 "def a(p):\n    open(p, 'w').write('x')\n"
                 "def b(p):\n    Path(p).write_text('x')\n"
                 "def c(p, m):\n    open(p, mode=m)\n"
                 "def d(p):\n    os.fdopen(p, 'ab')\n"
                 "def e(p):\n    return open(p).read() + open(p, 'rb').read().decode()\n")
    assert plain_writes(f) == {("m", "a"), ("m", "b"), ("m", "c"), ("m", "d")}
