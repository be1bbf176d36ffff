"""A minimal, self-contained HTML summary of a run (the full report is a later piece).
Jinja2 autoescaping is on, because answers, prompts and logs come from agents and LLMs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

if TYPE_CHECKING:
    from .results import ScenarioResult

_templates = Environment(loader=PackageLoader("harness", "templates"), autoescape=select_autoescape(default=True))


def write_summary(results: "list[ScenarioResult]", meta: dict[str, Any], path: Path) -> None:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    html = _templates.get_template("summary.html.j2").render(results=results, meta=meta, counts=counts)
    path.write_text(html)
