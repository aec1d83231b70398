"""Distributed folder runs: each rank writes its own part files, rank 0 waits for all and merges.

The ranks of one torchrun launch share nothing but the output folder: each works on
``files[rank::world_size]`` and writes ``.parts/rank{N}.csv/.jsonl``, touches a heartbeat
file while it works and writes ``rank{N}.done.json`` when it is finished. Rank 0 waits
for every done marker of the same launch (a rank silent for ``WORKFLOW_DIST_TIMEOUT``
seconds is an error), merges the parts into one ``results.csv`` sorted like a
single-process run, and removes ``.parts``. No torch import: plain files only.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from workflow.core.errors import WorkflowError
from workflow.core.files import atomic_write_text, dump_json
from workflow.run.results_files import jsonl_to_json, merge_results

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


def merge_ranks(run, out: Path, world_size: int, source: dict[str, Any]) -> None:
    """Rank 0: wait for every rank's part, merge them into results.csv/.jsonl/.json and one report.json.

    ``run`` is the rank's :class:`workflow.run.loop.Run`; its report is updated with the totals of all ranks.
    """
    import shutil

    parts = out / PARTS_DIR
    reports = wait_for_ranks(parts, world_size)
    rows = merge_results(
        [(parts / f"rank{r}.csv", parts / f"rank{r}.jsonl") for r in range(world_size)],
        out / "results.csv",
        out / "results.jsonl",
        ("path",),
        lambda key: tuple(key[0].split("/")),
    )
    rep = run.report
    rep.processed, rep.failed, rep.skipped = (
        sum(r[k] for r in reports) for k in ("processed", "failed", "skipped")
    )
    rep.errors = sorted((e for r in reports for e in r["errors"]), key=lambda e: tuple(e["path"].split("/")))
    times: dict[str, float] = {}
    for r in reports:
        for task, seconds in r["times_s"].items():
            times[task] = times.get(task, 0.0) + seconds
    rep.times = times
    rep.elapsed = time.perf_counter() - run.start
    rep.results_csv, rep.results_json, rep.report_json = (
        out / "results.csv",
        out / "results.json",
        out / "report.json",
    )
    jsonl_to_json(out / "results.jsonl", rep.results_json)
    summary = run.summary_dict(
        {**source, "rank": None},
        {
            "rows": rows,
            "ranks": [
                {
                    "rank": r["source"]["rank"],
                    **{k: r[k] for k in ("processed", "failed", "skipped", "elapsed_s")},
                }
                for r in reports
            ],
        },
    )
    atomic_write_text(rep.report_json, dump_json(summary))
    shutil.rmtree(parts)
