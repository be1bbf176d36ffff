"""The agents the catalogue runs against: the reference routers and the mutants."""

from harness.environment import python_app

LOCAL_ROUTER = python_app("router", "agents.local_router:app", ["AgentRouter"], label="local-router")
UNJOURNALED_ROUTING_MUTANT = python_app(
    "router", "agents.mutants.unjournaled_routing:app", ["AgentRouter"], label="mutant:unjournaled-routing"
)
