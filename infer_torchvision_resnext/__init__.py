"""ResNeXt image classification task (torchvision weights, OpenVINO/torch backends).

Layers, each importing only those below it (contracts in ``pyproject.toml``):

- ``task``: the ``infer_torchvision_resnext`` task (ports only) over ``params``;
- ``classifier`` (:class:`Classifier`: preprocessing, batching, backend, top-k) and ``annotate`` (drawing);
- ``int8/`` (INT8 models), ``model_source`` (where the weights come from), ``roi`` (per-box planning);
- ``backends/`` (protocol, torch, OpenVINO, choosing one) and ``checkpoint/`` (the file format training writes);
- ``models`` (torchvision builders and weights), ``preprocess`` (resize + crop), ``disk_cache``
  (where derived files live, most recently used kept), ``params`` (the task's typed parameters, and the
  :class:`ClassifierConfig` the task hands the classifier);
- ``recipe``: the :class:`Preprocessing` record (imports nothing of this package).

Importing the package does not import torch.
"""

from __future__ import annotations
