"""The HTTP API of DESIGN §8 over a real server (uvicorn on a localhost port), on SQLite and PostgreSQL:
every route with its status codes, the CLI's --json shapes, and nothing changed by a refused request."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from conftest import DATA
from web_server import ORDER, Site, site, work_rows


@pytest.fixture
def served(db_url: str):
    with site(db_url) as running:
        yield running


def start_order(s: Site, key: str = "SO-1", who: str = "olga") -> dict:
    with s.client(who) as c:
        r = c.post("/api/processes/web_api_order/instances", json={"business_key": key})
    assert r.status_code == 201, r.text
    return r.json()


def task_of(s: Site, instance: int, element: str, who: str = "ann") -> dict:
    with s.client(who) as c:
        tasks = c.get("/api/tasks", params={"instance": instance}).json()
    return next(t for t in tasks if t["element"] == element)


def complete(s: Site, who: str, task: int, data: dict) -> dict:
    with s.client(who) as c:
        r = c.post(f"/api/tasks/{task}/complete", json={"data": data})
    assert r.status_code == 200, r.text
    return r.json()


# --- processes and deployments -----------------------------------------------------------------------


def test_processes_versions_validate_and_deploy(served: Site) -> None:
    with served.client("olga") as olga, served.client("dora") as dora:
        listed = olga.get("/api/processes")
        assert listed.status_code == 200
        assert [p["process"] for p in listed.json()] == ["web_api_order"]
        assert listed.json()[0]["lanes"] == ["Sales", "Finance"]

        versions = olga.get("/api/processes/web_api_order/versions")
        assert versions.status_code == 200
        assert [v["version"] for v in versions.json()] == [1]
        assert olga.get("/api/processes/nope/versions").status_code == 404

        good = dora.post("/api/validate", files=[("files", ("order.bpmn", ORDER.read_bytes()))])
        assert good.status_code == 200
        assert good.json()["ok"] is True and good.json()["processes"] == ["web_api_order"]

        bad_bytes = (DATA / "bad_malformed.bpmn").read_bytes()
        bad = dora.post("/api/validate", files=[("files", ("broken.bpmn", bad_bytes))])
        assert bad.status_code == 200
        assert bad.json()["ok"] is False
        problem = bad.json()["problems"][0]
        assert problem["file"] == "broken.bpmn" and isinstance(problem["line"], int)

        quote = (DATA / "lifecycle.bpmn").read_bytes()
        deployed = dora.post("/api/deployments", files=[("files", ("quote.bpmn", quote))])
        assert deployed.status_code == 201, deployed.text
        assert [(d["process"], d["version"], d["new"]) for d in deployed.json()] == [("quote", 1, True)]
        again = dora.post("/api/deployments", files=[("files", ("quote.bpmn", quote))])
        assert [(d["process"], d["version"], d["new"]) for d in again.json()] == [("quote", 1, False)]

        before = work_rows(served.db_url)
        refused = dora.post("/api/deployments", files=[("files", ("broken.bpmn", bad_bytes))])
        assert refused.status_code == 422
        body = refused.json()
        assert body["error"] and body["problems"][0]["file"] == "broken.bpmn"
        assert body["problems"][0]["line"] == problem["line"] and body["problems"][0]["message"]
        assert "/tmp" not in refused.text  # the server's temporary folder never shows

        assert olga.post("/api/deployments", files=[("files", ("q.bpmn", quote))]).status_code == 403
        trusted = dora.post(
            "/api/deployments", files=[("files", ("q.bpmn", quote))], data={"trusted_scripts": "true"}
        )
        assert trusted.status_code == 403  # trusted scripts: admins only
        assert dora.post("/api/deployments", data={"x": "1"}).status_code == 400  # no files
        assert work_rows(served.db_url) == before


def test_upload_over_the_limit_is_413_and_stores_nothing(served: Site, monkeypatch) -> None:
    monkeypatch.setenv("HANDOFF_MAX_UPLOAD", "2KiB")  # read per request, by the server thread too
    before = work_rows(served.db_url)
    with served.client("dora") as dora:
        r = dora.post("/api/deployments", files=[("files", ("big.bpmn", ORDER.read_bytes()))])
    assert r.status_code == 413
    assert "big.bpmn" in r.json()["error"] and "2 KiB" in r.json()["error"]
    assert work_rows(served.db_url) == before


def test_json_body_over_the_limit_is_413(served: Site) -> None:
    before = work_rows(served.db_url)
    with served.client("olga") as olga:
        r = olga.post("/api/processes/web_api_order/instances", json={"data": {"x": "y" * (2 * 1024 * 1024)}})
    assert r.status_code == 413 and "too large" in r.json()["error"]
    assert work_rows(served.db_url) == before


# --- instances and tasks: the operator's path ------------------------------------------------------


def test_start_claim_complete_retry_and_message(served: Site) -> None:
    started = start_order(served)
    assert started["status"] == "running" and started["business_key"] == "SO-1"
    assert [t["element"] for t in started["tasks"]] == ["enter"]
    instance = started["id"]
    enter = started["tasks"][0]
    assert [f["id"] for f in enter["form"]] == ["customer", "amount"]

    with served.client("olga") as olga, served.client("fin") as fin, served.client("ann") as ann:
        assert olga.post("/api/processes/nope/instances", json={}).status_code == 404
        assert olga.post("/api/processes/web_api_order/instances", json={"data": [1]}).status_code == 400
        deep: dict = {}
        node = deep
        for _ in range(30):
            node["a"] = {}
            node = node["a"]
        too_deep = olga.post("/api/processes/web_api_order/instances", json={"data": deep})
        assert too_deep.status_code == 422

        assert [t["id"] for t in olga.get("/api/tasks").json()] == [enter["id"]]
        assert fin.get("/api/tasks").json() == []  # another lane's work is not shown
        assert fin.get("/api/tasks", params={"lane": "Sales"}).status_code == 403
        one = olga.get(f"/api/tasks/{enter['id']}")
        assert one.status_code == 200 and one.json()["form"][0]["id"] == "customer"
        assert fin.get(f"/api/tasks/{enter['id']}").status_code == 403
        assert olga.get("/api/tasks/999999").status_code == 404

        assert fin.post(f"/api/tasks/{enter['id']}/claim").status_code == 403
        claimed = olga.post(f"/api/tasks/{enter['id']}/claim")
        assert claimed.status_code == 200 and claimed.json()["assignee"] == "olga"
        assert [t["id"] for t in olga.get("/api/tasks", params={"mine": "1"}).json()] == [enter["id"]]
        assert ann.post(f"/api/tasks/{enter['id']}/claim").status_code == 409  # held by olga
        released = olga.post(f"/api/tasks/{enter['id']}/unclaim")
        assert released.status_code == 200 and released.json()["assignee"] is None

        before = work_rows(served.db_url)
        wrong = olga.post(
            f"/api/tasks/{enter['id']}/complete", json={"data": {"customer": "ACME", "amount": "lots"}}
        )
        assert wrong.status_code == 422
        assert wrong.json()["fields"] == ["amount"]
        unknown = olga.post(f"/api/tasks/{enter['id']}/complete", json={"data": {"colour": "red"}})
        assert unknown.status_code == 422
        assert work_rows(served.db_url) == before

        after_enter = complete(served, "olga", enter["id"], {"customer": "ACME", "amount": 100})
        assert [t["element"] for t in after_enter["tasks"]] == ["approve"]
        assert olga.post(f"/api/tasks/{enter['id']}/complete", json={"data": {}}).status_code == 409

        approve = after_enter["tasks"][0]
        failed = fin.post(f"/api/tasks/{approve['id']}/complete", json={"data": {"parts": 0}})
        assert failed.status_code == 422
        assert failed.json()["instance"] == instance and failed.json()["incident"] is True
        errors = olga.get("/api/instances", params={"status": "error"}).json()
        assert [i["id"] for i in errors] == [instance]

        assert olga.post(f"/api/instances/{instance}/retry", json={"data": {"parts": 2}}).status_code == 403
        retried = ann.post(f"/api/instances/{instance}/retry", json={"data": {"parts": 2}})
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "waiting" and retried.json()["data"]["share"] == 50

        shown = olga.get(f"/api/instances/{instance}")
        assert shown.status_code == 200
        assert shown.json()["waits_for"][0]["name"] == "payment received"
        assert "timeline" not in shown.json()  # as `handoff show`: the timeline is for history readers
        with served.client("ana") as ana:
            timeline = ana.get(f"/api/instances/{instance}").json()["timeline"]
        assert [e["kind"] for e in timeline][0] == "instance_started"

        assert olga.post("/api/messages/nobody%20waits", json={}).status_code == 404
        delivered = olga.post("/api/messages/payment%20received", json={"key": "SO-1", "data": {"paid": 100}})
        assert delivered.status_code == 200, delivered.text
        assert [(i["id"], i["status"]) for i in delivered.json()] == [(instance, "completed")]
        assert olga.get("/api/instances/424242").status_code == 404


def test_instance_list_filters_and_pages(served: Site) -> None:
    ids = [start_order(served, key=f"K{n}")["id"] for n in range(5)]
    with served.client("ana") as ana:
        everything = ana.get("/api/instances").json()
        assert [i["id"] for i in everything] == ids[::-1]  # newest first
        page = ana.get("/api/instances", params={"limit": 2, "offset": 1}).json()
        assert [i["id"] for i in page] == [ids[3], ids[2]]
        assert [i["id"] for i in ana.get("/api/instances", params={"key": "K2"}).json()] == [ids[2]]
        assert ana.get("/api/instances", params={"process": "nope"}).json() == []
        assert ana.get("/api/instances", params={"status": "sleepy"}).status_code == 422
        assert ana.get("/api/instances", params={"limit": 0}).status_code == 400
        assert ana.get("/api/instances", params={"limit": "many"}).status_code == 400


def test_suspend_resume_terminate(served: Site) -> None:
    instance = start_order(served)["id"]
    enter = task_of(served, instance, "enter")
    with served.client("olga") as olga, served.client("ann") as ann:
        assert olga.post(f"/api/instances/{instance}/suspend", json={"reason": "wait"}).status_code == 403
        held = ann.post(f"/api/instances/{instance}/suspend", json={"reason": "customer asked"})
        assert held.status_code == 200 and held.json()["status"] == "suspended"
        assert olga.post(f"/api/tasks/{enter['id']}/claim").status_code == 409
        resumed = ann.post(f"/api/instances/{instance}/resume")
        assert resumed.status_code == 200 and resumed.json()["status"] == "running"
        ended = ann.post(f"/api/instances/{instance}/terminate", json={"reason": "cancelled"})
        assert ended.status_code == 200 and ended.json()["status"] == "terminated"
        assert ann.post(f"/api/instances/{instance}/terminate").status_code == 409
        assert ann.post("/api/instances/999/resume").status_code == 404


def test_signals_start_and_reach_instances(served: Site) -> None:
    with served.client("ann") as ann:
        recall = (DATA / "product_recall.bpmn").read_bytes()
        assert ann.post("/api/deployments", files=[("files", ("recall.bpmn", recall))]).status_code == 201
        assert ann.post("/api/signals/nothing-waits", json={}).status_code == 404
        reached = ann.post("/api/signals/recall", json={"data": {"batch": "B-17"}})
        assert reached.status_code == 200, reached.text
        assert reached.json() and all("status" in i for i in reached.json())


# --- history, report, export -------------------------------------------------------------------------


def finished_order(s: Site, key: str = "SO-9") -> int:
    started = start_order(s, key=key)
    after = complete(s, "olga", started["tasks"][0]["id"], {"customer": "ACME", "amount": 90})
    complete(s, "fin", after["tasks"][0]["id"], {"parts": 3})
    return int(started["id"])


def test_history_records_report_and_export(served: Site) -> None:
    instance = finished_order(served)
    with served.client("ana") as ana, served.client("olga") as olga:
        history = ana.get(f"/api/instances/{instance}/history")
        assert history.status_code == 200
        body = history.json()
        assert [(h["from"]["actor"], h["to"]["actor"]) for h in body["handoffs"]] == [("olga", "fin")]
        assert [(c["from_lane"], c["to_lane"]) for c in body["crossings"]][0] == ("Sales", "Finance")
        assert body["timeline"] and "delays" in body
        assert olga.get(f"/api/instances/{instance}/history").status_code == 403  # operators: no history
        assert ana.get("/api/instances/999/history").status_code == 404

        for route in ("handoffs", "crossings", "delays"):
            r = ana.get(f"/api/{route}", params={"process": "web_api_order", "since": "2000-01-01"})
            assert r.status_code == 200 and isinstance(r.json(), list)
            assert olga.get(f"/api/{route}").status_code == 403
        assert len(ana.get("/api/handoffs", params={"lane": "Finance"}).json()) == 1
        assert ana.get("/api/handoffs", params={"lane": "Warehouse"}).json() == []
        assert ana.get("/api/handoffs", params={"until": "2000-01-01"}).json() == []
        assert ana.get("/api/handoffs", params={"since": "yesterday"}).status_code == 400

        report = ana.get("/api/report", params={"process": "web_api_order"})
        assert report.status_code == 200
        assert {"processes", "lanes", "handoff_matrix", "crossings", "delays", "bottlenecks"} <= set(
            report.json()
        )
        assert olga.get("/api/report").status_code == 403

        csv = ana.get("/api/export", params={"format": "csv", "process": "web_api_order"})
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.strip().splitlines()
        # completions of enter, approve and the script book (never claimed: no start events)
        assert lines[0].startswith("case_id,") and len(lines) == 1 + 3
        xes = ana.get("/api/export", params={"format": "xes"})
        assert xes.status_code == 200
        assert ET.fromstring(xes.content).tag.endswith("log")
        assert ana.get("/api/export", params={"format": "pdf"}).status_code == 422
        refused = olga.get("/api/export", params={"format": "csv"})
        assert refused.status_code == 403 and refused.json()["error"]


def test_export_streams_a_long_history(served: Site) -> None:
    """More than one chunk of the pipe: the answer arrives whole and in order."""
    for n in range(40):
        finished_order(served, key=f"L{n}")
    with served.client("ana") as ana, ana.stream("GET", "/api/export", params={"format": "csv"}) as r:
        assert r.status_code == 200
        body = b"".join(r.iter_bytes())
    rows = body.decode().strip().splitlines()
    assert len(rows) == 1 + 40 * 3
    cases = [int(row.split(",")[0]) for row in rows[1:]]
    assert cases == sorted(cases)


# --- administration ----------------------------------------------------------------------------------


def test_users_sla_audit(served: Site) -> None:
    with served.client("ann") as ann, served.client("olga") as olga:
        assert {u["name"] for u in olga.get("/api/users").json()} >= {"ann", "olga", "fin"}
        added = ann.post("/api/users", json={"name": "wes", "role": "operator", "lanes": ["Warehouse"]})
        assert added.status_code == 201 and added.json()["action"] == "added"
        changed = ann.post("/api/users", json={"name": "wes", "lanes": ["Sales"]})
        assert changed.status_code == 200 and changed.json()["action"] == "changed"
        assert olga.post("/api/users", json={"name": "eve", "role": "admin"}).status_code == 403
        assert ann.post("/api/users", json={"name": "eve", "role": "king"}).status_code == 422
        assert ann.post("/api/users", json={"role": "admin"}).status_code == 400
        removed = ann.delete("/api/users/wes")
        assert removed.status_code == 200 and removed.json()["action"] == "removed"
        assert ann.delete("/api/users/wes").status_code == 404
        assert ann.delete("/api/users/ann").status_code == 409  # the last admin stays

        assert ann.put("/api/sla", json={"duration": "PT4H", "lane": "Sales"}).status_code == 200
        assert ann.put("/api/sla", json={"duration": "P1D"}).json()["lane"] is None
        assert ann.put("/api/sla", json={"duration": "soon"}).status_code == 422
        assert olga.put("/api/sla", json={"duration": "PT1H"}).status_code == 403
        assert {s["duration"] for s in olga.get("/api/sla").json()} == {"PT4H", "P1D"}

        audit = ann.get("/api/audit", params={"name": "wes"}).json()
        assert [e["action"] for e in audit] == ["user_added", "user_changed", "user_removed"]


def test_tokens_and_passwords_over_the_api(served: Site) -> None:
    with served.client("olga") as olga, served.client("ann") as ann:
        made = olga.post("/api/users/olga/tokens", json={"expires": "P30D"})
        assert made.status_code == 201
        token = made.json()["token"]
        assert set(made.json()) >= {"name", "id", "token", "expires_at"}
        assert olga.post("/api/users/fin/tokens", json={}).status_code == 403  # not someone else's
        listed = olga.get("/api/users/olga/tokens").json()
        assert token not in json.dumps(listed)
        assert [t["state"] for t in listed] == ["active", "active"]

        with served.client() as nobody:
            mine = nobody.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            assert mine.status_code == 200 and mine.json()["name"] == "olga"
            assert olga.delete(f"/api/tokens/{made.json()['id']}").status_code == 200
            assert nobody.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        assert olga.delete(f"/api/tokens/{made.json()['id']}").status_code == 409
        assert olga.delete("/api/tokens/99999").status_code == 404

        assert olga.put("/api/users/olga/password", json={"password": "a new secret"}).status_code == 422
        assert (
            olga.put(
                "/api/users/olga/password", json={"password": "a new secret", "current_password": "guess"}
            ).status_code
            == 403
        )
        assert olga.put("/api/users/fin/password", json={"password": "a new secret"}).status_code == 403
        assert ann.put("/api/users/olga/password", json={"password": "short"}).status_code == 422
        assert ann.put("/api/users/olga/password", json={"password": "a new secret"}).status_code == 200
        changed = olga.put(
            "/api/users/olga/password",
            json={"password": "another secret", "current_password": "a new secret"},
        )
        assert changed.status_code == 200
        assert olga.get("/api/audit").status_code == 403  # operators do not read the audit


# --- the description, the doors agree, setup ---------------------------------------------------------


def test_openapi_and_browsable_docs_served_locally(served: Site) -> None:
    with served.client() as anyone:
        spec = anyone.get("/api/openapi.json")
        assert spec.status_code == 200
        paths = spec.json()["paths"]
        for route in (
            "/api/processes",
            "/api/processes/{process}/versions",
            "/api/deployments",
            "/api/validate",
            "/api/processes/{process}/instances",
            "/api/instances",
            "/api/instances/{instance_id}",
            "/api/instances/{instance_id}/history",
            "/api/instances/{instance_id}/retry",
            "/api/tasks",
            "/api/tasks/{task_id}/complete",
            "/api/messages/{name}",
            "/api/signals/{name}",
            "/api/handoffs",
            "/api/report",
            "/api/export",
            "/api/users",
            "/api/sla",
        ):
            assert route in paths, route
        page = anyone.get("/api/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN
        assert "<script>" not in page.text  # no inline script: the CSP allows none
        for src in (
            "/api/docs/assets/swagger-ui-bundle.js",
            "/api/docs/start.js",
            "/api/docs/assets/swagger-ui.css",
        ):
            asset = anyone.get(src)
            assert asset.status_code == 200 and len(asset.content) > 100, src
        assert anyone.get("/api/docs/assets/../../etc/passwd").status_code == 404
        schemes = spec.json()["components"]["securitySchemes"]
        assert schemes["token"]["scheme"] == "bearer" and schemes["session"]["name"] == "handoff_session"


def test_api_and_cli_agree_on_one_database(served: Site) -> None:
    import cli

    runner = CliRunner()
    instance = start_order(served, key="BOTH")["id"]
    seen = runner.invoke(cli.main, ["--db", served.db_url, "--user", "olga", "--json", "tasks"])
    assert seen.exit_code == 0, seen.output
    enter = next(t for t in json.loads(seen.output) if t["instance"] == instance)
    done = runner.invoke(
        cli.main,
        [
            "--db",
            served.db_url,
            "--user",
            "olga",
            "--json",
            "complete",
            str(enter["id"]),
            "--data",
            "customer=ACME",
            "--data",
            "amount=10",
        ],
    )
    assert done.exit_code == 0, done.output
    with served.client("fin") as fin:
        mine = fin.get("/api/tasks").json()
        assert [(t["instance"], t["element"]) for t in mine] == [(instance, "approve")]
        cli_view = json.loads(done.output)
        api_view = fin.get(f"/api/instances/{instance}").json()
        assert {k: api_view[k] for k in cli_view if k != "timeline"} == {
            k: v for k, v in cli_view.items() if k != "timeline"
        }


def test_unknown_routes_and_methods_answer_json(served: Site) -> None:
    with served.client("ann") as ann:
        missing = ann.get("/api/nothing-here")
        assert missing.status_code == 404 and missing.json()["error"]
        wrong = ann.delete("/api/processes")
        assert wrong.status_code == 405 and wrong.json()["error"]
        bad_json = ann.post(
            "/api/processes/web_api_order/instances",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert bad_json.status_code == 400 and bad_json.json()["error"].startswith("malformed request")


def test_schema_missing_is_503(db_url: str) -> None:
    import httpx

    from web import create_app
    from web_server import serve_in_thread

    with serve_in_thread(create_app(db_url, with_pages=False)) as url:
        r = httpx.get(url + "/api/tasks", headers={"Authorization": "Bearer hnd_whatever"})
    assert r.status_code == 503
    assert "handoff init" in r.json()["error"]
