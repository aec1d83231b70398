"""Transforms, datasets, samplers and DataLoaders for training and validation.

Augmentation randomness does not come from the worker processes' RNG: the
training sampler yields ``(index, sample_seed)`` pairs, the seed derived from
(seed, epoch, index). The same run is therefore identical with any number of
workers, and a resumed run sees exactly the augmentations it would have seen.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from torchvision.transforms import InterpolationMode, v2

from infer_torchvision_resnext.checkpoint import Preprocessing
from train_torchvision_resnext.data import DatasetError, DatasetSplit, Sample, read_rgb

SMALL_INPUT = 96  # below this side, crops keep most of the image (small images have little to spare)


def train_transform(prep: Preprocessing, hflip: bool = True) -> v2.Compose:
    """Random resized crop (+ horizontal flip) to ``prep.crop_size``, as a uint8 CHW tensor.

    Geometry runs on the PIL image (Pillow's resampling, as the inference task's preprocessing does).
    Normalisation happens in the training process (:func:`normalize`): workers ship uint8, 4x less data.
    """
    small = prep.crop_size < SMALL_INPUT
    scale, ratio = ((0.6, 1.0), (0.85, 1.18)) if small else ((0.08, 1.0), (3 / 4, 4 / 3))
    steps = [v2.RandomResizedCrop(prep.crop_size, scale=scale, ratio=ratio, interpolation=InterpolationMode(prep.interpolation))]
    if hflip:
        steps.append(v2.RandomHorizontalFlip())
    return v2.Compose(steps + [v2.ToImage()])


def eval_transform(prep: Preprocessing) -> v2.Compose:
    """Resize the shorter side and center crop (with Pillow): the manifest's preprocessing, as a uint8 CHW tensor."""
    return v2.Compose([v2.Resize(prep.resize_size, interpolation=InterpolationMode(prep.interpolation)),
                       v2.CenterCrop(prep.crop_size), v2.ToImage()])


def normalize(batch: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...],
              memory_format: torch.memory_format = torch.channels_last) -> torch.Tensor:
    """uint8 NCHW batch -> float32 ``(x - 255 mean) / (255 std)``, the inference task's formula."""
    m = torch.tensor([v * 255.0 for v in mean], device=batch.device).view(1, 3, 1, 1)
    s = torch.tensor([v * 255.0 for v in std], device=batch.device).view(1, 3, 1, 1)
    return ((batch.to(memory_format=memory_format).float() - m) / s).contiguous(memory_format=memory_format)


class ImageFolderDataset(Dataset):
    """``(image tensor, class index)`` pairs of a list of samples; keys are indices or ``(index, sample_seed)``."""

    def __init__(self, samples: list[Sample], transform):
        self.samples = samples
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key):
        index, sample_seed = key if isinstance(key, tuple) else (key, None)
        path, label = self.samples[index]
        try:
            image = read_rgb(path)
        except Exception as exc:
            raise DatasetError(f"image '{path}' cannot be read any more: {type(exc).__name__}: {exc}") from None
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
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 2
    return max(1, min(4, cores // 2 // max(1, world_size)))


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


def build_loaders(split: DatasetSplit, prep: Preprocessing, *, batch_size: int, num_workers: int, seed: int,
                  hflip: bool = True, rank: int = 0, world_size: int = 1, pin_memory: bool = False) -> Loaders:
    """DataLoaders with worker processes (1 torch thread each, persistent) over ``split``.

    Raises:
        DatasetError: fewer than 2 training images per process (batch norm needs 2 per batch).
    """
    sampler = SeededDistributedSampler(len(split.train), seed, rank, world_size)
    per_rank = len(sampler)
    if per_rank < 2:
        raise DatasetError(f"dataset folder '{split.root}' has {len(split.train)} training images: "
                           f"need at least 2 per process")
    # drop a ragged last batch (a batch of 1 breaks batch norm), unless that would leave no batch at all
    drop_last = per_rank > batch_size
    common = dict(num_workers=num_workers, pin_memory=pin_memory, persistent_workers=num_workers > 0,
                  worker_init_fn=_one_thread if num_workers > 0 else None, prefetch_factor=4 if num_workers > 0 else None)
    train = DataLoader(ImageFolderDataset(split.train, train_transform(prep, hflip)), batch_size=batch_size,
                       sampler=sampler, drop_last=drop_last, **common)
    val = DataLoader(ImageFolderDataset(split.val, eval_transform(prep)), batch_size=max(2 * batch_size, 16),
                     sampler=ShardSampler(len(split.val), rank, world_size), **common)
    return Loaders(train, val, sampler)
