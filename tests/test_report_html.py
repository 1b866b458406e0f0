"""`handoff report --format html`: the self-contained page, its BPMNDI diagram, heatmaps and a real Chromium.

A history built through the engine on a manual clock (SQLite and PostgreSQL): order_to_cash (the example,
full BPMNDI) with a rework loop, and worked_example (no BPMNDI). Chromium: Debian's `chromium`; without it
the browser test skips outside CI and fails in CI (CI=true).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from bpmn.diagram import Diagram, diagram_for_process, parse_diagram
from conftest import DATA, EXAMPLE, IN_CI
from engine import Handoff
from engine.report import Report, build_report, dur
from engine.report_body import render_report_body
from engine.report_html import NO_LAYOUT, HistogramBin, activity_figures, render_html, report_css
from engine.report_svg import WAIT_BANDS
from storage import repository as repo
from storage.models import HumanTask, ProcessInstance

DAY = datetime(2026, 3, 2, tzinfo=UTC)
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def open_task(app: Handoff, instance: int, element: str) -> int:
    (task,) = [t for t in app.tasks(instance_id=instance) if t.element == element]
    return task.id


def order(app: Handoff, clock, start: datetime, waits: dict[str, int], *, refuse: bool = False) -> int:
    """One order: each human task waits `waits[element]` minutes, then is claimed and worked 10 minutes."""
    now = start
    clock.set(now)
    i = app.start("order_to_cash", actor="web").id

    def work(element: str, actor: str, data: dict | None = None) -> None:
        nonlocal now
        now += timedelta(minutes=waits.get(element, 5))
        clock.set(now)
        app.claim(open_task(app, i, element), actor=actor)
        now += timedelta(minutes=10)
        clock.set(now)
        app.complete(open_task(app, i, element), actor=actor, data=data or {})

    work("Task_RegisterOrder", "cs1", {"customer": "ACME <&> Co", "amount": 20000})
    if refuse:
        work("Task_ApproveCredit", "fin1", {"approved": False})
        work("Task_ReviseOrder", "sal1", {"amount": 9000})
    work("Task_ApproveCredit", "fin1", {"approved": True})
    work("Task_IssueInvoice", "fin2")
    work("Task_PickAndPack", "wh1")
    work("Task_ShipOrder", "wh2")
    return i


@pytest.fixture
def history(app: Handoff, clock) -> Handoff:
    app.deploy([EXAMPLE, DATA / "worked_example.bpmn"], actor="designer")
    base = {"Task_RegisterOrder": 20, "Task_ApproveCredit": 180, "Task_IssueInvoice": 60}
    order(app, clock, DAY.replace(hour=9), base)
    order(app, clock, DAY.replace(hour=10), {**base, "Task_ApproveCredit": 300}, refuse=True)
    order(app, clock, DAY.replace(day=3, hour=9), {**base, "Task_PickAndPack": 90})
    clock.set(DAY.replace(day=4, hour=9))
    w = app.start("worked_example", actor="ann").id
    clock.set(DAY.replace(day=4, hour=9, minute=30))
    app.complete(open_task(app, w, "submit"), actor="ann")
    return app


def diagrams_of(app: Handoff, report: Report) -> dict[str, Diagram | None]:
    """What Handoff.report_html does: the latest version's files of each process in the report."""
    out: dict[str, Diagram | None] = {}
    with app.db.reader() as session:
        for p in report.processes:
            definition = repo.latest_definition(session, p["process"])
            assert definition is not None
            files = [(f.name, f.content) for f in repo.definition_files(session, definition.id)]
            out[p["process"]] = diagram_for_process(files, p["process"])
    return out


def render(app: Handoff) -> tuple[str, Report, dict[str, Diagram | None]]:
    with app.db.reader() as session:
        report = build_report(session)
    diagrams = diagrams_of(app, report)
    return render_html(report, diagrams), report, diagrams


def test_diagram_parses_the_example_bpmndi() -> None:
    d = parse_diagram(EXAMPLE.read_bytes())
    assert d is not None
    kinds = [s.kind for s in d.shapes]
    assert kinds.count("participant") == 2 and kinds.count("lane") == 4
    assert kinds.count("task") == 8 and kinds.count("event") == 2 and kinds.count("gateway") == 3
    assert {e.kind for e in d.edges} == {"sequenceFlow", "messageFlow"}
    assert sum(e.kind == "messageFlow" for e in d.edges) == 3
    assert (d.bounds.x, d.bounds.y) == (160, 60) and d.bounds.w >= 1580
    approve = next(s for s in d.shapes if s.element == "Task_ApproveCredit")
    assert (approve.type, approve.name) == ("userTask", "Approve credit")
    assert parse_diagram((DATA / "worked_example.bpmn").read_bytes()) is None


def test_html_is_self_contained_with_diagram_heatmap_and_tables(history: Handoff) -> None:
    page, report, diagrams = render(history)
    # No network: not one URL, no xmlns, no script, no external stylesheet or font.
    assert not re.search(r"https?://", page)
    assert "xmlns" not in page and "<script" not in page and "<link" not in page and "@import" not in page
    assert "url(" not in page.replace("url(#d", "")  # only in-page marker references
    root = etree.fromstring(page.encode(), etree.HTMLParser())

    example = diagrams["order_to_cash"]
    assert example is not None and diagrams["worked_example"] is None
    (section,) = root.xpath('//section[@data-process="order_to_cash"]')
    (svg,) = section.xpath(".//svg[contains(@class, 'diagram')]")
    shapes = svg.xpath(".//g[contains(concat(' ', @class, ' '), ' shape ')]")
    assert len(shapes) == len(example.shapes) == 19
    assert sorted(g.get("data-element") for g in shapes) == sorted(s.element for s in example.shapes)
    assert len(svg.xpath(".//g[contains(@class, 'edge')]")) == len(example.edges)
    assert len(svg.xpath(".//polyline[@class='mflow']")) == 3
    assert len(svg.xpath(".//circle[contains(@class, 'event')]")) == 2
    assert len(svg.xpath(".//polygon[@class='gateway']")) == 3

    # Each human activity: its name, its figures on the shape and a fill from the colour scale.
    figures = activity_figures(report)
    approve = figures["Task_ApproveCredit"]
    # Approve credit waited 180, 300 (refused), 300 (after revision) and 180 minutes: 4 tasks, mean 4h.
    assert approve.tasks == 4 and approve.waiting_total == (180 + 300 + 300 + 180) * 60
    for element, name in [("Task_ApproveCredit", "Approve credit"), ("Task_RegisterOrder", "Register order"),
                          ("Task_ReviseOrder", "Revise order"), ("Task_PickAndPack", "Pick and pack")]:  # fmt: skip
        (g,) = svg.xpath(f".//g[@data-element='{element}']")
        text = " ".join(t.text for t in g.iter("text"))
        fig = figures[element]
        assert name in text
        assert (
            f"mean wait {dur(fig.waiting_mean)}" in text
            and f"{fig.tasks} task{'' if fig.tasks == 1 else 's'} · Σ {dur(fig.waiting_total)}" in text
        )
        assert g.find("rect").get("fill").startswith("#") and g.find("rect").get("fill") != "#e5e7eb"
    (approve_g,) = svg.xpath(".//g[@data-element='Task_ApproveCredit']")
    assert "mean wait 4h00m" in " ".join(t.text for t in approve_g.iter("text"))
    # Scripts have no waiting time: white, no figures.
    (script_g,) = svg.xpath(".//g[@data-element='Task_AssessRisk']")
    assert (
        script_g.find("rect").get("fill") == "#ffffff"
        and "mean wait" not in etree.tostring(script_g).decode()
    )
    assert section.xpath(".//div[@class='legend']")

    # The process without BPMNDI: a note, and its figures still in the tables.
    (other,) = root.xpath('//section[@data-process="worked_example"]')
    assert NO_LAYOUT in "".join(other.itertext()) and not other.xpath(".//svg[contains(@class, 'diagram')]")
    assert "Submit request" in page or "submit" in page

    # The lane x lane matrix: one cell per matrix entry, with its count and median latency.
    cells = root.xpath("//table[@class='matrix']//td[contains(@class, 'cell')]")
    assert len(cells) == len(report.handoff_matrix) > 0
    for m in report.handoff_matrix:
        (cell,) = [c for c in cells if c.get("data-from") == (m["from_lane"] or "(no lane)")
                   and c.get("data-to") == (m["to_lane"] or "(no lane)")]  # fmt: skip
        assert cell.get("data-count") == str(m["count"]) and f"median {dur(m['latency_p50'])}" in "".join(
            cell.itertext()
        )
    finance = [c for c in cells if c.get("data-from") == "Finance" and c.get("data-to") == "Warehouse"]
    assert finance and finance[0].get("data-count") == "3"

    # Histogram and tables.
    assert root.xpath("//svg[@class='histogram']//rect")
    for heading in ["Lanes (human tasks)", "Bottlenecks (activities by total waiting time)",
                    "Slowest handoffs actor → actor (by median latency)", "Instances"]:  # fmt: skip
        assert heading in page
    # Form data never reaches the page, and every name is escaped.
    assert "ACME" not in page


def test_escaping_and_real_histogram_bins(history: Handoff) -> None:
    with history.db.reader() as session:
        report = build_report(session)
    evil = "<script>alert(1)</script>"
    report.bottlenecks[0]["name"] = evil
    report.processes[0]["process"] = evil
    bins = {evil: [HistogramBin(0, 3600, 1), HistogramBin(3600, 7200, 2)]}
    page = render_html(report, {evil: None, "x&y": parse_diagram(EXAMPLE.read_bytes())}, histograms=bins)
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "1h00m–2h00m" in page and "per cycle-time bin of equal width" in page


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_report_opens_in_headless_chromium(history: Handoff, tmp_path: Path) -> None:
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("CI=true but chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium not installed")
    page, _, diagrams = render(history)
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    shot = tmp_path / "shot.png"
    common = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'profile'}",
    ]  # fmt: skip
    url = path.as_uri()
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<svg" in dom.stdout and 'data-element="Task_ApproveCredit"' in dom.stdout
    assert dom.stdout.count('class="shape ') == len(diagrams["order_to_cash"].shapes)  # type: ignore[union-attr]
    assert not re.search(r"CONSOLE.*(error|Error)|Uncaught", dom.stderr)
    run = subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1400,2000", "--hide-scrollbars", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 30_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("HANDOFF_REPORT_SHOT")
    if keep:
        shutil.copyfile(shot, keep)
        shutil.copyfile(path, Path(keep).with_suffix(".html"))


# --- what a reader sees (issue 14 item 26) and the shared body (for the dashboard) ---------------------

MEASURE = """<script>
// Test-only: measures what Chromium drew and writes it into the DOM for --dump-dom.
const out = {shapes: 0, texts: 0, outside: [], small: [], swatches: {}};
for (const g of document.querySelectorAll('svg.diagram g.shape.task')) {
  const rect = g.querySelector('rect').getBBox();
  out.shapes += 1;
  for (const t of g.querySelectorAll('text')) {
    const b = t.getBBox();
    out.texts += 1;
    if (b.x < rect.x - 0.5 || b.y < rect.y - 0.5 || b.x + b.width > rect.x + rect.width + 0.5
        || b.y + b.height > rect.y + rect.height + 0.5)
      out.outside.push([g.dataset.element, t.textContent, b.x, b.y, b.width, b.height, rect.width]);
  }
}
for (const t of document.querySelectorAll('svg text')) {
  const size = parseFloat(getComputedStyle(t).fontSize);
  if (size < 10) out.small.push([t.textContent, size]);
}
for (const s of document.querySelectorAll('.legend .swatch'))
  out.swatches[s.className] = getComputedStyle(s).backgroundColor;
const pre = document.createElement('pre');
pre.id = 'measured';
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


def chromium_measure(page: str, tmp_path: Path) -> dict:
    """Open the page in headless Chromium with the measuring script appended; what it measured."""
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("CI=true but chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium not installed")
    path = tmp_path / "measured.html"
    path.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    run = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'profile-m'}", "--window-size=1400,2000", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r'<pre id="measured">(.*?)</pre>', run.stdout, re.S)
    assert found, run.stdout[-2000:]
    return json.loads(html.unescape(found.group(1)))


def crowded(report: Report) -> Report:
    """The same report with figures as long as they get: five-digit counts, days of waiting, every extra."""
    for b in report.bottlenecks:
        b["tasks"] = 12345
        b["waiting_total"] = 12345 * 86400 * 2.5
    report.delays["by_activity"] = [
        {"element": b["element"], "name": b["name"], "lane": b["lane"], "count": 999, "still_open": 0,
         "worst_wait_seconds": 1.0}
        for b in report.bottlenecks
    ]  # fmt: skip
    report.rework[:] = [{"element": b["element"], "name": b["name"], "count": 888, "instances": 1}
                        for b in report.bottlenecks]  # fmt: skip
    return report


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_figures_fit_their_shapes_in_chromium(history: Handoff, tmp_path: Path) -> None:
    page, report, diagrams = render(history)
    measured = chromium_measure(page, tmp_path)
    assert measured["shapes"] == 8 and measured["texts"] >= 8 + 2 * 6  # names, two lines of figures each
    assert measured["outside"] == [] and measured["small"] == []

    # The longest figures there can be still fit, squeezed or broken over lines, never outside the shape.
    crowded_page = render_html(crowded(report), diagrams)
    measured = chromium_measure(crowded_page, tmp_path)
    assert measured["outside"] == [] and measured["small"] == []
    assert "12345 tasks ·" in crowded_page and "999 SLA" in crowded_page
    # Eight wait bands, each a colour of its own, from the stylesheet (no inline style).
    assert len(set(measured["swatches"].values())) == len(measured["swatches"]) == len(WAIT_BANDS) + 2


def test_colour_is_an_absolute_waiting_time(history: Handoff) -> None:
    page, report, diagrams = render(history)
    svg = etree.fromstring(page.encode(), etree.HTMLParser()).xpath("//svg[contains(@class, 'diagram')]")[0]

    def fill(element: str) -> str:
        return svg.xpath(f".//g[@data-element='{element}']/rect")[0].get("fill")

    # Register order waited 20 minutes each time, Revise order 5, Approve credit 4 hours on average.
    assert fill("Task_RegisterOrder") == "#fed976"  # 15m - 1h
    assert fill("Task_ReviseOrder") == "#ffeda0"  # 1m - 15m
    assert fill("Task_ApproveCredit") == "#fd8d3c"  # 4h - 8h
    labels = [b.label for b in WAIT_BANDS]
    assert labels[0] == "under 1m" and all(label in page for label in labels)

    # A process whose slowest activity waits 13 seconds is pale, not dark red: the scale is absolute.
    for b in report.bottlenecks:
        b["waiting_total"] = 13.0 * b["tasks"]
    quick = etree.fromstring(render_html(report, diagrams).encode(), etree.HTMLParser())
    fills = {g.get("data-element"): g.find("rect").get("fill")
             for g in quick.xpath("//svg[contains(@class, 'diagram')]//g[@data-mean-wait]")}  # fmt: skip
    assert fills and set(fills.values()) == {WAIT_BANDS[0].colour}


def test_histogram_is_real_bins_counted_in_sql(history: Handoff) -> None:
    page, report, _ = render(history)
    # The cycle times by hand: each order's clock in `order` (waits + 10 minutes' work per task).
    with history.db.reader() as session:
        cycles = sorted(
            (i.completed_at - i.created_at).total_seconds()
            for i in session.query(ProcessInstance).filter_by(process_id="order_to_cash", status="completed")
        )
    (entry,) = [p for p in report.processes if p["process"] == "order_to_cash"]
    hist = entry["cycle_histogram"]
    assert sum(b["count"] for b in hist["bins"]) == len(cycles) == 3
    for b in hist["bins"]:
        upper = b["upper"] if b["upper"] is not None else math.inf
        assert b["count"] == sum(1 for c in cycles if b["lower"] <= c < upper)
        assert b["upper"] is None or b["upper"] - b["lower"] == hist["width"]
    root = etree.fromstring(page.encode(), etree.HTMLParser())
    (section,) = root.xpath('//section[@data-process="order_to_cash"]')
    bars = section.xpath(".//svg[@class='histogram']//g[contains(@class, 'bar')]")
    assert [int(g.get("data-count")) for g in bars] == [b["count"] for b in hist["bins"]]
    heights = {
        int(g.get("data-count")): float(g.find("rect").get("height"))
        for g in bars
        if g.get("data-count") != "0"
    }
    assert len(set(heights.values())) == len(heights)  # taller for more instances
    assert "bin of equal width" in "".join(section.itertext())
    assert "(50%, 40%, 9%, 1%" not in page


def test_header_sentence_wait_share_partial_week_and_ping_pong(history: Handoff, clock) -> None:
    # One more order the next Tuesday: week 10 is then complete, week 11 (where the history ends) is not.
    order(history, clock, DAY.replace(day=10, hour=9), {})
    page, report, _ = render(history)
    text = " ".join(etree.fromstring(page.encode(), etree.HTMLParser()).itertext())
    assert "Instances started between Mon 2 Mar 2026 09:00 and Tue 10 Mar 2026 09:00 UTC" in text
    assert "[since, until)" not in text and "any time" not in text

    with history.db.reader() as session:
        filtered = build_report(session, since=DAY, until=DAY.replace(day=4))
    assert (
        "Instances started between Mon 2 Mar 2026 00:00 and Wed 4 Mar 2026 00:00 UTC (the end not included)"
        in (render_html(filtered, {}))
    )

    # Share of all waiting: each lane's waiting over all human tasks' waiting, from the task rows.
    with history.db.reader() as session:
        waits: dict[str, float] = {}
        for t in session.query(HumanTask).filter_by(state="completed"):
            waits[t.lane] = (
                waits.get(t.lane, 0.0) + ((t.claimed_at or t.completed_at) - t.created_at).total_seconds()
            )
    total = sum(waits.values())
    for lane in report.lanes:
        assert lane["share_of_waiting"] == pytest.approx(waits[lane["lane"]] / total)
    top = max(waits, key=lambda k: waits[k])
    # The card says it as the demo's headline does (engine/demo.py: lane total / all waiting).
    assert f"{100 * waits[top] / total:.0f}% of all waiting" in text and "Work waits most in" in text
    assert "Share of all waiting: the lane's part of the waiting time" in text

    root = etree.fromstring(page.encode(), etree.HTMLParser())
    (throughput,) = [t for t in root.xpath("//table[@class='data']") if "WEEK" in "".join(t.itertext())]
    rows = throughput.xpath(".//tbody/tr")
    assert [r.get("class") for r in rows] == [None, "partial"]
    assert "(partial: the history ends Tue 10 Mar 2026" in "".join(rows[1].itertext())

    # Ping-pong goes back to Finance through the automated Assess risk: the human task gets it.
    assert [(p["element"], p["count"]) for p in report.crossings["ping_pong"]] == [("Task_ApproveCredit", 1)]
    (pp,) = [t for t in root.xpath("//table[@class='data']") if "PING-PONG" in "".join(t.itertext())
             and "REWORK" in "".join(t.itertext())]  # fmt: skip
    cells = {r.xpath("./td")[0].text: r.xpath("./td")[1].text for r in pp.xpath(".//tbody/tr")}
    assert cells.get("Approve credit") == "1" and "Assess risk" not in cells


def test_one_body_for_page_and_dashboard_with_links(history: Handoff, clock) -> None:
    # One more order whose credit approval waits 10 hours, past its BPMN sla (PT8H): an SLA breach.
    order(history, clock, DAY.replace(day=5, hour=9), {"Task_ApproveCredit": 600})
    with history.db.reader() as session:
        report = build_report(session)
    diagrams = diagrams_of(history, report)
    asked: list[tuple[str, dict]] = []

    def link(kind: str, **params: object) -> str | None:
        asked.append((kind, params))
        return "/" + kind + "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items()))

    body = render_report_body(report, diagrams, link)
    plain = render_report_body(report, diagrams)
    # A fragment: no document, no script, no inline style (a strict CSP serves it with report_css()).
    for forbidden in ("<html", "<head", "<body", "<script", "<style", " style=", "<link"):
        assert forbidden not in body and forbidden not in plain
    assert body.startswith('<div class="handoff-report">') and "<a " not in plain
    assert plain in render_html(report, diagrams)  # the page is the same body, unlinked
    css = report_css()
    assert ".swatch.w0{" in css and "td.cell.m4{" in css and "url(" not in css and "@import" not in css

    root = etree.fromstring(body.encode(), etree.HTMLParser())
    hrefs = {a.get("href") for a in root.iter("a")}
    kinds = {k for k, _ in asked}
    assert {"lane_tasks", "handoffs", "crossings", "delays", "instance"} <= kinds
    assert "/lane_tasks?lane=Finance" in hrefs
    assert "/handoffs?from_lane=Finance&to_lane=Warehouse" in hrefs
    assert "/crossings?from_lane=Customer Service&to_lane=Finance" in hrefs
    assert "/delays?lane=Finance" in hrefs
    # The longest order (the refused one) links to its instance.
    (entry,) = [p for p in report.processes if p["process"] == "order_to_cash"]
    assert f"/instance?id={entry['longest']['instance']}" in hrefs
    # Each activity on the diagram links to its lane's tasks.
    shapes = root.xpath("//svg[contains(@class, 'diagram')]//a/g[contains(@class, 'shape')]")
    assert {g.get("data-element") for g in shapes} >= {"Task_ApproveCredit", "Task_RegisterOrder"}
    cell = root.xpath("//td[@data-from='Finance'][@data-to='Warehouse']")[0]
    assert cell.find("a").get("href") == "/handoffs?from_lane=Finance&to_lane=Warehouse"
