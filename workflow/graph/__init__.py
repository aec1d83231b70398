"""The task graph and running a batch through it. Knows nothing of sources, files or pipelines.

- ``graph``: tasks, typed edges, workflow inputs and outputs, auto-connect, validation, order;
- ``executor``: a batch of items through the graph (static tasks once, bad items isolated).
"""

from __future__ import annotations

from workflow.graph.graph import Edge, Graph

__all__ = ["Edge", "Graph"]
