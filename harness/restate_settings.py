"""Restate's timeouts and retry policy, as values: the production defaults of restate-server
1.7 (``restate-server --dump-config``) and the fast ones the harness runs with. A run's
history records which it ran under, so a checker can bound recovery by the settings of that
run and say what the production ones would have meant."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """``default-retry-policy``: exponential back-off between attempts, then, after
    ``max_attempts``, what the server does (1.7: ``pause`` the invocation)."""

    initial_s: float
    factor: float
    max_interval_s: float
    max_attempts: int
    on_max_attempts: str = "pause"

    def delays(self) -> list[float]:
        """The waits between consecutive attempts, first to last."""
        waits, wait = [], self.initial_s
        for _ in range(self.max_attempts - 1):
            waits.append(min(wait, self.max_interval_s))
            wait *= self.factor
        return waits

    def span_s(self) -> float:
        """From the first attempt to the last (the attempts' own run time aside)."""
        return sum(self.delays())

    def environment(self) -> dict[str, str]:
        """As restate-server's ``RESTATE_DEFAULT_RETRY_POLICY__*`` variables."""
        return {
            "RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL": f"{round(self.initial_s * 1000)}ms",
            "RESTATE_DEFAULT_RETRY_POLICY__EXPONENTIATION_FACTOR": f"{self.factor:.1f}",
            "RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": f"{round(self.max_interval_s * 1000)}ms",
            "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": str(self.max_attempts),
        }


@dataclass(frozen=True)
class RestateSettings:
    """What bounds an attempt and what follows a failed one. A silent attempt is asked to
    suspend after ``inactivity_s`` and aborted ``abort_s`` later: an LLM call that hangs
    inside a step holds the request at most that long, unless the client gives up first."""

    inactivity_s: float
    abort_s: float
    retry: RetryPolicy

    @property
    def hang_bound_s(self) -> float:
        """How long Restate lets an attempt hang before it aborts it and retries."""
        return self.inactivity_s + self.abort_s

    def to_json(self) -> dict[str, object]:
        return {"inactivity_s": self.inactivity_s, "abort_s": self.abort_s, "retry": asdict(self.retry)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> "RestateSettings":
        retry = data["retry"]
        assert isinstance(retry, dict)
        return cls(float(data["inactivity_s"]), float(data["abort_s"]), RetryPolicy(**retry))  # type: ignore[arg-type]


# restate-server 1.7.12's own defaults: inactivity 1 min, abort 10 min; 500 ms doubling to
# 1 min, 70 attempts, then pause.
PRODUCTION = RestateSettings(60.0, 600.0, RetryPolicy(0.5, 2.0, 60.0, 70))
# The tests' and validation's: a silent attempt is aborted in seconds, and retries come at
# most 1 s apart, so a 1 s outage does not cost many seconds of back-off. 200 attempts are
# about 3 minutes before the server pauses the invocation.
FAST = RestateSettings(2.0, 2.0, RetryPolicy(0.1, 2.0, 1.0, 200))


def duration(seconds: float) -> str:
    """``seconds`` the way a person says it: 900 ms, 12 s, 11 min, 1 h 4 min. Rounded first,
    so a value just under a unit's edge reads in the larger unit (3599 s is 1 h)."""
    if round(seconds * 1000) < 1000:
        return f"{seconds * 1000:.0f} ms"
    if float(f"{seconds:.3g}") < 90:
        return f"{seconds:.3g} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
