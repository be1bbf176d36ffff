"""Size of a saved report and its time to render in headless Chromium.

    .venv/bin/python benchmarks/report_render.py [reports/latest/index.html] [--repeat 5]

Needs Debian's chromium (/usr/bin/chromium); the browser test installs it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("report", nargs="?", default="reports/latest/index.html")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    page_path = Path(args.report).resolve()
    loads, requests = [], set()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            for _ in range(args.repeat):
                page = browser.new_page()
                page.on("request", lambda r: requests.add(r.url.split(":", 1)[0]))
                began = time.perf_counter()
                page.goto(page_path.as_uri(), wait_until="load")
                loads.append(time.perf_counter() - began)
                page.close()
        finally:
            browser.close()
    print(f"{page_path}: {page_path.stat().st_size / 1024:.0f} KiB")
    print(f"load event: median {statistics.median(loads) * 1000:.0f} ms, min {min(loads) * 1000:.0f} ms, "
          f"max {max(loads) * 1000:.0f} ms (n={len(loads)}); request schemes: {sorted(requests)}")


if __name__ == "__main__":
    main()
