"""Connect to Ray: a running cluster (``address`` or ``RAY_ADDRESS``) or a local one on this machine's
cores."""

from __future__ import annotations

import logging
import os
import warnings

from workflow.core.errors import InputError

log = logging.getLogger(__name__)


def import_ray():
    """``ray`` (and pyarrow, which reads the files), or an InputError saying how to install them."""
    try:
        import pyarrow.fs  # noqa: F401
        import ray
    except ImportError as exc:
        raise InputError(
            f"engine 'ray' needs Ray: pip install -e '.[ray]' (or cv-workflow[ray]) ({exc})"
        ) from None
    return ray


def connect(address: str | None = None):
    """Join ``address`` (or ``$RAY_ADDRESS``); without either start a local Ray with every core. Returns
    ``ray``.

    A session already started in this process (e.g. ``ray.init(...)`` in a script) is used as it is.
    """
    ray = import_ray()
    quiet = not log.isEnabledFor(logging.DEBUG)  # --verbose shows Ray's own notes
    if quiet:
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray\.")
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    options = init_options(quiet)
    if address:
        log.info("joining the Ray cluster at %s", address)
        ray.init(address=address, **options)
    else:
        log.info("starting a local Ray with %d CPUs", os.cpu_count() or 1)
        ray.init(num_cpus=os.cpu_count() or 1, **options)
    return ray


def init_options(quiet: bool = True) -> dict:
    """``ray.init`` options of a run: no dashboard; when quiet, Ray's own logs stay in its log folder.

    Errors never need Ray's logs: an actor returns bad files and setup errors as results, so a
    quiet run prints only this toolkit's lines (Ray's processes would otherwise echo theirs,
    e.g. the GCS noting a failed actor, to the driver's stderr).
    """
    return dict(
        include_dashboard=False,
        logging_level=logging.ERROR if quiet else logging.INFO,
        log_to_driver=not quiet,
    )


def cluster_cpus() -> int:
    """CPUs the connected cluster offers (at least 1)."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))
