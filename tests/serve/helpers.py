"""Running a server in a thread on a free port of 127.0.0.1, and test images."""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

PLUGINS = Path(__file__).parent / "plugins"

COLOUR_PIPELINE = """version: 1
name: colours
inputs:
  image: {type: image}
tasks:
  - id: colour
    task: serve_dominant_colour
    params: {PARAMS}
"""


def colour_pipeline(folder: Path, **params) -> Path:
    path = folder / "colours.yaml"
    body = "{" + ", ".join(f"{k}: {v}" for k, v in params.items()) + "}"
    path.write_text(COLOUR_PIPELINE.replace("{PARAMS}", body))
    return path


def colour_registry():
    from workflow.plugins.registry import Registry

    return Registry(plugin_path=str(PLUGINS))


def png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def solid(rgb, side: int = 32) -> np.ndarray:
    return np.tile(np.array(rgb, np.uint8), (side, side, 1))


def png_bomb(side: int = 60_000) -> bytes:
    """A PNG whose header declares side x side pixels (3.6 GP of RGB): refused before any pixel is
    allocated."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


@contextmanager
def running(app, timeout_s: float = 20.0):
    """Serve ``app`` from a thread on a free port of 127.0.0.1; yields the base url; stops it afterwards."""
    import uvicorn

    from workflow.serve.server import bind

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=10)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
        sock.close()
