"""What a run did: the RunReport returned by every run, and RunInterrupted for Ctrl-C."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
    rows: list[dict[str, Any]] = field(
        default_factory=list
    )  # CSV rows, kept only when there is no output_dir

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
    """Ctrl-C stopped a folder or video run; the partial results were flushed. ``report`` says how far it
    got."""

    def __init__(self, report: RunReport):
        super().__init__(report.summary())
        self.report = report
