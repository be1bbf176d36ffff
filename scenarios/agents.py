"""The agents the catalogue runs against: the reference routers and the mutants.

Fault targets are the agents' names: ``router``, ``billing``, ``account``, ``product``."""

from harness.binaries import PROJECT_ROOT
from harness.environment import AgentSpec, python_app

LOCAL_ROUTER = python_app("router", "agents.local_router:app", ["AgentRouter"], label="local-router")
UNJOURNALED_ROUTING_MUTANT = python_app(
    "router", "agents.mutants.unjournaled_routing:app", ["AgentRouter"], label="mutant:unjournaled-routing"
)

REMOTE_ROUTER = python_app("router", "agents.remote_router:app", ["RemoteAgentRouter"], label="remote-router")
BILLING_AGENT = python_app("billing", "agents.remote_specialists:billing_app", ["BillingAgent"], side_effects=["refunds"])
ACCOUNT_AGENT = python_app("account", "agents.remote_specialists:account_app", ["AccountAgent"])
PRODUCT_AGENT_TS = AgentSpec(
    "product",
    ("node", "dist/index.js", "--port", "{port}"),
    ("ProductAgent",),
    cwd=PROJECT_ROOT / "agents" / "product_agent_ts",
    label="product-ts",
)

REMOTE_AGENTS = (REMOTE_ROUTER, BILLING_AGENT, ACCOUNT_AGENT, PRODUCT_AGENT_TS)

REFUND_OUTSIDE_RUN_MUTANT = python_app(
    "billing", "agents.mutants.refund_outside_run:app", ["BillingAgent"],
    label="mutant:refund-outside-run", side_effects=["refunds"],
)
RANDOM_ROUTING_MUTANT = python_app("router", "agents.mutants.random_routing:app", ["AgentRouter"], label="mutant:random-routing")
