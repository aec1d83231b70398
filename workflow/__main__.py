"""``python -m workflow ...`` (and ``torchrun -m workflow run ...``): the ``workflow`` command."""

from workflow.cli import main

raise SystemExit(main())
