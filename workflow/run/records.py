"""From a workflow's outputs for one item to its results row: CSV cells, JSON record, saved image files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workflow.core.errors import InputError
from workflow.core.files import atomic_target, check_disk_full, output_path, safe_relpath
from workflow.core.ports import Image
from workflow.graph.graph import Graph

SAVE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


class Recorder:
    """Turns one item's workflow outputs into a ``(csv row, json record)`` pair, saving image outputs.

    Args:
        graph: the graph that produced the outputs (for their types).
        output_dir: where image outputs are saved (None: nothing is saved).
        save_images: whether image outputs are saved.
        source_path: the input file or folder, never to be overwritten.
    """

    def __init__(
        self, graph: Graph, output_dir: Path | None, save_images: bool, source_path: Path | None = None
    ):
        self.output_dir, self.save_images, self.source_path = output_dir, save_images, source_path
        self._claimed: dict[str, tuple] = {}  # saved file -> (item, output) that saved it in this run
        names = graph.output_names()
        ports = {n: graph.get_task(tid).output_port(port) for n, (tid, port) in names.items()}
        self.types = {n: p.type for n, p in ports.items()}
        # image outputs saved as files (or videos); one that forwards its task's input is the input itself
        self.image_outputs = [
            n for n, t in self.types.items() if issubclass(t, Image) and not ports[n].forwards
        ]
        # one always-filled table-like output: its columns need no "<output>." prefix
        bare = {n for n, p in ports.items() if not issubclass(p.type, Image) and not p.optional}
        self.bare = bare if len(bare) == 1 else set()

    def columns(self, key_fields: tuple[str, ...]) -> list[str]:
        """results.csv's columns from the declared outputs (``<output>.<column>``, bare for the one main
        output)."""
        return [
            col if out_name in self.bare and col not in key_fields else f"{out_name}.{col}"
            for out_name, dtype in self.types.items()
            for col in dtype.columns
        ]

    def record(
        self, key: dict[str, Any], name: str, outputs: dict[str, Any], save_files: bool
    ) -> tuple[dict, dict]:
        """The CSV row and JSON record of the item ``key`` (file ``name``); saves its image outputs when
        asked.

        Raises:
            InputError: saving would overwrite an input.  OSError, ValueError: an image could not be saved.
        """
        row, rec = dict(key), {**key, "outputs": {}}
        for out_name, value in outputs.items():
            dtype = self.types[out_name]
            for col, cell in dtype.to_row(value).items():
                row[col if out_name in self.bare and col not in key else f"{out_name}.{col}"] = cell
            rec["outputs"][out_name] = None if value is None else dtype.to_jsonable(value)
            if (
                save_files
                and value is not None
                and out_name in self.image_outputs
                and self.save_images
                and self.output_dir
            ):
                rel = self.unique_file(self.image_file_name(name, out_name), (name, out_name))
                save_image(value, self.checked_target(output_path(self.output_dir, rel)))
                rec["outputs"][out_name]["file"] = rel
        return row, rec

    def unique_file(self, rel: str, owner: tuple) -> str:
        """``safe_relpath(rel)``, with ``~2``, ``~3``... added when another item of this run already saved
        there."""
        path = safe_relpath(rel)
        n = 1
        while self._claimed.setdefault(path.as_posix(), owner) != owner:
            n += 1
            path = path.with_name(f"{path.stem}~{n}{path.suffix}")
        return path.as_posix()

    def checked_target(self, target: Path) -> Path:
        """``target``, unless saving there would overwrite the input file or a file of the input folder.

        Raises:
            InputError: it would.
        """
        src, out = self.source_path, self.output_dir
        if src is not None and (
            target == src or (src.is_dir() and target.is_relative_to(src) and not out.is_relative_to(src))
        ):
            raise InputError(
                f"{target}: not saved, it would overwrite an input (choose another output folder)"
            )
        return target

    def image_file_name(self, name: str, output: str) -> str:
        """Where the image output ``output`` of the item ``name`` goes, relative to the output folder."""
        ext = os.path.splitext(name)[1].lower()
        rel = name if ext in SAVE_EXTS else f"{name}.png"
        return f"{output}/{rel}" if len(self.image_outputs) > 1 else rel


def save_image(array: Any, path: Path) -> None:
    """Save an RGB array as an image file (format from the extension; JPEG quality 95), atomically."""
    from PIL import Image as PILImage

    options = {"quality": 95} if path.suffix.lower() in (".jpg", ".jpeg") else {}
    try:
        with atomic_target(path) as tmp:
            PILImage.fromarray(array).save(
                tmp, format=PILImage.registered_extensions().get(path.suffix.lower()), **options
            )
    except OSError as exc:
        check_disk_full(exc, path)
        raise
