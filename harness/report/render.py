"""Renders the report: one self-contained HTML file (inline CSS and SVG, no scripts, no
fetches), so it opens offline and can be mailed or archived as it is.

Jinja2 autoescaping is always on: answers, outputs and logs come from LLMs and agents. The
only markup marked safe is the SVG that ``charts`` builds in Python."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from . import charts
from .model import Report, ScenarioView, build

_env = Environment(
    loader=PackageLoader("harness", "templates/report"),
    autoescape=True,  # every template, whatever its extension
    undefined=StrictUndefined,  # a typo in a template fails the tests, not silently blank
    trim_blocks=True,
    lstrip_blocks=True,
)


def _seconds(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return f"{value:.{digits}f}"


def _when(epoch: Any) -> str:
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)):
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _css_class(verdict: Any) -> str:
    return str(verdict).replace(" ", "-")


def _short(value: Any, limit: int = 400) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


_env.filters.update(seconds=_seconds, when=_when, css=_css_class, short=_short)


def _svg(svg: str | None) -> Markup | None:
    # Only chart SVG is trusted markup: matplotlib escaped every label it wrote.
    return Markup(svg) if svg else None


# The CLI rewrites the report after every scenario: the charts of scenarios already drawn
# are reused, so a run of n scenarios draws n timelines, not n²/2.
_CHARTS: OrderedDict[str, str | None] = OrderedDict()
_CHARTS_MAX = 512


def _digest(view: ScenarioView) -> str:
    return hashlib.sha256(json.dumps([view.anchor, view.result.to_json()], sort_keys=True, default=str)
                          .encode()).hexdigest()


def _cached(key: str, draw: Callable[[], str | None]) -> str | None:
    if key in _CHARTS:
        _CHARTS.move_to_end(key)
        return _CHARTS[key]
    svg = _CHARTS[key] = draw()
    while len(_CHARTS) > _CHARTS_MAX:
        _CHARTS.popitem(last=False)
    return svg


def render(report: Report) -> str:
    for view in report.scenarios:
        key = _digest(view)
        view.timeline_svg = _svg(_cached("timeline " + key, lambda: charts.timeline_svg(view)))
        if view.impact is not None:  # soaks and random schedules
            salt = view.anchor + "-impact"
            view.impact_svg = _svg(_cached("impact " + key, lambda: charts.impact_svg(view.result, salt)))
    return _env.get_template("report.html.j2").render(
        r=report,
        meta=report.batch.meta,
        recovery_svg=_svg(charts.recovery_svg(report.recovery_by_kind)),
        cost_svg=_svg(charts.cost_svg(report.costs)),
    )


def write_report(batch_dir: Path, reports_root: Path, *, keep: int = 10) -> Path:
    """Write ``batch_dir/index.html`` from ``batch_dir/results.json`` and, for the trend, the
    last ``keep`` batches under ``reports_root`` (this one included). Earlier batches that cannot
    be read are skipped; an unreadable ``batch_dir/results.json`` raises ``ValueError`` or
    ``OSError``."""
    batch_dir, reports_root = Path(batch_dir), Path(reports_root)
    html = render(build(batch_dir, reports_root, keep=max(keep, 1)))
    path = batch_dir / "index.html"
    # Atomic: the report may be rewritten after every scenario while someone has it open.
    tmp = path.with_name(f".index.html.{os.getpid()}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
