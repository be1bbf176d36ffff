"""The scenario catalogue: every scenario the main job runs against the reference agents."""

from harness.runner.scenario import Scenario

from . import link_faults, llm_faults, local_router, random_schedules, remote_router

CATALOGUE: tuple[Scenario, ...] = (
    *local_router.SCENARIOS,
    *link_faults.SCENARIOS,
    *remote_router.SCENARIOS,
    *llm_faults.SCENARIOS,
    *random_schedules.SCENARIOS,
)


def by_name(name: str) -> Scenario:
    for scenario in CATALOGUE:
        if scenario.name == name:
            return scenario
    raise KeyError(name)
