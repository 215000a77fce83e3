"""Reports: session progress notes, progress reports (HTML, PDF), CSV and JSON exports.

See :func:`engine.reports.build.build_report` and ``docs/reports.md``.
"""

from engine.reports.build import FORMATS, build_report, collect

__all__ = ["FORMATS", "build_report", "collect"]
