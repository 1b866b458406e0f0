"""The process diagram of the HTML report: BPMNDI drawn as inline SVG, activities coloured by waiting time.

An activity's colour is its mean waiting time on an ABSOLUTE scale (`WAIT_BANDS`, the same in every
report and shown in the legend): a 13-second wait is the palest band, whatever else the process holds.
Its figures are written on the shape in lines that fit it: wrapped at spaces to the shape's width,
dropped from the least important up when the shape is too short, and squeezed to the width (SVG
`textLength`) when a single word is wider than the estimate allows. No text is smaller than 10 px.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bpmn.diagram import Diagram, Edge, Shape

from .report import Report, dur

Link = Callable[..., str | None]

NO_DATA = "#e5e7eb"
AUTOMATED = "#ffffff"
AUTOMATED_TYPES = ("scriptTask", "serviceTask", "businessRuleTask", "sendTask")


@dataclass(frozen=True)
class WaitBand:
    """Mean waits below `upper` seconds (and at least the previous band's) get this colour."""

    upper: float
    label: str
    colour: str
    dark: bool = False  # white text reads better on it


WAIT_BANDS = (
    WaitBand(60, "under 1m", "#ffffcc"),
    WaitBand(15 * 60, "1m – 15m", "#ffeda0"),
    WaitBand(3600, "15m – 1h", "#fed976"),
    WaitBand(4 * 3600, "1h – 4h", "#feb24c"),
    WaitBand(8 * 3600, "4h – 8h", "#fd8d3c"),
    WaitBand(86400, "8h – 1d", "#fc4e2a", dark=True),
    WaitBand(3 * 86400, "1d – 3d", "#e31a1c", dark=True),
    WaitBand(float("inf"), "3d and more", "#b10026", dark=True),
)

NAME_SIZE = 11.0
FIG_SIZE = 10.0
LINE = 1.2  # line height, in font sizes
PAD = 5.0


def band_of(seconds: float) -> int:
    """The index in WAIT_BANDS of a mean waiting time."""
    return next(i for i, band in enumerate(WAIT_BANDS) if seconds < band.upper)


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
    lane: str | None = None


def activity_figures(report: Report) -> dict[str, ActivityFigures]:
    """Per BPMN element id: the bottleneck rows summed over lanes, with breaches, rework and ping-pong."""
    sums: dict[str, list[Any]] = {}
    for b in report.bottlenecks:
        s = sums.setdefault(b["element"], [0, 0.0, 0.0, b["lane"]])
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
            lane=lane,
        )
        for el, (tasks, total, worst, lane) in sums.items()
    }


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


# --- text that fits -------------------------------------------------------------------------------------


def text_width(text: str, size: float, bold: bool = False) -> float:
    """A generous estimate of rendered width: wider than DejaVu Sans and Liberation Sans (~0.6 em a
    lowercase letter or digit), so that a line the estimate lets through fits on the page."""
    wide = sum(1 for c in text if c.isupper() or c in "mwMW%Σ")
    narrow = sum(1 for c in text if c in " .,:;'|!il·")
    return (len(text) * 0.64 + wide * 0.14 - narrow * 0.3) * size * (1.1 if bold else 1.0)


# A line up to this much wider than its room (by the estimate) stays whole and is squeezed to the room
# with SVG textLength: a few percent narrower glyphs read better than a figure broken over two lines.
SQUEEZE = 1.18


def wrap(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """Words into lines no wider than `width` once squeezed (a word wider than that stands alone)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and text_width(candidate, size, bold) > width * SQUEEZE:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _parts(text: str, width: float) -> list[str]:
    """`text` in lines broken after its " · " separators where it does not fit whole (each broken
    line keeps its trailing "·", so the lines read back as the text)."""
    parts: list[str] = []
    for item in text.split(" · "):
        candidate = f"{parts[-1]} · {item}" if parts else item
        if parts and text_width(candidate, FIG_SIZE) <= width * SQUEEZE:
            parts[-1] = candidate
        else:
            if parts:
                parts[-1] += " ·"
            parts.append(item)
    return parts


@dataclass(frozen=True)
class Line:
    cls: str
    text: str
    size: float
    bold: bool = False


def fit_block(
    name: str, figures: Sequence[str], width: float, height: float, max_name_lines: int = 2
) -> list[Line]:
    """The lines of an activity that fit `width` x `height`: the name first (cut with … past its
    lines), then as many figure lines as fit, in their order of importance."""
    room = int(height // (FIG_SIZE * LINE))
    name_lines = wrap(name, width, NAME_SIZE, bold=True) or [""]
    # A figure line breaks between its " · " parts first, and only then between words.
    fig_lines = [
        line for fig in figures for part in _parts(fig, width) for line in wrap(part, width, FIG_SIZE)
    ]
    keep_name = max(1, min(max_name_lines, len(name_lines), room - min(len(fig_lines), 2)))
    if len(name_lines) > keep_name:
        name_lines = name_lines[:keep_name]
        name_lines[-1] = name_lines[-1].rstrip(" -") + "…"
    fig_room = max(0, int((height - keep_name * NAME_SIZE * LINE) // (FIG_SIZE * LINE)))
    kept = fig_lines[:fig_room]
    if kept and len(kept) < len(fig_lines):
        kept[-1] = kept[-1].removesuffix(" ·")  # what followed is left to the tooltip
    return [Line("name", t, NAME_SIZE, True) for t in name_lines] + [Line("fig", t, FIG_SIZE) for t in kept]


def render_lines(lines: Sequence[Line], cx: float, top: float, width: float) -> str:
    out = []
    y = top
    for line in lines:
        y += line.size * LINE
        squeeze = ""
        if text_width(line.text, line.size, line.bold) > width:
            squeeze = f' textLength="{n(width)}" lengthAdjust="spacingAndGlyphs"'
        out.append(
            f'<text class="{line.cls}" x="{n(cx)}" y="{n(y - line.size * 0.25)}"{squeeze}>{e(line.text)}</text>'
        )
    return "".join(out)


# --- shapes ---------------------------------------------------------------------------------------------


def _pool_or_lane(s: Shape, band: float) -> str:
    cls = "pool" if s.kind == "participant" else "lane"
    parts = [f'<rect class="{cls}" x="{n(s.x)}" y="{n(s.y)}" width="{n(s.w)}" height="{n(s.h)}"/>']
    name = s.name or ""
    if s.is_horizontal:
        parts.append(
            f'<line class="band" x1="{n(s.x + band)}" y1="{n(s.y)}" x2="{n(s.x + band)}" y2="{n(s.y + s.h)}"/>'
        )
        cx, cy = s.x + band / 2, s.y + s.h / 2
        label = name
        if text_width(label, 12, True) > s.h - 8:
            label = wrap(name, s.h - 8, 12, True)[0] + "…"
        parts.append(
            f'<text class="{cls}-label" x="{n(cx)}" y="{n(cy)}" transform="rotate(-90 {n(cx)} {n(cy)})">{e(label)}</text>'
        )
    else:
        parts.append(
            f'<line class="band" x1="{n(s.x)}" y1="{n(s.y + band)}" x2="{n(s.x + s.w)}" y2="{n(s.y + band)}"/>'
        )
        parts.append(
            f'<text class="{cls}-label" x="{n(s.x + s.w / 2)}" y="{n(s.y + band / 2)}">{e(name)}</text>'
        )
    return "".join(parts)  # fmt: skip


def figure_lines(fig: ActivityFigures | None) -> list[str]:
    if fig is None:
        return []
    lines = [
        f"mean wait {dur(fig.waiting_mean)}",
        f"{fig.tasks} task{'' if fig.tasks == 1 else 's'} · Σ {dur(fig.waiting_total)}",
    ]
    extra = [f"{fig.breaches} SLA"] if fig.breaches else []
    extra += [f"{fig.rework} rework"] if fig.rework else []
    extra += [f"{fig.ping_pong} ping-pong"] if fig.ping_pong else []
    if extra:
        lines.append(" · ".join(extra))
    return lines


def tooltip(s: Shape, fig: ActivityFigures | None) -> str:
    head = f"{s.name or s.element} ({s.type})"
    if fig is None:
        return head
    return (
        f"{head}\nmean wait {dur(fig.waiting_mean)}, max {dur(fig.waiting_max)}, total {dur(fig.waiting_total)}"
        f"\n{fig.tasks} tasks done, {fig.breaches} SLA breaches, {fig.rework} rework, {fig.ping_pong} ping-pong"
    )


def activity_fill(s: Shape, fig: ActivityFigures | None) -> tuple[str, int | None]:
    """(fill colour, wait band index or None)."""
    if fig is not None:
        band = band_of(fig.waiting_mean)
        return WAIT_BANDS[band].colour, band
    if s.type in AUTOMATED_TYPES or s.kind != "task":
        return AUTOMATED, None  # automated: no waiting time by definition
    return NO_DATA, None


def _activity(s: Shape, fig: ActivityFigures | None, fill: str) -> str:
    is_sub = s.kind in ("subprocess", "call")
    cls = "act" + (" sub" if is_sub else "") + (" call" if s.kind == "call" else "")
    parts = [
        f'<rect class="{cls}" x="{n(s.x)}" y="{n(s.y)}" width="{n(s.w)}" height="{n(s.h)}" '
        f'rx="10" ry="10" fill="{fill}"/>'
    ]
    width = s.w - 2 * PAD
    if is_sub and s.is_expanded:  # an expanded subprocess: its name and one figure along the top
        lines = fit_block(s.name or s.element, figure_lines(fig)[:1], width, 2 * FIG_SIZE * LINE + 4, 1)
        parts.append(render_lines(lines, s.x + s.w / 2, s.y + 2, width))
    else:
        bottom = 16 if s.kind == "call" else 0  # the call marker's room
        room = s.h - 2 * PAD - bottom
        lines = fit_block(s.name or s.element, figure_lines(fig), width, room)
        used = sum(line.size * LINE for line in lines)
        parts.append(render_lines(lines, s.x + s.w / 2, s.y + PAD + (room - used) / 2, width))
    if s.kind == "call":
        parts.append(
            f'<rect class="marker" x="{n(s.x + s.w / 2 - 6)}" y="{n(s.y + s.h - 14)}" width="12" height="12"/>'
        )
    return "".join(parts)  # fmt: skip


def _outer_label(s: Shape) -> str:
    if not s.name:
        return ""
    if s.label is not None and s.label.w > 0:
        cx, top, width = s.label.x + s.label.w / 2, s.label.y, max(s.label.w, 90)
    else:
        cx, top, width = s.x + s.w / 2, s.y + s.h + 2, 110
    lines = [Line("olabel", t, FIG_SIZE) for t in wrap(s.name, width, FIG_SIZE)[:3]]
    return render_lines(lines, cx, top, width)


def _event(s: Shape) -> str:
    cx, cy, r = s.x + s.w / 2, s.y + s.h / 2, min(s.w, s.h) / 2
    cls = "event " + ("end" if s.type == "endEvent" else "start" if s.type == "startEvent" else "mid")
    out = f'<circle class="{cls}" cx="{n(cx)}" cy="{n(cy)}" r="{n(r)}"/>'
    if "intermediate" in s.type.lower() or s.type == "boundaryEvent":
        out += f'<circle class="event inner" cx="{n(cx)}" cy="{n(cy)}" r="{n(max(r - 3, 1))}"/>'
    return out + _outer_label(s)


def _gateway(s: Shape) -> str:
    cx, cy = s.x + s.w / 2, s.y + s.h / 2
    pts = f"{n(cx)},{n(s.y)} {n(s.x + s.w)},{n(cy)} {n(cx)},{n(s.y + s.h)} {n(s.x)},{n(cy)}"
    out = f'<polygon class="gateway" points="{pts}"/>'
    k = min(s.w, s.h) * 0.2
    if s.type == "exclusiveGateway":
        out += f'<path class="gmark" d="M{n(cx - k)},{n(cy - k)} L{n(cx + k)},{n(cy + k)} M{n(cx + k)},{n(cy - k)} L{n(cx - k)},{n(cy + k)}"/>'
    elif s.type == "parallelGateway":
        out += f'<path class="gmark" d="M{n(cx)},{n(cy - k * 1.3)} L{n(cx)},{n(cy + k * 1.3)} M{n(cx - k * 1.3)},{n(cy)} L{n(cx + k * 1.3)},{n(cy)}"/>'
    elif s.type in ("inclusiveGateway", "eventBasedGateway"):
        out += f'<circle class="gmark" cx="{n(cx)}" cy="{n(cy)}" r="{n(k * 1.2)}"/>'
    return out + _outer_label(s)  # fmt: skip


def _other(s: Shape) -> str:
    if s.kind == "annotation":
        lines = [Line("olabel-l", t, FIG_SIZE) for t in wrap(s.name or "", s.w, FIG_SIZE)[:4]]
        return (
            f'<path class="annot" d="M{n(s.x + 15)},{n(s.y)} L{n(s.x)},{n(s.y)} L{n(s.x)},{n(s.y + s.h)} '
            f'L{n(s.x + 15)},{n(s.y + s.h)}"/>' + render_lines(lines, s.x + 5, s.y + 2, s.w - 5)
        )
    return (
        f'<rect class="other" x="{n(s.x)}" y="{n(s.y)}" width="{n(s.w)}" height="{n(s.h)}"/>'
        + _outer_label(s)
    )


def _edge(edge: Edge, prefix: str) -> str:
    pts = " ".join(f"{n(x)},{n(y)}" for x, y in edge.waypoints)
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
        out += f'<text class="elabel" x="{n(x)}" y="{n(y)}">{e(edge.name)}</text>'
    return out + "</g>"


def render_svg(
    diagram: Diagram, figures: Mapping[str, ActivityFigures], prefix: str, link: Link | None = None
) -> str:
    """The diagram as inline SVG: one `<g class="shape">` per BPMNShape, one `<g class="edge">` per
    BPMNEdge. With `link`, an activity with figures links to its lane's tasks (`lane_tasks`)."""
    b = diagram.bounds
    pad = 24
    x0, y0, w, h = b.x - pad, b.y - pad, b.w + 2 * pad, b.h + 2 * pad + 20
    containers = [s for s in diagram.shapes if s.kind in ("participant", "lane")]
    nodes = [s for s in diagram.shapes if s.kind not in ("participant", "lane")]
    parts = [
        f'<svg class="diagram" role="img" aria-label="process diagram" viewBox="{n(x0)} {n(y0)} {n(w)} {n(h)}" '
        f'width="{n(w)}" height="{n(h)}">',
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
        parts.append(
            f'<g class="shape {s.kind}" data-element="{e(s.element)}" data-kind="{s.kind}">'
            f"<title>{e(s.name or s.element)}</title>{_pool_or_lane(s, 30.0)}</g>"
        )
    for edge in diagram.edges:
        parts.append(_edge(edge, prefix))
    for s in nodes:
        fig = figures.get(s.element) if s.kind in ("task", "subprocess", "call") else None
        band: int | None = None
        if s.kind in ("task", "subprocess", "call"):
            fill, band = activity_fill(s, fig)
            body = _activity(s, fig, fill)
        elif s.kind == "event":
            body = _event(s)
        elif s.kind == "gateway":
            body = _gateway(s)
        else:
            body = _other(s)
        data = ""
        if fig is not None:
            data = f' data-mean-wait="{n(fig.waiting_mean)}" data-tasks="{fig.tasks}" data-band="{band}"'
        tone = " dark" if band is not None and WAIT_BANDS[band].dark else ""
        group = (
            f'<g class="shape {s.kind}{tone}" data-element="{e(s.element)}" data-kind="{s.kind}"{data}>'
            f"<title>{e(tooltip(s, fig))}</title>{body}</g>"
        )
        href = link("lane_tasks", lane=fig.lane) if (link is not None and fig is not None) else None
        parts.append(f'<a href="{e(href)}">{group}</a>' if href else group)
    parts.append("</svg>")
    return "".join(parts)


__all__ = [
    "AUTOMATED",
    "NO_DATA",
    "WAIT_BANDS",
    "ActivityFigures",
    "Link",
    "WaitBand",
    "activity_figures",
    "band_of",
    "render_svg",
    "text_width",
    "wrap",
    "SQUEEZE",
]
