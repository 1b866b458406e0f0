"""The browsable API docs in a real headless Chromium (Debian's, through Playwright's Python package):
Swagger UI renders every route from files the server ships, under its CSP, asking no other host."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import IN_CI
from web_server import site

CHROMIUM = Path(os.environ.get("HANDOFF_CHROMIUM", "/usr/bin/chromium"))


def test_swagger_ui_renders_offline_under_the_csp(sqlite_url: str) -> None:
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
    with site(sqlite_url) as s, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"]
        )
        try:
            page = browser.new_page()
            hosts, problems = set(), []
            page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.goto(s.url + "/api/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            assert page.locator(".opblock").count() >= 30  # every route of the API, drawn
            assert page.locator("button.authorize").count() == 1  # the Bearer token can be given
            assert hosts == {urlsplit(s.url).netloc}  # nothing from a CDN
            assert not [p for p in problems if "Content Security Policy" in p], problems
        finally:
            browser.close()
