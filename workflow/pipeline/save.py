"""Graph -> pipeline file: every edge written as an explicit reference, only the params that differ
from their defaults, path parameters relative to the file's folder, so ``load(save(wf))`` rebuilds the same graph.
The same version-1 document is written as YAML (``.yaml``, ``.yml``) or JSON (``.json``)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from workflow.core.errors import PipelineError
from workflow.core.files import atomic_write_text
from workflow.core.ports import DATA_TYPES
from workflow.core.task import Task
from workflow.graph.graph import Graph
from workflow.pipeline._parse import file_format
from workflow.pipeline._paths import relative_paths
from workflow.pipeline.schema import FORMAT_VERSION, NAME_PATTERN


def dump_workflow(wf: Graph, base_dir: Path | None = None, fmt: str = "yaml") -> str:
    """The YAML (``fmt="yaml"``) or JSON (``fmt="json"``) text of a workflow (see :func:`save_workflow`); path
    parameters under ``base_dir`` are written relative to it.

    Raises:
        PipelineError: something the file format cannot express (an odd id, a custom data type).
        ValueError: ``fmt`` is neither "yaml" nor "json".
    """
    if fmt not in ("yaml", "json"):
        raise ValueError(f"dump_workflow: fmt {fmt!r}: expected 'yaml' or 'json'")
    doc: dict[str, Any] = {"version": FORMAT_VERSION, "name": wf.name}
    for name, dtype in wf.inputs.items():
        if not re.match(NAME_PATTERN, name) or DATA_TYPES.get(dtype.label) is not dtype:
            raise PipelineError(
                f"workflow '{wf.name}': input '{name}' ({dtype.__name__}) cannot be written to a pipeline file"
            )
    doc["inputs"] = {name: {"type": dtype.label} for name, dtype in wf.inputs.items()}
    doc["tasks"] = [_task_entry(wf, task, base_dir) for task in wf.tasks]
    if wf.outputs:
        doc["outputs"] = {name: f"$steps.{tid}.{port}" for name, (tid, port) in wf.outputs.items()}
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _task_entry(wf: Graph, task: Task, base_dir: Path | None) -> dict[str, Any]:
    if not re.match(NAME_PATTERN, task.id):
        raise PipelineError(
            f"task '{task.id}': id cannot be written to a pipeline file (must match {NAME_PATTERN})"
        )
    entry: dict[str, Any] = {"id": task.id, "task": task.name}
    dumped = relative_paths(task.params, task.params.model_dump(mode="json"), base_dir)
    params = {
        name: dumped[name]
        for name, info in type(task.params).model_fields.items()
        if info.is_required() or getattr(task.params, name) != info.get_default(call_default_factory=True)
    }
    if params:
        entry["params"] = params
    if task.inputs:  # written even when empty, so that loading does not auto-connect optional inputs
        edges = {e.dst_port: e.ref() for e in wf.edges if e.dst == task.id}
        entry["inputs"] = {p.name: edges[p.name] for p in task.inputs if p.name in edges}
    return entry


def save_workflow(wf: Graph, path: str | os.PathLike) -> None:
    """Write ``wf`` as a pipeline file (atomically), JSON or YAML by the suffix of ``path``;
    :func:`load_workflow` rebuilds the same graph.

    Raises:
        PipelineError: a suffix other than .json, .yaml, .yml, or something the format cannot express.
    """
    fmt = file_format(path)
    atomic_write_text(path, dump_workflow(wf, Path(path).resolve().parent, fmt))
