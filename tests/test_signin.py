"""Sign-in use cases (engine/signin.py) and their CLI commands, on SQLite and PostgreSQL: what is stored
of each secret, who may set or revoke what, how sessions end, and how guessing is slowed and refused."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

import cli
from conftest import table_rows
from engine import Conflict, Forbidden, InvalidInput, NotFound, SetupRequired, signin
from engine.signin import SignInFailed, SigninPolicy, SignInRefused

POLICY = SigninPolicy(max_failures_per_name=3, max_failures_per_address=5, base_delay=0.5, max_delay=4.0)
SECRET = "correct horse battery"


@pytest.fixture
def people(app):
    app.add_user("ann", role="admin", actor="ann")
    app.add_user("olga", role="operator", lanes=["Sales"], actor="ann")
    app.add_user("fin", role="operator", lanes=["Finance"], actor="ann")
    return app


def everything_stored(db_url: str) -> str:
    return json.dumps(table_rows(db_url), default=str)


def test_passwords_are_argon2id_hashes_and_follow_the_rules(people, db_url: str) -> None:
    app = people
    signin.set_password(app, "olga", SECRET, actor="olga")  # her own
    stored = everything_stored(db_url)
    assert SECRET not in stored and "$argon2id$" in stored
    with pytest.raises(InvalidInput, match="at least 8"):
        signin.set_password(app, "olga", "short", actor="ann")
    app.add_user("margarete", role="analyst", actor="ann")
    with pytest.raises(InvalidInput, match="user's name"):
        signin.set_password(app, "margarete", " Margarete ", actor="ann")
    with pytest.raises(Forbidden, match="only admins"):
        signin.set_password(app, "olga", "fin was here", actor="fin")
    with pytest.raises(NotFound):
        signin.set_password(app, "nobody", SECRET, actor="ann")
    assert signin.password_matches(app, "olga", SECRET)
    assert not signin.password_matches(app, "olga", SECRET + "!")


def test_a_new_password_ends_the_users_sessions(people, clock) -> None:
    app = people
    signin.set_password(app, "olga", SECRET, actor="ann")
    session = signin.sign_in(app, "olga", SECRET, address="10.0.0.1", policy=POLICY)
    assert signin.session_identity(app, session.session_id, policy=POLICY).name == "olga"
    result = signin.set_password(app, "olga", "a brand new one", actor="ann")
    assert result.sessions_ended == 1
    assert signin.session_identity(app, session.session_id, policy=POLICY) is None


def test_tokens_are_stored_as_digests_and_revocable(people, db_url: str, clock) -> None:
    app = people
    made = signin.create_token(app, "olga", expires=timedelta(days=90), actor="olga")
    assert made.token.startswith("hnd_") and len(made.token) > 40
    assert made.token not in everything_stored(db_url)
    assert made.to_json()["expires_at"] == "2026-05-31T09:00:00Z"  # the fixture's clock + 90 days
    assert signin.token_identity(app, made.token).name == "olga"
    assert signin.token_identity(app, made.token + "x") is None
    assert signin.token_identity(app, "not even the format") is None

    with pytest.raises(Forbidden):
        signin.create_token(app, "ann", expires=None, actor="olga")
    with pytest.raises(Forbidden):
        signin.tokens(app, "olga", actor="fin")
    with pytest.raises(Forbidden):
        signin.revoke_token(app, made.view.id, actor="fin")
    assert [t.id for t in signin.tokens(app, "olga", actor="ann")] == [made.view.id]

    revoked = signin.revoke_token(app, made.view.id, actor="olga")
    assert revoked.state(clock()) == "revoked"
    assert signin.token_identity(app, made.token) is None
    with pytest.raises(Conflict, match="already revoked"):
        signin.revoke_token(app, made.view.id, actor="ann")
    with pytest.raises(NotFound):
        signin.revoke_token(app, 9999, actor="ann")

    short = signin.create_token(app, "olga", expires=timedelta(hours=1), actor="ann")
    clock.advance(hours=1, seconds=1)
    assert signin.token_identity(app, short.token) is None
    assert signin.tokens(app, "olga", actor="olga")[-1].state(clock()) == "expired"


def test_expiry_durations() -> None:
    assert signin.parse_expiry("P90D") == timedelta(days=90)
    assert signin.parse_expiry(None) is None
    for bad in ("tomorrow", "PT0S", "P20Y"):
        with pytest.raises(InvalidInput):
            signin.parse_expiry(bad)


def test_sessions_end_when_idle_too_long_or_too_old(people, clock) -> None:
    app = people
    signin.set_password(app, "olga", SECRET, actor="ann")
    policy = SigninPolicy(session_idle=timedelta(hours=1), session_lifetime=timedelta(hours=3))
    idle = signin.sign_in(app, "olga", SECRET, address="a", policy=policy)
    busy = signin.sign_in(app, "olga", SECRET, address="a", policy=policy)
    assert idle.session_id != busy.session_id and idle.csrf != busy.csrf
    for _ in range(3):  # busy is used every 50 minutes, idle never
        clock.advance(minutes=50)
        assert signin.session_identity(app, busy.session_id, policy=policy) is not None
    assert signin.session_identity(app, idle.session_id, policy=policy) is None  # unused for 150 min
    clock.advance(minutes=40)
    assert signin.session_identity(app, busy.session_id, policy=policy) is None  # 190 min > 3 h lifetime


def test_sign_out_ends_the_session_and_is_audited(people) -> None:
    app = people
    signin.set_password(app, "olga", SECRET, actor="ann")
    session = signin.sign_in(app, "olga", SECRET, address="a", policy=POLICY)
    assert signin.sign_out(app, session.session_id) == "olga"
    assert signin.sign_out(app, session.session_id) is None
    assert signin.session_identity(app, session.session_id, policy=POLICY) is None
    actions = [e.action for e in app.audit_log(subject="olga", actor="ann")]
    assert actions[-2:] == ["signed_in", "signed_out"]


def test_guessing_is_slowed_then_refused_until_the_window_passes(people, clock) -> None:
    app = people
    signin.set_password(app, "olga", SECRET, actor="ann")
    delays = []
    for _ in range(3):
        with pytest.raises(SignInFailed) as failed:
            signin.sign_in(app, "olga", "guess", address="10.0.0.9", policy=POLICY)
        delays.append(failed.value.delay)
    assert delays == [0.5, 1.0, 2.0]
    with pytest.raises(SignInRefused) as refused:
        signin.sign_in(app, "olga", SECRET, address="10.0.0.10", policy=POLICY)  # any address: per name
    assert 0 < refused.value.retry_after <= POLICY.window.total_seconds()
    clock.advance(seconds=POLICY.window.total_seconds() + 1)
    assert signin.sign_in(app, "olga", SECRET, address="10.0.0.10", policy=POLICY).identity.name == "olga"
    # A success forgives the name's failures: the next typo waits the first delay again.
    with pytest.raises(SignInFailed) as again:
        signin.sign_in(app, "olga", "typo", address="10.0.0.10", policy=POLICY)
    assert again.value.delay == 0.5


def test_unknown_names_fail_like_wrong_passwords_and_count_per_address(people) -> None:
    app = people
    signin.set_password(app, "fin", SECRET, actor="ann")
    messages = set()
    for name in ("mallory", "eve", "olga", "trent", "bob"):  # olga has no password: the same answer
        with pytest.raises(SignInFailed) as failed:
            signin.sign_in(app, name, "guess", address="192.0.2.1", policy=POLICY)
        messages.add(str(failed.value))
    assert messages == {"wrong user name or password"}
    with pytest.raises(SignInRefused):  # five failures from this address: its limit
        signin.sign_in(app, "fin", SECRET, address="192.0.2.1", policy=POLICY)
    assert signin.sign_in(app, "fin", SECRET, address="192.0.2.2", policy=POLICY).identity.role == "operator"
    failures = [e for e in app.audit_log(actor="ann") if e.action == "signin_failed"]
    assert len(failures) == 5 and all(e.data["address"] == "192.0.2.1" for e in failures)
    assert {e.data["reason"] for e in failures} == {"unknown user", "no password set"}


def test_removing_a_user_ends_their_tokens_and_sessions(people, db_url: str) -> None:
    app = people
    signin.set_password(app, "olga", SECRET, actor="ann")
    session = signin.sign_in(app, "olga", SECRET, address="a", policy=POLICY)
    token = signin.create_token(app, "olga", expires=None, actor="ann")
    app.remove_user("olga", actor="ann")
    assert signin.token_identity(app, token.token) is None
    assert signin.session_identity(app, session.session_id, policy=POLICY) is None
    rows = table_rows(db_url)
    assert rows["api_token"] == [] and rows["web_session"] == [] and rows["user_password"] == []


def test_serving_needs_an_admin_with_a_password(app) -> None:
    with pytest.raises(SetupRequired, match="handoff users add NAME --role admin"):
        signin.check_can_serve(app)
    app.add_user("ann", role="admin", actor="ann")
    with pytest.raises(SetupRequired, match="handoff users passwd ann"):
        signin.check_can_serve(app)
    signin.set_password(app, "ann", SECRET, actor="ann")
    assert signin.check_can_serve(app) == ["ann"]


# --- the CLI -----------------------------------------------------------------------------------------


def run(db_url: str, *args: str, input: str | None = None):
    return CliRunner().invoke(cli.main, ["--db", db_url, *args], input=input)


def test_cli_passwords_and_tokens(people, db_url: str) -> None:
    app = people
    assert (
        run(db_url, "--user", "olga", "users", "passwd", "olga", "--stdin", input=SECRET + "\n").exit_code
        == 0
    )
    assert signin.password_matches(app, "olga", SECRET)
    prompted = run(db_url, "--user", "ann", "users", "passwd", "fin", input="fin's secret\nfin's secret\n")
    assert prompted.exit_code == 0 and "password of fin set" in prompted.output
    assert "fin's secret" not in prompted.output  # not echoed
    mismatch = run(db_url, "--user", "ann", "users", "passwd", "fin", input="one secret\nanother\n" * 3)
    assert mismatch.exit_code != 0
    refused = run(
        db_url, "--user", "fin", "--json", "users", "passwd", "olga", "--stdin", input="hijacked!!\n"
    )
    assert refused.exit_code == 9 and "only admins" in json.loads(refused.stdout)["error"]

    made = run(db_url, "--user", "ann", "--json", "users", "token", "olga", "--expires", "P90D")
    assert made.exit_code == 0, made.output
    shape = json.loads(made.stdout)
    assert {"name", "id", "token", "expires_at"} <= set(shape) and shape["name"] == "olga"
    assert signin.token_identity(app, shape["token"]).name == "olga"
    plain = run(db_url, "--user", "olga", "users", "token", "olga")
    assert plain.exit_code == 0 and plain.stdout.strip().startswith("hnd_")  # only the token on stdout

    listed = run(db_url, "--user", "olga", "users", "tokens", "olga")
    assert listed.exit_code == 0 and "active" in listed.output and shape["token"] not in listed.output
    assert run(db_url, "--user", "olga", "users", "revoke", str(shape["id"])).exit_code == 0
    assert signin.token_identity(app, shape["token"]) is None
    again = run(db_url, "--user", "olga", "--json", "users", "revoke", str(shape["id"]))
    assert again.exit_code == 5 and "already revoked" in json.loads(again.stdout)["error"]
    bad = run(db_url, "--user", "ann", "users", "token", "olga", "--expires", "soon")
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


def test_migration_0008_down_and_up(db_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from storage import Database
    from storage.database import MIGRATIONS_DIR

    database = Database(db_url)
    try:
        database.upgrade()
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["engine"] = database.engine
        command.downgrade(cfg, "0007")
        assert database.current_revision() == "0007"
        before, after = database.upgrade()
        assert (before, after) == ("0007", database.head_revision())
        from alembic.script import ScriptDirectory

        # the upgrade passed where the sign-in and report branches meet, whatever came after it
        passed = {r.revision for r in ScriptDirectory.from_config(cfg).iterate_revisions(after, "0007")}
        assert "0010_signin_and_report" in passed
    finally:
        database.dispose()
