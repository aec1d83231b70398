"""Run a workflow on a source: one image (path, array, url), a folder or a video.

Single images run once and raise on error. Folders and videos stream: images are
decoded ahead in worker threads (at reduced scale when every task fed says how
small it may be), go through :meth:`Workflow.run_items` in batches, and their
results are appended to ``results.csv`` / ``results.jsonl`` as they come; bad
files are listed in the report and the run carries on. See :func:`run_on`.

The loops live in :mod:`workflow.streaming`, the distributed merge in
:mod:`workflow.sharding`, the results files in :mod:`workflow.report`.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Iterable

from workflow.errors import InputError, did_you_mean
from workflow.ports import Image
from workflow.report import ResultsWriter, RunInterrupted, RunReport
from workflow.streaming import Item, Run, run_folder, run_video
from workflow.workflow import INPUTS, Workflow

__all__ = ["run_on", "run_inputs", "run_once", "RunReport", "RunInterrupted", "decode_hint"]
DEFAULT_BATCH = 8
log = logging.getLogger("workflow.runner")


# -- public entry points --------------------------------------------------------
def run_on(wf: Workflow, *, path: str | os.PathLike | None = None, array: Any = None, folder: str | os.PathLike | None = None,
           video: str | os.PathLike | None = None, url: str | None = None, input: str | None = None,
           output_dir: str | os.PathLike | None = None, batch_size: int | None = None, save_images: bool = True,
           resume: bool = False, workers: int | None = None, extra_inputs: dict[str, Any] | None = None) -> RunReport:
    """Run ``wf`` on exactly one source; fresh inputs on every call.

    Args:
        path, array, url: one image; runs once and raises on any error (naming the file).
        folder: every image below it (recursive, sorted); bad files go to ``report.errors``.
        video: every frame (a ``frame`` column in the results).
        input: the workflow input fed with the images (default: the first image-typed one).
        output_dir: where results.csv/.json, report.json and saved images go (folder structure kept).
            Without it, folder/video rows are returned in ``report.rows``.
        batch_size: items per batch (default: the largest ``batch_hint()`` of the per-item tasks, else 8).
        save_images: save image-typed outputs (annotated images; for video, an annotated video).
        resume: skip the images already in ``output_dir/results.csv`` (folder runs; videos start over).
        workers: decoding threads (default: up to 4).
        extra_inputs: values for other workflow inputs, the same for every item.

    Raises:
        InputError: a bad source (single images), or not exactly one source given.
        RunInterrupted: Ctrl-C during a folder/video run, after flushing the partial results.
    """
    sources = {k: v for k, v in dict(path=path, array=array, folder=folder, video=video, url=url).items() if v is not None}
    if len(sources) != 1:
        given = ", ".join(sources) or "none"
        raise InputError(f"run_on needs exactly one of path=, array=, folder=, video=, url= (got {given})")
    kind, value = next(iter(sources.items()))
    wf.validate()
    input_name = _image_input(wf, input)
    out = Path(output_dir) if output_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        out = out.resolve()
    for task in wf.tasks:
        task.clear()
        if out is not None:
            task.output_dir = out
    hint = decode_hint(wf, input_name)
    size = batch_size or _default_batch(wf)
    run = Run(wf, input_name, dict(extra_inputs or {}), out, size, save_images, workers or min(4, os.cpu_count() or 1))
    if kind in ("path", "array", "url"):
        return _run_single(run, kind, value, hint)
    if kind == "folder":
        from workflow.distributed import dist_info

        return run_folder(run, Path(value), hint, resume, dist_info())
    if resume:
        log.warning("resume applies to folder runs; the video %s is processed from its first frame", value)
    return run_video(run, Path(value))


def run_inputs(wf: Workflow, inputs: dict[str, str], output_dir: str | os.PathLike | None = None, resume: bool = False,
               save_images: bool = True, **options: Any) -> RunReport:
    """Run on inputs given as strings (the CLI's ``--input name=PATH``), choosing the source from each value.

    The first image-typed input's value picks the source: an ``http(s)://`` url, a folder, a
    video file (by extension) or an image file. Other image inputs are read once; non-image
    inputs (paths, models) are passed as they are. A workflow that needs no input runs once.

    Raises:
        InputError: unknown input name (with a suggestion), a missing required input, a missing file.
    """
    from workflow.sources import VIDEO_EXTS, is_url, load_image, load_url

    for name in inputs:
        if name not in wf.inputs:
            raise InputError(f"workflow '{wf.name}' has no input '{name}'{_suggest(name, wf.inputs)}; "
                             f"inputs: {', '.join(wf.inputs) or 'none'}")
    used = [n for n in wf.inputs if any(e.src == INPUTS and e.src_port == n for e in wf.edges)]
    missing = [n for n in used if n not in inputs]
    if missing:
        raise InputError(f"workflow '{wf.name}' needs input '{missing[0]}' ({wf.inputs[missing[0]].label}): "
                         f"give it as --input {missing[0]}=PATH")
    images = [n for n in inputs if issubclass(wf.inputs[n], Image)]
    extra: dict[str, Any] = {}
    for name, value in inputs.items():
        if name in images[1:]:
            extra[name] = load_url(value) if is_url(value) else load_image(value)
        elif name not in images:
            extra[name] = value
    if not images:
        return run_once(wf, output_dir, extra_inputs=extra)
    name, value = images[0], str(inputs[images[0]])
    common = dict(input=name, output_dir=output_dir, save_images=save_images, extra_inputs=extra, **options)
    if is_url(value):
        return run_on(wf, url=value, **common)
    target = Path(value)
    if target.is_dir():
        return run_on(wf, folder=target, resume=resume, **common)
    if not target.exists():
        raise InputError(f"{value}: no such file or folder (input '{name}')")
    if target.suffix.lower() in VIDEO_EXTS:
        return run_on(wf, video=target, **common)
    return run_on(wf, path=target, **common)


def run_once(wf: Workflow, output_dir: str | os.PathLike | None = None, extra_inputs: dict[str, Any] | None = None) -> RunReport:
    """Run a workflow that takes no images once; outputs go to ``output_dir/results.json`` (and images next to it)."""
    wf.validate()
    out = Path(output_dir).resolve() if output_dir is not None else None
    for task in wf.tasks:
        task.clear()
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            task.output_dir = out
    run = Run(wf, "", {}, out, 1, True, 1)
    run.report.outputs = wf.run(**(extra_inputs or {}))
    run.add_times()
    run.report.processed = 1
    _write_single(run, Item({}, wf.name), run.report.outputs, {"inputs": sorted(extra_inputs or {})})
    return run.report


# -- helpers ----------------------------------------------------------------------
def _image_input(wf: Workflow, name: str | None) -> str:
    if name is not None:
        if name not in wf.inputs:
            raise InputError(f"workflow '{wf.name}' has no input '{name}'{_suggest(name, wf.inputs)}; "
                             f"inputs: {', '.join(wf.inputs) or 'none'}")
        return name
    for candidates in ([n for n, t in wf.inputs.items() if issubclass(t, Image)], [n for n, t in wf.inputs.items() if t.accepts(Image)]):
        if candidates:
            return candidates[0]
    raise InputError(f"workflow '{wf.name}' has no image input; inputs: {', '.join(wf.inputs) or 'none'}")


def _suggest(name: str, options: Iterable[str]) -> str:
    return did_you_mean(name, options)


def decode_hint(wf: Workflow, input_name: str) -> int | None:
    """The smallest image side the tasks fed by ``input_name`` need, when every one of them says (else None)."""
    hints = [wf.get_task(e.dst).decode_hint(e.dst_port) for e in wf.edges if e.src == INPUTS and e.src_port == input_name]
    return min(hints) if hints and all(h is not None for h in hints) else None


def _default_batch(wf: Workflow) -> int:
    dynamic = wf.per_item_tasks()
    hints = [h for t in wf.tasks if t.id in dynamic and (h := t.batch_hint())]
    return max(hints) if hints else DEFAULT_BATCH


def _run_single(run: Run, kind: str, value: Any, hint: int | None) -> RunReport:
    from workflow.sources import load_image, load_url, url_file_name

    if kind == "path":
        image, name = load_image(value, min_side=hint), Path(value).name
        run.source_path = Path(value).resolve()
    elif kind == "url":
        image, name = load_url(value, min_side=hint), url_file_name(value)
    else:
        image, name = value, "array.png"
    run.report.outputs = run.wf.run(**{run.input_name: image, **run.extra})
    run.add_times()
    run.report.processed = 1
    _write_single(run, Item({"path": name}, name), run.report.outputs, {kind: name if kind == "array" else str(value)})
    return run.report


def _write_single(run: Run, item: Item, outputs: dict[str, Any], source: dict[str, Any]) -> None:
    if run.output_dir is None:
        run.finish(source)
        return
    run.writer = ResultsWriter(run.output_dir / "results.csv", run.output_dir / "results.jsonl", tuple(item.key))
    run.writer.start()
    run.writer.write([run.record(item, outputs, save_files=True)])
    run.finish(source)
