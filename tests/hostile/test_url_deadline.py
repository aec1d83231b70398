"""Class 5: a url fetch keeps to its total time limit whatever the server does.

A server that dribbles one byte every half second (in the body or in the headers)
never trips a per-read timeout; the total deadline must still hold.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from workflow.core.errors import InputError

PNG_HEAD = b"\x89PNG\r\n\x1a\n"


class _Dribbler:
    """A local server answering every connection by sending ``payload`` one byte every ``gap`` seconds."""

    def __init__(self, payload: bytes, gap: float = 0.5):
        self.payload, self.gap = payload, gap
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/slow.png"

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._dribble, args=(conn,), daemon=True).start()

    def _dribble(self, conn):
        try:
            conn.recv(65536)
            for i in range(len(self.payload)):
                if self.stop.is_set():
                    break
                conn.sendall(self.payload[i : i + 1])
                time.sleep(self.gap)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()


def _fetch_bounded(url: str, timeout: float) -> tuple[float, BaseException | None]:
    from workflow.run.sources import load_url

    box: dict = {}

    def go():
        start = time.monotonic()
        try:
            load_url(url, timeout=timeout)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            box["exc"] = exc
        box["t"] = time.monotonic() - start

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(timeout + 8)
    assert not thread.is_alive(), f"load_url(timeout={timeout}) still running after {timeout + 8} s"
    return box["t"], box.get("exc")


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n"
BODY = PNG_HEAD + bytes(992)


class _SlowBody(_Dribbler):
    """Sends the headers at once, then the body one byte every half second."""

    def _dribble(self, conn):
        try:
            conn.recv(65536)
            conn.sendall(HEAD)
        except OSError:
            conn.close()
            return
        try:
            for i in range(len(BODY)):
                if self.stop.is_set():
                    break
                conn.sendall(BODY[i : i + 1])
                time.sleep(self.gap)
        except OSError:
            pass
        finally:
            conn.close()


@pytest.mark.parametrize("where", ["body", "headers"])
def test_dribbling_server_is_cut_at_the_total_deadline(where):
    server = _SlowBody(b"", gap=0.5) if where == "body" else _Dribbler(HEAD + BODY, gap=0.5)
    url = server.url
    try:
        took, exc = _fetch_bounded(url, timeout=2.0)
    finally:
        server.close()
    assert isinstance(exc, InputError), repr(exc)
    assert "timed out" in str(exc) and url in str(exc)
    assert took < 3.5, f"the 2 s deadline held only after {took:.1f} s"


def test_silent_server_is_cut_at_the_deadline():
    server = _Dribbler(b"", gap=0)
    server._dribble = lambda conn: (conn.recv(65536), time.sleep(6), conn.close())
    url = server.url
    try:
        took, exc = _fetch_bounded(url, timeout=1.5)
    finally:
        server.close()
    assert isinstance(exc, InputError) and "timed out" in str(exc), repr(exc)
    assert took < 3.0
