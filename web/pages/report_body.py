"""The report on the dashboard. PLACEHOLDER until engine/report_html.py's `render_report_body(report,
diagrams, link)` arrives (branch `report`): then the dashboard and `handoff report --format html` share
that one renderer and this module only forwards to it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine import report_html
from engine.report import Report, dur
from engine.report_html import e


def report_body(report: Report, diagrams: Mapping[str, Any], link: Callable[..., str]) -> str:
    shared = getattr(report_html, "render_report_body", None)
    if shared is not None:
        return str(shared(report, diagrams, link=link))
    return _placeholder(report, link)


def _lane(name: str | None) -> str:
    return name or "(no lane)"


def _placeholder(report: Report, link: Callable[..., str]) -> str:
    out = ['<section class="report-body placeholder"><h1>Handoff report</h1>']
    out.append(
        f'<div class="cards"><div class="card"><div class="k">Instances</div><div class="v">'
        f'{report.instances["total"]}</div></div><div class="card"><div class="k">Cycle time p50</div>'
        f'<div class="v">{e(dur(report.cycle_time["p50"]))}</div></div><div class="card"><div class="k">'
        f'SLA breaches</div><div class="v">{report.delays["task_waits"]}</div></div></div>'
    )
    lanes = sorted((ln for ln in report.lanes), key=lambda ln: -(ln["waiting"]["total"] or 0))
    out.append('<h3>Where work waits (lanes)</h3><table class="data lanes"><thead><tr><th>Lane</th>'
               "<th>Tasks done</th><th>Wait p50</th><th>Share of waiting</th></tr></thead><tbody>")  # fmt: skip
    for index, ln in enumerate(lanes):
        cls = ' class="bottleneck"' if index == 0 else ""
        share = ln.get("waiting_share")
        out.append(
            f'<tr{cls}><td><a href="{e(link("lane_tasks", lane=ln["lane"]))}">{e(_lane(ln["lane"]))}</a></td>'
            f'<td class="num">{ln["tasks_done"]}</td><td class="num">{e(dur(ln["waiting"]["p50"]))}</td>'
            f'<td class="num">{"-" if share is None else f"{100 * share:.0f}%"}</td></tr>'
        )
    out.append("</tbody></table>")
    out.append('<h3>Bottlenecks (activities by total waiting time)</h3><table class="data"><thead><tr>'
               "<th>Activity</th><th>Lane</th><th>Tasks</th><th>Waited</th></tr></thead><tbody>")  # fmt: skip
    for b in report.bottlenecks:
        out.append(
            f"<tr><td>{e(b['name'] or b['element'])}</td>"
            f'<td><a href="{e(link("lane_tasks", lane=b["lane"]))}">{e(b["lane"] or "")}</a></td>'
            f'<td class="num">{b["tasks"]}</td><td class="num">{e(dur(b["waiting_total"]))}</td></tr>'
        )
    out.append("</tbody></table>")
    out.append('<h3>Handoffs lane → lane</h3><table class="data matrix-list"><thead><tr><th>From</th><th>To</th>'
               "<th>Count</th><th>Median latency</th></tr></thead><tbody>")  # fmt: skip
    for m in report.handoff_matrix:
        href = link("handoffs", from_lane=m["from_lane"], to_lane=m["to_lane"])
        out.append(
            f"<tr><td>{e(_lane(m['from_lane']))}</td><td>{e(_lane(m['to_lane']))}</td>"
            f'<td class="num"><a href="{e(href)}">{m["count"]}</a></td><td class="num">{e(dur(m["latency_p50"]))}</td></tr>'
        )
    out.append("</tbody></table>")
    out.append('<h3>SLA breaches by activity</h3><table class="data"><thead><tr><th>Activity</th><th>Lane</th>'
               "<th>Breaches</th></tr></thead><tbody>")  # fmt: skip
    for d in report.delays.get("by_activity", []):
        href = link("delays", lane=d["lane"], element=d["element"])
        out.append(
            f"<tr><td>{e(d['name'] or d['element'])}</td><td>{e(_lane(d['lane']))}</td>"
            f'<td class="num"><a href="{e(href)}">{d["count"]}</a></td></tr>'
        )
    out.append("</tbody></table></section>")
    return "".join(out)
