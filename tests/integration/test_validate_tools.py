"""``validate --proxy``: a recording proxy in front of an outside service the user runs, here
a small payment API (``agents/mutants/payment_twice_proxy/payment_service.py``) that the test
starts on a free port. A charge POSTed outside a step is caught as a duplicate side effect,
alone, naming the call; the same charge in ``ctx.run_typed`` with an idempotency key is
green, and stays green when the model is shown the API's random charge ids (answers then
differ without any fault, so they are not compared). The payment API's own ledger agrees: the mutant charged some order twice, the
correct agent charged every order once.

Bad tool options (``--proxy``, ``--mcp-tools``) are one line and exit 2, before anything
starts. The ``--mcp`` agents are in test_validate_styles.py."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.env.binaries import PROJECT_ROOT

PY = shlex.quote(sys.executable)
HYPERCORN = f"{PY} -m hypercorn app:app --bind 127.0.0.1:{{port}}"
SERVICE = PROJECT_ROOT / "agents/mutants/payment_twice_proxy/payment_service.py"
REQUEST = '"Please charge order 1234 for my new headphones {token}"'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def payment_api() -> Iterator[str]:
    """The user's payment API, on loopback, for one test; stopped (and waited for) after it."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, str(SERVICE), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, f"the payment API did not start: {process.stderr.read() if process.stderr else ''}"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the payment API did not answer within 20 s"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _validate(folder: str, *args: str, out: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "validate", "--cwd", str(PROJECT_ROOT / folder), *args, "--out", str(out)],
        capture_output=True, text=True, timeout=timeout, cwd=out.parent,
    )


@pytest.mark.parametrize(("folder", "caught_as"), [
    ("agents/mutants/payment_twice_proxy", "duplicate_side_effect"),
    ("agents/validation/payment_in_step_proxy", None),
    ("agents/validation/payment_real_ids_proxy", None),
], ids=["payment_twice_proxy", "payment_in_step_proxy", "payment_real_ids_proxy"])
def test_a_proxied_payment_api_judges_the_charge(folder: str, caught_as: str | None, payment_api: str, tmp_path: Path,
                                                 no_leftovers) -> None:
    out = tmp_path / "reports"
    done = _validate(folder, "--cmd", HYPERCORN, "--proxy", f"payments=PAYMENTS_URL={payment_api}",
                     "--entry", "Checkout/pay", "--input", REQUEST, out=out)
    output = done.stdout + done.stderr
    results = sorted(out.glob("*/results.json"))
    assert results, output
    classes = json.loads(results[-1].read_text())["validation"]["classes"]
    failed = {name for name, row in classes.items() if row["verdict"] == "fail"}
    charges = Counter(c["order"] for c in httpx.get(f"{payment_api}/v1/charges", timeout=5).json())
    assert charges, "no charge reached the payment API through the proxy"
    if caught_as is None:
        assert done.returncode == 0 and not failed, f"{failed}\n{output}"
        assert "green: no safety finding" in output, output
        assert max(charges.values()) == 1, charges  # every order charged once, whatever the faults
        if folder.endswith("real_ids_proxy"):  # the model saw random ids: answers cannot be compared
            assert classes["degraded_answer"]["verdict"] == "skipped", classes["degraded_answer"]
            assert "answered differently" in classes["degraded_answer"]["why"]
        else:
            assert classes["degraded_answer"]["verdict"] in ("pass", "advisory"), classes["degraded_answer"]
    else:
        assert done.returncode == 1, output
        assert failed == {caught_as}, f"caught {failed}\n{output}"  # that class alone
        row = classes[caught_as]
        assert row["scenario"] and row["why"] and row["fix"], row
        # The evidence names the call as its user knows it: the endpoint and the proxied service.
        assert "POST /v1/charges" in row["evidence"] and "on payments" in row["evidence"], row["evidence"]
        assert max(charges.values()) >= 2, charges  # the payment API really charged an order twice


def _bad(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = _validate("agents/mutants/payment_twice_proxy", "--cmd", HYPERCORN, *args, "--entry", "Checkout/pay",
                     "--input", REQUEST, out=tmp_path / "reports", timeout=60)
    return done, time.monotonic() - started


def _one_line_exit_2(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize(("tools", "expected"), [
    (None, "no such file"),
    ("{not json", "not JSON"),
    ('[{"name": "pay", "inputSchema": {"type": "string"}}]', "tool 'pay': \"inputSchema\" must be a JSON Schema of type object"),
], ids=["missing", "not-json", "schema-not-object"])
def test_a_bad_mcp_tools_file_is_one_line_and_exit_2(tools: str | None, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "tools.json"
    if tools is not None:
        path.write_text(tools)
    done, _ = _bad(tmp_path, "--mcp", "payments=PAYMENTS_MCP_URL", "--mcp-tools", str(path))
    _one_line_exit_2(done, expected)
    assert f"--mcp-tools {path}: " in done.stderr, done.stderr  # it names the option and the file
    assert not (tmp_path / "reports").exists()  # nothing started, no run folder


def test_a_proxy_without_a_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done, _ = _bad(tmp_path, "--proxy", "payments=PAYMENTS_URL")
    _one_line_exit_2(done, "--proxy is NAME=ENV_VAR=URL")


def test_a_proxy_to_nothing_is_one_line_and_exit_2_before_any_baseline(tmp_path: Path, no_leftovers) -> None:
    gone = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    done, took = _bad(tmp_path, "--proxy", f"payments=PAYMENTS_URL={gone}")
    _one_line_exit_2(done, f"--proxy payments: nothing answers at {gone}")
    assert took < 10, f"took {took:.1f} s: the check must come before anything starts"
    assert "baseline" not in done.stdout + done.stderr
    assert not (tmp_path / "reports").exists()
