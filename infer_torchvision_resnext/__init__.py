"""ResNeXt image classification task (torchvision weights, OpenVINO/torch backends).

Submodules: ``models`` (building, weights), ``checkpoint`` (file format shared with
training), ``preprocess``, ``backends``, ``annotate`` and ``task`` (the
``infer_torchvision_resnext`` task). Importing the package does not import torch.
"""
from __future__ import annotations
