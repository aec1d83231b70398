"""What a torch checkpoint archive declares, read before ``torch.load`` allocates any of it.

``torch.save`` writes a zip holding ``data.pkl`` (the object tree, tensors as references to
storages) and one entry per storage. :func:`read_layout` unpickles ``data.pkl`` alone, with a
restricted unpickler that turns every tensor into a :class:`TensorDecl` (dtype, shape, storage
size) and loads no storage. :func:`check_layout` then compares those declarations with the
entries of the archive and with the state dict the architecture expects (computed on the meta
device, so nothing is allocated): a tensor the architecture does not have, or of another shape,
or a storage larger than its entry, is refused in one line naming the file and the key.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infer_torchvision_resnext.checkpoint._checks import (
    MAX_CLASSES,
    CheckpointError,
    check_class_count,
    check_manifest,
    ddp_prefix,
    find_state_dict,
    head_size,
    mismatch_detail,
)
from infer_torchvision_resnext.checkpoint._shapes import expected_shapes
from workflow.core.limits import excerpt

MAX_PICKLE_BYTES = 64 << 20  # data.pkl of a checkpoint with a 100,000-class manifest is a few MB
OTHER_TENSORS_FACTOR = 4  # optimizer state beside the weights (Adam: 2 buffers per weight) plus slack
OTHER_TENSORS_SLACK = 16 << 20
_STORAGE_ITEMSIZE = {
    "DoubleStorage": 8,
    "FloatStorage": 4,
    "HalfStorage": 2,
    "BFloat16Storage": 2,
    "LongStorage": 8,
    "IntStorage": 4,
    "ShortStorage": 2,
    "CharStorage": 1,
    "ByteStorage": 1,
    "BoolStorage": 1,
    "ComplexFloatStorage": 8,
    "ComplexDoubleStorage": 16,
}


@dataclass(frozen=True)
class StorageDecl:
    key: str
    itemsize: int
    numel: int


@dataclass(frozen=True)
class TensorDecl:
    """A tensor as the archive declares it; nothing of its data is read."""

    storage: StorageDecl
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def span(self) -> int:
        """Elements of the storage the tensor reaches (0 when empty)."""
        if any(s == 0 for s in self.shape):
            return 0
        return self.offset + 1 + sum((n - 1) * s for n, s in zip(self.shape, self.stride))


def _rebuild_tensor(storage, offset, size, stride, *_rest):
    if not isinstance(storage, StorageDecl):
        return _Opaque()
    return TensorDecl(storage, int(offset), tuple(int(n) for n in size), tuple(int(s) for s in stride))


def _rebuild_parameter(data, *_rest):
    return data


class _StorageType:
    def __init__(self, name: str):
        self.itemsize = _STORAGE_ITEMSIZE[name]


class _Opaque:
    """What an unknown global becomes: calling it gives another; it holds nothing (``torch.load`` decides on
    it)."""

    def __call__(self, *args, **kwargs):
        return _Opaque()

    def __setstate__(self, state):
        pass


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes):
        super().__init__(io.BytesIO(data))
        self.storages: dict[str, StorageDecl] = {}
        self.unknown = False

    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_ITEMSIZE:
            return _StorageType(name)
        if module == "_codecs" and name == "encode":  # bytes in pickle protocol 2
            return lambda text, encoding="utf-8": (
                text.encode(encoding) if isinstance(text, str) else _Opaque()
            )
        self.unknown = True
        return _Opaque()

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            self.unknown = True
            return _Opaque()
        itemsize = (
            pid[1].itemsize if isinstance(pid[1], _StorageType) else 1
        )  # a typed storage of another kind
        decl = StorageDecl(str(pid[2]), itemsize, int(pid[4]))
        self.storages[decl.key] = decl
        return decl


def read_layout(path: Path) -> tuple[Any, dict[str, int], dict[str, StorageDecl]] | None:
    """The object tree of ``path``'s ``data.pkl`` (tensors as :class:`TensorDecl`), the sizes of its storage
    entries and every storage it declares; None when its pickle uses something this reader does not know and
    fails (``torch.load`` then refuses it with its own message). Storages larger than their entry are refused."""
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        pkl = next(
            (i for i in infos if i.filename.endswith("/data.pkl") and i.filename.count("/") == 1), None
        )
        if pkl is None:
            return None
        prefix = pkl.filename.rsplit("/", 1)[0] + "/data/"
        if pkl.file_size > MAX_PICKLE_BYTES:
            raise CheckpointError(
                f"checkpoint '{path}': its object tree (data.pkl) declares {pkl.file_size} bytes "
                f"(limit {MAX_PICKLE_BYTES})"
            )
        data = archive.read(pkl)
    entries = {i.filename[len(prefix) :]: i.file_size for i in infos if i.filename.startswith(prefix)}
    unpickler = _Unpickler(data)
    try:
        tree = unpickler.load()
    except Exception as exc:  # a damaged pickle: torch.load would fail the same way
        if unpickler.unknown:
            return None  # e.g. pickle code: torch.load refuses it with its own message
        raise CheckpointError(
            f"checkpoint '{path}' is truncated or not a torch file "
            f"({type(exc).__name__}: {excerpt(str(exc), 120)})"
        ) from None
    for s in unpickler.storages.values():
        if s.key not in entries or s.numel < 0 or s.numel * s.itemsize > entries[s.key]:
            raise CheckpointError(
                f"checkpoint '{path}': storage {excerpt(s.key, 40)} declares {s.numel * s.itemsize} bytes "
                f"but its archive entry holds {entries.get(s.key, 0)}"
            )
    return tree, entries, unpickler.storages


def tensors(tree: Any, prefix: str = "") -> Iterator[tuple[str, TensorDecl]]:
    """``(dotted key, declaration)`` of every tensor in ``tree`` (dicts, lists, tuples); each container is
    visited
    once, however often the pickle shares it, so nested shared lists cannot make the walk explode."""
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [(prefix, tree)]
    while stack:
        key, node = stack.pop()
        if isinstance(node, TensorDecl):
            yield key, node
        elif isinstance(node, (dict, list, tuple)) and id(node) not in seen:
            seen.add(id(node))
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((f"{key}.{k}" if key else str(k), v) for k, v in reversed(list(items)))


def check_storages(path: Path, tree: Any) -> None:
    """Every tensor fits in its storage."""
    for key, t in tensors(tree):
        s = t.storage
        if any(n < 0 for n in t.shape) or len(t.shape) != len(t.stride) or t.span() > s.numel:
            raise CheckpointError(
                f"checkpoint '{path}': tensor {excerpt(key, 80)} of shape {excerpt(t.shape, 60)} "
                f"does not fit its storage of {s.numel} elements"
            )


def check_against_arch(
    path: Path,
    state_dict: dict,
    storages: dict[str, StorageDecl],
    arch: str,
    num_classes: int,
    strip: str = "",
) -> None:
    """The declared state dict holds only keys of ``arch`` with their shapes (a mismatch is refused naming the
    first key of each kind); other tensors of the file (optimizer state) stay within a few times the weights'
    size."""
    expected = expected_shapes(arch, num_classes)
    unexpected, shapes = [], []
    for key, value in state_dict.items():
        name = key[len(strip) :] if strip and isinstance(key, str) and key.startswith(strip) else key
        if not isinstance(value, TensorDecl):
            continue  # check_state_dict names it after loading
        if name not in expected:
            unexpected.append(excerpt(name, 80))
        elif value.shape != expected[name]:
            shapes.append(f"{excerpt(name, 80)}: {excerpt(value.shape, 60)} vs {expected[name]}")
    if unexpected or shapes:
        names = {
            (k[len(strip) :] if strip and isinstance(k, str) and k.startswith(strip) else k)
            for k in state_dict
        }
        missing = [k for k in expected if k not in names and not k.endswith("num_batches_tracked")]
        detail = mismatch_detail(missing, unexpected, shapes)
        raise CheckpointError(
            f"checkpoint '{path}' does not fit architecture {arch}: {detail} (for {num_classes} classes)"
        )
    weights = sum(4 * _numel(shape) for shape in expected.values())
    own = {v.storage.key for v in state_dict.values() if isinstance(v, TensorDecl)}
    other = sum(s.numel * s.itemsize for k, s in storages.items() if k not in own)
    if other > OTHER_TENSORS_FACTOR * weights + OTHER_TENSORS_SLACK:
        raise CheckpointError(
            f"checkpoint '{path}': tensors besides the state_dict declare {other} bytes, more than "
            f"{OTHER_TENSORS_FACTOR} times the {weights} bytes of {arch}'s weights"
        )


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def precheck(path: Path, format_tag: str, max_version: int, arch: str | None) -> None:
    """Check what ``path`` declares before ``torch.load``: storages against the archive's entries, the state
    dict against its architecture (the manifest's ``arch`` and class count, or ``arch`` for a plain state dict).

    Raises:
        CheckpointError: the first declaration that does not fit, naming the file and the key.
    """
    from infer_torchvision_resnext.models import ARCHS, resolve_arch

    layout = read_layout(path)
    if layout is None:
        return
    tree, _entries, storages = layout
    check_storages(path, tree)
    if isinstance(tree, dict) and tree.get("format") == format_tag:
        if not isinstance(tree.get("manifest"), dict) or not isinstance(tree.get("state_dict"), dict):
            return  # load_checkpoint names the missing field
        check_manifest(tree["manifest"], path, set(ARCHS))
        if tree["manifest"]["format_version"] > max_version:
            return  # load_checkpoint refuses it naming the versions
        arch, classes = tree["manifest"]["arch"], len(tree["manifest"]["class_names"])
        sd = tree["state_dict"]
        check_class_count(path, sd, classes)
        check_against_arch(path, sd, storages, resolve_arch(arch), classes, ddp_prefix(sd))
        return
    sd = find_state_dict(tree)
    if sd is None:
        return  # not a state dict: load_checkpoint says so
    classes = head_size(sd)
    if arch is None or classes is None:
        return
    if not 0 < classes <= MAX_CLASSES:
        raise CheckpointError(
            f"checkpoint '{path}': state_dict key 'fc.weight' declares {classes} classes "
            f"(1 to {MAX_CLASSES} allowed)"
        )
    check_against_arch(path, sd, storages, resolve_arch(arch), classes, ddp_prefix(sd))
