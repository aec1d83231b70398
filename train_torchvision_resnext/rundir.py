"""The run folder: where it is, and the files that describe the run (params.yaml, split.json,
skipped_files.txt)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from train_torchvision_resnext.data import DatasetSplit
from train_torchvision_resnext.params import TrainParams
from workflow.core.files import atomic_write_text, escape_line_text, unescape_line_text

RUNS_FOLDER = Path("runs") / "train_torchvision_resnext"


def prepare_run_dir(
    params: TrainParams, task_id: str, output_dir: str | Path | None = None, resume=None
) -> Path:
    """Create and return the run folder.

    ``output_folder`` when set; else the folder of the checkpoint being resumed; else a new
    ``<timestamp>`` folder under ``output_dir/<task id>`` (when the runner gives one) or
    ``./runs/train_torchvision_resnext``. Resuming into another folder copies ``best.pt`` there.
    """
    if params.output_folder:
        run_dir = Path(params.output_folder).expanduser()
    elif resume is not None:
        run_dir = resume.path.parent
    else:
        base = Path(output_dir) / task_id if output_dir else Path.cwd() / RUNS_FOLDER
        run_dir = _fresh(base / time.strftime("%Y%m%d-%H%M%S"))
    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    if (
        resume is not None
        and resume.path.parent.resolve() != run_dir
        and (resume.path.parent / "best.pt").is_file()
    ):
        shutil.copy2(resume.path.parent / "best.pt", run_dir / "best.pt")
    return run_dir


def _fresh(path: Path) -> Path:
    candidate, n = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}-{n}")
        n += 1
    return candidate


def write_run_files(
    run_dir: Path, params: TrainParams, split: DatasetSplit, resolved: dict[str, Any]
) -> None:
    """params.yaml (parameters that repeat the run, plus what 'auto' resolved to), split.json,
    skipped_files.txt.

    split.json is ASCII JSON (names that are not UTF-8 as ``\\udcNN`` escapes, which ``json.loads`` and
    ``os.fsencode`` turn back into the bytes); skipped_files.txt holds one ``<path>\\t<reason>`` line per
    file,
    escaped by :func:`workflow.core.files.escape_line_text` (read it back with :func:`read_skipped`).
    """
    values = params.model_dump()
    values["dataset_folder"] = str(split.root.resolve())
    values["output_folder"] = str(run_dir)
    values["num_workers"] = resolved["num_workers"]
    header = "".join(f"# {k}: {json.dumps(v)}\n" for k, v in resolved.items())
    atomic_write_text(
        run_dir / "params.yaml",
        "# train_torchvision_resnext parameters (load with set_parameters to repeat the run)\n"
        + header
        + yaml.safe_dump(values, sort_keys=False),
    )
    root = split.root.resolve()

    def rel(path: Path) -> str:
        path = path.resolve()
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    atomic_write_text(
        run_dir / "split.json",
        json.dumps(
            {
                "root": str(root),
                "layout": split.layout,
                "class_names": split.class_names,
                "train": [[rel(p), c] for p, c in split.train],
                "val": [[rel(p), c] for p, c in split.val],
            }
        ),
    )
    skipped = run_dir / "skipped_files.txt"
    if split.skipped:
        atomic_write_text(
            skipped,
            "".join(
                f"{escape_line_text(str(p))}\t{escape_line_text(reason)}\n" for p, reason in split.skipped
            ),
        )
    elif skipped.exists():
        skipped.unlink()


def read_skipped(path: str | Path) -> list[tuple[Path, str]]:
    """The (file, reason) pairs of a run's skipped_files.txt, with file names exactly as on disk."""
    pairs = []
    for line in Path(path).read_text(encoding="utf-8").split("\n"):
        if line:
            name, _, reason = line.partition("\t")
            pairs.append((Path(unescape_line_text(name)), unescape_line_text(reason)))
    return pairs
