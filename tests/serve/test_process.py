"""`workflow serve` as a process: start-up line, start-up errors, graceful shutdown with a request in
flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from .helpers import PLUGINS, colour_pipeline, png_bytes, solid

SERVE = [sys.executable, "-m", "workflow", "serve"]


def _env() -> dict[str, str]:
    env = dict(os.environ, WORKFLOW_PLUGIN_PATH=str(PLUGINS), OMP_NUM_THREADS="1")
    return env


def start(args: list[str], timeout_s: float = 60.0) -> tuple[subprocess.Popen, str]:
    """Start the server on a free port; returns the process and its base url (from its start-up line)."""
    proc = subprocess.Popen(SERVE + args + ["--port", "0"], env=_env(), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout_s
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("serving "):
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep draining
            return proc, line.split(" on ")[1].split()[0]
    proc.kill()
    proc.wait(10)
    raise AssertionError(f"server did not start: {''.join(lines)}")


def test_graceful_shutdown_finishes_the_request_in_flight(tmp_path):
    proc, url = start([str(colour_pipeline(tmp_path, delay_s=1.5)), "--max-wait-ms", "0"])
    try:
        assert url.startswith("http://127.0.0.1:")
        result: dict = {}
        data = png_bytes(solid((200, 0, 0)))
        assert httpx.get(f"{url}/ready", timeout=10).json() == {"ready": True}

        def slow_request():
            result["response"] = httpx.post(f"{url}/run", files={"image": ("x.png", data)}, timeout=30)

        client = threading.Thread(target=slow_request)
        client.start()
        time.sleep(0.6)  # the request is now inside the 1.5 s batch
        proc.send_signal(signal.SIGTERM)
        client.join(20)
        code = proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert result["response"].status_code == 200, result["response"].text
    assert result["response"].json()["outputs"]["classification"]["classes"][0]["label"] == "red"
    assert code == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=5)


def test_start_up_error_exits_1_with_one_line(tmp_path):
    pipeline = colour_pipeline(tmp_path, warmup_fail="true")
    done = subprocess.run(
        SERVE + [str(pipeline), "--port", "0"], env=_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "refusing the warm-up image" in done.stderr


def test_token_env_must_be_set(tmp_path):
    env = {k: v for k, v in _env().items() if k != "SERVE_TOKEN_UNSET"}
    done = subprocess.run(
        SERVE + [str(colour_pipeline(tmp_path)), "--token-env", "SERVE_TOKEN_UNSET"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "SERVE_TOKEN_UNSET" in done.stderr


def test_listening_socket_has_no_nagle_delay():
    import socket

    from workflow.serve.server import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio then sets TCP_NODELAY on every connection
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        sock.close()
