"""Shared test setup: quiet progress bars, one torch thread per test process, offline hub cache."""

from __future__ import annotations

import os
import signal

os.environ.setdefault("WORKFLOW_PROGRESS", "0")
# A shell starts background jobs with SIGINT ignored, and children inherit an ignored signal across exec:
# the Ctrl-C tests' children would never see it. Handled (not ignored) here, it is default again in every
# child.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
os.environ.setdefault("OMP_NUM_THREADS", "2")
