"""The engine's modules only import downward (no cycle between any two files) and stay short."""
from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import workflow

PACKAGE = Path(workflow.__file__).parent
MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, known: set[str]) -> set[str]:
    """Engine modules ``path`` imports anywhere (also inside functions), except under ``if TYPE_CHECKING``."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    name = module_name(path)
    return {m for m in found if m in known and m != name and not name.startswith(m + ".")}  # a module's own package


def test_no_import_cycle_in_the_engine():
    files = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(f) for f in files}
    graph = {module_name(f): imported(f, known) for f in files}
    graph["workflow"] = set()  # the package facade re-exports; submodules never import it
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the loop


def test_the_graph_layer_knows_nothing_about_running_or_files():
    files = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(f) for f in files}
    deps = imported(PACKAGE / "graph.py", known)
    assert not deps & {"workflow.executor", "workflow.runner", "workflow.run_loop", "workflow.workflow", "workflow.pipeline",
                       "workflow.sources", "workflow.results_files"}
    assert "workflow.workflow" not in imported(PACKAGE / "pipeline.py", known)
    assert "workflow.runner" not in imported(PACKAGE / "pipeline.py", known)


def test_no_engine_module_is_over_300_lines():
    long = {module_name(f): n for f in PACKAGE.rglob("*.py") if (n := len(f.read_text().splitlines())) > MAX_LINES}
    assert long == {}
