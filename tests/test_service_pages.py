"""The web pages in a real headless Chromium (tests/browser.py)."""

import os
import re

import pytest

from browser import CHROMIUM, browser, page  # noqa: F401  (the fixtures)
from conftest import SERVICE_ASSIGNMENT

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is absent (apt-get install chromium)")


def _log_in(page, url, token):
    page.goto(url + "/")
    page.fill("#token", token)
    page.click("#login")


def test_student_uploads_a_notebook_and_reads_the_score(service, page, tmp_path, notebooks):
    upload = tmp_path / f"{SERVICE_ASSIGNMENT}.ipynb"
    upload.write_bytes(notebooks["stubs"])
    _log_in(page, service.url, service.tokens["s3"])
    page.set_input_files("#notebook", str(upload))
    page.click("#submit")
    score = page.wait_for_selector("#score", timeout=180_000).inner_text()
    got, out_of = (float(x) for x in re.fullmatch(r"\s*([\d.]+) / ([\d.]+)\s*", score).groups())
    assert got == 0 and page.inner_text("#status") == "done"
    rows = page.query_selector_all("#tests tr.check.failed")
    assert len(rows) == len(page.query_selector_all("#tests tr.check"))
    assert out_of == 0 or rows, "a failed check is listed with its feedback"
    # grouped by exercise, in the notebook's order
    shown = [r.get_attribute("data-exercise") for r in page.query_selector_all("#tests tr.exercise")]
    assert shown == ["corr2d", "Conv2D", "learn_edge_kernel"], shown
    assert "full credit" in page.inner_text("#counts")


def test_student_sees_a_clear_error_for_a_file_that_is_not_a_notebook(service, page, tmp_path):
    upload = tmp_path / "notes.txt"
    upload.write_text("not a notebook")
    _log_in(page, service.url, service.tokens["s3"])
    page.set_input_files("#notebook", str(upload))
    page.click("#submit")
    assert "not a Jupyter notebook" in page.inner_text("#error")


def test_instructor_page_shows_histograms_and_pass_rates(service, page, admin, notebooks):
    admin.submit(notebooks["reference"], SERVICE_ASSIGNMENT, wait=180)
    _log_in(page, service.url, service.admin_token)
    page.wait_for_selector(f"#report-{SERVICE_ASSIGNMENT}")
    assert page.query_selector_all(f"#report-{SERVICE_ASSIGNMENT} svg.hist rect")
    assert page.query_selector(f"#report-{SERVICE_ASSIGNMENT} .pass-rates")
    assert "(instructor)" in page.inner_text("#submissions")
