"""url inputs: http(s) only, size limit while streaming, timeout; against a local server on 127.0.0.1."""

from __future__ import annotations

import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from tests.workflow.tasks_for_tests import make_registry
from workflow import InputError, Workflow
from workflow.run.runner import run_inputs, run_on
from workflow.run.sources import fetch_url, load_url

PIXELS = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 3


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(PIXELS).save(buf, format="PNG")
    return buf.getvalue()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        body = png_bytes()
        if self.path == "/img.png":
            self._send(200, body, {"Content-Length": str(len(body)), "Content-Type": "image/png"})
        elif self.path == "/declared-big":
            self._send(200, b"", {"Content-Length": str(10**9)})
        elif self.path == "/streamed-big":  # no length header: only counting while reading can stop it
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(64):
                    self.wfile.write(b"\0" * 16384)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/slow":
            time.sleep(1.5)
            self._send(200, body, {"Content-Length": str(len(body))})
        elif self.path == "/to-file":
            self._send(302, b"", {"Location": "file:///etc/passwd", "Content-Length": "0"})
        elif self.path == "/to-ftp":
            self._send(302, b"", {"Location": "ftp://127.0.0.1/x.jpg", "Content-Length": "0"})
        elif self.path == "/to-img":
            self._send(302, b"", {"Location": "/img.png", "Content-Length": "0"})
        elif self.path == "/text.jpg":
            self._send(200, b"hello", {"Content-Length": "5"})
        else:
            self._send(404, b"no", {"Content-Length": "2"})

    def _send(self, code: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(key, raising=False)


def test_fetch_and_decode_an_image(server):
    assert fetch_url(f"{server}/img.png") == png_bytes()
    np.testing.assert_array_equal(load_url(f"{server}/img.png"), PIXELS)


def test_redirect_within_http_is_followed(server):
    np.testing.assert_array_equal(load_url(f"{server}/to-img"), PIXELS)


def test_too_big_by_header_is_refused_before_reading(server):
    with pytest.raises(InputError, match=r"/declared-big: too large \(1000000000 bytes; limit 1000\)$"):
        fetch_url(f"{server}/declared-big", max_bytes=1000)


def test_too_big_while_streaming_is_refused(server):
    with pytest.raises(InputError, match=r"/streamed-big: too large \(more than 100000 bytes\)$"):
        fetch_url(f"{server}/streamed-big", max_bytes=100_000)


@pytest.mark.parametrize(
    "url, scheme",
    [
        ("file:///etc/passwd", "'file'"),
        ("ftp://127.0.0.1/x.jpg", "'ftp'"),
        ("data:image/png;base64,AAAA", "'data'"),
        ("127.0.0.1/x.png", "none"),
    ],
)
def test_non_http_schemes_are_refused(url, scheme):
    with pytest.raises(InputError, match=rf"only http and https urls are allowed \(scheme {scheme}\)$"):
        fetch_url(url)


def test_redirect_to_another_scheme_is_refused(server):
    with pytest.raises(
        InputError, match=r"/to-ftp: redirect to ftp://127\.0\.0\.1/x\.jpg refused \(only http and https"
    ):
        fetch_url(f"{server}/to-ftp")
    with pytest.raises(
        InputError, match=r"/to-file: HTTP 302 .*Redirection to url 'file:///etc/passwd' is not allowed"
    ):
        fetch_url(f"{server}/to-file")


def test_timeout(server):
    start = time.monotonic()
    with pytest.raises(InputError, match=r"/slow: timed out after 0\.3 s$"):
        fetch_url(f"{server}/slow", timeout=0.3)
    assert time.monotonic() - start < 1.2


def test_http_errors_and_non_images_name_the_url(server):
    with pytest.raises(InputError, match=r"/missing\.png: HTTP 404 Not Found$"):
        fetch_url(f"{server}/missing.png")
    with pytest.raises(InputError, match=r"/text\.jpg: not an image"):
        load_url(f"{server}/text.jpg")
    with pytest.raises(InputError, match=r"http://127\.0\.0\.1:1/x\.png: cannot fetch \("):
        fetch_url("http://127.0.0.1:1/x.png", timeout=2)


def test_run_on_url_and_the_cli_dispatch(server, tmp_path):
    wf = Workflow(registry=make_registry())
    wf.add_task(name="mean_classifier", auto_connect=True)
    report = run_on(wf, url=f"{server}/img.png", output_dir=tmp_path / "out")
    assert report.outputs["classification"].top.label == "dark"
    assert (tmp_path / "out" / "results.csv").read_text().splitlines()[1].startswith("img.png,dark,")
    again = run_inputs(wf, {"image": f"{server}/img.png"}, tmp_path / "out2")
    assert again.processed == 1
    with pytest.raises(InputError, match=r"file:///etc/passwd: only http and https"):
        run_inputs(wf, {"image": "file:///etc/passwd"}, tmp_path / "out3")
