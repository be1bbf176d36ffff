"""Results: ``results.json`` as typed rows (``rows``, ``scenario``, ``batch``) and the
commands that reproduce a run.

Layer: above the checker, below the report; never a live run. Held by ``lint-imports``
(pyproject.toml's [tool.importlinter])."""
