"""Class 16a: numeric parameters are bounded at validation (finite, sane ranges), and bad values name file and
field.

Also: an empty ``--input`` value is refused, and a decoding library's warning names the file, including what
OpenCV/FFmpeg/libjpeg print from C (caught and reported as a warning or item error naming the file).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.hostile.helpers import assert_bounded, child_env, pipeline, run_bounded, tiny_png, workflow_cmd

REPO = Path(__file__).resolve().parents[2]
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
INFER_BAD = {
    "top_k": ["100000000000000000000000", "-1"],
    "input_size": ["99999999999", ".nan"],
    "batch_size": ["1000000000000"],
}
CASES = [("train_torchvision_resnext", k, v) for k, vs in TRAIN_BAD.items() for v in vs] + [
    ("infer_torchvision_resnext", k, v) for k, vs in INFER_BAD.items() for v in vs
]


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
    text = {
        "version": f"version: {big}\nname: x\ntasks: []\n",
        "key": f"version: 1\nname: x\n{big}: 1\ntasks: []\n",
        "list": f"version: 1\nname: x\ntasks: [{big}]\n",
    }[where]
    file = tmp_path / "p.yaml"
    file.write_text(text)
    res = run_bounded(workflow_cmd("validate", str(file)), env=child_env())
    assert_bounded(res)
    assert res.rc == 1 and "p.yaml" in res.err and len(res.err) < 2000 and "Traceback" not in res.err, str(
        res
    )


@pytest.mark.parametrize("value", ["image=", "", "image= ", "="])
def test_empty_input_value_is_refused(tmp_path, plugins, value):
    file = pipeline(tmp_path / "p.yaml", "brightness")
    work = tmp_path / "cwd"
    work.mkdir()
    tiny_png(work / "would_be_processed.png")
    res = run_bounded(
        workflow_cmd("run", str(file), "--input", value, "-o", str(tmp_path / "out")),
        cwd=work,
        env=child_env(plugins),
    )
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
    bad = (
        png[:33] + struct.pack(">I", len(exif) - 6) + chunk + struct.pack(">I", zlib.crc32(chunk)) + png[33:]
    )
    img = tmp_path / "warny.png"
    img.write_bytes(bad)
    file = pipeline(tmp_path / "p.yaml", "brightness")
    res = run_bounded(
        workflow_cmd("run", str(file), "--input", f"image={img}", "-o", str(tmp_path / "out")),
        env=child_env(plugins),
    )
    assert_bounded(res)
    warnings = [ln for ln in res.err.splitlines() if ln.startswith("warning")]
    assert all("warny.png" in ln for ln in warnings), str(res)


def _damaged_video(path):
    """An MJPG AVI of 10 noisy frames whose JPEG payloads are overwritten (FFmpeg prints ``[mjpeg @
    0x...]``)."""
    import cv2
    import numpy as np

    clean = path.with_name("clean.avi")
    writer = cv2.VideoWriter(str(clean), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 64))
    rng = np.random.default_rng(0)
    for _ in range(10):
        writer.write(rng.integers(0, 255, (64, 64, 3), np.uint8))
    writer.release()
    data = bytearray(clean.read_bytes())
    pos = 0
    while (pos := data.find(b"\xff\xda", pos + 1)) != -1:
        for k in range(pos + 20, min(pos + 400, len(data) - 4), 7):
            data[k] = 0xFF if k % 2 else 0x00
    path.write_bytes(bytes(data))
    return path


def _damaged_jpeg(path):
    """A 800x600 JPEG with damaged entropy data that still ends with EOI (libjpeg: ``Corrupt JPEG data``)."""
    import cv2
    import numpy as np

    img = np.random.default_rng(0).integers(0, 255, (600, 800, 3), np.uint8)
    data = bytearray(cv2.imencode(".jpg", img)[1].tobytes())
    for k in range(data.find(b"\xff\xda") + 100, len(data) - 1000, 97):
        data[k] = 0xFF
    path.write_bytes(bytes(data))
    return path


def _stray_lines(err: str) -> list[str]:
    """Lines of stderr that are not the command's own (``warning:``, ``error:``), e.g. a C library's log."""
    return [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("warning:", "error:"))]


def test_video_decoder_messages_name_the_file_and_nothing_prints_raw(tmp_path, plugins):
    video = _damaged_video(tmp_path / "damaged.avi")
    file = pipeline(tmp_path / "p.yaml", "brightness")
    res = run_bounded(
        workflow_cmd("run", str(file), "--input", f"image={video}", "-o", str(tmp_path / "out")),
        env=child_env(plugins),
    )
    assert_bounded(res)
    assert not _stray_lines(res.err), str(res)  # no "[mjpeg @ 0x...] overread 8" on the bare stderr
    warnings = [ln for ln in res.err.splitlines() if ln.startswith("warning")]
    assert any(f"{video}: the video decoder reported '[mjpeg]" in ln for ln in warnings), str(res)
    assert all("damaged.avi" in ln for ln in warnings), str(res)


def test_jpeg_decoder_messages_never_print_raw_and_the_item_error_names_the_file(tmp_path, plugins):
    """The reduced-scale OpenCV path: libjpeg's message becomes a warning naming the file; PIL then refuses
    it."""
    jpeg = _damaged_jpeg(tmp_path / "damaged.jpg")
    res = run_bounded(
        [
            sys.executable,
            "-c",
            "import sys\nfrom workflow.core.imaging import load_image\n"
            "try:\n    load_image(sys.argv[1], min_side=64)\nexcept Exception as e:\n    print('REFUSED', e)\n",
            str(jpeg),
        ],
        env=child_env(),
        cwd=REPO,
    )
    assert_bounded(res)
    assert res.out.startswith(f"REFUSED {jpeg}: truncated or corrupt image"), str(res)
    assert f"{jpeg}: the JPEG decoder reported 'Corrupt JPEG data" in res.err, str(res)
    assert all(str(jpeg) in ln for ln in res.err.splitlines() if "Corrupt" in ln), str(
        res
    )  # never a bare C line
    file = pipeline(tmp_path / "p.yaml", "brightness")
    res = run_bounded(
        workflow_cmd("run", str(file), "--input", f"image={tmp_path}", "-o", str(tmp_path / "out")),
        env=child_env(plugins),
    )
    assert_bounded(res)
    assert not _stray_lines(res.err) and "damaged.jpg: truncated or corrupt image" in res.err, str(res)


def test_decoder_messages_are_named_right_when_threads_decode_at_once(tmp_path):
    """Clean and damaged JPEGs decoded by 4 threads: every caught message names the damaged file, only it."""
    import cv2
    import numpy as np

    damaged = _damaged_jpeg(tmp_path / "damaged.jpg")
    for i in range(12):
        img = np.random.default_rng(i).integers(0, 255, (600, 800, 3), np.uint8)
        (tmp_path / f"clean{i}.jpg").write_bytes(cv2.imencode(".jpg", img)[1].tobytes())
    code = (
        "import sys, warnings\nfrom concurrent.futures import ThreadPoolExecutor\nfrom pathlib import Path\n"
        "from workflow.core.imaging import load_image\nwarnings.simplefilter('always')\n"
        "def one(p):\n    try:\n        load_image(p, min_side=64)\n        return 'ok'\n"
        "    except Exception as e:\n        return 'REFUSED ' + str(e)\n"
        "files = sorted(Path(sys.argv[1]).glob('*.jpg')) * 3\n"
        "with ThreadPoolExecutor(4) as pool:\n    print('\\n'.join(pool.map(one, files)))\n"
    )
    res = run_bounded([sys.executable, "-c", code, str(tmp_path)], env=child_env(), cwd=REPO)
    assert_bounded(res)
    assert (
        res.rc == 0 and res.out.splitlines().count("ok") == 36 and res.out.count(f"REFUSED {damaged}:") == 3
    ), str(res)
    caught = [ln for ln in res.err.splitlines() if "decoder reported" in ln]
    assert len(caught) == 3 and all(f"{damaged}: the JPEG decoder" in ln for ln in caught), str(res)
    assert all(str(damaged) in ln for ln in res.err.splitlines() if "Corrupt" in ln), str(res)
