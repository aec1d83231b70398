"""Load test of `workflow serve`: requests/s and p50/p95 latency at concurrency 1, 4 and 16,
with dynamic batching on (--max-batch 8) and off (--max-batch 1), against a direct
``decode + wf.run_on(array=)`` call in this process.

    python benchmarks/serve_load.py [--pipeline P.yaml] [--requests 48] [--image photo.jpg]

Without --pipeline it builds a random-weight ResNeXt-50 checkpoint (3 classes, --size px) in a
temporary folder. Each server runs as a subprocess on a free port of 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PIPELINE = """version: 1
name: bench-classifier
inputs:
  image: {{type: image}}
tasks:
  - id: classify
    task: infer_torchvision_resnext
    params: {{model_weight_file: '{ckpt}', top_k: 3, backend: {backend}, device: cpu}}
"""


def make_pipeline(folder: Path, size: int, backend: str) -> Path:
    import torch

    from infer_torchvision_resnext.checkpoint.format import FORMAT_VERSION, Manifest, save_checkpoint
    from infer_torchvision_resnext.models import create_model
    from infer_torchvision_resnext.recipe import Preprocessing

    torch.manual_seed(0)
    model = create_model("resnext50", num_classes=3).eval()
    manifest = Manifest(
        FORMAT_VERSION, "resnext50_32x4d", ["a", "b", "c"], Preprocessing.default(size), {}, "benchmarks"
    )
    ckpt = save_checkpoint(folder / "bench.pt", model, manifest)
    path = folder / "bench.yaml"
    path.write_text(PIPELINE.format(ckpt=ckpt, backend=backend))
    return path


def photo_bytes(path: str | None) -> bytes:
    if path:
        return Path(path).read_bytes()
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def start_server(
    pipeline: Path, max_batch: int, max_wait_ms: float, timeout_s: float = 300
) -> tuple[subprocess.Popen, str]:
    cmd = [
        sys.executable,
        "-m",
        "workflow",
        "serve",
        str(pipeline),
        "--port",
        "0",
        "--max-batch",
        str(max_batch),
        "--max-wait-ms",
        str(max_wait_ms),
        "--max-queue",
        "256",
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if line.startswith("serving "):
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, line.split(" on ")[1].split()[0]
    proc.kill()
    raise SystemExit(f"server did not start: {line.strip()}")


async def load(url: str, data: bytes, concurrency: int, requests: int) -> tuple[float, list[float]]:
    import httpx

    latencies: list[float] = []
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def one() -> None:
            async with sem:
                start = time.perf_counter()
                r = await client.post("/run", files={"image": ("x.jpg", data, "image/jpeg")})
                latencies.append(time.perf_counter() - start)
                r.raise_for_status()

        await asyncio.gather(*[one() for _ in range(min(concurrency, 4))])  # warm connections
        latencies.clear()
        start = time.perf_counter()
        await asyncio.gather(*[one() for _ in range(requests)])
        return time.perf_counter() - start, latencies


def direct(pipeline: Path, data: bytes, requests: int) -> list[float]:
    from workflow import Workflow
    from workflow.core.imaging import decode_bytes

    wf = Workflow.load(pipeline)
    wf.run_on(array=decode_bytes(data, "warm-up"))
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        wf.run_on(array=decode_bytes(data, "photo"))
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", help="pipeline to serve (default: a random-weight ResNeXt-50)")
    parser.add_argument("--size", type=int, default=96, help="input size of the default model")
    parser.add_argument("--backend", default="torch", choices=["torch", "openvino", "auto"])
    parser.add_argument("--image", help="image file sent in every request (default: a random 640x480 JPEG)")
    parser.add_argument("--requests", type=int, default=48, help="requests per concurrency level (bounded)")
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--max-wait-ms", type=float, default=10.0)
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Path(args.pipeline) if args.pipeline else make_pipeline(Path(tmp), args.size, args.backend)
        data = photo_bytes(args.image)
        print(f"cpu: {cpu_name()}; threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
        base = direct(pipeline, data, max(8, args.requests // 4))
        print(
            f"direct decode + run_on(array=): p50 {percentile(base, 50) * 1000:.1f} ms  "
            f"p95 {percentile(base, 95) * 1000:.1f} ms"
        )
        rates: dict[tuple[int, int], float] = {}
        for max_batch in (8, 1):
            proc, url = start_server(pipeline, max_batch, args.max_wait_ms)
            try:
                for c in levels:
                    elapsed, lat = asyncio.run(load(url, data, c, args.requests))
                    rates[(max_batch, c)] = len(lat) / elapsed
                    print(
                        f"max-batch {max_batch:>2}  concurrency {c:>2}: {len(lat) / elapsed:7.2f} req/s  "
                        f"p50 {percentile(lat, 50) * 1000:7.1f} ms  p95 {percentile(lat, 95) * 1000:7.1f} ms"
                    )
                    if c == 1 and max_batch == 8:
                        ratio = percentile(lat, 95) / percentile(base, 95)
                        print(f"  p95 at concurrency 1 / direct p95 = {ratio:.2f} (goal <= 1.20)")
            finally:
                proc.terminate()
                proc.wait(60)
        top = max(levels)
        if (8, top) in rates and (1, top) in rates:
            print(
                f"batching speed-up at concurrency {top}: {rates[(8, top)] / rates[(1, top)]:.2f}x (goal >= 1.5x)"
            )


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
