"""The pages in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright's Python package;
no browser is downloaded): what operators, CPO staff and admins do, as they would do it, under the
server's real Content-Security-Policy."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_pages_site import PASSWORD, XSS, pages_site

from conftest import IN_CI

CHROMIUM = Path(os.environ.get("HANDOFF_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if IN_CI:
            pytest.fail("playwright is not installed (pip install -e '.[test]')")
        pytest.skip("playwright is not installed")
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"no Chromium at {CHROMIUM}: .ci/run installs Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Person:
    """One person's browser tab: signs in through the form; records any dialog and CSP violation."""

    def __init__(self, browser: Any, url: str, name: str) -> None:
        self.url = url
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("console", self._console)
        self.page.goto(url + "/")
        assert "/login" in self.page.url
        self.page.fill("#username", name)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()
        assert "/login" not in self.page.url, f"{name} could not sign in"

    def _console(self, message: Any) -> None:
        # A 4xx page is not a problem here; anything the Content-Security-Policy refused is.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.console_errors.append(message.text)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def go(self, path: str) -> Any:
        return self.page.goto(self.url + path)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def site(sqlite_url: str) -> Iterator[tuple[str, Any]]:
    with pages_site(sqlite_url) as served:
        yield served


def test_operator_completes_a_task_after_fixing_the_field_shown_wrong(browser: Any, site: Any) -> None:
    url, seed = site
    check = seed.ids["check_claim"]
    sam = Person(browser, url, "sam")
    page = sam.page
    rows = page.locator("tr[data-task]")
    assert rows.count() == 1, "only the Sales task"
    assert "Check claim" in rows.first.inner_text() and "CL-1" in rows.first.inner_text()
    rows.first.get_by_role("button", name="Claim").click()
    assert page.locator(".notice").inner_text() == f"You claimed task {check}."
    page.get_by_role("link", name="Check claim").click()
    assert page.url.endswith(f"/tasks/{check}")
    assert page.locator(".instructions strong").inner_text() == "Acme"
    page.fill("#f-amount", "abc")
    page.get_by_role("button", name="Complete").click()
    error = page.locator('[data-field="amount"] .error')
    assert error.is_visible() and error.inner_text() == "must be a whole number, got 'abc'"
    assert page.locator("#f-amount").get_attribute("aria-invalid") == "true"
    assert page.locator("#f-amount").input_value() == "abc", "what was typed stays in the field"
    assert page.locator('[data-field="note"] .error').count() == 0, "no error beside the other fields"
    page.fill("#f-amount", "250")
    page.get_by_role("button", name="Complete").click()
    assert re.search(r"/\?notice=completed", page.url)
    assert page.locator(".notice").inner_text() == f"Task {check} is done."
    assert page.locator("tr[data-task]").count() == 0
    assert seed.app.show(seed.ids["claim_ok"], actor="ada").data["amount"] == 250
    assert not sam.dialogs and not sam.console_errors, sam.console_errors
    sam.close()


def test_operator_of_another_lane_cannot_see_or_open_it(browser: Any, site: Any) -> None:
    url, seed = site
    fay = Person(browser, url, "fay")
    listed = fay.page.locator("tr[data-task]").all_inner_texts()
    assert listed and not any("Check claim" in row for row in listed)
    assert any("Approve credit" in row for row in listed)
    answer = fay.go(f"/tasks/{seed.ids['check_claim']}")
    assert answer.status == 403
    assert fay.page.locator("h1").inner_text() == "Not allowed"
    assert "Sales" in fay.page.locator("p.error").inner_text()
    assert fay.page.locator("form.task-form").count() == 0
    fay.close()


def test_analyst_follows_the_bottleneck_to_the_tasks_behind_it(browser: Any, site: Any) -> None:
    url, seed = site
    cleo = Person(browser, url, "cleo")
    assert cleo.page.url.endswith("/dashboard"), "an analyst starts on the dashboard"
    cleo.page.select_option("#process", "order_to_cash")
    cleo.page.get_by_role("button", name="Show").click()
    # The report's bottlenecks, by total waiting time: the first one's lane leads to its waiting tasks.
    bottleneck = cleo.page.locator(
        "h3:text-is('Bottlenecks (activities by total waiting time)') + table tbody tr"
    )
    bottleneck = bottleneck.first.locator("td").nth(1).locator("a")
    assert bottleneck.inner_text() == "Finance"
    bottleneck.click()
    assert "/dashboard/tasks" in cleo.page.url and "lane=Finance" in cleo.page.url
    assert cleo.page.locator("h1").inner_text().startswith("Open tasks in Finance")
    names = cleo.page.locator("tr[data-task] td.task-name").all_inner_texts()
    assert sorted(n.split(" #")[0] for n in names) == ["Approve credit", "Approve credit", "Issue invoice"]
    cleo.page.locator("tr[data-task] a").first.click()
    assert re.search(r"/instances/\d+$", cleo.page.url)
    assert not cleo.dialogs and not cleo.console_errors, cleo.console_errors
    cleo.close()


def test_admin_retries_an_incident_with_corrected_data(browser: Any, site: Any) -> None:
    url, seed = site
    incident = seed.ids["claim_incident"]
    ada = Person(browser, url, "ada")
    ada.go("/instances?status=incident")
    ada.page.get_by_role("link", name=f"#{incident}").click()
    section = ada.page.locator("section.incident")
    assert section.is_visible() and "rate" in section.inner_text()
    ada.page.fill("#retry-data", '{"rate": 0.5}')
    ada.page.get_by_role("button", name="Retry").click()
    assert ada.page.locator(".notice").inner_text() == f"Instance {incident} was retried."
    assert ada.page.locator("section.incident").count() == 0
    assert ada.page.locator('.path-overlay .m-waiting[data-element="pay"]').count() == 1
    assert seed.app.show(incident, actor="ada").data["payout"] == 150
    ada.close()


def test_a_task_named_like_markup_is_text_on_every_page(browser: Any, site: Any) -> None:
    url, seed = site
    fay, cleo = Person(browser, url, "fay"), Person(browser, url, "cleo")
    visits = [
        (fay, "/"),
        (fay, f"/tasks/{seed.ids['xss_task']}"),
        (fay, f"/instances/{seed.ids['claim_xss']}"),
        (cleo, "/dashboard/tasks?lane=Finance"),
        (cleo, "/processes/claim"),
    ]
    for person, path in visits:
        person.go(path)
        person.page.wait_for_load_state("load")
        shown = person.page.get_by_text(XSS, exact=False)
        assert any(shown.nth(i).is_visible() for i in range(shown.count())), path
        assert person.page.locator("img[src=x]").count() == 0, path
    assert fay.page.evaluate("document.querySelectorAll('script').length") == 0
    assert not fay.dialogs and not cleo.dialogs, "no script ran"
    fay.go(f"/tasks/{seed.ids['xss_task']}")
    assert fay.page.get_by_text("<script>alert(2)</script>").is_visible(), "the form label, as text"
    fay.close()
    cleo.close()
