"""A synchronous control client for the fake LLM, used by the harness and scenarios.

    llm = FakeLLM("http://127.0.0.1:8089")
    llm.on(has_tools=True).reply(tool_call("BillingAgent", {"reason": "refund"}))
    llm.on(system_contains="billing").hold().reply("Refund issued.")
    call = llm.wait_for_call(n=2, held=True)
    llm.release(call.id)

    fault = llm.on().first().fail(503)   # in front of every other rule
    llm.remove_rule(fault)               # exactly that rule goes; the others keep their hits
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import httpx

from harness.errors import HarnessError
from harness.fake_llm.rules import (
    DEFAULT_CUT_TEXT,
    Action,
    Auto,
    BadAnswer,
    Failure,
    Flaw,
    Forward,
    Hang,
    Malformed,
    Match,
    Reply,
    Rule,
    RuleId,
    ScriptedRule,
    StreamCut,
    Structured,
    ToolCall,
)
from harness.history import Calls, LLMCall


class FakeLLMError(HarnessError):
    """The fake's control API did not answer as expected; the message says what was expected and what came."""


class FakeLLM:
    """Scripts a running fake LLM and reads its call ledger."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, http: httpx.Client | None = None) -> None:
        # The root, which is what the anthropic and google-genai clients take as their base URL
        # (`ANTHROPIC_BASE_URL`, `GOOGLE_GEMINI_BASE_URL`); OpenAI clients take `openai_base_url`.
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.Client(base_url=self.base_url, timeout=timeout)

    @property
    def openai_base_url(self) -> str:
        """What to pass as `base_url` to an OpenAI client."""
        return self.base_url + "/v1"

    @property
    def upstream(self) -> str | None:
        """The real LLM the fake forwards to (its `--upstream` base URL), or None."""
        upstream = self._request("GET", "/_fake/info")["upstream"]
        return upstream if isinstance(upstream, str) else None

    # --- rules ---------------------------------------------------------------------------

    def on(
        self,
        *,
        contains: str | None = None,
        system_contains: str | None = None,
        model: str | None = None,
        has_tools: bool | None = None,
        token: str | None = None,
    ) -> RuleBuilder:
        """Start a rule for requests that match all the given conditions (none given: every request)."""
        return RuleBuilder(self, Match(contains, system_contains, model, has_tools, token))

    def add_rule(self, rule: Rule, *, first: bool = False) -> RuleId:
        """Add a rule after all others (earlier rules win over it), or with `first` in front of them.

        Returns its id, for `remove_rule`.
        """
        params = {"position": "first"} if first else None
        added = self._request("POST", "/_fake/rules", json=rule.to_json(), params=params, expect=201)
        rule_id = added.get("id") if isinstance(added, dict) else None
        if not isinstance(rule_id, str):
            raise FakeLLMError(f"POST {self.base_url}/_fake/rules: expected the new rule's id, got {added!r}")
        return RuleId(rule_id)

    def remove_rule(self, rule: RuleId | ScriptedRule) -> ScriptedRule:
        """Remove exactly this rule, in one request; returns it as it was, with its hits.

        Raises FakeLLMError (404) if the fake has no such rule (removed already, or reset).
        """
        rule_id = rule.id if isinstance(rule, ScriptedRule) else rule
        return ScriptedRule.from_json(self._request("DELETE", f"/_fake/rules/{rule_id}"))

    def replace_rules(self, rules: Iterable[Rule]) -> list[RuleId]:
        """Put these rules in place of all current ones; returns their (fresh) ids, in order."""
        listed = self._request("PUT", "/_fake/rules", json=[rule.to_json() for rule in rules])
        return [RuleId(data["id"]) for data in listed]

    @property
    def rules(self) -> list[ScriptedRule]:
        """The current rules in the order they are tried, each with its id and hit count."""
        return [ScriptedRule.from_json(data) for data in self._request("GET", "/_fake/rules")]

    # --- calls ---------------------------------------------------------------------------

    @property
    def calls(self) -> Calls:
        """Every call the fake received since start-up or the last reset, in arrival order."""
        return self._calls()

    def call(self, call_id: int) -> LLMCall:
        return LLMCall.from_json(self._request("GET", f"/_fake/calls/{call_id}"))

    def wait_for_call(
        self,
        n: int = 1,
        *,
        held: bool | None = None,
        token: str | None = None,
        timeout: float = 10.0,
        poll_s: float = 0.05,
    ) -> LLMCall:
        """Poll until call `n` exists (and, if `held` is given, is or is not held); return it.

        `n` is the call id (1-based arrival order); with `token`, it counts only that token's calls.
        Raises TimeoutError saying what it waited for and which calls it saw.
        """
        deadline = time.monotonic() + timeout
        while True:
            seen = self._calls(token)
            call = _nth(seen, n, by_position=token is not None)
            if call is not None and (held is None or call.held == held):
                return call
            if time.monotonic() >= deadline:
                raise TimeoutError(_timeout_message(n, held, token, timeout, seen))
            time.sleep(poll_s)

    def release(self, call: int | LLMCall) -> LLMCall:
        """Let a held (or hanging) call answer; returns the call as it was at release."""
        call_id = call.id if isinstance(call, LLMCall) else call
        return LLMCall.from_json(self._request("POST", f"/_fake/calls/{call_id}/release"))

    def release_all(self) -> list[int]:
        """Release every held call; returns their ids."""
        return list(self._request("POST", "/_fake/release-all")["released"])

    def reset(self) -> None:
        """Release everything, then forget all rules and calls."""
        self._request("POST", "/_fake/reset")

    # --- process -------------------------------------------------------------------------

    def is_healthy(self) -> bool:
        try:
            return self._http.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    def wait_until_healthy(self, timeout: float = 10.0, poll_s: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_healthy():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the fake LLM at {self.base_url} was not healthy within {timeout}s")
            time.sleep(poll_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FakeLLM:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------------------

    def _calls(self, token: str | None = None) -> Calls:
        params = None if token is None else {"token": token}
        return Calls(LLMCall.from_json(data) for data in self._request("GET", "/_fake/calls", params=params))

    def _request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None, expect: int = 200
    ) -> Any:
        where = f"{method} {self.base_url}{path}"
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise FakeLLMError(f"{where}: could not reach the fake LLM: {exc!r}") from exc
        if response.status_code != expect:
            raise FakeLLMError(
                f"{where}: expected HTTP {expect}, got {response.status_code}: {response.text[:500]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise FakeLLMError(f"{where}: expected a JSON body, got {response.text[:200]!r}") from exc


class RuleBuilder:
    """`llm.on(...)`: chain `first()`, `hold()`, `times(n)`, `delay(s)`, then end with an answer,
    which posts the rule and returns it as added: a `ScriptedRule` with its `id` and `rule`
    (`fault = llm.on().first().fail(503)` ... `llm.remove_rule(fault)`)."""

    def __init__(
        self,
        llm: FakeLLM,
        match: Match,
        *,
        hold: bool = False,
        times: int | None = None,
        delay_s: float = 0.0,
        first_token_delay_s: float = 0.0,
        first: bool = False,
    ) -> None:
        self._llm = llm
        self._match = match
        self._first = first
        self._hold = hold
        self._times = times
        self._delay_s = delay_s
        self._first_token_delay_s = first_token_delay_s

    def first(self) -> RuleBuilder:
        """Put the rule in front of all current rules, so it wins over them (a fault over a script)."""
        return self._with(first=True)

    def hold(self) -> RuleBuilder:
        """Compute the answer but send it only when the harness releases the call."""
        return self._with(hold=True)

    def times(self, n: int) -> RuleBuilder:
        """Match at most n requests."""
        return self._with(times=n)

    def delay(self, seconds: float) -> RuleBuilder:
        """Sleep this long before answering."""
        return self._with(delay_s=seconds)

    def first_token_delay(self, seconds: float) -> RuleBuilder:
        """For streamed answers, wait this long (after the headers) before the first chunk."""
        return self._with(first_token_delay_s=seconds)

    def reply(self, answer: str | ToolCall, *, times: int | None = None) -> ScriptedRule:
        """Answer with assistant text, or with a tool call made by `tool_call(...)`."""
        return self._post(Reply(answer) if isinstance(answer, str) else answer, times)

    def structured(self, value: Any, *, times: int | None = None) -> ScriptedRule:
        """Answer with structured output: `value` as JSON text (or as the forced tool's arguments)."""
        return self._post(Structured(value), times)

    def bad_answer(self, flaw: Flaw, *, times: int | None = None) -> ScriptedRule:
        """Answer with the auto answer spoilt by `flaw` ("empty", "truncated", "refusal", ...)."""
        return self._post(BadAnswer(flaw), times)

    def fail(
        self, status: int, *, retry_after: float | None = None, message: str | None = None, times: int | None = None,
        code: str | None = None,
    ) -> ScriptedRule:
        """Answer with an HTTP error (e.g. 429, 500, 503), with `Retry-After` if given; `code`
        is the provider's error code ("context_length_exceeded", "invalid_api_key")."""
        return self._post(Failure(status, retry_after, message, code), times)

    def malformed(self, *, times: int | None = None) -> ScriptedRule:
        """Answer 200 with a body that is not valid JSON."""
        return self._post(Malformed(), times)

    def cut_stream(
        self, after_chunks: int = 2, *, content: str = DEFAULT_CUT_TEXT, times: int | None = None
    ) -> ScriptedRule:
        """Start answering, then drop the connection (ledger outcome "cut").

        Streamed: `after_chunks` events, never the terminating one (`[DONE]`,
        `response.completed`). Not streamed: the headers and half the body.
        """
        return self._post(StreamCut(after_chunks, content), times)

    def hang(self, *, times: int | None = None) -> ScriptedRule:
        """Never answer, until released (then with the default reply) or the client gives up."""
        return self._post(Hang(), times)

    def forward(self, *, times: int | None = None) -> ScriptedRule:
        """Answer with the real LLM's answer (the fake's `--upstream`); with `hold()`, fetched first, sent on release.

        Without an upstream the fake answers 502 saying so.
        """
        return self._post(Forward(), times)

    def auto(
        self, seed: int = 0, *, tool_rounds: int = 1, max_tool_rounds: int = 3, prefer: str | None = None,
        times: int | None = None,
    ) -> ScriptedRule:
        """Answer unscripted, like a plausible LLM: a tool call with valid arguments, or text (see `Auto`).

        `llm.on().auto()` makes it the answer to everything no earlier rule matches.
        """
        return self._post(Auto(seed, tool_rounds, max_tool_rounds, prefer), times)

    def _with(self, **changes: Any) -> RuleBuilder:
        options = {
            "hold": self._hold,
            "times": self._times,
            "delay_s": self._delay_s,
            "first_token_delay_s": self._first_token_delay_s,
            "first": self._first,
        }
        return RuleBuilder(self._llm, self._match, **(options | changes))

    def _post(self, action: Action, times: int | None) -> ScriptedRule:
        rule = Rule(
            action,
            self._match,
            times=self._times if times is None else times,
            hold=self._hold,
            delay_s=self._delay_s,
            first_token_delay_s=self._first_token_delay_s,
        )
        return ScriptedRule(self._llm.add_rule(rule, first=self._first), rule)


def _nth(calls: Calls, n: int, *, by_position: bool) -> LLMCall | None:
    if by_position:
        return calls[n - 1] if 1 <= n <= len(calls) else None
    return next((call for call in calls if call.id == n), None)


def _timeout_message(n: int, held: bool | None, token: str | None, timeout: float, seen: Calls) -> str:
    wanted = f"LLM call #{n}" + (f" with token {token}" if token else "")
    if held is not None:
        wanted += " to be held" if held else " to be not held"
    else:
        wanted += " to arrive"
    if not seen:
        return f"timed out after {timeout}s waiting for {wanted}; saw no calls"
    summary = "; ".join(call.describe() for call in seen[-10:])
    return f"timed out after {timeout}s waiting for {wanted}; saw {len(seen)} call(s): {summary}"
