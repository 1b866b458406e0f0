"""Time zones for people (issue 15 item 6; docs/users.md): text output and web pages in the reader's zone
(`users add --tz`, else HANDOFF_TZ, else the machine's), with the zone named; stored and JSON times UTC."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from click.testing import CliRunner, Result
from web_pages_site import SignedIn, pages_site

from cli import main
from conftest import DATA, table_rows
from engine import Handoff
from engine.clock import ManualClock
from storage import Database

WINTER = datetime(2026, 1, 15, 8, 30, tzinfo=UTC)  # 09:30 CET in Berlin, 03:30 EST in New York


def cli(url: str, user: str, *args: object, as_json: bool = False, env: dict | None = None) -> Result:
    argv = ["--db", url, "--user", user, *(["--json"] if as_json else []), *map(str, args)]
    return CliRunner(env=env).invoke(main, argv)


def setup(url: str) -> int:
    app = Handoff(Database(url), clock=ManualClock(WINTER))
    try:
        app.init()
        app.deploy([DATA / "web_api_order.bpmn"], actor="setup")
        app.add_user("ann", role="admin", actor="setup")
        app.add_user("fay", role="operator", lanes=["Sales"], tz="Europe/Berlin", actor="ann")
        app.add_user("olga", role="operator", lanes=["Sales"], actor="ann")
        return app.start("web_api_order", actor="fay").tasks[0].id
    finally:
        app.db.dispose()


def test_text_in_the_readers_zone_json_in_utc(db_url: str) -> None:
    task = setup(db_url)
    berlin = cli(db_url, "fay", "tasks").stdout
    assert "2026-01-15 09:30:00 CET" in berlin and "UTC" not in berlin
    # olga chose no zone: HANDOFF_TZ, else the machine's
    new_york = cli(db_url, "olga", "tasks", env={"HANDOFF_TZ": "America/New_York"}).stdout
    assert "2026-01-15 03:30:00 EST" in new_york
    machine = cli(db_url, "olga", "tasks", env={"HANDOFF_TZ": ""}).stdout
    local = WINTER.astimezone(datetime.now().astimezone().tzinfo)
    assert local.strftime("%Y-%m-%d %H:%M:%S") in machine
    # the user's own choice wins over HANDOFF_TZ; JSON stays UTC whatever the zone
    assert "09:30:00 CET" in cli(db_url, "fay", "tasks", env={"HANDOFF_TZ": "America/New_York"}).stdout
    [listed] = json.loads(cli(db_url, "fay", "tasks", as_json=True).stdout)
    assert listed["id"] == task and listed["created_at"] == "2026-01-15T08:30:00Z"
    shown = cli(db_url, "fay", "show", 1).stdout
    assert "started 2026-01-15 09:30:00 CET by fay" in shown

    users = json.loads(cli(db_url, "ann", "users", "list", as_json=True).stdout)
    assert {u["name"]: u["tz"] for u in users} == {"ann": None, "fay": "Europe/Berlin", "olga": None}


def test_a_zone_is_checked_and_can_be_changed(db_url: str) -> None:
    setup(db_url)
    before = table_rows(db_url)
    bad = cli(db_url, "ann", "users", "add", "olga", "--tz", "Mars/Olympus")
    assert bad.exit_code == 2 and "unknown time zone 'Mars/Olympus'" in bad.stderr
    assert table_rows(db_url) == before
    changed = cli(db_url, "ann", "users", "add", "olga", "--tz", "Asia/Tokyo")
    assert changed.exit_code == 0 and "time zone (default) -> Asia/Tokyo" in changed.stdout
    assert "2026-01-15 17:30:00 JST" in cli(db_url, "olga", "tasks").stdout


def test_web_pages_in_the_viewers_zone(db_url: str) -> None:
    with pages_site(db_url) as (url, seed):
        seed.app.add_user("sam", tz="Europe/Berlin", actor="ada")  # the seed starts at 08:00 UTC, 2 March
        sam = SignedIn(url, "sam")
        page = sam.get(f"/instances/{seed.ids['claim_ok']}").text
        assert " CET" in page and " UTC" not in page
        fay = SignedIn(url, "fay")  # no zone of her own: the machine's (UTC here)
        machine = datetime(2026, 3, 2, tzinfo=UTC).astimezone(datetime.now().astimezone().tzinfo).tzname()
        assert f" {machine}" in fay.get(f"/instances/{seed.ids['order_waiting']}").text
        sam.close()
        fay.close()


def test_the_admin_page_sets_a_zone_and_an_address(db_url: str) -> None:
    with pages_site(db_url) as (url, seed):
        ada = SignedIn(url, "ada")
        answer = ada.post(
            "/admin/users",
            {
                "name": "sam",
                "role": "operator",
                "lanes": "Sales",
                "tz": "Asia/Tokyo",
                "email": "sam@example.org",
            },
        )
        assert answer.status_code == 303, answer.text
        sam = next(u for u in seed.app.users(actor="ada") if u.name == "sam")
        assert (sam.tz, sam.email, sam.lanes) == ("Asia/Tokyo", "sam@example.org", ("Sales",))
        refused = ada.post(
            "/admin/users", {"name": "sam", "role": "operator", "lanes": "Sales", "tz": "Nowhere"}
        )
        assert refused.status_code == 422 and "unknown time zone" in refused.text
        ada.close()
