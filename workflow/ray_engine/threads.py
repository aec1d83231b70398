"""Thread limits for one actor: as many threads as the CPUs Ray gave it, so actors do not oversubscribe
cores."""

from __future__ import annotations

import os
import sys

from workflow.core.runtime import THREADS_ENV

_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def thread_env(cpus: int) -> dict[str, str]:
    """Environment for an actor process: BLAS/OpenMP threads and the engine's thread budget set to ``cpus``.

    The budget (:func:`workflow.core.runtime.thread_budget`) is what plugins size their own model runtimes
    by; with fewer threads than the machine's cores a plugin should also leave its threads unpinned, or every
    actor's threads would sit on the same first cores.
    """
    env = {name: str(cpus) for name in _ENV}
    env[THREADS_ENV] = str(cpus)
    return env


def limit_threads(cpus: int) -> None:
    """Apply :func:`thread_env` to this process, and to torch / OpenCV when they are already loaded."""
    os.environ.update(thread_env(cpus))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(cpus)
    if "cv2" in sys.modules:
        sys.modules["cv2"].setNumThreads(cpus)
