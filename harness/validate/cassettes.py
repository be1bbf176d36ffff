"""Validating on real answers: ``validate --record FILE`` records the baseline's LLM calls
from the real provider into a cassette, and ``validate --cassette FILE`` (or the rest of a
recording validation) runs the baseline and every probe on those answers, with no key.

A request the cassette has no answer to is a miss: ``--on-miss auto`` (the default) lets
the fake's auto mode answer it, ``--on-miss fail`` an error in the protocol's shape. Each
fake notes its lookups (``harness.fake_llm.cassette.ReplayLog``); the report counts the
misses, the baseline's and each run's.

Which provider a recording is for: whichever protocol the agent speaks. ``--record`` asks
for at least one provider key (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``,
``GEMINI_API_KEY``/``GOOGLE_API_KEY``); the agents get the keys that are set, the fake
passes them on and the cassette never holds them. A call in a protocol whose key is not set
reaches the provider with the harness's dummy key, and its refusal fails the baseline.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from harness.errors import HarnessError
from harness.fake_llm.cassette import CassetteError, load, read_log
from harness.settings import ON_MISS, Tape
from harness.fake_llm.chat import DEFAULT_TOKEN_PATTERN
from harness.results.schema import ScenarioResult
from harness.settings import Settings

KEY_VARIABLES = "OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY (or GOOGLE_API_KEY)"


def cassette_tape(
    settings: Settings, *, record: str | None = None, cassette: str | None = None, upstream: str | None = None,
    on_miss: str | None = None,
) -> Tape | None:
    """The command line's cassette options as a ``Tape`` (None: none given); bad input is one
    ``HarnessError`` line, said before anything starts."""
    if record and cassette:
        raise HarnessError("--record FILE and --cassette FILE exclude each other: record once, then replay the file "
                           "with --cassette")
    if upstream is not None and not record:
        raise HarnessError("--upstream URL is where --record forwards the LLM calls: give --record FILE too")
    if on_miss is not None and on_miss not in ON_MISS:
        raise HarnessError(f"--on-miss {on_miss!r}: expected one of {', '.join(ON_MISS)}")
    if on_miss is not None and not (record or cassette):
        raise HarnessError("--on-miss says what a request a cassette has no answer to gets: give --cassette FILE")
    if record:
        if not (settings.openai_api_key or settings.anthropic_api_key or settings.gemini_api_key):
            raise HarnessError(f"--record needs your provider's key: set {KEY_VARIABLES} (it is passed to the "
                               "provider, never written to the cassette)")
        if upstream is not None:
            try:
                scheme = httpx.URL(upstream).scheme
            except httpx.InvalidURL:
                scheme = ""
            if scheme not in ("http", "https"):
                raise HarnessError(f"--upstream {upstream!r}: expected the provider's http(s) base URL, such as "
                                   "https://api.openai.com/v1")
        folder = Path(record).resolve().parent
        if not folder.is_dir():
            raise HarnessError(f"--record {record}: no such directory {folder}")
        return Tape(str(Path(record).resolve()), record=True, on_miss=on_miss or "auto",  # type: ignore[arg-type]
                    upstream=upstream.rstrip("/") if upstream else None)
    if cassette:
        try:
            load(cassette, re.compile(DEFAULT_TOKEN_PATTERN))
        except CassetteError as exc:
            raise HarnessError(str(exc)) from None
        return Tape(str(Path(cassette).resolve()), on_miss=on_miss or "auto")  # type: ignore[arg-type]
    return None


def replaying(tape: Tape, log: Path) -> Tape:
    """The cassette replayed (once recorded), its lookups noted in ``log``."""
    return replace(tape, record=False, upstream=None, log=str(log))


def recorded_exchanges(tape: Tape) -> int:
    """How many exchanges a finished recording holds; none is bad input (the agent made no LLM call)."""
    try:
        count = sum(1 for line in Path(tape.path).read_text(encoding="utf-8").splitlines() if line.strip())
    except OSError:
        count = 0
    if count == 0:
        raise HarnessError(f"--record {tape.path}: the baseline made no LLM call, so there is nothing to record")
    return count


@dataclass
class CassetteReport:
    """What a validation on a cassette tells of it: the file, how many exchanges were just
    recorded (None: replayed only), and the lookups' hits and misses, the baseline's and each run's."""

    path: str
    on_miss: str
    recorded: int | None = None
    replayed: int = 0
    misses: int = 0
    baseline_misses: int = 0
    misses_by_run: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, tape: Tape, baseline_log: Path, plan_log: Path, results: list[ScenarioResult],
             recorded: int | None) -> CassetteReport:
        baseline, plan = read_log(baseline_log), read_log(plan_log)
        missed = Counter(entry.get("token") for entry in plan if entry.get("outcome") == "miss")
        by_run = {result.name: sum(missed[token] for token in {call.token for call in result.calls if call.token})
                  for result in results}
        lookups = baseline + plan
        return cls(
            path=tape.path, on_miss=tape.on_miss, recorded=recorded,
            replayed=sum(1 for entry in lookups if entry.get("outcome") == "hit"),
            misses=sum(1 for entry in lookups if entry.get("outcome") == "miss"),
            baseline_misses=sum(1 for entry in baseline if entry.get("outcome") == "miss"),
            misses_by_run={name: count for name, count in by_run.items() if count},
        )

    def describe(self) -> str:
        """One line for the console: ``cassette c.jsonl: 42 answers replayed, 0 misses (on miss: auto)``."""
        recorded = f"{self.recorded} exchanges recorded, " if self.recorded is not None else ""
        runs = ", ".join(f"{name} {count}" for name, count in self.misses_by_run.items())
        return (f"cassette {self.path}: {recorded}{self.replayed} answers replayed, {self.misses} "
                f"miss{'es' if self.misses != 1 else ''} (baseline {self.baseline_misses}{'; ' + runs if runs else ''}; "
                f"on a miss: {'the auto mode answers' if self.on_miss == 'auto' else 'an error'})")

    def to_json(self) -> dict[str, Any]:
        return {"file": self.path, "on_miss": self.on_miss, "recorded": self.recorded, "replayed": self.replayed,
                "misses": self.misses, "baseline_misses": self.baseline_misses, "misses_by_run": self.misses_by_run}
