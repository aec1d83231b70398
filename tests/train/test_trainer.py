"""Whole (tiny) training runs: run-folder files, checkpoints, reproducibility, resume, freezing, errors."""

from __future__ import annotations

import csv
import json
import shutil
import sys

import numpy as np
import pytest
import torch
import yaml

from infer_torchvision_resnext.checkpoint.format import build_model, load_checkpoint
from infer_torchvision_resnext.models import WeightsUnavailableError, create_model
from train_torchvision_resnext.params import TrainParams
from train_torchvision_resnext.sample_data import export_digits
from train_torchvision_resnext.state import seed_everything
from train_torchvision_resnext.trainer import train
from workflow import ParamError, Workflow
from workflow.core.errors import SetupError
from workflow.core.ports import Dataset

from .helpers import comparable, state_equal, tiny_params

ARCH = "resnext50_32x4d"


@pytest.fixture(scope="module")
def straight(tmp_path_factory, tiny_digits):
    """A straight 2-epoch run (cosine schedule with warmup, full network)."""
    return train(tiny_params(tmp_path_factory.mktemp("straight") / "run", tiny_digits, epochs=2))


def _csv_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_run_folder_holds_every_file(straight, tiny_digits):
    run = straight.run_dir
    for name in (
        "best.pt",
        "last.pt",
        "classes.txt",
        "resnext50.pth",
        "metrics.csv",
        "metrics.json",
        "curves.png",
        "confusion.png",
        "params.yaml",
        "split.json",
    ):
        assert (run / name).is_file(), name
    assert (
        not list(run.glob("*.tmp*")) and not list(run.glob(".*")) and not (run / "skipped_files.txt").exists()
    )
    rows = _csv_rows(run / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2] and len(straight.rows) == 2
    assert float(rows[1]["val_top1"]) == pytest.approx(straight.rows[1]["val_top1"])
    assert {"train_loss", "val_loss", "val_top1", "lr", "precision/0", "recall/2", "f1/1"} <= rows[0].keys()
    epochs = json.loads((run / "metrics.json").read_text())["epochs"]
    assert [sum(map(sum, e["confusion"])) for e in epochs] == [6, 6]  # every validation image, once
    for png in ("curves.png", "confusion.png"):
        assert (run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ikomia_files_beside_the_checkpoints(straight):
    """Ikomia's training writes classes.txt (one class per line) and <model_name>.pth (a plain state dict of
    the best weights): inference loads them as model_weight_file + class_file."""
    run = straight.run_dir
    assert (run / "classes.txt").read_text() == "0\n1\n2\n"
    plain = torch.load(run / "resnext50.pth", weights_only=True)
    assert straight.pth_path == run / "resnext50.pth"
    assert state_equal(plain, load_checkpoint(straight.best_path).state_dict) == []


def test_every_run_gets_its_own_folder_inside_output_folder(tmp_path, monkeypatch):
    """Runs started in the same second into one output folder never share a folder (mkdir claims the name)."""
    import time

    from train_torchvision_resnext import rundir

    monkeypatch.setattr(time, "strftime", lambda fmt, *a: "20250102-030405")
    params = TrainParams(output_folder=str(tmp_path / "out"))
    first = rundir.prepare_run_dir(params, "train")
    second = rundir.prepare_run_dir(params, "train")
    assert (first.name, second.name) == ("20250102-030405", "20250102-030405-2")
    assert first.parent == second.parent == (tmp_path / "out").resolve()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParamError, match=r"parameter 'output_folder': '.*file' is not a folder"):
        rundir.prepare_run_dir(TrainParams(output_folder=str(tmp_path / "file")), "train")

    class Resumed:  # what load_resume gives: the checkpoint's path
        path = first / "last.pt"

    for name in ("best.pt", "resnext50.pth"):
        (first / name).write_bytes(name.encode())
    assert rundir.prepare_run_dir(params, "train", resume=Resumed) == first  # inside output_folder: in place
    elsewhere = rundir.prepare_run_dir(
        TrainParams(output_folder=str(tmp_path / "new")), "train", resume=Resumed
    )
    assert elsewhere.parent == (tmp_path / "new").resolve()  # another output folder: a new run folder there
    assert sorted(p.name for p in elsewhere.iterdir()) == [
        "best.pt",
        "resnext50.pth",
    ]  # starting from the best


def test_epochs_and_the_run_folder_are_reported_off_a_terminal(monkeypatch, capsys):
    """Ikomia's training prints; ours logs at INFO and prints what no logging handler would show."""
    import logging

    from train_torchvision_resnext import trainer

    quiet = logging.getLogger("test_quiet_trainer")
    quiet.propagate = False
    monkeypatch.setattr(trainer, "log", quiet)
    trainer.say("epoch 1/1 ...")
    assert capsys.readouterr().out == "epoch 1/1 ...\n"
    handler = logging.StreamHandler()
    quiet.addHandler(handler)
    quiet.setLevel(logging.INFO)
    try:
        trainer.say("epoch 2/2 ...")
    finally:
        quiet.removeHandler(handler)
    assert capsys.readouterr().out == ""  # the handler shows it (on stderr): not printed twice


def test_params_yaml_repeats_the_run(straight, tiny_digits):
    text = (straight.run_dir / "params.yaml").read_text()
    assert "# precision:" in text and "# preprocessing:" in text  # what 'auto' resolved to
    saved = TrainParams(**yaml.safe_load(text))
    assert saved.epochs == 2 and saved.seed == 0 and saved.input_size == 32 and saved.num_workers == 0
    # repeating the run writes a new run folder beside this one
    assert saved.dataset_folder == str(tiny_digits.resolve()) and saved.output_folder == str(
        straight.run_dir.parent
    )
    assert f"# run_folder: {json.dumps(str(straight.run_dir))}" in text
    split = json.loads((straight.run_dir / "split.json").read_text())
    assert split["class_names"] == ["0", "1", "2"] and len(split["train"]) == 12 and len(split["val"]) == 6


def test_checkpoints_load_with_their_manifest(straight):
    best = load_checkpoint(straight.best_path)  # torch.load(weights_only=True) inside
    m = best.manifest
    assert (m.arch, m.class_names, m.created_by) == (ARCH, ["0", "1", "2"], "train_torchvision_resnext")
    assert (m.preprocessing.crop_size, m.preprocessing.resize_size) == (32, 37)
    assert m.metrics["epoch"] == straight.best_epoch and m.metrics["val_top1"] == pytest.approx(
        straight.best_top1
    )
    model = build_model(best)
    assert model.fc.out_features == 3
    last = load_checkpoint(straight.last_path)
    assert (
        last.extra["epoch"] == 2
        and {"optimizer", "scheduler", "rng", "history", "early_stopping"} <= last.extra.keys()
    )
    assert isinstance(last.extra["rng"]["numpy"][1], list)  # numpy's state as plain values
    raw = torch.load(straight.last_path, weights_only=True)  # loadable without pickle code
    assert raw["format"] == "workflow-resnext-checkpoint"


def test_same_seed_same_metrics_and_weights(straight, tmp_path, tiny_digits):
    again = train(tiny_params(tmp_path / "again", tiny_digits, epochs=2))
    assert comparable(again.rows) == comparable(straight.rows)
    assert (
        state_equal(
            load_checkpoint(again.last_path).state_dict, load_checkpoint(straight.last_path).state_dict
        )
        == []
    )


class Killed(Exception):
    pass


def test_resume_after_a_kill_continues_exactly(straight, tmp_path, tiny_digits):
    out = tmp_path / "runs"

    def kill_after_first_epoch(epoch, row):
        if epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        train(tiny_params(out, tiny_digits, epochs=2), on_epoch_end=kill_after_first_epoch)
    (run,) = out.iterdir()  # the killed run's own folder
    assert load_checkpoint(run / "last.pt").extra["epoch"] == 1
    resumed = train(tiny_params(out, tiny_digits, epochs=2, resume=str(run)))
    assert resumed.run_dir == run and list(out.iterdir()) == [run]  # continued in place
    assert comparable(resumed.rows) == comparable(straight.rows)
    assert (
        state_equal(
            load_checkpoint(resumed.last_path).state_dict, load_checkpoint(straight.last_path).state_dict
        )
        == []
    )
    assert len(_csv_rows(run / "metrics.csv")) == 2


def test_resume_a_finished_run_to_more_epochs(tmp_path, tiny_digits):
    constant = dict(scheduler="none", optimizer="adamw", learning_rate=0.001)
    one = train(tiny_params(tmp_path / "a", tiny_digits, epochs=1, **constant))
    more = train(tiny_params(tmp_path / "a", tiny_digits, epochs=2, resume=str(one.last_path), **constant))
    direct = train(tiny_params(tmp_path / "b", tiny_digits, epochs=2, **constant))
    assert comparable(more.rows) == comparable(direct.rows)
    assert (
        state_equal(load_checkpoint(more.last_path).state_dict, load_checkpoint(direct.last_path).state_dict)
        == []
    )


def test_resume_errors(straight, tmp_path, tiny_digits):
    with pytest.raises(ParamError, match="parameter 'resume' is '.*nowhere', which does not exist"):
        train(tiny_params(tmp_path / "r", tiny_digits, resume=str(tmp_path / "nowhere")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ParamError, match="'resume' is the folder '.*empty' but it holds no last.pt"):
        train(tiny_params(tmp_path / "r", tiny_digits, resume=str(tmp_path / "empty")))
    with pytest.raises(ParamError, match="cannot resume from '.*best.pt': it holds no training state"):
        train(tiny_params(tmp_path / "r", tiny_digits, resume=str(straight.best_path)))
    with pytest.raises(ParamError, match="it was trained at input_size 32, not 48"):
        train(tiny_params(tmp_path / "r", tiny_digits, resume=str(straight.run_dir), input_size=48))
    other = tmp_path / "other"
    export_digits(other, {"train": 2, "val": 1}, digits=(3, 4, 5))
    with pytest.raises(ParamError, match=r"its classes \(0, 1, 2\) differ from the dataset's \(3, 4, 5\)"):
        train(tiny_params(tmp_path / "r", other, resume=str(straight.run_dir)))


def test_feature_extract_trains_only_the_head(tmp_path, tiny_digits):
    result = train(tiny_params(tmp_path / "fe", tiny_digits, feature_extract=True, learning_rate=0.05))
    seed_everything(0)
    initial = create_model(ARCH, 3).state_dict()  # what the run started from (same seed, same order)
    trained = load_checkpoint(result.last_path).state_dict
    assert state_equal(initial, trained) == ["fc.weight", "fc.bias"]  # batch-norm statistics untouched too


def test_unreadable_images_are_skipped_and_recorded(tmp_path, tiny_digits):
    data = tmp_path / "data"
    shutil.copytree(tiny_digits, data)
    (data / "train" / "0" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    result = train(tiny_params(tmp_path / "run", data, feature_extract=True))
    listed = (result.run_dir / "skipped_files.txt").read_text()
    assert "broken.png" in listed and len(listed.splitlines()) == 1
    assert (
        sum(map(sum, json.loads((result.run_dir / "metrics.json").read_text())["epochs"][0]["confusion"]))
        == 6
    )


def test_model_weight_file_starts_from_a_checkpoint(straight, tmp_path, tiny_digits):
    result = train(
        tiny_params(
            tmp_path / "ft", tiny_digits, model_weight_file=str(straight.best_path), feature_extract=True
        )
    )
    start = load_checkpoint(straight.best_path).state_dict
    assert state_equal(start, load_checkpoint(result.last_path).state_dict) == ["fc.weight", "fc.bias"]


def test_early_stopping(tmp_path, tiny_digits):
    # a frozen backbone and a negligible learning rate: val top-1 cannot improve after epoch 1
    result = train(
        tiny_params(
            tmp_path / "es",
            tiny_digits,
            epochs=5,
            feature_extract=True,
            learning_rate=1e-9,
            early_stopping_patience=1,
            scheduler="none",
        )
    )
    assert result.stopped_early and len(result.rows) == 2 and result.best_epoch == 1


def test_offline_pretrained_weights_fail_before_training(tmp_path, tiny_digits, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_hub"))
    monkeypatch.setenv("WORKFLOW_OFFLINE", "1")
    with pytest.raises(
        WeightsUnavailableError,
        match=r"file 'resnext50_32x4d-[0-9a-f]+\.pth' is not in the torch hub cache "
        r"'.*empty_hub/hub/checkpoints'.*model_weight_file",
    ) as exc:
        train(tiny_params(tmp_path / "run", tiny_digits, use_pretrained=True))
    assert "\n" not in str(exc.value) and isinstance(exc.value, SetupError)
    assert str(exc.value).startswith("task 'train_torchvision_resnext': parameter 'use_pretrained': ")
    assert "set use_pretrained: false" in str(exc.value)
    assert "resnext50_32x4d-7cdf4587.pth" in str(exc.value)  # Ikomia's V1 file would do too
    assert not (tmp_path / "run").exists()  # no empty run folder left behind


def test_export_onnx_without_the_extra_fails_up_front(tmp_path, tiny_digits, monkeypatch):
    monkeypatch.setitem(
        sys.modules, "onnx", None
    )  # what an install without the extra looks like to find_spec
    with pytest.raises(
        ParamError, match=r"parameter 'export_onnx' needs the onnx package: pip install 'cv-workflow\[onnx\]'"
    ):
        train(tiny_params(tmp_path / "run", tiny_digits, export_onnx=True))
    assert not (tmp_path / "run").exists()


def test_export_onnx(tmp_path, tiny_digits):
    result = train(tiny_params(tmp_path / "run", tiny_digits, feature_extract=True, export_onnx=True))
    assert result.onnx_path == result.run_dir / "best.onnx" and result.onnx_path.stat().st_size > 1_000_000
    import onnxruntime  # the 'onnx' extra, installed by `make install`

    model = build_model(load_checkpoint(result.best_path)).eval()
    x = torch.randn(3, 3, 32, 32)
    session = onnxruntime.InferenceSession(str(result.onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        assert np.abs(got - model(x).numpy()).max() < 1e-3


def test_task_in_a_workflow_writes_under_the_working_directory(tmp_path, tiny_digits, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wf = Workflow(inputs={"dataset": Dataset})
    task = wf.add_task(
        name="train_torchvision_resnext",
        task_id="train",
        auto_connect=True,
        params={
            **tiny_params(tmp_path, tiny_digits, feature_extract=True).model_dump(),
            "output_folder": None,
            "dataset_folder": None,
        },
    )
    out = wf.run(dataset=tiny_digits)
    result = task.get_results()
    assert out["model"] == result.best_path and out["metrics"] == result.rows and len(out["metrics"]) == 1
    assert result.run_dir.parent == tmp_path / "runs" / "train_torchvision_resnext"
    assert result.best_path.is_file()


def test_pretrained_weights_from_the_hub_cache_and_their_preprocessing(tmp_path, tiny_digits, monkeypatch):
    """Offline stand-in for ImageNet weights: a state dict in the torch hub cache under the weights' own file
    name."""
    from infer_torchvision_resnext.models import resolve_weights, weights_cache_path

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub_home"))
    monkeypatch.setenv("WORKFLOW_OFFLINE", "1")
    weights = resolve_weights(ARCH, "IMAGENET1K_V2")
    cached = weights_cache_path(weights)
    cached.parent.mkdir(parents=True)
    torch.manual_seed(123)
    imagenet_like = create_model(ARCH, 1000).state_dict()
    torch.save(imagenet_like, cached)
    result = train(
        tiny_params(
            tmp_path / "run",
            tiny_digits,
            use_pretrained=True,
            pretrained_weights="IMAGENET1K_V2",
            feature_extract=True,
        )
    )
    best = load_checkpoint(result.best_path)
    prep = best.manifest.preprocessing
    assert (prep.crop_size, prep.resize_size, prep.interpolation) == (
        32,
        round(232 * 32 / 224),
        "bilinear",
    )  # V2's 232/224
    assert prep.mean == (0.485, 0.456, 0.406) and prep.std == (0.229, 0.224, 0.225)
    assert best.state_dict["fc.weight"].shape == (3, 2048)  # the 1000-class head was replaced
    backbone = {k: v for k, v in imagenet_like.items() if not k.startswith("fc.")}
    assert state_equal(backbone, {k: v for k, v in best.state_dict.items() if not k.startswith("fc.")}) == []


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_other_precisions_train(tmp_path, tiny_digits, precision):
    result = train(tiny_params(tmp_path / "run", tiny_digits, precision=precision, feature_extract=True))
    assert f'# precision: "{precision}"' in (result.run_dir / "params.yaml").read_text()
    row = result.rows[0]
    assert all(map(torch.isfinite, torch.tensor([row["train_loss"], row["val_loss"]])))


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_both_onnx_exporters_give_a_dynamic_batch(tmp_path, monkeypatch, exporter):
    """With onnxscript the dynamo exporter runs (dynamic_shapes), without it the TorchScript one
    (dynamic_axes)."""
    import importlib.util

    import onnxruntime

    from train_torchvision_resnext.export import export_onnx

    if exporter == "torchscript":
        real = importlib.util.find_spec
        monkeypatch.setattr(
            importlib.util, "find_spec", lambda name, *a: None if name == "onnxscript" else real(name, *a)
        )
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 5),
    )
    path = export_onnx(model, tmp_path / "m.onnx", 16, sample=torch.randn(1, 3, 16, 16))
    x = torch.randn(3, 3, 16, 16)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        assert got.shape == (3, 5) and np.abs(got - model(x).numpy()).max() < 1e-4
