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
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from workflow.core.errors import PluginError, did_you_mean
from workflow.core.task import Task
from workflow.plugins._loader import guarded

ENTRY_POINT_GROUP = "workflow.tasks"
PLUGIN_PATH_ENV = "WORKFLOW_PLUGIN_PATH"
STRICT_ENV = "WORKFLOW_STRICT_PLUGINS"
log = logging.getLogger("workflow.plugins.registry")


@dataclass
class _Entry:
    source: str  # human-readable origin, named in errors
    load: Callable[[], type[Task]]
    cls: type[Task] | None = field(default=None)


class Registry:
    """Maps task names to task classes; see module docstring for the sources."""

    def __init__(
        self, strict: bool | None = None, use_entry_points: bool = True, plugin_path: str | None = None
    ):
        self.strict = _env_flag(STRICT_ENV) if strict is None else strict
        self._entries: dict[str, _Entry] = {}
        self._scanned = False
        self._failures: list[str] = []  # plugins that failed to load, named in unknown-task errors
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
                self._add(
                    ep.name, _Entry(f"entry point '{ep.name} = {ep.value}' (package {dist})", _ep_loader(ep))
                )
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
        try:  # a broken plugin (even one calling sys.exit or hanging) must not take the others down
            module = guarded(f"plugin '{path}'", lambda: importlib.import_module(modname))
        except PluginError as exc:
            self._fail(str(exc))
            return
        for obj in vars(module).values():
            if not (inspect.isclass(obj) and issubclass(obj, Task) and obj.__module__.startswith(modname)):
                continue
            if obj.name:
                self._add(obj.name, _Entry(f"plugin folder module '{path}'", lambda o=obj: o, obj))
            elif "name" not in vars(obj) and not obj.__name__.startswith("_") and not inspect.isabstract(obj):
                self._nameless(path, obj)

    def _nameless(self, path: Path, cls: type[Task]) -> None:
        warnings.warn(
            f"plugin '{path}': class {cls.__qualname__} is a Task subclass without a 'name'; it is not registered "
            '(set name = "..."; a base class: name = "" or a name starting with _)',
            RuntimeWarning,
            stacklevel=4,
        )

    def _fail(self, message: str) -> None:
        self._failures.append(message)
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
            cls = guarded(f"task '{name}' from {entry.source}", entry.load)
            if not (inspect.isclass(cls) and issubclass(cls, Task)):
                raise PluginError(f"task '{name}' from {entry.source} is not a Task subclass")
            if cls.name != name:
                raise PluginError(
                    f"task '{name}' from {entry.source}: class {cls.__qualname__} has name "
                    f"{cls.name!r}; set name = {name!r} in the class"
                )
            entry.cls = cls
        return entry.cls

    def _entry(self, name: str) -> _Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise PluginError(self._unknown_message(name)) from None

    def _unknown_message(self, name: str) -> str:
        """Why ``name`` is not here: a close name, an unset plugin path, plugins that failed to load."""
        parts = [f"unknown task '{name}'{did_you_mean(name, self._entries, cutoff=0.75)}"]
        path = self._plugin_path if self._plugin_path is not None else os.environ.get(PLUGIN_PATH_ENV, "")
        if not path.strip():
            parts.append(f"{PLUGIN_PATH_ENV} is not set, so no plugin folder was searched")
        if self._failures:
            parts.append(f"{len(self._failures)} plugin(s) failed to load: {' | '.join(self._failures)}")
        parts.append("run 'workflow list' to see the registered tasks")
        return "; ".join(parts)

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
