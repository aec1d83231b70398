"""The run folder: where it is, and the files that describe the run (params.yaml, split.json,
skipped_files.txt, classes.txt)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from train_torchvision_resnext.data import DatasetSplit
from train_torchvision_resnext.params import TrainParams
from workflow.core.errors import ParamError
from workflow.core.files import atomic_write_text, escape_line_text, unescape_line_text

RUNS_FOLDER = Path("runs") / "train_torchvision_resnext"
MAX_SAME_SECOND = 1000  # runs started in one second into one output folder (then it is an error)


def prepare_run_dir(
    params: TrainParams, task_id: str, output_dir: str | Path | None = None, resume=None
) -> Path:
    """Create and return the run folder: a new ``<YYYYmmdd-HHMMSS>`` folder inside the output folder.

    The output folder is ``output_folder`` when set, else ``output_dir/<task id>`` (when the runner gives
    one), else ``./runs/train_torchvision_resnext``. A run never writes into another run's folder (a second
    run in the same second gets ``-2``, ``-3``...), as Ikomia's training writes a new timestamped folder per
    run. Resuming continues in the resumed run's folder, unless ``output_folder`` names another folder: then
    a new run folder there starts with a copy of the resumed ``best.pt`` (and ``<model_name>.pth``).

    Raises:
        ParamError: ``output_folder`` is a file, or cannot be created (one line naming it).
    """
    resumed_dir = resume.path.parent.resolve() if resume is not None else None
    if params.output_folder:
        base = Path(params.output_folder).expanduser()
    elif resumed_dir is not None:
        return resumed_dir
    else:
        base = Path(output_dir) / task_id if output_dir else Path.cwd() / RUNS_FOLDER
    base = base.resolve()
    if resumed_dir is not None and resumed_dir.parent == base:
        return resumed_dir
    run_dir = _fresh_dir(base, time.strftime("%Y%m%d-%H%M%S"))
    if resumed_dir is not None:  # the best weights so far, also as Ikomia's <model_name>.pth
        for best in [resumed_dir / "best.pt", *sorted(resumed_dir.glob("*.pth"))]:
            if best.is_file() and not best.is_symlink():
                shutil.copy2(best, run_dir / best.name)
    return run_dir


def _fresh_dir(base: Path, stamp: str) -> Path:
    """Create and return ``base/stamp`` (or ``stamp-2``, ``-3``...): ``mkdir`` without ``exist_ok`` claims
    the name, so two runs (processes included) never share a folder."""
    try:
        base.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ParamError(f"parameter 'output_folder': '{base}' is not a folder") from None
    except OSError as exc:
        raise ParamError(
            f"parameter 'output_folder': cannot create '{base}' ({exc.strerror or type(exc).__name__})"
        ) from None
    for n in range(1, MAX_SAME_SECOND + 1):
        candidate = base / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise ParamError(
        f"parameter 'output_folder': '{base}' already holds {MAX_SAME_SECOND} runs started at {stamp}"
    )


def write_ikomia_classes(run_dir: Path, class_names: list[str]) -> Path:
    """``classes.txt``: one class name per line, in head order (what Ikomia's inference reads as
    ``class_file``)."""
    path = run_dir / "classes.txt"
    atomic_write_text(path, "".join(f"{name}\n" for name in class_names))
    return path


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
    values["output_folder"] = str(run_dir.parent)  # repeating the run writes a new folder beside this one
    values["num_workers"] = resolved["num_workers"]
    header = f"# run_folder: {json.dumps(str(run_dir))}\n" + "".join(
        f"# {k}: {json.dumps(v)}\n" for k, v in resolved.items()
    )
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
