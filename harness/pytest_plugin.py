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
The session is one batch (``resilience_batch``, ``harness.runner.batch``), as a CLI run is.
Every result is recorded: ``--resilience-report DIR`` writes ``results.json``
and the HTML report for the session, ``--junitxml`` carries each verdict and its key
figures as test properties, and the terminal summary lists every result (verdict,
scenario, agent, LLM calls committed/wasted/duplicate).

The marker configures a test's run; each option is optional:

    @pytest.mark.resilience(always_replay=True, inactivity_timeout_s=5, trigger_timeout_s=30)

``always_replay`` overrides the ``--always-replay`` option for this test;
``inactivity_timeout_s`` is Restate's invoker inactivity timeout and ``trigger_timeout_s``
how long a fault waits for its trigger. They apply to ``resilience_environment`` (whose
own keyword arguments win) and replace a whole ``Scenario``'s own values in
``resilience.run``. Unknown options are an error.

Cassettes, as pytest-recording uses them: ``@pytest.mark.resilience(cassette="cassettes/x.jsonl")``
(a path from the test file's folder) answers what the auto mode would answer with the real
answers recorded there, deterministically and with no key (``on_miss="fail"``: a request it
has no answer to gets an error rather than the auto mode's answer). ``--resilience-record``
records those files instead, from the real provider (``--resilience-upstream URL``, else
each provider's public URL), with the key in ``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY`` or
``GEMINI_API_KEY``; the key is never written.

Missing binaries: a test that needs restate-server or toxiproxy-server (not an external
server, see ``RESTATE_ADMIN_URL`` and ``TOXIPROXY_URL``) is skipped, with the command that
installs it as the reason, when the binary is not installed: not found in ``.tools/bin`` or
on ``PATH``, or ``RESTATE_SERVER_BIN``/``TOXIPROXY_SERVER_BIN`` names a file that does not
exist. A file that exists but cannot be executed is a misconfiguration, and an error.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from harness.env import binaries
from harness.env.cleanup import Cleanup
from harness.env.environment import AgentSpec, Environment
from harness.env.forkserver import ForkServer
from harness.errors import HarnessError
from harness.settings import Tape
from harness.results.reproduce import nodeid_command
from harness.results.schema import VERDICTS, ScenarioResult
from harness.runner.batch import Batch
from harness.runner.live import LiveRun
from harness.runner.pool import EnvironmentPool
from harness.runner.scenario import Scenario, run_scenario, standard_checks
from harness.settings import BACKENDS, TOPOLOGIES, Settings
from harness.validate.cassettes import cassette_tape
from harness.validate.diagnosis import fail_on_classes
from harness.validate.run import Validation, validate_agent
from harness.validate.agent import parse_agent_under_test

_BATCH = pytest.StashKey[Batch]()  # the session's batch, once a resilience fixture made it
MARKER_OPTIONS = ("always_replay", "inactivity_timeout_s", "trigger_timeout_s", "fail_on", "cassette", "on_miss")
# The name ``LiveRun.check`` gives a result when it is not told one: the test's name then.
_UNNAMED = inspect.signature(LiveRun.check).parameters["name"].default


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
    group.addoption(
        "--resilience-topology",
        choices=TOPOLOGIES,
        default=None,
        help="single: one restate-server (default); cluster: 3 nodes with replication 2 (env RESILIENCE_TOPOLOGY)",
    )
    group.addoption(
        "--resilience-backend",
        choices=BACKENDS,
        default=None,
        help="native: processes (default); docker: restate-server in a container (env RESILIENCE_BACKEND)",
    )
    group.addoption(
        "--resilience-fail-on",
        metavar="CLASSES",
        default="",
        help="validations fail on advisories of these bug classes too (comma-separated, e.g. stuck,retry_storm)",
    )
    group.addoption(
        "--resilience-record",
        action="store_true",
        default=False,
        help="record the cassettes that tests name (@pytest.mark.resilience(cassette=...)) from the real provider, "
             "with your key (OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY), instead of replaying them",
    )
    group.addoption(
        "--resilience-upstream",
        metavar="URL",
        default=None,
        help="with --resilience-record: the provider's base URL (default: each provider's public one)",
    )
    group.addoption(
        "--resilience-fresh",
        action="store_true",
        default=False,
        help="a fresh environment for every resilience.run (default: reuse one a scenario left clean)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "resilience: a resilience scenario (starts real restate-server, Toxiproxy, fake LLM and agents); "
        "options: always_replay=True, inactivity_timeout_s=S, trigger_timeout_s=S, fail_on='stuck,retry_storm', "
        "cassette='cassettes/NAME.jsonl' (real answers, replayed; --resilience-record records them), on_miss='fail'",
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = session.config.getoption("--resilience-report")
    batch = session.config.stash.get(_BATCH, None)
    if out and batch is not None and batch.results:
        batch.meta.update({"batch_id": time.strftime("%Y%m%d-%H%M%S"), "source": "pytest"})
        batch.publish(Path(out))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """One line per resilience result: verdict, scenario, agent, LLM calls c/w/d."""
    batch = config.stash.get(_BATCH, None)
    results = batch.results if batch is not None else []
    if not results:
        return
    terminalreporter.section("resilience results")
    width = max(len(v) for v in VERDICTS)
    for r in results:
        calls = r.llm_calls
        line = (f"{r.verdict:<{width}}  {r.name} [{r.agent}]  LLM calls c/w/d "
                f"{calls.get('committed', 0)}/{calls.get('wasted', 0)}/{calls.get('duplicate', 0)}")
        if r.recovery_s is not None:
            line += f"  recovery {r.recovery_s:.2f} s"
        terminalreporter.write_line(line, green=r.good, red=not r.good)
    out = config.getoption("--resilience-report")
    if out:
        terminalreporter.write_line(f"report: {Path(out) / 'index.html'}")


# --- the marker -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ResilienceOptions:
    """How a test's resilience runs are configured: the marker's options over the
    command line's."""

    always_replay: bool = False
    inactivity_timeout_s: float | None = None
    trigger_timeout_s: float | None = None
    fail_on: frozenset[str] = frozenset()  # bug classes whose advisories fail a validation
    tape: Tape | None = None  # the marker's cassette: replayed, or recorded with --resilience-record

    @classmethod
    def of(cls, request: pytest.FixtureRequest) -> "ResilienceOptions":
        default = bool(request.config.getoption("--always-replay"))
        marker = request.node.get_closest_marker("resilience")
        fail_on_text = str(request.config.getoption("--resilience-fail-on") or "")
        if marker is not None and "fail_on" in marker.kwargs:
            fail_on_text = str(marker.kwargs["fail_on"])
        try:
            fail_on = fail_on_classes(fail_on_text) if fail_on_text else frozenset()
        except HarnessError as exc:
            pytest.fail(f"{request.node.nodeid}: {exc}", pytrace=False)
        if marker is None:
            return cls(default, fail_on=fail_on)
        tape = _tape(request, marker)
        where = f"@pytest.mark.resilience on {request.node.nodeid}"
        if marker.args:
            pytest.fail(f"{where}: takes keyword options only ({', '.join(MARKER_OPTIONS)})", pytrace=False)
        unknown = sorted(set(marker.kwargs) - set(MARKER_OPTIONS))
        if unknown:
            pytest.fail(f"{where}: unknown option {', '.join(unknown)}; known: {', '.join(MARKER_OPTIONS)}",
                        pytrace=False)
        always_replay = marker.kwargs.get("always_replay", default)
        if not isinstance(always_replay, bool):
            pytest.fail(f"{where}: always_replay must be True or False, not {always_replay!r}", pytrace=False)
        timeouts: dict[str, float | None] = {}
        for key in ("inactivity_timeout_s", "trigger_timeout_s"):
            value = marker.kwargs.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
                                      or (key == "trigger_timeout_s" and value == 0)):
                pytest.fail(f"{where}: {key} must be a number of seconds, not {value!r}", pytrace=False)
            timeouts[key] = None if value is None else float(value)
        return cls(always_replay, **timeouts, fail_on=fail_on, tape=tape)


def _tape(request: pytest.FixtureRequest, marker: pytest.Mark) -> Tape | None:
    """The marker's ``cassette`` (a path from the test file's folder, as pytest-recording keeps
    its cassettes beside the tests): replayed, or recorded with ``--resilience-record``. Bad
    input (no cassette to replay, no key to record with) fails the test in one line."""
    cassette, on_miss = marker.kwargs.get("cassette"), marker.kwargs.get("on_miss")
    if cassette is None:
        if on_miss is not None:
            pytest.fail(f"{request.node.nodeid}: on_miss is for a cassette: add cassette='...'", pytrace=False)
        return None
    path = Path(request.node.path).parent / str(cassette)
    record = bool(request.config.getoption("--resilience-record"))
    if record:
        path.parent.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_environ(os.environ)
    try:
        return cassette_tape(settings, record=str(path) if record else None, cassette=None if record else str(path),
                             upstream=request.config.getoption("--resilience-upstream") if record else None,
                             on_miss=on_miss)
    except HarnessError as exc:
        pytest.fail(f"{request.node.nodeid}: {exc}", pytrace=False)


# --- binaries -------------------------------------------------------------------------------


def require_binaries(settings: Settings) -> None:
    """Skip the test when a binary it needs is not installed (see the module's docstring);
    fail it when one is named explicitly but cannot be executed."""
    needed = []
    if not settings.external_restate:
        needed.append(("restate-server", "RESTATE_SERVER_BIN", settings.restate_server_bin, binaries.restate_server))
    if not settings.toxiproxy_url:
        needed.append(("toxiproxy-server", "TOXIPROXY_SERVER_BIN", settings.toxiproxy_server_bin,
                       binaries.toxiproxy_server))
    for name, variable, explicit, find in needed:
        try:
            find(settings)
        except HarnessError as exc:
            if explicit and os.path.exists(explicit):
                pytest.fail(f"{exc} (fix or unset {variable})", pytrace=False)
            if not explicit:
                pytest.skip(str(exc))  # "not found: ... install it: <command>"
            hint = binaries.install_hint(name)
            pytest.skip(f"{name} is not installed: {variable}={explicit} does not exist; install it: {hint}")


# --- fixtures -------------------------------------------------------------------------------


class Resilience:
    """The session's resilience runner, as one test sees it."""

    def __init__(self, request: pytest.FixtureRequest, batch_dir: Path, batch: Batch, pool: EnvironmentPool,
                 options: ResilienceOptions | None = None) -> None:
        self._request = request
        self._batch = batch
        self._pool: EnvironmentPool | None = pool
        self._batch_dir = batch_dir
        self.settings = batch.settings
        self.cleanup = batch.cleanup
        self.options = options or ResilienceOptions(bool(request.config.getoption("--always-replay")))
        self.always_replay: bool = self.options.always_replay

    @property
    def launcher(self) -> ForkServer | None:
        """The session's fork server (see ``harness.env.forkserver``)."""
        return self._batch.launcher

    @property
    def nodeid(self) -> str:
        return self._request.node.nodeid

    def run(self, scenario: Scenario) -> ScenarioResult:
        """Run a whole scenario; the result is recorded. It gets an environment an earlier
        scenario of the session left clean, if one has the same agents and settings, else
        a fresh one (``--resilience-fresh``: always). The marker's timeouts, when given,
        replace the scenario's own."""
        timeouts = {key: value for key, value in (("inactivity_timeout_s", self.options.inactivity_timeout_s),
                                                  ("trigger_timeout_s", self.options.trigger_timeout_s))
                    if value is not None}
        settings, pool = self.settings, self._pool
        if self.options.tape is not None:  # a cassette's own fake LLM: an environment of its own
            settings, pool = replace(settings, cassette=self.options.tape), None
        result = run_scenario(
            replace(scenario, **timeouts), self._batch_dir, always_replay=self.always_replay, settings=settings,
            cleanup=self.cleanup, pool=pool,
        )
        result.reproduce = nodeid_command(self.nodeid, always_replay=result.always_replay)
        return self.record(result)

    def record(self, result: ScenarioResult) -> ScenarioResult:
        """Keep ``result`` for the session's report, the terminal summary and the test's
        JUnit properties."""
        self._batch.record(result)
        properties = self._request.node.user_properties
        properties += [
            ("resilience.verdict", result.verdict),
            ("resilience.agent", result.agent),
            ("resilience.llm_committed", result.llm_calls["committed"]),
            ("resilience.llm_wasted", result.llm_calls["wasted"]),
            ("resilience.llm_duplicate", result.llm_calls["duplicate"]),
            ("resilience.recovery_s", "" if result.recovery_s is None else result.recovery_s),
            ("resilience.faults", ",".join(f"{f.kind}:{f.target}" for f in result.faults)),
        ]
        return result

    def recorder(self, name: str, agent: str) -> Callable[[ScenarioResult], None]:
        """The ``on_result`` of a ``LiveRun``: names an unnamed result after the test and
        the agents, and records it with the command that reproduces it."""

        def on_result(result: ScenarioResult) -> None:
            if result.name == _UNNAMED:
                result.name = name
            result.agent = result.agent or agent
            result.always_replay = self.always_replay
            result.reproduce = nodeid_command(self.nodeid, always_replay=result.always_replay)
            self.record(result)

        return on_result


@pytest.fixture(scope="session")
def resilience_settings(request: pytest.FixtureRequest) -> Settings:
    """The session's configuration, from the environment variables, read once, and the
    command line's ``--resilience-topology`` / ``--resilience-backend``."""
    return Settings.from_environ(os.environ).choosing(
        topology=request.config.getoption("--resilience-topology"),
        backend=request.config.getoption("--resilience-backend"),
    )


@pytest.fixture(scope="session")
def resilience_cleanup() -> Iterator[Cleanup]:
    """Registers every process group and temp dir the session's scenarios create; its
    reaper destroys them even if pytest is SIGKILLed."""
    with Cleanup() as cleanup:
        yield cleanup


@pytest.fixture(scope="session")
def resilience_batch(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, resilience_settings: Settings,
    resilience_cleanup: Cleanup,
) -> Iterator[Batch]:
    """The session's batch: its fork server (our Python servers start from preloaded
    libraries) and every result recorded; ``--resilience-report`` publishes it."""
    reuse = not request.config.getoption("--resilience-fresh")
    with Batch(tmp_path_factory.mktemp("resilience"), resilience_settings, resilience_cleanup, reuse=reuse,
               save_each=False) as batch:
        request.config.stash[_BATCH] = batch
        yield batch


@pytest.fixture(scope="session")
def resilience_pool(resilience_batch: Batch) -> Iterator[EnvironmentPool]:
    """The session's environments, kept between scenarios that leave them clean."""
    with resilience_batch.pool(0) as pool:
        yield pool


@pytest.fixture(scope="session")
def resilience_launcher(resilience_batch: Batch) -> ForkServer | None:
    """The session's fork server: our Python servers start from preloaded libraries."""
    return resilience_batch.launcher


@pytest.fixture
def resilience(
    request: pytest.FixtureRequest, tmp_path: Path, resilience_batch: Batch, resilience_pool: EnvironmentPool,
) -> Resilience:
    """Run whole ``Scenario`` values: ``resilience.run(scenario)``. Skips the test when
    restate-server or toxiproxy-server is not installed."""
    options = ResilienceOptions.of(request)
    require_binaries(resilience_batch.settings)
    return Resilience(request, tmp_path, resilience_batch, resilience_pool, options)


@pytest.fixture
def resilience_environment(resilience: Resilience, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., LiveRun]]:
    """A factory: ``resilience_environment(*agents)`` starts the agents behind Toxiproxy with
    their own restate-server and fake LLM, and returns a ``LiveRun``. Everything stops at
    the end of the test. ``inactivity_timeout_s`` and ``trigger_timeout_s`` default to the
    marker's options."""
    with ExitStack() as stack:
        started = 0

        def start(*agents: AgentSpec, inactivity_timeout_s: float | None = None,
                  trigger_timeout_s: float | None = None) -> LiveRun:
            nonlocal started
            started += 1
            options = resilience.options
            if inactivity_timeout_s is None:
                inactivity_timeout_s = options.inactivity_timeout_s
            if trigger_timeout_s is None:
                trigger_timeout_s = options.trigger_timeout_s
            settings = resilience.settings
            if options.tape is not None:  # what the auto mode would answer comes from the cassette (or is recorded)
                settings = replace(settings, cassette=options.tape)
            env = stack.enter_context(
                Environment(agents, tmp_path / f"env-{started}", inactivity_timeout_s=inactivity_timeout_s,
                            always_replay=resilience.always_replay, settings=settings,
                            cleanup=resilience.cleanup, launcher=resilience.launcher)
            )
            label = "+".join(a.label or a.name for a in agents)
            on_result = resilience.recorder(request.node.name, label)
            if trigger_timeout_s is None:
                return LiveRun(env, on_result=on_result)
            return LiveRun(env, trigger_timeout_s=trigger_timeout_s, on_result=on_result)

        yield start


@pytest.fixture
def resilience_validate(resilience: Resilience, tmp_path: Path) -> Callable[..., Validation]:
    """A function: ``resilience_validate(cmd="hypercorn app:app --bind 127.0.0.1:{port}",
    cwd=..., stubs=["refunds=REFUNDS_URL"], entry="Router/answer", budget="quick")`` validates
    (``proxies=["payments=PAYMENTS_URL=http://127.0.0.1:8000"]``, ``mcp=["shop=SHOP_MCP_URL"]``
    with ``mcp_tools=FILE``, as on the command line)
    an agent as ``restate-resilience validate`` does and returns the ``Validation`` (its
    ``classes`` hold one row per bug class; ``green`` is True when no finding failed one).
    ``fail_on="stuck,retry_storm"`` (or the marker's ``fail_on``, or
    ``--resilience-fail-on``) makes those classes' advisories fail too. Each run is
    recorded like any other result.

    With ``@pytest.mark.resilience(cassette="cassettes/router.jsonl")`` the validation runs
    on the real answers recorded there (``Validation.cassette`` counts the misses;
    ``on_miss="fail"`` makes a miss an error), as ``validate --cassette`` does; run pytest
    with ``--resilience-record`` (and your provider's key) to record the file first, as
    ``validate --record`` does."""

    def run(*, cmd: str | list[str] = (), url: str | list[str] = (), cwd: str | Path | None = None,
            env: list[str] = (), stubs: list[str] = (), proxies: list[str] = (), mcp: list[str] = (),
            mcp_tools: str | Path | None = None, entry: str | None = None, input: Any = None,
            key: str | None = None, budget: str = "quick",
            fail_on: str | None = None) -> Validation:  # type: ignore[assignment]
        agent = parse_agent_under_test(
            [cmd] if isinstance(cmd, str) else list(cmd), [url] if isinstance(url, str) else list(url),
            cwd=str(cwd) if cwd else None, env=env, stubs=stubs, entry=entry,
            input_json=None if input is None else json.dumps(input), key=key,
            proxies=proxies, mcp=mcp, mcp_tools=None if mcp_tools is None else str(mcp_tools))
        agent.check_reachable()
        classes = fail_on_classes(fail_on) if fail_on else resilience.options.fail_on
        validation = validate_agent(agent, tmp_path / "validate", budget=budget, say=lambda line: None,
                                    settings=resilience.settings, cleanup=resilience.cleanup, fail_on=classes,
                                    tape=resilience.options.tape)
        for result in validation.results:
            resilience.record(result)
        return validation

    return run


@pytest.fixture
def resilience_checks() -> Callable[..., tuple]:  # type: ignore[type-arg]
    """``resilience_checks(answer)``: what every recovering run must show (completion with
    ``answer``, no duplicate LLM call, steps once, wasted calls explained, no journal
    mismatch)."""
    return standard_checks
