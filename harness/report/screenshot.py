"""The report's screenshot, as README.md shows it (``docs/report.png``): the page in
headless Chromium (Debian's ``/usr/bin/chromium``, driven by playwright, a test extra),
1280 px wide, the kill scenario open and the others collapsed, the full page.

``scripts/screenshot`` regenerates ``docs/report.png`` from a run; the browser test takes
the same screenshot into a temp dir, so the tests never write tracked files.

    python -m harness.report.screenshot reports/latest --out /tmp/report.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report.png"  # in the checkout
OPEN_SCENARIO = "s-kill-router-during-specialist-call--local-router"  # the anchor of the scenario shown open


def take(page: Any, html: Path, png: Path, open_anchor: str | None = OPEN_SCENARIO) -> Path:
    """Load ``html`` in the playwright ``page``, open the scenario ``open_anchor`` (if the
    report has it) and save a full-page screenshot to ``png``."""
    page.goto(Path(html).resolve().as_uri(), wait_until="load")
    if open_anchor:
        summary = page.locator(f"#{open_anchor} > summary")
        if summary.count():
            summary.click()
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(png), full_page=True)
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.report.screenshot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", help="a run folder (with index.html) or the index.html itself")
    parser.add_argument("--out", default=str(DOCS_SCREENSHOT), help="the PNG to write (default: docs/report.png)")
    parser.add_argument("--open", default=OPEN_SCENARIO, metavar="ANCHOR", help="the scenario shown open")
    args = parser.parse_args(argv)
    html = Path(args.report)
    html = html / "index.html" if html.is_dir() else html
    if not html.is_file():
        print(f"error: no report at {html}", file=sys.stderr)
        return 2
    if not CHROMIUM.exists():
        print(f"error: {CHROMIUM} is missing (apt-get install -y chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright  # the test extra

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            png = take(browser.new_page(viewport=VIEWPORT), html, Path(args.out), args.open)
        finally:
            browser.close()
    print(f"screenshot: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
