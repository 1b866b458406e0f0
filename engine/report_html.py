"""`handoff report --format html`: one self-contained HTML file (inline CSS and SVG, no script, no network).

The page is the shared body (engine/report_body.py, the same renderer the web dashboard embeds) with
no links, inside `<html>` with the stylesheet (engine/report_style.py) inlined. See docs/report.md
("HTML"). No click, no SQL here: the caller passes the report and the diagrams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bpmn.diagram import Diagram

from .report import Report
from .report_body import NO_LAYOUT, render_report_body
from .report_charts import HistogramBin
from .report_style import PAGE_CSS, report_css
from .report_svg import ActivityFigures, activity_figures, e, render_svg


def render_html(
    report: Report,
    diagrams: Mapping[str, Diagram | None],
    *,
    histograms: Mapping[str, Sequence[HistogramBin]] | None = None,
) -> str:
    """The report as one self-contained HTML page; `diagrams` maps process id -> its BPMNDI (or None)."""
    title = f"Handoff report: {report.window['process'] or 'all processes'}"
    body = render_report_body(report, diagrams, None, histograms=histograms)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{PAGE_CSS}{report_css()}</style></head><body>{body}</body></html>\n"
    )


__all__ = [
    "NO_LAYOUT",
    "ActivityFigures",
    "HistogramBin",
    "activity_figures",
    "render_html",
    "render_report_body",
    "render_svg",
    "report_css",
]
