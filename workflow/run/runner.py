"""Run a graph on a source: one image (path, array, url), a folder, a video, or no image at all.

Every kind of source goes through the same loop (:func:`workflow.run.loop.run_source`),
so one image and a folder share one write path. Single images raise on error; folders
and videos record bad files in the report and carry on. Folders are decoded ahead in
threads, at full size (the images on the ports are the files' own). See :func:`run_on`.

A folder goes to a workflow in one of two ways (Ikomia's rule, :func:`folder_input`): when no
task takes an image from the workflow's inputs and one takes a folder (a dataset or path input),
the folder itself is fed to it, once (e.g. training); otherwise its images are run one by one.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from workflow.core.distributed import dist_info
from workflow.core.errors import InputError, did_you_mean
from workflow.core.imaging import load_image
from workflow.core.ports import Dataset, DataType, Image
from workflow.core.ports import Path as PathType
from workflow.graph.graph import INPUTS, Graph
from workflow.run.loop import RunOptions, default_batch_size, image_input, output_folder, run_source
from workflow.run.report import RunInterrupted, RunReport
from workflow.run.sources import (
    VIDEO_EXTS,
    ArraySource,
    FolderSource,
    NoImageSource,
    PathSource,
    Source,
    UrlSource,
    VideoSource,
    is_url,
    load_url,
)

__all__ = [
    "run_on",
    "run_inputs",
    "run_once",
    "folder_input",
    "takes_folder",
    "takes_images",
    "RunReport",
    "RunInterrupted",
]
log = logging.getLogger(__name__)


def run_on(
    graph: Graph,
    *,
    path: str | os.PathLike | None = None,
    array: Any = None,
    folder: str | os.PathLike | None = None,
    video: str | os.PathLike | None = None,
    url: str | None = None,
    input: str | None = None,
    output_dir: str | os.PathLike | None = None,
    batch_size: int | None = None,
    save_images: bool = True,
    resume: bool = False,
    workers: int | None = None,
    extra_inputs: dict[str, Any] | None = None,
) -> RunReport:
    """Run ``graph`` on exactly one source; fresh inputs on every call.

    Args:
        path, array, url: one image; runs once and raises on any error (naming the file).
        folder: every image below it (recursive, sorted); bad files go to ``report.errors``. Or the
            folder itself, once, when the workflow takes a folder rather than images (:func:`folder_input`).
        video: every frame (a ``frame`` column in the results).
        input: the workflow input fed with the images (default: the first image-typed one), or with the
            folder itself when it is a dataset or path input.
        output_dir: where results.csv/.json, report.json and saved images go (folder structure kept).
            Without it, rows are returned in ``report.rows``.
        batch_size: items per batch (default: the largest ``batch_hint()`` of the per-item tasks, else 8).
        save_images: save image-typed outputs (annotated images; for video, an annotated video).
        resume: skip the images already in ``output_dir/results.csv`` (folder runs; videos start over).
        workers: decoding threads (default: up to 4).
        extra_inputs: values for other workflow inputs, the same for every item.

    Raises:
        InputError: a bad source (single images), or not exactly one source given.
        SetupError: a failure that does not depend on the image; the run stops at once.
        RunInterrupted: Ctrl-C, after flushing the partial results.
    """
    given = {
        k: v
        for k, v in dict(path=path, array=array, folder=folder, video=video, url=url).items()
        if v is not None
    }
    if len(given) != 1:
        raise InputError(
            f"run_on needs exactly one of path=, array=, folder=, video=, url= (got {', '.join(given) or 'none'})"
        )
    kind, value = next(iter(given.items()))
    graph.validate()
    if kind == "folder":
        target = folder_input(graph, input)
        if target is not None:
            if not Path(value).is_dir():
                raise InputError(f"{value}: not a folder (input '{target}')")
            return run_once(graph, output_dir, extra_inputs={**(extra_inputs or {}), target: Path(value)})
    input_name = image_input(graph, input)
    out = output_folder(output_dir)
    size = batch_size or default_batch_size(graph)
    workers = workers or min(4, os.cpu_count() or 1)
    options = RunOptions(input_name, dict(extra_inputs or {}), out, size, save_images)
    source: Source
    if kind == "folder":
        dist = dist_info()
        source = FolderSource(value, out, dist.rank, dist.world_size, workers, max(2 * size, 2 * workers))
        options.resume, options.dist = resume, dist
    elif kind == "video":
        if resume:
            log.warning(
                "resume applies to folder runs; the video %s is processed from its first frame", value
            )
        source = VideoSource(value, ahead=2 * size)
    else:
        source = (
            PathSource(value) if kind == "path" else UrlSource(value) if kind == "url" else ArraySource(value)
        )
    return run_source(graph, source, options)


def takes_images(dtype: type[DataType]) -> bool:
    """Whether a workflow input of this type is fed with images (an image type, or one that accepts any)."""
    return issubclass(dtype, Image) or dtype.accepts(Image)


def takes_folder(dtype: type[DataType]) -> bool:
    """Whether a port of this type takes a folder: a path or a dataset (not a model file, not 'any')."""
    return issubclass(dtype, PathType) and dtype.accepts(Dataset)


def folder_input(graph: Graph, name: str | None = None) -> str | None:
    """The workflow input a folder run feeds the folder itself to, or None: its images are run one by one.

    With ``name``: that input, unless it takes images. Without: when no task consumes an image input
    of the workflow, the first consumed input that takes a folder (:func:`takes_folder`), as Ikomia
    runs a folder input that a task takes as a path once instead of image by image.

    Raises:
        InputError: ``name`` is not an input of the workflow (with a suggestion), or takes neither images
            nor a folder.
    """
    if name is not None:
        if name not in graph.inputs:
            raise InputError(
                f"workflow '{graph.name}' has no input '{name}'{did_you_mean(name, graph.inputs)}; "
                f"inputs: {', '.join(graph.inputs) or 'none'}"
            )
        dtype = graph.inputs[name]
        if takes_images(dtype):
            return None
        if not takes_folder(dtype):
            raise InputError(
                f"workflow '{graph.name}': input '{name}' ({dtype.label}) takes neither images nor a folder"
            )
        return name
    consumed = [n for n in graph.inputs if any(e.src == INPUTS and e.src_port == n for e in graph.edges)]
    if any(takes_images(graph.inputs[n]) for n in consumed):
        return None
    return next((n for n in consumed if takes_folder(graph.inputs[n])), None)


def run_inputs(
    graph: Graph,
    inputs: dict[str, str],
    output_dir: str | os.PathLike | None = None,
    resume: bool = False,
    save_images: bool = True,
    **options: Any,
) -> RunReport:
    """Run on inputs given as strings (the CLI's ``--input name=PATH``), choosing the source from each value.

    The first image-typed input's value picks the source: an ``http(s)://`` url, a folder, a
    video file (by extension) or an image file. Other image inputs are read once; non-image
    inputs (paths, models) are passed as they are. A workflow that needs no input runs once.

    Raises:
        InputError: unknown input name (with a suggestion), a missing required input, a missing file.
    """
    for name in inputs:
        if name not in graph.inputs:
            raise InputError(
                f"workflow '{graph.name}' has no input '{name}'{did_you_mean(name, graph.inputs)}; "
                f"inputs: {', '.join(graph.inputs) or 'none'}"
            )
    used = [n for n in graph.inputs if any(e.src == INPUTS and e.src_port == n for e in graph.edges)]
    missing = [n for n in used if n not in inputs]
    if missing:
        raise InputError(
            f"workflow '{graph.name}' needs input '{missing[0]}' ({graph.inputs[missing[0]].label}): "
            f"give it as --input {missing[0]}=PATH"
        )
    images = [n for n in inputs if issubclass(graph.inputs[n], Image)]
    extra: dict[str, Any] = {}
    for name, value in inputs.items():
        if name in images[1:]:
            extra[name] = load_url(value) if is_url(value) else load_image(value)
        elif name not in images:
            extra[name] = value
    if not images:
        return run_once(graph, output_dir, extra_inputs=extra)
    name, value = images[0], str(inputs[images[0]])
    common = dict(input=name, output_dir=output_dir, save_images=save_images, extra_inputs=extra, **options)
    if is_url(value):
        return run_on(graph, url=value, **common)
    target = Path(value)
    if target.is_dir():
        return run_on(graph, folder=target, resume=resume, **common)
    if not target.exists():
        raise InputError(f"{value}: no such file or folder (input '{name}')")
    if target.suffix.lower() in VIDEO_EXTS:
        return run_on(graph, video=target, **common)
    return run_on(graph, path=target, **common)


def run_once(
    graph: Graph, output_dir: str | os.PathLike | None = None, extra_inputs: dict[str, Any] | None = None
) -> RunReport:
    """Run a workflow that takes no images once; outputs go to ``output_dir/results.json`` (and images next to
    it)."""
    graph.validate()
    extra = dict(extra_inputs or {})
    return run_source(
        graph, NoImageSource(graph.name, list(extra)), RunOptions("", extra, output_folder(output_dir))
    )
