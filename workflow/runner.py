"""Run a workflow on a source: one image (path, array, url), a folder or a video.

Single images run once and raise on error. Folders and videos stream: images are
decoded ahead in worker threads (at reduced scale when every task fed says how
small it may be), go through :meth:`Workflow.run_items` in batches, and their
results are appended to ``results.csv`` / ``results.jsonl`` as they come; bad
files are listed in the report and the run carries on. See :func:`run_on`.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Iterator

from workflow.errors import InputError, WorkflowError
from workflow.ports import Image
from workflow.progress import progress_bar
from workflow.report import ResultsWriter, atomic_write_text, dump_json, jsonl_to_json, output_path
from workflow.workflow import INPUTS, Workflow

DEFAULT_BATCH = 8
SAVE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass
class RunReport:
    """What a run did. ``outputs`` are the workflow outputs of a single run (or of the last item)."""

    outputs: dict[str, Any] = field(default_factory=dict)
    processed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    results_csv: Path | None = None
    results_json: Path | None = None
    report_json: Path | None = None
    elapsed: float = 0.0
    interrupted: bool = False
    times: dict[str, float] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)  # CSV rows, kept only when there is no output_dir

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted

    def summary(self) -> str:
        """One line: counts and where the results are."""
        where = f"; results in {self.results_csv.parent}" if self.results_csv else ""
        skipped = f", {self.skipped} already done" if self.skipped else ""
        state = "interrupted" if self.interrupted else "done"
        return f"{state}: {self.processed} processed, {self.failed} failed{skipped} in {self.elapsed:.1f} s{where}"


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a folder or video run; the partial results were flushed. ``report`` says how far it got."""

    def __init__(self, report: RunReport):
        super().__init__(report.summary())
        self.report = report


@dataclass
class _Item:
    key: dict[str, Any]  # the row's identity: {"path": ...} or {"path": ..., "frame": ...}
    name: str  # relative file name, used to name saved images
    image: Any = None
    error: str | None = None


class _Run:
    """State shared by the loops of one run_on call."""

    def __init__(self, wf: Workflow, input_name: str, extra: dict[str, Any], output_dir: Path | None,
                 batch_size: int, save_images: bool, workers: int):
        self.wf, self.input_name, self.extra = wf, input_name, extra
        self.output_dir, self.batch_size, self.save_images, self.workers = output_dir, batch_size, save_images, workers
        self.report = RunReport()
        self.static_cache: dict[str, dict[str, Any]] = {}
        self.start = time.perf_counter()
        names = wf.output_names()
        self.types = {n: wf.get_task(tid).output_port(port).type for n, (tid, port) in names.items()}
        self.image_outputs = [n for n, t in self.types.items() if issubclass(t, Image)]
        self.bare_columns = len(self.types) - len(self.image_outputs) == 1
        self.writer: ResultsWriter | None = None
        self.guard = _SigintGuard()

    def fail(self, item: _Item, reason: str) -> None:
        self.report.failed += 1
        self.report.errors.append({**item.key, "reason": " ".join(str(reason).split())})

    def add_times(self) -> None:
        for tid, seconds in self.wf.get_time_metrics().items():
            if tid != "total":
                self.report.times[tid] = self.report.times.get(tid, 0.0) + seconds

    def record(self, item: _Item, outputs: dict[str, Any], save_files: bool) -> tuple[dict, dict]:
        """The CSV row and JSON record of one item; saves its image outputs when asked."""
        row, rec = dict(item.key), {**item.key, "outputs": {}}
        for name, value in outputs.items():
            dtype = self.types[name]
            for key, cell in dtype.to_row(value).items():
                row[key if self.bare_columns and key not in item.key else f"{name}.{key}"] = cell
            rec["outputs"][name] = None if value is None else dtype.to_jsonable(value)
            if save_files and value is not None and name in self.image_outputs and self.save_images and self.output_dir:
                rel = self.image_file_name(item.name, name)
                _save_image(value, output_path(self.output_dir, rel))
                rec["outputs"][name]["file"] = str(safe_rel(rel))
        return row, rec

    def image_file_name(self, name: str, output: str) -> str:
        ext = os.path.splitext(name)[1].lower()
        rel = name if ext in SAVE_EXTS else f"{name}.png"
        return f"{output}/{rel}" if len(self.image_outputs) > 1 else rel

    def finish(self, source: dict[str, Any], extra: dict[str, Any] | None = None) -> RunReport:
        """Write results.json and report.json (when there is an output folder) and fill the report."""
        rep = self.report
        rep.elapsed = time.perf_counter() - self.start
        rep.times["total"] = sum(v for k, v in rep.times.items() if k != "total")
        if self.writer is not None:
            self.writer.close()
            if self.writer.csv_path is None:
                rep.rows = self.writer.rows
        if self.output_dir is None or self.writer is None or self.writer.csv_path is None:
            return rep
        out = self.output_dir
        rep.results_csv, rep.results_json, rep.report_json = out / "results.csv", out / "results.json", out / "report.json"
        if self.writer.csv_path.parent == out:  # not a rank's part file (rank 0 merges those)
            jsonl_to_json(self.writer.jsonl_path, rep.results_json)
            atomic_write_text(rep.report_json, dump_json(self.summary_dict(source, extra)))
        return rep

    def summary_dict(self, source: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
        rep = self.report
        return {"workflow": self.wf.name, "source": source, "input": self.input_name, "processed": rep.processed,
                "failed": rep.failed, "skipped": rep.skipped, "interrupted": rep.interrupted,
                "elapsed_s": round(rep.elapsed, 3), "times_s": {k: round(v, 4) for k, v in rep.times.items()},
                "errors": rep.errors, **(extra or {})}


def safe_rel(name: str) -> PurePosixPath:
    from workflow.report import safe_relpath

    return safe_relpath(name)


def _save_image(array: Any, path: Path) -> None:
    from PIL import Image as PILImage

    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"quality": 95} if path.suffix.lower() in (".jpg", ".jpeg") else {}
    PILImage.fromarray(array).save(path, **options)


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
        resume: skip the images already in ``output_dir/results.csv`` (folder runs).
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
    run = _Run(wf, input_name, dict(extra_inputs or {}), out, size, save_images, workers or min(4, os.cpu_count() or 1))
    if kind in ("path", "array", "url"):
        return _run_single(run, kind, value, hint)
    if kind == "folder":
        from workflow.distributed import dist_info

        return _run_folder(run, Path(value), hint, resume, dist_info())
    return _run_video(run, Path(value))


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
    run = _Run(wf, "", {}, out, 1, True, 1)
    run.report.outputs = wf.run(**(extra_inputs or {}))
    run.add_times()
    run.report.processed = 1
    _write_single(run, _Item({}, wf.name), run.report.outputs, {"inputs": sorted(extra_inputs or {})})
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
    import difflib

    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def decode_hint(wf: Workflow, input_name: str) -> int | None:
    """The smallest image side the tasks fed by ``input_name`` need, when every one of them says (else None)."""
    hints = [wf.get_task(e.dst).decode_hint(e.dst_port) for e in wf.edges if e.src == INPUTS and e.src_port == input_name]
    return min(hints) if hints and all(h is not None for h in hints) else None


def _default_batch(wf: Workflow) -> int:
    dynamic = wf.per_item_tasks()
    hints = [h for t in wf.tasks if t.id in dynamic and (h := t.batch_hint())]
    return max(hints) if hints else DEFAULT_BATCH


def _run_single(run: _Run, kind: str, value: Any, hint: int | None) -> RunReport:
    from workflow.sources import load_image, load_url, url_file_name

    if kind == "path":
        image, name = load_image(value, min_side=hint), Path(value).name
    elif kind == "url":
        image, name = load_url(value, min_side=hint), url_file_name(value)
    else:
        image, name = value, "array.png"
    run.report.outputs = run.wf.run(**{run.input_name: image, **run.extra})
    run.add_times()
    run.report.processed = 1
    _write_single(run, _Item({"path": name}, name), run.report.outputs, {kind: name if kind == "array" else str(value)})
    return run.report


def _write_single(run: _Run, item: _Item, outputs: dict[str, Any], source: dict[str, Any]) -> None:
    if run.output_dir is None:
        run.finish(source)
        return
    run.writer = ResultsWriter(run.output_dir / "results.csv", run.output_dir / "results.jsonl", tuple(item.key))
    run.writer.start()
    run.writer.write([run.record(item, outputs, save_files=True)])
    run.finish(source)


def drive(run: _Run, items: Iterator[_Item], total: int | None, unit: str,
          on_done: Callable[[_Item, dict[str, Any] | None], None] | None = None, save_files: bool = True) -> None:
    """Push items through the workflow in batches, writing results as each batch completes."""
    bar = progress_bar(total=total, desc=run.wf.name, unit=unit)
    batch: list[_Item] = []
    try:
        for item in items:
            if item.error is not None:
                run.fail(item, item.error)
                if on_done:
                    on_done(item, None)
                bar.update(1)
                continue
            batch.append(item)
            if len(batch) >= run.batch_size:
                _run_batch(run, batch, on_done, save_files)
                bar.update(len(batch))
                batch = []
        if batch:
            _run_batch(run, batch, on_done, save_files)
            bar.update(len(batch))
    finally:
        bar.close()


def _run_batch(run: _Run, batch: list[_Item], on_done, save_files: bool) -> None:
    results = run.wf.run_items([{run.input_name: it.image, **run.extra} for it in batch], static_cache=run.static_cache)
    run.add_times()
    rows = [run.record(it, res.outputs, save_files) if res.error is None else None for it, res in zip(batch, results)]
    with run.guard.critical():  # counts, rows and frames stay consistent even under Ctrl-C
        for item, result in zip(batch, results):
            if result.error is not None:
                run.fail(item, result.error)
            else:
                run.report.processed += 1
                run.report.outputs = result.outputs
            if on_done:
                on_done(item, None if result.error is not None else result.outputs)
            item.image = None
        run.writer.write([row for row in rows if row is not None])


class _SigintGuard:
    """Ctrl-C raises KeyboardInterrupt at once, except inside :meth:`critical` blocks (writing results),
    where it is held until the block ends. Installed only in the main thread over Python's default handler."""

    def __init__(self):
        self.depth, self.pending, self._old = 0, False, None

    def __enter__(self) -> _SigintGuard:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        import signal

        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None

    def _handle(self, signum, frame) -> None:
        if self.depth:
            self.pending = True
            return
        raise KeyboardInterrupt

    @contextmanager
    def critical(self, reraise: bool = True):
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if reraise and self.pending and not self.depth:
            self.pending = False
            raise KeyboardInterrupt


def _run_video(run: _Run, video: Path) -> RunReport:
    from workflow.sources import background, iter_video_frames, video_info

    info = video_info(video)
    name = video.name
    out = run.output_dir
    run.writer = ResultsWriter(out / "results.csv" if out else None, out / "results.jsonl" if out else None, ("path", "frame"))
    run.writer.start()
    writers: dict[str, Any] = {}
    if out is not None and run.save_images:
        from workflow.sources import VideoWriter

        for output in run.image_outputs:
            suffix = "_annotated" if len(run.image_outputs) == 1 else f"_{output}"
            writers[output] = VideoWriter(output_path(out, f"{video.stem}{suffix}.mp4"), fps=info["fps"])
    frames = {}

    def items() -> Iterator[_Item]:
        for index, frame in background(iter_video_frames(video), 2 * run.batch_size):
            frames[index] = frame if writers else None
            yield _Item({"path": name, "frame": index}, name, image=frame)

    def on_done(item: _Item, outputs: dict[str, Any] | None) -> None:
        original = frames.pop(item.key["frame"], None)
        for output, writer in writers.items():
            value = (outputs or {}).get(output)
            writer.write(value if value is not None else original)

    source = {"video": str(video)}
    with run.guard:
        try:
            drive(run, items(), info["frames"] or None, "frame", on_done, save_files=False)
        except KeyboardInterrupt:
            run.report.interrupted = True
        finally:
            with run.guard.critical(reraise=False):
                for writer in writers.values():
                    writer.close()
                run.finish(source, {"videos": {k: str(w.path) for k, w in writers.items()}})
    if run.report.interrupted:
        raise RunInterrupted(run.report)
    return run.report


def _run_folder(run: _Run, folder: Path, hint: int | None, resume: bool, dist) -> RunReport:
    """Every image below ``folder``; under torchrun each rank takes ``files[rank::world]`` and rank 0 merges."""
    import shutil

    from workflow import report as rpt
    from workflow.sources import iter_files, load_image, prefetch

    root, out = folder.resolve(), run.output_dir
    if out is not None and out == root:
        raise InputError(f"{folder}: the output folder must differ from the input folder (saved images would overwrite inputs)")
    files = [p for p in iter_files(root) if out is None or not p.is_relative_to(out)]
    shard = files[dist.rank::dist.world_size]
    parts = out / rpt.PARTS_DIR if out is not None else None
    if out is None:
        run.writer = ResultsWriter(None, None)
    elif dist.is_distributed:
        run.writer = ResultsWriter(parts / f"rank{dist.rank}.csv", parts / f"rank{dist.rank}.jsonl")
    else:
        run.writer = ResultsWriter(out / "results.csv", out / "results.jsonl")
    sources = rpt.result_files(out) if resume and out is not None else []
    if out is not None and not dist.is_distributed and not resume and parts.exists():
        shutil.rmtree(parts)  # stale parts of an earlier distributed run
    rel = {p: p.relative_to(root).as_posix() for p in shard}
    done = run.writer.start(sources, keep={(r,) for r in rel.values()}.__contains__)
    todo = [p for p in shard if (rel[p],) not in done]
    run.report.skipped = len(shard) - len(todo)

    def decode(p: Path) -> _Item:
        item = _Item({"path": rel[p]}, rel[p])
        try:
            item.image = load_image(p, min_side=hint)
        except InputError as exc:
            item.error = str(exc).removeprefix(f"{p}: ")  # the row's path already names the file
        except Exception as exc:  # an unexpected decoder failure is still one bad file
            item.error = f"{type(exc).__name__}: {exc}"
        return item

    source = {"folder": str(folder), "files": len(files), "rank": dist.rank, "world_size": dist.world_size}
    heartbeat = rpt.Heartbeat(parts, dist.rank) if out is not None and dist.is_distributed else None
    window = max(2 * run.batch_size, 2 * run.workers)
    fatal = None
    with run.guard:
        try:
            drive(run, prefetch(decode, todo, window, run.workers), len(todo), "img")
        except KeyboardInterrupt:
            run.report.interrupted = True
        except BaseException as exc:
            fatal = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            with run.guard.critical(reraise=False):
                run.finish(source)
                if heartbeat is not None:
                    heartbeat.stop()
                    rpt.write_rank_report(parts, dist.rank, {**run.summary_dict(source), "rows": run.writer.count, "fatal": fatal})
    if run.report.interrupted:
        raise RunInterrupted(run.report)
    if out is not None and not dist.is_distributed and parts.exists():
        shutil.rmtree(parts)  # consumed by resume
    if out is not None and dist.is_distributed and dist.is_main:
        _merge_ranks(run, out, dist.world_size, source)
    return run.report


def _merge_ranks(run: _Run, out: Path, world_size: int, source: dict[str, Any]) -> None:
    """Rank 0: wait for every rank's part, merge them into results.csv/.jsonl/.json and one report.json."""
    import shutil

    from workflow import report as rpt

    parts = out / rpt.PARTS_DIR
    reports = rpt.wait_for_ranks(parts, world_size)
    rows = rpt.merge_results([(parts / f"rank{r}.csv", parts / f"rank{r}.jsonl") for r in range(world_size)],
                             out / "results.csv", out / "results.jsonl", ("path",), lambda key: tuple(key[0].split("/")))
    rep = run.report
    rep.processed, rep.failed, rep.skipped = (sum(r[k] for r in reports) for k in ("processed", "failed", "skipped"))
    rep.errors = sorted((e for r in reports for e in r["errors"]), key=lambda e: tuple(e["path"].split("/")))
    times: dict[str, float] = {}
    for r in reports:
        for task, seconds in r["times_s"].items():
            times[task] = times.get(task, 0.0) + seconds
    rep.times = times
    rep.elapsed = time.perf_counter() - run.start
    rep.results_csv, rep.results_json, rep.report_json = out / "results.csv", out / "results.json", out / "report.json"
    jsonl_to_json(out / "results.jsonl", rep.results_json)
    summary = run.summary_dict({**source, "rank": None}, {"rows": rows, "ranks": [
        {"rank": r["source"]["rank"], **{k: r[k] for k in ("processed", "failed", "skipped", "elapsed_s")}} for r in reports]})
    atomic_write_text(rep.report_json, dump_json(summary))
    shutil.rmtree(parts)
