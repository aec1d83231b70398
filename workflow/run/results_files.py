"""Results files of a run: incremental CSV + JSON Lines, resume and merge, then one JSON array.

A run writes ``results.csv`` (one flat row per image or frame) and ``results.jsonl``
(one full JSON record per row) as it goes, flushing after every batch, then
``results.json`` (the records as one JSON array) at the end. A row counts as done
only when both files hold it complete, so a run killed at any point resumes
without losing or repeating rows. Generic file helpers live in :mod:`workflow.core.files`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from workflow.core.errors import WorkflowError
from workflow.core.files import atomic_target, check_disk_full, json_line

MAX_FIELD_CHARS = 256 << 20  # the csv module's default (128 KiB) is smaller than fields runs write
csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))
_TEXT = {"encoding": "utf-8", "errors": "surrogateescape"}  # file names that are not UTF-8 round-trip


def row_key(row: dict[str, Any], key_fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(str(row.get(k, "")) for k in key_fields)


def read_rows(
    csv_path: Path, jsonl_path: Path, key_fields: tuple[str, ...]
) -> tuple[list[str], dict[tuple, tuple[dict, str]]]:
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
    rows: dict[tuple, tuple[dict, str]] = {}
    try:
        reader = csv.DictReader(io.StringIO(_complete_text(csv_path), newline=""))
        header = list(reader.fieldnames or [])
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                continue  # wrong number of fields
            key = row_key(row, key_fields)
            if key in records and key not in rows:
                rows[key] = (row, records[key])
    except csv.Error as exc:
        raise WorkflowError(
            f"{csv_path}: cannot be read as CSV ({exc}); move it away to start over"
        ) from None
    return header, rows


def _complete_text(path: Path) -> str:
    """The file's text up to its last newline (a half-written last line is dropped); names not in UTF-8
    kept."""
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    return text[: text.rfind("\n") + 1]


def _complete_lines(path: Path) -> list[str]:
    """Lines ended by ``\\n`` only: ``\\r``, U+2028 or U+0085 inside a field never split a record."""
    return _complete_text(path).split("\n")[:-1]


class _RowWriter:
    """``csv.DictWriter`` that also quotes cells holding ``\\r`` (Python 3.11 quotes only ``\\n``), so a
    standard reader sees one row per record whatever the file names hold."""

    def __init__(self, fp, header: list[str]):
        self._minimal = csv.DictWriter(fp, header, restval="", lineterminator="\n")
        self._quoted = csv.DictWriter(fp, header, restval="", lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writeheader(self) -> None:
        self.writerow(dict(zip(self._minimal.fieldnames, self._minimal.fieldnames)))

    def writerow(self, row: dict[str, Any]) -> None:
        odd = any(isinstance(v, str) and "\r" in v for v in row.values()) or any("\r" in k for k in row)
        (self._quoted if odd else self._minimal).writerow(row)

    def writerows(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)


class ResultsWriter:
    """Append rows to a CSV and records to a JSON Lines file, flushed after every :meth:`write`.

    Without paths (``csv_path=None``) rows are kept in memory (``self.rows``) instead.

    Args:
        csv_path, jsonl_path: the files, or None for in-memory rows.
        key_fields: columns that identify a row (``("path",)`` or ``("path", "frame")``).
        columns: the columns the pipeline's declared outputs give
        (:meth:`workflow.run.records.Recorder.columns`),
            so every run of one pipeline has the same header whatever its data; a row's other columns are
            appended.
    """

    def __init__(
        self,
        csv_path: Path | None,
        jsonl_path: Path | None,
        key_fields: tuple[str, ...] = ("path",),
        columns: Iterable[str] = (),
    ):
        self.csv_path, self.jsonl_path = csv_path, jsonl_path
        self.key_fields = key_fields
        self.columns = [c for c in dict.fromkeys(columns) if c not in key_fields]
        self.header: list[str] = list(key_fields) + self.columns
        self.rows: list[dict[str, Any]] = []
        self.count = 0
        self._csv_fp = self._jsonl_fp = None
        self._writer: _RowWriter | None = None

    def start(
        self, resume_from: Iterable[tuple[Path, Path]] = (), keep: Callable[[tuple], bool] | None = None
    ) -> set[tuple]:
        """Open the files; with ``resume_from`` pairs, first carry over their complete rows (those ``keep``
        accepts).

        Returns:
            The keys of the rows carried over (already done).
        """
        carried: dict[tuple, tuple[dict, str]] = {}
        header: list[str] = list(self.key_fields) + self.columns
        for csv_path, jsonl_path in resume_from:
            cols, rows = read_rows(csv_path, jsonl_path, self.key_fields)
            header += [c for c in cols if c not in header]
            for key, value in rows.items():
                if (keep is None or keep(key)) and key not in carried:
                    carried[key] = value
        if self.csv_path is None:
            return set(carried)
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        self.header = header if carried else list(self.key_fields) + self.columns
        # jsonl is replaced first: a row counts only once both files hold it
        with atomic_target(self.csv_path) as tmp_csv, atomic_target(self.jsonl_path) as tmp_jsonl:
            with open(tmp_csv, "w", newline="", **_TEXT) as fc, open(tmp_jsonl, "w", **_TEXT) as fj:
                if carried:
                    writer = _RowWriter(fc, self.header)
                    writer.writeheader()
                    for row, line in carried.values():
                        writer.writerow(row)
                        fj.write(line + "\n")
        self.count = len(carried)
        self._open(header_written=bool(carried))
        return set(carried)

    def _open(self, header_written: bool) -> None:
        self._csv_fp = open(self.csv_path, "a", newline="", **_TEXT)
        self._jsonl_fp = open(self.jsonl_path, "a", **_TEXT)
        self._writer = _RowWriter(self._csv_fp, self.header)
        self._header_written = header_written

    def write(self, rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """Append ``(csv row, json record)`` pairs and flush both files."""
        if not rows:
            return
        self.count += len(rows)
        if self.csv_path is None:
            self.rows.extend(row for row, _ in rows)
            return
        try:
            self._append(rows)
        except OSError as exc:
            check_disk_full(exc, self.csv_path)
            raise

    def _append(self, rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        new_cols = [c for row, _ in rows for c in row if c not in self.header]
        if new_cols:
            self._extend_header(list(dict.fromkeys(new_cols)))
        if not self._header_written:
            self._writer.writeheader()
            self._header_written = True
        for row, _ in rows:
            self._writer.writerow(row)
        self._csv_fp.flush()
        self._jsonl_fp.write("".join(json_line(rec) + "\n" for _, rec in rows))
        self._jsonl_fp.flush()

    def _extend_header(self, new_cols: list[str]) -> None:
        """Add columns: rewrite the rows written so far under the wider header (rare: first rows lacked
        them)."""
        self.header += new_cols
        if not self._header_written:
            self._writer = _RowWriter(self._csv_fp, self.header)
            return
        self._csv_fp.close()
        with open(self.csv_path, newline="", **_TEXT) as fp:
            old = list(csv.DictReader(fp))
        with atomic_target(self.csv_path) as tmp, open(tmp, "w", newline="", **_TEXT) as fp:
            writer = _RowWriter(fp, self.header)
            writer.writeheader()
            writer.writerows(old)
        self._csv_fp = open(self.csv_path, "a", newline="", **_TEXT)
        self._writer = _RowWriter(self._csv_fp, self.header)

    def close(self) -> None:
        for fp in (self._csv_fp, self._jsonl_fp):
            if fp is not None and not fp.closed:
                fp.close()
        if self.csv_path is not None and not self._header_written and self._csv_fp is not None:
            with open(self.csv_path, "w", newline="", **_TEXT) as fp:
                _RowWriter(fp, self.header).writeheader()
            self._header_written = True


def jsonl_to_json(jsonl_path: Path, json_path: Path) -> None:
    """Write the records of a JSON Lines file as one JSON array, streaming (memory stays flat)."""
    with atomic_target(json_path) as tmp, open(tmp, "w", **_TEXT) as out:
        out.write("[")
        first = True
        for line in _complete_lines(jsonl_path) if jsonl_path.is_file() else []:
            if line.strip():
                out.write(("\n  " if first else ",\n  ") + line.strip())
                first = False
        out.write("\n]\n" if not first else "]\n")


def merge_results(
    parts: list[tuple[Path, Path]],
    csv_path: Path,
    jsonl_path: Path,
    key_fields: tuple[str, ...],
    sort_key: Callable[[tuple], Any],
) -> int:
    """Merge part files (one pair per rank) into one CSV + JSON Lines pair sorted by ``sort_key``; returns the
    row count."""
    header: list[str] = list(key_fields)
    merged: dict[tuple, tuple[dict, str]] = {}
    for csv_part, jsonl_part in parts:
        cols, rows = read_rows(csv_part, jsonl_part, key_fields)
        header += [c for c in cols if c not in header]
        for key, value in rows.items():
            merged.setdefault(key, value)
    keys = sorted(merged, key=sort_key)
    # jsonl is replaced first: a row counts only once both files hold it
    with atomic_target(csv_path) as tmp_csv, atomic_target(jsonl_path) as tmp_jsonl:
        with open(tmp_csv, "w", newline="", **_TEXT) as fc, open(tmp_jsonl, "w", **_TEXT) as fj:
            writer = _RowWriter(fc, header)
            writer.writeheader()
            for key in keys:
                row, line = merged[key]
                writer.writerow(row)
                fj.write(line + "\n")
    return len(keys)
