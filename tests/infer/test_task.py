"""The infer_torchvision_resnext task: parameters, model reuse, results, ROI mode, image kinds, workflows."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from infer_torchvision_resnext.checkpoint.format import CheckpointError
from infer_torchvision_resnext.models import WeightsUnavailableError, imagenet_categories
from infer_torchvision_resnext.preprocess import as_rgb_image
from infer_torchvision_resnext.task import InferTorchvisionResnext
from workflow import Workflow
from workflow.core.errors import ParamError, PortError, SetupError
from workflow.core.ports import Classification, Model
from workflow.core.results import ClassificationResult, ClassScore, DetectionsResult

FAST = {"backend": "torch", "precision": "fp32", "device": "cpu"}


def make_task(path, **params) -> InferTorchvisionResnext:
    return InferTorchvisionResnext({"model_weight_file": str(path), **FAST, **params})


def classify(task, image, **inputs):
    task.clear()
    task.set_input("image", image)
    for port, value in inputs.items():
        task.set_input(port, value)
    task.run()
    return task.get_results()


# -- parameters -------------------------------------------------------------------
def test_defaults_follow_ikomia_names():
    task = InferTorchvisionResnext()
    typed = {
        "model_name": "resnext50",
        "input_size": 224,
        "pretrained_weights": "DEFAULT",
        "model_weight_file": None,
        "class_file": None,
        "top_k": 5,
        "device": "auto",
        "precision": "auto",
        "backend": "auto",
        "batch_size": 8,
        "dataset": None,
        "annotated_min_side": 0,
        "calibration_folder": None,
    }
    assert task.params.model_dump() == typed
    # Ikomia's get_parameters(): strings, "" for none
    assert task.get_parameters() == {k: "" if v is None else str(v) for k, v in typed.items()}


def test_strings_are_coerced_and_aliases_accepted():
    task = InferTorchvisionResnext()
    task.set_parameters(
        {
            "input_size": "64",
            "top_k": "3",
            "batch_size": "4",
            "model_name": "resnext101_32x8d",
            "pretrained_weights": "imagenet1k_v1",
            "device": "CPU",
            "precision": "BF16",
            "backend": "Torch",
            "model_path": "/models/best.pt",
            "class_file": "none",
        }
    )
    p = task.params.model_dump()
    assert (p["input_size"], p["top_k"], p["batch_size"], p["model_name"]) == (64, 3, 4, "resnext101")
    assert (p["pretrained_weights"], p["device"], p["precision"], p["backend"]) == (
        "IMAGENET1K_V1",
        "cpu",
        "bf16",
        "torch",
    )
    assert p["model_weight_file"] == "/models/best.pt" and p["class_file"] is None


@pytest.mark.parametrize(
    "values, message",
    [
        ({"top_k": "0"}, r"parameter 'top_k' got '0', expected int \(>= 1\)"),
        (
            {"model_name": "resnxt50"},
            r"parameter 'model_name' got 'resnxt50', expected one of 'resnext50', 'resnext101'",
        ),
        ({"precision": "int4"}, r"parameter 'precision' got 'int4'"),
        ({"modle_name": "resnext50"}, r"unknown parameter 'modle_name' \(did you mean 'model_name'\?\)"),
        ({"input_size": "big"}, r"parameter 'input_size' got 'big'"),
    ],
)
def test_bad_parameters_name_task_field_and_value(values, message):
    with pytest.raises(ParamError, match=rf"task 'infer_torchvision_resnext': {message}"):
        InferTorchvisionResnext().set_parameters(values)


def test_weights_that_do_not_exist_for_the_model_are_refused_at_load(torch_home):
    task = InferTorchvisionResnext(
        {"model_name": "resnext101_64x4d", "pretrained_weights": "IMAGENET1K_V2", **FAST}
    )
    with pytest.raises(
        SetupError,
        match=r"^task 'infer_torchvision_resnext': parameter 'pretrained_weights': "
        r"pretrained_weights 'IMAGENET1K_V2' does not exist for resnext101_64x4d; "
        r"choices: DEFAULT, IMAGENET1K_V1",
    ) as info:
        task.load_model()
    assert isinstance(info.value, ParamError)


def test_registered_through_the_entry_point():
    from workflow.plugins.registry import default_registry

    assert default_registry().get("infer_torchvision_resnext") is InferTorchvisionResnext


# -- results ----------------------------------------------------------------------
def test_results_are_top_k_floats_best_first(probe, photos):
    path = probe[0]
    task = make_task(path, top_k=3)
    results = classify(task, photos["chelsea"])
    assert len(results) == 3 and all(isinstance(c, ClassScore) for c in results)
    assert all(type(c.score) is float and type(c.index) is int for c in results)
    scores = [c.score for c in results]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0 + 1e-6
    names = task.class_names
    assert all(names[c.index] == c.label for c in results)
    task.set_parameters({"top_k": 50})  # more than the 8 classes: all of them, still ordered
    everything = classify(task, photos["chelsea"])
    assert len(everything) == 8 and sum(c.score for c in everything) == pytest.approx(1.0, abs=1e-5)
    assert [c.label for c in everything[:3]] == [c.label for c in results]


def test_the_probe_recognises_whole_photos(probe, photos):
    task = make_task(probe[0], top_k=1)
    hits = [classify(task, img)[0].label == name for name, img in photos.items()]
    assert sum(hits) >= 7, hits


def test_classification_port_serialises_to_json(probe, photos):
    task = make_task(probe[0], top_k=2)
    classify(task, photos["coffee"])
    out = task.get_output("classification").data
    assert isinstance(out, ClassificationResult)
    data = json.loads(json.dumps(Classification.to_jsonable(out)))
    assert [c["label"] for c in data["classes"]] == [c.label for c in out]
    assert data["classes"][0]["score"] == pytest.approx(out.top.score) and isinstance(
        data["classes"][0]["index"], int
    )


def test_annotated_image_leaves_the_input_alone(probe, photos):
    task = make_task(probe[0])
    image = photos["rocket"].copy()
    classify(task, image)
    drawn = task.get_image_with_graphics()
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    assert np.array_equal(image, photos["rocket"]) and not np.array_equal(drawn, image)
    assert np.array_equal(drawn[-50:], image[-50:])  # the label sits in the top-left corner only


def test_batch_run_matches_single_runs(probe, photos):
    task = make_task(probe[0], batch_size=3)
    images = [photos[n] for n in ("chelsea", "coffee", "rocket", "camera")]
    outs = task.run_batch([{"image": im} for im in images])
    assert len(outs) == 4 and set(outs[0]) == {"original", "image", "classification"}
    assert all(out["original"] is im for out, im in zip(outs, images))  # forwarded as it came, full size
    for im, out in zip(images, outs):
        single = classify(task, im)
        assert [c.index for c in out["classification"]] == [c.index for c in single]
        assert out["classification"].top.score == pytest.approx(single[0].score, rel=1e-4)
    assert task.get_results()[0].index == outs[-1]["classification"].top.index  # last item's outputs kept


# -- model lifecycle ----------------------------------------------------------------
def test_batch_size_change_keeps_the_classifier(probe, photos):
    task = make_task(probe[0], batch_size=4)
    first = task.load_model()
    task.set_parameters({"batch_size": 2})
    assert task.load_model() is first and first.backend.chunk_size(10) == 2
    assert classify(task, photos["coffee"])[0].label == "coffee"


def test_unchanged_params_reuse_the_model_and_changes_rebuild_it(probe, photos, tmp_path):
    import shutil

    path = probe[0]
    task = make_task(path)
    first = task.load_model()
    task.set_parameters({"top_k": 2, "batch_size": 2, "input_size": 224})  # no model-affecting change
    assert task.load_model() is first
    task.set_parameters({"input_size": "48"})
    second = task.load_model()
    assert second is not first and second.preprocessing.crop_size == 48
    assert second.preprocessing.resize_size == round(73 * 48 / 64)
    task.set_parameters({"input_size": 48})
    assert task.load_model() is second
    copy = tmp_path / "copy.pt"
    shutil.copy(path, copy)
    task.set_parameters({"model_path": str(copy)})
    third = task.load_model()
    assert third is not second and str(copy) in third.description
    os.utime(
        copy, ns=(os.stat(copy).st_atime_ns, os.stat(copy).st_mtime_ns + 10**9)
    )  # training rewrote the file
    assert task.load_model() is not third


def test_model_port_overrides_the_weight_file(probe, photos, tmp_path):
    wf = Workflow(inputs={"image": "image", "model": "model"})
    task = wf.add_task(
        name="infer_torchvision_resnext",
        auto_connect=True,
        params={"model_weight_file": str(tmp_path / "missing.pt"), **FAST, "top_k": 1},
    )
    assert {(e.src_port, e.dst_port) for e in wf.edges} == {("image", "image"), ("model", "model")}
    out = wf.run(image=photos["chelsea"], model=probe[0])
    assert out["classification"].top.label == "chelsea" and task.get_results()[0].label == "chelsea"
    assert Model.check(probe[0]) == probe[0]


def test_plain_state_dict_with_class_file(probe, photos, tmp_path):
    from infer_torchvision_resnext.checkpoint.format import load_checkpoint

    ckpt = load_checkpoint(probe[0])
    plain = tmp_path / "plain.pth"
    torch.save(ckpt.state_dict, plain)
    classes = tmp_path / "classes.txt"
    classes.write_text("\n".join(n.upper() for n in ckpt.manifest.class_names) + "\n")
    task = make_task(plain, class_file=str(classes), input_size=64, top_k=1)
    assert classify(task, photos["coffee"])[0].label == "COFFEE"
    classes.write_text("\n".join(ckpt.manifest.class_names[:7]))  # same path, new content: noticed
    os.utime(classes, ns=(os.stat(classes).st_atime_ns, os.stat(classes).st_mtime_ns + 10**9))
    with pytest.raises(
        CheckpointError,
        match=r"^task 'infer_torchvision_resnext': parameter 'model_weight_file': "
        r"checkpoint '.*plain.pth': 7 class names given but the model head \(fc\) "
        r"has 8 outputs$",
    ):
        task.load_model()


def test_offline_pretrained_weights_fail_at_once_with_one_line(torch_home, no_network, photos):
    task = InferTorchvisionResnext(FAST)
    with pytest.raises(WeightsUnavailableError) as info:
        classify(task, photos["chelsea"])
    msg = str(info.value)
    assert msg.startswith("task 'infer_torchvision_resnext': parameter 'pretrained_weights': ")
    assert "\n" not in msg and "'resnext50_32x4d-1a0047aa.pth'" in msg
    assert str(torch_home / "hub" / "checkpoints") in msg and "model_weight_file" in msg


def test_cached_pretrained_weights_give_imagenet_labels(torch_home, no_network, photos):
    from infer_torchvision_resnext.models import create_model, resolve_weights, weights_cache_path

    cache = weights_cache_path(resolve_weights("resnext50"))
    cache.parent.mkdir(parents=True)
    torch.manual_seed(1)
    torch.save(create_model("resnext50").state_dict(), cache)
    task = InferTorchvisionResnext({**FAST, "input_size": 32, "top_k": 3})
    task.prepare({})
    assert task.load_model().preprocessing.resize_size == round(232 * 32 / 224)
    results = classify(task, photos["coffee"])
    categories = imagenet_categories()
    assert len(results) == 3 and all(categories[c.index] == c.label for c in results)


# -- hints ----------------------------------------------------------------------------
def test_hints_follow_the_prepared_preprocessing(probe, tmp_path):
    """The decode hint (used only by folder runs that save no image: ports otherwise carry full-size
    images) is the prepared model's resize size."""
    task = make_task(tmp_path / "missing.pt", batch_size=6)
    assert task.batch_hint() == 6
    assert task.decode_hint("image") is None  # nothing prepared: no model is loaded (nor error raised)
    task.prepare({"model": probe[0]})  # the model port's value, the same for every item of the run
    assert task.decode_hint("image") == 73 and task.decode_hint("detections") is None
    task.set_parameters({"input_size": 48})
    assert task.decode_hint("image") is None
    task.prepare({"model": probe[0]})
    assert task.decode_hint("image") == round(73 * 48 / 64)


def test_prepare_fails_before_any_image_with_the_task_and_parameter(tmp_path):
    task = InferTorchvisionResnext(
        {"model_weight_file": str(tmp_path / "missing.pt"), **FAST}, task_id="classify"
    )
    with pytest.raises(
        CheckpointError,
        match=r"^task 'classify': parameter 'model_weight_file': checkpoint '.*missing.pt' "
        r"does not exist$",
    ):
        task.prepare({})
    bad = tmp_path / "classes.txt"
    task = InferTorchvisionResnext({"class_file": str(bad), **FAST}, task_id="classify")
    with pytest.raises(
        CheckpointError,
        match=r"^task 'classify': parameter 'class_file': class file '.*classes.txt' cannot be read",
    ):
        task.prepare({})


def test_model_name_set_explicitly_must_match_the_checkpoint(probe, photos, caplog):
    """The manifest decides the architecture; an explicit model_name naming another one is a setup error."""
    task = make_task(probe[0], model_name="resnext101")
    with pytest.raises(
        SetupError,
        match=r"^task 'infer_torchvision_resnext': parameter 'model_name' is 'resnext101' "
        r"\(resnext101_32x8d\) but checkpoint '.*probe.pt' holds a resnext50_32x4d",
    ):
        classify(task, photos["chelsea"])
    with caplog.at_level("INFO", logger="infer_torchvision_resnext.checkpoint.format"):
        default = make_task(probe[0], top_k=1)  # model_name left at its default: follows the manifest
        assert classify(default, photos["chelsea"])[0].label == "chelsea"
    assert "model_name (default resnext50) follows it" not in caplog.text  # same architecture: nothing to say
    explicit_same = make_task(probe[0], model_name="resnext50_32x4d", top_k=1)
    assert classify(explicit_same, photos["rocket"])[0].label == "rocket"


# -- ROI mode ---------------------------------------------------------------------------
def test_roi_mode_classifies_each_box(probe, photos):
    chelsea, coffee = photos["chelsea"], photos["coffee"]
    canvas = np.zeros((400, 1100, 3), np.uint8)
    canvas[:300, :451] = chelsea
    canvas[:400, 480:1080] = coffee
    boxes = [(0, 0, 451, 300), (480, 0, 1080, 400), (2000, 10, 2100, 50), (1080, 400, 480, 0)]
    dets = DetectionsResult(
        boxes=list(boxes), labels=["animal", "thing", "outside", "reversed"], scores=[0.9, 0.8, 0.7, 0.6]
    )
    task = make_task(probe[0], top_k=2)
    result = classify(task, canvas, detections=dets)
    assert isinstance(result, DetectionsResult) and result is not dets
    assert task.get_output("original").data is canvas  # Ikomia's output 0: the input, unchanged
    assert len(result.classifications) == 4 and [len(c) for c in result.classifications] == [2, 2, 0, 2]
    assert (
        result.labels[:2] == ["chelsea", "coffee"]
        and result.labels[2] == "outside"
        and result.scores[2] == 0.0
    )
    assert result.labels[3] == "coffee"  # corners given in the wrong order are normalised
    assert (
        dets.labels == ["animal", "thing", "outside", "reversed"] and dets.classifications == []
    )  # input untouched
    alone = classify(task, chelsea)
    assert [c.index for c in result.classifications[0]] == [c.index for c in alone]
    drawn = task.get_image_with_graphics()
    assert not np.array_equal(drawn[:, 450:453], canvas[:, 450:453])  # the first box's right edge is drawn
    assert isinstance(task.get_output("classification").data, ClassificationResult)  # the whole image, too


def test_roi_mode_with_no_boxes(probe, photos):
    task = make_task(probe[0])
    result = classify(task, photos["coffee"], detections=DetectionsResult())
    assert isinstance(result, DetectionsResult) and len(result) == 0
    assert task.get_output("classification").data.top is not None


# -- image kinds ------------------------------------------------------------------------
def test_every_image_kind(probe, photos):
    from skimage import data

    task = make_task(probe[0], top_k=1)
    kinds = {
        "rgb": photos["coffee"],
        "grey": as_rgb_image(data.camera()),
        "rgba": as_rgb_image(data.logo()),
        "bgr": as_rgb_image(np.ascontiguousarray(photos["coffee"][:, :, ::-1]), color_order="bgr"),
        "16-bit": as_rgb_image(photos["coffee"].astype(np.uint16) * 257),
        "tiny": np.ascontiguousarray(photos["coffee"][::40, ::40]),
        "huge": np.tile(photos["coffee"], (10, 7, 1)),
    }
    labels = {kind: classify(task, img)[0].label for kind, img in kinds.items()}
    assert labels["rgb"] == labels["bgr"] == labels["16-bit"] == "coffee"
    assert np.array_equal(kinds["grey"], photos["camera"]) and labels["grey"] == "camera"
    assert all(label in task.class_names for label in labels.values())
    assert task.get_image_with_graphics().shape == kinds["huge"].shape


def test_arrays_that_are_not_rgb_are_refused_by_the_port(probe, photos):
    task = make_task(probe[0])
    with pytest.raises(
        PortError, match=r"input 'image' \(image\): expected an HxWx3 uint8 RGB array, got shape \(512, 512\)"
    ):
        task.set_input("image", photos["camera"][:, :, 0])
    with pytest.raises(PortError, match=r"required input 'image'"):
        task.clear()
        task.run()


def test_files_through_the_runner_exif_and_16_bit(probe, photos, tmp_path):
    from PIL import Image

    upright = photos["chelsea"]
    rotated = Image.fromarray(np.ascontiguousarray(np.rot90(upright, k=1)))  # stored sideways...
    exif = Image.Exif()
    exif[0x0112] = 8  # ...with the tag that tells viewers to rotate it back
    rotated.save(tmp_path / "exif.jpg", exif=exif, quality=95)
    Image.fromarray(upright).save(tmp_path / "plain.jpg", quality=95)
    grey16 = photos["camera"][:, :, 0].astype(np.uint16) * 257
    Image.fromarray(grey16).save(tmp_path / "deep.png")
    wf = Workflow()
    task = wf.add_task(
        name="infer_torchvision_resnext",
        auto_connect=True,
        params={"model_weight_file": str(probe[0]), **FAST},
    )
    wf.run_on(path=tmp_path / "plain.jpg")
    plain = task.get_results()
    wf.run_on(path=tmp_path / "exif.jpg")
    h, w = task.get_image_with_graphics().shape[:2]  # upright and at the file's full size
    assert (h, w) == upright.shape[:2] == task.get_input("image").get_image().shape[:2]
    assert task.get_results()[0].index == plain[0].index
    wf.run_on(path=tmp_path / "deep.png")
    assert task.get_results()[0].label == "camera"


def test_a_bad_item_in_a_batch_fails_alone(probe, photos):
    wf = Workflow()
    wf.add_task(
        name="infer_torchvision_resnext",
        auto_connect=True,
        params={"model_weight_file": str(probe[0]), "device": "cpu", "batch_size": 4, "top_k": 1},
    )
    items = [
        {"image": photos["chelsea"]},
        {"image": np.zeros((0, 8, 3), np.uint8)},
        {"image": photos["coffee"]},
    ]
    results = wf.run_items(items)
    assert results[1].error is not None and "image is empty" in results[1].error
    assert [r.outputs["classification"].top.label for r in (results[0], results[2])] == ["chelsea", "coffee"]


def test_folder_run_writes_one_csv_row_per_image_with_top1_and_top_k(probe, photos, tmp_path):
    import csv

    from PIL import Image as PILImage

    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    names = sorted(photos)[:3]
    for i, name in enumerate(names):
        PILImage.fromarray(photos[name]).save(folder / ("sub" if i else "") / f"{name}.jpg", quality=92)
    wf = Workflow()
    wf.add_task(
        name="infer_torchvision_resnext",
        params={"model_weight_file": str(probe[0]), "top_k": 2, **FAST},
        auto_connect=True,
    )
    report = wf.run_on(folder=folder, output_dir=tmp_path / "out")
    rows = list(csv.DictReader(open(report.results_csv, newline="")))
    assert [r["path"] for r in rows] == sorted(r["path"] for r in rows) and len(rows) == 3
    header = list(rows[0])
    assert header[0] == "path" and header[-3:] == ["label", "score", "top_k"]
    for row in rows:
        assert all(row[c] == "" for c in header[1:-3])  # the ROI-mode (detections) columns stay empty
        assert row["label"] == row["top_k"].split(";")[0].split(":")[0]
        assert 0.0 < float(row["score"]) <= 1.0 and row["top_k"].count(";") == 1
    # the annotated images keep the sub-folders; the input forwarded on 'original' is not saved again
    saved = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.jpg"))
    assert saved == sorted(f"{'sub/' if i else ''}{name}.jpg" for i, name in enumerate(names))
    with PILImage.open(tmp_path / "out" / saved[0]) as annotated:  # at the input's size
        assert annotated.size == PILImage.open(folder / saved[0]).size


def test_small_images_are_enlarged_before_labelling_only_when_asked():
    from infer_torchvision_resnext.annotate import draw_labels

    digit = np.zeros((28, 20, 3), np.uint8)
    digit[10:18, 8:12] = 255
    assert draw_labels(digit, ["7 0.99"]).shape == digit.shape, (
        "by default the annotated image keeps the input size"
    )
    drawn = draw_labels(digit, ["7 0.99"], min_side=128)
    assert drawn.shape == (28 * 7, 20 * 7, 3), "the shorter side (20) is enlarged 7x to reach 128 px"
    assert np.array_equal(drawn[-40:], digit.repeat(7, 0).repeat(7, 1)[-40:]), (
        "below the label: the enlarged pixels"
    )
    assert not np.array_equal(drawn[:20], digit.repeat(7, 0).repeat(7, 1)[:20]), (
        "the label is drawn at the top"
    )
