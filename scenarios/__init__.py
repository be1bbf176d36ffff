"""The scenario catalogue: every scenario the main job runs against the reference agents.
``CLUSTER_SCENARIOS`` (node faults) need a Restate cluster: the CLI adds them to the
catalogue for ``--topology cluster`` runs only."""

from harness.runner.scenario import Scenario

from . import (
    cluster,
    link_faults,
    llm_faults,
    local_router,
    random_schedules,
    remote_router,
)

CATALOGUE: tuple[Scenario, ...] = (
    *local_router.SCENARIOS,
    *link_faults.SCENARIOS,
    *remote_router.SCENARIOS,
    *llm_faults.SCENARIOS,
    *random_schedules.SCENARIOS,
)

CLUSTER_SCENARIOS: tuple[Scenario, ...] = cluster.SCENARIOS


def by_name(name: str) -> Scenario:
    for scenario in (*CATALOGUE, *CLUSTER_SCENARIOS):
        if scenario.name == name:
            return scenario
    raise KeyError(name)
