"""Class 8: every file name the file system allows round-trips through every results file and resume.

Non-UTF-8 bytes, ``\\r``, ``\\n``, U+2028 and U+0085 in names: one row per image in
``results.csv`` (as a standard CSV reader sees it), ``results.jsonl`` and a valid
``results.json``; ``--resume`` redoes nothing. Training uses such images (or lists them in
``skipped_files.txt`` by a name that reads back exactly), leaves no temp file, and refuses a class folder
whose name is not text, naming it.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import pytest

from tests.hostile.helpers import (
    MAX_SECONDS,
    MODEL,
    assert_bounded,
    child_env,
    pipeline,
    run_bounded,
    tiny_png,
    workflow_cmd,
)
from train_torchvision_resnext.rundir import read_skipped

REPO = Path(__file__).resolve().parents[2]
NAMES = [
    b"plain.png",
    b"latin\xff\xfe.png",
    b"cr\rname.png",
    b"nl\nname.png",
    "ls\u2028x.png".encode(),
    "nel\u0085x.png".encode(),
    b'quote"comma,semi;.png',
    b"tab\tname.png",
    b" lead space.png",
]


@pytest.fixture
def odd_folder(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, raw in enumerate(NAMES):
        tiny_png(tmp_path / "src.png", 10 * i)
        os.rename(tmp_path / "src.png", os.path.join(os.fsencode(folder), raw))
    return folder


def _rows(out):
    with open(out / "results.csv", newline="", encoding="utf-8", errors="surrogateescape") as fp:
        return list(csv.DictReader(fp))


def _check(out, expected: set[str]):
    rows = _rows(out)
    assert len(rows) == len(expected), rows
    assert {r["path"] for r in rows} == expected
    jsonl = [json.loads(line) for line in (out / "results.jsonl").read_bytes().split(b"\n") if line]
    assert {r["path"] for r in jsonl} == expected
    records = json.loads((out / "results.json").read_bytes())
    assert {r["path"] for r in records} == expected
    report = json.loads((out / "report.json").read_bytes())
    return rows, report


@pytest.mark.parametrize("save", [True, False])
def test_odd_names_round_trip_through_results_and_resume(tmp_path, plugins, odd_folder, save):
    task = "mark" if save else "brightness"
    outputs = "{annotated: $steps.t.image}" if save else None
    file = pipeline(tmp_path / "p.yaml", task, outputs=outputs)
    out = tmp_path / "out"
    cmd = workflow_cmd("run", str(file), "--input", f"image={odd_folder}", "-o", str(out))
    res = run_bounded(cmd, env=child_env(plugins))
    assert_bounded(res)
    assert res.rc == 0, str(res)
    expected = {os.fsdecode(n) for n in NAMES}
    _check(out, expected)
    again = run_bounded(cmd + ["--resume"], env=child_env(plugins))
    assert_bounded(again)
    assert again.rc == 0 and "0 processed" in again.out and f"{len(NAMES)} already done" in again.out, str(
        again
    )
    _check(out, expected)


def test_odd_name_in_a_video_path_is_not_a_crash(tmp_path, plugins):
    import cv2
    import numpy as np

    folder = os.path.join(os.fsencode(tmp_path), b"vid\xff")
    os.mkdir(folder)
    video = os.path.join(folder, b"clip.avi")
    writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 5, (16, 16))
    for i in range(5):
        writer.write(np.full((16, 16, 3), i * 40, np.uint8))
    writer.release()
    os.rename(tmp_path / "clip.avi", video)
    file = pipeline(tmp_path / "p.yaml", "brightness")
    out = tmp_path / "out"
    res = run_bounded(
        workflow_cmd("run", str(file), "--input", f"image={os.fsdecode(video)}", "-o", str(out)),
        env=child_env(plugins),
    )
    assert_bounded(res)
    assert res.rc == 0, str(res)
    assert len(_rows(out)) == 5


TRAIN_SNIPPET = """
import sys
from pathlib import Path
from tests.train.helpers import tiny_params
from train_torchvision_resnext.trainer import train
result = train(tiny_params(Path(sys.argv[1]), Path(sys.argv[2]), feature_extract=True))
print("trained", result.best_path)
"""


def _train(run, data):
    """The tiny training run in a watched child. A ResNeXt-50 training process is itself ~0.9 GiB and tens of
    seconds on 2 shared cores: the watchdog's limits are those of training (2 GiB, 180 s), which odd names
    must
    not change (an expansion or a hang from them still fails)."""
    return run_bounded(
        [sys.executable, "-c", TRAIN_SNIPPET, str(run), str(data)],
        cwd=REPO,
        env=child_env(),
        timeout=max(MAX_SECONDS, 180),
        max_rss=2 << 30,
        preload=MODEL,
    )


def _odd_dataset(root, class_b: bytes = b"b"):
    """train/ and val/ of classes ``a`` and ``class_b``; train/a holds the odd names, one of them
    unreadable."""
    for split, count in (("train", 3), ("val", 2)):
        for c, cls in enumerate((b"a", class_b)):
            folder = os.path.join(os.fsencode(root), split.encode(), cls)
            os.makedirs(folder)
            for i in range(count):
                tiny_png(root / "src.png", 40 * i + 100 * c, (20, 20))
                os.rename(root / "src.png", os.path.join(folder, b"%d.png" % i))
    odd = os.path.join(os.fsencode(root), b"train", b"a")
    for i, raw in enumerate(NAMES[1:6]):
        tiny_png(root / "src.png", 20 * i, (20, 20))
        os.rename(root / "src.png", os.path.join(odd, raw))
    broken = os.path.join(odd, b"broken\xff\r\n\\x.png")
    with open(broken, "wb") as fp:
        fp.write(b"\x89PNG\r\n\x1a\n truncated")
    return broken


def test_odd_image_names_train_and_round_trip_through_the_run_files(tmp_path):
    import yaml

    data, runs = tmp_path / "data", tmp_path / "run"
    broken = _odd_dataset(data)
    res = _train(runs, data)
    assert not res.killed, str(res)
    assert res.rc == 0 and "trained" in res.out, str(res)
    (run,) = runs.iterdir()  # the run's own folder inside output_folder
    assert sorted(os.listdir(run)) == [
        "best.pt",
        "classes.txt",
        "confusion.png",
        "curves.png",
        "last.pt",
        "metrics.csv",
        "metrics.json",
        "params.yaml",
        "resnext50.pth",
        "skipped_files.txt",
        "split.json",
    ]  # no temp file left
    split = json.loads((run / "split.json").read_bytes())
    used = {os.fsencode(name) for name, _ in split["train"]}
    assert {os.path.join(b"train", b"a", raw) for raw in NAMES[1:6]} <= used  # the odd names were trained on
    assert all(
        os.path.isfile(os.path.join(os.fsencode(data), os.fsencode(n)))
        for n, _ in split["train"] + split["val"]
    )
    [(listed, reason)] = read_skipped(run / "skipped_files.txt")
    assert os.fsencode(listed) == broken and reason, reason  # the exact bytes of the name
    assert len((run / "skipped_files.txt").read_text(encoding="utf-8").splitlines()) == 1
    json.loads((run / "metrics.json").read_bytes())
    with open(run / "metrics.csv", newline="", encoding="utf-8") as fp:
        assert len(list(csv.reader(fp))) == 2
    assert yaml.safe_load((run / "params.yaml").read_bytes())["dataset_folder"] == str(data.resolve())


def test_a_class_folder_name_that_is_not_text_is_refused_naming_it(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    _odd_dataset(data, class_b=b"b\xff\r")
    res = _train(run, data)
    assert not res.killed, str(res)
    assert res.rc != 0, str(res)
    assert "class folder 'b\\xff\\x0d'" in res.err and "DatasetError" in res.err, str(res)
    assert not run.exists() or not [n for n in os.listdir(run) if n.startswith(".") or n.endswith(".tmp")]


def test_line_escaping_round_trips_every_name():
    from workflow.core.files import escape_line_text, unescape_line_text

    for raw in NAMES + [b"back\\slash\\x41.png", b"\x00\x1f\x7f\x80\xc3", "\u2029\u00e9".encode()]:
        text = escape_line_text(os.fsdecode(raw))
        text.encode("utf-8")
        assert len(text.splitlines()) == 1 and "\t" not in text
        assert os.fsencode(unescape_line_text(text)) == raw
