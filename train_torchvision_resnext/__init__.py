"""ResNeXt training task (torchvision models, torchmetrics, DDP under torchrun).

Submodules: ``params`` and ``task`` (the ``train_torchvision_resnext`` task; no torch import),
``dataset_classification`` (Ikomia's dataset loader task: a folder, split into train/ and val/ on request),
``data`` (dataset layout, split, unreadable files), ``loaders`` (transforms, samplers,
DataLoaders), ``loop`` (epochs), ``optim`` (optimizer, schedule, freezing, early stopping),
``metrics`` / ``plots`` (files of a run), ``state`` (RNG, resume), ``model_init``, ``distributed``,
``precision`` (device and autocast dtype), ``rundir`` (the run folder and its
description files), ``export`` (ONNX), ``int8_export`` (an INT8 model of ``best.pt``),
``sample_data`` (real digits as an image folder) and ``trainer``
(:func:`~train_torchvision_resnext.trainer.train`, a whole run).
"""

from __future__ import annotations
