"""The report of a real run, opened in real headless Chromium (Debian's, not a download):
it renders, fetches nothing, and an LLM answer carrying a script payload runs nothing.
Takes the README's screenshot (``harness.report.screenshot``) into a temp dir: tests never
write tracked files; ``scripts/screenshot`` regenerates docs/report.png."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.env import versions
from harness.report import write_report
from harness.report.screenshot import ARGS, CHROMIUM, VIEWPORT, take
from harness.report.publish import write_results
from harness.runner.scenario import run_scenario, standard_checks
from scenarios import local_router
from scenarios.llm_scripts import conversation

XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


def _ensure_chromium() -> Path:
    """Debian's chromium, installed with apt when missing (as root); otherwise skip."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0:
        pytest.skip(f"{CHROMIUM} is missing and installing it needs root (apt-get install -y chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:  # a stale package index is the usual cause
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, text=True, timeout=600)
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not CHROMIUM.exists():
        pytest.skip(f"apt-get install chromium failed: {(done.stderr or done.stdout).strip()[-400:]}")
    return CHROMIUM


@pytest.fixture(scope="module")
def chromium() -> Path:
    pytest.importorskip("playwright.sync_api")
    return _ensure_chromium()


def _xss_script(llm):  # type: ignore[no-untyped-def]
    """The fake LLM routes to BillingAgent, which answers with a script payload."""
    conversation("BillingAgent", "billing specialist", XSS)(llm)


@pytest.fixture
def report(tmp_path: Path, no_leftovers: object) -> Path:
    """A report built from a real run: a kill scenario and the XSS payload."""
    xss = dataclasses.replace(local_router.BASELINE, name="xss-payload", script=_xss_script, checks=standard_checks(XSS))
    reports_root = tmp_path / "reports"
    run_dir = reports_root / time.strftime("%Y%m%d-%H%M%S")
    meta: dict[str, object] = {"batch_id": run_dir.name, "started_at": time.time(), "versions": versions.collect()}
    results = [run_scenario(scenario, run_dir) for scenario in (local_router.KILL_DURING_SPECIALIST_CALL, xss)]
    meta["finished_at"] = time.time()
    write_results(results, run_dir, meta)  # as the CLI writes results.json
    assert [r.verdict for r in results] == ["pass", "pass"], [(r.name, r.verdict, r.errors) for r in results]
    started = time.perf_counter()
    path = write_report(run_dir, reports_root)
    print(f"\nwrite_report took {(time.perf_counter() - started) * 1000:.0f} ms")
    return path


@pytest.fixture
def browser(chromium: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_report_in_chromium(report: Path, browser: object, tmp_path: Path) -> None:
    page = browser.new_page(viewport=VIEWPORT)  # type: ignore[attr-defined]
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    url = report.resolve().as_uri()

    started = time.perf_counter()
    page.goto(url, wait_until="load")
    load_s = time.perf_counter() - started
    page.wait_for_load_state("networkidle")
    idle_s = time.perf_counter() - started
    nav = page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                        " return [n.domContentLoadedEventEnd, n.loadEventEnd]; })()")
    size_kb = report.stat().st_size / 1024
    print(f"\nreport {size_kb:.0f} KiB: goto(load) {load_s * 1000:.0f} ms, networkidle {idle_s * 1000:.0f} ms; "
          f"navigation timing: DOMContentLoaded {nav[0]:.0f} ms, load event {nav[1]:.0f} ms")

    # 1. The verdict banner and the charts render.
    banner = page.locator("#verdict")
    assert banner.is_visible()
    box = banner.bounding_box()
    assert box and box["width"] > 0 and box["height"] > 0
    assert "behaved as expected" in banner.inner_text()
    for summary in page.locator("details.scenario > summary").all():
        summary.click()  # passing scenarios are collapsed: open them as a reader would
    timelines = page.locator("figure.timeline svg.chart")
    assert timelines.count() == 2
    for i in range(timelines.count()):
        svg = timelines.nth(i)
        svg.scroll_into_view_if_needed()
        assert svg.is_visible()
        box = svg.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50
    assert page.locator("#recovery + figure svg.chart").is_visible()

    # 3. The payload ran nothing and shows as text.
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
    payload = page.get_by_text(XSS, exact=True).filter(visible=True).first  # the LLM ledger's answer
    payload.scroll_into_view_if_needed()
    assert payload.is_visible()
    assert page.locator("#s-xss-payload--local-router img").count() == 0
    assert page.locator("script").count() == 0

    # 2. Nothing but the page itself was requested (data: URIs allowed).
    assert requests, "the page load itself is recorded"
    assert all(u == url or u.startswith("data:") for u in requests), requests

    # The screenshot for the docs (the kill scenario open, the others collapsed), into the
    # test's temp dir: scripts/screenshot writes docs/report.png.
    png = take(page, report, tmp_path / "shots" / "report.png")
    assert page.locator("#s-kill-router-during-specialist-call--local-router").get_attribute("open") is not None
    assert page.locator("#s-xss-payload--local-router").get_attribute("open") is None
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert page.evaluate("window.__xss") is None and dialogs == []
    assert all(u == url or u.startswith("data:") for u in requests), requests
    page.close()
