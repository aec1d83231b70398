"""Shared test setup: quiet progress bars, one torch thread per test process, offline hub cache."""
from __future__ import annotations

import os

os.environ.setdefault("WORKFLOW_PROGRESS", "0")
os.environ.setdefault("OMP_NUM_THREADS", "2")
