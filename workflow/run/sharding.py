"""Distributed folder runs: each rank writes its own part files, rank 0 waits for all and merges.

The ranks of one torchrun launch share nothing but the output folder: each works on
``files[rank::world_size]`` and writes ``.parts/rank{N}.csv/.jsonl``, touches a heartbeat
file while it works and writes ``rank{N}.done.json`` when it is finished. Rank 0 waits
for every done marker of the same launch (a rank silent for ``WORKFLOW_DIST_TIMEOUT``
seconds is an error) and merges the parts into one ``results.csv`` sorted like a
single-process run; the run skeleton (:meth:`workflow.run.loop.Run.merge`) then writes the
merged report.json and removes ``.parts``. This module holds the file protocol between the
ranks, not a run of its own. No torch import: plain files only.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflow.core.errors import WorkflowError
from workflow.core.files import atomic_write_text, dump_json
from workflow.run.results_files import merge_results

PARTS_DIR = ".parts"
TIMEOUT_ENV = "WORKFLOW_DIST_TIMEOUT"


def result_files(output_dir: Path) -> list[tuple[Path, Path]]:
    """The (csv, jsonl) pairs a resumed run may carry rows over from: the merged results, then any rank
    parts."""
    pairs = [(output_dir / "results.csv", output_dir / "results.jsonl")]
    parts = output_dir / PARTS_DIR
    if parts.is_dir():
        pairs += [(p, p.with_suffix(".jsonl")) for p in sorted(parts.glob("rank*.csv"))]
    return pairs


def run_token() -> str:
    """An id shared by the ranks of one launch (so rank 0 never mistakes an old part for a new one)."""
    env = os.environ
    for key in ("WORKFLOW_RUN_ID", "TORCHELASTIC_RUN_ID"):
        if env.get(key) and env[key] != "none":
            return f"{env[key]}/{env.get('TORCHELASTIC_RESTART_COUNT', '0')}"
    return f"{env.get('MASTER_ADDR', '')}:{env.get('MASTER_PORT', '')}:{os.getppid()}"


class Heartbeat:
    """Touch ``rank{N}.alive`` every few seconds while a rank works, so rank 0 can tell a dead rank from a
    slow one."""

    def __init__(self, parts: Path, rank: int, every: float = 2.0):
        import threading

        parts.mkdir(parents=True, exist_ok=True)
        (parts / f"rank{rank}.done.json").unlink(missing_ok=True)
        self.path = parts / f"rank{rank}.alive"
        self._stop = threading.Event()
        self.path.write_text(run_token())
        self._thread = threading.Thread(
            target=self._beat, args=(every,), daemon=True, name="workflow-heartbeat"
        )
        self._thread.start()

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            self.path.write_text(run_token())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def write_rank_report(parts: Path, rank: int, summary: dict[str, Any]) -> None:
    """Mark a rank as finished: its summary plus the launch token, written atomically."""
    atomic_write_text(parts / f"rank{rank}.done.json", dump_json({**summary, "token": run_token()}))


def wait_for_ranks(
    parts: Path, world_size: int, timeout: float | None = None, poll: float = 0.2
) -> list[dict[str, Any]]:
    """Wait until every rank of this launch wrote its done marker; returns their summaries by rank.

    Raises:
        WorkflowError: a rank failed, or showed no sign of life (heartbeat) for ``timeout`` seconds
            (``WORKFLOW_DIST_TIMEOUT``, default 300).
    """
    timeout = timeout if timeout is not None else float(os.environ.get(TIMEOUT_ENV, "300"))
    token, start = run_token(), time.time()
    reports: dict[int, dict[str, Any]] = {}
    while len(reports) < world_size:
        for rank in range(world_size):
            if rank in reports:
                continue
            marker = parts / f"rank{rank}.done.json"
            try:
                data = json.loads(marker.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = None
            if data and data.get("token") == token:
                if data.get("fatal"):
                    raise WorkflowError(f"rank {rank} failed: {data['fatal']}")
                if data.get("interrupted"):
                    raise WorkflowError(
                        f"rank {rank} was interrupted; partial results in {parts} (rerun with resume)"
                    )
                reports[rank] = data
                continue
            alive = parts / f"rank{rank}.alive"
            last = max(start, alive.stat().st_mtime if alive.exists() else start)
            if time.time() - last > timeout:
                raise WorkflowError(
                    f"rank {rank} showed no sign of life for {timeout:g} s ({TIMEOUT_ENV}); "
                    f"partial results in {parts} (rerun with resume)"
                )
        if len(reports) < world_size:
            time.sleep(poll)
    return [reports[r] for r in range(world_size)]


@dataclass
class MergedRanks:
    """Rank 0's view of a finished launch: the totals of every rank and the merged row count."""

    processed: int
    failed: int
    skipped: int
    errors: list[dict[str, Any]]  # every rank's, sorted by path like a single-process run
    times: dict[str, float]  # seconds per task, summed over the ranks
    rows: int  # rows in the merged results.csv
    ranks: list[dict[str, Any]]  # per rank: rank, processed, failed, skipped, elapsed_s


def merge_ranks(out: Path, world_size: int) -> MergedRanks:
    """Rank 0: wait for every rank's done marker, merge their parts into results.csv/.jsonl; the totals.

    The parts stay (the caller removes them once report.json is written).

    Raises:
        WorkflowError: a rank failed or went silent (see :func:`wait_for_ranks`).
    """
    parts = out / PARTS_DIR
    reports = wait_for_ranks(parts, world_size)
    rows = merge_results(
        [(parts / f"rank{r}.csv", parts / f"rank{r}.jsonl") for r in range(world_size)],
        out / "results.csv",
        out / "results.jsonl",
        ("path",),
        lambda key: tuple(key[0].split("/")),
    )
    times: dict[str, float] = {}
    for r in reports:
        for task, seconds in r["times_s"].items():
            times[task] = times.get(task, 0.0) + seconds
    processed, failed, skipped = (sum(r[k] for r in reports) for k in ("processed", "failed", "skipped"))
    return MergedRanks(
        processed,
        failed,
        skipped,
        sorted((e for r in reports for e in r["errors"]), key=lambda e: tuple(e["path"].split("/"))),
        times,
        rows,
        [
            {
                "rank": r["source"]["rank"],
                **{k: r[k] for k in ("processed", "failed", "skipped", "elapsed_s")},
            }
            for r in reports
        ],
    )
