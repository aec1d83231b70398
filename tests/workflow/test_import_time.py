"""`import workflow` stays light: under 0.2 s, and no torch, OpenCV or plugin is imported."""
from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "torchvision", "cv2", "infer_torchvision_resnext", "train_torchvision_resnext")


def run_python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_workflow_is_fast():
    code = "import time\nt = time.perf_counter()\nimport workflow\nprint(time.perf_counter() - t)"
    best = min(float(run_python(code)) for _ in range(5))  # best of 5: the machine is shared
    assert best < 0.2, f"import workflow took {best:.3f} s"


def test_import_workflow_imports_no_heavy_module():
    code = f"import sys\nimport workflow\nprint([m for m in {HEAVY!r} if m in sys.modules])"
    assert run_python(code) == "[]"


def test_cli_list_imports_no_heavy_module():
    code = (f"import sys\nfrom workflow.cli import main\nassert main(['list']) == 0\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    assert run_python(code).splitlines()[-1] == "[]"
