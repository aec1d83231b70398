"""The dataset_classification task (Ikomia hub's dataset loader): pass-through, seeded split, hostile folders."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from train_torchvision_resnext import dataset_classification as dc
from train_torchvision_resnext.dataset_classification import DatasetClassification, DatasetFolderError
from workflow import ParamError, Workflow
from workflow.core.ports import Dataset


def _classes(root: Path, counts: dict[str, int]) -> Path:
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            (root / name / f"{i:02d}.png").write_bytes(b"png bytes " + bytes([i]))
    return root


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def run(**params) -> str:
    task = DatasetClassification({k: str(v) for k, v in params.items()})
    task.run()
    return task.get_output(0).get_path()


def test_ports_and_registration():
    from workflow.plugins.registry import default_registry

    assert default_registry().get("dataset_classification") is DatasetClassification
    assert DatasetClassification.inputs == ()
    assert [(p.name, p.type) for p in DatasetClassification.outputs] == [("dataset", Dataset)]


def test_without_split_the_folder_passes_through(tiny_digits, tmp_path):
    assert run(dataset_folder=tiny_digits) == str(tiny_digits)
    flat = _classes(tmp_path / "flat", {"a": 2, "b": 2})
    with pytest.raises(
        DatasetFolderError, match=r"dataset folder '.*flat' has no train and no val folder: set split_dataset"
    ):
        run(dataset_folder=flat)
    with pytest.raises(ParamError, match=r"parameter 'dataset_folder' is empty"):
        DatasetClassification().run()


def test_split_copies_int_n_ratio_per_class_and_repeats_with_the_seed(tmp_path):
    src = _classes(tmp_path / "src", {"cat": 7, "dog": 3, "empty": 0})
    before = _files(src)
    out = Path(
        run(
            dataset_folder=src,
            split_dataset=True,
            dataset_split_ratio=0.6,
            seed=3,
            output_folder=tmp_path / "o",
        )
    )
    assert out == tmp_path / "o" and _files(src) == before  # copied, not moved
    for name, n in (("cat", 7), ("dog", 3)):
        train, val = _files(out / "train" / name), _files(out / "val" / name)
        assert (len(train), len(val)) == (int(n * 0.6), n - int(n * 0.6))
        assert sorted(train + val) == _files(src / name)
    assert (out / "train" / "empty").is_dir() and not _files(out / "train" / "empty")
    again = Path(
        run(
            dataset_folder=src,
            split_dataset=True,
            dataset_split_ratio=0.6,
            seed=3,
            output_folder=tmp_path / "p",
        )
    )
    assert _files(again) == _files(out)  # same seed, same split
    # the same split into the same folder again (a notebook cell run twice): reused
    assert run(
        dataset_folder=src, split_dataset=True, dataset_split_ratio=0.6, seed=3, output_folder=out
    ) == str(out)
    with pytest.raises(DatasetFolderError, match=r"output folder '.*o' already holds train/ or val/ files"):
        run(dataset_folder=src, split_dataset=True, dataset_split_ratio=0.6, seed=4, output_folder=out)


def test_default_destination_is_a_new_folder_beside_the_dataset(tmp_path):
    src = _classes(tmp_path / "src", {"a": 2, "b": 2})
    first = Path(run(dataset_folder=src, split_dataset=True))
    second = Path(run(dataset_folder=src, split_dataset=True))
    assert first.parent == second.parent == tmp_path and first != second
    assert first.name.startswith("dataset_classification_") and _files(first) == _files(second)


def test_refusals_name_the_culprit(tmp_path, tiny_digits):
    src = _classes(tmp_path / "src", {"a": 2, "b": 2})
    with pytest.raises(
        ParamError, match=r"parameter 'output_folder': '.*src/split' is inside dataset_folder"
    ):
        run(dataset_folder=src, split_dataset=True, output_folder=src / "split")
    with pytest.raises(
        DatasetFolderError, match=r"already holds train/ and val/: set split_dataset to False"
    ):
        run(dataset_folder=tiny_digits, split_dataset=True, output_folder=tmp_path / "o")
    with pytest.raises(DatasetFolderError, match=r"'.*nowhere' is not a folder"):
        run(dataset_folder=tmp_path / "nowhere")
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "loose.png").write_bytes(b"x")
    with pytest.raises(DatasetFolderError, match=r"dataset folder '.*bare' has no class folders"):
        run(dataset_folder=bare, split_dataset=True)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs symlinks and FIFOs")
def test_symlinks_special_and_huge_files_are_skipped_with_a_warning(tmp_path, monkeypatch, caplog):
    src = _classes(tmp_path / "src", {"a": 3, "b": 3})
    os.symlink("/dev/zero", src / "a" / "zero.png")  # would copy forever
    os.mkfifo(src / "a" / "fifo.png")  # would block forever
    os.symlink(src / "b", src / "linked_class")  # a class folder that is a symlink
    (src / "b" / "big.png").write_bytes(b"x" * 2048)
    monkeypatch.setattr(dc, "MAX_IMAGE_BYTES", 1024)
    with caplog.at_level(logging.WARNING):
        out = Path(run(dataset_folder=src, split_dataset=True, output_folder=tmp_path / "o"))
    copied = sorted(f.split("/", 1)[1] for f in _files(out))  # <class>/<file>, train and val together
    assert copied == [f"{c}/0{i}.png" for c in "ab" for i in range(3)]
    assert sorted(p.name for p in (out / "train").iterdir()) == ["a", "b"]
    text = caplog.text
    for culprit in (
        "zero.png (symlink)",
        "fifo.png (not a regular file)",
        "linked_class (symlink)",
        "big.png (2048 bytes",
    ):
        assert culprit in text


def test_counts_are_bounded(tmp_path, monkeypatch):
    src = _classes(tmp_path / "src", {"a": 5, "b": 5, "c": 1})
    monkeypatch.setattr(dc, "MAX_CLASSES", 2)
    with pytest.raises(DatasetFolderError, match=r"'.*src' has more than 2 class folders"):
        run(dataset_folder=src, split_dataset=True, output_folder=tmp_path / "o")
    monkeypatch.setattr(dc, "MAX_CLASSES", 10)
    monkeypatch.setattr(dc, "MAX_ENTRIES", 6)
    with pytest.raises(DatasetFolderError, match=r"more than 6 entries"):
        run(dataset_folder=src, split_dataset=True, output_folder=tmp_path / "p")


def test_auto_connects_to_training_in_a_workflow(tmp_path, tiny_digits):
    """Ikomia hub README: the loader added without auto-connect, the training auto-connected to it."""
    wf = Workflow()
    loader = wf.add_task(name="dataset_classification", auto_connect=False)
    loader.set_parameters({"dataset_folder": str(tiny_digits)})
    train = wf.add_task(name="train_torchvision_resnext", auto_connect=True)
    assert any(
        (e.src, e.src_port, e.dst, e.dst_port) == (loader.id, "dataset", train.id, "dataset")
        for e in wf.edges
    )
