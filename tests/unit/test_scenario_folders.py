"""Each scenario of a run writes into a folder of its own, unique per (scenario, agent): the
same scenario on two agents (rate-limit-storm on both routers) must not share logs."""

from __future__ import annotations

from collections import Counter

from harness.catalogue import catalogue_module


def test_every_scenario_of_the_catalogue_has_its_own_folder() -> None:
    scenarios = catalogue_module().CATALOGUE
    folders = Counter(s.folder for s in scenarios)
    assert [f for f, n in folders.items() if n > 1] == []
    # The same name on two agents really occurs, so the agent is part of the folder.
    names = Counter(s.name for s in scenarios)
    assert any(n > 1 for n in names.values())


def test_a_folder_names_scenario_and_agent_safely() -> None:
    scenario = next(s for s in catalogue_module().CATALOGUE if s.name == "rate-limit-storm")
    mutant = scenario.with_agents(catalogue_module("agents").UNJOURNALED_ROUTING_MUTANT)
    assert scenario.folder != mutant.folder
    assert "/" not in mutant.folder and ":" not in mutant.folder
