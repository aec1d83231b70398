"""Task registry: task name -> task class, from entry points, plugin folders and code.

Entry points (group ``workflow.tasks``) are listed from package metadata and
imported only when a task is asked for, so listing tasks imports no plugin.
Folders named in ``WORKFLOW_PLUGIN_PATH`` (os.pathsep-separated) are scanned
for modules and packages whose Task subclasses are registered. A plugin that
fails to import is skipped with a warning (``WORKFLOW_STRICT_PLUGINS=1`` or
``strict=True`` makes it fatal); two tasks with one name is an error naming both.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import os
import sys
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable

from workflow.errors import PluginError, did_you_mean
from workflow.task import Task

ENTRY_POINT_GROUP = "workflow.tasks"
PLUGIN_PATH_ENV = "WORKFLOW_PLUGIN_PATH"
STRICT_ENV = "WORKFLOW_STRICT_PLUGINS"
log = logging.getLogger("workflow.registry")


@dataclass
class _Entry:
    source: str  # human-readable origin, named in errors
    load: Callable[[], type[Task]]
    cls: type[Task] | None = field(default=None)


class Registry:
    """Maps task names to task classes; see module docstring for the sources."""

    def __init__(self, strict: bool | None = None, use_entry_points: bool = True, plugin_path: str | None = None):
        self.strict = _env_flag(STRICT_ENV) if strict is None else strict
        self._entries: dict[str, _Entry] = {}
        self._scanned = False
        self._use_entry_points = use_entry_points
        self._plugin_path = plugin_path

    # -- sources ----------------------------------------------------------
    def register(self, cls: type[Task], source: str | None = None) -> type[Task]:
        """Register a Task subclass under ``cls.name`` (usable as a decorator)."""
        if not (inspect.isclass(cls) and issubclass(cls, Task) and cls.name):
            raise PluginError(f"{cls!r} is not a Task subclass with a name")
        self._add(cls.name, _Entry(source or f"{cls.__module__}.{cls.__qualname__}", lambda: cls, cls))
        return cls

    def _add(self, name: str, entry: _Entry) -> None:
        old = self._entries.get(name)
        if old is not None and old.source != entry.source:
            raise PluginError(f"task '{name}' is defined twice: by {old.source} and by {entry.source}")
        self._entries.setdefault(name, entry)

    def _scan(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        if self._use_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                dist = getattr(ep.dist, "name", "?")
                self._add(ep.name, _Entry(f"entry point '{ep.name} = {ep.value}' (package {dist})", _ep_loader(ep)))
        path = self._plugin_path if self._plugin_path is not None else os.environ.get(PLUGIN_PATH_ENV, "")
        for folder in filter(None, path.split(os.pathsep)):
            self._scan_folder(Path(folder))

    def _scan_folder(self, folder: Path) -> None:
        if not folder.is_dir():
            self._fail(f"plugin folder '{folder}' (from {PLUGIN_PATH_ENV}) does not exist")
            return
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
        for child in sorted(folder.iterdir()):
            if child.name.startswith(("_", ".")):
                continue
            if child.suffix == ".py" or (child.is_dir() and (child / "__init__.py").exists()):
                self._import_plugin_module(child)

    def _import_plugin_module(self, path: Path) -> None:
        modname = path.stem if path.suffix == ".py" else path.name
        try:
            module = importlib.import_module(modname)
        except Exception as exc:  # a broken plugin must not take the others down
            self._fail(f"plugin '{path}' failed to import: {type(exc).__name__}: {exc}")
            return
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, Task) and obj.name and obj.__module__.startswith(modname):
                self._add(obj.name, _Entry(f"plugin folder module '{path}'", lambda o=obj: o, obj))

    def _fail(self, message: str) -> None:
        if self.strict:
            raise PluginError(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        log.debug(message)  # the warning is the report; logging it too printed it twice

    # -- queries -------------------------------------------------------------
    def names(self) -> list[str]:
        """Every registered task name, sorted; imports no entry-point plugin."""
        self._scan()
        return sorted(self._entries)

    def source(self, name: str) -> str:
        self._scan()
        return self._entry(name).source

    def get(self, name: str) -> type[Task]:
        """The task class registered as ``name``.

        Raises:
            PluginError: unknown name (with a did-you-mean) or a plugin that fails to import.
        """
        self._scan()
        entry = self._entry(name)
        if entry.cls is None:
            try:
                cls = entry.load()
            except Exception as exc:
                raise PluginError(f"task '{name}' from {entry.source} failed to import: {type(exc).__name__}: {exc}") from exc
            if not (inspect.isclass(cls) and issubclass(cls, Task)):
                raise PluginError(f"task '{name}' from {entry.source} is not a Task subclass")
            entry.cls = cls
        return entry.cls

    def _entry(self, name: str) -> _Entry:
        try:
            return self._entries[name]
        except KeyError:
            hint = did_you_mean(name, self._entries, cutoff=0.5)
            raise PluginError(f"unknown task '{name}'{hint}; run 'workflow list' to see the registered tasks") from None

    def __contains__(self, name: str) -> bool:
        self._scan()
        return name in self._entries


def _ep_loader(ep) -> Callable[[], type[Task]]:
    return ep.load


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry (entry points + WORKFLOW_PLUGIN_PATH), built on first use."""
    global _default
    if _default is None:
        _default = Registry()
    return _default


def reset_default_registry() -> None:
    """Forget the process-wide registry (tests, or after changing WORKFLOW_PLUGIN_PATH)."""
    global _default
    _default = None


def register_task(cls: type[Task]) -> type[Task]:
    """Decorator: register a task class in the process-wide registry."""
    return default_registry().register(cls)
