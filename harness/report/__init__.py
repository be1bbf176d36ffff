"""The HTML resilience report: ``write_report(run_dir, reports_root)`` writes
``run_dir/index.html`` from the run's ``results.json`` and the trend over earlier runs."""

from .render import write_report

__all__ = ["write_report"]
