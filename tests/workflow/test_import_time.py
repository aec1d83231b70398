"""`import workflow` stays light: no torch, OpenCV or plugin is imported, few modules load, and it takes
little CPU.

The time check uses CPU time (best of 5) with a bound well under what importing torch alone costs,
so it catches a heavy import sneaking in without failing because the shared machine is busy.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "torchvision", "cv2", "numpy", "infer_torchvision_resnext", "train_torchvision_resnext")
MAX_NEW_MODULES = 400  # ~170 today (pydantic is most of them); torch alone adds over 1,000
MAX_CPU_SECONDS = 0.8  # ~0.27 s today on the AVX2 machine; torch alone costs several seconds


def run_python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_workflow_is_fast():
    code = (
        "import sys, time\nn = len(sys.modules)\nt = time.process_time()\nimport workflow\n"
        "print(time.process_time() - t, len(sys.modules) - n)"
    )
    runs = [tuple(map(float, run_python(code).split())) for _ in range(5)]
    best = min(cpu for cpu, _ in runs)
    assert best < MAX_CPU_SECONDS, f"import workflow took {best:.3f} s of CPU"
    assert runs[0][1] < MAX_NEW_MODULES, f"import workflow loaded {runs[0][1]:.0f} modules"


def test_import_workflow_imports_no_heavy_module():
    code = f"import sys\nimport workflow\nprint([m for m in {HEAVY!r} if m in sys.modules])"
    assert run_python(code) == "[]"


def test_cli_list_imports_no_heavy_module():
    code = (
        f"import sys\nfrom workflow.cli import main\nassert main(['list']) == 0\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    assert run_python(code).splitlines()[-1] == "[]"
