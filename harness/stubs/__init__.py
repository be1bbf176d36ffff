"""Recording stubs of outside services that agents call for side effects, each with a ledger.

Layer: above the fake LLM, below the context. Held by ``lint-imports`` (pyproject.toml's
[tool.importlinter])."""
