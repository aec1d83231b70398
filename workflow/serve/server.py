"""Start-up and shutdown: load and warm the pipeline, then open the port and run uvicorn.

The port opens only after the pipeline is validated and its models are loaded. On Ctrl-C or
SIGTERM uvicorn stops accepting connections, lets the requests in flight finish (up to
``graceful_timeout_s``), then the app's lifespan stops the batcher once its queue is empty.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from workflow.core.errors import WorkflowError

from .config import ServeConfig

log = logging.getLogger(__name__)


def prepare(pipeline: str | os.PathLike, config: ServeConfig, registry=None):
    """Load, validate and warm up the pipeline; returns the FastAPI app.

    Raises:
        WorkflowError: the pipeline is invalid or cannot run (nothing is listening yet).
    """
    from workflow.workflow import Workflow

    from .app import create_app
    from .service import PipelineService

    try:
        config.check()
    except ValueError as exc:
        raise WorkflowError(f"serve: {exc}") from None
    wf = Workflow.load(Path(pipeline), registry=registry)
    service = PipelineService(wf)
    if not service.image_inputs:
        raise WorkflowError(f"{pipeline}: pipeline '{wf.name}' has no image input to serve")
    service.warm_up()
    return create_app(service, config)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one); connections wait in its backlog until uvicorn
    runs.

    Raises:
        WorkflowError: the address cannot be bound (in use, not local...).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so (proto 0 would leave
    # Nagle's algorithm on and add ~40 ms to every response); accepted sockets inherit TCP_NODELAY.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise WorkflowError(f"serve: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(
    pipeline: str | os.PathLike,
    config: ServeConfig,
    registry=None,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Run the server until Ctrl-C or SIGTERM (then finish the requests in flight and return)."""
    import uvicorn

    app = prepare(pipeline, config, registry)
    sock = bind(config.host, config.port)
    host, port = sock.getsockname()[:2]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    (announce or (lambda text: print(text, file=sys.stderr, flush=True)))(
        f"serving '{app.state.serve.service.wf.name}' on {url} (page {url}/, API {url}/docs)"
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            timeout_graceful_shutdown=config.graceful_timeout_s,
            access_log=False,
            lifespan="on",
        )
    )
    stopped = _stop_on_sigterm()
    try:
        server.run(sockets=[sock])  # uvicorn re-raises the signal that stopped it once it has drained
    except (KeyboardInterrupt, _Stopped):
        pass
    finally:
        stopped()
        sock.close()
    log.info("server stopped")


class _Stopped(Exception):
    """SIGTERM arrived (re-raised by uvicorn after its graceful shutdown)."""


def _stop_on_sigterm() -> Callable[[], None]:
    """Make SIGTERM raise :class:`_Stopped` (so the process exits 0 after draining); returns the undo."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def stop(signum, frame):
        raise _Stopped()

    previous = signal.signal(signal.SIGTERM, stop)
    return lambda: signal.signal(signal.SIGTERM, previous)
