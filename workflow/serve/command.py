"""The ``workflow serve`` subcommand: its arguments and what it runs (imports no FastAPI until it runs)."""

from __future__ import annotations

import argparse
import os

from workflow.core.errors import WorkflowError


def add_parser(sub, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add ``serve`` to the subcommands ``sub``."""
    p = sub.add_parser(
        "serve",
        parents=parents,
        help="serve a pipeline over HTTP (API, metrics, web page)",
        description="Serve a pipeline over HTTP: POST /run, GET /pipeline, /health, /ready, /metrics, "
        "/docs and a web page at /. Concurrent requests are batched.",
    )
    p.add_argument("file", metavar="FILE", help="pipeline YAML file")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument(
        "--max-batch",
        type=int,
        default=8,
        help="most items per pipeline call (default 8; 1 turns batching off)",
    )
    p.add_argument(
        "--max-wait-ms", type=float, default=10.0, help="longest wait for a batch to fill (default 10)"
    )
    p.add_argument(
        "--workers-threads", type=int, default=2, metavar="N", help="image decoding threads (default 2)"
    )
    p.add_argument(
        "--token-env",
        metavar="NAME",
        help="require 'Authorization: Bearer <token>', the token read from environment variable NAME",
    )
    p.add_argument("--max-body-mb", type=float, default=20.0, help="largest request body in MB (default 20)")
    p.add_argument("--max-queue", type=int, default=64, help="items allowed to wait before 503 (default 64)")
    return p


def config_from_args(args: argparse.Namespace):
    """The :class:`ServeConfig` for parsed arguments.

    Raises:
        WorkflowError: ``--token-env`` names an unset or empty variable.
    """
    from .config import ServeConfig

    token = None
    if args.token_env:
        token = os.environ.get(args.token_env, "")
        if not token.strip():
            raise WorkflowError(f"--token-env {args.token_env}: the environment variable is not set or empty")
        token = token.strip()
    return ServeConfig(
        host=args.host,
        port=args.port,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        worker_threads=args.workers_threads,
        token=token,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        max_queue=args.max_queue,
    )


def run_command(args: argparse.Namespace, registry) -> int:
    """Serve until Ctrl-C / SIGTERM; returns the exit code (0 after a graceful stop)."""
    config = config_from_args(args)
    try:
        from .server import serve
    except ImportError as exc:
        raise WorkflowError(
            f"workflow serve needs the 'serve' extra (pip install 'cv-workflow[serve]'): {exc}"
        ) from None
    serve(args.file, config, registry)
    return 0
