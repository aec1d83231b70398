"""Class 16a: numeric parameters are bounded at validation (finite, sane ranges), and bad values name file and field.

Also: an empty ``--input`` value is refused, and a decoding library's warning names the file.
"""
from __future__ import annotations

import pytest

from tests.hostile.helpers import assert_bounded, child_env, pipeline, run_bounded, tiny_png, workflow_cmd

TRAIN_BAD = {
    "learning_rate": [".inf", "-.inf", ".nan", "1e308", "1e400"],
    "num_workers": ["48000", "100000"],
    "seed": ["12345678901234567890123", "-1"],
    "epochs": ["10000000000"],
    "batch_size": ["1000000000"],
    "weight_decay": [".inf", ".nan"],
    "warmup_epochs": [".nan", ".inf"],
    "momentum": [".nan"],
}
INFER_BAD = {"top_k": ["100000000000000000000000", "-1"], "input_size": ["99999999999", ".nan"],
             "batch_size": ["1000000000000"]}
CASES = [("train_torchvision_resnext", k, v) for k, vs in TRAIN_BAD.items() for v in vs] + \
        [("infer_torchvision_resnext", k, v) for k, vs in INFER_BAD.items() for v in vs]


@pytest.mark.parametrize("task,param,value", CASES)
def test_out_of_range_number_is_refused_naming_the_parameter(tmp_path, task, param, value):
    out = "{model: $steps.t.model}" if task.startswith("train") else None
    file = pipeline(tmp_path / "p.yaml", task, params=f"{{{param}: {value}}}", outputs=out)
    res = run_bounded(workflow_cmd("validate", str(file)), env=child_env())
    assert_bounded(res)
    assert res.rc == 1 and param in res.err and str(file) in res.err, str(res)


def test_a_5000_digit_integer_names_file_and_parameter_and_later_files_still_validate(tmp_path, plugins):
    bad = pipeline(tmp_path / "bad.yaml", "infer_torchvision_resnext", params="{top_k: " + "9" * 5000 + "}")
    good = pipeline(tmp_path / "good.yaml", "brightness")
    res = run_bounded(workflow_cmd("validate", str(bad), str(good)), env=child_env(plugins))
    assert_bounded(res)
    assert res.rc == 1, str(res)
    assert "top_k" in res.err and "bad.yaml" in res.err and len(res.err) < 2000, str(res)
    assert f"ok: {good}" in res.out, str(res)


@pytest.mark.parametrize("where", ["version", "key", "list"])
def test_huge_integers_elsewhere_in_the_file_are_one_line_errors(tmp_path, where):
    big = "9" * 5000
    text = {"version": f"version: {big}\nname: x\ntasks: []\n",
            "key": f"version: 1\nname: x\n{big}: 1\ntasks: []\n",
            "list": f"version: 1\nname: x\ntasks: [{big}]\n"}[where]
    file = tmp_path / "p.yaml"
    file.write_text(text)
    res = run_bounded(workflow_cmd("validate", str(file)), env=child_env())
    assert_bounded(res)
    assert res.rc == 1 and "p.yaml" in res.err and len(res.err) < 2000 and "Traceback" not in res.err, str(res)


@pytest.mark.parametrize("value", ["image=", "", "image= ", "="])
def test_empty_input_value_is_refused(tmp_path, plugins, value):
    file = pipeline(tmp_path / "p.yaml", "brightness")
    work = tmp_path / "cwd"
    work.mkdir()
    tiny_png(work / "would_be_processed.png")
    res = run_bounded(workflow_cmd("run", str(file), "--input", value, "-o", str(tmp_path / "out")), cwd=work,
                      env=child_env(plugins))
    assert_bounded(res)
    assert res.rc in (1, 2) and "input" in res.err.lower(), str(res)
    assert not (tmp_path / "out" / "results.csv").exists()


def test_decoder_warning_names_the_file(tmp_path, plugins):
    """A PNG whose chunk makes PIL warn (a huge text chunk declared) must be named in the warning."""
    import struct
    import zlib

    png = tiny_png(tmp_path / "src.png").read_bytes()
    exif = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x0f\x00\x02\xff\xff\xff\x00\x00\x00\x00\x10"
    chunk = b"eXIf" + exif[6:]
    bad = png[:33] + struct.pack(">I", len(exif) - 6) + chunk + struct.pack(">I", zlib.crc32(chunk)) + png[33:]
    img = tmp_path / "warny.png"
    img.write_bytes(bad)
    file = pipeline(tmp_path / "p.yaml", "brightness")
    res = run_bounded(workflow_cmd("run", str(file), "--input", f"image={img}", "-o", str(tmp_path / "out")),
                      env=child_env(plugins))
    assert_bounded(res)
    warnings = [ln for ln in res.err.splitlines() if ln.startswith("warning")]
    assert all("warny.png" in ln for ln in warnings), str(res)
