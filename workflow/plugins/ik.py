"""Ikomia's call form: ``ik.<task name>(**params)`` returns a configured task, for ``wf.add_task``.

::

    from workflow import Workflow, ik

    wf = Workflow()
    algo = wf.add_task(ik.infer_torchvision_resnext(model_name="resnext50", cuda="False"), auto_connect=True)

There is one attribute per registered task (built-ins, entry-point plugins and plugin
folders), looked up in the process-wide registry when it is asked for: ``dir(ik)``
lists every name without importing a plugin, and only the task you call is imported.
Each attribute is a function whose signature and docstring come from the task's
parameter declarations, so ``help(ik.blur_image)``, IPython and notebooks show them.
Parameters may be strings (``"224"``, ``"true"``) or native values and are validated
at once with the usual messages.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable
from typing import Any

from workflow.core.errors import PluginError
from workflow.core.params import describe_params
from workflow.core.task import Task
from workflow.plugins.registry import default_registry

__all__: list[str] = []  # dynamic: see __dir__


def __getattr__(name: str) -> Callable[..., Task]:
    if name.startswith("__"):
        raise AttributeError(name)
    registry = default_registry()
    if name not in registry:
        try:
            registry.get(name)  # the registry's message: did-you-mean, plugin path, plugins that failed
        except PluginError as exc:
            raise AttributeError(f"workflow.plugins.ik has no task: {exc}") from None
    return task_factory(registry.get(name))


def __dir__() -> list[str]:
    return sorted(n for n in default_registry().names() if n.isidentifier() and not keyword.iskeyword(n))


def task_factory(cls: type[Task]) -> Callable[..., Task]:
    """A function ``(**params) -> cls instance`` with a signature and docstring built from ``cls.Params``."""

    def factory(**params: Any) -> Task:
        return cls(params)

    factory.__name__ = factory.__qualname__ = cls.name
    factory.__module__ = __name__
    factory.__doc__ = task_doc(cls)
    factory.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=info.get_default(call_default_factory=True),
                annotation=info.annotation,
            )
            for name, info in cls.Params.model_fields.items()
        ],
        return_annotation=cls.__name__,
    )
    return factory


def task_doc(cls: type[Task]) -> str:
    """``help()`` text: the task's description, its parameters (type, default, help, aliases) and ports by
    index."""
    summary = cls.description or (inspect.getdoc(cls) or "").split("\n\n")[0] or f"The '{cls.name}' task."
    lines = [summary, "", "Parameters (strings or native values):"]
    for row in describe_params(cls.Params):
        others = [a for a in row["aliases"] if a != row["name"]]
        aliases = f"; also {', '.join(others)}" if others else ""
        lines.append(
            f"    {row['name']} ({row['type']}, default {row['default']!r}{aliases}): {row['help']}".rstrip(
                ": "
            )
        )
    if not cls.Params.model_fields:
        lines.append("    none")
    for title, ports in (("Inputs", cls.inputs), ("Outputs", cls.outputs)):
        lines += ["", f"{title} (index: name):"]
        lines += [f"    {i}: {p.describe()}" for i, p in enumerate(ports)] or ["    none"]
    lines += ["", f"Returns the configured task ({cls.__name__}), for Workflow.add_task()."]
    return "\n".join(lines)
