"""HTTP(S) handlers whose connections are shut when a total deadline passes, whatever the server does.

A per-read socket timeout never fires against a server that sends one byte every half
second; a timer that shuts the socket down at the deadline ends every wait at once.
"""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.request


class Deadline:
    """Shuts every socket registered with it when ``seconds`` have passed (use as a context manager)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._socks:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def deadline_handlers(deadline: Deadline) -> list[urllib.request.BaseHandler]:
    """An HTTP and an HTTPS handler whose connections register their sockets with ``deadline``."""

    class HTTPConnection(http.client.HTTPConnection):
        def connect(self):
            super().connect()
            deadline.watch(self.sock)

    class HTTPSConnection(http.client.HTTPSConnection):
        def connect(self):
            super().connect()
            deadline.watch(self.sock)

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(HTTPConnection, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(HTTPSConnection, req, context=self._context)

    return [HTTPHandler(), HTTPSHandler()]
