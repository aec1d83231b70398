"""Ikomia's call form: ``ik.<task name>(**params)`` returns a configured task, for ``wf.add_task``.

::

    from workflow import Workflow, ik

    wf = Workflow()
    algo = wf.add_task(ik.infer_torchvision_resnext(model_name="resnext50", cuda="False"), auto_connect=True)
    wf.find_task(ik.infer_torchvision_resnext.name())                     # the task's name
    algo.set_parameters({ik.infer_torchvision_resnext.input_size: "224"})  # parameter names as attributes

There is one attribute per registered task (built-ins, entry-point plugins and plugin
folders), looked up in the process-wide registry when it is asked for: ``dir(ik)``
lists every name without importing a plugin, and only the task you ask for is imported.
Each attribute is a class shaped as Ikomia generates them: a static ``name()``, one
class attribute per parameter holding the parameter's name (and one per alias the task
accepts, e.g. ``model_path``; a Python keyword gets a trailing ``_``), and calling the
class returns the configured task (not an instance of the class). Its signature and
docstring come from the task's parameter declarations, so ``help(ik.blur_image)``,
IPython and notebooks show them. Parameters may be strings (``"224"``, ``"true"``) or
native values and are validated at once with the usual messages.
"""

from __future__ import annotations

import functools
import inspect
import keyword
from typing import Any

from workflow.core.errors import PluginError
from workflow.core.params import accepted_keys, describe_params
from workflow.core.task import Task
from workflow.plugins.registry import default_registry

__all__: list[str] = []  # dynamic: see __dir__


def __getattr__(name: str) -> type:
    if name.startswith("__"):
        raise AttributeError(name)
    registry = default_registry()
    if name not in registry:
        try:
            registry.get(name)  # the registry's message: did-you-mean, plugin path, plugins that failed
        except PluginError as exc:
            raise AttributeError(f"workflow.plugins.ik has no task: {exc}") from None
    return task_class(registry.get(name))


def __dir__() -> list[str]:
    return sorted(n for n in default_registry().names() if n.isidentifier() and not keyword.iskeyword(n))


@functools.lru_cache(maxsize=512)
def task_class(cls: type[Task]) -> type:
    """The ``ik`` class of task ``cls``: ``name()``, one attribute per parameter name and alias, and a call
    ``(**params) -> cls instance`` whose signature and docstring come from ``cls.Params``."""

    def __new__(klass, **params: Any) -> Task:  # noqa: N807 (the class is called to make the task)
        return cls(params)

    attrs: dict[str, Any] = {
        attribute_name(key): key for key in accepted_keys(cls.Params) if attribute_name(key)
    }
    attrs.pop("name", None)  # Ikomia's name() method wins over a parameter called "name"
    attrs.update(
        __new__=__new__,
        __module__=__name__,
        __qualname__=cls.name,
        __doc__=task_doc(cls),
        __signature__=inspect.Signature(
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
        ),
        name=staticmethod(lambda: cls.name),
    )
    return type(cls.name, (), attrs)


def attribute_name(key: str) -> str:
    """A parameter name as an ``ik`` attribute, as Ikomia makes it: spaces, ``-``, ``[`` and ``]`` dropped, a
    keyword suffixed with ``_``; ``""`` when what is left is no identifier."""
    name = key.translate(str.maketrans("", "", " -[]"))
    if keyword.iskeyword(name):
        name += "_"
    return name if name.isidentifier() else ""


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
