"""The runner: a live run (``live``), one scenario's run (``scenario``), a batch of them
(``batch``), environment pools and shrinking.

Layer: it composes everything below it; only the catalogue, the scenarios, validate, the CLI
and the plugin import it. Held by ``lint-imports`` (pyproject.toml's [tool.importlinter])."""
