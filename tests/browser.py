"""A real headless Chromium (Debian's chromium driven by playwright) for the page tests.

    from browser import browser, page  # noqa: F401  (the fixtures)

Skipped only when the chromium binary or the playwright package is absent
(apt-get install chromium; pip install playwright; never `playwright install`).
"""

import os
import re

import pytest

CHROMIUM = os.environ.get("CONVGRADE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A page that can reach only the loopback service under test."""
    context = browser.new_context()
    context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    yield context.new_page()
    context.close()
