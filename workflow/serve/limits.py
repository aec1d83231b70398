"""Request limits: body size (413), bearer token (401), and the HTTP status of each input error."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
OPEN_PATHS = frozenset({"/", "/health", "/ready", "/docs", "/openapi.json", "/docs/oauth2-redirect"})


def _open(path: str) -> bool:
    """Paths anyone may read: the page, liveness, and the API description with its assets."""
    return path in OPEN_PATHS or path.startswith("/docs/assets/")


class HTTPProblem(Exception):
    """An error answered with ``status`` and a one-line ``detail`` (plus optional headers)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


def input_error_status(message: str) -> int:
    """HTTP status of an image that failed to decode: 415 not an image, 413 too many pixels, else 422."""
    if "not an image" in message or "not a readable image" in message:
        return 415
    if "too large" in message:
        return 413
    return 422


async def _send_problem(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    """Raised while reading a body that grows past the limit (answered 413 by :class:`LimitsMiddleware`)."""


class LimitsMiddleware:
    """ASGI middleware: refuses bodies over ``max_body_bytes`` (413, from the header or while reading)
    and, with a ``token``, requests to non-open paths without ``Authorization: Bearer <token>`` (401)."""

    def __init__(self, app, max_body_bytes: int, token: str | None = None):
        self.app, self.max_body_bytes, self.token = app, max_body_bytes, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.token is not None and not _open(scope.get("path", "")) and not self._authorised(headers):
            await _send_problem(
                send,
                401,
                "missing or wrong bearer token (send 'Authorization: Bearer <token>')",
                {"WWW-Authenticate": "Bearer"},
            )
            return
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await _send_problem(
                send, 413, f"request body too large ({length} bytes; limit {self.max_body_bytes})"
            )
            return
        seen = 0
        started = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge()
            return message

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await _send_problem(send, 413, f"request body too large (over {self.max_body_bytes} bytes)")

    def _authorised(self, headers: dict[str, str]) -> bool:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token.encode())
