"""The facade users script against: a :class:`~workflow.graph.graph.Graph` plus methods that run it, load and
save it.

Every method delegates down: the graph layer builds and checks, :mod:`workflow.graph.executor`
runs batches, :mod:`workflow.run.runner` runs on sources, :mod:`workflow.pipeline.build` reads
and writes YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workflow.core.ports import Image
from workflow.graph.executor import ItemResult, execute, prepare_tasks, run_static
from workflow.graph.graph import INPUTS, Edge, Graph
from workflow.plugins.registry import Registry
from workflow.run.report import RunReport

__all__ = ["Workflow", "Edge", "INPUTS", "ItemResult"]


class Workflow(Graph):
    """A graph of tasks run in topological order.

    Args:
        name: shown in logs and saved pipelines.
        inputs: workflow inputs as ``{name: data type or its label}``; default ``{"image": Image}``.
        registry: where task names are looked up (default: the process-wide registry).
    """

    def __init__(
        self, name: str = "workflow", inputs: dict[str, Any] | None = None, registry: Registry | None = None
    ):
        super().__init__(name, inputs, registry)
        self._times: dict[str, float] = {}
        self._last_outputs: dict[str, Any] = {}

    def run(self, **inputs: Any) -> dict[str, Any]:
        """Run once on the given workflow inputs; returns the workflow outputs. Errors propagate."""
        return self.run_items([inputs], raise_errors=True)[0].outputs

    def run_items(
        self,
        items: list[dict[str, Any]],
        raise_errors: bool = False,
        static_cache: dict[str, dict[str, Any]] | None = None,
    ) -> list[ItemResult]:
        """Run a batch of items (each a dict of workflow inputs) through the graph.

        Tasks that do not depend on the inputs run once; the others see the whole
        batch through :meth:`Task.run_batch`. A failing batch is retried item by item
        so one bad item is reported (``ItemResult.error``) and the others carry on;
        a :class:`~workflow.core.errors.SetupError` always propagates.

        Args:
            raise_errors: raise the first error instead of recording it per item.
            static_cache: a dict kept by the caller across calls (e.g. the batches of one
                run): static tasks whose outputs it already holds are not run again, and
                the per-item tasks are prepared only when it starts empty.
        """
        self._times = {}
        cache = static_cache if static_cache is not None else {}
        if not cache:
            run_static(self, cache, self._times)
            prepare_tasks(self, cache, self._constant_inputs(items))
        results = execute(self, items, raise_errors, cache, self._times)
        self._last_outputs = results[-1].outputs if results else {}
        return results

    def _constant_inputs(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Non-image workflow inputs that hold the same object in every item (what prepare() may rely on)."""
        if not items:
            return {}
        first = items[0]
        return {
            k: v
            for k, v in first.items()
            if k in self.inputs
            and not issubclass(self.inputs[k], Image)
            and all(it.get(k) is v for it in items)
        }

    def get_time_metrics(self) -> dict[str, float]:
        """Seconds spent in each task during the last run, plus ``total``."""
        times = {k: v for k, v in self._times.items() if k != "total"}
        return {**times, "total": sum(times.values())}

    def get_outputs(self) -> dict[str, Any]:
        """Workflow outputs of the last item run."""
        return dict(self._last_outputs)

    @classmethod
    def load(cls, path: str | Path, registry: Registry | None = None) -> Workflow:
        """Build a workflow from a YAML pipeline file (validated before any model is built)."""
        from workflow.pipeline.build import (
            load_workflow,
        )  # imported on use: `import workflow` stays light (no YAML)

        return load_workflow(path, registry=registry, graph_cls=cls)

    def save(self, path: str | Path) -> None:
        """Write the workflow as a YAML pipeline file (round-trips through :meth:`load`)."""
        from workflow.pipeline import save_workflow

        save_workflow(self, path)

    def run_on(self, engine: str = "local", **source: Any) -> RunReport:
        """Run on one source: ``path=``, ``array=``, ``folder=``, ``video=`` or ``url=`` (see
        :func:`workflow.run.runner.run_on`).

        ``engine="ray"`` runs a ``folder=`` on a pool of Ray actors instead, with that engine's options
        (``actors=``, ``actor_cpus=``, ``address=``; see :func:`workflow.ray_engine.run_on_ray`).
        Afterwards :meth:`get_time_metrics` covers the whole run and :meth:`get_outputs` its last item.
        """
        if engine == "local":
            from workflow.run.runner import run_on  # imported on use: sources, results files, threads

            report = run_on(self, **source)
        else:
            from workflow.run.engines import run_on_engine

            report = run_on_engine(engine, self, source)
        self._times = dict(report.times)
        self._last_outputs = dict(report.outputs)
        return report
