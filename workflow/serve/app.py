"""The FastAPI application: state, lifespan (batcher and decode threads), errors as one-line JSON, metrics."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from workflow.core.errors import WorkflowError

from .batching import Batcher
from .config import ServeConfig
from .docs import add_offline_docs
from .limits import HTTPProblem, LimitsMiddleware
from .metrics import ServeMetrics
from .routes import build_router
from .service import PipelineService

log = logging.getLogger(__name__)


@dataclass
class ServerState:
    """Everything the routes share."""

    service: PipelineService
    config: ServeConfig
    metrics: ServeMetrics = field(default_factory=ServeMetrics)
    batcher: Batcher | None = None
    decode_pool: ThreadPoolExecutor | None = None
    hints: dict[str, int | None] = field(default_factory=dict)
    accepting: bool = False


def create_app(service: PipelineService, config: ServeConfig) -> FastAPI:
    """The app for a warmed-up ``service``; the batcher starts and stops with the app's lifespan."""
    state = ServerState(service, config)
    state.hints = {name: service.decode_hint(name) for name in service.image_inputs}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.decode_pool = ThreadPoolExecutor(
            max_workers=config.worker_threads, thread_name_prefix="serve-decode"
        )
        state.batcher = Batcher(
            service.run_batch,
            config.max_batch,
            config.max_wait_ms / 1000.0,
            config.max_queue,
            on_batch=state.metrics.batch_size.observe,
        )
        await state.batcher.start()
        state.accepting = True
        try:
            yield
        finally:
            state.accepting = False
            await state.batcher.stop()  # jobs already queued still run
            state.decode_pool.shutdown(wait=True)
            log.info("batcher stopped")

    app = FastAPI(
        title=f"workflow serve: {service.wf.name}",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Runs the pipeline on images sent to POST /run; concurrent requests are batched.",
    )
    app.state.serve = state
    app.include_router(build_router(state))
    add_offline_docs(app)
    app.add_middleware(LimitsMiddleware, max_body_bytes=config.max_body_bytes, token=config.token)

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        response = await call_next(request)
        state.metrics.requests.inc(path=_path_label(request.url.path), status=str(response.status_code))
        return response

    @app.exception_handler(HTTPProblem)
    async def problem(request: Request, exc: HTTPProblem) -> JSONResponse:
        if exc.status >= 400:
            state.metrics.errors.inc(reason=str(exc.status))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(WorkflowError)
    async def workflow_error(request: Request, exc: WorkflowError) -> JSONResponse:
        state.metrics.errors.inc(reason="pipeline")
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": " ".join(str(exc).split())}, status_code=500)

    return app


def _path_label(path: str) -> str:
    """Known paths as they are, anything else as 'other' (bounded label values)."""
    return (
        path
        if path in {"/", "/run", "/pipeline", "/health", "/ready", "/metrics", "/docs", "/openapi.json"}
        else "other"
    )
