"""Running a graph on items: one skeleton (open, record, finish, merge) for local, torchrun and Ray runs.

- ``report``: the :class:`RunReport` every run returns, and :class:`RunInterrupted`;
- ``interrupts``: Ctrl-C held back while a row is written;
- ``results_files``: incremental CSV + JSON Lines, resume and merge, then one JSON array;
- ``records``: one item's outputs -> its results row and saved images;
- ``video_outputs``: image outputs of a video run written as videos;
- ``sharding``: torchrun folder runs, each rank its own part files, rank 0 merges;
- ``loop``: the one run skeleton: items from a source through the executor into the results files;
- ``runner``: ``run_on``: one image, a folder, a video, or no image at all;
- ``engines``: other engines (``engine="ray"``), found by name and imported on use;
- ``sources``: where items come from (package).
"""

from __future__ import annotations
