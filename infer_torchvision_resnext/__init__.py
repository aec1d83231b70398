"""ResNeXt image classification task (torchvision weights, OpenVINO/torch backends).

Layers, each importing only those above it:

- ``recipe``: the :class:`Preprocessing` record (imports nothing of this package);
- ``models``: architecture names, torchvision builders and weights, offline checks;
- ``checkpoint``: the file format shared with training, and the manifest/model_name rule;
- ``preprocess``: resize + centre crop of uint8 images;
- ``backend`` (the :class:`Backend` protocol), ``torch_backend``, ``openvino_backend``,
  then ``backends`` (choosing one on top of :mod:`workflow.runtime`);
- ``model_source`` (where the weights come from), ``roi`` (per-box planning),
  ``classifier`` (:class:`Classifier`: ``from_params``, ``classify(images, boxes)``);
- ``annotate`` (drawing), ``task`` (the ``infer_torchvision_resnext`` task: ports only).

Importing the package does not import torch.
"""
from __future__ import annotations
