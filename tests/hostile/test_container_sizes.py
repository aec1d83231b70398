"""Class 2: a compressed checkpoint container is checked for declared sizes before ``torch.load``.

A few MB of deflated zeros can declare a tensor of more than a GB; loading it must be
refused from the archive's directory, without allocating what it declares.
"""
from __future__ import annotations

import struct
import zipfile

import pytest

from tests.hostile.helpers import assert_bounded, checkpoint_payload, run_python

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
                dst.writestr(info.filename, data.replace(b"K\x04t", n + b"t").replace(b"K\x00K\x04\x85", b"K\x00" + n + b"\x85"))
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


def _load(path, arch: str | None = None):
    return run_python("from infer_torchvision_resnext.checkpoint import load_checkpoint, CheckpointError\n"
                      f"try:\n    load_checkpoint({str(path)!r}, arch={arch!r})\n    print('LOADED')\n"
                      "except CheckpointError as e:\n    print('REFUSED', str(e))\n")


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
        if data[pos + 46:pos + 46 + name_len].decode() == info.filename:
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
    res = _load(path)
    assert_bounded(res)
    assert res.out.startswith("LOADED"), str(res)
