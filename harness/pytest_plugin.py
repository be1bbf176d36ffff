"""The pytest plugin (registered through the ``pytest11`` entry point): resilience
scenarios as ordinary tests, in the user's own repository, against their own agents.

    import pytest
    from harness import Kill, LLMCallHeld, Requests, python_app, standard_checks, tool_call

    MY_ROUTER = python_app("router", "my_agents.router:app", ["AgentRouter"])

    @pytest.mark.resilience
    def test_router_survives_a_crash(resilience_environment):
        run = resilience_environment(MY_ROUTER)
        run.llm.on(has_tools=True).reply(tool_call("BillingAgent"))
        run.llm.on(system_contains="billing").hold().reply("Refunded.", times=1)
        run.llm.on(system_contains="billing").reply("Refunded.")
        run.send(Requests("AgentRouter", "answer", "I was charged twice {token}"))
        run.inject(Kill("router", when=LLMCallHeld(2)))
        result = run.check(*standard_checks("Refunded."))
        assert result.verdict == "pass", result.explain()

Fixtures: ``resilience_environment`` (start agents with restate-server, Toxiproxy and
the fake LLM; returns a ``LiveRun`` to send, inject faults and check), ``resilience``
(``.run(scenario)`` for a whole ``Scenario``), and ``resilience_checks`` (the standard
checks). The session reads the environment variables once (``resilience_settings``: the
README's ``RESTATE_SERVER_BIN``, ``RESTATE_ADMIN_URL``, ``TOXIPROXY_URL``, ``LLM_UPSTREAM``
and so on) and owns one ``Cleanup`` for every process it starts (``resilience_cleanup``).
Every result is recorded: ``--resilience-report DIR`` writes ``results.json``
and the HTML report for the session, and ``--junitxml`` carries each verdict and its key
figures as test properties.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from harness.env.cleanup import Cleanup
from harness.env.environment import AgentSpec, Environment
from harness.results.schema import ScenarioResult, write_results
from harness.runner.live import LiveRun
from harness.runner.scenario import Scenario, run_scenario, standard_checks
from harness.settings import Settings

_RESULTS = pytest.StashKey[list[ScenarioResult]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("resilience", "Restate resilience scenarios")
    group.addoption(
        "--resilience-report",
        metavar="DIR",
        default=None,
        help="write results.json and index.html for this session's resilience scenarios into DIR",
    )
    group.addoption(
        "--always-replay",
        action="store_true",
        default=False,
        help="run resilience scenarios with Restate's inactivity timeout at 0: every await suspends and replays",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "resilience: a resilience scenario (starts real restate-server, Toxiproxy, fake LLM and agents)"
    )
    config.stash[_RESULTS] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = session.config.getoption("--resilience-report")
    results = session.config.stash.get(_RESULTS, [])
    if out and results:
        write_results(results, Path(out), {"run_id": time.strftime("%Y%m%d-%H%M%S"), "source": "pytest"})


class Resilience:
    """The session's resilience runner, as one test sees it."""

    def __init__(self, request: pytest.FixtureRequest, run_dir: Path, settings: Settings, cleanup: Cleanup) -> None:
        self._request = request
        self._run_dir = run_dir
        self.settings = settings
        self.cleanup = cleanup
        self.always_replay: bool = bool(request.config.getoption("--always-replay"))

    @property
    def nodeid(self) -> str:
        return self._request.node.nodeid

    def run(self, scenario: Scenario) -> ScenarioResult:
        """Run a whole scenario in its own environment; the result is recorded."""
        return self.record(
            run_scenario(
                scenario, self._run_dir, always_replay=self.always_replay, settings=self.settings, cleanup=self.cleanup
            )
        )

    def record(self, result: ScenarioResult) -> ScenarioResult:
        """Keep ``result`` for the session's report and the test's JUnit properties."""
        self._request.config.stash[_RESULTS].append(result)
        properties = self._request.node.user_properties
        properties += [
            ("resilience.verdict", result.verdict),
            ("resilience.agent", result.agent),
            ("resilience.llm_committed", result.llm_calls["committed"]),
            ("resilience.llm_wasted", result.llm_calls["wasted"]),
            ("resilience.llm_duplicate", result.llm_calls["duplicate"]),
            ("resilience.recovery_s", "" if result.recovery_s is None else result.recovery_s),
            ("resilience.faults", ",".join(f"{f['kind']}:{f['target']}" for f in result.faults)),
        ]
        return result


class _RecordingRun(LiveRun):
    """A ``LiveRun`` whose results go to the session's report."""

    def __init__(self, env: Environment, resilience: Resilience, name: str, agent: str) -> None:
        super().__init__(env)
        self._resilience, self._name, self._agent = resilience, name, agent

    def check(self, *checks, **info):  # type: ignore[no-untyped-def, override]
        info.setdefault("name", self._name)
        info.setdefault("agent", self._agent)
        result = super().check(*checks, **info)
        result.always_replay = self._resilience.always_replay
        result.reproduce = f"pytest {self._resilience.nodeid}" + (" --always-replay" if result.always_replay else "")
        return self._resilience.record(result)


@pytest.fixture(scope="session")
def resilience_settings() -> Settings:
    """The session's configuration, from the environment variables, read once."""
    return Settings.from_environ(os.environ)


@pytest.fixture(scope="session")
def resilience_cleanup() -> Iterator[Cleanup]:
    """Registers every process group and temp dir the session's scenarios create; its
    reaper destroys them even if pytest is SIGKILLed."""
    with Cleanup() as cleanup:
        yield cleanup


@pytest.fixture
def resilience(
    request: pytest.FixtureRequest, tmp_path: Path, resilience_settings: Settings, resilience_cleanup: Cleanup
) -> Resilience:
    """Run whole ``Scenario`` values: ``resilience.run(scenario)``."""
    return Resilience(request, tmp_path, resilience_settings, resilience_cleanup)


@pytest.fixture
def resilience_environment(resilience: Resilience, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., LiveRun]]:
    """A factory: ``resilience_environment(*agents)`` starts the agents behind Toxiproxy with
    their own restate-server and fake LLM, and returns a ``LiveRun``. Everything stops at
    the end of the test."""
    with ExitStack() as stack:
        started = 0

        def start(*agents: AgentSpec, inactivity_timeout_s: float | None = None) -> LiveRun:
            nonlocal started
            started += 1
            env = stack.enter_context(
                Environment(agents, tmp_path / f"env-{started}", inactivity_timeout_s=inactivity_timeout_s,
                            always_replay=resilience.always_replay, settings=resilience.settings,
                            cleanup=resilience.cleanup)
            )
            label = "+".join(a.label or a.name for a in agents)
            return _RecordingRun(env, resilience, request.node.name, label)

        yield start


@pytest.fixture
def resilience_checks() -> Callable[..., tuple]:  # type: ignore[type-arg]
    """``resilience_checks(answer)``: what every recovering run must show (completion with
    ``answer``, no duplicate LLM call, Run entries once, wasted calls explained, no journal
    mismatch)."""
    return standard_checks
