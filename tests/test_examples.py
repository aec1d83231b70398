"""The example notebook runs end to end, as Ikomia's notebooks do (nbclient, a real Jupyter kernel)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_ikomia_notebook_trains_then_classifies(tmp_path, monkeypatch):
    import nbclient
    import nbformat

    monkeypatch.setenv("NOTEBOOK_WORK_DIR", str(tmp_path))
    monkeypatch.setenv("WORKFLOW_OFFLINE", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    path = ROOT / "examples" / "notebooks" / "train_then_classify.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    outputs = [
        "".join(o.get("text", "") for o in cell.get("outputs", []))
        for cell in nb.cells
        if cell.cell_type == "code"
    ]
    assert "resnext50.pth" in outputs[1] and "classes.txt" in outputs[1]  # the training run's files
    assert "['0', '1', '2']" in outputs[2]  # get_names() of the trained model
    images = [o for cell in nb.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "display() drew no picture in the notebook"
    run = next((tmp_path / "models").iterdir())
    assert (run / "classes.txt").read_text().split() == ["0", "1", "2"]
    assert (tmp_path / "classify.json").is_file()
