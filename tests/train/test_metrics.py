"""torchmetrics-based epoch metrics (checked against scikit-learn), metrics.csv/json, and the PNG plots."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from train_torchvision_resnext.metrics import EpochMetrics, MetricsLog, epoch_row
from train_torchvision_resnext.plots import plot_confusion, plot_curves

NAMES = ["cat", "dog", "bird", "fish", "frog", "owl", "ant"]


@pytest.fixture
def predictions():
    gen = torch.Generator().manual_seed(0)
    target = torch.randint(0, len(NAMES), (300,), generator=gen)
    logits = torch.randn(300, len(NAMES), generator=gen)
    logits[torch.arange(300), target] += 1.5  # better than chance, not perfect
    return logits, target


def test_epoch_metrics_agree_with_sklearn(predictions):
    logits, target = predictions
    metrics = EpochMetrics(len(NAMES))
    for chunk in range(0, 300, 64):  # accumulated over batches
        lg, tg = logits[chunk : chunk + 64], target[chunk : chunk + 64]
        metrics.update(lg, tg, torch.nn.functional.cross_entropy(lg, tg))
    out = metrics.compute()
    pred = logits.argmax(1).numpy()
    p, r, f, _ = precision_recall_fscore_support(
        target.numpy(), pred, labels=range(len(NAMES)), zero_division=0
    )
    assert out["top1"] == pytest.approx(accuracy_score(target.numpy(), pred), abs=1e-6)
    assert out["precision"] == pytest.approx(p.tolist(), abs=1e-6)
    assert out["recall"] == pytest.approx(r.tolist(), abs=1e-6)
    assert out["f1"] == pytest.approx(f.tolist(), abs=1e-6)
    assert out["f1_macro"] == pytest.approx(float(f.mean()), abs=1e-6)
    assert out["confusion"] == confusion_matrix(target.numpy(), pred, labels=range(len(NAMES))).tolist()
    assert out["loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(logits, target)), rel=1e-5)
    top5 = (logits.topk(5, 1).indices == target[:, None]).any(1).float().mean().item()
    assert out["top5"] == pytest.approx(top5, abs=1e-6)
    metrics.reset()
    metrics.update(logits[:10], target[:10], torch.tensor(0.0))
    assert sum(map(sum, metrics.compute()["confusion"])) == 10  # reset forgets the earlier batches


def _history(epochs: int = 3) -> MetricsLog:
    log = MetricsLog(NAMES)
    for e in range(1, epochs + 1):
        val = {
            "loss": 1.0 / e,
            "top1": 0.3 * e,
            "top5": 0.9,
            "precision": [0.1 * e] * 7,
            "recall": [0.2] * 7,
            "f1": [0.15] * 7,
            "precision_macro": 0.1 * e,
            "recall_macro": 0.2,
            "f1_macro": 0.15,
        }
        row = epoch_row(e, 0.01 / e, {"loss": 2.0 / e, "top1": 0.25 * e}, val, NAMES, 1.5, 100.0)
        log.add(row, np.eye(7, dtype=int).tolist())
    return log


def test_metrics_files_hold_one_row_per_epoch(tmp_path):
    log = _history(3)
    csv_path, json_path = log.write(tmp_path)
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[1]["val_top1"]) == pytest.approx(0.6)
    assert float(rows[2]["precision/owl"]) == pytest.approx(0.3) and "f1/ant" in rows[0]
    data = json.loads(json_path.read_text())
    assert data["class_names"] == NAMES and len(data["epochs"]) == 3
    assert data["epochs"][0]["confusion"] == np.eye(7, dtype=int).tolist()
    again = MetricsLog.from_dict(data)
    assert again.rows == log.rows and again.confusions == log.confusions
    again.truncate(1)
    assert len(again.rows) == len(again.confusions) == 1
    assert not list(tmp_path.glob("*.tmp-*"))  # written atomically, nothing left behind


def _valid_png(path, min_size=(300, 200)):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        im.load()
        assert im.size[0] >= min_size[0] and im.size[1] >= min_size[1]
        assert np.asarray(im.convert("L")).std() > 5  # something is drawn


def test_plots_are_valid_pngs(tmp_path):
    log = _history(4)
    _valid_png(plot_curves(log.rows, tmp_path / "curves.png"))
    confusion = (np.eye(7) * 20 + np.arange(49).reshape(7, 7) % 3).astype(int).tolist()
    _valid_png(plot_confusion(confusion, NAMES, tmp_path / "confusion.png"))
    many = [str(i) for i in range(60)]  # large class counts: no per-cell text, still a valid picture
    _valid_png(plot_confusion(np.eye(60, dtype=int).tolist(), many, tmp_path / "big.png"))
