"""The streaming loops behind folder and video runs (see :func:`workflow.runner.run_on`).

Items are decoded ahead in threads, pushed through :meth:`Workflow.run_items` in
batches (static tasks run once per run through a shared cache), and each batch's
rows are written and flushed before the next starts. Ctrl-C is held back while a
batch's results are written, so the files always end on a complete row.
"""
from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from workflow.errors import InputError, WorkflowError
from workflow.ports import Image
from workflow.progress import progress_bar
from workflow.report import (ResultsWriter, RunInterrupted, RunReport, atomic_write_text, dump_json, jsonl_to_json,
                             output_path, safe_relpath)
from workflow.workflow import Workflow

SAVE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
log = logging.getLogger("workflow.runner")


@dataclass
class Item:
    """One image or frame on its way through a run."""

    key: dict[str, Any]  # the row's identity: {"path": ...} or {"path": ..., "frame": ...}
    name: str  # relative file name, used to name saved images
    image: Any = None
    error: str | None = None


class Run:
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
        # one always-filled table-like output: its columns need no "<output>." prefix
        optional = {n for n, (tid, port) in names.items() if wf.get_task(tid).output_port(port).optional}
        self.bare = {n for n in self.types if n not in self.image_outputs and n not in optional}
        self.bare = self.bare if len(self.bare) == 1 else set()
        self.writer: ResultsWriter | None = None
        self.guard = _SigintGuard()
        self.source_path: Path | None = None  # the input file or folder, never to be overwritten

    def fail(self, item: Item, reason: str) -> None:
        self.report.failed += 1
        self.report.errors.append({**item.key, "reason": " ".join(str(reason).split())})

    def add_times(self) -> None:
        for tid, seconds in self.wf.get_time_metrics().items():
            if tid != "total":
                self.report.times[tid] = self.report.times.get(tid, 0.0) + seconds

    def record(self, item: Item, outputs: dict[str, Any], save_files: bool) -> tuple[dict, dict]:
        """The CSV row and JSON record of one item; saves its image outputs when asked."""
        row, rec = dict(item.key), {**item.key, "outputs": {}}
        for name, value in outputs.items():
            dtype = self.types[name]
            for key, cell in dtype.to_row(value).items():
                row[key if name in self.bare and key not in item.key else f"{name}.{key}"] = cell
            rec["outputs"][name] = None if value is None else dtype.to_jsonable(value)
            if save_files and value is not None and name in self.image_outputs and self.save_images and self.output_dir:
                rel = self.image_file_name(item.name, name)
                _save_image(value, self.checked_target(output_path(self.output_dir, rel)))
                rec["outputs"][name]["file"] = safe_relpath(rel).as_posix()
        return row, rec

    def checked_target(self, target: Path) -> Path:
        """``target``, unless saving there would overwrite the input file or a file of the input folder."""
        src, out = self.source_path, self.output_dir
        if src is not None and (target == src or (src.is_dir() and target.is_relative_to(src) and not out.is_relative_to(src))):
            raise InputError(f"{target}: not saved, it would overwrite an input (choose another output folder)")
        return target

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


def _save_image(array: Any, path: Path) -> None:
    from PIL import Image as PILImage

    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"quality": 95} if path.suffix.lower() in (".jpg", ".jpeg") else {}
    PILImage.fromarray(array).save(path, **options)


def drive(run: Run, items: Iterator[Item], total: int | None, unit: str,
          on_done: Callable[[Item, dict[str, Any] | None], None] | None = None, save_files: bool = True) -> None:
    """Push items through the workflow in batches, writing results as each batch completes."""
    bar = progress_bar(total=total, desc=run.wf.name, unit=unit)
    batch: list[Item] = []
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


def _run_batch(run: Run, batch: list[Item], on_done, save_files: bool) -> None:
    results = run.wf.run_items([{run.input_name: it.image, **run.extra} for it in batch], static_cache=run.static_cache)
    run.add_times()
    rows: list[tuple[dict, dict] | None] = []
    for item, result in zip(batch, results):
        try:
            rows.append(run.record(item, result.outputs, save_files) if result.error is None else None)
        except (WorkflowError, OSError, ValueError) as exc:  # could not save this item's images
            rows.append(None)
            result.error = str(exc)
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


def run_video(run: Run, video: Path) -> RunReport:
    from workflow.sources import background, iter_video_frames, video_info

    info = video_info(video)
    name = video.name
    out = run.output_dir
    run.source_path = video.resolve()
    run.writer = ResultsWriter(out / "results.csv" if out else None, out / "results.jsonl" if out else None, ("path", "frame"))
    run.writer.start()
    writers: dict[str, Any] = {}
    if out is not None and run.save_images:
        from workflow.sources import VideoWriter

        for output in run.image_outputs:
            suffix = "_annotated" if len(run.image_outputs) == 1 else f"_{output}"
            target = run.checked_target(output_path(out, f"{video.stem}{suffix}.mp4"))
            writers[output] = VideoWriter(target, fps=info["fps"])
    frames = {}

    def items() -> Iterator[Item]:
        for index, frame in background(iter_video_frames(video), 2 * run.batch_size):
            frames[index] = frame if writers else None
            yield Item({"path": name, "frame": index}, name, image=frame)

    def on_done(item: Item, outputs: dict[str, Any] | None) -> None:
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


def run_folder(run: Run, folder: Path, hint: int | None, resume: bool, dist) -> RunReport:
    """Every image below ``folder``; under torchrun each rank takes ``files[rank::world]`` and rank 0 merges."""
    import shutil

    from workflow import sharding
    from workflow.sources import iter_files, load_image, prefetch

    root, out = folder.resolve(), run.output_dir
    if out is not None and out == root:
        raise InputError(f"{folder}: the output folder must differ from the input folder (saved images would overwrite inputs)")
    run.source_path = root
    files = iter_files(root)
    if out is not None and out.is_relative_to(root):
        kept = [p for p in files if not p.is_relative_to(out)]
        if len(kept) < len(files):
            log.warning("skipping %d image(s) inside the output folder %s", len(files) - len(kept), out)
        files = kept
    shard = files[dist.rank::dist.world_size]
    parts = out / sharding.PARTS_DIR if out is not None else None
    if out is None:
        run.writer = ResultsWriter(None, None)
    elif dist.is_distributed:
        run.writer = ResultsWriter(parts / f"rank{dist.rank}.csv", parts / f"rank{dist.rank}.jsonl")
    else:
        run.writer = ResultsWriter(out / "results.csv", out / "results.jsonl")
    sources = sharding.result_files(out) if resume and out is not None else []
    if out is not None and not dist.is_distributed and not resume and parts.exists():
        shutil.rmtree(parts)  # stale parts of an earlier distributed run
    rel = {p: p.relative_to(root).as_posix() for p in shard}
    done = run.writer.start(sources, keep={(r,) for r in rel.values()}.__contains__)
    todo = [p for p in shard if (rel[p],) not in done]
    run.report.skipped = len(shard) - len(todo)

    def decode(p: Path) -> Item:
        item = Item({"path": rel[p]}, rel[p])
        try:
            item.image = load_image(p, min_side=hint)
        except InputError as exc:
            item.error = str(exc).removeprefix(f"{p}: ")  # the row's path already names the file
        except Exception as exc:  # an unexpected decoder failure is still one bad file
            item.error = f"{type(exc).__name__}: {exc}"
        return item

    source = {"folder": str(folder), "files": len(files), "rank": dist.rank, "world_size": dist.world_size}
    heartbeat = sharding.Heartbeat(parts, dist.rank) if out is not None and dist.is_distributed else None
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
                    sharding.write_rank_report(parts, dist.rank, {**run.summary_dict(source), "rows": run.writer.count, "fatal": fatal})
    if run.report.interrupted:
        raise RunInterrupted(run.report)
    if out is not None and not dist.is_distributed and parts.exists():
        shutil.rmtree(parts)  # consumed by resume
    if out is not None and dist.is_distributed and dist.is_main:
        sharding.merge_ranks(run, out, dist.world_size, source)
    return run.report
