"""One batch through the graph, in this process: the step a local run and each Ray actor execute.

:meth:`BatchStep.prepare` runs once per process, before any batch: the static tasks (unless
their outputs came with the step, e.g. from the Ray driver), :meth:`Task.prepare` of the
per-item tasks, then the decode hint (which may use what prepare loaded). Calling the step
on a batch runs the executor and turns each item's outputs into its row pair through the
:class:`~workflow.run.records.Recorder`. What comes back is one :class:`Outcome` per item,
which :meth:`workflow.run.loop.Run.record` counts and writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflow.core.errors import SetupError, WorkflowError
from workflow.graph.executor import execute, prepare_tasks, run_static
from workflow.graph.graph import INPUTS, Graph
from workflow.run.records import Recorder
from workflow.run.sources.base import Item


@dataclass
class Outcome:
    """What one item of a batch came to: its ``(csv row, json record)`` pair, or why it failed.

    ``outputs`` are the workflow outputs, kept only where the item ran in this process.
    """

    item: Item
    rows: tuple[dict[str, Any], dict[str, Any]] | None = None
    error: str | None = None
    outputs: dict[str, Any] | None = None


def decode_hint(graph: Graph, input_name: str) -> int | None:
    """The smallest image side the tasks fed by ``input_name`` need, when every one of them says (else
    None)."""
    hints = [
        graph.get_task(e.dst).decode_hint(e.dst_port)
        for e in graph.edges
        if e.src == INPUTS and e.src_port == input_name
    ]
    return min(hints) if hints and all(h is not None for h in hints) else None


class BatchStep:
    """How a batch is executed in this process: the graph, prepared once, turns items into outcomes.

    Args:
        graph: the run's graph.
        recorder: turns an item's outputs into its row pair (and saves its images).
        input_name: the workflow input fed with each item's image ("" when there is none).
        constants: the other workflow inputs, the same for every item.
        strict: raise an item's error instead of recording it (single images).
        save_files: save image outputs as files (False when a video run writes them as frames).
        reduced_decode: the items' ports are seen by nobody (a folder or video run that saves no image), so
            big JPEGs may be decoded at the scale the tasks' models need (~2x faster); else full size.
        static_cache: outputs of the static tasks, when they already ran (the Ray driver's).
    """

    def __init__(
        self,
        graph: Graph,
        recorder: Recorder,
        input_name: str,
        constants: dict[str, Any],
        *,
        strict: bool = False,
        save_files: bool = True,
        static_cache: dict[str, dict[str, Any]] | None = None,
        reduced_decode: bool = False,
    ):
        self.graph, self.recorder, self.input_name, self.constants = graph, recorder, input_name, constants
        self.strict, self.save_files, self.reduced_decode = strict, save_files, reduced_decode
        self.static_cache = static_cache if static_cache is not None else {}

    def prepare(self, times: dict[str, float]) -> int | None:
        """Run the static tasks not yet run, prepare the per-item tasks; returns the decode hint (None: decode
        at full size, what the tasks' ports carry, unless :attr:`reduced_decode` allows less).

        Raises:
            SetupError: a task failed to prepare. WorkflowError: as raised by a static task.
        """
        run_static(self.graph, self.static_cache, times)
        prepare_tasks(self.graph, self.static_cache, self.constants)
        if self.reduced_decode and self.input_name:
            return decode_hint(self.graph, self.input_name)
        return None

    def __call__(self, items: list[Item], times: dict[str, float]) -> list[Outcome]:
        """The outcome of each of ``items`` (decoded), in order; ``times`` receives the seconds per task.

        Raises:
            SetupError: always (e.g. the disk is full: no later item can be saved either).
            WorkflowError, OSError, ValueError: an item's error, when the step is strict.
        """
        name = self.input_name
        inputs = [{**self.constants, name: it.image} if name else dict(self.constants) for it in items]
        results = execute(self.graph, inputs, self.strict, self.static_cache, times)
        outcomes = []
        for item, result in zip(items, results):
            if result.error is not None:
                outcomes.append(Outcome(item, error=result.error))
                continue
            try:
                rows = self.recorder.record(item.key, item.name, result.outputs, save_files=self.save_files)
            except SetupError:
                raise
            except (WorkflowError, OSError, ValueError) as exc:  # could not save this item's images
                if self.strict:
                    raise
                outcomes.append(Outcome(item, error=str(exc)))
                continue
            outcomes.append(Outcome(item, rows, outputs=result.outputs))
        return outcomes
