"""Inference speed of infer_torchvision_resnext: Ikomia-style loop vs model alone vs our folder run.

Generates a folder of real-sized JPEGs (scikit-image photos upscaled and varied to
1280x960), then times in one process:

  (a) a per-image fp32 eager loop with a squashing resize (what Ikomia's plugin does),
  (b) the model alone on the default backend/precision at the same batch size
      (preprocessed uint8 crops, no decoding),
  (c) our folder run end to end: ``Workflow.run_on(folder=...)`` (decode, preprocess,
      model, results CSV), with the model already loaded,

and prints images/s for each and the ratios c/a and c/b (goals: >= 5.0 and >= 0.75; with
``--precision int8`` on an AVX2-only CPU: >= 3.0 and >= 0.8). The CPU class is printed first.
(a), (b) and (c) alternate ``--repeat`` times and the best of each counts, since a shared
machine's load changes from one second to the next ((a) runs on the first ``--a-images``
images: it is the slow one; it runs in its own process, as it would for a user).

Weights: ``--weights FILE`` (a checkpoint or torchvision state dict), else
$RESNEXT_IMAGENET_WEIGHTS, else a random-weight 1000-class checkpoint (speed does not
depend on the weights' values).

    python benchmarks/infer_speed.py --images 64 --model resnext50 --batch 8
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_jpegs(folder: Path, count: int, size=(1280, 960), seed: int = 0) -> list[Path]:
    """``count`` JPEGs of ``size`` from scikit-image photos (random crops, flips, upscaled), quality 90."""
    from PIL import Image
    from skimage import data

    rng = np.random.default_rng(seed)
    photos = [
        data.astronaut(),
        data.chelsea(),
        data.coffee(),
        data.rocket(),
        data.hubble_deep_field(),
        data.immunohistochemistry(),
        np.stack([data.camera()] * 3, axis=2),
        data.retina()[..., :3],
    ]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        ch, cw = int(h * rng.uniform(0.7, 1.0)), int(w * rng.uniform(0.7, 1.0))
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        crop = photo[y : y + ch, x : x + cw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        img = Image.fromarray(np.ascontiguousarray(crop)).resize(size, Image.BICUBIC)
        path = folder / f"img_{i:04d}.jpg"
        img.save(path, quality=90)
        paths.append(path)
    return paths


def weights_file(arg: str | None, model: str, workdir: Path) -> tuple[Path, str]:
    """A weights file to load, and where it came from."""
    chosen = arg or os.environ.get("RESNEXT_IMAGENET_WEIGHTS")
    if chosen:
        return Path(chosen), "given"
    import torch

    from infer_torchvision_resnext.checkpoint.format import FORMAT_VERSION, Manifest, save_checkpoint
    from infer_torchvision_resnext.models import (
        create_model,
        imagenet_categories,
        resolve_arch,
        resolve_weights,
    )
    from infer_torchvision_resnext.recipe import Preprocessing

    arch = resolve_arch(model)
    torch.manual_seed(0)
    manifest = Manifest(
        FORMAT_VERSION,
        arch,
        imagenet_categories(arch),
        Preprocessing.from_weights(resolve_weights(arch)),
        {},
        "benchmarks/infer_speed.py (random weights)",
    )
    return save_checkpoint(workdir / f"{arch}-random.pt", create_model(arch), manifest), "random weights"


def ikomia_loop(weights: Path, model: str, size: int):
    """(a) a timer of the per-image loop: cv2 read, BGR->RGB, ToTensor + squashing Resize + Normalize, fp32
    eager."""
    import cv2
    import torch
    from torchvision import transforms

    from infer_torchvision_resnext.checkpoint.format import build_model, load_checkpoint
    from infer_torchvision_resnext.models import resolve_arch

    net = build_model(load_checkpoint(weights, arch=resolve_arch(model))).eval()
    trf = transforms.Compose(
        [
            transforms.ToTensor(),
            transforms.Resize((size, size), antialias=True),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )

    def run(paths: list[Path]) -> float:
        start = time.perf_counter()
        for path in paths:
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            with torch.no_grad():
                probs = torch.softmax(net(trf(rgb).unsqueeze(0)), dim=1)
            probs.topk(5)
        return len(paths) / (time.perf_counter() - start)

    return run


def _ikomia_worker(conn, weights: Path, model: str, size: int) -> None:
    run = ikomia_loop(weights, model, size)
    conn.send("ready")
    for paths in iter(conn.recv, None):
        conn.send(run(paths))


class IkomiaProcess:
    """(a) in its own process, as a user's Ikomia loop runs: no OpenVINO thread pool or cached model of ours
    beside it."""

    def __init__(self, weights: Path, model: str, size: int):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_ikomia_worker, args=(child, weights, model, size), daemon=True)
        self.proc.start()
        if self.conn.recv() != "ready":
            raise SystemExit("the Ikomia-style loop could not start")

    def __call__(self, paths: list[Path]) -> float:
        self.conn.send(paths)
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send(None)
        self.proc.join(30)


def time_model_only(task, count: int, batch: int) -> float:
    """(b) the task's own backend on preprocessed uint8 crops, ``batch`` per task batch, no decoding."""
    classifier = task.load_model()
    prep, backend = classifier.preprocessing, classifier.backend
    crops = np.random.default_rng(1).integers(
        0, 256, (batch, prep.crop_size, prep.crop_size, 3), dtype=np.uint8
    )
    step = backend.chunk_size(batch)
    chunks = [crops[i : i + step] for i in range(0, batch, step)]
    list(backend.infer_batches(chunks))  # warm-up
    start = time.perf_counter()
    for _ in range(max(1, count // batch)):
        list(backend.infer_batches(chunks))
    return max(1, count // batch) * batch / (time.perf_counter() - start)


def time_folder_run(wf, folder: Path, out: Path, count: int) -> tuple[float, object]:
    """(c) ``wf.run_on(folder=...)`` end to end (decode, preprocess, model, results files)."""
    start = time.perf_counter()
    report = wf.run_on(folder=folder, output_dir=out, save_images=False)
    elapsed = time.perf_counter() - start
    if report.processed != count:
        raise SystemExit(f"folder run processed {report.processed} of {count} images: {report.errors[:3]}")
    return count / elapsed, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--model", default="resnext50")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--weights", default=None)
    parser.add_argument(
        "--repeat", type=int, default=3, help="alternating (b)/(c) runs; the best of each is kept"
    )
    parser.add_argument("--skip-a", action="store_true", help="skip the slow Ikomia-style loop")
    parser.add_argument(
        "--a-images", type=int, default=24, help="images per run of the Ikomia-style loop (a)"
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32", "bf16", "int8"),
        help="int8: NNCF-quantized OpenVINO model calibrated on 16 other JPEGs (quantized once, cached)",
    )
    args = parser.parse_args(argv)

    from workflow import Workflow
    from workflow.core.runtime import cpu_info

    print(cpu_info().describe(), flush=True)

    with tempfile.TemporaryDirectory(prefix="infer_speed_") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        paths = make_jpegs(tmp / "images", args.images)
        weights, origin = weights_file(args.weights, args.model, tmp)
        print(
            f"{len(paths)} JPEGs 1280x960 in {time.perf_counter() - t0:.1f}s; weights: {origin}; "
            f"{os.cpu_count()} CPUs; model {args.model}, batch {args.batch}",
            flush=True,
        )

        wf = Workflow(name="bench")
        task = wf.add_task(
            name="infer_torchvision_resnext",
            auto_connect=True,
            params={
                "model_name": args.model,
                "model_weight_file": str(weights),
                "batch_size": args.batch,
                "precision": args.precision,
            },
        )
        if args.precision == "int8":
            make_jpegs(tmp / "calibration", 16, seed=1)
            task.set_parameters({"calibration_folder": str(tmp / "calibration")})
        t0 = time.perf_counter()
        classifier = task.load_model()
        rt = classifier.runtime
        print(
            f"model ready in {time.perf_counter() - t0:.1f}s on {rt.backend}/{rt.device}/{rt.precision}, "
            f"{classifier.preprocessing.crop_size}px",
            flush=True,
        )
        wf.run_on(
            folder=tmp / "images", output_dir=tmp / "warm", save_images=False
        )  # warm-up pass (caches, threads)

        as_, bs, cs = [], [], []
        ikomia = (
            None if args.skip_a else IkomiaProcess(weights, args.model, classifier.preprocessing.crop_size)
        )
        for _ in range(
            args.repeat
        ):  # alternate (a), (b) and (c); keep the best of each (the machine is shared)
            if ikomia is not None:
                as_.append(ikomia(paths[: args.a_images]))
            bs.append(time_model_only(task, args.images, args.batch))
            c, report = time_folder_run(wf, tmp / "images", tmp / "out", args.images)
            cs.append(c)
        b, c = max(bs), max(cs)
        print(
            f"(b) model alone, {rt.backend} {rt.precision} batch {args.batch}: {b:.1f} img/s "
            f"(runs: {', '.join(f'{v:.1f}' for v in bs)})",
            flush=True,
        )
        print(
            f"(c) folder run end to end: {c:.1f} img/s (runs: {', '.join(f'{v:.1f}' for v in cs)}; last run's task "
            f"times: {', '.join(f'{k} {v:.2f}s' for k, v in report.times.items())})",
            flush=True,
        )
        if ikomia is not None:
            ikomia.close()
        goal_a, goal_b = (3.0, 0.8) if rt.precision == "int8" else (5.0, 0.75)
        if ikomia is None:
            print(f"c/b = {c / b:.2f} (goal >= {goal_b})")
            return 0
        a = max(as_)
        print(
            f"(a) Ikomia-style per-image fp32 eager, squashing resize: {a:.1f} img/s "
            f"(runs: {', '.join(f'{v:.1f}' for v in as_)})",
            flush=True,
        )
        print(f"c/a = {c / a:.2f} (goal >= {goal_a})   c/b = {c / b:.2f} (goal >= {goal_b})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
