"""Transforms (eval == the inference task's preprocessing), seeded augmentation, samplers, worker
processes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from infer_torchvision_resnext.preprocess import preprocess
from infer_torchvision_resnext.recipe import Preprocessing
from train_torchvision_resnext.data import DatasetError, DatasetSplit, load_dataset
from train_torchvision_resnext.loaders import (
    ImageFolderDataset,
    SeededDistributedSampler,
    ShardSampler,
    _one_thread,
    build_loaders,
    eval_transform,
    sample_seed,
    train_transform,
)
from train_torchvision_resnext.loop import StepSetup


def _photo() -> np.ndarray:
    from skimage import data

    return data.astronaut()  # 512x512 RGB photo


@pytest.mark.parametrize(
    "prep",
    [
        Preprocessing.default(64),
        Preprocessing(48, 55, "bicubic", (0.5, 0.4, 0.3), (0.2, 0.3, 0.25)),
        Preprocessing(224, 256),
    ],
)
def test_eval_transform_is_the_inference_preprocessing(prep):
    image = np.ascontiguousarray(_photo()[40:400])  # not square: exercises the shorter-side resize
    ours = eval_transform(prep)(image)
    theirs = torch.from_numpy(preprocess(image, prep))  # what the inference task feeds its model
    assert ours.dtype == torch.uint8 and ours.shape == (prep.crop_size, prep.crop_size, 3)
    assert torch.equal(ours, theirs)
    # and Pillow's exact resize is at most a few grey levels away (its reducing-gap shortcut on >= 6x
    # downscales)
    exact = torch.from_numpy(preprocess(image, prep, exact=True))
    assert (ours.int() - exact.int()).abs().float().mean() < 1.0


def test_training_step_normalises_with_the_inference_formula():
    batch = torch.randint(0, 256, (2, 8, 8, 3), dtype=torch.uint8)  # NHWC, as the loaders ship it
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.3, 0.25)
    setup = StepSetup(
        torch.device("cpu"),
        None,
        torch.amp.GradScaler("cpu", enabled=False),
        torch.nn.CrossEntropyLoss(),
        mean,
        std,
    )
    x, y = setup.to_device(batch, torch.tensor([0, 1]))
    assert (
        x.shape == (2, 3, 8, 8)
        and x.dtype == torch.float32
        and x.is_contiguous(memory_format=torch.channels_last)
    )
    want = (batch.permute(0, 3, 1, 2).float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(
        std
    ).view(1, 3, 1, 1)
    assert torch.allclose(x, want, atol=1e-5) and y.tolist() == [0, 1]


def test_reduced_decode_never_leaves_a_crop_smaller_than_the_input():
    big, small = train_transform(Preprocessing.default(224)), train_transform(Preprocessing.default(32))
    # smallest crop side: sqrt(min area fraction * most extreme aspect ratio) of the shorter side
    assert big.min_side * (0.08 * 3 / 4) ** 0.5 >= 224 and big.min_side < 1.01 * 224 / (0.08 * 3 / 4) ** 0.5
    assert small.min_side * (0.6 * 0.85) ** 0.5 >= 32
    assert eval_transform(Preprocessing(224, 256)).min_side == 256  # the inference task's decode hint


def test_big_jpegs_decode_at_reduced_scale_in_the_dataset(tmp_path):
    photo = np.tile(_photo(), (4, 4, 1))  # 2048 x 2048
    Image.fromarray(photo).save(tmp_path / "big.jpg", quality=90)
    samples = [(tmp_path / "big.jpg", 0)]
    val = ImageFolderDataset(samples, eval_transform(Preprocessing(224, 256)))
    assert val.decode(0).shape == (256, 256, 3)  # 1/8 scale: shorter side still >= 256
    train = ImageFolderDataset(samples, train_transform(Preprocessing(224, 256)))
    assert train.decode(0).shape == (1024, 1024, 3)  # 1/2 scale: shorter side still >= 915
    assert train[(0, 5)][0].shape == (224, 224, 3)


def test_train_transform_is_a_function_of_the_sample_seed():
    prep = Preprocessing.default(32)
    dataset = ImageFolderDataset([], train_transform(prep, hflip=True))
    image = _photo()

    def augmented(seed: int) -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return dataset.transform(image)

    a, b, c = augmented(5), augmented(5), augmented(6)
    assert a.shape == (32, 32, 3) and a.dtype == torch.uint8
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
    split = DatasetSplit(
        tmp_path, ["a", "b"], [(tmp_path / "x.png", 0)], [(tmp_path / "y.png", 1)], "train/val"
    )
    with pytest.raises(DatasetError, match="has 1 training images: need at least 2 per process"):
        build_loaders(split, Preprocessing.default(32), batch_size=4, num_workers=0, seed=0)


def test_ragged_last_batch_is_dropped_but_never_every_batch(tiny_digits):
    split = load_dataset(tiny_digits)  # 12 training images
    prep = Preprocessing.default(32)
    assert len(build_loaders(split, prep, batch_size=5, num_workers=0, seed=0).train) == 2  # 5 + 5, 2 dropped
    assert len(build_loaders(split, prep, batch_size=64, num_workers=0, seed=0).train) == 1  # one batch of 12
    assert (
        len(build_loaders(split, prep, batch_size=5, num_workers=0, seed=0).val) == 1
    )  # val keeps every image
