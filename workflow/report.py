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
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


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


# -- distributed runs: one part per rank, merged by rank 0 ------------------------------
PARTS_DIR = ".parts"
TIMEOUT_ENV = "WORKFLOW_DIST_TIMEOUT"


def result_files(output_dir: Path) -> list[tuple[Path, Path]]:
    """The (csv, jsonl) pairs a resumed run may carry rows over from: the merged results, then any rank parts."""
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
    """Touch ``rank{N}.alive`` every few seconds while a rank works, so rank 0 can tell a dead rank from a slow one."""

    def __init__(self, parts: Path, rank: int, every: float = 2.0):
        import threading

        parts.mkdir(parents=True, exist_ok=True)
        (parts / f"rank{rank}.done.json").unlink(missing_ok=True)
        self.path = parts / f"rank{rank}.alive"
        self._stop = threading.Event()
        self.path.write_text(run_token())
        self._thread = threading.Thread(target=self._beat, args=(every,), daemon=True, name="workflow-heartbeat")
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


def wait_for_ranks(parts: Path, world_size: int, timeout: float | None = None, poll: float = 0.2) -> list[dict[str, Any]]:
    """Wait until every rank of this launch wrote its done marker; returns their summaries by rank.

    Raises:
        WorkflowError: a rank failed, or showed no sign of life (heartbeat) for ``timeout`` seconds
            (``WORKFLOW_DIST_TIMEOUT``, default 300).
    """
    import time

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
                    raise WorkflowError(f"rank {rank} was interrupted; partial results in {parts} (rerun with resume)")
                reports[rank] = data
                continue
            alive = parts / f"rank{rank}.alive"
            last = max(start, alive.stat().st_mtime if alive.exists() else start)
            if time.time() - last > timeout:
                raise WorkflowError(f"rank {rank} showed no sign of life for {timeout:g} s ({TIMEOUT_ENV}); "
                                    f"partial results in {parts} (rerun with resume)")
        if len(reports) < world_size:
            time.sleep(poll)
    return [reports[r] for r in range(world_size)]
