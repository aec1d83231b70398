"""The checkpoint format: save/load round trip, refusals, plain state dicts, class files."""

from __future__ import annotations

import os

import pytest
import torch

from infer_torchvision_resnext.checkpoint.format import (
    FORMAT_VERSION,
    CheckpointError,
    Manifest,
    build_model,
    load_checkpoint,
    read_class_file,
    resolve_checkpoint_arch,
    save_checkpoint,
)
from infer_torchvision_resnext.models import WeightsUnavailableError, create_model
from infer_torchvision_resnext.recipe import Preprocessing
from workflow.core.errors import SetupError

CLASSES = ["cat", "coffee", "rocket"]


def _manifest(arch="resnext50_32x4d", classes=CLASSES, crop=32):
    return Manifest(
        FORMAT_VERSION, arch, list(classes), Preprocessing.default(crop), {"val_top1": 0.5, "epoch": 2}
    )


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    return create_model("resnext50", num_classes=len(CLASSES)).eval()


def test_round_trip_rebuilds_the_same_model(tmp_path, small_model):
    path = save_checkpoint(
        tmp_path / "sub" / "best.pt", small_model, _manifest(), extra={"epoch": 2, "rng": [1, 2]}
    )
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == ["best.pt"]  # no temporary file left
    ckpt = load_checkpoint(path)
    assert ckpt.manifest == _manifest() and ckpt.extra == {"epoch": 2, "rng": [1, 2]} and ckpt.path == path
    model = build_model(ckpt).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.inference_mode():
        assert torch.equal(model(x), small_model(x))


def test_saved_file_loads_with_weights_only(tmp_path, small_model):
    path = save_checkpoint(tmp_path / "a.pt", small_model.state_dict(), _manifest())
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "workflow-resnext-checkpoint" and raw["manifest"]["class_names"] == CLASSES
    assert raw["manifest"]["preprocessing"]["resize_size"] == round(32 * 256 / 224)


def test_ddp_module_prefix_is_stripped(tmp_path):
    state = {
        "module.fc.weight": torch.zeros(3, 2048),
        "module.fc.bias": torch.zeros(3),
    }  # shapes of the arch's head
    path = save_checkpoint(tmp_path / "ddp.pt", state, _manifest())
    assert set(load_checkpoint(path).state_dict) == {"fc.weight", "fc.bias"}


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"checkpoint '.*nope.pt' does not exist$"):
        load_checkpoint(tmp_path / "nope.pt")


def test_truncated_file_is_refused(tmp_path, small_model):
    path = save_checkpoint(tmp_path / "full.pt", small_model, _manifest())
    cut = tmp_path / "cut.pt"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        CheckpointError, match=r"checkpoint '.*cut.pt' is truncated or not a torch file"
    ) as info:
        load_checkpoint(cut)
    assert "\n" not in str(info.value)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match=r"'.*notes.pt' is truncated or not a torch file"):
        load_checkpoint(text)


class _Payload:
    """Loading this needs pickle to call print(): a stand-in for malicious code."""

    def __reduce__(self):
        return (print, ("PICKLE CODE RAN",))


def test_file_needing_pickle_code_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save(
        {
            "format": "workflow-resnext-checkpoint",
            "manifest": _manifest().to_dict(),
            "state_dict": {},
            "extra": {"x": _Payload()},
        },
        path,
    )
    with pytest.raises(
        CheckpointError, match=r"checkpoint '.*evil.pt' refused: it needs arbitrary pickle code to load"
    ):
        load_checkpoint(path)
    assert "PICKLE CODE RAN" not in capsys.readouterr().out


def test_missing_manifest(tmp_path):
    path = tmp_path / "nomanifest.pt"
    torch.save({"format": "workflow-resnext-checkpoint", "state_dict": {}}, path)
    with pytest.raises(CheckpointError, match=r"checkpoint '.*nomanifest.pt' has no manifest$"):
        load_checkpoint(path)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(
        CheckpointError, match=r"'.*other.pt' has no manifest and is not a plain ResNeXt state dict"
    ):
        load_checkpoint(other)


def test_newer_format_version_is_refused(tmp_path, small_model):
    manifest = _manifest()
    manifest.format_version = FORMAT_VERSION + 1
    path = save_checkpoint(tmp_path / "future.pt", {"fc.weight": torch.zeros(3, 8)}, manifest)
    with pytest.raises(
        CheckpointError,
        match=rf"format version {FORMAT_VERSION + 1}; this version reads up to {FORMAT_VERSION}",
    ):
        load_checkpoint(path)


def test_plain_state_dict_with_class_file(tmp_path, small_model):
    path = tmp_path / "plain.pth"
    torch.save({"model": small_model.state_dict()}, path)  # the 'model' wrapper many training scripts use
    class_file = tmp_path / "classes.txt"
    class_file.write_text("cat\n coffee \n\nrocket\n")
    names = read_class_file(class_file)
    assert names == CLASSES
    with pytest.raises(CheckpointError, match=r"plain state dict without a manifest: give its architecture"):
        load_checkpoint(path, class_names=names)
    ckpt = load_checkpoint(path, arch="resnext50", class_names=names)
    assert ckpt.manifest.arch == "resnext50_32x4d" and ckpt.manifest.class_names == CLASSES
    assert (ckpt.manifest.preprocessing.crop_size, ckpt.manifest.preprocessing.resize_size) == (224, 232)
    model = build_model(ckpt).eval()
    assert torch.equal(model.fc.weight, small_model.fc.weight)


def test_class_count_mismatch_names_both_numbers(tmp_path):
    path = tmp_path / "plain3.pth"
    torch.save({"fc.weight": torch.zeros(3, 2048), "fc.bias": torch.zeros(3)}, path)
    with pytest.raises(
        CheckpointError, match=r"'.*plain3.pth': 4 class names given but the model head \(fc\) has 3 outputs"
    ):
        load_checkpoint(path, arch="resnext50", class_names=["a", "b", "c", "d"])
    with pytest.raises(CheckpointError, match=r"plain state dict with 3 outputs: give a class file"):
        load_checkpoint(path, arch="resnext50")


def test_class_names_override_checked_on_our_format(tmp_path, small_model):
    path = save_checkpoint(tmp_path / "ours.pt", small_model, _manifest())
    assert load_checkpoint(path, class_names=["x", "y", "z"]).manifest.class_names == ["x", "y", "z"]
    with pytest.raises(CheckpointError, match=r"2 class names given but the model head \(fc\) has 3 outputs"):
        load_checkpoint(path, class_names=["x", "y"])


def test_wrong_architecture_names_file_and_arch(tmp_path):
    from torchvision.models import resnet18

    path = save_checkpoint(tmp_path / "resnet.pt", resnet18(num_classes=3), _manifest())
    with pytest.raises(
        CheckpointError,
        match=r"checkpoint '.*resnet.pt' does not fit architecture resnext50_32x4d: .*missing keys.*shape mismatches",
    ) as info:
        build_model(load_checkpoint(path))
    assert "\n" not in str(info.value)


def test_class_file_errors(tmp_path):
    with pytest.raises(CheckpointError, match=r"class file '.*missing.txt' cannot be read"):
        read_class_file(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(CheckpointError, match=r"class file '.*empty.txt' has no class names"):
        read_class_file(empty)


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "keep.pt"
    target.write_bytes(b"old")

    def boom(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(target, {"fc.weight": torch.zeros(1, 1)}, _manifest())
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["keep.pt"]


def test_plain_state_dict_named_like_torchvision_weights_gets_their_preprocessing(tmp_path):
    path = tmp_path / "resnext50_32x4d-7cdf4587.pth"  # the IMAGENET1K_V1 download: resize 256, not V2's 232
    torch.save({"fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}, path)
    ckpt = load_checkpoint(path, arch="resnext50")
    assert ckpt.manifest.preprocessing.resize_size == 256 and ckpt.manifest.class_names[281] == "tabby"
    other = tmp_path / "mine.pth"
    other.write_bytes(path.read_bytes())
    assert load_checkpoint(other, arch="resnext50").manifest.preprocessing.resize_size == 232


def test_random_bytes_are_not_a_checkpoint_and_not_called_pickle_code(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(CheckpointError, match=r"checkpoint '.*noise.pt' is truncated or not a torch file"):
        load_checkpoint(path)


def test_manifest_with_a_wrong_class_count_names_both_numbers(tmp_path):
    state = {"fc.weight": torch.zeros(3, 2048), "fc.bias": torch.zeros(3)}
    path = save_checkpoint(tmp_path / "five.pt", state, _manifest(classes=list("abcde")))
    with pytest.raises(
        CheckpointError, match=r"'.*five.pt': 5 class names given but the model head \(fc\) has 3 outputs"
    ):
        load_checkpoint(path)


def test_setup_failures_are_setup_errors():
    assert issubclass(CheckpointError, SetupError) and issubclass(WeightsUnavailableError, SetupError)


def test_manifest_decides_the_architecture_when_model_name_is_a_default(caplog):
    with caplog.at_level("INFO", logger="infer_torchvision_resnext.checkpoint.format"):
        arch = resolve_checkpoint_arch(
            "resnext101_32x8d", "resnext50", False, task_id="clf", path="m/best.pt"
        )
    assert arch == "resnext101_32x8d"
    assert "clf" in caplog.text and "m/best.pt" in caplog.text and "resnext101_32x8d" in caplog.text


def test_same_architecture_under_its_short_name_is_accepted():
    assert (
        resolve_checkpoint_arch("resnext50_32x4d", "resnext50", True, task_id="t", path="a.pt")
        == "resnext50_32x4d"
    )


def test_explicit_model_name_of_another_architecture_is_a_setup_error():
    with pytest.raises(
        SetupError,
        match=r"^task 'clf': parameter 'model_name' is 'resnext101' \(resnext101_32x8d\) "
        r"but checkpoint 'm/best.pt' holds a resnext50_32x4d",
    ) as info:
        resolve_checkpoint_arch("resnext50_32x4d", "resnext101", True, task_id="clf", path="m/best.pt")
    assert "\n" not in str(info.value)
