"""Repairing running work over the HTTP API (issue 16): migrations, on a real server, SQLite and
PostgreSQL; admins only, the CLI's --json shapes, nothing changed by a refused request."""

from __future__ import annotations

import pytest
from test_migration import V1, V2, populate

from engine import Handoff
from storage import Database
from web_server import Site, site, work_rows


@pytest.fixture
def served(db_url: str):
    with site(db_url) as running:
        yield running


def test_migration_dry_run_and_move_over_the_api(served: Site) -> None:
    app = Handoff(Database(served.db_url))
    try:
        where = populate(app, 10, actor="ann")
    finally:
        app.db.dispose()
    url = "/api/processes/claims/migrations"
    with served.client("olga") as olga, served.client("ann") as ann:
        before = work_rows(served.db_url)
        assert olga.post(url, json={"to_version": 2}).status_code == 403
        assert ann.post(url, json={"to_version": "two"}).status_code == 400
        assert ann.post(url, json={"to_version": 7}).status_code == 404
        assert ann.post("/api/processes/nothing/migrations", json={"to_version": 1}).status_code == 404
        dry = ann.post(url, json={"to_version": 2, "dry_run": True})
        assert dry.status_code == 200, dry.text
        assert work_rows(served.db_url) == before
        body = dry.json()
        assert body["summary"] == {
            "selected": 10,
            "can_move": 8,
            "migrated": 0,
            "cannot_move": 2,
            "failed": 0,
        }
        cannot = {m["id"] for m in body["instances"] if not m["movable"]}
        assert cannot == {i for i, stop in where.items() if stop == "inspect"}
        one = ann.post(url, json={"to_version": 2, "instances": [1]})
        assert one.status_code == 200 and one.json()["instances"][0]["outcome"] == "migrated"
        rest = ann.post(url, json={"to_version": 2, "from_version": 1})
        assert rest.json()["summary"]["migrated"] == 7
        shown = ann.get("/api/instances/2").json()
        assert shown["version"] == 2 and shown["tasks"][0]["name"] == "Check claim for completeness"
    assert V1.exists() and V2.exists()


def test_the_process_page_checks_and_moves_instances(db_url: str, tmp_path) -> None:
    """The web's process page (admins): a dry run lists each instance, the move moves them."""
    from web_pages_site import CLAIM, SignedIn, pages_site

    with pages_site(db_url) as (url, seed):
        v2 = tmp_path / "claim.bpmn"
        v2.write_text(CLAIM.read_text().replace('name="Check claim"', 'name="Check the claim"'))
        seed.app.deploy([v2], actor="dan")
        ada, dan = SignedIn(url, "ada"), SignedIn(url, "dan")
        page = ada.get("/processes/claim")
        assert page.status_code == 200 and "Move running instances" in page.text
        assert "Move running instances" not in dan.get("/processes/claim").text
        path = "/processes/claim/migrations"
        refused = dan.post(path, {"to_version": "2", "action": "check"})
        assert refused.status_code == 403
        checked = ada.post(path, {"to_version": "2", "action": "check"})
        assert checked.status_code == 200, checked.text
        assert "Dry run (nothing changed): 3 selected, 3 can move to v2" in checked.text
        assert seed.app.show(seed.ids["claim_ok"], actor="ada").version == 1
        moved = ada.post(path, {"to_version": "2", "from_version": "1", "action": "migrate"})
        assert "3 selected, 3 moved to v2, 0 cannot move, 0 failed." in moved.text
        shown = seed.app.show(seed.ids["claim_ok"], actor="ada")
        assert shown.version == 2 and [t.name for t in shown.tasks] == ["Check the claim"]
        assert ada.post(path, {"action": "check"}).status_code == 422


def test_restart_and_cancel_over_the_api(served: Site) -> None:
    from conftest import DATA

    app = Handoff(Database(served.db_url))
    try:
        app.deploy([DATA / "rework_pingpong.bpmn", DATA / "parallel_optional.bpmn"], actor="ann")
        article = app.start("article", actor="ann").id
        [draft] = app.tasks(instance_id=article, actor="ann")
        app.complete(draft.id, actor="ann")
        optional = app.start("optional_call", actor="ann").id
        call = next(t.id for t in app.tasks(instance_id=optional, actor="ann") if t.element == "call")
    finally:
        app.db.dispose()
    with served.client("olga") as olga, served.client("ann") as ann:
        assert olga.post(f"/api/instances/{article}/restart", json={"from": "draft"}).status_code == 403
        assert ann.post(f"/api/instances/{article}/restart", json={"from": "publish"}).status_code == 409
        assert ann.post(f"/api/instances/{article}/restart", json={}).status_code == 400
        restarted = ann.post(f"/api/instances/{article}/restart", json={"from": "draft", "data": {"n": 1}})
        assert restarted.status_code == 200, restarted.text
        assert [t["element"] for t in restarted.json()["tasks"]] == ["draft"]
        assert olga.post(f"/api/instances/{optional}/cancel", json={"task": call}).status_code == 403
        cancelled = ann.post(f"/api/instances/{optional}/cancel", json={"task": call})
        assert cancelled.status_code == 200 and [t["element"] for t in cancelled.json()["tasks"]] == [
            "handle"
        ]
        assert ann.post(f"/api/instances/{optional}/cancel", json={"task": call}).status_code == 409
        assert ann.post("/api/instances/999/cancel", json={"task": call}).status_code == 404
