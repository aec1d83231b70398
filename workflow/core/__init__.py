"""The engine's foundation: what a task is and what flows between tasks. Imports nothing above it.

- ``errors``: the error types; every message is one line naming the culprit;
- ``limits``: bounds on untrusted values, checked before anything expands them;
- ``files``: atomic writes, JSON text, safe output names;
- ``params``: typed task parameters (pydantic), strings accepted, Ikomia's strings given back;
- ``results``: classification and detection records, their plain forms and JSON (``to_json`` options);
- ``ports``: port data types and their compatibility rule;
- ``io``: IO objects, what ``task.get_input(i)`` / ``get_output(i)`` return, one class per data type;
- ``context``: the context of one run (output folder, save options);
- ``task``: the :class:`Task` base class;
- ``imaging``: decoding files and bytes to RGB arrays (the one decoder);
- ``native_log``: what native decoders print, caught so a warning can name the file;
- ``runtime``: CPU class, device and precision facts shared by every plugin;
- ``distributed``: where this process stands in a torchrun job;
- ``progress``: progress bars that go quiet off a terminal.
"""

from __future__ import annotations

from workflow.core.errors import (
    GraphError,
    InputError,
    ParamError,
    PipelineError,
    PluginError,
    PortError,
    SetupError,
    TaskRunError,
    WorkflowError,
)
from workflow.core.io import (
    ClassificationIO,
    ImageIO,
    ObjectDetection,
    ObjectDetectionIO,
    PathIO,
    TableIO,
    TaskIO,
    register_io,
)
from workflow.core.params import TaskParams, path_field
from workflow.core.ports import Port
from workflow.core.results import ClassificationResult, ClassScore, DetectionsResult
from workflow.core.task import Task

__all__ = [
    "ClassScore",
    "ClassificationIO",
    "ClassificationResult",
    "DetectionsResult",
    "GraphError",
    "ImageIO",
    "InputError",
    "ObjectDetection",
    "ObjectDetectionIO",
    "ParamError",
    "PathIO",
    "PipelineError",
    "PluginError",
    "Port",
    "PortError",
    "SetupError",
    "TableIO",
    "Task",
    "TaskIO",
    "TaskParams",
    "TaskRunError",
    "WorkflowError",
    "path_field",
    "register_io",
]
