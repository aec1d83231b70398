"""Finding tasks: built-ins and third-party plugins by entry point or folder, and Ikomia's ``ik`` call form.

- ``_loader``: imports plugin code under guard (exits and hangs become errors naming the plugin);
- ``registry``: task name -> task class, lazily, from entry points, plugin folders and code;
- ``ik``: ``ik.<task>(**params)``, one attribute per registered task.
"""

from __future__ import annotations

from workflow.plugins.registry import Registry, default_registry, register_task

__all__ = ["Registry", "default_registry", "register_task"]
