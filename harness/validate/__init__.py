"""Validation of an agent nobody here wrote: discover its handlers, learn a fault-free
baseline against the unscripted fake LLM, crash it at every crash point and judge every
run with generic oracles, then diagnose one row per bug class.

    restate-resilience validate --cmd 'hypercorn my_pkg.app:app --bind 127.0.0.1:{port}'

Layer: above the scenarios, below the CLI and the plugin. Held by ``lint-imports``
(pyproject.toml's [tool.importlinter])."""
