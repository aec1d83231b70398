"""The one run skeleton: every run opens, records, finishes and merges through :class:`Run`.

Order of a run (:meth:`Run.execute`): open the results files (carrying resumed rows over),
then, when anything is left to do, prepare (static tasks once, :meth:`Task.prepare` on the
per-item tasks) and drive the batches, writing and flushing each batch's rows
before the next; then finish (results.json, report.json, a rank's done marker) and merge
(rank 0 of a torchrun launch merges every rank's parts). Ctrl-C is held back while rows are
written. A :class:`~workflow.core.errors.SetupError` (or any error of a strict, single-image
source) stops the run at once: the rows so far are flushed, report.json names the error, and
the exception propagates. Tasks read the run's output folder from
:func:`workflow.core.context.current_context`, opened here.

Engines change only how batches are executed: a local run (and each torchrun rank) executes
them in this process with a :class:`~workflow.run.batch.BatchStep`; the Ray engine subclasses
:class:`Run` and overrides :meth:`Run.prepare` and :meth:`Run.batches` to run them on actors.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow.core.context import RunContext, run_context
from workflow.core.distributed import DistInfo
from workflow.core.errors import InputError, did_you_mean
from workflow.core.files import atomic_write_text, dump_json
from workflow.core.ports import Image
from workflow.core.progress import progress_bar
from workflow.graph.graph import Graph
from workflow.run import sharding
from workflow.run.batch import BatchStep, Outcome
from workflow.run.batch import decode_hint as decode_hint  # re-exported: workflow.serve reads it here
from workflow.run.interrupts import SigintGuard
from workflow.run.records import Recorder
from workflow.run.report import RunInterrupted, RunReport
from workflow.run.results_files import ResultsWriter, jsonl_to_json
from workflow.run.sources.base import Item, Source
from workflow.run.video_outputs import VideoOutputs

log = logging.getLogger(__name__)
DEFAULT_BATCH = 8


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


def output_folder(output_dir: str | os.PathLike | None) -> Path | None:
    """``output_dir`` created and made absolute (None stays None: results stay in memory)."""
    if output_dir is None:
        return None
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out.resolve()


def default_batch_size(graph: Graph) -> int:
    """The largest ``batch_hint()`` of the per-item tasks, else :data:`DEFAULT_BATCH`."""
    dynamic = graph.per_item_tasks()
    hints = [h for t in graph.tasks if t.id in dynamic and (h := t.batch_hint())]
    return max(hints) if hints else DEFAULT_BATCH


def image_input(graph: Graph, name: str | None) -> str:
    """The workflow input fed with the images: ``name`` when given, else the first image-typed one.

    Raises:
        InputError: ``name`` is not an input, or the workflow has no image input.
    """
    if name is not None:
        if name not in graph.inputs:
            raise InputError(
                f"workflow '{graph.name}' has no input '{name}'{did_you_mean(name, graph.inputs)}; "
                f"inputs: {', '.join(graph.inputs) or 'none'}"
            )
        return name
    for candidates in (
        [n for n, t in graph.inputs.items() if issubclass(t, Image)],
        [n for n, t in graph.inputs.items() if t.accepts(Image)],
    ):
        if candidates:
            return candidates[0]
    raise InputError(
        f"workflow '{graph.name}' has no image input; inputs: {', '.join(graph.inputs) or 'none'}"
    )


class Run:
    """One run of ``graph`` on ``source``: report, results files, static outputs, interrupt guard.

    :meth:`execute` is the skeleton every engine shares. An engine overrides only
    :meth:`prepare` (what this process sets up) and :meth:`batches` (how batches are executed),
    and may add facts to report.json with :meth:`report_extra`; counting, writing and merging
    stay here.
    """

    def __init__(self, graph: Graph, source: Source, options: RunOptions):
        self.graph, self.source, self.opt = graph, source, options
        self.report = RunReport()
        self.static_cache: dict[str, dict[str, Any]] = {}
        self.start = time.perf_counter()
        self.recorder = Recorder(graph, options.output_dir, options.save_images, source.path)
        self.writer: ResultsWriter | None = None
        self.videos: VideoOutputs | None = None
        self.heartbeat: sharding.Heartbeat | None = None
        self.step: BatchStep | None = None  # set by prepare() (in-process engines)
        self.guard = SigintGuard()
        out, dist = options.output_dir, options.dist
        self.sharded = out is not None and dist is not None and dist.is_distributed  # a torchrun rank
        self.parts = out / sharding.PARTS_DIR if out is not None else None

    # -- the skeleton -------------------------------------------------------------------------------
    def execute(self) -> RunReport:
        """Open, prepare, drive the batches, finish and merge; see the module docstring.

        Raises:
            RunInterrupted: Ctrl-C, after flushing the partial results.
            SetupError: a failure that does not depend on the item, after flushing the partial results.
        """
        self.open()
        fatal = None
        with self.guard, run_context(RunContext(self.opt.output_dir, self.opt.save_images)):
            try:
                if self.source.total() != 0:  # nothing to do (e.g. resumed to the end): no task runs
                    self.drive(self.batches(self.prepare()))
            except KeyboardInterrupt:
                self.report.interrupted = True
            except BaseException as exc:
                fatal = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                with self.guard.critical(reraise=False):
                    self.finish(fatal)
        if self.report.interrupted:
            raise RunInterrupted(self.report)
        self.merge()
        return self.report

    def open(self) -> None:
        """Clear the tasks, open the results files (a rank's part files), carry resumed rows over."""
        for task in self.graph.tasks:
            task.clear()
        out, dist, source = self.opt.output_dir, self.opt.dist, self.source
        columns = self.recorder.columns(source.key_fields)  # the header depends on the pipeline, not the data
        if out is None:
            self.writer = ResultsWriter(None, None, source.key_fields)
        elif self.sharded:
            stem = self.parts / f"rank{dist.rank}"
            self.writer = ResultsWriter(
                stem.with_suffix(".csv"), stem.with_suffix(".jsonl"), source.key_fields, columns
            )
        else:
            self.writer = ResultsWriter(
                out / "results.csv", out / "results.jsonl", source.key_fields, columns
            )
        if out is not None and dist is not None and not self.sharded and not self.opt.resume:
            if self.parts.exists():
                shutil.rmtree(self.parts)  # stale parts of an earlier distributed run
        resume_from = sharding.result_files(out) if self.opt.resume and out is not None else []
        self.report.skipped = source.drop(self.writer.start(resume_from, keep=source.owns))
        if self.sharded:
            self.heartbeat = sharding.Heartbeat(self.parts, dist.rank)
        if out is not None and self.opt.save_images and source.as_video:
            self.videos = VideoOutputs(source, self.recorder)

    def prepare(self) -> int | None:
        """Get this process ready to execute batches (static tasks, prepare()); returns the decode hint."""
        self.step = BatchStep(
            self.graph,
            self.recorder,
            self.opt.input_name,
            self.opt.extra,
            strict=self.source.strict,
            save_files=self.videos is None,
            static_cache=self.static_cache,
            reduced_decode=not self.source.strict and not self.opt.save_images,
        )
        return self.step.prepare(self.report.times)

    def batches(self, hint: int | None = None) -> Generator[list[Outcome], None, None]:
        """The outcomes of the source's items, batch after batch (a bad item alone, as soon as it is read).

        ``hint`` is what :meth:`prepare` returned: the smallest side the tasks need, when the run may
        decode at reduced scale (else None: full size).

        Raises:
            InputError: a bad item of a strict (single-image) source.
        """
        batch: list[Item] = []
        for item in self.source.items(hint):
            if item.error is not None:
                if self.source.strict:
                    raise InputError(f"{item.name}: {item.error}")
                yield [Outcome(item, error=item.error)]
                continue
            batch.append(item)
            if len(batch) >= self.opt.batch_size:
                yield self.step(batch, self.report.times)
                batch = []
        if batch:
            yield self.step(batch, self.report.times)

    def drive(self, batches: Generator[list[Outcome], None, None]) -> None:
        """Record each batch's outcomes as it comes, with a progress bar; closes ``batches`` at the end."""
        unit = self.source.unit
        bar = progress_bar(total=self.source.total(), desc=self.graph.name, unit=unit) if unit else None
        try:
            for outcomes in batches:
                self.record(outcomes)
                if bar is not None:
                    bar.update(len(outcomes))
        finally:
            batches.close()  # an engine's resources (Ray actors) go at once, also after an error
            if bar is not None:
                bar.close()

    def record(self, outcomes: list[Outcome]) -> None:
        """Count one batch's outcomes and write its rows (and video frames), all or nothing under Ctrl-C."""
        report, good = self.report, []
        with self.guard.critical():  # counts, rows and frames stay consistent even under Ctrl-C
            for outcome in outcomes:
                item = outcome.item
                if outcome.error is not None:
                    report.failed += 1
                    report.errors.append({**item.key, "reason": " ".join(str(outcome.error).split())})
                else:
                    report.processed += 1
                    if outcome.outputs is not None:
                        report.outputs = outcome.outputs
                    good.append(outcome.rows)
                if self.videos is not None:
                    self.videos.write(item, None if outcome.error is not None else outcome.outputs)
                item.image = None
            self.writer.write(good)

    def finish(self, fatal: str | None = None) -> RunReport:
        """Close the results files; write results.json and report.json (a rank: its done marker instead)."""
        rep, out = self.report, self.opt.output_dir
        rep.elapsed = time.perf_counter() - self.start
        rep.times["total"] = sum(v for k, v in rep.times.items() if k != "total")
        self.writer.close()
        extra = (
            {"videos": self.videos.close() if self.videos is not None else {}} if self.source.as_video else {}
        )
        extra = {**extra, **self.report_extra(), **({"fatal": fatal} if fatal else {})}
        if out is None:
            rep.rows = self.writer.rows
        elif not self.sharded:
            self._write_results(self.source.describe(), extra)
        else:  # rank 0 merges the parts
            rep.results_csv, rep.results_json, rep.report_json = (
                out / "results.csv",
                out / "results.json",
                out / "report.json",
            )
            self.heartbeat.stop()
            summary = {**self.summary_dict(self.source.describe()), "rows": self.writer.count, "fatal": fatal}
            sharding.write_rank_report(self.parts, self.opt.dist.rank, summary)
        return rep

    def merge(self) -> None:
        """After a finished run: rank 0 merges every rank's parts; a single process drops the parts it resumed."""
        out, dist = self.opt.output_dir, self.opt.dist
        if out is None or dist is None:
            return
        if not self.sharded:
            if self.parts.exists():
                shutil.rmtree(self.parts)  # consumed by resume
            return
        if not dist.is_main:
            return
        merged = sharding.merge_ranks(out, dist.world_size)
        rep = self.report
        rep.processed, rep.failed, rep.skipped = merged.processed, merged.failed, merged.skipped
        rep.errors, rep.times = merged.errors, merged.times
        rep.elapsed = time.perf_counter() - self.start
        self._write_results(
            {**self.source.describe(), "rank": None}, {"rows": merged.rows, "ranks": merged.ranks}
        )
        shutil.rmtree(self.parts)

    def report_extra(self) -> dict[str, Any]:
        """Facts an engine adds to report.json (the Ray engine: its actors); none here."""
        return {}

    # -- report.json --------------------------------------------------------------------------------
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

    def _write_results(self, source: dict[str, Any], extra: dict[str, Any]) -> None:
        """results.json from the JSON Lines, then report.json; the report names the three files."""
        rep, out = self.report, self.opt.output_dir
        rep.results_csv, rep.results_json, rep.report_json = (
            out / "results.csv",
            out / "results.json",
            out / "report.json",
        )
        jsonl_to_json(out / "results.jsonl", rep.results_json)
        atomic_write_text(rep.report_json, dump_json(self.summary_dict(source, extra)))


def run_source(graph: Graph, source: Source, options: RunOptions) -> RunReport:
    """Run ``graph`` on every item of ``source`` in this process; see the module docstring.

    Raises:
        RunInterrupted: Ctrl-C, after flushing the partial results.
        SetupError: a failure that does not depend on the item, after flushing the partial results.
    """
    return Run(graph, source, options).execute()
