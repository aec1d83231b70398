"""The shape of the code base: imports only point one way, modules stay small, tasks stay thin.

Every import statement counts, also the lazy ones inside functions (a cycle hidden
in a function is still a cycle); imports under ``if TYPE_CHECKING:`` do not run
and are left out. A module importing its own package's ``__init__`` is not an edge.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workflow", "infer_torchvision_resnext", "train_torchvision_resnext")
MAX_LINES = 300
MAX_TASK_LINES = 100


def _module_files() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def _imported_names(path: Path, module: str, is_package: bool) -> set[str]:
    here = module.split(".") if is_package else module.split(".")[:-1]
    names: set[str] = set()

    def walk(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                walk(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            walk(child)

    walk(ast.parse(path.read_text(encoding="utf-8")))
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (see the module docstring for what counts)."""
    files = _module_files()
    graph = {}
    for name, path in files.items():
        deps = _imported_names(path, name, path.name == "__init__.py")
        own_inits = {p for p in deps if name.startswith(p + ".") and files.get(p, Path()).name == "__init__.py"}
        graph[name] = {d for d in deps if d in files and d != name} - own_inits
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of two or more modules that import each other, directly or around a loop (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_the_cycle_finder_finds_a_loop():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_anywhere():
    graph = import_graph()
    assert len(graph) > 40, "the module scan found too few modules"
    assert strongly_connected(graph) == []


@pytest.mark.parametrize("name, path", sorted(_module_files().items()))
def test_module_is_small(name, path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines (limit {MAX_LINES}): split it by job"


@pytest.mark.parametrize("package", ["infer_torchvision_resnext", "train_torchvision_resnext"])
def test_task_modules_only_adapt_ports(package):
    lines = len((ROOT / package / "task.py").read_text(encoding="utf-8").splitlines())
    assert lines < MAX_TASK_LINES, f"{package}/task.py has {lines} lines: move the work out of the Task"


def test_the_recipe_record_imports_nothing_of_its_package():
    deps = import_graph()["infer_torchvision_resnext.recipe"]
    assert not [d for d in deps if d.startswith("infer_torchvision_resnext")]


def test_the_engine_imports_no_plugin():
    graph = import_graph()
    leaks = {m: sorted(d for d in deps if not d.startswith("workflow")) for m, deps in graph.items() if m.startswith("workflow")}
    assert {m: d for m, d in leaks.items() if d} == {}


RUNNING = ("workflow.executor", "workflow.runner", "workflow.run_loop", "workflow.records",
           "workflow.results_files", "workflow.workflow", "workflow.cli", "workflow.sources")


def _running(module: str) -> bool:
    return module in RUNNING or module.startswith("workflow.sources.")


def test_the_graph_layer_knows_nothing_about_running_or_files():
    graph = import_graph()
    assert "workflow.graph" in graph
    assert not [d for d in graph["workflow.graph"] if _running(d) or d == "workflow.pipeline"]


def test_the_pipeline_layer_imports_neither_the_facade_nor_the_runner():
    assert not [d for d in import_graph()["workflow.pipeline"] if _running(d)]
