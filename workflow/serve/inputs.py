"""Reading a ``POST /run`` request: multipart uploads or JSON (base64 / url), decoded in worker threads."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from workflow.core.errors import InputError

from .limits import BodyTooLarge, HTTPProblem, input_error_status

IMAGE_FORMATS = ("png", "jpeg")
MAX_FORM_FILES = 16
MAX_FORM_FIELDS = 16


@dataclass
class RunRequest:
    """One request's encoded images (by input name), parameter overrides and response options."""

    images: dict[str, bytes | str] = field(default_factory=dict)  # bytes, or an http(s) url to fetch
    params: Any = None
    image_format: str | None = None  # png / jpeg: return the annotated image(s) in that format


async def read_run_request(request, image_inputs: list[str]) -> RunRequest:
    """Parse the body by its content type.

    Raises:
        HTTPProblem: 415 for another content type, 422 for a malformed body or missing image.
    """
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        req = await _read_multipart(request, image_inputs)
    elif ctype == "application/json":
        req = await _read_json(request, image_inputs)
    else:
        raise HTTPProblem(
            415,
            f"content type '{ctype or 'none'}' not accepted: send multipart/form-data "
            "(one file per image input) or application/json",
        )
    query = request.query_params.get("image")
    if query is not None:
        req.image_format = query
    if req.image_format is not None:
        req.image_format = str(req.image_format).lower().replace("jpg", "jpeg")
        if req.image_format not in IMAGE_FORMATS + ("none",):
            raise HTTPProblem(422, f"image: expected one of png, jpeg, none (got {req.image_format!r})")
        if req.image_format == "none":
            req.image_format = None
    missing = [n for n in image_inputs if n not in req.images]
    if missing:
        raise HTTPProblem(
            422, f"missing image input '{missing[0]}' (expected inputs: {', '.join(image_inputs)})"
        )
    return req


async def _read_multipart(request, image_inputs: list[str]) -> RunRequest:
    try:
        form = await request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS)
    except BodyTooLarge:
        raise
    except (
        Exception
    ) as exc:  # starlette's MultiPartException and parser errors: the client's body is malformed
        raise HTTPProblem(
            422, f"malformed multipart body ({' '.join(str(exc).split()) or type(exc).__name__})"
        ) from None
    req = RunRequest()
    try:
        for key, value in form.multi_items():
            if key in image_inputs:
                if isinstance(value, str):
                    raise HTTPProblem(422, f"field '{key}': expected an uploaded file, got a text field")
                req.images[key] = await value.read()
            elif key == "params":
                req.params = _parse_json_text(value, "params")
            else:
                raise HTTPProblem(
                    422, f"unknown form field '{key}' (expected: {', '.join(image_inputs)}, params)"
                )
    finally:
        await form.close()
    return req


async def _read_json(request, image_inputs: list[str]) -> RunRequest:
    body = await request.body()
    data = _parse_json_text(body, "body")
    if not isinstance(data, dict):
        raise HTTPProblem(422, f"body: expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - {"inputs", "params", "image"})
    if unknown:
        raise HTTPProblem(422, f"body: unknown key '{unknown[0]}' (expected inputs, params, image)")
    inputs = data.get("inputs")
    if not isinstance(inputs, dict):
        raise HTTPProblem(
            422, 'body: \'inputs\' must be an object {input_name: {"base64": ...} or {"url": ...}}'
        )
    req = RunRequest(params=data.get("params"), image_format=data.get("image"))
    for name, value in inputs.items():
        if name not in image_inputs:
            raise HTTPProblem(
                422, f"inputs: unknown image input '{name}' (expected: {', '.join(image_inputs)})"
            )
        req.images[name] = _json_image(name, value)
    return req


def _json_image(name: str, value: Any) -> bytes | str:
    if isinstance(value, str):
        value = {"url": value} if value.startswith(("http://", "https://")) else {"base64": value}
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in ("base64", "url"):
        raise HTTPProblem(422, f'inputs.{name}: expected {{"base64": "..."}} or {{"url": "https://..."}}')
    kind, text = next(iter(value.items()))
    if not isinstance(text, str):
        raise HTTPProblem(422, f"inputs.{name}.{kind}: expected a string")
    if kind == "url":
        if not text.startswith(("http://", "https://")):
            raise HTTPProblem(422, f"inputs.{name}.url: only http(s) urls are fetched (got {text[:80]!r})")
        return text
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPProblem(422, f"inputs.{name}.base64: not valid base64") from None


def _parse_json_text(text: Any, where: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError) as exc:
        raise HTTPProblem(422, f"{where}: not valid JSON ({exc})") from None


async def decode_images(
    req: RunRequest, pool: Executor, hints: dict[str, int | None], max_pixels: int | None, max_url_bytes: int
) -> dict[str, Any]:
    """Decode (or fetch, then decode) every image in ``pool``; the first failure becomes an HTTPProblem."""
    loop = asyncio.get_running_loop()
    names = list(req.images)
    jobs = [
        loop.run_in_executor(pool, _decode_one, n, req.images[n], hints.get(n), max_pixels, max_url_bytes)
        for n in names
    ]
    arrays = await asyncio.gather(*jobs, return_exceptions=True)
    for _name, result in zip(names, arrays):
        if isinstance(result, InputError):
            raise HTTPProblem(input_error_status(str(result)), str(result))
        if isinstance(result, BaseException):
            raise result
    return dict(zip(names, arrays))


def _decode_one(
    name: str, data: bytes | str, min_side: int | None, max_pixels: int | None, max_url_bytes: int
):
    from workflow.core.imaging import decode_bytes

    if isinstance(data, str):
        from workflow.run.sources import fetch_url

        return decode_bytes(fetch_url(data, max_bytes=max_url_bytes), data, min_side, max_pixels)
    return decode_bytes(data, f"input '{name}'", min_side, max_pixels)
