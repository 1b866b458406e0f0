"""Search by data (issue 15 item 5; docs/search.md): `handoff instances --var`, GET /api/instances?var=
and the web instance list over the instance variable table, kept in the state's transaction (also in
a simulator's batch), on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from cli import main
from conftest import DATA
from engine import Handoff
from storage import Database

CLAIM = DATA / "assignment_camunda.bpmn"
CLAIMS = [
    # (amount, region, note)
    (500, "EU", "late delivery"),
    (1500, "EU", "Late invoice"),
    (2500, "US", "on time"),
    (4711, "EU", "order 4711"),
    (1000, "EU", "exactly the limit"),
]


def cli(url: str, *args: object, as_json: bool = True) -> Result:
    return CliRunner().invoke(
        main, ["--db", url, "--user", "ann", *(["--json"] if as_json else []), *map(str, args)]
    )


def found(url: str, *conditions: str) -> list[int]:
    args: list[str] = []
    for c in conditions:
        args += ["--var", c]
    result = cli(url, "instances", *args)
    assert result.exit_code == 0, result.stderr
    return sorted(i["id"] for i in json.loads(result.stdout))


def variables(url: str) -> dict[int, dict[str, tuple]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT instance_id, name, num_value, text_value FROM instance_variable")
            )
            out: dict[int, dict[str, tuple]] = {}
            for instance_id, name, number, value in rows:
                out.setdefault(instance_id, {})[name] = (number, value)
            return out
    finally:
        engine.dispose()


def setup(url: str) -> tuple[Handoff, list[int]]:
    app = Handoff(Database(url))
    app.init()
    app.deploy([CLAIM], actor="setup")
    ids = []
    for amount, region, note in CLAIMS:
        view = app.start(
            "expense_claim",
            data={"starter": "ann", "amount": amount, "region": region, "note": note, "rush": amount > 2000},
            actor="ann",
        )
        ids.append(view.id)
    return app, ids


def test_var_filters_find_the_right_instances(db_url: str) -> None:
    app, ids = setup(db_url)
    try:
        small, late, us, order, limit = ids
        assert found(db_url, "amount>1000", "region=EU") == [late, order]  # the example
        assert found(db_url, "amount>=1000", "region=EU") == [late, order, limit]
        assert found(db_url, "amount<1000") == [small]
        assert found(db_url, "amount=4711") == [order]
        assert found(db_url, "note~LATE") == [small, late]  # contains, any case
        assert found(db_url, "rush=true") == [us, order]
        assert found(db_url, "region=eu") == []  # = is exact on text
        assert found(db_url, "missing=1") == []

        # the data changes with a completed task: the index follows in the same transaction
        [enter] = app.tasks(instance_id=small, actor="ann")
        app.complete(enter.id, data={"amount": 9000, "region": "US"}, actor="ann")
        assert found(db_url, "amount>1000", "region=EU") == [late, order]
        assert small in found(db_url, "amount>5000")
        assert variables(db_url)[small]["amount"] == (9000.0, None)
        assert variables(db_url)[small]["region"] == (None, "US")
    finally:
        app.db.dispose()

    bad = CliRunner().invoke(main, ["--db", db_url, "instances", "--var", "amount"])
    assert bad.exit_code == 2 and "is not NAME=VALUE" in bad.stderr and bad.stderr.count("\n") == 1


def test_dates_compare_in_order_and_text_output(db_url: str) -> None:
    app = Handoff(Database(db_url))
    try:
        app.init()
        app.deploy([CLAIM], actor="setup")
        early = app.start("expense_claim", data={"starter": "a", "due": "2026-03-01"}, actor="a").id
        late = app.start("expense_claim", data={"starter": "a", "due": "2026-04-15"}, actor="a").id
    finally:
        app.db.dispose()
    assert found(db_url, "due>2026-03-31") == [late]
    assert found(db_url, "due<2026-03-31") == [early]
    table = cli(db_url, "instances", "--var", "due>2026-03-31", as_json=False).stdout
    assert table.splitlines()[2].startswith(f"{late} ")


def test_a_simulated_batch_keeps_the_index(db_url: str) -> None:
    """The simulator's batch writes the variable rows at its end, like everything else it holds back."""
    app = Handoff(Database(db_url))
    try:
        app.init()
        app.deploy([CLAIM], actor="setup")
        with app.batch() as batch:
            first = batch.start("expense_claim", data={"starter": "a", "amount": 10}, actor="a")
            second = batch.start("expense_claim", data={"starter": "a", "amount": 20}, actor="a")
            batch.complete(first.tasks[0].id, data={"amount": 3000, "region": "EU"}, actor="a")
    finally:
        app.db.dispose()
    assert found(db_url, "amount>1000", "region=EU") == [first.id]
    assert found(db_url, "amount=20") == [second.id]
    assert variables(db_url)[first.id]["amount"] == (3000.0, None)


def test_the_http_api_and_the_web_list_filter_the_same(db_url: str) -> None:
    import httpx
    from lxml import html as lxml_html

    from engine import signin
    from web import create_app
    from web_server import serve_in_thread

    app, ids = setup(db_url)
    app.add_user("ann", role="admin", actor="setup")
    signin.set_password(app, "ann", "correct horse battery", actor="ann")
    token = signin.create_token(app, "ann", expires=None, actor="ann").token
    app.db.dispose()
    with serve_in_thread(create_app(db_url)) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as api:
            r = api.get("/api/instances", params=[("var", "amount>1000"), ("var", "region=EU")])
            assert r.status_code == 200, r.text
            assert sorted(i["id"] for i in r.json()) == [ids[1], ids[3]]
            bad = api.get("/api/instances", params={"var": "amount"})
            assert bad.status_code == 422 and "is not NAME=VALUE" in bad.json()["error"]
        with httpx.Client(base_url=url, headers={"accept": "text/html"}) as web:
            signed = web.post(
                "/login", data={"username": "ann", "password": "correct horse battery", "next": "/"}
            )
            assert signed.status_code == 303
            page = web.get("/instances", params=[("var", "amount>1000"), ("var", "region=EU")])
            assert page.status_code == 200
            listed = lxml_html.fromstring(page.text).xpath("//tr[@data-instance]/@data-instance")
            assert sorted(int(i) for i in listed) == [ids[1], ids[3]]
            inputs = lxml_html.fromstring(page.text).xpath("//input[@name='var']/@value")
            assert inputs == ["amount>1000", "region=EU"]
