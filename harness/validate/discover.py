"""Discovery: which handler to validate, how to address it, and what to send it, from what
registering the deployments told Restate (services, handler kinds, input schemas)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harness.env.restate.admin import Deployment, Handler, Service
from harness.errors import HarnessError
from harness.fake_llm.instances import instance


@dataclass(frozen=True)
class Entry:
    service: str
    handler: str
    kind: str  # "Service", "VirtualObject" or "Workflow"
    input_schema: Any = None

    def __str__(self) -> str:
        return f"{self.service}/{self.handler}"

    @property
    def keyed(self) -> bool:
        return self.kind in ("VirtualObject", "Workflow")


def public_handlers(deployments: Iterable[Deployment]) -> list[tuple[Service, Handler]]:
    """Handlers a client may call: a Workflow's ``run`` (not its shared signal handlers),
    every handler of a Service or Virtual Object but shared read-only ones."""
    found = []
    for deployment in deployments:
        for service in deployment.services:
            for handler in service.handlers:
                if service.kind == "Workflow" and handler.name != "run":
                    continue
                if service.kind == "VirtualObject" and (handler.kind or "").lower() == "shared":
                    continue
                found.append((service, handler))
    return found


def choose_entry(deployments: Iterable[Deployment], wanted: str | None, *, callees: Iterable[str] = ()) -> Entry:
    """The entry: ``wanted`` if it exists; else the only public handler (a service the
    others call, e.g. a remote router's specialists, is not an entry). One line otherwise."""
    handlers = public_handlers(deployments)
    names = [f"{s.name}/{h.name}" for s, h in handlers]
    if wanted is not None:
        for service, handler in handlers:
            if f"{service.name}/{handler.name}" == wanted:
                return Entry(service.name, handler.name, service.kind, handler.input_schema)
        raise HarnessError(f"unknown entry {wanted}; the deployments offer: {', '.join(names) or 'nothing'}")
    skip = set(callees)
    candidates = [(s, h) for s, h in handlers if s.name not in skip]
    if len(candidates) == 1:
        service, handler = candidates[0]
        return Entry(service.name, handler.name, service.kind, handler.input_schema)
    if not handlers:
        raise HarnessError("the deployments offer no handler a client can call")
    raise HarnessError(f"several handlers could be the entry; pick one with --entry: {', '.join(names)}")


def default_input(entry: Entry) -> Any:
    """A request for ``entry``: an instance of its published input schema with ``{token}``
    in every string, or, without a schema, a question carrying the token."""
    schema = entry.input_schema
    if isinstance(schema, dict) and schema and schema.get("type") != "string":
        try:
            return instance(schema, text="{token}")
        except Exception:  # a schema the generator cannot fill: fall back to a plain question
            pass
    return "I was charged twice for my order, please help {token}"
