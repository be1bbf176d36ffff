"""The environment: processes, restate-server (one node, a cluster, a container), Toxiproxy
links, ports and cleanup.

Layer: above the context, stubs, fake LLM and history; below the nemesis. Held by ``lint-
imports`` (pyproject.toml's [tool.importlinter])."""
