"""Thread limits for one actor: as many threads as the CPUs Ray gave it, so actors do not oversubscribe
cores."""

from __future__ import annotations

import os
import sys

_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
OPENVINO_CONFIG_ENV = "WORKFLOW_OPENVINO_CONFIG"


def thread_env(cpus: int) -> dict[str, str]:
    """Environment for an actor process: BLAS/OpenMP threads and OpenVINO's INFERENCE_NUM_THREADS set to
    ``cpus``.

    With fewer threads than the machine's cores, the OpenVINO backend also leaves its threads
    unpinned (see ``infer_torchvision_resnext.backends._openvino_config``): pinned, every actor's threads
    would sit on the same first cores.
    """
    env = {name: str(cpus) for name in _ENV}
    ov = os.environ.get(OPENVINO_CONFIG_ENV, "").strip()
    if "INFERENCE_NUM_THREADS" not in ov:
        ov = ",".join(p for p in (ov, f"INFERENCE_NUM_THREADS={cpus}") if p)
    env[OPENVINO_CONFIG_ENV] = ov
    return env


def limit_threads(cpus: int) -> None:
    """Apply :func:`thread_env` to this process, and to torch / OpenCV when they are already loaded."""
    os.environ.update(thread_env(cpus))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(cpus)
    if "cv2" in sys.modules:
        sys.modules["cv2"].setNumThreads(cpus)
