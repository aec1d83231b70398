"""Class 3: every image derived from an input (annotated, enlarged, resized) keeps to the decoded pixel
budget.

A 1x60000 JPEG passes the decoder's pixel limit; enlarging it in both directions for a
readable label must not multiply its pixels past that limit. The inference task alone
takes most of a GB here (torch, the model, its backend), so the bound is what a hostile
image adds to the same run on an ordinary image.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.hostile.helpers import (
    MAX_SECONDS,
    MODEL,
    assert_bounded,
    child_env,
    pipeline,
    run_bounded,
    workflow_cmd,
)

BUDGET = 1_000_000
EXTRA_RSS = 256 << 20  # what a hostile image may add to an ordinary run's peak


def _run(tmp_path, checkpoint, size, max_rss=2 << 30):
    w, h = size
    img = tmp_path / f"img_{w}x{h}.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8)).save(img, quality=90)
    file = pipeline(
        tmp_path / "p.yaml",
        "infer_torchvision_resnext",
        params=f"{{model_weight_file: '{checkpoint}', input_size: 32, device: cpu}}",
        outputs="{result: $steps.t.classification, annotated: $steps.t.image}",
    )
    out = tmp_path / f"out_{w}x{h}"
    res = run_bounded(
        workflow_cmd("run", str(file), "--input", f"image={img}", "-o", str(out)),
        env=child_env(WORKFLOW_MAX_IMAGE_PIXELS=str(BUDGET)),
        timeout=MAX_SECONDS + 20,
        max_rss=max_rss,
        preload=MODEL,
    )
    return res, out


@pytest.fixture(scope="module")
def ordinary_peak(tmp_path_factory, resnext_checkpoint):
    res, _ = _run(tmp_path_factory.mktemp("ordinary"), resnext_checkpoint, (60, 60))
    assert res.rc == 0, str(res)
    return res.peak_rss


@pytest.mark.parametrize("size", [(60000, 1), (1, 60000), (30000, 2), (20, 49000)])
def test_extreme_aspect_ratio_image_is_annotated_within_budget(
    tmp_path, resnext_checkpoint, ordinary_peak, size
):
    res, out = _run(tmp_path, resnext_checkpoint, size, max_rss=ordinary_peak + EXTRA_RSS)
    assert_bounded(res)
    assert res.rc == 0, str(res)
    saved = list(out.rglob("*.jpg"))
    assert saved, "the annotated image was not saved"
    for path in saved:
        with Image.open(path) as im:
            assert im.width * im.height <= BUDGET, f"{path}: {im.size}"
