"""The web door's security, tried as an attacker would, against a real server on localhost: requests
without or with bad credentials, the wrong role or lane, forms without their CSRF token, sessions
across sign-in and sign-out, password guessing, headers, markup in task names, secrets in the logs."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from conftest import ROOT
from web_server import ORDER, PASSWORD, Site, populate, serve_process, site, work_rows

STATE_CHANGES = [
    ("POST", "/api/processes/web_api_order/instances", {"json": {}}),
    ("POST", "/api/deployments", {"files": [("files", ("o.bpmn", ORDER.read_bytes()))]}),
    ("POST", "/api/tasks/1/claim", {}),
    ("POST", "/api/tasks/1/complete", {"json": {"data": {"customer": "x", "amount": 1}}}),
    ("POST", "/api/instances/1/terminate", {"json": {}}),
    ("POST", "/api/messages/payment%20received", {"json": {"key": "K"}}),
    ("POST", "/api/users", {"json": {"name": "mallory", "role": "admin"}}),
    ("DELETE", "/api/users/olga", {}),
    ("PUT", "/api/sla", {"json": {"duration": "PT1H"}}),
    ("POST", "/api/users/ann/tokens", {"json": {}}),
    ("PUT", "/api/users/ann/password", {"json": {"password": "mallory was here"}}),
]


@pytest.fixture
def served(db_url: str):
    with site(db_url, passwords=("ann", "olga")) as running:
        with running.client("olga") as olga:
            r = olga.post("/api/processes/web_api_order/instances", json={"business_key": "K"})
            assert r.status_code == 201
        yield running


def sign_in(s: Site, name: str = "olga", password: str = PASSWORD, **kwargs) -> httpx.Client:
    client = httpx.Client(base_url=s.url, timeout=30)
    r = client.post("/login", data={"username": name, "password": password, **kwargs})
    assert r.status_code == 303, r.text
    return client


def with_cookie(s: Site, session_id: str) -> httpx.Client:
    return httpx.Client(base_url=s.url, cookies={"handoff_session": session_id}, timeout=30)


def test_no_or_bad_credentials_get_401_and_change_nothing(served: Site) -> None:
    before = work_rows(served.db_url)
    with served.client() as nobody:
        for method, path, options in STATE_CHANGES:
            for headers in ({}, {"Authorization": "Bearer hnd_forged"}, {"Authorization": "Basic b2xnYTp4"}):
                r = nobody.request(method, path, headers=headers, **options)
                assert r.status_code == 401, (method, path, headers, r.text)
                assert r.json()["error"] and "Traceback" not in r.text
                assert r.headers["www-authenticate"].startswith("Bearer")
        for path in ("/api/tasks", "/api/instances/1", "/api/report", "/api/export?format=csv", "/api/me"):
            assert nobody.get(path).status_code == 401, path
    with httpx.Client(base_url=served.url, cookies={"handoff_session": "x" * 43}) as forged:
        assert forged.get("/api/me").status_code == 401
    assert work_rows(served.db_url) == before


def test_wrong_role_or_lane_is_403_and_changes_nothing(served: Site) -> None:
    before = work_rows(served.db_url)
    with served.client("fin") as fin, served.client("ana") as ana, served.client("dora") as dora:
        assert fin.post("/api/tasks/1/claim").status_code == 403  # Sales' task, fin works in Finance
        assert (
            fin.post("/api/tasks/1/complete", json={"data": {"customer": "x", "amount": 1}}).status_code
            == 403
        )
        assert ana.post("/api/processes/web_api_order/instances", json={}).status_code == 403
        assert dora.post("/api/tasks/1/claim").status_code == 403
        assert fin.post("/api/users", json={"name": "mallory", "role": "admin"}).status_code == 403
        assert fin.post("/api/instances/1/terminate").status_code == 403
        r = fin.put("/api/sla", json={"duration": "PT1H"})
        assert r.status_code == 403 and "admin" in r.json()["error"]
    assert work_rows(served.db_url) == before


def test_session_cookie_flags_and_a_fresh_id_at_every_sign_in(served: Site) -> None:
    client = httpx.Client(base_url=served.url, timeout=30)
    first = client.post("/login", data={"username": "olga", "password": PASSWORD, "next": "/api/me"})
    assert first.status_code == 303 and first.headers["location"] == "/api/me"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on localhost; see the proxy test below
    old = client.cookies["handoff_session"]
    assert client.get("/api/me").json()["name"] == "olga"

    again = client.post("/login", data={"username": "olga", "password": PASSWORD})
    assert again.status_code == 303 and again.headers["location"] == "/"
    new = client.cookies["handoff_session"]
    assert new != old
    assert with_cookie(served, old).get("/api/me").status_code == 401  # replaced
    assert with_cookie(served, new).get("/api/me").status_code == 200

    csrf = client.get("/api/me").json()["csrf_token"]
    out = client.post("/logout", data={"csrf_token": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert with_cookie(served, new).get("/api/me").status_code == 401  # ended on the server
    client.close()


def test_secure_cookie_behind_a_configured_https_proxy(db_url: str) -> None:
    from web import WebSettings

    with site(db_url, passwords=("olga",), settings=WebSettings(proxy_header="X-Forwarded-Proto")) as s:
        r = httpx.post(
            s.url + "/login",
            data={"username": "olga", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
        assert r.headers["strict-transport-security"].startswith("max-age=")
        plain = httpx.post(s.url + "/login", data={"username": "olga", "password": PASSWORD})
        assert "Secure" not in plain.headers["set-cookie"]


def test_form_posts_without_the_csrf_token_are_403_and_change_nothing(served: Site) -> None:
    client = sign_in(served)
    csrf = client.get("/api/me").json()["csrf_token"]
    before = work_rows(served.db_url)
    assert client.post("/api/tasks/1/claim").status_code == 403
    assert client.post("/api/tasks/1/claim", data={"csrf_token": "forged"}).status_code == 403
    assert client.post("/api/tasks/1/claim", headers={"X-CSRF-Token": ""}).status_code == 403
    stale = client.post("/api/processes/web_api_order/instances", json={})
    assert stale.status_code == 403 and "CSRF" in stale.json()["error"]
    assert client.post("/logout").status_code == 403  # no token: still signed in
    assert work_rows(served.db_url) == before
    assert client.get("/api/me").status_code == 200

    claimed = client.post("/api/tasks/1/claim", data={"csrf_token": csrf})  # a form with its token
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "olga"
    released = client.post("/api/tasks/1/unclaim", headers={"X-CSRF-Token": csrf})
    assert released.status_code == 200
    client.close()


def test_sign_in_from_another_site_and_open_redirects_are_refused(served: Site) -> None:
    with httpx.Client(base_url=served.url) as client:
        foreign = client.post(
            "/login",
            data={"username": "olga", "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403 and "set-cookie" not in foreign.headers
        for target in ("//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:alert(1)"):
            r = client.post("/login", data={"username": "olga", "password": PASSWORD, "next": target})
            assert r.status_code == 303 and r.headers["location"] == "/", target


def test_revoked_and_expired_tokens_are_401(served: Site) -> None:
    from engine import Handoff, ManualClock, signin
    from storage import Database

    past = Handoff(Database(served.db_url), clock=ManualClock(datetime.now(UTC) - timedelta(days=2)))
    expired = signin.create_token(past, "olga", expires=timedelta(days=1), actor="ann").token
    past.db.dispose()
    with served.client("ann") as ann, served.client() as nobody:
        made = ann.post("/api/users/olga/tokens", json={"expires": "PT1H"}).json()
        live = {"Authorization": f"Bearer {made['token']}"}
        assert nobody.get("/api/tasks", headers=live).status_code == 200
        assert ann.delete(f"/api/tokens/{made['id']}").status_code == 200
        revoked = nobody.get("/api/tasks", headers=live)
        assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]
        assert nobody.get("/api/tasks", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
        # A removed user's tokens die with them.
        assert (
            nobody.get("/api/tasks", headers={"Authorization": f"Bearer {served.tokens['fin']}"}).status_code
            == 200
        )
        assert ann.delete("/api/users/fin").status_code == 200
        assert (
            nobody.get("/api/tasks", headers={"Authorization": f"Bearer {served.tokens['fin']}"}).status_code
            == 401
        )


def test_repeated_wrong_passwords_are_slowed_then_refused(db_url: str) -> None:
    from engine.signin import SigninPolicy
    from web import WebSettings

    policy = SigninPolicy(max_failures_per_name=3, max_failures_per_address=6, base_delay=0.2, max_delay=2.0)
    with site(db_url, passwords=("olga", "ann"), settings=WebSettings(policy=policy)) as s:
        with httpx.Client(base_url=s.url, timeout=30) as client:
            took = []
            for _ in range(3):
                started = time.monotonic()
                r = client.post("/login", data={"username": "olga", "password": "guess"})
                took.append(time.monotonic() - started)
                assert r.status_code == 401 and r.json()["error"] == "wrong user name or password"
            assert took[0] >= 0.2 and took[1] >= 0.4 and took[2] >= 0.8  # each failure waits longer
            refused = client.post("/login", data={"username": "olga", "password": PASSWORD})
            assert refused.status_code == 429  # even the right password: not even checked
            assert int(refused.headers["retry-after"]) > 0
            assert "too many failed sign-ins" in refused.json()["error"]
            assert "set-cookie" not in refused.headers

            # Another name from the same address counts towards the address's limit.
            for _ in range(3):
                assert (
                    client.post("/login", data={"username": "nobody", "password": "guess"}).status_code == 401
                )
            assert client.post("/login", data={"username": "ann", "password": PASSWORD}).status_code == 429

        with s.client("ann") as ann:
            actions = [e["action"] for e in ann.get("/api/audit", params={"name": "olga"}).json()]
        assert actions.count("signin_failed") == 3 and "signin_refused" in actions


def test_security_headers_on_every_answer(served: Site) -> None:
    with served.client("olga") as olga, served.client() as nobody:
        answers = [
            olga.get("/api/tasks"),
            nobody.get("/api/tasks"),  # 401
            olga.get("/api/nothing"),  # 404
            olga.post("/api/processes/web_api_order/instances", json={"data": {"x": "y" * 2_000_000}}),  # 413
            nobody.get("/api/docs"),
            nobody.post("/login", data={"username": "x", "password": "y"}),
        ]
    for r in answers:
        csp = r.headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]*)", csp)
        assert script_src and "unsafe-inline" not in script_src.group(1), r.request.url
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
    assert answers[3].status_code == 413


def test_markup_in_a_task_name_comes_back_as_escaped_json(served: Site, tmp_path) -> None:
    name = "<img src=x onerror=alert(1)>"
    source = ORDER.read_text().replace('name="Enter order"', 'name="&lt;img src=x onerror=alert(1)&gt;"')
    source = source.replace('id="web_api_order"', 'id="xss_order"')
    with served.client("ann") as ann, served.client("olga") as olga:
        r = ann.post("/api/deployments", files=[("files", ("xss.bpmn", source.encode()))])
        assert r.status_code == 201, r.text
        started = olga.post(
            "/api/processes/xss_order/instances", json={"data": {"note": "<script>x</script>"}}
        )
        assert started.status_code == 201
        for answer in (olga.get("/api/tasks"), olga.get(f"/api/instances/{started.json()['id']}")):
            assert answer.headers["content-type"] == "application/json"
            assert "<img" not in answer.text and "<script" not in answer.text
            assert "\\u003cimg src=x onerror=alert(1)\\u003e" in answer.text
        assert name in [t["name"] for t in olga.get("/api/tasks").json()]
        with served.client("fin") as fin:
            task = next(t for t in olga.get("/api/tasks").json() if t["name"] == name)
            refused = fin.post(f"/api/tasks/{task['id']}/claim")
            assert refused.status_code == 403 and "<img" not in refused.text


def test_no_password_token_or_session_id_in_the_server_log(db_url: str) -> None:
    tokens = populate(db_url, passwords=("ann", "olga"))
    with serve_process(db_url) as (url, process):
        assert process.poll() is None, getattr(process, "output", "")
        with httpx.Client(base_url=url, timeout=30) as client:
            assert (
                client.post("/login", data={"username": "olga", "password": "wrong guess 123"}).status_code
                == 401
            )
            assert client.post("/login", data={"username": "olga", "password": PASSWORD}).status_code == 303
            session_id = client.cookies["handoff_session"]
            csrf = client.get("/api/me").json()["csrf_token"]
            assert (
                client.get("/api/tasks", headers={"Authorization": f"Bearer {tokens['olga']}"}).status_code
                == 200
            )
            assert (
                client.get("/api/tasks", headers={"Authorization": "Bearer hnd_not_a_real_one"}).status_code
                == 401
            )
            made = client.post("/api/users/olga/tokens", json={}, headers={"X-CSRF-Token": csrf}).json()
            assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    log = process.output
    assert "GET /api/tasks" in log  # the log is there, and is the server's
    for secret in (
        PASSWORD,
        "wrong guess 123",
        session_id,
        csrf,
        tokens["olga"],
        made["token"],
        "hnd_not_a_real_one",
    ):
        assert secret not in log


def test_serve_refuses_to_start_without_an_admin_who_can_sign_in(sqlite_url: str) -> None:
    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli", "--db", sqlite_url, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert "handoff init" in serve("serve", "--port", "1").stderr
    assert serve("init").returncode == 0
    nobody = serve("serve", "--port", "1")
    assert nobody.returncode != 0 and "handoff users add NAME --role admin" in nobody.stderr
    assert serve("--user", "ann", "users", "add", "ann", "--role", "admin").returncode == 0
    no_password = serve("serve", "--port", "1")
    assert no_password.returncode != 0 and "handoff users passwd ann" in no_password.stderr


def test_web_is_a_door_nothing_imports() -> None:
    """engine, storage and bpmn never import web; web imports no CLI."""
    check = "import json, sys, {m}; print(json.dumps(sorted({{k.split('.')[0] for k in sys.modules}})))"
    import json

    for module, forbidden in (
        ("engine", {"web", "fastapi"}),
        ("storage", {"web"}),
        ("web", {"cli", "click"}),
    ):
        out = subprocess.run(
            [sys.executable, "-c", check.format(m=module)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        assert set(json.loads(out.stdout)) & forbidden == set(), module
