"""A small workflow engine for computer-vision tasks (imports no torch, cv2 or plugins)."""
from __future__ import annotations

from workflow.errors import (GraphError, InputError, ParamError, PipelineError, PluginError, PortError,
                             TaskRunError, WorkflowError)
from workflow.params import TaskParams
from workflow.ports import Port
from workflow.registry import default_registry, register_task
from workflow.task import Task
from workflow.workflow import Workflow

__version__ = "0.1.0"
__all__ = ["Workflow", "Task", "TaskParams", "Port", "register_task", "default_registry", "WorkflowError", "ParamError",
           "PortError", "GraphError", "PipelineError", "PluginError", "InputError", "TaskRunError"]
