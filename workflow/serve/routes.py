"""The HTTP endpoints: POST /run, GET /pipeline, /health, /ready, /metrics and the page at /."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from workflow.core.errors import ParamError

from .batching import QueueFull
from .encode import MEDIA_TYPES, encode_image, image_json
from .inputs import decode_images, read_run_request
from .limits import HTTPProblem
from .metrics import CONTENT_TYPE

RUN_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "image": {
                        "type": "string",
                        "format": "binary",
                        "description": "one file per image input, named after it",
                    },
                    "params": {
                        "type": "string",
                        "description": 'JSON overrides, e.g. {"classify": {"top_k": 3}}',
                    },
                },
            }
        },
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["inputs"],
                "properties": {
                    "inputs": {
                        "type": "object",
                        "description": 'per image input: {"base64": "..."} or {"url": "https://..."}',
                    },
                    "params": {
                        "type": "object",
                        "description": "per-task overrides of parameters that do not rebuild a model",
                    },
                    "image": {
                        "type": "string",
                        "enum": ["png", "jpeg", "none"],
                        "description": "return annotated images",
                    },
                },
            }
        },
    },
}
RUN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "outputs as JSON, or the annotated image with ?image=png|jpeg&raw=true",
        "content": {"image/png": {}, "image/jpeg": {}},
    },
    401: {"description": "bearer token missing or wrong (with --token-env)"},
    413: {"description": "body or image (pixels) over the limit"},
    415: {"description": "not multipart/JSON, or an upload that is not an image"},
    422: {"description": "bad body, parameters, or an image the pipeline failed on"},
    503: {"description": "too many requests queued (see Retry-After), or not ready"},
}


def build_router(state) -> APIRouter:
    """Routes bound to ``state`` (a :class:`workflow.serve.app.ServerState`)."""
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        from .page import PAGE_HTML

        return HTMLResponse(PAGE_HTML)

    @router.get("/health", summary="Liveness: the process answers")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/ready",
        summary="Readiness: models loaded and accepting work",
        responses={503: {"description": "not ready"}},
    )
    def ready() -> JSONResponse:
        ok = state.service.ready and state.accepting
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    @router.get("/pipeline", summary="The pipeline: inputs, outputs, tasks and their parameters")
    def pipeline() -> dict[str, Any]:
        return {
            **state.service.describe(),
            "max_batch": state.config.max_batch,
            "max_wait_ms": state.config.max_wait_ms,
        }

    @router.get("/metrics", summary="Prometheus metrics (text format)", response_class=Response)
    def metrics() -> Response:
        state.metrics.queue.set(state.batcher.waiting)
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    @router.post(
        "/run",
        summary="Run the pipeline on one set of images",
        openapi_extra={"requestBody": RUN_BODY},
        responses=RUN_RESPONSES,
    )
    async def run(request: Request) -> Response:
        start = time.perf_counter()
        try:
            return await _run(state, request, start)
        finally:
            state.metrics.latency.observe(time.perf_counter() - start)

    return router


async def _run(state, request: Request, start: float) -> Response:
    service = state.service
    if not state.accepting:
        raise HTTPProblem(
            503, "the server is shutting down", {"Retry-After": str(state.config.retry_after_s)}
        )
    with state.batcher.expect():
        req = await read_run_request(request, service.image_inputs)
        try:
            overrides = service.check_overrides(req.params)
        except ParamError as exc:
            raise HTTPProblem(422, str(exc)) from None
        decode_start = time.perf_counter()
        images = await decode_images(
            req, state.decode_pool, state.hints, state.config.max_pixels, state.config.max_url_bytes
        )
        decode_s = time.perf_counter() - decode_start
    try:
        result = await state.batcher.submit(images, overrides)
    except QueueFull as exc:
        state.metrics.errors.inc(reason="queue_full")
        raise HTTPProblem(
            503, f"server busy: {exc}; retry later", {"Retry-After": str(state.config.retry_after_s)}
        ) from None
    state.metrics.items.inc()
    if result.error is not None:
        raise HTTPProblem(422, result.error)
    if req.image_format and request.query_params.get("raw", "").lower() in ("1", "true", "yes"):
        name = next(iter(service.image_outputs()), None)
        if name is None or result.outputs.get(name) is None:
            raise HTTPProblem(422, "raw=true: the pipeline has no image output")
        return Response(
            encode_image(result.outputs[name], req.image_format), media_type=MEDIA_TYPES[req.image_format]
        )
    body: dict[str, Any] = {"pipeline": service.wf.name, "outputs": service.outputs_json(result.outputs)}
    if req.image_format:
        body["images"] = {
            n: image_json(result.outputs[n], req.image_format)
            for n in service.image_outputs()
            if result.outputs.get(n) is not None
        }
    body["timings"] = {
        "decode_s": round(decode_s, 6),
        "queue_s": round(result.queue_s, 6),
        "run_s": round(result.run_s, 6),
        "total_s": round(time.perf_counter() - start, 6),
        "batch_size": result.batch_size,
        "tasks_s": result.task_s,
    }
    return JSONResponse(body)
