"""Pipeline files (version 1, YAML or JSON) <-> a graph, with staged validation before any model is built.

The suffix chooses the syntax (``.yaml``/``.yml`` or ``.json``); workflow files exported by Ikomia load too.

- ``_parse``: stage 1, YAML or JSON text to plain data, bounded before anything walks it;
- ``_ikomia``: a workflow file exported by Ikomia (IkomiaCore's JSON) mapped to the same document;
- ``schema``: the file format (pydantic), located problems, and the JSON Schema for editors;
- ``_paths``: path parameters relative to the file's folder;
- ``build``: file -> graph, through every stage (names, params, references, types, cycles);
- ``save``: graph -> file, every edge explicit, only params that differ from defaults.
"""

from __future__ import annotations

from workflow.pipeline.build import load_workflow, loads_workflow, validate_file
from workflow.pipeline.save import dump_workflow, save_workflow

__all__ = ["dump_workflow", "load_workflow", "loads_workflow", "save_workflow", "validate_file"]
