"""The CPO report as an HTML body fragment: ONE renderer for the standalone page and the web dashboard.

`render_report_body(report, diagrams, link=None)` returns the report's `<div class="handoff-report">`:
no `<html>`/`<head>`, no script, no style attribute (every colour is a class of engine/report_style.py),
so the dashboard can embed it under a strict Content-Security-Policy. `link(kind, **params)` gives the
href a figure links to, or None for no link; kinds (docs/report.md): `lane_tasks` (lane), `handoffs`
(from_lane, to_lane), `crossings` (from_lane, to_lane), `delays` (lane), `instance` (id). A lane
parameter may be None (tasks outside any lane). Every text from the database or a BPMN file is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bpmn.diagram import Diagram

from .report import Report, dur, week_is_partial, when, window_sentence
from .report_charts import HistogramBin, bins_of, lane_name, render_histogram, render_legend, render_matrix
from .report_svg import Link, activity_figures, e, render_svg

NO_LAYOUT = "this diagram has no BPMNDI layout"

Cell = str | int | tuple[str, str | None]  # a text, or (text, href) for a linked one


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _cell(value: Cell) -> str:
    if isinstance(value, tuple):
        text, href = value
        return f'<a href="{e(href)}">{e(text)}</a>' if href else e(text)
    return e(value)


def _table(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    numeric: set[int],
    *,
    explain: str = "",
    row_classes: Sequence[str] = (),
) -> str:
    if not rows:
        return ""
    head = "".join(
        f'<th scope="col"{" class=num" if i in numeric else ""}>{e(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        f"<tr{f' class={row_classes[r]}' if r < len(row_classes) and row_classes[r] else ''}>"
        + "".join(f"<td{' class=num' if i in numeric else ''}>{_cell(c)}</td>" for i, c in enumerate(row))
        + "</tr>"
        for r, row in enumerate(rows)
    )
    note = f'<p class="explain">{e(explain)}</p>' if explain else ""
    return f'<h3>{e(title)}</h3>{note}<table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _href(link: Link | None, kind: str, **params: Any) -> str | None:
    return link(kind, **params) if link is not None else None


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
    waits = [ln for ln in report.lanes if ln.get("share_of_waiting") is not None]
    if waits:
        top = max(waits, key=lambda ln: ln["share_of_waiting"])
        cards.append(
            (
                "Work waits most in",
                lane_name(top["lane"]),
                f"{100 * top['share_of_waiting']:.0f}% of all waiting · mean wait {dur(top['waiting']['mean'])}",
            )
        )
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="k">{e(k)}</div><div class="v">{e(v)}</div><div class="s">{e(s)}</div></div>'
            for k, v, s in cards
        )
        + "</div>"
    )


def _process_section(
    report: Report,
    index: int,
    pid: str,
    diagram: Diagram | None,
    bins: Sequence[HistogramBin] | None,
    link: Link | None,
) -> str:
    entry = next((p for p in report.processes if p["process"] == pid), None)
    out = [f'<section class="process" data-process="{e(pid)}"><h2>Process {e(pid)}</h2>']
    if entry is not None:
        ct = entry["cycle_time"]
        longest = entry.get("longest")
        slowest = ""
        if longest:
            href = _href(link, "instance", id=longest["instance"])
            name = _cell((f"instance {longest['instance']}", href))
            slowest = f"; the longest, {name}, took {e(dur(longest['cycle_time']))}"
        out.append(
            f'<p class="muted">{entry["instances"]} instance{"" if entry["instances"] == 1 else "s"} · cycle time p50 {e(dur(ct["p50"]))}, '
            f"p90 {e(dur(ct['p90']))} over {ct['count']} completed{slowest}</p>"
        )
    if diagram is None or diagram.empty:
        out.append(
            f'<p class="note no-bpmndi">{e(pid)}: {NO_LAYOUT}, so it is not drawn; the figures are below.</p>'
        )
    else:
        figures = activity_figures(report)
        mine = {s.element: figures[s.element] for s in diagram.shapes if s.element in figures}
        out.append(render_legend())
        out.append(f'<div class="panel">{render_svg(diagram, mine, f"d{index}", link)}</div>')
    out.append("<h3>Cycle time</h3>")
    if bins is None:
        bins = bins_of(entry.get("cycle_histogram") if entry is not None else None)
    out.append(render_histogram(bins))
    out.append("</section>")
    return "".join(out)  # fmt: skip


def _tables(report: Report, link: Link | None) -> str:
    inst = report.instances
    statuses = sorted(inst["by_status"])
    out = [
        _table(
            "Instances",
            ["PROCESS", "INSTANCES", *statuses, "CYCLE P50", "P90", "P99", "MEAN"],
            [
                [
                    p["process"],
                    p["instances"],
                    *[p["by_status"].get(s, 0) for s in statuses],
                    dur(p["cycle_time"]["p50"]),
                    dur(p["cycle_time"]["p90"]),
                    dur(p["cycle_time"].get("p99")),
                    dur(p["cycle_time"]["mean"]),
                ]
                for p in report.processes
            ],  # fmt: skip
            set(range(1, 6 + len(statuses))),
        )
    ]
    end = report.window.get("history_end")
    partial = [week_is_partial(t["week_start"], end) for t in report.throughput]
    out.append(
        _table(
            "Throughput per week (completed instances)",
            ["WEEK", "FROM", "COMPLETED"],
            [
                [
                    t["week"] + (f" (partial: the history ends {when(end)})" if part else ""),
                    t["week_start"],
                    t["completed"],
                ]
                for t, part in zip(report.throughput, partial, strict=True)
            ],  # fmt: skip
            {2},
            row_classes=["partial" if part else "" for part in partial],
        )
    )
    out.append(
        _table(
            "Lanes (human tasks)",
            [
                "LANE",
                "DONE",
                "WAIT P50",
                "WAIT P90",
                "WORK P50",
                "WORK P90",
                "SHARE OF ALL WAITING",
                "WAIT / CYCLE TIME",
            ],
            [
                [
                    (lane_name(ln["lane"]), _href(link, "lane_tasks", lane=ln["lane"])),
                    ln["tasks_done"],
                    dur(ln["waiting"]["p50"]),
                    dur(ln["waiting"]["p90"]),
                    dur(ln["processing"]["p50"]),
                    dur(ln["processing"]["p90"]),
                    _pct(ln.get("share_of_waiting")),
                    _pct(ln["waiting_share"]),
                ]
                for ln in report.lanes
            ],  # fmt: skip
            {1, 2, 3, 4, 5, 6, 7},
            explain=(
                "Share of all waiting: the lane's part of the waiting time (ready → claimed) of every human "
                'task in this report; the shares add up to 100%, and the demo\'s "99% of all waiting" is '
                "this figure. Wait / cycle time: the waiting in the lane's tasks of completed instances, "
                "divided by those instances' total cycle time; lanes waiting at the same time in parallel "
                "branches can add up to more than 100%."
            ),
        )
    )
    out.append(
        _table(
            "Bottlenecks (activities by total waiting time)",
            ["ACTIVITY", "LANE", "TASKS", "WAITED", "MEAN", "MAX"],
            [
                [
                    b["name"] or b["element"],
                    (b["lane"] or "", _href(link, "lane_tasks", lane=b["lane"])),
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
            "Boundary crossings lane → lane",
            ["FROM", "TO", "CROSSINGS", "PING-PONG"],
            [
                [
                    (
                        lane_name(c["from_lane"]),
                        _href(link, "crossings", from_lane=c["from_lane"], to_lane=c["to_lane"]),
                    ),
                    lane_name(c["to_lane"]),
                    c["count"],
                    c["ping_pong"],
                ]
                for c in report.crossings["by_lanes"]
            ],  # fmt: skip
            {2, 3},
            explain="Ping-pong: work sent straight back to the lane it came from.",
        )
    )
    out.append(
        _table(
            "SLA breaches by activity",
            ["ACTIVITY", "LANE", "BREACHES", "STILL OPEN", "WORST WAIT"],
            [
                [
                    d["name"] or d["element"],
                    (d["lane"] or "", _href(link, "delays", lane=d["lane"])),
                    d["count"],
                    d["still_open"],
                    dur(d["worst_wait_seconds"]),
                ]
                for d in report.delays["by_activity"]
            ],  # fmt: skip
            {2, 3, 4},
        )
    )
    out.append(
        _table(
            "SLA breaches by lane",
            ["LANE", "BREACHES", "OVER SLA"],
            [
                [
                    (lane_name(d["lane"]), _href(link, "delays", lane=d["lane"])),
                    d["count"],
                    dur(d["over_threshold_seconds"]),
                ]
                for d in report.delays["by_lane"]
            ],  # fmt: skip
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
    out.append(
        _table(
            "Ping-pong and rework per activity",
            ["ACTIVITY", "PING-PONG", "REWORK"],
            rows,
            {1, 2},
            explain=(
                "Ping-pong is counted at the human task the work was sent back to (an automated step on the "
                "way, such as a check run again, is not credited); rework counts each execution of a human "
                "task beyond its first in an instance."
            ),
        )
    )
    return "".join(out) or '<p class="muted">No data in this window.</p>'


def render_report_body(
    report: Report,
    diagrams: Mapping[str, Diagram | None],
    link: Link | None = None,
    *,
    histograms: Mapping[str, Sequence[HistogramBin]] | None = None,
) -> str:
    """The report as one `<div class="handoff-report">` fragment (see the module's docstring).

    `diagrams` maps process id -> its BPMNDI (or None). `histograms` replaces the report's own
    cycle-time bins of a process (tests, or bins computed elsewhere).
    """
    w = report.window
    title = f"Handoff report: {w['process'] or 'all processes'}"
    process_ids = sorted({p["process"] for p in report.processes} | set(diagrams))
    body = [
        '<div class="handoff-report">',
        f"<h1>{e(title)}</h1>",
        f'<p class="window">{e(window_sentence(w, report.instances["total"]))}</p>',
        _summary(report),
    ]
    for index, pid in enumerate(process_ids):
        bins = (histograms or {}).get(pid)
        body.append(_process_section(report, index, pid, diagrams.get(pid), bins, link))
    body.append('<section class="all"><h2>All processes in this report</h2>')
    body.append("<h3>Lane → lane handoffs</h3>")
    body.append(render_matrix(report.handoff_matrix, link))
    body.append(_tables(report, link))
    body.append("</section>")
    body.append(
        "<footer>Generated by Handoff (docs/report.md). Percentiles are nearest rank. On the diagram: mean "
        "waiting time per task, tasks done and Σ their total waiting time; the colour is the mean wait on the "
        "fixed scale of the legend, the same in every report.</footer></div>"
    )
    return "".join(body)


__all__ = ["NO_LAYOUT", "Cell", "render_report_body"]
