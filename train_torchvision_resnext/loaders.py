"""Transforms, datasets, samplers and DataLoaders for training and validation.

Augmentation randomness does not come from the worker processes' RNG: the
training sampler yields ``(index, sample_seed)`` pairs, the seed derived from
(seed, epoch, index). The same run is therefore identical with any number of
workers, and a resumed run sees exactly the augmentations it would have seen.

Workers decode with the engine's decoder (reduced-scale JPEG decode where the crop
allows it), run with one torch thread and ship uint8 NHWC batches; the training
process normalises them with the inference task's normaliser.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from torchvision.transforms import InterpolationMode, v2

from infer_torchvision_resnext.preprocess import preprocess
from infer_torchvision_resnext.recipe import Preprocessing
from train_torchvision_resnext.data import DatasetError, DatasetSplit, Sample, read_image
from workflow.core.errors import InputError
from workflow.core.runtime import usable_cpus

log = logging.getLogger(__name__)

SMALL_INPUT = 96  # below this side, crops keep most of the image (small images have little to spare)


class TrainTransform:
    """Random resized crop (+ horizontal flip) to ``prep.crop_size``: HxWx3 uint8 array -> HxWxC uint8 tensor.

    Geometry runs on a PIL image (Pillow's resampling, as the inference task's preprocessing does).
    Normalisation happens in the training process: workers ship uint8, 4x less data.

    Attributes:
        min_side: shorter side big JPEGs may be decoded down to: even the smallest crop the
            augmentation can take (``scale[0]`` of the area at the most extreme aspect ratio) then
            still holds at least ``crop_size`` pixels per side, so reduced decoding never upsamples.
    """

    def __init__(self, prep: Preprocessing, hflip: bool = True):
        small = prep.crop_size < SMALL_INPUT
        scale, ratio = ((0.6, 1.0), (0.85, 1.18)) if small else ((0.08, 1.0), (3 / 4, 4 / 3))
        steps = [
            v2.RandomResizedCrop(
                prep.crop_size, scale=scale, ratio=ratio, interpolation=InterpolationMode(prep.interpolation)
            )
        ]
        if hflip:
            steps.append(v2.RandomHorizontalFlip())
        self.pipeline = v2.Compose(steps + [v2.ToImage()])
        self.min_side = math.ceil(prep.crop_size / math.sqrt(scale[0] * min(ratio[0], 1 / ratio[1])))

    def __call__(self, image: np.ndarray) -> torch.Tensor:
        from PIL import Image

        return self.pipeline(Image.fromarray(image)).permute(1, 2, 0)


class EvalTransform:
    """The inference task's own preprocessing (shorter-side resize + centre crop): array -> HxWxC uint8
    tensor.

    Attributes:
        min_side: ``prep.resize_size``, the decode hint the inference task gives the engine, so that
            validation sees the very pixels inference would see for the same file.
    """

    def __init__(self, prep: Preprocessing):
        self.prep = prep
        self.min_side = prep.resize_size

    def __call__(self, image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(preprocess(image, self.prep))


def train_transform(prep: Preprocessing, hflip: bool = True) -> TrainTransform:
    """The augmentation of training images (see :class:`TrainTransform`)."""
    return TrainTransform(prep, hflip)


def eval_transform(prep: Preprocessing) -> EvalTransform:
    """The preprocessing of validation images (see :class:`EvalTransform`)."""
    return EvalTransform(prep)


class ImageFolderDataset(Dataset):
    """``(HxWx3 uint8 tensor, class index)`` pairs of a list of samples; keys are indices or ``(index,
    sample_seed)``.

    Images are decoded with :func:`~train_torchvision_resnext.data.read_image` at the transform's
    ``min_side``.
    """

    def __init__(self, samples: list[Sample], transform):
        self.samples = samples
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def decode(self, index: int) -> np.ndarray:
        """The decoded (upright, RGB) image of sample ``index``, before the transform.

        Raises:
            DatasetError: the file can no longer be decoded (it passed the check when the dataset was
            scanned).
        """
        path = self.samples[index][0]
        try:
            return read_image(path, getattr(self.transform, "min_side", None))
        except InputError as exc:
            raise DatasetError(
                f"image '{path}' cannot be read any more: {str(exc).removeprefix(f'{path}: ')}"
            ) from None

    def __getitem__(self, key):
        index, sample_seed = key if isinstance(key, tuple) else (key, None)
        image, label = self.decode(index), self.samples[index][1]
        if sample_seed is None:
            return self.transform(image), label
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sample_seed)
            return self.transform(image), label


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A well-mixed 63-bit seed for one sample's augmentation in one epoch."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(2, np.uint64)[0] >> np.uint64(1))


class SeededDistributedSampler(Sampler):
    """torch's DistributedSampler (shuffled per epoch from ``seed``), yielding ``(index, sample_seed)``."""

    def __init__(self, n: int, seed: int, rank: int = 0, world_size: int = 1):
        self.base = DistributedSampler(range(n), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.base.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for index in self.base:
            yield index, sample_seed(self.seed, self.epoch, index)

    def __len__(self) -> int:
        return len(self.base)


class ShardSampler(Sampler):
    """Every ``world_size``-th index from ``rank``, in order, without padding (evaluation: no duplicates)."""

    def __init__(self, n: int, rank: int = 0, world_size: int = 1):
        self.indices = list(range(rank, n, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _one_thread(_worker_id: int) -> None:
    torch.set_num_threads(1)  # workers decode and resize; the main process owns the cores for the model


def auto_num_workers(world_size: int = 1) -> int:
    """Half the usable cores (at least 1, at most 4) shared among the processes of this machine."""
    return max(1, min(4, usable_cpus() // 2 // max(1, world_size)))


def capped_num_workers(requested: int, world_size: int = 1) -> int:
    """``requested`` loader workers, cut down (with a warning) to this process's share of the usable cores."""
    share = max(1, usable_cpus() // max(1, world_size))
    if requested > share:
        log.warning(
            "num_workers %d is more than the %d usable core(s) of this process: using %d",
            requested,
            share,
            share,
        )
        return share
    return requested


@dataclass
class Loaders:
    train: DataLoader
    val: DataLoader
    train_sampler: SeededDistributedSampler

    def start_workers(self) -> None:
        """Fork the (persistent) worker processes now.

        Call before the model and optimizer exist: a fork shares the parent's memory copy-on-write, and
        every page the multi-threaded trainer later writes would be copied with a TLB shootdown on
        each core (measured: ~15% of a CPU training step at 224 px when forking after the model was
        built). Batches fetched ahead here are dropped when the first epoch starts its own pass.
        """
        for loader in (self.train, self.val):
            if loader.num_workers > 0:
                iter(loader)


def build_loaders(
    split: DatasetSplit,
    prep: Preprocessing,
    *,
    batch_size: int,
    num_workers: int,
    seed: int,
    hflip: bool = True,
    rank: int = 0,
    world_size: int = 1,
    pin_memory: bool = False,
) -> Loaders:
    """DataLoaders with worker processes (1 torch thread each, persistent) over ``split``.

    Raises:
        DatasetError: fewer than 2 training images per process (batch norm needs 2 per batch).
    """
    sampler = SeededDistributedSampler(len(split.train), seed, rank, world_size)
    per_rank = len(sampler)
    if per_rank < 2:
        raise DatasetError(
            f"dataset folder '{split.root}' has {len(split.train)} training images: "
            f"need at least 2 per process"
        )
    # drop a ragged last batch (a batch of 1 breaks batch norm), unless that would leave no batch at all
    drop_last = per_rank > batch_size
    common = dict(
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        worker_init_fn=_one_thread if num_workers > 0 else None,
        prefetch_factor=4 if num_workers > 0 else None,
    )
    train = DataLoader(
        ImageFolderDataset(split.train, train_transform(prep, hflip)),
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        **common,
    )
    val = DataLoader(
        ImageFolderDataset(split.val, eval_transform(prep)),
        batch_size=max(2 * batch_size, 16),
        sampler=ShardSampler(len(split.val), rank, world_size),
        **common,
    )
    return Loaders(train, val, sampler)
