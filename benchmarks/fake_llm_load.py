"""How many LLM requests a second the fake LLM answers, and how fast, under load.

    flock /tmp/rrh-integration.lock .venv/bin/python benchmarks/fake_llm_load.py [--provider openai] [--duration 5]
        [--rate 2000] [--stream] [--keep-ledger]

Starts the fake LLM (`python -m harness.fake_llm`) on a free loopback port, scripted as
in every run of a plan (one auto rule), and drives one provider's endpoint at it from
vegeta, a Go load generator, in its own process (`--provider`: openai, `POST
/v1/chat/completions`, the default; anthropic, `POST /v1/messages`; gemini, `POST
/v1beta/models/{model}:generateContent`): the router's request (system prompt, three tools)
and a specialist's (no tools), each question carrying its own correlation token, as the
reference agents send them, in that provider's spelling. Each figure starts from an empty ledger, as a
run does (`--keep-ledger`: one ledger grows over all of them). On a machine with two cores or more the fake
runs on one core and vegeta on another, so the client is not what is measured.

Two kinds of figure, because Little's law ties them: a closed loop of N requests in flight
answers N / latency a second, so 50 in flight with p99 <= 5 ms would need >= 10,000 req/s.

- closed loop: N workers each send the next request as soon as the previous answer is
  in; the most the fake answers a second at N = 1, 10 and 50 (ratio vs N = 1).
- open loop: requests sent at a fixed rate (default 2,000 a second) over 50 connections,
  whatever the answers do; the latency of each answer at that load.

vegeta is looked for on PATH and in `go env GOPATH`/bin, else installed there with
`go install github.com/tsenart/vegeta/v12@v12.13.0` (the Go module proxy; takes ~30 s once).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.fake_llm import FakeLLM

VEGETA_MODULE = "github.com/tsenart/vegeta/v12@v12.13.0"
CONCURRENCIES = (1, 10, 50)
OPEN_LOOP_CONNECTIONS = 50
TARGETS = 2000  # distinct requests (tokens), sent round-robin

ROUTER_PROMPT = (
    "You route customer questions to a specialist. Call the tool of the specialist who "
    "should answer; if no specialist is needed, answer directly."
)
SPECIALISTS = {
    "BillingAgent": "You are a billing specialist. Help with charges, refunds and invoices.",
    "AccountAgent": "You are an account specialist. Help with logins, profiles and security.",
    "ProductAgent": "You are a product specialist. Help with features, plans and how-tos.",
}
PARAMETERS = {"type": "object", "properties": {}, "additionalProperties": False}
MODEL = "gpt-4o-mini"


def openai_body(system: str, question: str, tools: bool, stream: bool) -> dict:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    body: dict = {"model": MODEL, "messages": messages}
    if tools:
        body["tools"] = [
            {"type": "function", "function": {"name": name, "description": prompt, "parameters": PARAMETERS}}
            for name, prompt in SPECIALISTS.items()
        ]
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def anthropic_body(system: str, question: str, tools: bool, stream: bool) -> dict:
    body: dict = {"model": MODEL, "max_tokens": 1024, "system": system,
                  "messages": [{"role": "user", "content": question}]}
    if tools:
        body["tools"] = [{"name": name, "description": prompt, "input_schema": PARAMETERS}
                         for name, prompt in SPECIALISTS.items()]
    return body | ({"stream": True} if stream else {})


def gemini_body(system: str, question: str, tools: bool, stream: bool) -> dict:
    body: dict = {"systemInstruction": {"parts": [{"text": system}]},
                  "contents": [{"role": "user", "parts": [{"text": question}]}]}
    if tools:  # Gemini's own schema dialect
        declarations = [{"name": name, "description": prompt, "parameters": {"type": "OBJECT", "properties": {}}}
                        for name, prompt in SPECIALISTS.items()]
        body["tools"] = [{"functionDeclarations": declarations}]
    return body  # the path, not the body, says whether to stream


@dataclass(frozen=True)
class Provider:
    """One protocol's endpoint, request body and headers (the key headers its SDK sends)."""

    path: Callable[[bool], str]  # streamed or not
    body: Callable[[str, str, bool, bool], dict]  # system prompt, question, tools offered, streamed
    header: dict[str, list[str]]


PROVIDERS = {
    "openai": Provider(lambda stream: "/v1/chat/completions", openai_body, {"Authorization": ["Bearer sk-fake"]}),
    "anthropic": Provider(lambda stream: "/v1/messages", anthropic_body,
                          {"x-api-key": ["sk-ant-fake"], "anthropic-version": ["2023-06-01"]}),
    "gemini": Provider(
        lambda stream: f"/v1beta/models/{MODEL}:" + ("streamGenerateContent?alt=sse" if stream else "generateContent"),
        gemini_body, {"x-goog-api-key": ["fake"]},
    ),
}


def request_body(provider: Provider, i: int, *, stream: bool) -> dict:
    """Request `i`: the router's (even) or a specialist's (odd), with its own token."""
    question = f"I was charged twice for my last invoice, can you refund one? [rrh-{i:012x}]"
    if i % 2 == 0:
        return provider.body(ROUTER_PROMPT, question, True, stream)
    return provider.body(SPECIALISTS["BillingAgent"], question, False, stream)


def write_targets(path: Path, base_url: str, provider: Provider, *, stream: bool) -> Path:
    """vegeta's JSON target format, one request a line."""
    header = {"Content-Type": ["application/json"]} | provider.header
    url = base_url + provider.path(stream)
    with path.open("w") as out:
        for i in range(TARGETS):
            body = json.dumps(request_body(provider, i, stream=stream)).encode()
            target = {"method": "POST", "url": url, "header": header, "body": base64.b64encode(body).decode()}
            out.write(json.dumps(target) + "\n")
    return path


def find_vegeta() -> str:
    found = shutil.which("vegeta")
    if found:
        return found
    gopath = subprocess.run(["go", "env", "GOPATH"], capture_output=True, text=True, check=True).stdout.strip()
    binary = Path(gopath) / "bin" / "vegeta"
    if not binary.exists():
        print(f"installing vegeta: go install {VEGETA_MODULE}", file=sys.stderr)
        subprocess.run(["go", "install", VEGETA_MODULE], check=True, env=os.environ | {"GOBIN": str(binary.parent)})
    return str(binary)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def on_cpu(cpu: int | None):  # type: ignore[no-untyped-def]
    """A preexec_fn pinning the child to one core (None: anywhere)."""
    return None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu}))


def start_fake(port: int, cpu: int | None) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.fake_llm", "--host", "127.0.0.1", "--port", str(port)],
        preexec_fn=on_cpu(cpu),
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the fake LLM exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the fake LLM did not come up within 15 s")


def attack(
    llm: FakeLLM | None, vegeta: str, targets: Path, out: Path, cpu: int | None, *, duration: float, rate: int,
    workers: int,
) -> dict:
    """One vegeta run, against a fresh ledger unless `llm` is None; its report as JSON. `rate` 0: a closed loop."""
    if llm is not None:
        llm.reset()  # each figure starts from an empty ledger, as a run does, so the figures compare
        llm.on().auto()  # scripted as in every run of a plan
    attack_args = [
        vegeta, "attack", "-format=json", f"-targets={targets}", f"-duration={duration}s", f"-rate={rate}/s",
        f"-workers={workers}", f"-max-workers={workers}", f"-connections={workers}", "-timeout=30s",
        f"-output={out}",
    ]
    subprocess.run(attack_args, check=True, preexec_fn=on_cpu(cpu))
    report = subprocess.run([vegeta, "report", "-type=json", str(out)], capture_output=True, text=True, check=True)
    return json.loads(report.stdout)


def ms(report: dict, key: str) -> float:
    return report["latencies"][key] / 1e6


def errors(report: dict) -> str:
    codes = {code: n for code, n in report["status_codes"].items() if code != "200"}
    return f"  NOT 200: {codes} {report['errors'][:2]}" if codes or report["errors"] else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--provider", choices=sorted(PROVIDERS), default="openai",
                        help="whose protocol to speak: openai (chat completions), anthropic, gemini; default openai")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement; default 5")
    parser.add_argument("--rate", type=int, default=2000, help="open loop: requests a second; default 2000")
    parser.add_argument("--stream", action="store_true", help="also measure streamed answers (stream: true)")
    parser.add_argument("--keep-ledger", action="store_true", help="one ledger for all figures (no reset between)")
    args = parser.parse_args()

    vegeta = find_vegeta()
    cores = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cores[0], cores[1]) if len(cores) >= 2 else (None, None)
    port = free_port()
    provider = PROVIDERS[args.provider]
    fake = start_fake(port, server_cpu)
    try:
        with tempfile.TemporaryDirectory(prefix="rrh-fake-llm-load-") as tmp:
            llm = FakeLLM(f"http://127.0.0.1:{port}", timeout=60)
            llm.on().auto()  # scripted as in every run of a plan
            fresh = None if args.keep_ledger else llm
            print(f"fake LLM on :{port} (cpu {server_cpu}), vegeta on cpu {client_cpu}, {args.duration:g}s a figure, "
                  f"{args.provider} protocol ({provider.path(False)})")
            for stream in (False, True) if args.stream else (False,):
                kind = "streamed" if stream else "whole"
                targets = write_targets(Path(tmp) / f"targets-{kind}.json", llm.base_url, provider, stream=stream)
                out = Path(tmp) / "results.bin"
                attack(fresh, vegeta, targets, out, client_cpu, duration=1, rate=0, workers=10)  # warm-up
                base = None
                for n in CONCURRENCIES:
                    r = attack(fresh, vegeta, targets, out, client_cpu, duration=args.duration, rate=0, workers=n)
                    base = base or r
                    print(
                        f"{kind:8} closed loop, concurrency {n:2}: {r['throughput']:7.0f} req/s "
                        f"({r['throughput'] / base['throughput']:.2f}x c=1)  p50 {ms(r, '50th'):6.2f} ms  "
                        f"p99 {ms(r, '99th'):7.2f} ms ({ms(r, '99th') / ms(base, '99th'):.1f}x c=1)  "
                        f"max {ms(r, 'max'):7.1f} ms{errors(r)}"
                    )
                r = attack(fresh, vegeta, targets, out, client_cpu, duration=args.duration, rate=args.rate,
                           workers=OPEN_LOOP_CONNECTIONS)
                print(
                    f"{kind:8} open loop, {args.rate} req/s offered over {OPEN_LOOP_CONNECTIONS} connections: "
                    f"{r['throughput']:5.0f} req/s answered  p50 {ms(r, '50th'):6.2f} ms  p99 {ms(r, '99th'):7.2f} ms  "
                    f"max {ms(r, 'max'):7.1f} ms{errors(r)}"
                )
            print(f"ledger: {len(llm.calls)} calls in the last figure")
            llm.close()
    finally:
        fake.terminate()
        try:
            fake.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fake.kill()
            fake.wait()


if __name__ == "__main__":
    main()
