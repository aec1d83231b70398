"""Folder inference on Ray vs a local run, on this machine: images/s, Ray's overhead per image.

Makes a folder of JPEGs and a random-weight ResNeXt-50 checkpoint (speed does not depend on
the weights' values), then times, with the same pipeline and batch size:

  local     ``Workflow.run_on(folder=...)`` in this process (model loaded once, every core),
  ray xN    ``workflow.ray_engine.run_on_ray`` with N actors of 1 CPU each on a local Ray
            started once (``ray.init(num_cpus=cores)``); each run starts its actors and loads
            the model in each, as a real job does.

Each Ray run is timed end to end and its fixed cost (starting the actors, loading the model)
is measured apart on a 2-image folder; the steady rate is the rest. The overhead per image is
(ray time - local time) / images, against the faster of the local runs with every core's threads
and with one torch thread. Goal on 2 cores: ray x2 >= 0.8 x local.
Runs are interleaved in ``--repeat`` rounds and each time is the best of its rounds (a shared
machine's speed drifts from one minute to the next).

    python benchmarks/ray_scaling.py --images 200 --size 64
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_folder(folder: Path, count: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        base = rng.integers(0, 256, size=(1, 1, 3))
        pixels = np.clip(base + rng.integers(0, 80, size=(240, 320, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i:05d}.jpg", quality=90)


def make_pipeline(tmp: Path, size: int, backend: str, batch: int) -> Path:
    import torch

    from infer_torchvision_resnext.checkpoint.format import FORMAT_VERSION, Manifest, save_checkpoint
    from infer_torchvision_resnext.models import create_model
    from infer_torchvision_resnext.recipe import Preprocessing

    torch.manual_seed(0)
    model = create_model("resnext50", num_classes=10).eval()
    save_checkpoint(
        tmp / "model.pt",
        model,
        Manifest(
            FORMAT_VERSION,
            "resnext50_32x4d",
            [f"c{i}" for i in range(10)],
            Preprocessing.default(size),
            {},
            "benchmarks/ray_scaling.py",
        ),
    )
    pipeline = tmp / "classify.yaml"
    pipeline.write_text(f"""version: 1
name: ray-scaling
inputs:
  image: {{type: image}}
tasks:
  - id: classify
    task: infer_torchvision_resnext
    params: {{model_weight_file: {tmp / "model.pt"}, backend: {backend}, top_k: 1, batch_size: {batch}}}
outputs:
  predictions: $steps.classify.classification
""")
    return pipeline


def timed(run) -> float:
    """Wall time of one call of ``run`` (which must process every image)."""
    start = time.perf_counter()
    report = run()
    assert report.failed == 0, report.summary()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, default=64, help="model input size (px)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--backend", default="torch", choices=("torch", "openvino", "auto"))
    parser.add_argument("--actors", default="1,2", help="actor counts to time, comma-separated")
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds; each round times every run once, the best counts"
    )
    args = parser.parse_args()
    os.environ.setdefault("WORKFLOW_PROGRESS", "0")
    cores = os.cpu_count() or 1
    import ray
    import torch

    from workflow import Workflow
    from workflow.core.runtime import cpu_info
    from workflow.ray_engine import run_on_ray
    from workflow.ray_engine.cluster import init_options

    print(cpu_info().describe(), flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="ray_scaling_"))
    make_folder(tmp / "photos", args.images)
    make_folder(tmp / "two", 2)
    pipeline = make_pipeline(tmp, args.size, args.backend, args.batch)
    n, b = args.images, args.batch
    start = time.perf_counter()
    Workflow.load(pipeline).run_on(
        folder=tmp / "two", output_dir=tmp / "warm", batch_size=b
    )  # convert + cache the model
    print(f"first model load (conversion, caches): {time.perf_counter() - start:.1f} s", flush=True)
    wf = Workflow.load(pipeline)
    wf.run_on(folder=tmp / "two", output_dir=tmp / "local_two", batch_size=b)  # the model is loaded now
    start = time.perf_counter()
    ray.init(num_cpus=cores, **init_options())
    print(f"ray.init {time.perf_counter() - start:.1f} s (once per session)", flush=True)
    threads = torch.get_num_threads()

    def local_one_thread():
        torch.set_num_threads(
            1
        )  # what each 1-CPU actor uses: shows what thread contention costs the local run
        try:
            return wf.run_on(folder=tmp / "photos", output_dir=tmp / "local1", batch_size=b)
        finally:
            torch.set_num_threads(threads)

    def on_ray(actors: int, folder: str):
        return lambda: run_on_ray(
            Workflow.load(pipeline),
            tmp / folder,
            output_dir=tmp / f"ray{actors}_{folder}",
            actors=actors,
            batch_size=b,
        )

    runs = {
        "local": lambda: wf.run_on(folder=tmp / "photos", output_dir=tmp / "local", batch_size=b),
        "local 1 thread": local_one_thread,
    }
    counts = [int(a) for a in args.actors.split(",")]
    for actors in counts:
        runs[f"ray x{actors} start-up"] = on_ray(actors, "two")
        runs[f"ray x{actors}"] = on_ray(actors, "photos")
    times: dict[str, float] = {}
    for round_ in range(max(1, args.repeat)):  # rounds interleave the runs: a shared machine's speed drifts
        for name, run in runs.items():
            times[name] = min(times.get(name, float("inf")), timed(run))
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()), flush=True)
    print(
        f"\n{n} images, {args.size} px, batch {b}, backend {args.backend}, {cores} cores, best of {args.repeat} rounds"
    )
    print(f"local          {n / times['local']:7.1f} img/s  ({times['local']:.1f} s)")
    print(
        f"local 1 thread {n / times['local 1 thread']:7.1f} img/s  "
        f"({times['local 1 thread']:.1f} s; torch threads {threads} -> 1)"
    )
    local = min(times["local"], times["local 1 thread"])  # Ray is compared with the faster local run
    for actors in counts:
        total, fixed = times[f"ray x{actors}"], times[f"ray x{actors} start-up"]
        steady = n / max(total - fixed, 1e-9)
        print(
            f"ray x{actors}        {n / total:7.1f} img/s end to end ({total:.1f} s; start-up {fixed:.1f} s) = "
            f"{local / total:.2f} x local; {steady:.1f} img/s steady = {steady * local / n:.2f} x local; "
            f"overhead {1000 * (total - local) / n:+.1f} ms/img end to end, "
            f"{1000 * ((total - fixed) - local) / n:+.1f} ms/img steady"
        )
    ray.shutdown()


if __name__ == "__main__":
    main()
