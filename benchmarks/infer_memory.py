"""Folder inference streams: peak memory after 200 images vs after 2,000 images (ratio must stay < 1.2).

Generates 2,000 small JPEGs in a temporary folder, runs a cheap task over them with
``run_on(folder=...)`` (results CSV/JSON and annotated images written as in a real run)
and prints the process's peak RSS when 200 and when all 2,000 images are done.

    python benchmarks/infer_memory.py [--images 2000] [--early 200]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from workflow import Port, Task, Workflow
from workflow.core import ports
from workflow.core.results import ClassificationResult, ClassScore


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MeanColor(Task):
    """Labels an image by its dominant channel and draws a frame on it; records peak RSS per batch."""

    name = "mean_color"
    inputs = (Port("image", ports.Image),)
    outputs = (Port("classification", ports.Classification), Port("image", ports.AnnotatedImage))
    seen = 0
    marks: dict[int, float] = {}
    early = 200

    def run(self) -> None:
        img = self.get_input("image").data
        means = img.reshape(-1, 3).mean(axis=0) / 255
        order = np.argsort(-means)
        self.set_output(
            "classification",
            ClassificationResult([ClassScore("rgb"[i], int(i), float(means[i])) for i in order]),
        )
        framed = img.copy()
        framed[:2], framed[-2:], framed[:, :2], framed[:, -2:] = 255, 255, 255, 255
        self.set_output("image", framed)

    def run_batch(self, items):
        out = super().run_batch(items)
        before = MeanColor.seen
        MeanColor.seen += len(items)
        if before < self.early <= MeanColor.seen:
            MeanColor.marks[self.early] = peak_rss_mib()
        return out


def make_images(folder: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(count):
        sub = folder / f"part{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        h, w = 96 + (i % 5) * 8, 128 + (i % 7) * 8
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
            sub / f"img{i:05d}.jpg", quality=80
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--early", type=int, default=200)
    args = parser.parse_args()
    MeanColor.early = args.early
    with tempfile.TemporaryDirectory(prefix="infer-memory-") as tmp:
        folder, out = Path(tmp) / "images", Path(tmp) / "out"
        start = time.perf_counter()
        make_images(folder, args.images)
        print(f"generated {args.images} images in {time.perf_counter() - start:.1f} s")
        wf = Workflow(inputs={"image": ports.Image})
        wf.add_task(MeanColor(), auto_connect=True)
        start = time.perf_counter()
        report = wf.run_on(folder=folder, output_dir=out, batch_size=16)
        elapsed = time.perf_counter() - start
        final = peak_rss_mib()
        rows = sum(1 for _ in open(report.results_csv)) - 1
    early = MeanColor.marks[args.early]
    ratio = final / early
    print(
        f"processed {report.processed} images ({rows} CSV rows, {report.failed} failed) in {elapsed:.1f} s "
        f"({report.processed / elapsed:.0f} img/s)"
    )
    print(f"peak RSS after {args.early} images: {early:.1f} MiB")
    print(f"peak RSS after {report.processed} images: {final:.1f} MiB")
    print(f"ratio: {ratio:.3f} (must be < 1.2): {'ok' if ratio < 1.2 else 'FAIL'}")
    return 0 if ratio < 1.2 and rows == args.images else 1


if __name__ == "__main__":
    sys.exit(main())
