"""`handoff report --format html`: the self-contained page, its BPMNDI diagram, heatmaps and a real Chromium.

A history built through the engine on a manual clock (SQLite and PostgreSQL): order_to_cash (the example,
full BPMNDI) with a rework loop, and worked_example (no BPMNDI). Chromium: Debian's `chromium`; without it
the browser test skips outside CI and fails in CI (CI=true).
"""

from __future__ import annotations

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
from engine.report_html import NO_LAYOUT, HistogramBin, activity_figures, render_html
from storage import repository as repo

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
