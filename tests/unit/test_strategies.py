"""Strategies: a seed gives the same value; replaying recorded choices gives it again; any
edited stream of choices gives a valid value (replay is total)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace

import pytest

from harness.nemesis.faults import (
    Fault,
    Kill,
    Latency,
    LLMRateLimited,
    LLMServerError,
    Partition,
    Pause,
    ResetPeer,
    Terminate,
)
from harness.nemesis.schedule import (
    GAP_S,
    MIN_WINDOW_S,
    DrawnSchedule,
    drawn_schedules,
    one_after_another,
    random_schedule,
    schedules,
)
from harness.nemesis.strategies import (
    Choices,
    booleans,
    builds,
    canonical,
    decode_choices,
    encode_choices,
    floats,
    integers,
    just,
    lists,
    one_of,
    sampled_from,
    tuples,
)
from harness.nemesis.triggers import After, At

PROCESSES = ["router", "restate"]
LINKS = ["restate->router", "router->llm"]
SCHEDULE = schedules(processes=PROCESSES, links=LINKS, faults=6)
PLAN = drawn_schedules(SCHEDULE, requests=20)
KINDS = (Kill, Terminate, Pause, Partition, Latency, ResetPeer, LLMRateLimited, LLMServerError)


@dataclass(frozen=True)
class Point:
    x: int
    y: str


MIXED = lists(
    one_of(builds(Point, integers(-3, 7), sampled_from("abc")), tuples(booleans(), floats(0.5, 2.0, step=0.25)), just("j")),
    min_size=1,
    max_size=5,
).map(tuple)


def valid_schedule(faults: tuple[Fault, ...], max_faults: int = 6) -> None:
    assert len(faults) <= max_faults
    free_at = None
    for fault in faults:
        assert isinstance(fault, KINDS)
        assert fault.target in {*PROCESSES, *LINKS, "llm"}
        assert isinstance(fault.when, At) and isinstance(fault.until, After)
        assert MIN_WINDOW_S <= fault.until.seconds <= 1.5
        if free_at is not None:  # one after another, never overlapping
            assert fault.when.seconds >= round(free_at + GAP_S, 2) - 1e-9
        free_at = fault.when.seconds + fault.until.seconds
        if isinstance(fault, (LLMRateLimited, LLMServerError)):
            assert fault.times in (1, 2, 3)


@pytest.mark.parametrize("strategy", [SCHEDULE, PLAN, MIXED], ids=["schedule", "plan", "mixed"])
def test_the_same_seed_gives_the_same_value_and_choices(strategy) -> None:  # type: ignore[no-untyped-def]
    for seed in range(30):
        a, b = strategy.generate(seed), strategy.generate(seed)
        assert a.value == b.value and a.choices == b.choices
    assert len({repr(strategy.example(seed)) for seed in range(30)}) > 20  # and seeds differ


@pytest.mark.parametrize("strategy", [SCHEDULE, PLAN, MIXED], ids=["schedule", "plan", "mixed"])
def test_replaying_the_recorded_choices_gives_the_same_value(strategy) -> None:  # type: ignore[no-untyped-def]
    for seed in range(50):
        example = strategy.generate(seed)
        again = strategy.replay(example.choices)
        assert again.value == example.value
        assert again.choices == example.choices and again.spans == example.spans
        # and through the command line's encoding (trailing zeros dropped)
        assert strategy.replay(decode_choices(encode_choices(example.choices))).value == example.value


def test_a_seeded_schedule_has_the_requested_number_of_valid_faults() -> None:
    for seed in range(50):
        faults = random_schedule(seed, processes=PROCESSES, links=LINKS, faults=6)
        assert len(faults) == 6
        valid_schedule(faults)
        plan = PLAN.example(seed)
        assert plan.requests == 20 and len(plan.faults) == 6
    assert random_schedule(1, processes=PROCESSES, links=LINKS, faults=0) == ()


def test_edited_choices_always_give_a_valid_value() -> None:
    rng = random.Random(7)
    for seed in range(200):
        choices = list(PLAN.generate(seed % 20).choices)
        # delete a span, change values (out of range, negative, huge), truncate, append
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(4)
            i = rng.randrange(len(choices) + 1)
            if op == 0 and choices:
                del choices[i : i + rng.randint(1, 8)]
            elif op == 1 and i < len(choices):
                choices[i] = rng.choice([0, 1, -5, 3, 99, 10**9])
            elif op == 2:
                choices = choices[:i]
            else:
                choices[i:i] = [rng.randrange(200) for _ in range(rng.randint(1, 5))]
        example = PLAN.replay(choices)
        assert isinstance(example.value, DrawnSchedule) and 1 <= example.value.requests <= 20
        valid_schedule(example.value.faults)
        # the canonical form replays the same value: it is what the CLI prints
        assert PLAN.replay(example.key).value == example.value


def test_random_streams_give_valid_values() -> None:
    rng = random.Random(3)
    for _ in range(300):
        stream = [rng.randrange(-2, 120) for _ in range(rng.randrange(60))]
        valid_schedule(SCHEDULE.replay(stream).value)
        value = MIXED.replay(stream).value
        assert 1 <= len(value) <= 5


def test_the_empty_stream_gives_the_simplest_value() -> None:
    assert SCHEDULE.replay([]).value == ()
    assert PLAN.replay([]).value == DrawnSchedule((), 1)
    assert MIXED.replay([]).value == (Point(-3, "a"),)  # min_size 1: the first option, minimal
    assert integers(5, 9).replay([]).value == 5
    assert floats(0.1, 1.0, step=0.05).replay([]).value == 0.1
    # out of range is the simplest too
    assert integers(5, 9).replay([17]).value == 5
    assert sampled_from("xyz").replay([-1]).value == "x"


def test_lowering_a_choice_gives_a_simpler_value() -> None:
    assert integers(0, 100).replay([40]).value == 40
    assert floats(0.2, 1.5, step=0.05).replay([5]).value == 0.45
    one = SCHEDULE.replay([1, 0, 0, 0, 40, 10]).value  # one kill of the first target
    assert one == (Kill("router", when=At(2.1), until=After(0.7)),)
    # a list is a flag (1: more, 0: stop) then the element: lowering a flag ends the list
    assert SCHEDULE.replay([1, 0, 0, 0, 40, 10, 0, 1, 2, 3]).value == one


def test_integers_generate_a_fixed_value_but_replay_any() -> None:
    strategy = integers(1, 20, generate=20)
    assert {strategy.example(seed) for seed in range(20)} == {20}
    assert strategy.replay([4]).value == 5


def test_lists_generate_around_their_average_size() -> None:
    fixed = lists(integers(0, 3), max_size=4, average_size=4)
    assert {len(fixed.example(s)) for s in range(30)} == {4}
    sizes = [len(lists(integers(0, 3), max_size=50, average_size=3).example(s)) for s in range(400)]
    assert 2.0 < sum(sizes) / len(sizes) < 4.0


def test_spans_nest_and_mark_list_elements() -> None:
    example = SCHEDULE.generate(5)
    elements = [s for s in example.spans if s.label == "lists.element"]
    assert len(elements) == 6
    assert len({s.parent for s in elements}) == 1  # siblings
    # the elements tile the list's choices
    assert [s.start for s in elements[1:]] == [s.end for s in elements[:-1]]
    for span in example.spans:
        if span.parent >= 0:
            parent = example.spans[span.parent]
            assert parent.start <= span.start <= span.end <= parent.end and span.depth == parent.depth + 1


def test_deleting_an_element_span_removes_that_fault_and_keeps_the_others() -> None:
    example = SCHEDULE.generate(11)
    elements = [s for s in example.spans if s.label == "lists.element"]
    third = elements[2]
    choices = example.choices[: third.start] + example.choices[third.end :]
    shorter = SCHEDULE.replay(choices).value
    assert len(shorter) == 5

    def without_start(fault: Fault) -> Fault:  # a start pushed back by the deleted window moves forward
        return replace(fault, when=At(0))  # type: ignore[type-var]

    before = Counter(map(without_start, example.value))
    after = Counter(map(without_start, shorter))
    assert after <= before and sum((before - after).values()) == 1
    # and starts never move later
    assert all(f.when.seconds <= next(g.when.seconds for g in example.value if without_start(g) == without_start(f)) for f in shorter)


def test_one_after_another_orders_and_separates_windows() -> None:
    a = Kill("router", when=At(2.0), until=After(1.0))
    b = Pause("router", when=At(0.5), until=After(1.0))
    c = Partition("restate->router", when=At(2.2), until=After(0.3))
    assert one_after_another([a, b, c]) == (b, a, Partition("restate->router", when=At(3.1), until=After(0.3)))


def test_choice_streams_encode_compactly_and_decode_strictly() -> None:
    assert encode_choices([3, 0, 17, 1, 0, 0]) == "3,0,17,1"
    assert encode_choices([0, 0]) == "0" and decode_choices("0") == (0,)
    assert decode_choices(" 3, 0,17 ,1 ") == (3, 0, 17, 1)
    assert canonical((1, 0, 2, 0, 0)) == (1, 0, 2)
    for bad in ("", "a,b", "1;2", "-1,2", "1,,2"):
        with pytest.raises(ValueError):
            decode_choices(bad)


def test_generated_choices_are_in_range_and_choice_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Choices.random(1).choice(0)
    with pytest.raises(ValueError):
        Choices.random(1).choice(3, generate=lambda rng: 3)
    with pytest.raises(ValueError):
        integers(3, 1)
    with pytest.raises(ValueError):
        sampled_from([])


def test_bad_answers_are_drawn_only_when_asked_for_and_aim_tool_flaws_at_routing() -> None:
    from harness.nemesis.faults import OFFERS_TOOLS, VALUE_FAULTS, LLMBadToolArgs, LLMSchemaViolation, LLMWrongTool

    plain = [f for seed in range(60) for f in random_schedule(seed, processes=PROCESSES, links=LINKS, faults=6)]
    assert not any(isinstance(f, VALUE_FAULTS) for f in plain)
    spoilt = [f for seed in range(60) for f in random_schedule(seed, processes=PROCESSES, links=LINKS, faults=6,
                                                               bad_answers=True)]
    drawn = {type(f) for f in spoilt if isinstance(f, VALUE_FAULTS)}
    assert drawn == set(VALUE_FAULTS), drawn
    for fault in spoilt:
        if isinstance(fault, (LLMBadToolArgs, LLMSchemaViolation, LLMWrongTool)):
            assert fault.match == OFFERS_TOOLS and fault.times in (1, 2)
    # Replay is total with bad answers in the mix too.
    strategy = schedules(processes=PROCESSES, links=LINKS, faults=6, bad_answers=True)
    rng = random.Random(7)
    for _ in range(50):
        strategy.replay([rng.randrange(0, 50) for _ in range(rng.randrange(0, 40))])
