"""The checker: pure functions from a ``History`` to check results and a judgement.

Layer: above the nemesis and the workload, below results. It imports only the history, the
settings layer and itself: never a live run. Held by ``lint-imports`` (pyproject.toml's
[tool.importlinter])."""
