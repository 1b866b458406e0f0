"""Comments on tasks and instances (issue 15 item 3; docs/comments.md): `handoff comment`, shown by
`show`, `history`, the web task and instance pages, exported as XES and CSV attributes, with the payload
limits of form data and the task's lane rules; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner, Result
from lxml import etree
from lxml import html as lxml_html
from web_pages_site import SignedIn, pages_site

from cli import main
from conftest import DATA, table_rows
from engine import Handoff
from engine.export import XES_NS
from storage import Database

CLAIM = DATA / "assignment_camunda.bpmn"


def cli(url: str, user: str, *args: object, as_json: bool = False) -> Result:
    argv = ["--db", url, "--user", user, *(["--json"] if as_json else []), *(str(a) for a in args)]
    return CliRunner().invoke(main, argv)


def setup(url: str) -> tuple[int, int]:
    """ann (admin), rita (Requester), hal (HR); a claim by rita waiting at its first task; (instance, task)."""
    app = Handoff(Database(url))
    try:
        app.init()
        app.deploy([CLAIM], actor="setup")
        app.add_user("ann", role="admin", actor="setup")
        app.add_user("rita", role="operator", lanes=["Requester"], actor="ann")
        app.add_user("hal", role="operator", lanes=["HR"], actor="ann")
        app.add_user("ana", role="analyst", actor="ann")
        view = app.start("expense_claim", data={"starter": "rita"}, actor="rita")
        return view.id, view.tasks[0].id
    finally:
        app.db.dispose()


def test_comments_in_show_history_and_exports(db_url: str, tmp_path) -> None:
    instance, task = setup(db_url)
    note = "waiting for the receipt\nfrom the hotel"
    added = cli(db_url, "rita", "comment", task, note, as_json=True)
    assert added.exit_code == 0, added.stderr
    body = json.loads(added.stdout)
    assert (body["task"], body["instance"], body["author"], body["text"]) == (task, instance, "rita", note)
    said = cli(db_url, "ann", "comment", "--instance", instance, "customer called: pay on Monday")
    assert said.exit_code == 0 and said.stdout.strip() == f"comment added to instance {instance} by ann"

    # show: to the operator (who may not read history) too
    shown = cli(db_url, "rita", "show", instance).stdout
    assert "comments:" in shown
    assert f"rita on task {task} (Enter claim):\n    waiting for the receipt\n    from the hotel" in shown
    assert "ann:\n    customer called: pay on Monday" in shown
    as_json = json.loads(cli(db_url, "rita", "show", instance, as_json=True).stdout)
    assert [(c["author"], c["task"], c["text"]) for c in as_json["comments"]] == [
        ("rita", task, note),
        ("ann", None, "customer called: pay on Monday"),
    ]

    history = cli(db_url, "ana", "history", instance).stdout
    row = next(line for line in history.splitlines() if "comment added Enter claim" in line)
    assert "rita" in row and "Requester" in row and "waiting for the receipt" in row
    assert any("comment added" in line and "customer called" in line for line in history.splitlines())

    # exports: the activity's comments on its events, the instance's on the trace (XES) / each row (CSV)
    done = cli(db_url, "rita", "complete", task, "--data", "amount=10")
    assert done.exit_code == 0, done.stderr
    xes = tmp_path / "log.xes"
    assert cli(db_url, "ana", "export", "--format", "xes", "--out", xes).exit_code == 0
    log = etree.parse(str(xes))
    ns = {"x": XES_NS}
    [trace] = log.getroot().findall("x:trace", ns)
    trace_comments = trace.find("x:string[@key='comments']", ns).get("value")
    assert trace_comments.startswith("ann ") and trace_comments.endswith(": customer called: pay on Monday")
    [enter_done] = [
        e
        for e in trace.findall("x:event", ns)
        if e.find("x:string[@key='element_id']", ns).get("value") == "enter"
    ]
    activity_comments = enter_done.find("x:string[@key='comments']", ns).get("value")
    assert activity_comments.startswith("rita ") and activity_comments.endswith(note)
    others = [e for e in trace.findall("x:event", ns) if e is not enter_done]
    assert all(e.find("x:string[@key='comments']", ns) is None for e in others)

    out = tmp_path / "log.csv"
    assert cli(db_url, "ana", "export", "--format", "csv", "--out", out).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    enter_row = next(r for r in rows if r["element"] == "enter")
    assert enter_row["comments"].endswith(note)
    assert all(r["case_comments"].endswith("customer called: pay on Monday") for r in rows)


def test_comments_are_refused_like_form_data_and_outside_the_lane(db_url: str) -> None:
    instance, task = setup(db_url)
    before = table_rows(db_url)
    for user, args, code, fragment in [
        ("hal", ("comment", task, "hello"), 9, "hal (operator) may not comment on task"),
        (
            "ana",
            ("comment", "--instance", instance, "hello"),
            9,
            "ana (analyst) may not comment on tasks and instances",
        ),
        ("rita", ("comment", task, "x" * (64 * 1024 + 1)), 2, "the comment is 65,537 bytes long"),
        ("rita", ("comment", task, "bell \x07"), 2, "the comment contains a control character"),
        ("rita", ("comment", task, "   "), 2, "a comment needs some text"),
        ("rita", ("comment", 999, "hello"), 4, "task 999 does not exist"),
    ]:
        result = cli(db_url, user, *args)
        assert result.exit_code == code, (args, result.stderr)
        assert fragment in result.stderr and result.stderr.count("\n") == 1, (args, result.stderr)
    assert table_rows(db_url) == before
    usage = cli(db_url, "rita", "comment", "just text")
    assert usage.exit_code == 2 and "comment TASK TEXT" in usage.stderr


def test_comments_through_the_http_api(db_url: str) -> None:
    import httpx

    from engine import signin
    from web import create_app
    from web_server import serve_in_thread

    instance, task = setup(db_url)
    app = Handoff(Database(db_url))
    tokens = {n: signin.create_token(app, n, expires=None, actor="ann").token for n in ("rita", "hal")}
    app.db.dispose()
    with serve_in_thread(create_app(db_url, with_pages=False)) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['rita']}"}) as rita:
            r = rita.post(f"/api/tasks/{task}/comments", json={"text": "on the task"})
            assert r.status_code == 201 and r.json()["author"] == "rita"
            r = rita.post(f"/api/instances/{instance}/comments", json={"text": "on the instance"})
            assert r.status_code == 201 and r.json()["task"] is None
            shown = rita.get(f"/api/instances/{instance}").json()
            assert [c["text"] for c in shown["comments"]] == ["on the task", "on the instance"]
            assert rita.post(f"/api/tasks/{task}/comments", json={"text": "a\x00b"}).status_code == 422
            assert rita.post(f"/api/tasks/{task}/comments", json={}).status_code in (400, 422)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['hal']}"}) as hal:
            assert hal.post(f"/api/tasks/{task}/comments", json={"text": "x"}).status_code == 403


def test_comments_on_the_web_task_and_instance_pages(db_url: str) -> None:
    with pages_site(db_url) as (url, seed):
        sam = SignedIn(url, "sam")  # Sales
        task, instance = seed.ids["check_claim"], seed.ids["claim_ok"]
        page = sam.get(f"/tasks/{task}")
        assert page.status_code == 200
        form = lxml_html.fromstring(page.text).xpath("//form[contains(@class, 'comment-form')]")[0]
        assert form.get("action") == f"/tasks/{task}/comment"
        # without the CSRF token nothing changes
        assert sam.post(f"/tasks/{task}/comment", {"text": "forged"}, csrf=False).status_code == 403
        answer = sam.post(f"/tasks/{task}/comment", {"text": "<b>call</b> the customer"})
        assert answer.status_code == 303 and answer.headers["location"].startswith(f"/tasks/{task}")
        answer = sam.post(f"/instances/{instance}/comment", {"text": "second note"})
        assert answer.status_code == 303
        for path in (f"/tasks/{task}", f"/instances/{instance}"):
            shown = lxml_html.fromstring(sam.get(path).text)
            texts = [p.text_content() for p in shown.xpath("//p[@class='comment-text']")]
            assert texts == ["<b>call</b> the customer", "second note"], path  # as text, never markup
            assert "forged" not in sam.get(path).text
        sam.close()
