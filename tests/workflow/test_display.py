"""display(): a PNG off-notebook (path printed and returned, removed at exit unless saved where asked), inline
figures in a notebook."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from tests.workflow.tasks_for_tests import make_registry
from workflow import PortError, Workflow
from workflow import display as display_module
from workflow.core.results import ClassificationResult, ClassScore
from workflow.display import display


@pytest.fixture(autouse=True)
def temp_dir(monkeypatch, tmp_path):
    """Keep the PNGs display() writes to the temp folder inside this test's folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()


def test_an_array_is_saved_to_a_png_whose_path_is_printed(capsys):
    path = display(skdata.astronaut(), title="astronaut")
    assert path.name.endswith("-astronaut.png") and path.is_file() and "tmp" in path.parts
    assert capsys.readouterr().out.strip() == f"saved {path} (removed at exit; save_to= keeps a copy)"
    with Image.open(path) as png:
        arr = np.asarray(png.convert("RGB"))
    assert png.width > 200 and arr.std() > 20  # the photo, not a blank canvas


def test_save_to_and_grayscale(tmp_path):
    path = display(
        np.tile(np.arange(64, dtype=np.uint8)[None, :] * 4, (16, 1)), save_to=tmp_path / "gray.png"
    )
    assert path == tmp_path / "gray.png"
    with Image.open(path) as png:
        arr = np.asarray(png.convert("L")).astype(int)
    assert (
        arr[:, : arr.shape[1] // 4].mean() < arr[:, -arr.shape[1] // 4 :].mean()
    )  # dark to bright, left to right


def test_a_task_shows_its_image_output(tmp_path):
    wf = Workflow(registry=make_registry())
    task = wf.add_task(name="invert", auto_connect=True)
    with pytest.raises(
        PortError, match=r"task 'invert' has no output data to display \(run the workflow first\)"
    ):
        display(task)
    wf.run(image=np.zeros((20, 30, 3), np.uint8))
    path = display(task, save_to=tmp_path / "t.png")
    with Image.open(path) as png:
        assert np.asarray(png.convert("L")).mean() > 200  # the inverted (white) image


def test_a_classification_is_drawn_as_bars(tmp_path):
    result = ClassificationResult([ClassScore("cat", 3, 0.9), ClassScore("dog", 5, 0.1)])
    path = display(result, title="scores", save_to=tmp_path / "c.png")
    assert path.stat().st_size > 1000


def test_an_image_file_can_be_displayed(tmp_path):
    Image.fromarray(skdata.chelsea()).save(tmp_path / "cat.jpg")
    assert display(tmp_path / "cat.jpg").name.endswith("-cat.jpg.png")


def test_things_that_cannot_be_drawn_say_so():
    with pytest.raises(PortError, match=r"cannot display object: expected an image array"):
        display(object())
    with pytest.raises(PortError, match=r"cannot display this dict: expected a ClassificationResult"):
        display({"a": "high"})
    with pytest.raises(PortError, match=r"cannot display ndarray"):
        display(np.zeros((2, 2, 7), np.uint8))


def test_in_a_notebook_the_figure_is_shown_inline(monkeypatch, tmp_path):
    shown = []
    fake_display = types.ModuleType("IPython.display")
    fake_display.display = shown.append
    fake_display.Image = lambda data, format: types.SimpleNamespace(data=data, format=format)
    fake_ipython = types.ModuleType("IPython")
    fake_ipython.display = fake_display
    fake_ipython.get_ipython = lambda: types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", fake_display)
    assert display_module.in_notebook()
    assert display(np.zeros((8, 8, 3), np.uint8), title="inline") is None
    # shown as PNG bytes, so it appears whatever matplotlib backend the kernel runs
    assert len(shown) == 1 and shown[0].format == "png" and shown[0].data.startswith(b"\x89PNG")
    assert display(np.zeros((8, 8, 3), np.uint8), save_to=tmp_path / "x.png") == tmp_path / "x.png"
    assert len(shown) == 2


def test_outside_a_notebook_nothing_is_shown_inline():
    assert not display_module.in_notebook()


def test_the_temporary_pngs_are_removed_when_python_exits(tmp_path):
    """Nothing is left in the temp folder after the interpreter that displayed exits (Ikomia shows a window and
    writes nothing)."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    code = (
        "import numpy as np, tempfile\n"
        f"tempfile.tempdir = {str(scratch)!r}\n"
        "from workflow.display import display\n"
        "a = display(np.zeros((4, 4, 3), np.uint8))\n"
        "b = display(np.zeros((4, 4, 3), np.uint8), title='again')\n"
        "assert a.is_file() and b.is_file() and a.parent == b.parent\n"
        "print(a.parent)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    folder = Path(out.stdout.split()[-1])
    assert folder.parent == scratch and folder.name.startswith("workflow-display-")
    assert list(scratch.iterdir()) == []


def test_save_to_is_kept(tmp_path):
    path = display(np.zeros((4, 4, 3), np.uint8), save_to=tmp_path / "kept" / "x.png")
    assert path == tmp_path / "kept" / "x.png" and path.is_file()


def test_io_objects_are_displayed_by_their_data(tmp_path):
    wf = Workflow(registry=make_registry())
    task = wf.add_task(name="invert", auto_connect=True)
    with pytest.raises(
        PortError, match=r"ImageIO\('image', annotated_image, no data\) has no data to display"
    ):
        display(task.get_output(0))
    wf.run(image=np.zeros((20, 30, 3), np.uint8))
    path = display(task.get_output(0), save_to=tmp_path / "io.png")
    with Image.open(path) as png:
        assert np.asarray(png.convert("L")).mean() > 200
    cls = wf.add_task(name="mean_classifier", auto_connect=True)
    wf.run(image=np.zeros((20, 30, 3), np.uint8))
    assert display(cls.get_output("classification"), save_to=tmp_path / "c.png").stat().st_size > 1000
