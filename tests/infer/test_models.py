"""Model building: names, weights API, preprocessing recipes, offline weights."""

from __future__ import annotations

import pytest
import torch

from infer_torchvision_resnext.models import (
    MODEL_NAMES,
    WeightsUnavailableError,
    create_model,
    ensure_weights_available,
    imagenet_categories,
    resolve_arch,
    resolve_weights,
    weight_choices,
    weights_cache_path,
    weights_file_name,
)
from infer_torchvision_resnext.recipe import Preprocessing
from workflow.core.errors import ParamError, WorkflowError


@pytest.mark.parametrize(
    "name, arch",
    [
        ("resnext50", "resnext50_32x4d"),
        ("resnext101", "resnext101_32x8d"),
        ("resnext101_64x4d", "resnext101_64x4d"),
        ("resnext50_32x4d", "resnext50_32x4d"),
    ],
)
def test_resolve_arch_accepts_short_and_full_names(name, arch):
    assert resolve_arch(name) == arch


def test_resolve_arch_unknown_suggests_closest():
    with pytest.raises(
        ParamError, match=r"unknown model_name 'resnxt50' \(did you mean 'resnext50'\?\); valid: resnext50"
    ):
        resolve_arch("resnxt50")


def test_resolve_weights_default_and_named():
    assert resolve_weights("resnext50").name == "IMAGENET1K_V2"
    assert resolve_weights("resnext50_32x4d", "IMAGENET1K_V1").name == "IMAGENET1K_V1"
    assert resolve_weights("resnext101_64x4d", "default").name == "IMAGENET1K_V1"
    assert weight_choices("resnext101_32x8d") == ["DEFAULT", "IMAGENET1K_V1", "IMAGENET1K_V2"]


def test_resolve_weights_unknown_names_choices():
    with pytest.raises(
        ParamError,
        match=r"pretrained_weights 'IMAGENET1K_V2' does not exist for resnext101_64x4d; "
        r"choices: DEFAULT, IMAGENET1K_V1$",
    ):
        resolve_weights("resnext101_64x4d", "IMAGENET1K_V2")


def test_preprocessing_follows_the_weights_recipe():
    v2 = Preprocessing.from_weights(resolve_weights("resnext50", "IMAGENET1K_V2"))
    v1 = Preprocessing.from_weights(resolve_weights("resnext50", "IMAGENET1K_V1"))
    assert (v2.crop_size, v2.resize_size, v2.interpolation) == (224, 232, "bilinear")
    assert (v1.crop_size, v1.resize_size) == (224, 256)
    assert v2.mean == pytest.approx((0.485, 0.456, 0.406)) and v2.std == pytest.approx((0.229, 0.224, 0.225))
    small = Preprocessing.from_weights(resolve_weights("resnext50"), crop_size=64)
    assert (small.crop_size, small.resize_size) == (64, round(232 * 64 / 224))
    assert Preprocessing.default(224).resize_size == 256
    assert Preprocessing.from_dict(v2.to_dict()) == v2


def test_imagenet_categories_come_from_weights_meta():
    cats = imagenet_categories()
    assert len(cats) == 1000 and cats[281] == "tabby"


def test_create_model_random_init_with_custom_head():
    model = create_model("resnext50", num_classes=3)
    assert model.fc.out_features == 3
    with torch.inference_mode():
        out = model.eval()(torch.rand(1, 3, 32, 32))
    assert out.shape == (1, 3)


def test_offline_weights_error_names_file_and_cache_folder(torch_home, no_network):
    weights = resolve_weights("resnext50")
    assert weights_cache_path(weights).parent == torch_home / "hub" / "checkpoints"
    with pytest.raises(WeightsUnavailableError) as info:
        ensure_weights_available(weights)
    msg = str(info.value)
    assert "\n" not in msg and isinstance(info.value, WorkflowError)
    assert "'resnext50_32x4d-1a0047aa.pth'" in msg and str(torch_home / "hub" / "checkpoints") in msg
    assert "model_weight_file" in msg and "URLError" in msg


def test_offline_env_fails_without_trying_a_download(torch_home, monkeypatch):
    monkeypatch.setenv("WORKFLOW_OFFLINE", "1")
    weights = resolve_weights("resnext101_64x4d")
    with pytest.raises(
        WeightsUnavailableError, match=r"'resnext101_64x4d-173b62eb.pth' .*WORKFLOW_OFFLINE is set"
    ):
        create_model("resnext101_64x4d", weights=weights)
    assert not weights_cache_path(weights).exists()


def test_cached_weights_are_used_offline(torch_home, no_network):
    weights = resolve_weights("resnext50", "IMAGENET1K_V1")
    torch.manual_seed(3)
    reference = create_model("resnext50")
    cache = weights_cache_path(weights)
    cache.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), cache)
    assert cache.name == weights_file_name(weights) == "resnext50_32x4d-7cdf4587.pth"
    ensure_weights_available(weights)  # no error: found in the cache
    model = create_model("resnext50", weights=weights)
    assert torch.equal(model.fc.weight, reference.fc.weight)
    assert torch.equal(model.conv1.weight, reference.conv1.weight)
    head3 = create_model("resnext50", num_classes=3, weights="IMAGENET1K_V1")
    assert head3.fc.out_features == 3 and torch.equal(head3.conv1.weight, reference.conv1.weight)


def test_cached_weights_needing_pickle_code_are_refused(torch_home, no_network):
    weights = resolve_weights("resnext50", "IMAGENET1K_V1")
    cache = weights_cache_path(weights)
    cache.parent.mkdir(parents=True)
    torch.save({"x": _Evil()}, cache)
    with pytest.raises(
        WeightsUnavailableError,
        match=r"cached weights file '.*resnext50_32x4d-7cdf4587.pth' cannot be loaded",
    ):
        create_model("resnext50", weights=weights)


class _Evil:
    def __reduce__(self):
        return (print, ("pickle code ran",))


def test_model_names_table_is_the_contract():
    assert MODEL_NAMES == {
        "resnext50": "resnext50_32x4d",
        "resnext101": "resnext101_32x8d",
        "resnext101_64x4d": "resnext101_64x4d",
    }


def test_the_recipe_module_imports_nothing_of_its_package():
    """Every layer may import ``recipe``: it must not import any of them back."""
    import ast
    from pathlib import Path

    import infer_torchvision_resnext.recipe as recipe

    tree = ast.parse(Path(recipe.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported and not any(name.startswith("infer_torchvision_resnext") for name in imported), imported
