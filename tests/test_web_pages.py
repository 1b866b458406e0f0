"""The web pages over HTTP against a real uvicorn on 127.0.0.1, on SQLite and PostgreSQL: what each kind
of person sees and can do, what they are refused, and that every value from BPMN or data is text."""

from __future__ import annotations

import re

import httpx
import pytest
from lxml import html as lxml_html
from web_pages_site import CLAIM, XSS, XSS_ESCAPED, SignedIn, pages_site

from conftest import DATA

PAGES = ["/", "/start", "/instances", "/processes", "/dashboard", "/admin"]
BOTTLENECK_LANE = "//h3[starts-with(., 'Bottlenecks')]/following-sibling::table[1]/tbody/tr[1]/td[2]/a"


def doc(answer: httpx.Response) -> lxml_html.HtmlElement:
    return lxml_html.fromstring(answer.text)


def field_error(answer: httpx.Response, field: str) -> str:
    """The error shown beside a form field (the page's `.field[data-field=...] .error`)."""
    found = doc(answer).xpath(f'//div[@data-field="{field}"]//p[contains(@class, "error")]')
    return found[0].text_content().strip() if found else ""


def assert_clean(answer: httpx.Response) -> None:
    """No inline script or style anywhere: the CSP forbids them, so the pages must not need them."""
    page = doc(answer)
    assert not page.xpath("//script[not(@src)]"), "inline script"
    assert not page.xpath("//*[@style]"), "inline style attribute"
    assert not page.xpath("//style"), "style element"
    assert not page.xpath("//*[@*[starts-with(name(), 'on')]]"), "event handler attribute"


def test_pages_ask_who_you_are_first(db_url: str) -> None:
    with (
        pages_site(db_url) as (url, _seed),
        httpx.Client(base_url=url, headers={"accept": "text/html"}) as web,
    ):
        for path in [*PAGES, "/tasks/1", "/instances/1"]:
            answer = web.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/login"), path
        assert web.get("/instances/1").headers["location"] == "/login?next=%2Finstances%2F1"
        login = web.get("/login?next=/instances/1")
        assert login.status_code == 200
        form = doc(login).xpath("//form[@method='post']")[0]
        assert form.get("action") == "/login?next=%2Finstances%2F1"
        assert {i.get("name") for i in form.xpath(".//input")} >= {"username", "password"}
        assert "default-src 'self'" in login.headers["content-security-policy"]
        assert login.headers["x-frame-options"] == "DENY"
        wrong = web.post("/login?next=/instances/1", data={"username": "sam", "password": "nope"})
        assert wrong.status_code == 401
        assert doc(wrong).xpath("//p[@role='alert']"), "the sign-in form again, with the reason"
        right = web.post(
            "/login?next=/instances/1", data={"username": "sam", "password": "correct horse battery"}
        )
        assert right.status_code == 303 and right.headers["location"] == "/instances/1"


def test_operator_works_her_lane_only(db_url: str) -> None:
    with pages_site(db_url) as (url, seed):
        sam, fay = SignedIn(url, "sam"), SignedIn(url, "fay")
        check = seed.ids["check_claim"]
        work = sam.get("/")
        assert work.status_code == 200
        assert_clean(work)
        rows = doc(work).xpath("//tr[@data-task]")
        assert [r.get("data-task") for r in rows] == [str(check)], "only her lane's open task"
        assert "CL-1" in rows[0].text_content() and "claim" in rows[0].text_content()
        assert (
            "within SLA" in rows[0].text_content()
        )  # Check claim has sla PT4H; it waited 3 h 50 min... or less
        finance = fay.get("/").text
        assert "Check claim" not in finance and "Approve credit" in finance

        # Claiming needs the session's CSRF token: without it nothing changes.
        refused = sam.post(f"/tasks/{check}/claim", {"back": "/"}, csrf=False)
        assert refused.status_code == 403
        assert seed.app.tasks(instance_id=seed.ids["claim_ok"], actor="ada")[0].state == "ready"
        claimed = sam.post(f"/tasks/{check}/claim", {"back": "/"})
        assert claimed.status_code == 303 and claimed.headers["location"] == f"/?notice=claimed&n={check}"
        assert "claimed by you" in sam.get("/").text

        page = sam.get(f"/tasks/{check}")
        assert page.status_code == 200
        assert_clean(page)
        tree = doc(page)
        assert tree.xpath("//div[@class='instructions']//strong")[0].text == "Acme"  # {{ customer }} filled
        assert "Compare the claim with the receipts." in page.text
        assert tree.xpath("//input[@name='f-amount']") and tree.xpath("//input[@name='f-approved'][@checked]")
        assert tree.xpath("//*[contains(@class, 'm-here')][@data-element='check']"), (
            "this task on the diagram"
        )

        wrong = sam.post(f"/tasks/{check}/complete", {"f-amount": "abc", "f-approved": "true"})
        assert wrong.status_code == 422
        assert field_error(wrong, "amount") == "must be a whole number, got 'abc'"
        assert doc(wrong).xpath("//input[@name='f-amount']/@value") == ["abc"], "what was typed stays"
        too_big = sam.post(f"/tasks/{check}/complete", {"f-amount": "20000"})
        assert field_error(too_big, "amount") == "must be at most 10000, got 20000"
        missing = sam.post(f"/tasks/{check}/complete", {"f-amount": ""})
        assert field_error(missing, "amount").startswith("required")
        assert seed.app.show(seed.ids["claim_ok"], actor="ada").status != "completed"

        # Another lane's operator can neither see nor open it, nor complete it.
        assert fay.get(f"/tasks/{check}").status_code == 403
        assert fay.post(f"/tasks/{check}/complete", {"f-amount": "5"}).status_code == 403

        done = sam.post(f"/tasks/{check}/complete", {"f-amount": "250", "f-note": "receipts ok"})
        assert done.status_code == 303 and done.headers["location"] == f"/?notice=completed&n={check}"
        after = seed.app.show(seed.ids["claim_ok"], actor="ada")
        assert after.data["amount"] == 250 and after.data["approved"] is False  # unticked: false
        assert "Task " + str(check) + " is done." in sam.get(done.headers["location"]).text
        assert sam.get("/tasks/99999").status_code == 404
        sam.close()
        fay.close()


def test_start_form(db_url: str) -> None:
    with pages_site(db_url) as (url, seed):
        sam, cleo = SignedIn(url, "sam"), SignedIn(url, "cleo")
        listing = sam.get("/start")
        assert doc(listing).xpath("//a[@href='/start/claim']")
        form = sam.get("/start/claim")
        assert doc(form).xpath("//input[@name='f-customer']") and doc(form).xpath(
            "//input[@name='f-rate'][@value='0.5']"
        )
        refused = sam.post("/start/claim", {"f-customer": "", "f-rate": "half", "business_key": "CL-9"})
        assert refused.status_code == 422
        assert field_error(refused, "customer").startswith("required")
        assert field_error(refused, "rate") == "must be a number, got 'half'"
        assert not [i for i in seed.app.instances(actor="ada") if i.business_key == "CL-9"]
        started = sam.post("/start/claim", {"f-customer": "Hooli", "f-rate": "0.25", "business_key": "CL-9"})
        assert started.status_code == 303
        new_id = int(started.headers["location"].split("/")[2].split("?")[0])
        view = seed.app.show(new_id, actor="ada")
        assert view.business_key == "CL-9" and view.data == {"customer": "Hooli", "rate": 0.25}
        assert view.started_by == "sam"
        broken = seed.app.start(
            "claim", data={"customer": "Nobody"}, actor="sam"
        )  # no rate: its script fails
        check = broken.tasks[0].id
        failed = sam.post(f"/tasks/{check}/complete", {"f-amount": "10", "f-approved": "true"})
        assert failed.status_code == 303
        assert failed.headers["location"] == f"/instances/{broken.id}?notice=completed_failed&n={check}"
        assert seed.app.show(broken.id, actor="ada").status == "error"
        assert "the instance is an incident now" in sam.get(failed.headers["location"]).text
        assert cleo.get("/start").status_code == 403  # analysts do not start work
        assert cleo.post("/start/claim", {"f-customer": "X"}).status_code == 403
        sam.close()
        cleo.close()


def test_instance_page_and_incident_retry(db_url: str) -> None:
    with pages_site(db_url) as (url, seed):
        ada, sam = SignedIn(url, "ada"), SignedIn(url, "sam")
        incident = seed.ids["claim_incident"]
        page = ada.get(f"/instances/{incident}")
        assert page.status_code == 200
        assert_clean(page)
        tree = doc(page)
        assert "Incident" in tree.xpath("//section[@class='incident']/h2")[0].text_content()
        assert "rate" in tree.xpath("//section[@class='incident']//p[@class='error']")[0].text_content()
        assert tree.xpath("//*[contains(@class, 'm-failed')][@data-element='compute']")
        assert tree.xpath("//*[contains(@class, 'm-done')][@data-element='check']")
        assert tree.xpath("//polyline[@class='m-flow']"), "the path taken is drawn"
        assert sam.get(f"/instances/{incident}").status_code == 200
        assert not doc(sam.get(f"/instances/{incident}")).xpath("//form[contains(@action, '/retry')]")
        assert sam.post(f"/instances/{incident}/retry", {"data": '{"rate": 1}'}).status_code == 403

        bad = ada.post(f"/instances/{incident}/retry", {"data": "{rate: 1"})
        assert bad.status_code == 422 and "not JSON" in bad.text
        assert seed.app.show(incident, actor="ada").status == "error"
        retried = ada.post(f"/instances/{incident}/retry", {"data": '{"rate": 0.5}'})
        assert retried.status_code == 303
        view = seed.app.show(incident, actor="ada")
        assert view.status in ("running", "waiting") and view.data["payout"] == 150
        after = doc(ada.get(f"/instances/{incident}"))
        assert not after.xpath("//section[@class='incident']")
        assert after.xpath("//*[contains(@class, 'm-waiting')][@data-element='pay']")

        suspended = ada.post(f"/instances/{incident}/suspend", {"reason": "checking"})
        assert suspended.status_code == 303 and seed.app.show(incident, actor="ada").status == "suspended"
        assert ada.post(f"/instances/{incident}/resume").status_code == 303
        unsure = ada.post(f"/instances/{incident}/terminate")
        assert unsure.status_code == 422 and seed.app.show(incident, actor="ada").status == "running"
        assert ada.post(f"/instances/{incident}/terminate", {"confirm": "yes"}).status_code == 303
        assert seed.app.show(incident, actor="ada").status == "terminated"

        listing = ada.get("/instances", params={"process": "claim", "status": "terminated"})
        assert [r.get("data-instance") for r in doc(listing).xpath("//tr[@data-instance]")] == [str(incident)]
        by_key = ada.get("/instances", params={"key": "PO-1001"})
        assert [r.get("data-instance") for r in doc(by_key).xpath("//tr[@data-instance]")] == [
            str(seed.ids["order_done"])
        ]
        timeline = doc(ada.get(f"/instances/{seed.ids['order_done']}")).xpath("//ol[@class='timeline']")[0]
        assert "handoff ann → fay" in timeline.text_content()
        assert "crossed Customer Service → Finance" in timeline.text_content()
        ada.close()
        sam.close()


def test_dashboard_figures_lead_to_the_work_behind_them(db_url: str) -> None:
    with pages_site(db_url) as (url, seed):
        cleo, sam = SignedIn(url, "cleo"), SignedIn(url, "sam")
        page = cleo.get("/dashboard", params={"process": "order_to_cash"})
        assert page.status_code == 200
        assert_clean(page)
        tree = doc(page)
        finance = tree.xpath("//section[@class='open-work']//tr[@data-lane='Finance']")[0]
        assert finance.xpath(".//td")[1].text_content().strip() == "3"  # approve x2, issue invoice
        # The report's bottlenecks, by total waiting time: the first one's lane leads to its waiting tasks.
        bottleneck = tree.xpath(BOTTLENECK_LANE)[0]
        assert bottleneck.text_content() == "Finance"
        behind = cleo.get(bottleneck.get("href"))
        assert behind.status_code == 200
        rows = doc(behind).xpath("//tr[@data-task]")
        assert {r.get("data-task") for r in rows} >= {str(seed.ids["approve_credit"])}
        assert {r.xpath(".//td[1]")[0].text_content().split(" #")[0] for r in rows} == {
            "Approve credit",
            "Issue invoice",
        }
        cell = tree.xpath("//a[contains(@href, '/dashboard/handoffs')]")[0]
        handoffs = doc(cleo.get(cell.get("href")))
        assert handoffs.xpath("//a[starts-with(@href, '/instances/')]"), "each handoff leads to its instance"
        exports = tree.xpath("//section[@class='exports']//a/@href")
        assert any("/api/export?format=xes" in h for h in exports)
        xes = cleo.get(next(h for h in exports if "format=xes" in h))
        assert xes.status_code == 200 and "<log" in xes.text
        assert sam.get("/dashboard").status_code == 403
        assert sam.get("/dashboard/tasks?lane=Finance").status_code == 403
        cleo.close()
        sam.close()


def test_processes_upload_validate_deploy(db_url: str) -> None:
    with pages_site(db_url) as (url, seed):
        dan, cleo = SignedIn(url, "dan"), SignedIn(url, "cleo")
        listing = dan.get("/processes")
        assert {r.get("data-process") for r in doc(listing).xpath("//tr[@data-process]")} == {
            "claim",
            "order_to_cash",
        }
        token = dan.csrf
        bad = (DATA / "bad_dangling_flow.bpmn").read_bytes()
        checked = dan.http.post(
            "/processes",
            data={"csrf_token": token, "action": "validate"},
            files={"files": ("dangling.bpmn", bad, "application/xml")},
        )
        assert checked.status_code == 422
        problems = [li.text_content() for li in doc(checked).xpath("//ul[contains(@class, 'problems')]/li")]
        assert problems and all(re.match(r"dangling\.bpmn(:\d+)?: ", p) for p in problems)
        assert any(re.match(r"dangling\.bpmn:\d+: ", p) for p in problems), "file:line"
        assert "/tmp" not in checked.text and "handoff-page-upload" not in checked.text
        changed = CLAIM.read_bytes().replace(b'name="Expense claim"', b'name="Expense claim v2"')
        deployed = dan.http.post(
            "/processes",
            data={"csrf_token": token, "action": "deploy"},
            files={"files": ("claim.bpmn", changed, "application/xml")},
        )
        assert deployed.status_code == 200 and "claim: version 2 deployed" in deployed.text
        versions = doc(dan.get("/processes/claim")).xpath("//table//a[contains(@href, 'version=')]/text()")
        assert versions == ["v2", "v1"]
        refused = cleo.http.post(
            "/processes",
            data={"csrf_token": cleo.get("/processes") and cleo.csrf, "action": "deploy"},
            files={"files": ("claim.bpmn", changed, "application/xml")},
        )
        assert refused.status_code == 403
        no_token = dan.http.post(
            "/processes",
            data={"action": "deploy"},
            files={"files": ("claim.bpmn", changed, "application/xml")},
        )
        assert no_token.status_code == 403
        assert [
            v["version"]
            for v in __import__("engine.lookups", fromlist=["x"]).process_versions(
                seed.app, "claim", actor="dan"
            )
        ] == [2, 1]
        dan.close()
        cleo.close()


def test_admin_users_tokens_and_slas(db_url: str) -> None:
    with pages_site(db_url) as (url, seed):
        ada, sam = SignedIn(url, "ada"), SignedIn(url, "sam")
        page = ada.get("/admin")
        assert page.status_code == 200
        assert_clean(page)
        assert {r.get("data-user") for r in doc(page).xpath("//tr[@data-user]")} >= {"ada", "sam", "fay"}
        saved = ada.post(
            "/admin/users", {"name": "zoe", "role": "operator", "lanes": "Sales", "new_lanes": "Returns"}
        )
        assert saved.status_code == 303
        zoe = next(u for u in seed.app.users(actor="ada") if u.name == "zoe")
        assert zoe.role == "operator" and set(zoe.lanes) == {"Sales", "Returns"}
        assert ada.post("/admin/users/zoe/password", {"password": "zoe's long password"}).status_code == 303
        signed = httpx.post(url + "/login", data={"username": "zoe", "password": "zoe's long password"})
        assert signed.status_code == 303 and "handoff_session" in signed.cookies
        made = ada.post("/admin/users/zoe/tokens", {"expires": "P30D"})
        secret = doc(made).xpath("//code[@class='secret']/text()")[0]
        assert httpx.get(url + "/api/tasks", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
        listed = ada.get("/admin", params={"tokens": "zoe"})
        assert secret not in listed.text, "a token is shown once only"
        token_id = doc(listed).xpath("//section[@id='tokens']//tbody/tr/td[1]/text()")[0]
        assert ada.post(f"/admin/tokens/{token_id}/revoke").status_code == 303
        assert httpx.get(url + "/api/tasks", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
        assert ada.post("/admin/sla", {"lane": "Finance", "duration": "PT2H"}).status_code == 303
        assert any(s.lane == "Finance" and s.duration == "PT2H" for s in seed.app.sla_settings(actor="ada"))
        bad = ada.post("/admin/sla", {"lane": "", "duration": "soon"})
        assert bad.status_code == 422 and doc(bad).xpath("//p[@role='alert']")
        assert ada.post("/admin/users/zoe/remove").status_code == 303
        assert "zoe" not in {u.name for u in seed.app.users(actor="ada")}
        assert sam.get("/admin").status_code == 403
        assert sam.post("/admin/users", {"name": "mallory", "role": "admin"}).status_code == 403
        assert "mallory" not in {u.name for u in seed.app.users(actor="ada")}
        ada.close()
        sam.close()


def test_markup_from_bpmn_and_data_is_text_on_every_page(db_url: str) -> None:
    with pages_site(db_url) as (url, seed):
        fay, cleo, dan = SignedIn(url, "fay"), SignedIn(url, "cleo"), SignedIn(url, "dan")
        xss_task, instance = seed.ids["xss_task"], seed.ids["claim_xss"]
        pages = [
            (fay, "/"),
            (fay, f"/tasks/{xss_task}"),
            (fay, f"/instances/{instance}"),
            (cleo, "/dashboard/tasks?lane=Finance"),
            (cleo, f"/instances/{instance}"),
            (dan, "/processes/claim"),
        ]
        for who, path in pages:
            answer = who.get(path)
            assert answer.status_code == 200, path
            assert XSS not in answer.text, path
            assert XSS_ESCAPED in answer.text or "&lt;img src=x onerror=alert(1)&gt;" in answer.text, path
            assert "<script>alert" not in answer.text, path
            assert_clean(answer)
        task_page = fay.get(f"/tasks/{xss_task}").text
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in task_page  # the form label
        assert "&lt;script&gt;alert(3)&lt;/script&gt;" in task_page  # the documentation
        fay.close()
        cleo.close()
        dan.close()


@pytest.mark.parametrize("path", ["/styles/report.css", "/static/handoff.css"])
def test_stylesheets_are_served_by_the_package(sqlite_url: str, path: str) -> None:
    with pages_site(sqlite_url) as (url, _seed):
        answer = httpx.get(url + path)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/css")
        assert "http" not in answer.text, "nothing loaded from elsewhere"


def test_the_dashboard_shows_the_report_through_its_one_renderer(sqlite_url: str) -> None:
    """The dashboard embeds exactly what engine/report_html.py's shared body renderer makes (the same that
    `handoff report --format html` wraps in a page), with the dashboard's links."""
    from engine.diagrams import process_diagram
    from engine.report_html import render_report_body as render
    from web.pages.dashboard import Filters, linker

    with pages_site(sqlite_url) as (url, seed):
        cleo = SignedIn(url, "cleo")
        page = cleo.get("/dashboard", params={"process": "order_to_cash"})
        report = seed.app.report(process_id="order_to_cash", actor="cleo")
        diagrams = {"order_to_cash": process_diagram(seed.app.db, "order_to_cash")}
        body = render(report, diagrams, linker(Filters("order_to_cash", None, None)))
        assert body.startswith('<div class="handoff-report">') and body in page.text
        assert "/dashboard/tasks?process=order_to_cash&amp;lane=Finance" in body
        cleo.close()
