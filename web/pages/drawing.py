"""The diagram of an instance on the pages: the report's own SVG drawing (engine/report_html.py) with the
instance's path laid over it: what it completed, where it waits now, where it failed, and (on a task
page) the task at hand. Overlays are separate SVG shapes with classes, styled by the stylesheet."""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape

from engine import InstanceView
from engine.diagrams import Diagram, instance_path
from engine.report_html import render_svg

_OVERLAY_CLOSE = "</svg>"


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def instance_svg(
    diagram: Diagram, instance: InstanceView, *, here: str | None = None, waits: Iterable[str] = ()
) -> Markup:
    """The diagram with the path of `instance`; `here` (an element id) is ringed as "this task"."""
    completed = [e.element for e in instance.timeline or () if e.kind == "task_completed" and e.element]
    open_elements = [t.element for t in instance.tasks] + list(waits)
    error = instance.error or {}
    failed = [str(error["task"])] if instance.status == "error" and error.get("task") else []
    marks = instance_path(
        diagram,
        completed=completed,
        waiting=open_elements,
        failed=failed,
        finished=instance.status == "completed",
    )
    svg = render_svg(diagram, {}, f"i{instance.id}")
    overlay: list[str] = ['<g class="path-overlay">']
    for edge in diagram.edges:
        if edge.element in marks.flows:
            points = " ".join(f"{_n(x)},{_n(y)}" for x, y in edge.waypoints)
            overlay.append(f'<polyline class="m-flow" points="{points}"/>')
    for shape in diagram.shapes:
        classes = []
        if shape.element in marks.done:
            classes.append("m-done")
        if shape.element in marks.waiting:
            classes.append("m-waiting")
        if shape.element in marks.failed:
            classes.append("m-failed")
        if here is not None and shape.element == here:
            classes.append("m-here")
        if not classes or shape.kind in ("participant", "lane"):
            continue
        cls = " ".join(classes)
        element = escape(shape.element)
        if shape.kind == "event":
            r = min(shape.w, shape.h) / 2 + 4
            overlay.append(
                f'<circle class="mark {cls}" data-element="{element}" cx="{_n(shape.x + shape.w / 2)}" '
                f'cy="{_n(shape.y + shape.h / 2)}" r="{_n(r)}"/>'
            )
        elif shape.kind == "gateway":
            cx, cy, half = shape.x + shape.w / 2, shape.y + shape.h / 2, max(shape.w, shape.h) / 2 + 5
            overlay.append(
                f'<polygon class="mark {cls}" data-element="{element}" points="{_n(cx)},{_n(cy - half)} '
                f'{_n(cx + half)},{_n(cy)} {_n(cx)},{_n(cy + half)} {_n(cx - half)},{_n(cy)}"/>'
            )
        else:
            overlay.append(
                f'<rect class="mark {cls}" data-element="{element}" x="{_n(shape.x - 4)}" y="{_n(shape.y - 4)}" '
                f'width="{_n(shape.w + 8)}" height="{_n(shape.h + 8)}" rx="13" ry="13"/>'
            )
    overlay.append("</g>")
    cut = svg.rfind(_OVERLAY_CLOSE)
    return Markup(svg[:cut] + "".join(overlay) + svg[cut:])  # noqa: S704 - render_svg escapes; ids escaped
