"""Show an image, a task's image output or a port's data the way a notebook user expects.

In a Jupyter kernel the figure is drawn inline and nothing is written unless ``save_to``
says where. Anywhere else it is saved to a PNG whose path is printed and returned (no
window, no GUI backend needed): in ``save_to``, else in a private temporary folder that
is removed when the interpreter exits, so nothing is left behind.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from workflow.core.errors import PortError

_counter = itertools.count(1)


def in_notebook() -> bool:
    """True inside a Jupyter (IPython kernel) session."""
    import sys

    if "IPython" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def display(obj: Any, title: str | None = None, save_to: str | os.PathLike | None = None) -> Path | None:
    """Show ``obj``: an HxW(x3) image array, a Task (its image output), an IO object (``task.get_output(i)``),
    an image file, a classification, detections.

    Args:
        title: shown above the figure and used in the PNG's name.
        save_to: also (or, outside notebooks, instead of a temporary file removed at exit) save the PNG here.

    Returns:
        The PNG's path when one was written, else None.

    Raises:
        PortError: a Task or IO object without data, or an object that cannot be shown.
    """
    from workflow.core.io import TaskIO
    from workflow.core.task import Task

    if isinstance(obj, Task):
        obj, title = _task_payload(obj), title or obj.id
    if isinstance(obj, TaskIO):
        if not obj.is_data_available():
            raise PortError(f"{obj!r} has no data to display (run the workflow first)")
        obj, title = obj.data, title or obj.name
    if isinstance(obj, (str, Path)):
        from workflow.core.imaging import load_image

        title = title or Path(obj).name
        obj = load_image(obj)
    fig = _figure(obj, title)
    path = None
    if save_to is not None or not in_notebook():
        path = Path(save_to) if save_to is not None else _temp_png(title)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, bbox_inches="tight", dpi=100)
        print(f"saved {path}" + ("" if save_to is not None else " (removed at exit; save_to= keeps a copy)"))
    if in_notebook():  # as PNG bytes: shows whatever matplotlib backend the kernel runs
        import io

        from IPython.display import Image as IPythonImage
        from IPython.display import display as show

        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight", dpi=100)
        show(IPythonImage(data=buf.getvalue(), format="png"))
    return path


def _task_payload(task) -> Any:
    """The task's first image output holding data, else its first output holding data."""
    from workflow.core.ports import Image

    ports = sorted(task.outputs, key=lambda p: not issubclass(p.type, Image))
    for port in ports:
        value = task.port_values("output").get(port.name)
        if value is not None:
            return value
    raise PortError(f"task '{task.id}' has no output data to display (run the workflow first)")


def _figure(obj: Any, title: str | None):
    from matplotlib.figure import Figure

    from workflow.core.results import ClassificationResult, ClassScore, DetectionsResult, as_classification

    if isinstance(obj, DetectionsResult):  # ROI mode's get_results(): one bar per box, "#i label"
        obj = ClassificationResult(
            ClassScore(f"#{i} {det['label'] or ''}".strip(), i, det["score"] or 0.0)
            for i, det in enumerate(obj)
        )
    elif isinstance(obj, (list, tuple, dict)):  # what get_results() returns: ClassScore list, (label, score)
        try:
            obj = as_classification(obj)
        except TypeError as exc:
            raise PortError(f"cannot display this {type(obj).__name__}: {exc}") from None
    if isinstance(obj, ClassificationResult):
        fig = Figure(figsize=(5, 0.4 * max(len(obj), 1) + 1))
        ax = fig.add_subplot()
        labels = [c.label for c in obj][::-1]
        ax.barh(labels, [c.score for c in obj][::-1], color="tab:blue")
        ax.set_xlim(0, 1)
        ax.set_xlabel("score")
    else:
        import numpy as np

        if (
            not isinstance(obj, np.ndarray)
            or obj.ndim not in (2, 3)
            or (obj.ndim == 3 and obj.shape[2] not in (1, 3, 4))
        ):
            raise PortError(
                f"cannot display {type(obj).__name__}: expected an image array, a Task, an image file, "
                "a ClassificationResult (or a list of ClassScore) or a DetectionsResult"
            )
        height, width = obj.shape[:2]
        scale = 6 / max(height, width, 1)
        fig = Figure(figsize=(max(width * scale, 1), max(height * scale, 1)))
        ax = fig.add_axes((0, 0, 1, 0.92 if title else 1))
        ax.imshow(
            obj[..., 0] if obj.ndim == 3 and obj.shape[2] == 1 else obj,
            cmap="gray" if obj.ndim == 2 or obj.shape[2] == 1 else None,
            interpolation="nearest" if max(height, width) < 64 else "antialiased",
        )
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig


@functools.cache
def _temp_folder(parent: str) -> Path:
    """This process's private folder for shown figures inside ``parent`` (``mkdtemp``: a name nobody could
    plant a link at), removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="workflow-display-", dir=parent))
    atexit.register(_remove, folder)
    return folder


def _remove(folder: Path) -> None:
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        pass  # removed already: nothing left behind
    except OSError as exc:  # at exit nobody can catch it: say what stays behind
        print(f"workflow.display: could not remove {folder}: {exc}", file=sys.stderr)


def _temp_png(title: str | None) -> Path:
    stem = re.sub(r"[^\w.-]+", "_", title or "image").strip("._") or "image"
    folder = _temp_folder(tempfile.gettempdir())
    folder.mkdir(exist_ok=True)  # a folder someone removed by hand is made again
    return folder / f"{next(_counter):03d}-{stem[:60]}.png"
