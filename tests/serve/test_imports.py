"""`import workflow` (and the CLI's parser) stay free of FastAPI and uvicorn."""

from __future__ import annotations

import subprocess
import sys


def test_import_workflow_loads_no_web_framework():
    code = (
        "import sys, workflow, workflow.cli, workflow.serve; workflow.cli.build_parser(); "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'httpx', 'playwright') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
