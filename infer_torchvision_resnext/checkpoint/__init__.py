"""The checkpoint file: the one contract between training (writes) and inference (reads).

- ``_shapes``: an architecture's state-dict keys and shapes, cached on disk (no torchvision needed to check);
- ``_layout``: what a torch archive declares, read before ``torch.load`` allocates any of it;
- ``_checks``: checks on an untrusted file before and after loading (sizes, manifest, weights, head against
  class names) and :class:`CheckpointError`;
- ``format``: the manifest, saving atomically, loading safely, building the model.
"""

from __future__ import annotations
