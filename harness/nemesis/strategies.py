"""Strategies: values that describe how to draw a random structure (a fault schedule), built
by composition as Hypothesis builds its strategies::

    fault = one_of(builds(Kill, sampled_from(["router"]), when=times.map(At)), llm_faults)
    schedule = lists(fault, max_size=6).map(tuple)

Every random choice a strategy makes is one int taken from a ``Choices`` stream and
recorded. Generating draws the ints from ``random.Random(seed)``, so a seed gives the same
value every time; replaying a recorded stream gives the same value again. Replaying is
total: any list of ints gives a valid value (a choice that is out of range, negative or
past the end of the stream is 0, the simplest: the minimum, the first option, the end of
a list). That is what lets the shrinker (``harness.nemesis.shrink``) edit the stream
(delete spans, lower values) without knowing what it encodes. Every draw also records its
``Span`` of the stream, so the shrinker can delete whole elements of a list.

A stream is written ``3,0,17,1`` on the command line (``encode_choices``); trailing zeros
are dropped, since a missing choice is 0.
"""

from __future__ import annotations

import random
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")

Generate = Callable[[random.Random], int]


@dataclass(frozen=True)
class Span:
    """The choices ``[start, end)`` one draw of a strategy consumed. ``parent`` is the index
    of the enclosing span (-1 at the top); spans with the same parent and label are
    siblings, e.g. the elements of one list."""

    start: int
    end: int
    label: str
    parent: int
    depth: int


class Choices:
    """The stream a draw takes its choices from: ``random`` (generating) or ``replay``
    (a given list of ints, total). ``choices`` and ``spans`` record what was drawn."""

    def __init__(self, *, rng: random.Random | None = None, prefix: Sequence[int] = ()) -> None:
        self._rng = rng
        self._prefix = tuple(prefix)
        self.choices: list[int] = []
        self.spans: list[Span] = []
        self._open: list[int] = []  # indexes of spans being drawn
        self._starts: dict[int, int] = {}

    @classmethod
    def random(cls, seed: int) -> Choices:
        return cls(rng=random.Random(seed))

    @classmethod
    def replay(cls, choices: Sequence[int]) -> Choices:
        return cls(prefix=choices)

    def choice(self, n: int, *, generate: Generate | None = None) -> int:
        """An int in ``[0, n)``; 0 is the simplest. Generating, it comes from ``generate(rng)``
        (default: uniform); replaying, from the stream, with 0 for anything out of range."""
        if n < 1:
            raise ValueError(f"a choice needs at least one option, not {n}")
        i = len(self.choices)
        if self._rng is not None:
            value = generate(self._rng) if generate is not None else self._rng.randrange(n)
            if not 0 <= value < n:
                raise ValueError(f"generated choice {value} is not in [0, {n})")
        else:
            value = self._prefix[i] if i < len(self._prefix) else 0
            value = value if 0 <= value < n else 0
        self.choices.append(value)
        return value

    def draw(self, strategy: Strategy[T]) -> T:
        """Draw ``strategy``, recording its span."""
        index = len(self.spans)
        parent = self._open[-1] if self._open else -1
        self.spans.append(Span(len(self.choices), -1, strategy.label, parent, len(self._open)))
        self._open.append(index)
        try:
            return strategy.do_draw(self)
        finally:
            self._open.pop()
            span = self.spans[index]
            self.spans[index] = Span(span.start, len(self.choices), span.label, span.parent, span.depth)


@dataclass(frozen=True)
class Example(Generic[T]):
    """A value with the choices that gave it: ``strategy.replay(choices)`` gives it again."""

    value: T
    choices: tuple[int, ...]
    spans: tuple[Span, ...]

    @property
    def key(self) -> tuple[int, ...]:
        """The choices without trailing zeros (which a missing choice also gives): two
        streams with the same key give the same value."""
        return canonical(self.choices)

    @property
    def encoded(self) -> str:
        return encode_choices(self.choices)


class Strategy(Generic[T]):
    """How to draw a value of type ``T`` from a ``Choices`` stream."""

    label = "strategy"

    def do_draw(self, data: Choices) -> T:
        raise NotImplementedError

    def map(self, f: Callable[[T], U]) -> Strategy[U]:
        """The strategy whose values are ``f`` of this one's."""
        return _Mapped(self, f)

    def flatmap(self, f: Callable[[T], Strategy[U]]) -> Strategy[U]:
        """Draw a value, then draw from the strategy ``f`` makes of it."""
        return _FlatMapped(self, f)

    def generate(self, seed: int) -> Example[T]:
        """A random example from ``seed``: the same seed gives the same example."""
        return self._run(Choices.random(seed))

    def replay(self, choices: Sequence[int]) -> Example[T]:
        """The example these choices give (any ints give a valid one)."""
        return self._run(Choices.replay(choices))

    def example(self, seed: int) -> T:
        return self.generate(seed).value

    def _run(self, data: Choices) -> Example[T]:
        value = data.draw(self)
        return Example(value, tuple(data.choices), tuple(data.spans))


class _Mapped(Strategy[U]):
    label = "map"

    def __init__(self, base: Strategy[Any], f: Callable[[Any], U]) -> None:
        self.base, self.f = base, f

    def do_draw(self, data: Choices) -> U:
        return self.f(data.draw(self.base))


class _FlatMapped(Strategy[U]):
    label = "flatmap"

    def __init__(self, base: Strategy[Any], f: Callable[[Any], Strategy[U]]) -> None:
        self.base, self.f = base, f

    def do_draw(self, data: Choices) -> U:
        return data.draw(self.f(data.draw(self.base)))


class _Just(Strategy[T]):
    label = "just"

    def __init__(self, value: T) -> None:
        self.value = value

    def do_draw(self, data: Choices) -> T:
        return self.value


class _Integers(Strategy[int]):
    label = "integers"

    def __init__(self, lo: int, hi: int, generate: int | None) -> None:
        if hi < lo:
            raise ValueError(f"integers({lo}, {hi}): empty range")
        if generate is not None and not lo <= generate <= hi:
            raise ValueError(f"integers({lo}, {hi}): generate={generate} is out of range")
        self.lo, self.hi, self.fixed = lo, hi, generate

    def do_draw(self, data: Choices) -> int:
        fixed = None if self.fixed is None else (lambda rng, i=self.fixed - self.lo: i)
        return self.lo + data.choice(self.hi - self.lo + 1, generate=fixed)


class _SampledFrom(Strategy[T]):
    label = "sampled_from"

    def __init__(self, values: Sequence[T]) -> None:
        if not values:
            raise ValueError("sampled_from needs at least one value")
        self.values = tuple(values)

    def do_draw(self, data: Choices) -> T:
        return self.values[data.choice(len(self.values))]


class _OneOf(Strategy[T]):
    label = "one_of"

    def __init__(self, strategies: Sequence[Strategy[T]]) -> None:
        if not strategies:
            raise ValueError("one_of needs at least one strategy")
        self.strategies = tuple(strategies)

    def do_draw(self, data: Choices) -> T:
        return data.draw(self.strategies[data.choice(len(self.strategies))])


class _Element(Strategy[Any]):
    """One element of a list with the flag that asked for it: deleting this span deletes
    the element and nothing else."""

    label = "lists.element"

    def __init__(self, elements: Strategy[Any], flagged: bool, more: Generate) -> None:
        self.elements, self.flagged, self.more = elements, flagged, more

    def do_draw(self, data: Choices) -> Any:
        if self.flagged and not data.choice(2, generate=self.more):
            return _STOP
        return data.draw(self.elements)


_STOP = object()


class _Lists(Strategy[list[T]]):
    label = "lists"

    def __init__(self, elements: Strategy[T], min_size: int, max_size: int, average_size: float | None) -> None:
        if not 0 <= min_size <= max_size:
            raise ValueError(f"lists: need 0 <= min_size <= max_size, not {min_size}, {max_size}")
        self.elements, self.min_size, self.max_size = elements, min_size, max_size
        average = (min_size + max_size) / 2 if average_size is None else average_size
        extra = max(0.0, average - min_size)
        # Beyond min_size each element is asked for with a flag: 1 (more) or 0 (stop).
        # Generating, the flag is 1 with probability p, for ``extra`` more on average.
        self.p_more = 1.0 if average >= max_size else extra / (extra + 1)

    def _more(self, rng: random.Random) -> int:
        return 1 if self.p_more >= 1.0 or rng.random() < self.p_more else 0

    def do_draw(self, data: Choices) -> list[T]:
        items: list[T] = []
        while len(items) < self.max_size:
            item = data.draw(_Element(self.elements, len(items) >= self.min_size, self._more))
            if item is _STOP:
                break
            items.append(item)
        return items


class _Tuples(Strategy[tuple[Any, ...]]):
    label = "tuples"

    def __init__(self, strategies: Sequence[Strategy[Any]]) -> None:
        self.strategies = tuple(strategies)

    def do_draw(self, data: Choices) -> tuple[Any, ...]:
        return tuple(data.draw(s) for s in self.strategies)


class _Builds(Strategy[T]):
    label = "builds"

    def __init__(self, target: Callable[..., T], args: Sequence[Strategy[Any]], kwargs: dict[str, Strategy[Any]]) -> None:
        self.target, self.args, self.kwargs = target, tuple(args), dict(kwargs)

    def do_draw(self, data: Choices) -> T:
        args = [data.draw(s) for s in self.args]
        kwargs = {name: data.draw(s) for name, s in self.kwargs.items()}
        return self.target(*args, **kwargs)


# --- the public constructors -------------------------------------------------------------


def just(value: T) -> Strategy[T]:
    """Always ``value``; draws nothing."""
    return _Just(value)


def integers(min_value: int, max_value: int, *, generate: int | None = None) -> Strategy[int]:
    """An int in ``[min_value, max_value]``, shrinking towards ``min_value``. With
    ``generate``, generating always gives that value (a parameter of the scenario, such as
    its request count, that shrinking may still lower)."""
    return _Integers(min_value, max_value, generate)


def floats(min_value: float, max_value: float, *, step: float = 0.05) -> Strategy[float]:
    """A float on the grid ``min_value + k * step`` up to ``max_value``, shrinking towards
    ``min_value``; rounded to the step's decimals, so values print as written."""
    decimals = max(0, -int(f"{step:e}".split("e")[1]))
    steps = max(0, int(round((max_value - min_value) / step, 9)))
    return integers(0, steps).map(lambda k: round(min_value + k * step, decimals + 2))


def booleans() -> Strategy[bool]:
    return sampled_from([False, True])


def sampled_from(values: Sequence[T]) -> Strategy[T]:
    """One of ``values``, shrinking towards the first."""
    return _SampledFrom(values)


def one_of(*strategies: Strategy[Any]) -> Strategy[Any]:
    """A value of one of ``strategies``, shrinking towards the first."""
    return _OneOf(strategies)


def lists(
    elements: Strategy[T], *, min_size: int = 0, max_size: int = 10, average_size: float | None = None
) -> Strategy[list[T]]:
    """A list of ``min_size`` to ``max_size`` elements, shrinking towards fewer. Generating,
    it has ``average_size`` elements on average; ``average_size=max_size`` always gives
    ``max_size`` (a fixed-size list that shrinking may still shorten)."""
    return _Lists(elements, min_size, max_size, average_size)


def tuples(*strategies: Strategy[Any]) -> Strategy[tuple[Any, ...]]:
    return _Tuples(strategies)


def builds(target: Callable[..., T], *args: Strategy[Any], **kwargs: Strategy[Any]) -> Strategy[T]:
    """``target(*args, **kwargs)`` of values drawn from the given strategies, in order."""
    return _Builds(target, args, kwargs)


# --- choice streams on the command line --------------------------------------------------


def canonical(choices: Sequence[int]) -> tuple[int, ...]:
    """``choices`` without trailing zeros: a missing choice is 0, so it replays the same."""
    out = list(choices)
    while out and out[-1] == 0:
        out.pop()
    return tuple(out)


def encode_choices(choices: Sequence[int]) -> str:
    """``3,0,17,1``: compact, readable, and safe in a shell command. ``0`` for none."""
    return ",".join(str(c) for c in canonical(choices)) or "0"


_ENCODED = re.compile(r"^\s*\d+(\s*,\s*\d+)*\s*,?\s*$")


def decode_choices(text: str) -> tuple[int, ...]:
    """The stream ``encode_choices`` wrote; ``ValueError`` for anything else."""
    if not _ENCODED.match(text):
        raise ValueError(f"invalid choice stream {text!r}: expected comma-separated whole numbers, e.g. 3,0,17,1")
    return tuple(int(part) for part in text.replace(" ", "").split(",") if part)


def with_schedule(command: str, choices: Sequence[int]) -> str:
    """``command`` (a ``run`` or ``soak`` command line, ``harness.results.reproduce``) replaying ``choices`` instead of drawing from a
    seed: ``--seed N`` (and any earlier ``--schedule``) dropped, ``--schedule 3,0,17`` added."""
    argv, out, skip = shlex.split(command), [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--seed", "--schedule"):
            skip = True
        elif not arg.startswith(("--seed=", "--schedule=")):
            out.append(arg)
    return shlex.join([*out, "--schedule", encode_choices(choices)])


__all__ = [
    "Choices",
    "Example",
    "Span",
    "Strategy",
    "booleans",
    "builds",
    "canonical",
    "decode_choices",
    "encode_choices",
    "floats",
    "integers",
    "just",
    "lists",
    "one_of",
    "sampled_from",
    "tuples",
    "with_schedule",
]
