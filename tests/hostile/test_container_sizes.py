"""Class 2: a compressed checkpoint container is checked for declared sizes before ``torch.load``.

A few MB of deflated zeros can declare a tensor of more than a GB; loading it must be
refused from the archive's directory, without allocating what it declares.
Before ``torch.load`` the pickle is read alone (no storage loaded): every storage must fit its entry,
every state_dict tensor must be one of the architecture's (manifest arch and class count, computed on
the meta device) with its shape; a mismatch is one line naming the file and the key.
"""

from __future__ import annotations

import struct
import zipfile

import pytest

from tests.hostile.helpers import CHECKPOINT, MODEL, assert_bounded, checkpoint_payload, run_python

DECLARED = 300_000_000  # float32 elements: 1.2 GB declared


def _bomb(path, tmp_path, numel: int = DECLARED, stored: bool = False):
    """A torch zip whose only tensor declares ``numel`` floats, its data deflated zeros."""
    import torch

    small = tmp_path / "small.pt"
    torch.save({"w": torch.zeros(4)}, small)
    n = b"J" + struct.pack("<i", numel)
    with zipfile.ZipFile(small) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                dst.writestr(
                    info.filename,
                    data.replace(b"K\x04t", n + b"t").replace(b"K\x00K\x04\x85", b"K\x00" + n + b"\x85"),
                )
            elif info.filename.endswith("data/0"):
                zinfo = zipfile.ZipInfo(info.filename)
                zinfo.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                zinfo.file_size = numel * 4
                with dst.open(zinfo, "w", force_zip64=True) as fp:
                    if not stored:
                        chunk = bytes(1 << 24)
                        for _ in range(numel * 4 // len(chunk)):
                            fp.write(chunk)
                        fp.write(bytes(numel * 4 % len(chunk)))
            else:
                dst.writestr(info, data)
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bomb")
    return _bomb(folder / "bomb.pt", folder)


def _load(path, arch: str | None = None, preload=CHECKPOINT):
    """``preload=MODEL`` where the checks get as far as building the architecture (on the meta device)."""
    return run_python(
        "from infer_torchvision_resnext.checkpoint.format import load_checkpoint, CheckpointError\n"
        f"try:\n    load_checkpoint({str(path)!r}, arch={arch!r})\n    print('LOADED')\n"
        "except CheckpointError as e:\n    print('REFUSED', str(e))\n",
        preload=preload,
    )


def test_deflated_tensor_declaring_a_gigabyte_is_refused_before_loading(bomb):
    assert bomb.stat().st_size < 10_000_000
    res = _load(bomb, "resnext50_32x4d")
    assert_bounded(res)
    assert res.out.startswith("REFUSED") and str(bomb) in res.out, str(res)


def test_entry_larger_than_the_file_is_refused(tmp_path):
    """A stored entry whose header declares more bytes than the file holds."""
    import torch

    path = tmp_path / "ok.pt"
    torch.save(checkpoint_payload(), path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if i.filename.endswith("data/0"))
    # patch the central directory's uncompressed size of that entry to 1.5 GB
    cd_sig = b"PK\x01\x02"
    pos = 0
    while (pos := data.find(cd_sig, pos)) != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + name_len].decode() == info.filename:
            struct.pack_into("<I", data, pos + 24, 1_500_000_000)
            struct.pack_into("<I", data, pos + 20, 1_500_000_000)
        pos += 4
    path.write_bytes(bytes(data))
    res = _load(path)
    assert_bounded(res)
    assert res.out.startswith("REFUSED") and str(path) in res.out, str(res)


def test_a_normal_checkpoint_still_loads(tmp_path):
    import torch

    path = tmp_path / "ok.pt"
    torch.save(checkpoint_payload(), path)
    res = _load(path, preload=MODEL)
    assert_bounded(res)
    assert res.out.startswith("LOADED"), str(res)


def test_storage_declaring_more_than_its_stored_entry_is_refused(tmp_path):
    """Stored (not deflated) entry of 0 bytes whose pickle declares 1.2 GB: refused from the declarations."""
    path = _bomb(tmp_path / "stored.pt", tmp_path, stored=True)
    res = _load(path, "resnext50_32x4d")
    assert_bounded(res)
    assert (
        res.out.startswith("REFUSED") and str(path) in res.out and "declares 1200000000 bytes" in res.out
    ), str(res)
    assert res.out.count("\n") == 1, str(res)


@pytest.mark.parametrize(
    "key, tensor_shape, words",
    [
        ("fc.weight", (2, 4096), ["shape mismatches", "'fc.weight': (2, 4096) vs (2, 2048)"]),
        ("layer9.conv.weight", (1000, 1000), ["unexpected keys", "'layer9.conv.weight'"]),
    ],
)
def test_a_tensor_the_architecture_does_not_have_is_refused_naming_the_key(
    tmp_path, key, tensor_shape, words
):
    import torch

    payload = checkpoint_payload()
    payload["state_dict"][key] = torch.zeros(tensor_shape)
    path = tmp_path / "odd.pt"
    torch.save(payload, path)
    res = _load(path, preload=MODEL)
    assert_bounded(res)
    assert (
        res.out.startswith("REFUSED")
        and f"checkpoint '{path}' does not fit architecture resnext50_32x4d" in res.out
    )
    assert all(w in res.out for w in words) and res.out.count("\n") == 1, str(res)


def test_a_head_that_disagrees_with_the_manifest_is_refused_before_loading(tmp_path):
    import torch

    payload = checkpoint_payload(classes=3)
    payload["manifest"]["class_names"] = ["a", "b"]
    path = tmp_path / "head.pt"
    torch.save(payload, path)
    res = _load(path)
    assert_bounded(res)
    assert (
        res.out.startswith("REFUSED")
        and "2 class names given but the model head (fc) has 3 outputs" in res.out
    ), str(res)


def test_a_plain_state_dict_of_another_shape_is_refused_for_the_given_arch(tmp_path):
    import torch

    path = tmp_path / "plain.pth"
    torch.save({"fc.weight": torch.zeros(5, 512), "fc.bias": torch.zeros(5)}, path)  # a resnet18 head
    res = _load(path, "resnext50_32x4d", preload=MODEL)
    assert_bounded(res)
    assert res.out.startswith("REFUSED") and "'fc.weight': (5, 512) vs (5, 2048)" in res.out, str(res)


def test_the_layout_reader_allocates_nothing_and_reads_real_checkpoints(tmp_path):
    """The declarations of a real training checkpoint (weights, optimizer state, RNG states) pass the
    checks."""
    import torch

    from infer_torchvision_resnext.checkpoint._layout import TensorDecl, precheck, read_layout, tensors

    payload = checkpoint_payload()
    payload["extra"] = {
        "optimizer": {"state": {0: {"momentum_buffer": torch.zeros(2, 2048)}}, "param_groups": [{"lr": 0.1}]},
        "rng": {"torch": torch.get_rng_state(), "python": [3, [1, 2], None]},
        "epoch": 1,
        "tag": b"\x00\xff",
    }
    path = tmp_path / "last.pt"
    torch.save(payload, path)
    tree, entries, storages = read_layout(path)
    assert tree["manifest"] == payload["manifest"] and tree["extra"]["tag"] == b"\x00\xff"
    shapes = {k: t.shape for k, t in tensors(tree) if isinstance(t, TensorDecl)}
    assert shapes["state_dict.fc.weight"] == (2, 2048) and shapes[
        "extra.optimizer.state.0.momentum_buffer"
    ] == (2, 2048)
    assert len(storages) == 4 and all(s.numel * s.itemsize <= entries[s.key] for s in storages.values())
    precheck(path, "workflow-resnext-checkpoint", 1, None)
