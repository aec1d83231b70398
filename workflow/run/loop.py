"""The one loop of every run: items from any Source, through the executor in batches, into the results files.

Order of a run: open the results files (carrying resumed rows over), run the static
tasks, call :meth:`Task.prepare` on the per-item tasks, ask them how small images may
be decoded, then decode and process batch after batch, writing and flushing each
batch's rows before the next. Ctrl-C is held back while rows are written. A
:class:`~workflow.core.errors.SetupError` (or any error of a strict, single-image source)
stops the run at once: the rows so far are flushed, report.json names the error,
and the exception propagates. Tasks read the run's output folder from
:func:`workflow.core.context.current_context`, opened here.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow.core.context import RunContext, run_context
from workflow.core.distributed import DistInfo
from workflow.core.errors import InputError, SetupError, WorkflowError
from workflow.core.files import atomic_write_text, dump_json
from workflow.core.progress import progress_bar
from workflow.graph.executor import execute, prepare_tasks, run_static
from workflow.graph.graph import INPUTS, Graph
from workflow.run import sharding
from workflow.run.interrupts import SigintGuard
from workflow.run.records import Recorder
from workflow.run.report import RunInterrupted, RunReport
from workflow.run.results_files import ResultsWriter, jsonl_to_json
from workflow.run.sources.base import Item, Source
from workflow.run.video_outputs import VideoOutputs

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    """How to run (see :func:`workflow.run.runner.run_on` for the meaning of each)."""

    input_name: str = ""  # the workflow input fed with the images ("" when there is none)
    extra: dict[str, Any] = field(default_factory=dict)  # other workflow inputs, the same for every item
    output_dir: Path | None = None  # absolute, already created
    batch_size: int = 1
    save_images: bool = True
    resume: bool = False
    dist: DistInfo | None = None  # set for sharded (folder) runs only


class Run:
    """State of one run: report, results writer, static outputs, interrupt guard."""

    def __init__(self, graph: Graph, source: Source, options: RunOptions):
        self.graph, self.source, self.opt = graph, source, options
        self.report = RunReport()
        self.static_cache: dict[str, dict[str, Any]] = {}
        self.start = time.perf_counter()
        self.recorder = Recorder(graph, options.output_dir, options.save_images, source.path)
        self.writer: ResultsWriter | None = None
        self.guard = SigintGuard()

    def fail(self, item: Item, reason: str) -> None:
        self.report.failed += 1
        self.report.errors.append({**item.key, "reason": " ".join(str(reason).split())})

    def finish(self, extra: dict[str, Any] | None = None) -> RunReport:
        """Close the results files, write results.json and report.json (with an output folder), fill the
        report."""
        rep, out = self.report, self.opt.output_dir
        rep.elapsed = time.perf_counter() - self.start
        rep.times["total"] = sum(v for k, v in rep.times.items() if k != "total")
        self.writer.close()
        if self.writer.csv_path is None:
            rep.rows = self.writer.rows
            return rep
        rep.results_csv, rep.results_json, rep.report_json = (
            out / "results.csv",
            out / "results.json",
            out / "report.json",
        )
        if self.writer.csv_path.parent == out:  # not a rank's part file (rank 0 merges those)
            jsonl_to_json(self.writer.jsonl_path, rep.results_json)
            atomic_write_text(rep.report_json, dump_json(self.summary_dict(self.source.describe(), extra)))
        return rep

    def summary_dict(self, source: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The content of report.json."""
        rep = self.report
        return {
            "workflow": self.graph.name,
            "source": source,
            "input": self.opt.input_name,
            "processed": rep.processed,
            "failed": rep.failed,
            "skipped": rep.skipped,
            "interrupted": rep.interrupted,
            "elapsed_s": round(rep.elapsed, 3),
            "times_s": {k: round(v, 4) for k, v in rep.times.items()},
            "errors": rep.errors,
            **(extra or {}),
        }


def run_source(graph: Graph, source: Source, options: RunOptions) -> RunReport:
    """Run ``graph`` on every item of ``source``; see the module docstring.

    Raises:
        RunInterrupted: Ctrl-C, after flushing the partial results.
        SetupError: a failure that does not depend on the item, after flushing the partial results.
    """
    run = Run(graph, source, options)
    out, dist = options.output_dir, options.dist
    sharded = dist is not None and dist.is_distributed
    parts = out / sharding.PARTS_DIR if out is not None else None
    columns = run.recorder.columns(source.key_fields)  # the header depends on the pipeline, not on the data
    if out is None:
        run.writer = ResultsWriter(None, None, source.key_fields)
    elif sharded:
        run.writer = ResultsWriter(
            parts / f"rank{dist.rank}.csv", parts / f"rank{dist.rank}.jsonl", source.key_fields, columns
        )
    else:
        run.writer = ResultsWriter(out / "results.csv", out / "results.jsonl", source.key_fields, columns)
    if out is not None and dist is not None and not sharded and not options.resume and parts.exists():
        shutil.rmtree(parts)  # stale parts of an earlier distributed run
    done = run.writer.start(
        sharding.result_files(out) if options.resume and out is not None else [], keep=source.owns
    )
    run.report.skipped = source.drop(done)
    heartbeat = sharding.Heartbeat(parts, dist.rank) if out is not None and sharded else None
    videos = (
        VideoOutputs(source, run.recorder)
        if out is not None and options.save_images and source.as_video
        else None
    )
    fatal = None
    with run.guard, run_context(RunContext(out, options.save_images)):
        try:
            if source.total() != 0:  # nothing to do (e.g. resumed to the end): no task runs
                hint = _prepare(run)
                _drive(run, source.items(hint), videos)
        except KeyboardInterrupt:
            run.report.interrupted = True
        except BaseException as exc:
            fatal = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            with run.guard.critical(reraise=False):
                extra = {"videos": videos.close() if videos is not None else {}} if source.as_video else {}
                run.finish({**extra, "fatal": fatal} if fatal else extra)
                if heartbeat is not None:
                    heartbeat.stop()
                    sharding.write_rank_report(
                        parts,
                        dist.rank,
                        {**run.summary_dict(source.describe()), "rows": run.writer.count, "fatal": fatal},
                    )
    if run.report.interrupted:
        raise RunInterrupted(run.report)
    if out is not None and dist is not None and not sharded and parts.exists():
        shutil.rmtree(parts)  # consumed by resume
    if out is not None and sharded and dist.is_main:
        sharding.merge_ranks(run, out, dist.world_size, source.describe())
    return run.report


def decode_hint(graph: Graph, input_name: str) -> int | None:
    """The smallest image side the tasks fed by ``input_name`` need, when every one of them says (else
    None)."""
    hints = [
        graph.get_task(e.dst).decode_hint(e.dst_port)
        for e in graph.edges
        if e.src == INPUTS and e.src_port == input_name
    ]
    return min(hints) if hints and all(h is not None for h in hints) else None


def _prepare(run: Run) -> int | None:
    """Static tasks, then every per-item task's prepare(), then the decode hint (which may use what prepare
    loaded)."""
    run_static(run.graph, run.static_cache, run.report.times)
    prepare_tasks(run.graph, run.static_cache, run.opt.extra)
    return decode_hint(run.graph, run.opt.input_name) if run.opt.input_name else None


def _drive(run: Run, items: Iterator[Item], videos: VideoOutputs | None) -> None:
    """Push items through the graph in batches, writing results as each batch completes."""
    unit = run.source.unit
    bar = progress_bar(total=run.source.total(), desc=run.graph.name, unit=unit) if unit else None
    batch: list[Item] = []
    try:
        for item in items:
            if item.error is not None:
                if run.source.strict:
                    raise InputError(f"{item.name}: {item.error}")
                with run.guard.critical():
                    run.fail(item, item.error)
                    if videos is not None:
                        videos.write(item, None)
                _advance(bar, 1)
                continue
            batch.append(item)
            if len(batch) >= run.opt.batch_size:
                _run_batch(run, batch, videos)
                _advance(bar, len(batch))
                batch = []
        if batch:
            _run_batch(run, batch, videos)
            _advance(bar, len(batch))
    finally:
        if bar is not None:
            bar.close()


def _advance(bar, n: int) -> None:
    if bar is not None:
        bar.update(n)


def _run_batch(run: Run, batch: list[Item], videos: VideoOutputs | None) -> None:
    opt = run.opt
    inputs = [{**opt.extra, opt.input_name: it.image} if opt.input_name else dict(opt.extra) for it in batch]
    results = execute(run.graph, inputs, run.source.strict, run.static_cache, run.report.times)
    rows: list[tuple[dict, dict] | None] = []
    for item, result in zip(batch, results):
        if result.error is not None:
            rows.append(None)
            continue
        try:
            rows.append(run.recorder.record(item.key, item.name, result.outputs, save_files=videos is None))
        except SetupError:  # e.g. the disk is full: no later item can be saved either
            raise
        except (WorkflowError, OSError, ValueError) as exc:  # could not save this item's images
            if run.source.strict:
                raise
            rows.append(None)
            result.error = str(exc)
    with run.guard.critical():  # counts, rows and frames stay consistent even under Ctrl-C
        for item, result in zip(batch, results):
            if result.error is not None:
                run.fail(item, result.error)
            else:
                run.report.processed += 1
                run.report.outputs = result.outputs
            if videos is not None:
                videos.write(item, None if result.error is not None else result.outputs)
            item.image = None
        run.writer.write([row for row in rows if row is not None])
