"""Class 16b: a checkpoint's manifest and weights are checked for shape and values; refusals name file and
field."""

from __future__ import annotations

import math

import pytest

from tests.hostile.helpers import CHECKPOINT, MODEL, assert_bounded, checkpoint_payload, run_python

PREP = {
    "resize_size": 36,
    "crop_size": 32,
    "mean": [0.5, 0.5, 0.5],
    "std": [0.25, 0.25, 0.25],
    "interpolation": "bilinear",
}
BAD_MANIFESTS = {
    "crop_zero": ("crop_size", {"preprocessing": {**PREP, "crop_size": 0}}),
    "crop_negative": ("crop_size", {"preprocessing": {**PREP, "crop_size": -32}}),
    "resize_negative": ("resize_size", {"preprocessing": {**PREP, "resize_size": -5}}),
    "crop_huge": ("crop_size", {"preprocessing": {**PREP, "crop_size": 10**9, "resize_size": 10**9}}),
    "mean_short": ("mean", {"preprocessing": {**PREP, "mean": [0.5]}}),
    "std_long": ("std", {"preprocessing": {**PREP, "std": [0.2] * 4}}),
    "std_zero": ("std", {"preprocessing": {**PREP, "std": [0.2, 0.0, 0.2]}}),
    "std_nan": ("std", {"preprocessing": {**PREP, "std": [0.2, math.nan, 0.2]}}),
    "mean_inf": ("mean", {"preprocessing": {**PREP, "mean": [math.inf, 0.5, 0.5]}}),
    "mean_string": ("mean", {"preprocessing": {**PREP, "mean": "abc"}}),
    "class_names_string": ("class_names", {"class_names": "cd"}),
    "class_names_numbers": ("class_names", {"class_names": [1, 2]}),
    "class_names_nested": ("class_names", {"class_names": [["a"], ["b"]]}),
    "class_name_huge": ("class_names", {"class_names": ["a" * 100_000, "b"]}),
    "class_names_empty": ("class_names", {"class_names": []}),
    "arch_list": ("arch", {"arch": ["resnext50_32x4d"]}),
    "arch_unknown": ("arch", {"arch": "resnet9000"}),
    "preprocessing_list": ("preprocessing", {"preprocessing": [1, 2]}),
    "format_version_str": ("format_version", {"format_version": "one"}),
    "format_version_huge": ("format_version", {"format_version": 10**30}),
    "interpolation_bad": ("interpolation", {"preprocessing": {**PREP, "interpolation": ["x"]}}),
}


def _load(path, preload=CHECKPOINT):
    """``preload=MODEL`` where the checks get as far as building the architecture (on the meta device)."""
    return run_python(
        "from infer_torchvision_resnext.checkpoint.format import load_checkpoint, CheckpointError\n"
        f"try:\n    ck = load_checkpoint({str(path)!r})\n    print('LOADED')\n"
        "except CheckpointError as e:\n    print('REFUSED', str(e))\n",
        preload=preload,
    )


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_bad_manifest_is_refused_naming_file_and_field(tmp_path, case):
    import torch

    field, override = BAD_MANIFESTS[case]
    classes = 2
    path = tmp_path / f"{case}.pt"
    torch.save(checkpoint_payload(override, classes=classes), path)
    res = _load(path)
    assert_bounded(res)
    assert res.out.startswith("REFUSED"), str(res)
    assert str(path) in res.out and field in res.out and len(res.out) < 1000, str(res)


@pytest.mark.parametrize("case", ["nan_weight", "inf_bias", "non_string_key", "non_tensor_value"])
def test_bad_state_dict_is_refused_naming_file_and_key(tmp_path, case):
    import torch

    payload = checkpoint_payload()
    sd = payload["state_dict"]
    if case == "nan_weight":
        sd["fc.weight"][0, 0] = math.nan
        key = "fc.weight"
    elif case == "inf_bias":
        sd["fc.bias"][1] = math.inf
        key = "fc.bias"
    elif case == "non_string_key":
        sd[7] = torch.zeros(1)
        key = "7"
    else:
        sd["layer1.0.bn1.weight"] = "abc"
        key = "layer1.0.bn1.weight"
    path = tmp_path / f"{case}.pt"
    torch.save(payload, path)
    res = _load(path, preload=MODEL)
    assert_bounded(res)
    assert res.out.startswith("REFUSED") and str(path) in res.out and key in res.out, str(res)


@pytest.mark.parametrize("field,value", [("state_dict", [1, 2]), ("extra", [1]), ("manifest", "x")])
def test_wrong_top_level_shapes_are_refused(tmp_path, field, value):
    import torch

    payload = checkpoint_payload()
    payload[field] = value
    path = tmp_path / "top.pt"
    torch.save(payload, path)
    res = _load(
        path, preload=MODEL if field == "extra" else CHECKPOINT
    )  # valid weights: checked on the model first
    assert_bounded(res)
    assert res.out.startswith("REFUSED") and str(path) in res.out and field in res.out, str(res)


def test_good_manifest_loads(tmp_path):
    import torch

    path = tmp_path / "ok.pt"
    torch.save(checkpoint_payload(), path)
    res = _load(path, preload=MODEL)
    assert_bounded(res)
    assert res.out.startswith("LOADED"), str(res)
