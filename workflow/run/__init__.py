"""Running a graph on items: one skeleton (open, record, finish, merge) for local, torchrun and Ray runs.

- ``report``: the :class:`RunReport` every run returns, and :class:`RunInterrupted`;
- ``interrupts``: Ctrl-C held back while a row is written;
- ``results_files``: incremental CSV + JSON Lines, resume and merge, then one JSON array;
- ``records``: one item's outputs -> its results row and saved images;
- ``video_outputs``: image outputs of a video run written as videos;
- ``batch``: one batch through the graph in this process (a local run, a Ray actor) -> one outcome per item;
- ``sharding``: the files torchrun ranks share: part files, heartbeats, done markers, rank 0's merge;
- ``loop``: the one run skeleton, :class:`Run`: open, prepare, drive batches, record, finish, merge;
- ``runner``: ``run_on``: one image, a folder, a video, or no image at all;
- ``engines``: other engines (``engine="ray"``), found by name and imported on use;
- ``sources``: where items come from (package).

The public names below are imported on first use, so ``import workflow`` loads no decoder.
"""

from __future__ import annotations

import importlib
from typing import Any

from workflow.run.report import RunInterrupted, RunReport

_LAZY = {  # public name -> the module that defines it
    "BatchStep": "workflow.run.batch",
    "Outcome": "workflow.run.batch",
    "decode_hint": "workflow.run.batch",
    "Run": "workflow.run.loop",
    "RunOptions": "workflow.run.loop",
    "run_source": "workflow.run.loop",
    "image_input": "workflow.run.loop",
    "output_folder": "workflow.run.loop",
    "default_batch_size": "workflow.run.loop",
    "Recorder": "workflow.run.records",
    "run_on": "workflow.run.runner",
    "run_inputs": "workflow.run.runner",
    "run_once": "workflow.run.runner",
}
__all__ = ["RunInterrupted", "RunReport", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
