"""The task's registration, ports, defaults, Ikomia aliases and parameter errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from train_torchvision_resnext.task import TrainTorchvisionResnext
from workflow import ParamError, Workflow
from workflow.core.ports import Dataset, Model, Table
from workflow.plugins.registry import Registry


def test_registered_by_entry_point_without_importing_torch():
    code = (
        "import sys; from workflow.plugins.registry import Registry; r = Registry(); "
        "cls = r.get('train_torchvision_resnext'); print(cls.__name__, 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["TrainTorchvisionResnext", "False"]
    assert Registry().get("train_torchvision_resnext") is TrainTorchvisionResnext


def test_ports():
    task = TrainTorchvisionResnext()
    assert task.name == "train_torchvision_resnext"
    assert [(p.name, p.type, p.optional) for p in task.inputs] == [("dataset", Dataset, True)]
    assert [(p.name, p.type) for p in task.outputs] == [("model", Model), ("metrics", Table)]


def test_defaults_follow_the_issue():
    task = TrainTorchvisionResnext()
    p = task.params.model_dump()
    expected = dict(
        model_name="resnext50",
        epochs=15,
        batch_size=8,
        learning_rate=0.001,
        momentum=0.9,
        weight_decay=1e-4,
        input_size=224,
        num_workers=0,
        use_pretrained=True,
        feature_extract=True,
        optimizer="sgd",
        scheduler="cosine",
        precision="auto",
        early_stopping_patience=0,
        resume=None,
        export_onnx=False,
        export_pth=True,
        output_folder=None,
    )
    assert {k: p[k] for k in expected} == expected
    # Ikomia's get_parameters(): its hub plugin's names and defaults, as strings
    ikomia = task.get_parameters()
    assert {
        k: ikomia[k]
        for k in (
            "batch_size",
            "epochs",
            "learning_rate",
            "momentum",
            "weight_decay",
            "input_size",
            "num_workers",
        )
    } == {
        "batch_size": "8",
        "epochs": "15",
        "learning_rate": "0.001",
        "momentum": "0.9",
        "weight_decay": "0.0001",
        "input_size": "224",
        "num_workers": "0",
    }
    assert (
        ikomia["use_pretrained"],
        ikomia["feature_extract"],
        ikomia["export_pth"],
        ikomia["export_onnx"],
    ) == (
        "True",
        "True",
        "True",
        "False",
    )
    assert ikomia["output_folder"] == "" and ikomia["model_name"] == "resnext50"


def test_ikomia_names_and_strings_are_accepted():
    task = TrainTorchvisionResnext(
        {
            "use_pretrained": "False",
            "lr": "0.05",
            "epochs": "3",
            "batch_size": "16",
            "input_size": "64",
            "feature_extract": "false",
            "export_pth": "True",
            "num_workers": "0",
            "output_folder": "runs/x",
            "model_name": "resnext101",
        }
    )
    p = task.params
    assert (p.use_pretrained, p.learning_rate, p.epochs, p.batch_size, p.input_size, p.feature_extract) == (
        False,
        0.05,
        3,
        16,
        64,
        False,
    )
    assert p.num_workers == 0 and p.output_folder == "runs/x" and p.model_name == "resnext101"
    task.set_parameters({"num_workers": "none", "resume": ""})
    assert task.params.num_workers is None and task.params.resume is None
    task.set_parameters({"num_workers": "0"})
    task.set_parameters({"num_workers": "auto", "pretrained": "true"})  # our names: automatic workers
    assert task.params.num_workers is None and task.params.use_pretrained is True
    task.set_parameters(
        {
            "optimizer": "AdamW",
            "precision": " BF16",
            "pretrained_weights": "imagenet1k_v1",
            "dataset_folder": Path("/data/x"),
        }
    )
    assert (task.params.optimizer, task.params.precision, task.params.pretrained_weights) == (
        "adamw",
        "bf16",
        "IMAGENET1K_V1",
    )
    assert task.params.dataset_folder == "/data/x"


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("optimizer", "adam", "parameter 'optimizer' got 'adam', expected one of 'sgd', 'adamw'"),
        ("scheduler", "linear", "parameter 'scheduler' got 'linear'"),
        ("precision", "int8", "parameter 'precision' got 'int8'"),
        ("epochs", 0, "parameter 'epochs' got 0"),
        ("val_split", 1.0, "parameter 'val_split' got 1.0"),
        ("label_smoothing", -0.1, "parameter 'label_smoothing' got -0.1"),
        ("model_name", "resnet50", "parameter 'model_name' got 'resnet50'"),
    ],
)
def test_bad_values_name_the_task_and_parameter(key, value, message):
    with pytest.raises(
        ParamError,
        match="task 'train_torchvision_resnext': " + message.replace("(", r"\(").replace(")", r"\)"),
    ):
        TrainTorchvisionResnext({key: value})


def test_unknown_key_suggests_the_closest():
    with pytest.raises(ParamError, match="unknown parameter 'learning_rat'.*did you mean 'learning_rate'"):
        TrainTorchvisionResnext({"learning_rat": 0.1})


def test_no_dataset_is_a_clear_error(tmp_path):
    wf = Workflow(inputs={})
    wf.add_task(name="train_torchvision_resnext", task_id="train", params={"output_folder": str(tmp_path)})
    with pytest.raises(
        ParamError, match="task 'train': no dataset: connect the 'dataset' input or set the 'dataset_folder'"
    ):
        wf.run()
