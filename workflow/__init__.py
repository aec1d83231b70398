"""A small workflow engine for computer-vision tasks (imports no torch, cv2 or plugins).

The sub-packages are its layers; each imports only those below it (``pyproject.toml`` declares
the contracts, ``lint-imports`` checks them):

- ``cli`` (the ``workflow`` command), ``serve/`` (HTTP), ``ray_engine/`` (Ray), ``display``: entry points;
- ``workflow``: the :class:`Workflow` facade users script against;
- ``run/`` (running a graph on sources, results files) and ``pipeline/`` (pipeline files);
- ``graph/``: tasks, edges, auto-connect, validation, and the executor;
- ``plugins/``: the task registry, plugin loading and ``ik``;
- ``core/``: errors, parameters, ports, results, the Task base class, decoding, runtime facts.
"""

from __future__ import annotations

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
from workflow.plugins.registry import default_registry, register_task
from workflow.workflow import Workflow

__version__ = "0.1.0"
__all__ = [
    "Workflow",
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
