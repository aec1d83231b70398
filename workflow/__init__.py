"""A small workflow engine for computer-vision tasks (imports no torch, cv2 or plugins).

The sub-packages are its layers; each imports only those below it (``pyproject.toml`` declares
the contracts, ``lint-imports`` checks them):

- ``cli`` (the ``workflow`` command), ``serve/`` (HTTP), ``ray_engine/`` (Ray), ``display``: entry points;
- ``workflow``: the :class:`Workflow` facade users script against (and here, as in Ikomia's
  ``ikomia.dataprocess.workflow`` module, :func:`load` and :func:`create`);
- ``run/`` (running a graph on sources, results files) and ``pipeline/`` (pipeline files);
- ``graph/``: tasks, edges, auto-connect, validation, and the executor;
- ``plugins/``: the task registry, plugin loading and ``ik``;
- ``core/``: errors, parameters, ports, results, the Task base class, decoding, runtime facts.
"""

from __future__ import annotations

import os

from workflow.core import ports
from workflow.core.errors import (
    GraphError,
    InputError,
    ParamError,
    PipelineError,
    PluginError,
    PortError,
    TaskRunError,
    WorkflowError,
)
from workflow.core.params import TaskParams
from workflow.core.ports import Port
from workflow.core.task import Task
from workflow.plugins import ik
from workflow.plugins.registry import Registry, default_registry, register_task
from workflow.workflow import Workflow


def load(path: str | os.PathLike, registry: Registry | None = None) -> Workflow:
    """A new workflow from a pipeline file: ``.json`` (ours or exported by Ikomia) or ``.yaml``/``.yml``
    (Ikomia's ``workflow.load(path)``; see :meth:`Workflow.load`)."""
    return Workflow.load(path, registry=registry)


def create(name: str = "workflow") -> Workflow:
    """A new empty workflow named ``name`` (Ikomia's ``workflow.create(name)``)."""
    return Workflow(name)


__version__ = "0.1.0"
__all__ = [
    "Workflow",
    "load",
    "create",
    "ik",
    "ports",
    "Task",
    "TaskParams",
    "Port",
    "register_task",
    "default_registry",
    "WorkflowError",
    "ParamError",
    "PortError",
    "GraphError",
    "PipelineError",
    "PluginError",
    "InputError",
    "TaskRunError",
]
