"""Results files of a run: safe output paths, incremental CSV + JSON Lines, resume and merge.

A run writes ``results.csv`` (one flat row per image or frame) and ``results.jsonl``
(one full JSON record per row) as it goes, flushing after every batch, then
``results.json`` (the records as one JSON array) at the end. A row counts as done
only when both files hold it complete, so a run killed at any point resumes
without losing or repeating rows.
"""
from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable

from workflow.errors import WorkflowError

_ODD = re.compile(r"[^\w.\- ()+,@=~]")


def safe_relpath(name: str, max_part: int = 120) -> PurePosixPath:
    """A relative path made from ``name`` that cannot leave the folder it is joined to.

    Drops empty, ``.`` and ``..`` parts and drive/root prefixes, turns ``\\`` into ``/``, replaces
    control and shell-odd characters by ``_`` and shortens long parts. Never empty.
    """
    parts = []
    raw = str(name).replace("\\", "/").split("/")
    if re.fullmatch(r"[A-Za-z]:", raw[0]):  # a Windows drive such as "C:"
        raw = raw[1:]
    for part in raw:
        part = _ODD.sub("_", part).strip(" ")
        if part in ("", ".", "..") or set(part) == {"."}:
            continue
        if len(part) > max_part:
            stem, dot, ext = part.rpartition(".")
            part = (stem[: max_part - len(ext) - 1] + dot + ext) if dot and len(ext) < 10 else part[:max_part]
        parts.append(part)
    return PurePosixPath(*parts) if parts else PurePosixPath("_")


def output_path(output_dir: str | os.PathLike, name: str, suffix: str | None = None) -> Path:
    """``output_dir / safe_relpath(name)`` (with ``suffix`` replacing the extension), checked to stay inside.

    Raises:
        WorkflowError: the result would resolve outside ``output_dir`` (e.g. through a symlink).
    """
    rel = safe_relpath(name)
    if suffix is not None:
        rel = rel.with_suffix(suffix) if rel.suffix else rel.with_name(rel.name + suffix)
    root = Path(output_dir).resolve()
    path = root.joinpath(*rel.parts)
    resolved = path.resolve()
    if os.path.commonpath([root, resolved]) != str(root):
        raise WorkflowError(f"{name}: output file would be written outside {output_dir}")
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file through a temporary file and a rename (readers never see half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n"


def row_key(row: dict[str, Any], key_fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(str(row.get(k, "")) for k in key_fields)


def read_rows(csv_path: Path, jsonl_path: Path, key_fields: tuple[str, ...]) -> tuple[list[str], dict[tuple, tuple[dict, str]]]:
    """Complete rows present in both files: ``(csv header, {key: (csv row, json line)})``.

    A half-written last line (a run killed mid-write) and rows missing from either file are left out.
    """
    if not (csv_path.is_file() and jsonl_path.is_file()):
        return [], {}
    records: dict[tuple, str] = {}
    for line in _complete_lines(jsonl_path):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.setdefault(row_key(record, key_fields), line)
    reader = csv.DictReader(_complete_lines(csv_path, keep_ends=True))
    header = list(reader.fieldnames or [])
    rows: dict[tuple, tuple[dict, str]] = {}
    for row in reader:
        if None in row or any(v is None for v in row.values()):
            continue  # wrong number of fields
        key = row_key(row, key_fields)
        if key in records and key not in rows:
            rows[key] = (row, records[key])
    return header, rows


def _complete_lines(path: Path, keep_ends: bool = False) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # drop a half-written last line
    return text.splitlines(keepends=True) if keep_ends else text.splitlines()


class ResultsWriter:
    """Append rows to a CSV and records to a JSON Lines file, flushed after every :meth:`write`.

    Without paths (``csv_path=None``) rows are kept in memory (``self.rows``) instead.

    Args:
        csv_path, jsonl_path: the files, or None for in-memory rows.
        key_fields: columns that identify a row (``("path",)`` or ``("path", "frame")``).
    """

    def __init__(self, csv_path: Path | None, jsonl_path: Path | None, key_fields: tuple[str, ...] = ("path",)):
        self.csv_path, self.jsonl_path = csv_path, jsonl_path
        self.key_fields = key_fields
        self.header: list[str] = list(key_fields)
        self.rows: list[dict[str, Any]] = []
        self.count = 0
        self._csv_fp = self._jsonl_fp = None
        self._writer: csv.DictWriter | None = None

    def start(self, resume_from: Iterable[tuple[Path, Path]] = (), keep: Callable[[tuple], bool] | None = None) -> set[tuple]:
        """Open the files; with ``resume_from`` pairs, first carry over their complete rows (those ``keep`` accepts).

        Returns:
            The keys of the rows carried over (already done).
        """
        carried: dict[tuple, tuple[dict, str]] = {}
        header: list[str] = list(self.key_fields)
        for csv_path, jsonl_path in resume_from:
            cols, rows = read_rows(csv_path, jsonl_path, self.key_fields)
            header += [c for c in cols if c not in header]
            for key, value in rows.items():
                if (keep is None or keep(key)) and key not in carried:
                    carried[key] = value
        if self.csv_path is None:
            return set(carried)
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        self.header = header if carried else list(self.key_fields)
        tmp_csv = self.csv_path.with_name(f".{self.csv_path.name}.{os.getpid()}.tmp")
        tmp_jsonl = self.jsonl_path.with_name(f".{self.jsonl_path.name}.{os.getpid()}.tmp")
        with open(tmp_csv, "w", newline="", encoding="utf-8") as fc, open(tmp_jsonl, "w", encoding="utf-8") as fj:
            if carried:
                writer = csv.DictWriter(fc, self.header, restval="", lineterminator="\n")
                writer.writeheader()
                for row, line in carried.values():
                    writer.writerow(row)
                    fj.write(line + "\n")
        os.replace(tmp_jsonl, self.jsonl_path)  # jsonl first: a row counts only once both files hold it
        os.replace(tmp_csv, self.csv_path)
        self.count = len(carried)
        self._open(header_written=bool(carried))
        return set(carried)

    def _open(self, header_written: bool) -> None:
        self._csv_fp = open(self.csv_path, "a", newline="", encoding="utf-8")
        self._jsonl_fp = open(self.jsonl_path, "a", encoding="utf-8")
        self._writer = csv.DictWriter(self._csv_fp, self.header, restval="", lineterminator="\n")
        self._header_written = header_written

    def write(self, rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """Append ``(csv row, json record)`` pairs and flush both files."""
        if not rows:
            return
        self.count += len(rows)
        if self.csv_path is None:
            self.rows.extend(row for row, _ in rows)
            return
        new_cols = [c for row, _ in rows for c in row if c not in self.header]
        if new_cols:
            self._extend_header(list(dict.fromkeys(new_cols)))
        if not self._header_written:
            self._writer.writeheader()
            self._header_written = True
        for row, _ in rows:
            self._writer.writerow(row)
        self._csv_fp.flush()
        self._jsonl_fp.write("".join(json.dumps(rec, default=str, ensure_ascii=False) + "\n" for _, rec in rows))
        self._jsonl_fp.flush()

    def _extend_header(self, new_cols: list[str]) -> None:
        """Add columns: rewrite the rows written so far under the wider header (rare: first rows lacked them)."""
        self.header += new_cols
        if not self._header_written:
            self._writer = csv.DictWriter(self._csv_fp, self.header, restval="", lineterminator="\n")
            return
        self._csv_fp.close()
        with open(self.csv_path, newline="", encoding="utf-8") as fp:
            old = list(csv.DictReader(fp))
        tmp = self.csv_path.with_name(f".{self.csv_path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as fp:
            writer = csv.DictWriter(fp, self.header, restval="", lineterminator="\n")
            writer.writeheader()
            writer.writerows(old)
        os.replace(tmp, self.csv_path)
        self._csv_fp = open(self.csv_path, "a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._csv_fp, self.header, restval="", lineterminator="\n")

    def close(self) -> None:
        for fp in (self._csv_fp, self._jsonl_fp):
            if fp is not None and not fp.closed:
                fp.close()
        if self.csv_path is not None and not self._header_written and self._csv_fp is not None:
            with open(self.csv_path, "w", newline="", encoding="utf-8") as fp:
                csv.DictWriter(fp, self.header, lineterminator="\n").writeheader()
            self._header_written = True


def jsonl_to_json(jsonl_path: Path, json_path: Path) -> None:
    """Write the records of a JSON Lines file as one JSON array, streaming (memory stays flat)."""
    tmp = json_path.with_name(f".{json_path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write("[")
        first = True
        for line in _complete_lines(jsonl_path) if jsonl_path.is_file() else []:
            if line.strip():
                out.write(("\n  " if first else ",\n  ") + line.strip())
                first = False
        out.write("\n]\n" if not first else "]\n")
    os.replace(tmp, json_path)


def merge_results(parts: list[tuple[Path, Path]], csv_path: Path, jsonl_path: Path, key_fields: tuple[str, ...],
                  sort_key: Callable[[tuple], Any]) -> int:
    """Merge part files (one pair per rank) into one CSV + JSON Lines pair sorted by ``sort_key``; returns the row count."""
    header: list[str] = list(key_fields)
    merged: dict[tuple, tuple[dict, str]] = {}
    for csv_part, jsonl_part in parts:
        cols, rows = read_rows(csv_part, jsonl_part, key_fields)
        header += [c for c in cols if c not in header]
        for key, value in rows.items():
            merged.setdefault(key, value)
    keys = sorted(merged, key=sort_key)
    tmp_csv = csv_path.with_name(f".{csv_path.name}.merge.tmp")
    tmp_jsonl = jsonl_path.with_name(f".{jsonl_path.name}.merge.tmp")
    with open(tmp_csv, "w", newline="", encoding="utf-8") as fc, open(tmp_jsonl, "w", encoding="utf-8") as fj:
        writer = csv.DictWriter(fc, header, restval="", lineterminator="\n")
        writer.writeheader()
        for key in keys:
            row, line = merged[key]
            writer.writerow(row)
            fj.write(line + "\n")
    os.replace(tmp_jsonl, jsonl_path)
    os.replace(tmp_csv, csv_path)
    return len(keys)


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
