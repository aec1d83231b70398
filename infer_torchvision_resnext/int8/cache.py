"""INT8 models on disk: keyed by the weights file's SHA-256, the preprocessing and the calibration set.

Two places hold the same kind of entry (a folder with ``model.xml``/``model.bin`` and ``int8.json``):

- next to a training run's checkpoint: ``best.pt`` -> ``best.int8/`` (written at the end of training);
- the cache ``$WORKFLOW_CACHE_DIR/int8/<weights sha256>/<key>/`` for any other weights calibrated with a
  ``calibration_folder`` (the ``CACHE_ENTRIES`` most recently used are kept).

``int8.json`` records what the entry was built from and its measured top-1 agreement with fp32, which
``precision: auto`` weighs (:func:`..backends.choice.int8_candidate`). :func:`save_int8` is its one
writer, for both places.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infer_torchvision_resnext import disk_cache

if TYPE_CHECKING:  # pragma: no cover
    from infer_torchvision_resnext.int8.quantize import Agreement
    from infer_torchvision_resnext.recipe import Preprocessing

log = logging.getLogger(__name__)

RECORD = "int8.json"
FORMAT = 1
CACHE_ENTRIES = 6
_HASH_CHUNK = 1 << 22
_HASHES: dict[str, str] = {}


def int8_root() -> Path:
    """``<cache root>/int8`` (:func:`..disk_cache.cache_root`: ``$WORKFLOW_CACHE_DIR`` or ~/.cache/cv-workflow)."""
    return disk_cache.cache_root() / "int8"


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, remembered per (path, size, mtime) in this process."""
    path = Path(path)
    st = path.stat()
    ident = f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    if ident not in _HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(_HASH_CHUNK), b""):
                digest.update(chunk)
        _HASHES[ident] = digest.hexdigest()
    return _HASHES[ident]


def calibration_id(files: Iterable[str | os.PathLike]) -> str:
    """Identity of a calibration set: the SHA-256 of its files' bytes, in the given order."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def entry_key(weights_sha256: str, preprocessing: dict[str, Any], calibration: str) -> str:
    """Name of one cache entry: preprocessing + calibration set + the libraries that built it."""
    import nncf
    import openvino

    from infer_torchvision_resnext.int8.quantize import RECIPE

    text = json.dumps(
        [weights_sha256, preprocessing, calibration, openvino.__version__, nncf.__version__, RECIPE],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def sidecar_folder(checkpoint: str | os.PathLike) -> Path:
    """Where training puts the INT8 model of a checkpoint: ``best.pt`` -> ``best.int8``."""
    return Path(checkpoint).with_suffix(".int8")


@dataclass(frozen=True)
class Int8Entry:
    """One stored INT8 model and what ``int8.json`` says about it."""

    folder: Path
    meta: dict[str, Any]

    @property
    def xml(self) -> Path:
        return self.folder / "model.xml"

    @property
    def agreement(self) -> float | None:
        value = self.meta.get("check", {}).get("top1_agreement")
        return None if value is None else float(value)

    def matches(
        self, weights_sha256: str, preprocessing: dict[str, Any], calibration: str | None = None
    ) -> bool:
        return (
            self.meta.get("weights_sha256") == weights_sha256
            and self.meta.get("preprocessing") == preprocessing
            and (calibration is None or self.meta.get("calibration_id") == calibration)
        )


def read_entry(folder: Path) -> Int8Entry | None:
    """The entry in ``folder``, or None when it is absent or incomplete (a damaged record is logged)."""
    record = folder / RECORD
    if not record.is_file() or not (folder / "model.xml").is_file() or not (folder / "model.bin").is_file():
        return None
    try:
        meta = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("INT8 record '%s' unreadable (%s): ignored", record, exc)
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        log.warning("INT8 record '%s' has an unknown format: ignored", record)
        return None
    return Int8Entry(folder, meta)


def save_int8(
    folder: Path,
    ov_model,
    *,
    weights: str | os.PathLike,
    prep: Preprocessing,
    calibration_id: str,
    calibration: dict[str, Any],
    check: Agreement,
    checked_on: str,
) -> Int8Entry:
    """Save an INT8 model and its ``int8.json`` into ``folder`` atomically (a reader sees all of it or nothing).

    Args:
        folder: the entry (a checkpoint's sidecar or a :func:`cache_folder`); an entry there is replaced whole.
        ov_model: the quantized ``openvino.Model``.
        weights: the weights file it was quantized from (its SHA-256 is recorded).
        prep: the preprocessing its inputs were made with.
        calibration_id: identity of the calibration images (part of what a cache lookup matches).
        calibration: where those images came from, in words and counts.
        check: its top-1 agreement with fp32 (and accuracies when labels were known).
        checked_on: which images the check ran on.
    """
    import openvino as ov

    meta = {
        "format": FORMAT,
        "weights_sha256": file_sha256(weights),
        "preprocessing": prep.to_dict(),
        "calibration_id": calibration_id,
        "calibration": dict(calibration),
        "check": {**check.to_dict(), "on": checked_on},
    }
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        tmp.mkdir()
        ov.save_model(ov_model, str(tmp / "model.xml"), compress_to_fp16=False)
        (tmp / RECORD).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
        old = folder.with_name(f"{folder.name}.old-{os.getpid()}-{threading.get_ident()}")
        if folder.exists():
            os.replace(folder, old)  # replaced entries (a retrained best.pt) go away whole
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Int8Entry(folder, meta)


def cache_folder(weights_sha256: str, key: str) -> Path:
    return int8_root() / weights_sha256[:32] / key


def find_entry(
    weights_sha256: str,
    preprocessing: dict[str, Any],
    *,
    checkpoint: str | os.PathLike | None = None,
    calibration: str | None = None,
) -> Int8Entry | None:
    """The best INT8 model of these weights and preprocessing (highest recorded agreement), or None.

    Looks next to ``checkpoint`` first, then in the cache; ``calibration`` restricts to one calibration set.
    """
    folders = [sidecar_folder(checkpoint)] if checkpoint else []
    root = int8_root() / weights_sha256[:32]
    if root.is_dir():
        folders += sorted(filter(disk_cache.is_entry, root.iterdir()))
    found = [
        e for e in map(read_entry, folders) if e and e.matches(weights_sha256, preprocessing, calibration)
    ]
    if not found:
        return None
    best = max(found, key=lambda e: -1.0 if e.agreement is None else e.agreement)
    if best.folder.parent == root:
        disk_cache.touch(best.folder)
    return best


def prune(keep: int = CACHE_ENTRIES) -> None:
    """Delete all but the ``keep`` most recently used cache entries (sidecars are never touched)."""
    disk_cache.prune(int8_root(), keep, depth=2, what="INT8 cache")
