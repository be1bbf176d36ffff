"""The nemesis: faults (``faults/``, one module per target), triggers, random schedules and
their shrinking.

Layer: above the environment, below the checker; it touches a live run only through
``harness.context``. Held by ``lint-imports`` (pyproject.toml's [tool.importlinter])."""
