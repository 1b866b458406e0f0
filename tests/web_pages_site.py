"""The site the page and browser tests share: the demo's organisation (engine/demo.py), the order-to-cash
example and a claim process (tests/data/web_pages_claim.bpmn), work in several lanes on a manual clock,
served by a real uvicorn on a free 127.0.0.1 port.

`seeded(db_url)` builds the database; `pages_site(db_url)` serves it; `SignedIn` is an HTTP client
signed in through the sign-in form, with the CSRF token of its session at hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from conftest import DATA, EXAMPLE
from web_server import serve_in_thread

CLAIM = DATA / "web_pages_claim.bpmn"
PASSWORD = "correct horse battery"
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
XSS = "<img src=x onerror=alert(1)>"
XSS_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
SIGN_IN = ("ada", "dan", "cleo", "sam", "fay")  # admin, designer, analyst, Sales, Finance
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Seeded:
    """What the seed made: the application (with its manual clock) and the ids tests look for."""

    app: Any
    clock: Any
    ids: dict[str, int] = field(default_factory=dict)


def seeded(db_url: str) -> Seeded:
    """The demo's people with passwords, both processes deployed, and work in progress:

    - orders PO-1001..PO-1004: one shipped and closed (Finance waited 3 h), two waiting for credit approval
      in Finance, one being picked and invoiced;
    - claim CL-1 waiting for "Check claim" (Sales), CL-2 an incident (its script needs `rate`), CL-3 waiting
      in Finance at the task named `<img src=x onerror=alert(1)>`.
    """
    from engine import Handoff, ManualClock, signin
    from engine.demo import ADMIN, DESIGNER, register_people
    from storage import Database

    clock = ManualClock(START)
    app = Handoff(Database(db_url), clock=clock)
    app.init()
    register_people(app)
    for name in SIGN_IN:  # hashing is deliberately slow: only the people the tests sign in as
        signin.set_password(app, name, PASSWORD, actor=ADMIN)
    app.deploy([EXAMPLE], actor=DESIGNER)
    app.deploy([CLAIM], actor=DESIGNER)
    seed = Seeded(app, clock)

    def task(instance: int, name: str) -> int:
        found = [t for t in app.tasks(instance_id=instance, actor=ADMIN) if t.name == name]
        assert found, f"instance {instance} has no open task {name!r}"
        return found[0].id

    def work(instance: int, name: str, actor: str, minutes_waiting: float, data: dict[str, Any]) -> None:
        clock.advance(minutes=minutes_waiting)
        task_id = task(instance, name)
        app.claim(task_id, actor=actor)
        clock.advance(minutes=10)
        app.complete(task_id, data=data, actor=actor)

    orders = []
    for n in range(4):
        orders.append(app.start("order_to_cash", business_key=f"PO-100{n + 1}", actor="web-shop").id)
        clock.advance(minutes=15)
    register = {"customer": "Acme", "amount": 1200, "priority": "standard"}
    for o in orders:
        work(o, "Register order", "ann", 20, register)
    work(orders[0], "Approve credit", "fay", 180, {"approved": True, "note": ""})
    work(orders[0], "Pick and pack", "wes", 30, {"packages": 2})
    work(orders[0], "Issue invoice", "fred", 45, {"invoice_number": "INV-1001"})
    work(orders[0], "Ship order", "wyn", 20, {"carrier": "dhl", "tracking": "JD0001"})
    work(orders[3], "Approve credit", "fred", 60, {"approved": True, "note": ""})
    seed.ids.update(order_done=orders[0], order_waiting=orders[1], order_fulfilling=orders[3])
    seed.ids["approve_credit"] = task(orders[1], "Approve credit")

    ok = app.start("claim", data={"customer": "Acme", "rate": 0.5}, business_key="CL-1", actor="sam")
    seed.ids.update(claim_ok=ok.id, check_claim=task(ok.id, "Check claim"))
    incident = app.start("claim", data={"customer": "Globex"}, business_key="CL-2", actor="sam")
    seed.ids["claim_incident"] = incident.id
    from engine import ScriptFailed

    with suppress(ScriptFailed):  # the script needs `rate`: an incident
        app.complete(task(incident.id, "Check claim"), data={"amount": 300, "approved": True}, actor="sam")
    xss = app.start("claim", data={"customer": "Initech", "rate": 0.5}, business_key="CL-3", actor="sam")
    app.complete(task(xss.id, "Check claim"), data={"amount": 200, "approved": True}, actor="sam")
    seed.ids.update(claim_xss=xss.id, xss_task=task(xss.id, XSS))
    clock.advance(hours=3)
    return seed


@contextmanager
def pages_site(db_url: str) -> Iterator[tuple[str, Seeded]]:
    """The seeded database served with its pages; yields (base URL, what was seeded)."""
    from web import create_app

    seed = seeded(db_url)
    try:
        with serve_in_thread(create_app(db_url, handoff=seed.app)) as url:
            yield url, seed
    finally:
        seed.app.db.dispose()


class SignedIn:
    """An HTTP client signed in as NAME through the sign-in form, as a browser would be."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self.http = httpx.Client(base_url=url, timeout=30, headers={"accept": "text/html"})
        answer = self.http.post("/login", data={"username": name, "password": PASSWORD, "next": "/"})
        assert answer.status_code == 303, answer.text
        self.csrf = ""

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        answer = self.http.get(path, **kwargs)
        found = CSRF.search(answer.text)
        if found:
            self.csrf = found.group(1)
        return answer

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        if csrf and not self.csrf:
            self.get("/instances")
        body = dict(data or {})
        if csrf:
            body["csrf_token"] = self.csrf
        return self.http.post(path, data=body, **kwargs)

    def close(self) -> None:
        self.http.close()
