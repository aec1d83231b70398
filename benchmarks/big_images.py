"""The model input of a big photo: ports keep the full image, preprocessing shrinks it for the model.

Times :func:`infer_torchvision_resnext.preprocess.preprocess` (the crop the model sees) on photos of several
sizes: ``exact=True`` (Pillow on the full image), Pillow with its reducing gap on the full image (what ran
before the pre-shrink, when ports carried images decoded at reduced scale) and the default (halving
pre-shrink, then Pillow); and how far the default's crop is from the exact one (mean uint8 levels). Best of
``--repeat`` runs, one process, this machine's cores.

    python benchmarks/big_images.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

SIZES = [(480, 640), (1200, 1804), (3000, 4000), (4000, 6000)]


def best_ms(fn, repeat: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: list[str] | None = None) -> int:
    import cv2
    from PIL import Image
    from skimage import data

    from infer_torchvision_resnext.preprocess import REDUCING_GAP, crop_box, preprocess
    from infer_torchvision_resnext.recipe import Preprocessing

    def pillow_gap(photo, prep):
        box = crop_box(*photo.shape[:2], prep)
        return Image.fromarray(photo).resize((prep.crop_size,) * 2, 2, box=box, reducing_gap=REDUCING_GAP)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    cat = data.chelsea()
    print(f"{cpu_name()}, OpenCV threads {cv2.getNumThreads()}")
    print(
        f"{'recipe':>16} {'photo':>10} {'exact':>9} {'gap (before)':>12} {'pre-shrunk':>11} {'vs before':>9}"
        f" {'mean diff':>9}"
    )
    for prep in (Preprocessing(224, 232), Preprocessing(224, 256)):
        for h, w in SIZES:
            photo = cv2.resize(cat, (w, h), interpolation=cv2.INTER_CUBIC)
            exact = best_ms(lambda p=photo, r=prep: preprocess(p, r, exact=True), args.repeat)
            before = best_ms(lambda p=photo, r=prep: pillow_gap(p, r), args.repeat)
            fast = best_ms(lambda p=photo, r=prep: preprocess(p, r), args.repeat)
            diff = np.abs(preprocess(photo, prep).astype(int) - preprocess(photo, prep, exact=True)).mean()
            print(
                f"{prep.crop_size}/{prep.resize_size} bilinear {h:>5}x{w:<5} {exact:>6.1f} ms {before:>9.1f} ms"
                f" {fast:>8.1f} ms {before / fast:>8.1f}x {diff:>9.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
