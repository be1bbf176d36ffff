"""Restate's settings as values: production's retry policy and timeouts, the fast ones the
harness runs restate-server with (as the environment variables it reads), and durations
worded the way a person says them."""

from __future__ import annotations

import json

import pytest

from harness.restate_settings import FAST, PRODUCTION, RestateSettings, RetryPolicy, duration


def test_production_retries_wait_500_ms_doubling_and_capped_at_60_s() -> None:
    delays = PRODUCTION.retry.delays()
    assert delays[:8] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    assert set(delays[7:]) == {60.0}
    assert len(delays) == 69  # 70 attempts have 69 waits between them


def test_production_retries_span_about_63_minutes_over_70_attempts() -> None:
    assert PRODUCTION.retry.max_attempts == 70
    assert PRODUCTION.retry.on_max_attempts == "pause"
    assert PRODUCTION.retry.span_s() == pytest.approx(63.5 + 62 * 60.0)
    assert round(PRODUCTION.retry.span_s() / 60) == 63
    assert duration(PRODUCTION.retry.span_s()) == "1 h 3 min"


def test_the_fast_retry_policy_is_given_to_restate_server_as_its_environment_variables() -> None:
    assert FAST.retry.environment() == {
        "RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL": "100ms",
        "RESTATE_DEFAULT_RETRY_POLICY__EXPONENTIATION_FACTOR": "2.0",
        "RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": "1000ms",
        "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "200",
    }


def test_the_fast_policy_backs_off_to_1_s_and_gives_up_after_about_3_minutes() -> None:
    assert FAST.retry.delays()[:5] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0])
    assert FAST.retry.span_s() == pytest.approx(1.5 + 195 * 1.0)


def test_a_hang_is_bounded_by_inactivity_plus_abort_timeout() -> None:
    assert PRODUCTION.hang_bound_s == 660.0
    assert duration(PRODUCTION.hang_bound_s) == "11 min"
    assert FAST.hang_bound_s == 4.0
    assert RestateSettings(0.0, 2.0, FAST.retry).hang_bound_s == 2.0  # always-replay: inactivity 0


@pytest.mark.parametrize(("seconds", "words"), [
    (0.9, "900 ms"), (0.005, "5 ms"), (1.0, "1 s"), (3.8, "3.8 s"), (12, "12 s"), (60, "60 s"),
    (660, "11 min"), (3600, "1 h"), (5400, "1 h 30 min"), (3840, "1 h 4 min"),
])
def test_a_duration_is_worded_in_ms_s_min_or_h_and_min(seconds: float, words: str) -> None:
    assert duration(seconds) == words


def test_settings_survive_a_json_round_trip() -> None:
    for settings in (PRODUCTION, FAST, RestateSettings(0.0, 2.5, RetryPolicy(0.25, 1.5, 8.0, 6, "kill"))):
        data = json.loads(json.dumps(settings.to_json()))
        assert RestateSettings.from_json(data) == settings


def test_settings_as_json_name_every_field() -> None:
    assert FAST.to_json() == {
        "inactivity_s": 2.0, "abort_s": 2.0,
        "retry": {"initial_s": 0.1, "factor": 2.0, "max_interval_s": 1.0, "max_attempts": 200, "on_max_attempts": "pause"},
    }


def test_editing_the_json_of_settings_leaves_the_settings_unchanged() -> None:
    settings = RestateSettings(2.0, 2.0, RetryPolicy(0.1, 2.0, 1.0, 200))
    settings.to_json()["retry"]["max_attempts"] = 3  # type: ignore[index]
    assert settings.retry.max_attempts == 200


def test_an_interval_of_2_01_s_is_given_to_restate_server_as_2010_ms() -> None:
    assert RetryPolicy(2.01, 2.0, 2.01, 3).environment()["RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL"] == "2010ms"


def test_a_duration_just_under_an_hour_reads_1_h_not_60_min() -> None:
    assert duration(3599) == "1 h"
