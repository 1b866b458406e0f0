"""The HTML report's charts: the cycle-time histogram, the lane x lane handoff matrix, the colour legend.

Colours come from stylesheet classes (engine/report_style.py), never from inline style attributes, so
the fragment can be served under a strict Content-Security-Policy; SVG's own presentation attributes
(`fill` on a shape) are not styles and stay.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .report import dur
from .report_svg import WAIT_BANDS, Link, e, n

MATRIX_CLASSES = 5  # m0 .. m4: handoff counts on a log scale


@dataclass(frozen=True)
class HistogramBin:
    """Completed instances whose cycle time is in [lower, upper) seconds; `upper` None: and above."""

    lower: float
    upper: float | None
    count: int


def bins_of(histogram: Mapping[str, Any] | None) -> list[HistogramBin]:
    """The report's `cycle_histogram` of a process as bins."""
    return [HistogramBin(b["lower"], b["upper"], b["count"]) for b in (histogram or {}).get("bins", [])]


def bin_label(b: HistogramBin) -> str:
    return f"{dur(b.lower)}–{dur(b.upper)}" if b.upper is not None else f"{dur(b.lower)} and more"


def render_histogram(bins: Sequence[HistogramBin]) -> str:
    """Completed instances per cycle-time bin as SVG bars, the bins' ranges under them."""
    if not bins or not any(b.count for b in bins):
        return '<p class="muted">No completed instances: no cycle-time histogram.</p>'
    width, height, left, bottom, top = 720, 240, 48, 58, 18
    plot_w, plot_h = width - left - 10, height - bottom - top
    most = max(b.count for b in bins)
    slot = plot_w / len(bins)
    bar_w = max(3.0, slot * 0.82)
    parts = [
        f'<svg class="histogram" role="img" aria-label="cycle-time histogram" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>',
    ]
    for tick in sorted({0, most // 2, most}):
        y = top + plot_h - plot_h * tick / most
        parts.append(f'<text class="ytick" x="{left - 6}" y="{n(y + 4)}">{tick}</text>')
    label_every = max(1, math.ceil(len(bins) / 8))
    for i, b in enumerate(bins):
        bh = plot_h * b.count / most
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - bh
        open_bin = " open" if b.upper is None else ""
        parts.append(
            f'<g class="bar{open_bin}" data-lower="{n(b.lower)}" data-upper="{"" if b.upper is None else n(b.upper)}" '
            f'data-count="{b.count}"><title>{e(bin_label(b))}: {b.count} instances</title>'
            f'<rect x="{n(x)}" y="{n(y)}" width="{n(bar_w)}" height="{n(bh)}"/>'
            + (
                f'<text class="bval" x="{n(x + bar_w / 2)}" y="{n(y - 4)}">{b.count}</text>'
                if b.count
                else ""
            )
            + "</g>"
        )
        if i % label_every == 0 or b.upper is None:
            label = dur(b.lower) if b.upper is not None else f"≥ {dur(b.lower)}"
            parts.append(
                f'<text class="xtick" x="{n(left + i * slot)}" y="{top + plot_h + 16}">{e(label)}</text>'
            )
    parts.append(
        f'<text class="axis-title" x="{left + plot_w / 2}" y="{height - 8}">cycle time, started → completed</text>'
    )
    parts.append("</svg>")
    width_s = dur((bins[0].upper or 0) - bins[0].lower) if bins[0].upper is not None else "-"
    total = sum(b.count for b in bins)
    caption = (
        f"{total} completed instances per cycle-time bin of equal width ({width_s} each, counted in the "
        "database)"
        + ("; the last bar holds every instance past the 99th percentile." if bins[-1].upper is None else ".")
    )
    return f'<figure class="hist">{"".join(parts)}<figcaption>{e(caption)}</figcaption></figure>'  # fmt: skip


def lane_name(name: str | None) -> str:
    return name or "(no lane)"


def _anchor(href: str | None, text: str, cls: str = "") -> str:
    if not href:
        return text
    klass = f' class="{cls}"' if cls else ""
    return f'<a href="{e(href)}"{klass}>{text}</a>'


def render_matrix(matrix: Sequence[Mapping[str, Any]], link: Link | None = None) -> str:
    """The lane x lane handoff matrix: rows from, columns to; shade by count, median latency shown."""
    if not matrix:
        return '<p class="muted">No handoffs in this window.</p>'
    lanes = sorted({lane_name(m["from_lane"]) for m in matrix} | {lane_name(m["to_lane"]) for m in matrix})
    cells = {(lane_name(m["from_lane"]), lane_name(m["to_lane"])): m for m in matrix}
    most = max(m["count"] for m in matrix) or 1
    head = "".join(f'<th scope="col">{e(lane)}</th>' for lane in lanes)
    rows = []
    for src in lanes:
        tds = []
        for dst in lanes:
            m = cells.get((src, dst))
            if m is None:
                tds.append('<td class="empty">·</td>')
                continue
            shade = min(MATRIX_CLASSES - 1, int(math.log1p(m["count"]) / math.log1p(most) * MATRIX_CLASSES))
            href = link("handoffs", from_lane=m["from_lane"], to_lane=m["to_lane"]) if link else None
            inner = f'<span class="count">{m["count"]}</span><span class="lat">median {e(dur(m["latency_p50"]))}</span>'
            tds.append(
                f'<td class="cell m{shade}" data-from="{e(src)}" data-to="{e(dst)}" data-count="{m["count"]}">'
                f"{_anchor(href, inner, 'fill')}</td>"
            )
        rows.append(f'<tr><th scope="row">{e(src)}</th>{"".join(tds)}</tr>')
    return (
        '<table class="matrix"><caption>Handoffs from lane (row) to lane (column): how many, and the median '
        "latency (A completed → B claimed); darker: more handoffs</caption>"
        f'<thead><tr><th class="corner">from \\ to</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def render_legend() -> str:
    """The diagram's colour scale: mean waiting time in absolute bands, the same in every report."""
    bands = "".join(
        f'<span class="key"><span class="swatch w{i}"></span><span class="tick">{e(b.label)}</span></span>'
        for i, b in enumerate(WAIT_BANDS)
    )
    return (
        '<div class="legend"><strong>Mean wait per task</strong> (ready → claimed, human tasks): '
        f"{bands}"
        '<span class="key"><span class="swatch nodata"></span><span class="tick">no task done</span></span>'
        '<span class="key"><span class="swatch automated"></span><span class="tick">automated</span></span>'
        "</div>"
    )


__all__ = [
    "MATRIX_CLASSES",
    "HistogramBin",
    "bin_label",
    "bins_of",
    "lane_name",
    "render_histogram",
    "render_legend",
    "render_matrix",
]
