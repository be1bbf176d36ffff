"""The agents the catalogue runs against: the reference routers and the mutants.

Fault targets are the agents' names: ``router``, ``billing``, ``account``, ``product``."""

from functools import partial

from harness.env.binaries import PROJECT_ROOT
from harness.env.environment import AgentSpec, python_app
from harness.nemesis.faults import OFFERS_TOOLS
from harness.stubs.spec import REFUNDS

# The reference agents and mutants are modules of this repository's agents/ folder.
ours = partial(python_app, cwd=PROJECT_ROOT)

LOCAL_ROUTER = ours("router", "agents.local_router:app", ["AgentRouter"], label="local-router")
UNJOURNALED_ROUTING_MUTANT = ours(
    "router", "agents.mutants.unjournaled_routing:app", ["AgentRouter"], label="mutant:unjournaled-routing")

REMOTE_ROUTER = ours("router", "agents.remote_router:app", ["RemoteAgentRouter"], label="remote-router")
BILLING_AGENT = ours("billing", "agents.remote_specialists:billing_app", ["BillingAgent"], stubs=[REFUNDS])
ACCOUNT_AGENT = ours("account", "agents.remote_specialists:account_app", ["AccountAgent"])
PRODUCT_AGENT_TS = AgentSpec(
    "product",
    ("node", "dist/index.js", "--port", "{port}"),
    ("ProductAgent",),
    cwd=PROJECT_ROOT / "agents" / "product_agent_ts",
    label="product-ts",
)

REMOTE_AGENTS = (REMOTE_ROUTER, BILLING_AGENT, ACCOUNT_AGENT, PRODUCT_AGENT_TS)

# The reference routers' routing decision: their only LLM call that offers tools.
ROUTING = OFFERS_TOOLS

REFUND_OUTSIDE_RUN_MUTANT = ours(
    "billing", "agents.mutants.refund_outside_run:app", ["BillingAgent"],
    label="mutant:refund-outside-run", stubs=[REFUNDS])
RANDOM_ROUTING_MUTANT = ours("router", "agents.mutants.random_routing:app", ["AgentRouter"], label="mutant:random-routing")

# Caches its routing decision in process memory: caught only when the router process dies.
CACHED_ROUTING_MUTANT = ours(
    "router", "agents.mutants.cached_routing:app", ["AgentRouter"], label="mutant:cached-routing")
