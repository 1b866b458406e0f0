"""`handoff report --format html`: one self-contained HTML file (inline CSS and SVG, no script, no network).

Per process: the diagram drawn from the BPMN file's own BPMNDI, each activity filled by its **mean
waiting time** (from the report's bottlenecks; grey without data) with its figures on the shape; the
lane x lane handoff matrix as a heatmap; a cycle-time histogram; then the report's tables. Every text is
escaped. See docs/report.md ("HTML"). No click, no SQL here: the caller passes the diagrams.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bpmn.diagram import Diagram, Edge, Shape

from .report import Report, dur

NO_DATA = "#e5e7eb"
# A light sequential scale (yellow -> orange -> red): dark text stays readable on every stop.
WAIT_SCALE = ("#fff7d6", "#fde4a3", "#fdc27e", "#fb9a5f", "#f06b4a")
MATRIX_SCALE = ("#eef4fb", "#c9dcf0", "#98bfe3", "#5f9bd1", "#2f73b8")
NO_LAYOUT = "this diagram has no BPMNDI layout"


@dataclass(frozen=True)
class HistogramBin:
    """Completed instances whose cycle time is in [lower, upper) seconds (a real, SQL-computed bin)."""

    lower: float
    upper: float
    count: int


@dataclass(frozen=True)
class ActivityFigures:
    element: str
    tasks: int
    waiting_total: float
    waiting_mean: float
    waiting_max: float
    breaches: int = 0
    rework: int = 0
    ping_pong: int = 0


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _lerp_hex(a: str, b: str, t: float) -> str:
    ca = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True))


def scale_colour(fraction: float, scale: Sequence[str] = WAIT_SCALE) -> str:
    """A colour of `scale` for a fraction in [0, 1] (clamped), interpolated between the stops."""
    f = min(1.0, max(0.0, fraction)) * (len(scale) - 1)
    i = min(int(f), len(scale) - 2)
    return _lerp_hex(scale[i], scale[i + 1], f - i)


def activity_figures(report: Report) -> dict[str, ActivityFigures]:
    """Per BPMN element id: the bottleneck rows summed over lanes, with breaches, rework and ping-pong."""
    sums: dict[str, list[float]] = {}
    for b in report.bottlenecks:
        s = sums.setdefault(b["element"], [0, 0.0, 0.0])
        s[0] += b["tasks"]
        s[1] += b["waiting_total"] or 0.0
        s[2] = max(s[2], b["waiting_max"] or 0.0)
    breaches: dict[str, int] = {}
    for d in report.delays.get("by_activity", []):
        breaches[d["element"]] = breaches.get(d["element"], 0) + d["count"]
    rework = {r["element"]: r["count"] for r in report.rework}
    pingpong = {p["element"]: p["count"] for p in report.crossings.get("ping_pong", [])}
    return {
        el: ActivityFigures(
            element=el,
            tasks=int(tasks),
            waiting_total=total,
            waiting_mean=total / tasks if tasks else 0.0,
            waiting_max=worst,
            breaches=breaches.get(el, 0),
            rework=rework.get(el, 0),
            ping_pong=pingpong.get(el, 0),
        )
        for el, (tasks, total, worst) in sums.items()
    }


# --- SVG diagram -----------------------------------------------------------------------------------


def _wrap(text: str, width: float, size: float) -> list[str]:
    per_line = max(4, int(width / (size * 0.56)))
    lines: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > per_line:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[: per_line - 1] + "-")
            word = word[per_line - 1 :]
        candidate = f"{current} {word}".strip()
        if len(candidate) <= per_line:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def _text_block(lines: Sequence[tuple[str, str]], cx: float, top: float, step: float) -> str:
    out = []
    for i, (cls, line) in enumerate(lines):
        out.append(f'<text class="{cls}" x="{_n(cx)}" y="{_n(top + i * step)}">{e(line)}</text>')
    return "".join(out)


def _pool_or_lane(s: Shape, band: float) -> str:
    cls = "pool" if s.kind == "participant" else "lane"
    parts = [f'<rect class="{cls}" x="{_n(s.x)}" y="{_n(s.y)}" width="{_n(s.w)}" height="{_n(s.h)}"/>']
    name = s.name or ""
    if s.is_horizontal:
        parts.append(
            f'<line class="band" x1="{_n(s.x + band)}" y1="{_n(s.y)}" x2="{_n(s.x + band)}" y2="{_n(s.y + s.h)}"/>'
        )
        cx, cy = s.x + band / 2, s.y + s.h / 2
        size = min(13.0, max(7.0, (s.h - 8) / (0.62 * max(len(name), 1))))
        parts.append(
            f'<text class="{cls}-label" x="{_n(cx)}" y="{_n(cy)}" font-size="{_n(size)}" '
            f'transform="rotate(-90 {_n(cx)} {_n(cy)})">{e(name)}</text>'
        )
    else:
        parts.append(
            f'<line class="band" x1="{_n(s.x)}" y1="{_n(s.y + band)}" x2="{_n(s.x + s.w)}" y2="{_n(s.y + band)}"/>'
        )
        parts.append(
            f'<text class="{cls}-label" x="{_n(s.x + s.w / 2)}" y="{_n(s.y + band / 2)}">{e(name)}</text>'
        )
    return "".join(parts)


def _figures_lines(fig: ActivityFigures | None) -> list[str]:
    if fig is None:
        return []
    lines = [
        f"mean wait {dur(fig.waiting_mean)}",
        f"{fig.tasks} task{'' if fig.tasks == 1 else 's'} · Σ {dur(fig.waiting_total)}",
    ]
    extra = []
    if fig.breaches:
        extra.append(f"{fig.breaches} SLA")
    if fig.rework:
        extra.append(f"{fig.rework} rework")
    if extra:
        lines.append(" · ".join(extra))
    return lines


def _tooltip(s: Shape, fig: ActivityFigures | None) -> str:
    head = f"{s.name or s.element} ({s.type})"
    if fig is None:
        return head
    return (
        f"{head}\nmean wait {dur(fig.waiting_mean)}, max {dur(fig.waiting_max)}, total {dur(fig.waiting_total)}"
        f"\n{fig.tasks} tasks done, {fig.breaches} SLA breaches, {fig.rework} rework, {fig.ping_pong} ping-pong"
    )


def _activity(s: Shape, fig: ActivityFigures | None, fill: str | None) -> str:
    is_sub = s.kind in ("subprocess", "call")
    cls = "act" + (" sub" if is_sub else "") + (" call" if s.kind == "call" else "")
    colour = fill or ("#ffffff" if fig is None and s.kind != "task" else NO_DATA)
    if fill is None and s.type in ("scriptTask", "serviceTask", "businessRuleTask", "sendTask"):
        colour = "#ffffff"  # automated: no waiting time by definition
    parts = [
        f'<rect class="{cls}" x="{_n(s.x)}" y="{_n(s.y)}" width="{_n(s.w)}" height="{_n(s.h)}" '
        f'rx="10" ry="10" fill="{colour}"/>'
    ]
    kind = s.type[:-4] if s.type.endswith("Task") and s.type != "task" else ""
    if kind:
        parts.append(f'<text class="ttype" x="{_n(s.x + 6)}" y="{_n(s.y + 11)}">{e(kind)}</text>')
    expanded_sub = is_sub and s.is_expanded
    name_lines = _wrap(s.name or s.element, s.w - 10, 11)
    figs = _figures_lines(fig)
    if expanded_sub:
        block = [("name", n) for n in name_lines[:1]] + [("fig", f) for f in figs[:1]]
        parts.append(_text_block(block, s.x + s.w / 2, s.y + 16, 12))
    else:
        max_name = 3 if not figs else max(1, min(len(name_lines), int((s.h - 14) / 12) - len(figs)))
        if len(name_lines) > max_name:
            name_lines = name_lines[:max_name]
            name_lines[-1] = name_lines[-1][:-1] + "…"
        block = [("name", n) for n in name_lines] + [("fig", f) for f in figs]
        height = len(name_lines) * 12 + len(figs) * 11
        top = s.y + (s.h - height) / 2 + 9 + (4 if kind else 0)
        out = []
        y = top
        for cls_, line in block:
            out.append(f'<text class="{cls_}" x="{_n(s.x + s.w / 2)}" y="{_n(y)}">{e(line)}</text>')
            y += 12 if cls_ == "name" else 11
        parts.append("".join(out))
    if s.kind == "call":
        parts.append(
            f'<rect class="marker" x="{_n(s.x + s.w / 2 - 6)}" y="{_n(s.y + s.h - 14)}" width="12" height="12"/>'
        )
    return "".join(parts)


def _event(s: Shape) -> str:
    cx, cy, r = s.x + s.w / 2, s.y + s.h / 2, min(s.w, s.h) / 2
    cls = "event " + ("end" if s.type == "endEvent" else "start" if s.type == "startEvent" else "mid")
    out = f'<circle class="{cls}" cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(r)}"/>'
    if "intermediate" in s.type.lower() or s.type == "boundaryEvent":
        out += f'<circle class="event inner" cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(max(r - 3, 1))}"/>'
    return out + _outer_label(s)


def _gateway(s: Shape) -> str:
    cx, cy = s.x + s.w / 2, s.y + s.h / 2
    pts = f"{_n(cx)},{_n(s.y)} {_n(s.x + s.w)},{_n(cy)} {_n(cx)},{_n(s.y + s.h)} {_n(s.x)},{_n(cy)}"
    out = f'<polygon class="gateway" points="{pts}"/>'
    k = min(s.w, s.h) * 0.2
    if s.type == "exclusiveGateway":
        out += (
            f'<path class="gmark" d="M{_n(cx - k)},{_n(cy - k)} L{_n(cx + k)},{_n(cy + k)} '
            f'M{_n(cx + k)},{_n(cy - k)} L{_n(cx - k)},{_n(cy + k)}"/>'
        )
    elif s.type == "parallelGateway":
        out += (
            f'<path class="gmark" d="M{_n(cx)},{_n(cy - k * 1.3)} L{_n(cx)},{_n(cy + k * 1.3)} '
            f'M{_n(cx - k * 1.3)},{_n(cy)} L{_n(cx + k * 1.3)},{_n(cy)}"/>'
        )
    elif s.type in ("inclusiveGateway", "eventBasedGateway"):
        out += f'<circle class="gmark" cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(k * 1.2)}"/>'
    return out + _outer_label(s)


def _outer_label(s: Shape) -> str:
    if not s.name:
        return ""
    if s.label is not None and s.label.w > 0:
        cx, top, width = s.label.x + s.label.w / 2, s.label.y + 10, max(s.label.w, 90)
    else:
        cx, top, width = s.x + s.w / 2, s.y + s.h + 14, 110
    lines = _wrap(s.name, width, 10)[:3]
    return _text_block([("olabel", line) for line in lines], cx, top, 11)


def _other(s: Shape) -> str:
    if s.kind == "annotation":
        return (
            f'<path class="annot" d="M{_n(s.x + 15)},{_n(s.y)} L{_n(s.x)},{_n(s.y)} L{_n(s.x)},{_n(s.y + s.h)} '
            f'L{_n(s.x + 15)},{_n(s.y + s.h)}"/>'
            + _text_block(
                [("olabel-l", ln) for ln in _wrap(s.name or "", s.w, 10)[:4]], s.x + 5, s.y + 14, 11
            )
        )
    return (
        f'<rect class="other" x="{_n(s.x)}" y="{_n(s.y)}" width="{_n(s.w)}" height="{_n(s.h)}"/>'
        + _outer_label(s)
    )


def _edge(edge: Edge, prefix: str) -> str:
    pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in edge.waypoints)
    if edge.kind == "messageFlow":
        cls, markers = "mflow", f' marker-start="url(#{prefix}-mstart)" marker-end="url(#{prefix}-mend)"'
    elif edge.kind == "sequenceFlow":
        cls, markers = "sflow", f' marker-end="url(#{prefix}-arrow)"'
    else:
        cls, markers = "assoc", ""
    out = (
        f'<g class="edge {cls}" data-element="{e(edge.element)}"><title>{e(edge.name or edge.element)}</title>'
        f'<polyline class="{cls}" points="{pts}"{markers}/>'
    )
    if edge.name:
        if edge.label is not None and edge.label.w > 0:
            x, y = edge.label.x + edge.label.w / 2, edge.label.y + 10
        else:
            (x0, y0), (x1, y1) = (
                edge.waypoints[len(edge.waypoints) // 2 - 1],
                edge.waypoints[len(edge.waypoints) // 2],
            )
            x, y = (x0 + x1) / 2, (y0 + y1) / 2 - 4
        out += f'<text class="elabel" x="{_n(x)}" y="{_n(y)}">{e(edge.name)}</text>'
    return out + "</g>"


def render_svg(diagram: Diagram, figures: Mapping[str, ActivityFigures], prefix: str) -> str:
    """The diagram as inline SVG: one `<g class="shape">` per BPMNShape, one `<g class="edge">` per edge."""
    b = diagram.bounds
    pad = 24
    x0, y0, w, h = b.x - pad, b.y - pad, b.w + 2 * pad, b.h + 2 * pad + 20
    worst = max((f.waiting_mean for f in figures.values()), default=0.0)
    containers = [s for s in diagram.shapes if s.kind in ("participant", "lane")]
    nodes = [s for s in diagram.shapes if s.kind not in ("participant", "lane")]
    parts = [
        f'<svg class="diagram" role="img" aria-label="process diagram" viewBox="{_n(x0)} {_n(y0)} {_n(w)} {_n(h)}" '
        f'width="{_n(w)}" height="{_n(h)}" preserveAspectRatio="xMinYMin meet">',
        "<defs>",
        f'<marker id="{prefix}-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker>',
        f'<marker id="{prefix}-mend" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="openhead"/></marker>',
        f'<marker id="{prefix}-mstart" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="7" markerHeight="7">'
        '<circle cx="5" cy="5" r="4" class="openhead"/></marker>',
        "</defs>",
    ]
    for s in containers:
        band = 30.0
        parts.append(
            f'<g class="shape {s.kind}" data-element="{e(s.element)}" data-kind="{s.kind}">'
            f"<title>{e(s.name or s.element)}</title>{_pool_or_lane(s, band)}</g>"
        )
    for edge in diagram.edges:
        parts.append(_edge(edge, prefix))
    for s in nodes:
        fig = figures.get(s.element)
        fill = None
        if fig is not None and s.kind in ("task", "subprocess", "call"):
            fill = scale_colour(fig.waiting_mean / worst if worst > 0 else 0.0)
        if s.kind in ("task", "subprocess", "call"):
            body = _activity(s, fig, fill)
        elif s.kind == "event":
            body = _event(s)
        elif s.kind == "gateway":
            body = _gateway(s)
        else:
            body = _other(s)
        data = f' data-mean-wait="{_n(fig.waiting_mean)}" data-tasks="{fig.tasks}"' if fig is not None else ""
        parts.append(
            f'<g class="shape {s.kind}" data-element="{e(s.element)}" data-kind="{s.kind}"{data}>'
            f"<title>{e(_tooltip(s, fig))}</title>{body}</g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend(worst: float) -> str:
    stops = "".join(
        f'<span class="swatch" style="background:{scale_colour(i / 4)}"></span>'
        f'<span class="tick">{e(dur(worst * i / 4))}</span>'
        for i in range(5)
    )
    return (
        '<div class="legend"><strong>Mean waiting time per task</strong> (ready → claimed; human tasks): '
        f"{stops}"
        f'<span class="swatch" style="background:{NO_DATA}"></span><span class="tick">no data</span>'
        '<span class="swatch" style="background:#fff;border-color:#555"></span><span class="tick">automated</span>'
        '<span class="legend-line"><svg width="44" height="10" aria-hidden="true"><line x1="2" y1="5" x2="40" '
        'y2="5" stroke="#333" stroke-width="1.6"/><path d="M34,1 L42,5 L34,9 z" fill="#333"/></svg>'
        " sequence flow</span>"
        '<span class="legend-line"><svg width="44" height="10" aria-hidden="true"><line x1="2" y1="5" x2="40" '
        'y2="5" stroke="#555" stroke-width="1.4" stroke-dasharray="6 4"/></svg> message flow</span></div>'
    )


# --- matrix, histogram, tables ------------------------------------------------------------------------


def _lane(name: str | None) -> str:
    return name or "(no lane)"


def render_matrix(matrix: Sequence[Mapping[str, Any]]) -> str:
    """The lane x lane handoff matrix: rows from, columns to; colour by count, median latency shown."""
    if not matrix:
        return '<p class="muted">No handoffs in this window.</p>'
    lanes = sorted({_lane(m["from_lane"]) for m in matrix} | {_lane(m["to_lane"]) for m in matrix})
    cells = {(_lane(m["from_lane"]), _lane(m["to_lane"])): m for m in matrix}
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
            frac = math.log1p(m["count"]) / math.log1p(most)
            colour = scale_colour(frac, MATRIX_SCALE)
            dark = " dark" if frac > 0.75 else ""
            tds.append(
                f'<td class="cell{dark}" style="background:{colour}" data-from="{e(src)}" data-to="{e(dst)}" '
                f'data-count="{m["count"]}"><span class="count">{m["count"]}</span>'
                f'<span class="lat">median {e(dur(m["latency_p50"]))}</span></td>'
            )
        rows.append(f'<tr><th scope="row">{e(src)}</th>{"".join(tds)}</tr>')
    return (
        '<table class="matrix"><caption>Handoffs from lane (row) to lane (column): count, and median latency '
        "(A completed → B claimed); colour by count (log scale)</caption>"
        f'<thead><tr><th class="corner">from \\ to</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def percentile_bands(stats: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(label, instances) by nearest rank: ranks 1..r50 took <= p50, r50+1..r90 p50..p90, and so on."""
    n = int(stats.get("count") or 0)
    if n == 0 or stats.get("p50") is None:
        return []
    ranks = [math.ceil(p * n / 100) for p in (50, 90, 99)]
    p50, p90, p99 = stats["p50"], stats["p90"], stats.get("p99") or stats["p90"]
    bands = [
        (f"≤ {dur(p50)}", ranks[0]),
        (f"{dur(p50)} – {dur(p90)}", ranks[1] - ranks[0]),
        (f"{dur(p90)} – {dur(p99)}", ranks[2] - ranks[1]),
        (f"> {dur(p99)}", n - ranks[2]),
    ]
    return [bands[0]] + [b for b in bands[1:] if b[1]]  # empty upper bands say nothing


def render_histogram(bars: Sequence[tuple[str, int]], caption: str) -> str:
    if not bars or not any(c for _, c in bars):
        return '<p class="muted">No completed instances: no cycle-time histogram.</p>'
    width, height, left, bottom, top = 640, 220, 44, 44, 16
    plot_w, plot_h = width - left - 10, height - bottom - top
    most = max(c for _, c in bars) or 1
    slot = plot_w / len(bars)
    bar_w = max(4.0, slot * 0.78)
    parts = [
        f'<svg class="histogram" role="img" aria-label="cycle-time histogram" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>',
    ]
    for tick in sorted({0, most // 2, most}):
        y = top + plot_h - plot_h * tick / most
        parts.append(f'<text class="ytick" x="{left - 6}" y="{_n(y + 4)}">{tick}</text>')
    label_every = max(1, math.ceil(len(bars) / 12))
    for i, (label, count) in enumerate(bars):
        bh = plot_h * count / most
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - bh
        parts.append(
            f'<g class="bar"><title>{e(label)}: {count} instances</title>'
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(bar_w)}" height="{_n(bh)}"/>'
            f'<text class="bval" x="{_n(x + bar_w / 2)}" y="{_n(y - 4)}">{count}</text></g>'
        )
        if i % label_every == 0:
            parts.append(
                f'<text class="xtick" x="{_n(left + i * slot + slot / 2)}" y="{top + plot_h + 16}">{e(label)}</text>'
            )
    parts.append(
        f'<text class="axis-title" x="{left + plot_w / 2}" y="{height - 6}">cycle time (completed instances)</text>'
    )
    parts.append("</svg>")
    return f'<figure class="hist">{"".join(parts)}<figcaption>{e(caption)}</figcaption></figure>'


def _histogram_for(stats: Mapping[str, Any], bins: Sequence[HistogramBin] | None) -> str:
    if bins:
        bars = [(f"{dur(b.lower)}–{dur(b.upper)}", b.count) for b in bins]
        return render_histogram(bars, "Completed instances per cycle-time bin of equal width.")
    return render_histogram(
        percentile_bands(stats),
        "Estimated from the report's nearest-rank percentiles (p50, p90, p99): bars are rank bands "
        "(50%, 40%, 9%, 1% of completed instances), not bins of equal width.",
    )


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: set[int]) -> str:
    if not rows:
        return ""
    head = "".join(
        f'<th scope="col"{" class=num" if i in numeric else ""}>{e(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=num' if i in numeric else ''}>{e(c)}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return (
        f'<h3>{e(title)}</h3><table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _tables(report: Report) -> str:
    out = []
    inst = report.instances
    out.append(
        _table(
            "Instances",
            ["PROCESS", "INSTANCES", *sorted(inst["by_status"]), "CYCLE P50", "P90", "P99", "MEAN"],
            [
                [
                    p["process"],
                    p["instances"],
                    *[p["by_status"].get(s, 0) for s in sorted(inst["by_status"])],
                    dur(p["cycle_time"]["p50"]),
                    dur(p["cycle_time"]["p90"]),
                    dur(p["cycle_time"].get("p99")),
                    dur(p["cycle_time"]["mean"]),
                ]
                for p in report.processes
            ],  # fmt: skip
            set(range(1, 7 + len(inst["by_status"]))),
        )
    )
    out.append(
        _table(
            "Throughput per week (completed instances)",
            ["WEEK", "FROM", "COMPLETED"],
            [[t["week"], t["week_start"], t["completed"]] for t in report.throughput],
            {2},
        )
    )
    out.append(
        _table(
            "Lanes (human tasks)",
            ["LANE", "DONE", "WAIT P50", "WAIT P90", "WORK P50", "WORK P90", "WAIT SHARE"],
            [
                [
                    _lane(ln["lane"]),
                    ln["tasks_done"],
                    dur(ln["waiting"]["p50"]),
                    dur(ln["waiting"]["p90"]),
                    dur(ln["processing"]["p50"]),
                    dur(ln["processing"]["p90"]),
                    _pct(ln["waiting_share"]),
                ]
                for ln in report.lanes
            ],  # fmt: skip
            {1, 2, 3, 4, 5, 6},
        )
    )
    out.append(
        _table(
            "Bottlenecks (activities by total waiting time)",
            ["ACTIVITY", "LANE", "TASKS", "WAITED", "MEAN", "MAX"],
            [
                [
                    b["name"] or b["element"],
                    b["lane"] or "",
                    b["tasks"],
                    dur(b["waiting_total"]),
                    dur(b["waiting_mean"]),
                    dur(b["waiting_max"]),
                ]
                for b in report.bottlenecks
            ],  # fmt: skip
            {2, 3, 4, 5},
        )
    )
    out.append(
        _table(
            "SLA breaches by activity",
            ["ACTIVITY", "LANE", "BREACHES", "STILL OPEN", "WORST WAIT"],
            [
                [
                    d["name"] or d["element"],
                    d["lane"] or "",
                    d["count"],
                    d["still_open"],
                    dur(d["worst_wait_seconds"]),
                ]
                for d in report.delays["by_activity"]
            ],
            {2, 3, 4},
        )
    )
    out.append(
        _table(
            "SLA breaches by lane",
            ["LANE", "BREACHES", "OVER SLA"],
            [
                [_lane(d["lane"]), d["count"], dur(d["over_threshold_seconds"])]
                for d in report.delays["by_lane"]
            ],
            {1, 2},
        )
    )
    out.append(
        _table(
            "Slowest handoffs actor → actor (by median latency)",
            ["FROM", "TO", "COUNT", "MEDIAN", "MEAN"],
            [
                [
                    p["from_actor"] or "-",
                    p["to_actor"] or "-",
                    p["count"],
                    dur(p["latency_p50"]),
                    dur(p["latency_mean"]),
                ]
                for p in report.slowest_pairs
            ],  # fmt: skip
            {2, 3, 4},
        )
    )
    counts: dict[str, list[Any]] = {}
    for p in report.crossings["ping_pong"]:
        counts.setdefault(p["element"], [p["name"] or p["element"], 0, 0])[1] = p["count"]
    for r in report.rework:
        counts.setdefault(r["element"], [r["name"] or r["element"], 0, 0])[2] = r["count"]
    rows = [v for _, v in sorted(counts.items(), key=lambda kv: (-kv[1][1] - kv[1][2], kv[0]))]
    out.append(_table("Ping-pong and rework per activity", ["ACTIVITY", "PING-PONG", "REWORK"], rows, {1, 2}))
    return "".join(out) or '<p class="muted">No data in this window.</p>'


def _summary(report: Report) -> str:
    c = report.cycle_time
    cr = report.crossings
    mean = "-" if cr["per_instance_mean"] is None else f"{cr['per_instance_mean']:.2f}"
    cards = [
        ("Instances", str(report.instances["total"]),
         ", ".join(f"{k} {v}" for k, v in report.instances["by_status"].items()) or "none"),
        ("Cycle time p50", dur(c["p50"]), f"p90 {dur(c['p90'])} · p99 {dur(c.get('p99'))} · {c['count']} completed"),
        ("Flow efficiency", _pct(report.flow_efficiency), "processing / cycle time"),
        ("Crossings / instance", mean, f"max {cr['per_instance_max'] or 0}"),
        ("SLA breaches", str(report.delays["task_waits"]), f"task waits · {report.delays['cycle_times']} cycle times"),
    ]  # fmt: skip
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="k">{e(k)}</div><div class="v">{e(v)}</div><div class="s">{e(s)}</div></div>'
        for k, v, s in cards
    ) + "</div>"  # fmt: skip


CSS = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#d2d6dc}
*{box-sizing:border-box}
body{margin:0;padding:24px 32px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;
color:var(--ink);background:#f7f8fa}
h1{font-size:24px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 8px;padding-top:8px;border-top:2px solid var(--line)}
h3{font-size:15px;margin:22px 0 6px}.muted,.window{color:var(--muted)}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:170px}
.card .k{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:22px;font-weight:600}.card .s{font-size:12px;color:var(--muted)}
.panel{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px;margin:8px 0;overflow-x:auto}
.note{background:#fff8e1;border:1px solid #f0c36d;border-radius:6px;padding:10px 14px;margin:8px 0}
svg.diagram{display:block;max-width:100%;height:auto}
svg text{font-family:inherit}
rect.pool,rect.lane{fill:none;stroke:#555;stroke-width:1.2}rect.pool{stroke-width:1.6;fill:#fcfcfd}
.band{stroke:#555;stroke-width:1}
.pool-label,.lane-label{font-weight:600;text-anchor:middle;dominant-baseline:middle;fill:#333}
rect.act{stroke:#374151;stroke-width:1.4}rect.act.sub{stroke-width:1.8}rect.act.call{stroke-width:3}
.name{font-size:11px;font-weight:600;text-anchor:middle;fill:#111}
.fig{font-size:9.5px;text-anchor:middle;fill:#1f2933}
.ttype{font-size:8px;fill:#6b7280;font-style:italic}
circle.event{fill:#fff;stroke:#374151;stroke-width:1.6}circle.event.end{stroke-width:3.5}circle.event.inner{fill:none;stroke-width:1}
polygon.gateway{fill:#fff;stroke:#374151;stroke-width:1.4}.gmark{fill:none;stroke:#374151;stroke-width:2.5}
.olabel{font-size:10px;text-anchor:middle;fill:#333}.olabel-l{font-size:10px;fill:#333}
rect.other{fill:#fff;stroke:#777}.annot{fill:none;stroke:#777}
polyline{fill:none}polyline.sflow{stroke:#333;stroke-width:1.5}
polyline.mflow{stroke:#555;stroke-width:1.3;stroke-dasharray:7 5}polyline.assoc{stroke:#777;stroke-dasharray:2 3}
.arrowhead{fill:#333}.openhead{fill:#fff;stroke:#555;stroke-width:1.2}
.elabel{font-size:10px;text-anchor:middle;fill:#444;paint-order:stroke;stroke:#fff;stroke-width:3px}
.legend{display:flex;flex-wrap:wrap;align-items:center;gap:6px;font-size:12px;margin:6px 0 2px}
.swatch{display:inline-block;width:22px;height:14px;border:1px solid #9aa5b1;border-radius:3px;margin-left:6px}
.tick{color:var(--muted)}.legend-line{margin-left:14px;display:inline-flex;align-items:center;gap:4px}
table{border-collapse:collapse;background:#fff}
table.data{min-width:50%;font-size:13px}
table.data th,table.data td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left}
table.data th{background:#eef1f4;font-size:12px}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.matrix{font-size:13px}table.matrix caption{caption-side:top;text-align:left;color:var(--muted);padding:4px 0}
table.matrix th{background:#eef1f4;padding:6px 10px;font-size:12px;text-align:left}
table.matrix td{border:1px solid #fff;width:120px;height:52px;text-align:center;vertical-align:middle}
table.matrix td.empty{color:#b0b7c0;background:#fafbfc}
td.cell .count{display:block;font-size:17px;font-weight:700}td.cell .lat{display:block;font-size:11px}
td.cell.dark{color:#fff}
figure.hist{margin:8px 0}figure.hist figcaption{font-size:12px;color:var(--muted)}
.histogram rect{fill:#5f9bd1}.axis{stroke:#555}.ytick{font-size:10px;text-anchor:end;fill:#555}
.xtick{font-size:10px;text-anchor:middle;fill:#333}.bval{font-size:11px;text-anchor:middle;fill:#111}
.axis-title{font-size:11px;text-anchor:middle;fill:#555}
footer{margin-top:32px;font-size:12px;color:var(--muted)}
"""


def render_html(
    report: Report,
    diagrams: Mapping[str, Diagram | None],
    *,
    histograms: Mapping[str, Sequence[HistogramBin]] | None = None,
) -> str:
    """The report as one self-contained HTML page; `diagrams` maps process id -> its BPMNDI (or None)."""
    w = report.window
    scope = w["process"] or "all processes"
    title = f"Handoff report: {scope}"
    figures = activity_figures(report)
    by_process = {p["process"]: p for p in report.processes}
    process_ids = sorted(set(by_process) | set(diagrams))
    body = [
        f"<h1>{e(title)}</h1>",
        f'<p class="window">Instances started {e(w["since"] or "any time")} .. {e(w["until"] or "now")} '
        f"({e(w['rule'])}); first start {e(w['first_start'] or '-')}, last start {e(w['last_start'] or '-')}.</p>",
        _summary(report),
    ]
    for index, pid in enumerate(process_ids):
        entry = by_process.get(pid)
        diagram = diagrams.get(pid)
        body.append(f'<section class="process" data-process="{e(pid)}"><h2>Process {e(pid)}</h2>')
        if entry is not None:
            ct = entry["cycle_time"]
            body.append(
                f'<p class="muted">{entry["instances"]} instances · cycle time p50 {e(dur(ct["p50"]))}, '
                f"p90 {e(dur(ct['p90']))} over {ct['count']} completed</p>"
            )
        if diagram is None or diagram.empty:
            body.append(
                f'<p class="note no-bpmndi">{e(pid)}: {NO_LAYOUT}, so it is not drawn; the figures are below.</p>'
            )
        else:
            mine = {s.element: figures[s.element] for s in diagram.shapes if s.element in figures}
            worst = max((f.waiting_mean for f in mine.values()), default=0.0)
            body.append(_legend(worst))
            body.append(f'<div class="panel">{render_svg(diagram, mine, f"d{index}")}</div>')
        body.append("<h3>Cycle time</h3>")
        stats = entry["cycle_time"] if entry is not None else {"count": 0}
        body.append(_histogram_for(stats, (histograms or {}).get(pid)))
        body.append("</section>")
    body.append('<section class="all"><h2>All processes in this report</h2>')
    body.append("<h3>Lane → lane handoffs</h3>")
    body.append(render_matrix(report.handoff_matrix))
    body.append(_tables(report))
    body.append("</section>")
    body.append(
        "<footer>Generated by Handoff (docs/report.md). Percentiles are nearest rank. On the diagram: mean "
        "waiting time per task, tasks done and Σ their total waiting time; the colour is the mean wait relative "
        "to the slowest activity of the process.</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )


__all__ = ["NO_LAYOUT", "HistogramBin", "activity_figures", "percentile_bands", "render_html", "render_svg"]
