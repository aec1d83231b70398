"""Transforms (eval == the inference task's preprocessing), seeded augmentation, samplers, worker processes."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from infer_torchvision_resnext.checkpoint import Preprocessing
from infer_torchvision_resnext.preprocess import normalize_nchw, preprocess
from train_torchvision_resnext.data import DatasetError, DatasetSplit, load_dataset
from train_torchvision_resnext.loaders import (ImageFolderDataset, SeededDistributedSampler, ShardSampler, _one_thread,
                                               build_loaders, eval_transform, normalize, sample_seed, train_transform)


def _photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())  # 512x512 RGB photo


@pytest.mark.parametrize("prep", [Preprocessing.default(64), Preprocessing(48, 55, "bicubic", (0.5, 0.4, 0.3), (0.2, 0.3, 0.25))])
def test_eval_transform_matches_the_inference_preprocessing(prep):
    image = _photo().crop((0, 40, 512, 400))  # not square: exercises the shorter-side resize
    ours = eval_transform(prep)(image)
    # exact=True: the inference task's bit-exact mode (its default takes Pillow's reducing-gap shortcut
    # on >= 6x downscales, a few grey levels away)
    theirs = torch.from_numpy(preprocess(np.asarray(image), prep, exact=True)).permute(2, 0, 1)
    assert ours.dtype == torch.uint8 and ours.shape == theirs.shape == (3, prep.crop_size, prep.crop_size)
    diff = (ours.int() - theirs.int()).abs()
    assert diff.max() <= 1 and (diff > 0).float().mean() < 0.01  # Pillow both ways: at most rounding apart


def test_normalize_is_the_inference_formula():
    batch = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.3, 0.25)
    ours = normalize(batch, mean, std)
    theirs = normalize_nchw(batch.permute(0, 2, 3, 1), mean, std)
    assert ours.dtype == torch.float32 and ours.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(ours, theirs)
    assert torch.allclose(ours, (batch.float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1), atol=1e-5)


def test_train_transform_is_a_function_of_the_sample_seed():
    prep = Preprocessing.default(32)
    dataset = ImageFolderDataset([], train_transform(prep, hflip=True))
    image = _photo()

    def augmented(seed: int) -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return dataset.transform(image)

    a, b, c = augmented(5), augmented(5), augmented(6)
    assert a.shape == (3, 32, 32) and a.dtype == torch.uint8
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_dataset_items_with_a_seed_do_not_touch_the_global_rng(tiny_digits):
    split = load_dataset(tiny_digits)
    dataset = ImageFolderDataset(split.train, train_transform(Preprocessing.default(32)))
    before = torch.get_rng_state()
    first, label = dataset[(3, 1234)]
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(dataset[(3, 1234)][0], first) and label == split.train[3][1]


def test_sample_seeds_differ_by_epoch_and_index_and_repeat():
    seeds = {sample_seed(0, e, i) for e in range(3) for i in range(50)}
    assert len(seeds) == 150
    assert sample_seed(4, 2, 9) == sample_seed(4, 2, 9) != sample_seed(5, 2, 9)
    assert all(0 <= s < 2**63 for s in seeds)


def test_distributed_sampler_shards_a_seeded_permutation():
    ranks = [SeededDistributedSampler(10, seed=1, rank=r, world_size=2) for r in range(2)]
    for s in ranks:
        s.set_epoch(0)
    epoch0 = [[i for i, _ in s] for s in ranks]
    assert sorted(epoch0[0] + epoch0[1]) == list(range(10))
    assert epoch0 == [[i for i, _ in s] for s in ranks]  # same epoch, same order
    for s in ranks:
        s.set_epoch(1)
    assert [[i for i, _ in s] for s in ranks] != epoch0
    assert all(seed == sample_seed(1, 1, i) for i, seed in ranks[0])


def test_shard_sampler_covers_every_index_once():
    shards = [list(ShardSampler(7, r, 3)) for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(7))
    assert len(shards[0]) == 3 and len(shards[2]) == 2  # no padding duplicates


def test_worker_processes_give_the_same_batches_as_the_main_process(tiny_digits):
    split = load_dataset(tiny_digits)
    prep = Preprocessing.default(32)

    def batches(workers: int) -> list[torch.Tensor]:
        loaders = build_loaders(split, prep, batch_size=4, num_workers=workers, seed=3)
        loaders.train_sampler.set_epoch(2)
        return [x for x, _ in loaders.train]

    inline, workers = batches(0), batches(1)
    assert len(inline) == 3  # 12 images, batch 4
    assert all(torch.equal(a, b) for a, b in zip(inline, workers))


class _Threads(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, i):
        return torch.get_num_threads()


def test_workers_run_one_torch_thread():
    loader = torch.utils.data.DataLoader(_Threads(), num_workers=1, worker_init_fn=_one_thread)
    assert [int(t) for t in loader] == [1, 1]


def test_too_few_training_images(tmp_path):
    split = DatasetSplit(tmp_path, ["a", "b"], [(tmp_path / "x.png", 0)], [(tmp_path / "y.png", 1)], "train/val")
    with pytest.raises(DatasetError, match="has 1 training images: need at least 2 per process"):
        build_loaders(split, Preprocessing.default(32), batch_size=4, num_workers=0, seed=0)


def test_ragged_last_batch_is_dropped_but_never_every_batch(tiny_digits):
    split = load_dataset(tiny_digits)  # 12 training images
    prep = Preprocessing.default(32)
    assert len(build_loaders(split, prep, batch_size=5, num_workers=0, seed=0).train) == 2  # 5 + 5, 2 dropped
    assert len(build_loaders(split, prep, batch_size=64, num_workers=0, seed=0).train) == 1  # one batch of 12
    assert len(build_loaders(split, prep, batch_size=5, num_workers=0, seed=0).val) == 1  # val keeps every image
