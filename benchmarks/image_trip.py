"""Which project modules and functions one image enters on its way from ``run_on(path=)`` to its row.

The run is the tiny classifier of the serve tests (random ResNeXt-50, 32 px, torch fp32): a warm-up
run first, then the same run again under ``sys.setprofile``, counting the functions of this
repository's three packages that are entered (torch, numpy and the standard library are not counted).

    python benchmarks/image_trip.py            # prints the counts and the modules, in order of entry
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = tuple(
    str(ROOT / p) for p in ("workflow", "infer_torchvision_resnext", "train_torchvision_resnext")
)


def trip(pipeline: Path, image: Path, out: Path) -> tuple[list[str], set[tuple[str, str]]]:
    from workflow import Workflow

    wf = Workflow.load(pipeline)
    wf.run_on(path=image, output_dir=out / "warm")
    modules: list[str] = []
    functions: set[tuple[str, str]] = set()

    def profile(frame, event, _arg):
        if event != "call":
            return
        file = frame.f_code.co_filename
        if file.startswith(PACKAGES):
            module = str(Path(file).relative_to(ROOT))
            if module not in modules:
                modules.append(module)
            if "<" not in frame.f_code.co_qualname:  # comprehensions, lambdas and generator bodies aside
                functions.add((module, frame.f_code.co_qualname))

    sys.setprofile(profile)
    try:
        wf.run_on(path=image, output_dir=out / "measured")
    finally:
        sys.setprofile(None)
    return modules, functions


def main() -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "serve")]
    import cv2
    import numpy as np
    from classifier import make_checkpoint, make_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pipeline = make_pipeline(folder, make_checkpoint(folder / "tiny.pt"))
        image = folder / "photo.jpg"
        cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (240, 320, 3), np.uint8))
        modules, functions = trip(pipeline, image, folder)
    print(f"one image from run_on(path=) to its row: {len(modules)} modules, {len(functions)} functions")
    for m in modules:
        print(f"  {m:55s} {sum(1 for mod, _ in functions if mod == m):3d} functions")


if __name__ == "__main__":
    main()
