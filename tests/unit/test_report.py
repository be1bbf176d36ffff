"""The HTML report, on hand-made results: self-contained, redacted, escaped; the per-kind
figures, the trend and its flaky detection; malformed earlier runs are skipped."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.report import write_report
from harness.report.model import build, cost_by_kind, invocation_tree, recovery_by_kind
from harness.redact import REDACTED, redact, redact_data
from harness.results.reproduce import reproduce_command
from harness.results.rows import row_from_json
from harness.results.schema import ScenarioResult, TimelineRow

ANSWER = "I have refunded the duplicate charge; it will show within 5 days."
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


def scenario(name: str = "kill-router-during-specialist-call", agent: str = "local-router", verdict: str = "pass",
             **overrides: Any) -> dict[str, Any]:
    """A results.json scenario shaped like harness/results/schema.py writes it."""
    inv = "inv_root"
    s: dict[str, Any] = {
        "name": name,
        "agent": agent,
        "verdict": verdict,
        "description": "SIGKILL the router while the specialist's answer is held.",
        "tags": ["local", "kill"],
        "invocations": {"sent": 1, "completed": 1, "failed": 0},
        "llm_calls": {"committed": 2, "wasted": 1, "duplicate": 0},
        "side_effects": {},
        "recovery_s": 1.7,
        "faults": [{"kind": "kill", "target": "router", "at_s": 0.16, "healed_s": 0.37}],
        "findings": [{"check": "all invocations completed", "ok": verdict == "pass", "message": "1/1 completed"}],
        "errors": [],
        "calls": [
            {"id": 1, "invocation_id": inv, "attempt": 1, "class": "committed", "reason": "journaled as Run 'route'",
             "outcome": "ok", "status": 200, "arrived_s": 0.1, "finished_s": 0.101, "ended_s": 0.101, "tokens": 56,
             "answer": "tool call: BillingAgent", "api": "anthropic"},
            {"id": 2, "invocation_id": inv, "attempt": 1, "class": "wasted", "reason": "superseded by a retry",
             "outcome": "ok", "status": 200, "arrived_s": 0.11, "finished_s": 0.17, "ended_s": 0.17, "tokens": 52,
             "answer": ANSWER, "flaw": "bad_tool_args"},
            {"id": 3, "invocation_id": inv, "attempt": 2, "class": "committed", "reason": "journaled",
             "outcome": "ok", "status": 200, "arrived_s": 2.05, "finished_s": 2.06, "ended_s": 2.06, "tokens": 52,
             "answer": ANSWER},
        ],
        "journal": [
            {"invocation_id": inv, "index": i, "entry_type": t, "name": n, "appended_s": a}
            for i, (t, n, a) in enumerate([("Command: Input", "", 0.001), ("Command: Run", "route", 0.005),
                                           ("Command: Run", "ask BillingAgent", 0.11), ("Command: Output", "", 2.06)])
        ],
        "timeline": [
            {"invocation_id": inv, "target": "AgentRouter/answer", "parent": None, "created_s": 0.001,
             "completed_s": 2.065, "status": "completed", "result": "success", "output": ANSWER, "failure": None},
        ],
        "duration_s": 3.9,
        "environment_ready_s": 1.7,
        "log_tails": {},
        "stuck": [],
        "always_replay": False,
        "seed": None,
        "schedule": ["kill router when LLM call 2 is held, healed after 0.2s"],
    }
    s.update(overrides)
    return s


META = {"run_id": "", "started_at": 1795610301.3, "finished_at": 1795610310.1,
        "versions": {"python": "3.11.7", "restate-server": "1.7.12", "toxiproxy": "v2.12.0",
                     "restate-sdk": "1.3.0", "openai": "1.57.0"}}


def write_run(root: Path, run_id: str, scenarios: list[dict[str, Any]], **meta: Any) -> Path:
    run_dir = root / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.json").write_text(json.dumps({"meta": {**META, "run_id": run_id, **meta}, "scenarios": scenarios}))
    return run_dir


def report(tmp_path: Path, scenarios: list[dict[str, Any]], run_id: str = "20261125-120000", **meta: Any) -> str:
    path = write_report(write_run(tmp_path, run_id, scenarios, **meta), tmp_path)
    assert path == tmp_path / run_id / "index.html"
    return path.read_text()


# --- self-contained -----------------------------------------------------------------------


def test_report_is_self_contained(tmp_path: Path) -> None:
    html = report(tmp_path, [scenario(), scenario("baseline", faults=[], recovery_s=None,
                                                  llm_calls={"committed": 2, "wasted": 0, "duplicate": 0})])
    assert not re.search(r"<script", html, re.I), "no JavaScript at all"
    assert not re.search(r"""(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I), "nothing fetched"
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", html, re.I) and "@import" not in html
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    assert html.count("<svg") >= 3  # two timelines, the recovery and the cost charts
    ids = Counter(re.findall(r'\sid="([^"]+)"', html))
    assert not [i for i, n in ids.items() if n > 1], "ids are unique across the inlined SVGs"


def test_verdict_banner_counts_and_collapsing(tmp_path: Path) -> None:
    html = report(tmp_path, [
        scenario(),
        scenario("kill-router-after-routing-journaled", verdict="fail", llm_calls={"committed": 2, "wasted": 0, "duplicate": 1}),
        scenario("llm-down-beyond-max-attempts", verdict="expected failure"),
        scenario("latency-on-llm-link", verdict="unknown", calls=[], errors=["nothing was exercised"]),
    ])
    banner = html[html.index('id="verdict"'):html.index("</section>")]
    assert 'class="banner fail"' in html and "FAILED: 1 of 4 scenarios failed" in banner
    for n, label in ((1, "pass"), (1, "fail"), (1, "expected failure"), (1, "unknown: nothing was exercised")):
        assert re.search(rf"<b[^>]*>{n}</b>{re.escape(label)}<", banner), label
    # Passing and expected failures are collapsed; failing and unknown open.
    opened = dict(re.findall(r'<details class="scenario [^"]*" id="s-([^"]+)"( open)?>', html))
    assert opened == {"kill-router-during-specialist-call--local-router": "",
                      "kill-router-after-routing-journaled--local-router": " open",
                      "llm-down-beyond-max-attempts--local-router": "",
                      "latency-on-llm-link--local-router": " open"}


def test_scenario_details(tmp_path: Path) -> None:
    failing = scenario(
        verdict="fail", seed=7, always_replay=True,
        side_effects={"committed": 1, "wasted": 0, "duplicate": 1},
        side_effect_calls=[{"id": 1, "service": "refunds", "token": "rrh-1", "attempt": 2, "class": "duplicate",
                            "reason": "refund issued twice", "arrived_s": 1.2}],
        stuck=[{"invocation": {"id": "inv_stuck", "target": "BillingAgent/run", "status": "backing-off"},
                "journal": [{"id": "inv_stuck", "index": 0, "entry_type": "Command: Input"}]}],
        log_tails={"router": "Traceback: boom"},
    )
    html = report(tmp_path, [failing])
    assert "python -m harness run kill-router-during-specialist-call --agent local-router --seed 7 --always-replay" in html
    for text in ("Command: Run", "ask BillingAgent", "superseded by a retry", "tool call: BillingAgent",
                 "inv_stuck", "backing-off", "Traceback: boom", "1 duplicate", "kill router", "refund issued twice",
                 "<th>protocol</th>", "<td>anthropic</td>", "ok <b>(bad tool args)</b>"):
        assert text in html, text


def test_only_a_finding_that_did_not_hold_is_red_in_a_scenarios_checks(tmp_path: Path) -> None:
    """An advisory's figure is not a failure, and a check given nothing to judge did not pass."""
    findings = [
        {"check": "no duplicate LLM call", "ok": False, "message": "call #4 again", "bug_class": "duplicate_llm_call",
         "severity": "finding", "exercised": True, "advice": ""},
        {"check": "a hung LLM call is ended by the client's timeout", "ok": False, "message": "held 9 s",
         "bug_class": "stuck_invocation", "severity": "advisory", "exercised": True, "advice": "set a timeout"},
        {"check": "no duplicate side effect", "ok": True, "message": "no side effect", "bug_class":
         "duplicate_side_effect", "severity": "finding", "exercised": False, "advice": ""},
        {"check": "all invocations completed", "ok": True, "message": "1/1 completed"},  # an older results.json
    ]
    html = report(tmp_path, [scenario(verdict="fail", findings=findings)])
    rows = {row.split("</td>")[0].split("<td>")[-1]: row for row in html.split("<tr")}
    assert "chip fail" in rows["no duplicate LLM call"] and 'class="bad"' in rows["no duplicate LLM call"]
    hang = rows["a hung LLM call is ended by the client&#39;s timeout"]
    assert "chip unknown\">advisory" in hang and "chip fail" not in hang and "fix: set a timeout" in hang
    assert "not exercised" in rows["no duplicate side effect"] and "chip fail" not in rows["no duplicate side effect"]
    assert "chip pass\">ok" in rows["all invocations completed"]


def test_reproduce_command() -> None:
    # The runner records the exact command (CLI, soak or pytest); the report shows it as is.
    recorded = "python -m harness soak --router remote --n 200 --faults 3 --seed 9"
    assert reproduce_command(_result(scenario("soak-remote", reproduce=recorded))) == recorded
    # Results without one get a command rebuilt from the name, agent and seed.
    assert reproduce_command(_result(scenario())) == (
        "python -m harness run kill-router-during-specialist-call --agent local-router")
    assert reproduce_command(_result(scenario("random-faults-local", seed=42))) == (
        "python -m harness run random-faults-local --agent local-router --seed 42"
    )


def test_callees_are_drawn_under_their_parent() -> None:
    timeline = [row_from_json(TimelineRow, row) for row in (
        {"invocation_id": "child", "parent": "root", "created_s": 0.5},
        {"invocation_id": "root", "parent": None, "created_s": 0.1},
        {"invocation_id": "grandchild", "parent": "child", "created_s": 0.6},
        {"invocation_id": "orphan", "parent": "gone", "created_s": 0.2},
    )]
    assert [(d, i.invocation_id) for d, i in invocation_tree(timeline)] == [
        (0, "root"), (1, "child"), (2, "grandchild"), (0, "orphan")]


# --- safety -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("OPENAI_API_KEY=sk-proj-abcdef1234567890 next", f"OPENAI_API_KEY={REDACTED} next"),
    ("key sk-abcdefghij0123456789 in prose", f"key {REDACTED} in prose"),
    ("Authorization: Bearer eyJhbGciOi.J9.abc123", f"Authorization: Bearer {REDACTED}"),
    ("headers={'Authorization': 'Bearer tok3n-abcdef'}", f"headers={{'Authorization': 'Bearer {REDACTED}'}}"),
    ('{"api_key": "hunter2-not-sk"}', f'{{"api_key": "{REDACTED}"}}'),
    ("OpenAI(api_key='abc', base_url='http://x')", f"OpenAI(api_key='{REDACTED}', base_url='http://x')"),
    ("GET /v1?api-key=abc123&q=1", f"GET /v1?api-key={REDACTED}&q=1"),
    ("GITHUB_TOKEN=ghp_x AWS_SECRET=y DB_PASSWORD=\"p w\"",
     f'GITHUB_TOKEN={REDACTED} AWS_SECRET={REDACTED} DB_PASSWORD="{REDACTED}"'),
    ("ANTHROPIC_KEY: abc", f"ANTHROPIC_KEY: {REDACTED}"),
])
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "token=rrh-97c13e09b088",  # the harness's correlation token is not a secret
    "max_tokens=100 total_tokens: 56",
    "Bearer tokens are short-lived",
    "task-force sk-short",
    "I have refunded the duplicate charge; it will show within 5 days.",
])
def test_redact_leaves_ordinary_text(text: str) -> None:
    assert redact(text) == text


def test_redact_data_replaces_secret_keys_whole() -> None:
    data = {"api_key": "plain", "env": {"OPENAI_API_KEY": "x", "tokens": 56}, "log": ["Bearer abc123def"]}
    assert redact_data(data) == {"api_key": REDACTED, "env": {"OPENAI_API_KEY": REDACTED, "tokens": 56},
                                 "log": [f"Bearer {REDACTED}"]}


def test_secrets_never_reach_the_page(tmp_path: Path) -> None:
    secrets = ["sk-proj-SECRET0123456789", "eyJSECRETbearer42", "hunter2secret", "ghp_SECRETTOKEN", "s3cr3tpw"]
    s = scenario(verdict="fail", errors=['client config {"api_key": "hunter2secret"}'],
                 log_tails={"router": "env: OPENAI_API_KEY=sk-proj-SECRET0123456789\nGITHUB_TOKEN=ghp_SECRETTOKEN"})
    s["calls"][1]["answer"] = "use Authorization: Bearer eyJSECRETbearer42"
    s["faults"][0]["detail"] = {"password": "s3cr3tpw"}
    html = report(tmp_path, [s], note="DB_PASSWORD=s3cr3tpw")
    for secret in secrets:
        assert secret not in html, secret
    assert html.count(REDACTED) >= 5


def test_agent_and_llm_text_is_escaped(tmp_path: Path) -> None:
    s = scenario(verdict="fail", name="xss", log_tails={"router": "<img src=x onerror=alert(1)>"},
                 errors=["<iframe src=javascript:alert(1)>"])
    s["calls"][2]["answer"] = XSS
    s["timeline"][0]["output"] = XSS
    s["timeline"][0]["target"] = "<script>alert('target')</script>"
    s["faults"][0]["target"] = "<b>router</b>"
    s["findings"][0]["message"] = "<script>alert(2)</script>"
    html = report(tmp_path, [s])
    assert not re.search(r"<(script|img|iframe)\b", html, re.I)
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;&lt;img src=x onerror=" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>router</b>" not in html  # escaped in the table and in the chart's SVG text
    assert "&lt;script&gt;alert(&#39;target&#39;)&lt;/script&gt;" in html  # the chart label


def test_minimal_and_odd_scenarios_render(tmp_path: Path) -> None:
    html = report(tmp_path, [
        {"name": "bare", "verdict": "pass"},
        {"name": "odd", "agent": "x", "verdict": "weird", "recovery_s": "fast", "faults": "none", "calls": [None, 3],
         "timeline": [{"invocation_id": "a", "parent": "a", "created_s": "soon"}], "seed": True},
        "not a scenario",
    ])
    assert "bare" in html and "odd" in html
    assert "python -m harness run odd --agent x" in html


# An older results.json, as the harness wrote it before the schema had a version: no
# schema_version, timeline, side effects, tags, reproduce or always_replay; calls without
# fingerprints or end times; and a hand edit or two of the wrong type.
OLD_RESULTS = """
{"meta": {"run_id": "20250101-090000", "started_at": 1735722000.0, "versions": "1.5.0"},
 "scenarios": [
  {"name": "kill-router-during-specialist-call", "agent": "local-router", "verdict": "pass",
   "invocations": {"sent": 1, "completed": 1, "failed": 0},
   "llm_calls": {"committed": 2, "wasted": 1, "duplicate": 0},
   "recovery_s": 0.9, "duration_s": null, "seed": "7",
   "faults": [{"kind": "kill", "target": "router", "at_s": 0.1}],
   "findings": [{"check": "all invocations completed", "ok": true, "message": "1/1 completed"}],
   "calls": [{"id": 1, "attempt": 1, "class": "committed", "reason": "journaled as Run 'route'", "tokens": "56"},
             {"id": 2, "attempt": 1, "class": "wasted", "reason": "superseded by a retry", "tokens": 52}],
   "journal": [], "errors": []},
  {"name": "llm-down", "agent": "local-router", "verdict": "expected failure", "calls": {}, "faults": null},
  {"verdict": "pass"}
 ]}
"""


def test_an_older_results_json_still_renders(tmp_path: Path) -> None:
    run_dir = tmp_path / "20250101-090000"
    run_dir.mkdir()
    (run_dir / "results.json").write_text(OLD_RESULTS)
    html = write_report(run_dir, tmp_path).read_text()
    assert "All 2 scenarios behaved as expected" in html  # the nameless item is not a scenario
    assert "python -m harness run kill-router-during-specialist-call --agent local-router" in html
    for text in ("superseded by a retry", "journaled as Run", "1/1 completed", "kill router", "llm-down"):
        assert text in html, text
    r = build(run_dir, tmp_path)
    old = r.scenarios[0].result
    assert old.seed is None and old.duration_s == 0.0 and old.recovery_s == 0.9  # "7", null: dropped to defaults
    assert old.faults[0].healed_s is None and old.calls[0].tokens is None and old.calls[1].tokens == 52
    assert r.scenarios[0].wasted_tokens == 52 and r.batch.meta["versions"] == {}
    assert r.scenarios[1].result.calls == [] and r.scenarios[1].result.faults == []


# --- per fault kind -----------------------------------------------------------------------


def test_per_kind_figures() -> None:
    kill = scenario("kill", recovery_s=1.5)
    kill_and_latency = scenario(
        "kill-under-latency", recovery_s=3.0, llm_calls={"committed": 2, "wasted": 2, "duplicate": 0},
        faults=[{"kind": "latency", "target": "router->llm", "at_s": 0.0, "healed_s": 1.0},
                {"kind": "kill", "target": "router", "at_s": 0.2, "healed_s": 0.4},
                {"kind": "kill", "target": "router", "at_s": 0.6, "healed_s": 0.8}])
    kill_and_latency["calls"][0]["class"] = "wasted"  # tokens 56 + 52 wasted
    storm = scenario("storm", recovery_s=None, llm_calls={"committed": 2, "wasted": 3, "duplicate": 0},
                     faults=[{"kind": "llm_429", "target": "llm", "at_s": 0.0, "healed_s": 1.8}], calls=[])
    clean = scenario("baseline", recovery_s=None, faults=[], llm_calls={"committed": 2, "wasted": 0, "duplicate": 0})
    mutant = scenario("mutant", recovery_s=None, faults=[], llm_calls={"committed": 2, "wasted": 0, "duplicate": 1})
    scenarios = [_result(s) for s in (kill, kill_and_latency, storm, clean, mutant)]

    # Only single-kind scenarios: kill-under-latency's recovery is the worst over two kinds.
    assert recovery_by_kind(scenarios) == {"kill": [("kill [local-router]", 1.5)]}
    costs = {c.kind: c for c in cost_by_kind(scenarios)}
    assert set(costs) == {"kill", "latency", "llm_429", "(no fault)"}  # a clean baseline costs nothing
    # kill-under-latency's 2 wasted calls and 108 tokens are split between its two kinds.
    assert (costs["kill"].scenarios, costs["kill"].shared) == (2, 1)
    assert costs["kill"].wasted_calls == pytest.approx(1 + 1.0)
    assert costs["kill"].wasted_tokens == pytest.approx(52 + 54)
    assert (costs["latency"].wasted_calls, costs["latency"].wasted_tokens) == (pytest.approx(1.0), pytest.approx(54))
    assert (costs["llm_429"].wasted_calls, costs["llm_429"].wasted_tokens) == (3, 0)
    assert costs["(no fault)"].duplicate_calls == 1
    assert sum(c.wasted_calls for c in costs.values()) == pytest.approx(1 + 2 + 3)


def _result(s: dict[str, Any]) -> ScenarioResult:
    return ScenarioResult.from_json(s)


def test_cost_section_in_page(tmp_path: Path) -> None:
    html = report(tmp_path, [scenario()])
    cost = html[html.index('id="cost"'):html.index('id="matrix"')]
    assert "split evenly" in cost and "<svg" in cost
    assert re.search(r"<td>kill</td><td class=\"num\">1</td><td class=\"num\">0</td><td class=\"num\">0</td><td class=\"num\">1</td>\s*<td class=\"num\">52</td>", cost)


# --- trend --------------------------------------------------------------------------------


def test_flaky_detection_over_runs(tmp_path: Path) -> None:
    history = [
        # (kill, baseline, xfail-then-unknown)
        ("20261120-100000", "pass", "pass", "expected failure"),
        ("20261121-100000", "fail", "pass", "expected failure"),
        ("20261122-100000", "pass", "pass", "unknown"),
    ]
    for run_id, kill, base, down in history[:-1]:
        write_run(tmp_path, run_id, [scenario(verdict=kill), scenario("baseline", verdict=base),
                                     scenario("llm-down", verdict=down)])
    run_id, kill, base, down = history[-1]
    current = write_run(tmp_path, run_id, [scenario(verdict=kill), scenario("baseline", verdict=base),
                                           scenario("llm-down", verdict=down)])
    r = build(current, tmp_path)
    assert r.trend_batches == [h[0] for h in history]
    flaky = {t.name: t.flaky for t in r.trend}
    assert flaky == {"kill-router-during-specialist-call": True, "baseline": False, "llm-down": True}
    kill_row = next(t for t in r.trend if t.name == "kill-router-during-specialist-call")
    assert [c.verdict for c in kill_row.cells if c] == ["pass", "fail", "pass"]
    assert kill_row.recoveries == [1.7, 1.7, 1.7]
    html = write_report(current, tmp_path).read_text()
    trend = html[html.index('id="trend"'):]
    assert trend.count('class="chip flaky"') == 2 and "Trend over the last 3 batches" in trend


def test_trend_keeps_the_last_runs_and_ignores_later_and_latest(tmp_path: Path) -> None:
    for day in range(10, 25):
        write_run(tmp_path, f"202611{day:02d}-100000", [scenario()])
    current = tmp_path / "20261120-100000"
    (tmp_path / "latest").symlink_to("20261124-100000")
    r = build(current, tmp_path, keep=4)
    assert r.trend_batches == ["20261117-100000", "20261118-100000", "20261119-100000", "20261120-100000"]
    assert build(current, tmp_path, keep=1).trend_batches == ["20261120-100000"]


def test_malformed_earlier_runs_are_skipped(tmp_path: Path) -> None:
    good = write_run(tmp_path, "20261110-100000", [scenario(verdict="fail")])
    bad_json = tmp_path / "20261111-100000"
    bad_json.mkdir()
    (bad_json / "results.json").write_text("{not json")
    write_run(tmp_path, "20261112-100000", [])
    (tmp_path / "20261112-100000" / "results.json").write_text(json.dumps(["a", "list"]))
    write_run(tmp_path, "20261113-100000", [])
    (tmp_path / "20261113-100000" / "results.json").write_text(json.dumps({"scenarios": "none"}))
    write_run(tmp_path, "20261114-100000", ["junk", {"name": 3}, {"name": "x", "verdict": 5, "recovery_s": "?"}])
    binary = tmp_path / "20261115-100000"
    binary.mkdir()
    (binary / "results.json").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "20261116-100000").mkdir()  # no results.json: not a run
    (tmp_path / "stray.txt").write_text("not a run")
    (tmp_path / "latest").symlink_to("nowhere")
    deep = tmp_path / "20261117-100000"
    deep.mkdir()
    (deep / "results.json").write_text("[" * 100_000 + "]" * 100_000)
    current = write_run(tmp_path, "20261118-100000", [scenario()])

    path = write_report(current, tmp_path)
    r = build(current, tmp_path)
    assert r.trend_batches == [good.name, "20261114-100000", current.name]
    assert r.skipped_runs == ["20261117-100000", "20261115-100000", "20261113-100000", "20261112-100000", "20261111-100000"]
    row = next(t for t in r.trend if t.name == "kill-router-during-specialist-call")
    assert row.flaky  # fail in the good earlier run, pass now
    assert "Skipped as unreadable" in path.read_text()


def test_unreadable_current_run_raises(tmp_path: Path) -> None:
    run_dir = tmp_path / "20261118-100000"
    run_dir.mkdir()
    (run_dir / "results.json").write_text("nope")
    with pytest.raises(ValueError):
        write_report(run_dir, tmp_path)


def test_results_dict_is_not_modified(tmp_path: Path) -> None:
    s = scenario(log_tails={"router": "OPENAI_API_KEY=sk-proj-abcdefghij123"})
    before = copy.deepcopy(s)
    report(tmp_path, [s])
    assert s == before
    assert "sk-proj-abcdefghij123" in (tmp_path / "20261125-120000" / "results.json").read_text()  # only the page is redacted


def test_anchors_stay_unique(tmp_path: Path) -> None:
    html = report(tmp_path, [scenario("a b"), scenario("a-b"), scenario("a b")])
    ids = Counter(re.findall(r'\sid="([^"]+)"', html))
    assert not [i for i, n in ids.items() if n > 1]
    assert {"s-a-b--local-router", "s-a-b--local-router-2", "s-a-b--local-router-3"} <= set(ids)


def test_run_dir_given_through_latest(tmp_path: Path) -> None:
    write_run(tmp_path, "20261110-100000", [scenario(verdict="fail")])
    current = write_run(tmp_path, "20261111-100000", [scenario()])
    (tmp_path / "latest").symlink_to(current.name)
    r = build(tmp_path / "latest", tmp_path)
    assert r.trend_batches == ["20261110-100000", "20261111-100000"]


def test_a_soak_timeline_is_compact(tmp_path: Path) -> None:
    timeline = [{"invocation_id": f"inv_{i:03d}", "target": "AgentRouter/answer", "parent": None,
                 "created_s": i * 0.05, "completed_s": i * 0.05 + 1 if i != 33 else None,
                 "status": "completed" if i != 33 else "backing-off", "result": "success" if i != 33 else None}
                for i in range(60)]
    calls = [{"id": i, "invocation_id": f"inv_{i:03d}", "attempt": 1, "class": "committed", "arrived_s": i * 0.05 + 0.1,
              "ended_s": i * 0.05 + 0.2, "tokens": 10} for i in range(60)]
    html = report(tmp_path, [scenario("soak-local", verdict="fail", timeline=timeline, calls=calls, journal=[],
                                      invocations={"sent": 60, "completed": 59, "failed": 0}, seed=5,
                                      reproduce="python -m harness soak --router local --n 60 --faults 1 --seed 5")])
    assert "30 more invocations not drawn" in html and "LLM calls drawn on their invocation" in html
    assert "…nv_033" in html  # the stuck invocation is drawn although it is not among the first 30
    assert "python -m harness soak --router local --n 60 --faults 1 --seed 5" in html


def test_the_validation_section_shows_findings_advisories_and_symptoms(tmp_path: Path) -> None:
    validation = {
        "agent": "my-agent", "entry": "Router/answer", "baseline": "2 LLM call(s)", "plan": ["always-replay"],
        "summary": "red: 1 finding (non_determinism); 1 advisory", "green": False, "fail_on": ["retry_storm"],
        "classes": {
            "non_determinism": {"verdict": "fail", "scenario": "always-replay", "evidence": "RT0016 " + XSS,
                                "why": "replay took another path", "fix": "journal randomness"},
            "degraded_answer": {"verdict": "caused", "caused_by": "non_determinism", "scenario": "always-replay",
                                "why": "a symptom of the non_determinism finding", "evidence": "answered otherwise"},
            "stuck_invocation": {"verdict": "advisory", "exercised_by": ["llm-hang"], "advisories": [
                {"probe": "llm-hang", "check": "hang", "message": "held the request 9 s; 11 min in production",
                 "advice": "AsyncOpenAI(timeout=30)"}]},
        },
    }
    run_dir = write_run(tmp_path, "20261125-120000", [scenario()])
    document = json.loads((run_dir / "results.json").read_text())
    (run_dir / "results.json").write_text(json.dumps({**document, "validation": validation}))
    html = write_report(run_dir, tmp_path).read_text()
    section = html[html.index('id="validation"'):html.index('id="scenarios"')]
    assert "red: 1 finding (non_determinism); 1 advisory" in section and "banner fail" in section
    assert "caused by non_determinism" in section and "answered otherwise" in section
    assert "held the request 9 s; 11 min in production" in section and "AsyncOpenAI(timeout=30)" in section
    assert "--fail-on" in section and "retry_storm" in section
    assert "<script>window.__xss" not in html  # the evidence comes from an agent: escaped
