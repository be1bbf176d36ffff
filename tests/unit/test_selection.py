"""Which scenarios a run picks: extended ones only when named or asked for by their tag."""

from __future__ import annotations

import pytest

from harness.cli import EXTENDED, select
from harness.errors import HarnessError
from scenarios import CATALOGUE


def names(chosen: list) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(s.name, s.agent_label) for s in chosen}


def test_the_default_selection_leaves_extended_scenarios_out() -> None:
    chosen = select(CATALOGUE, [], [], [])
    assert chosen and not any(EXTENDED in s.tags for s in chosen)
    assert ("llm-empty-answer", "local-router") in names(chosen)
    assert ("llm-empty-answer", "remote-router") not in names(chosen)


def test_the_extended_tag_or_a_name_picks_them() -> None:
    assert ("llm-empty-answer", "remote-router") in names(select(CATALOGUE, [], [EXTENDED], []))
    assert ("llm-empty-answer", "remote-router") in names(select(CATALOGUE, ["llm-empty-answer"], [], []))


def test_every_value_fault_kind_is_in_the_catalogue_on_both_routers() -> None:
    from harness.nemesis.faults import VALUE_FAULTS, LLMAuth, LLMContextLength

    for kind in [f.kind for f in (*VALUE_FAULTS, LLMContextLength, LLMAuth)]:
        labels = {s.agent_label for s in CATALOGUE if kind in s.fault_kinds}
        assert labels == {"local-router", "remote-router"}, kind


def test_an_unknown_tag_is_refused() -> None:
    with pytest.raises(HarnessError, match="unknown tag"):
        select(CATALOGUE, [], ["no-such-tag"], [])
