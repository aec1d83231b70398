"""Class 12: a full disk (or a file-size limit) stops a run with the path named and consistent files.

Injected two ways: ``RLIMIT_FSIZE`` in a child (the kernel refuses writes past the
limit, as a full disk does) and an ``ENOSPC`` raised half-way through an image save.
"""

from __future__ import annotations

import csv
import errno
import json
import resource
import signal

import numpy as np
from PIL import Image

from tests.hostile.helpers import assert_bounded, child_env, pipeline, run_bounded, workflow_cmd


def _noisy(folder, count=6, side=300):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (side, side, 3), np.uint8)).save(folder / f"{i}.png")
    return folder


def _limit_files(max_bytes: int):
    def preexec():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return preexec


def _consistent(out):
    """No half-written image and no temp file left; every row's image exists and decodes."""
    leftovers = [p for p in out.rglob("*") if p.is_file() and (p.name.startswith(".") or p.suffix == ".tmp")]
    assert not leftovers, leftovers
    for p in out.rglob("*.png"):
        with Image.open(p) as im:
            im.load()


def test_file_size_limit_stops_the_run_naming_the_path(tmp_path, plugins):
    folder = _noisy(tmp_path / "imgs")
    file = pipeline(tmp_path / "p.yaml", "mark", outputs="{annotated: $steps.t.image}")
    out = tmp_path / "out"
    res = run_bounded(
        workflow_cmd("run", str(file), "--input", f"image={folder}", "-o", str(out)),
        env=child_env(plugins),
        preexec=_limit_files(100_000),
    )
    assert_bounded(res)
    assert res.rc in (1, 3), str(res)
    assert str(out) in res.err and (
        "Errno 27" in res.err or "too large" in res.err.lower() or "space" in res.err.lower()
    ), str(res)
    assert len([ln for ln in res.err.splitlines() if ln.startswith("error:")]) == 1, str(res)
    json.loads((out / "report.json").read_text())
    _consistent(out)


def test_enospc_during_image_save_names_the_path_and_leaves_no_partial_file(tmp_path, plugins, monkeypatch):
    """In-process: PIL writes half an image then the disk is full."""
    import PIL.Image

    from workflow import Workflow
    from workflow.run.runner import run_on

    monkeypatch.setenv("WORKFLOW_PLUGIN_PATH", str(plugins))
    from workflow.plugins.registry import reset_default_registry

    reset_default_registry()
    folder = _noisy(tmp_path / "imgs", count=3, side=40)
    wf = Workflow.load(pipeline(tmp_path / "p.yaml", "mark", outputs="{annotated: $steps.t.image}"))
    real_save = PIL.Image.Image.save
    calls = {"n": 0}

    def full_disk_save(self, fp, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= 2:
            with open(fp, "wb") as f:
                f.write(b"\x89PNG\r\n\x1a\n half")
            raise OSError(errno.ENOSPC, "No space left on device", str(fp))
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(PIL.Image.Image, "save", full_disk_save)
    out = tmp_path / "out"
    try:
        report = run_on(wf, folder=folder, output_dir=out)
        raised = None
    except (OSError, Exception) as exc:  # noqa: BLE001 - the test inspects it
        report, raised = None, exc
    reset_default_registry()
    assert raised is not None, f"a full disk must stop the run, got {report}"
    assert str(out) in str(raised) and ("No space" in str(raised) or "28" in str(raised)), repr(raised)
    assert (out / "report.json").exists()
    monkeypatch.setattr(PIL.Image.Image, "save", real_save)
    _consistent(out)
    with open(out / "results.csv", newline="", encoding="utf-8") as fp:
        rows = list(csv.DictReader(fp))
    assert len(rows) <= 1
