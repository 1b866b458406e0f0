#!/usr/bin/env python3
"""Screenshots of every page for docs/web.md, on the demo's organisation and example.

    python3 scripts/web_screenshots.py [--out docs] [--chromium /usr/bin/chromium]

Builds a throw-away SQLite database: `handoff demo`'s quarter of order-to-cash (simulated), then a Monday
morning of live work on a manual clock (orders waiting in every lane, some past their SLA), an expense
claim process with a start form and an incident; serves it on a free 127.0.0.1 port and photographs each
page as the person who uses it, in Debian's headless Chromium (Playwright; no browser is downloaded).
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "demo password 1"
CLAIM = ROOT / "tests" / "data" / "web_pages_claim.bpmn"
MONDAY = datetime(2026, 1, 19, 7, 30, tzinfo=UTC)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def build(db_url: str, instances: int) -> tuple[Any, dict[str, int]]:
    from engine import Handoff, ManualClock, ScriptFailed, signin
    from engine.demo import ADMIN, DESIGNER, run_demo
    from storage import Database

    run_demo(db_url, instances=instances)
    clock = ManualClock(MONDAY)
    app = Handoff(Database(db_url), clock=clock)
    for name in ("ada", "dan", "cleo", "ann", "sam", "fay"):
        signin.set_password(app, name, PASSWORD, actor=ADMIN)
    # The claim process of the tests, with people's names instead of its markup-shaped ones.
    claim = tempfile.NamedTemporaryFile(suffix=".bpmn", prefix="expense-claim-", delete=False)  # noqa: SIM115
    text = CLAIM.read_text(encoding="utf-8")
    text = text.replace('name="&lt;img src=x onerror=alert(1)&gt;"', 'name="Pay claim"')
    text = text.replace('label="&lt;script&gt;alert(2)&lt;/script&gt;"', 'label="Payment reference"')
    text = text.replace(
        "Pay &lt;script&gt;alert(3)&lt;/script&gt; the payout.", "Pay the payout to the claimant."
    )
    claim.write(text.encode())
    claim.close()
    app.deploy([claim.name], actor=DESIGNER)
    Path(claim.name).unlink()
    ids: dict[str, int] = {}

    def task(instance: int, name: str) -> int:
        return next(t.id for t in app.tasks(instance_id=instance, actor=ADMIN) if t.name == name)

    def work(instance: int, name: str, actor: str, data: dict[str, Any], wait: float) -> None:
        clock.advance(minutes=wait)
        task_id = task(instance, name)
        app.claim(task_id, actor=actor)
        clock.advance(minutes=8)
        app.complete(task_id, data=data, actor=actor)

    customers = [
        "Acme",
        "Globex",
        "Initech",
        "Umbrella",
        "Hooli",
        "Stark",
        "Wayne",
        "Tyrell",
        "Soylent",
        "Wonka",
    ]
    orders = []
    for n, customer in enumerate(customers):
        orders.append(app.start("order_to_cash", business_key=f"SO-{4711 + n}", actor="web-shop").id)
        clock.advance(minutes=17)
        if n < 8:
            work(orders[-1], "Register order", "ann", {"customer": customer, "amount": 800 + 350 * n}, 6)
    for o in orders[:3]:
        work(o, "Approve credit", "fay", {"approved": True, "note": ""}, 35)
    work(orders[0], "Pick and pack", "wes", {"packages": 3}, 20)
    work(orders[0], "Issue invoice", "fred", {"invoice_number": "INV-4711"}, 12)
    work(orders[1], "Issue invoice", "fred", {"invoice_number": "INV-4712"}, 9)
    app.claim(task(orders[3], "Approve credit"), actor="fay")
    ids["order"] = orders[1]
    ok = app.start("claim", data={"customer": "Acme", "rate": 0.5}, business_key="EC-101", actor="sam")
    ids["check"] = task(ok.id, "Check claim")
    broken = app.start("claim", data={"customer": "Globex"}, business_key="EC-102", actor="sam")
    with suppress(ScriptFailed):
        app.complete(task(broken.id, "Check claim"), data={"amount": 420, "approved": True}, actor="sam")
    ids["incident"] = broken.id
    clock.advance(minutes=210)  # late afternoon: some work past its SLA, some close to it
    return app, ids


@contextmanager
def serve(app: Any) -> Iterator[str]:
    import uvicorn

    from web import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(str(app.db.url), handoff=app), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def shoot(url: str, ids: dict[str, int], out: Path, chromium: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    shots: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)

        def person(name: str | None) -> Any:
            context = browser.new_context(viewport={"width": 1280, "height": 820}, device_scale_factor=1)
            page = context.new_page()
            if name:
                page.goto(url + "/login")
                page.fill("#username", name)
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_load_state()
            return page

        def snap(page: Any, name: str, path: str | None = None, *, full: bool = False) -> None:
            if path is not None:
                page.goto(url + path)
            page.wait_for_load_state("load")
            target = out / f"web-{name}.png"
            page.screenshot(path=str(target), full_page=full)
            shots.append(target)

        snap(person(None), "login", "/login")
        fay = person("fay")
        snap(fay, "my-work", "/")
        sam = person("sam")
        sam.goto(url + f"/tasks/{ids['check']}")
        sam.fill("#f-amount", "12000")
        sam.click("button.primary")
        snap(sam, "task-error", full=True)
        snap(fay, "task", f"/tasks/{next_task(fay, url)}", full=True)
        snap(sam, "start", "/start/claim")
        ada = person("ada")
        snap(ada, "instances", "/instances?process=order_to_cash")
        snap(ada, "instance", f"/instances/{ids['order']}", full=True)
        snap(ada, "incident", f"/instances/{ids['incident']}")
        dan = person("dan")
        dan.goto(url + "/processes")
        dan.set_input_files("#files", str(ROOT / "tests" / "data" / "bad_dangling_flow.bpmn"))
        dan.click("button[value=validate]")
        snap(dan, "processes", full=True)
        snap(dan, "process", "/processes/order_to_cash")
        cleo = person("cleo")
        cleo.set_viewport_size({"width": 1280, "height": 1500})
        snap(cleo, "dashboard", "/dashboard?process=order_to_cash")
        cleo.set_viewport_size({"width": 1280, "height": 820})
        bottlenecks = cleo.locator(
            "h3:text-is('Bottlenecks (activities by total waiting time)') + table tbody tr"
        )
        bottlenecks.first.locator("td").nth(1).locator("a").click()
        snap(cleo, "lane-tasks")
        snap(ada, "admin", "/admin", full=True)
        browser.close()
    return shots


def next_task(page: Any, url: str) -> str:
    page.goto(url + "/")
    return str(page.locator("tr[data-task]").first.get_attribute("data-task"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--instances", type=int, default=300)
    options = parser.parse_args()
    out = Path(options.out)
    with tempfile.TemporaryDirectory() as folder:
        app, ids = build(f"sqlite:///{folder}/web-demo.db", options.instances)
        try:
            with serve(app) as url:
                shots = shoot(url, ids, out, options.chromium)
        finally:
            app.db.dispose()
    for shot in shots:
        print(shot.relative_to(ROOT) if shot.is_relative_to(ROOT) else shot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
