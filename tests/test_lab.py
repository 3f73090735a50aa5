"""The JupyterLab extension in a real JupyterLab, driven in Debian's chromium by playwright,
against a real `convgrade serve` on loopback.

JupyterLab (the jupyterlab package, with this package's prebuilt extension and server
extension installed by `make setup`) runs as a subprocess on 127.0.0.1 with a token and its
own settings folder; the browser may reach only 127.0.0.1. Slow: about 2 minutes on 2 vCPU
(JupyterLab start, page loads, one grading). Skipped when chromium, playwright or the built
extension is absent; a build older than its sources (labextension/, after a checkout or merge
that no `make labextension` followed) fails them, as they would drive the older code.
CONVGRADE_UPDATE_SCREENSHOT=1 rewrites docs/lab-panel.png.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import requests

from conftest import SERVICE_ASSIGNMENT
from service_harness import HOST, REPO, Service, free_port, import_roster, stop_group
from submissions import CorpusEntry, reference_answers
from browser import CHROMIUM, browser  # noqa: F401 (the module-scoped chromium fixture)

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
BUILT = REPO / "grader/doors/lab/labextension/package.json"
pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent (apt-get install chromium)"),
    pytest.mark.skipif(not BUILT.exists(), reason="the lab extension is not built (make labextension needs node)"),
]
FLIPPED = CorpusEntry(REPO / "tests/corpus/a1_cross_correlation/corr2d_flipped_kernel.py")
NOTEBOOK = f"{SERVICE_ASSIGNMENT}.ipynb"
LAB_TOKEN = "lab-token-for-tests"
SETTINGS_URL = "/lab/api/settings/convgrade:plugin"
GRADING_MS = 420_000
PANEL_WAIT = {"waitSeconds": 400}  # the panel keeps polling that long (a loaded CI machine grades slowly)


def sources_newer_than_the_build():
    """The extension's sources (what git does not ignore under labextension/) changed after the
    build JupyterLab loads here was made: as after a merge or checkout when nothing ran
    `make labextension`. The tests would then drive the older code."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "labextension"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    if listed.returncode != 0:      # not a git checkout: nothing to compare the build with
        return []
    built = BUILT.stat().st_mtime
    return [name for name in filter(None, listed.stdout.split("\0"))
            if (REPO / name).is_file() and (REPO / name).stat().st_mtime > built]


# The grader's clock stands in the first late window: a submission earns 80% credit.
COURSE_TOML = f"""
[assignments.{SERVICE_ASSIGNMENT}]
due = 2026-09-15T23:59:00Z
late = [{{ until = 2026-09-17T23:59:00Z, credit = 0.8 }}]
"""
CLOCK = "2026-09-16T12:00:00Z"


@pytest.fixture(scope="module")
def current_build():
    """Refuses to drive a build older than its sources (said once, before anything starts)."""
    newer = sources_newer_than_the_build()
    if newer:
        pytest.fail(f"the lab extension's build ({BUILT.parent.relative_to(REPO)}) is older than its sources "
                    f"({', '.join(newer)}): run `make labextension`", pytrace=False)


@pytest.fixture(scope="module")
def grader(current_build, tmp_path_factory):
    """A grader that takes one submission per student per hour, in a late window."""
    data = tmp_path_factory.mktemp("lab-grader")
    (data / "course.toml").write_text(COURSE_TOML)
    running = Service(data, resubmit_seconds=3600, course_config=data / "course.toml", clock=CLOCK)
    running.tokens = import_roster(running.data_dir, ["alice"], running.env)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, grader):
    """A real JupyterLab whose server environment points at the grader with alice's token."""
    home = tmp_path_factory.mktemp("lab")
    root = home / "work"
    root.mkdir()
    # No "get notified about news?" toast over the panel.
    news = home / "settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    (home / "settings/convgrade").mkdir()
    (home / "settings/convgrade/plugin.jupyterlab-settings").write_text(json.dumps(PANEL_WAIT))
    shutil.copy(REPO / "exercises" / SERVICE_ASSIGNMENT / NOTEBOOK, root / NOTEBOOK)
    # This checkout's build, ahead of any installed copy (JupyterLab takes the first it finds;
    # JUPYTER_PREFER_ENV_PATH=0 puts this user data dir before the virtualenv's).
    (home / "data/labextensions").mkdir(parents=True)
    (home / "data/labextensions/convgrade").symlink_to(BUILT.parent)
    # The student install's switch for nbgrader's instructor tools (a wheel puts it in
    # <prefix>/etc/jupyter/labconfig/page_config.d/), here at the user level.
    (home / "config/labconfig/page_config.d").mkdir(parents=True)
    shutil.copy(REPO / "grader/doors/lab/jupyter-config/labconfig/convgrade.json",
                home / "config/labconfig/page_config.d/convgrade.json")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVGRADE_", "JUPYTER"))}
    env.update(CONVGRADE_URL=grader.url, CONVGRADE_TOKEN=grader.tokens["alice"],
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(home / "ws"),
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_PREFER_ENV_PATH="0")
    log = open(home / "lab.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.ip={HOST}", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={LAB_TOKEN}", f"--ServerApp.root_dir={root}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None",
         "--allow-root"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{HOST}:{port}"
    _wait_until_up(url, process, home / "lab.log")
    yield {"url": url, "root": root, "log": home / "lab.log", "config": home / "config"}
    stop_group(process)


def _wait_until_up(url, process, log, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if requests.get(f"{url}/api/status", params={"token": LAB_TOKEN}, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise AssertionError("JupyterLab did not start:\n" + log.read_text()[-3000:])


def set_lab_settings(lab, **values):
    """Write the convgrade settings through JupyterLab's settings API, as the settings editor does."""
    response = requests.put(lab["url"] + SETTINGS_URL, params={"token": LAB_TOKEN},
                            data=json.dumps({"raw": json.dumps(PANEL_WAIT | values)}), timeout=30)
    assert response.status_code == 204, response.text


@pytest.fixture(scope="module")
def page(browser, lab):
    """One page with the assignment notebook open (module-scoped: JupyterLab loads slowly)."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(60_000)  # a loaded CI machine renders JupyterLab slowly
    page.goto(f"{lab['url']}/lab/tree/{NOTEBOOK}?token={LAB_TOKEN}", wait_until="commit", timeout=120_000)
    page.locator(".convgrade-submit").wait_for(state="visible", timeout=120_000)
    yield page
    context.close()


def fill_answer(page, first_line, source):
    """Replace the source of the answer cell whose editor shows `first_line`, as a student types."""
    editor = page.locator(".jp-Notebook .jp-CodeCell .cm-content", has_text=first_line).first
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(source)
    sync_api.expect(editor).to_contain_text(source.strip().splitlines()[-1].strip())


def click_submit(page):
    page.locator(".convgrade-submit").click()


def submit_a_flipped_kernel(page):
    """The notebook in view answered with a flipped kernel in corr2d (the rest right), submitted
    and graded."""
    reference = reference_answers(SERVICE_ASSIGNMENT)
    fill_answer(page, "def corr2d", FLIPPED.answers["corr2d"])
    fill_answer(page, "class Conv2D", reference["Conv2D"])
    fill_answer(page, "def learn_edge_kernel", reference["learn_edge_kernel"])
    click_submit(page)
    status_text(page, "Graded")


def status_text(page, wanted, timeout=GRADING_MS):
    status = page.locator("#convgrade-panel .convgrade-status")
    sync_api.expect(status).to_contain_text(wanted, timeout=timeout)
    return status.inner_text()


def test_a_wrong_answer_shows_its_score_failed_check_and_a_link_to_the_cell(page, lab, grader):
    submit_a_flipped_kernel(page)
    panel = page.locator("#convgrade-panel")
    counted, out_of = (float(x) for x in re.fullmatch(r"\s*([\d.]+) / ([\d.]+)\s*",
                                                       panel.locator(".convgrade-score").inner_text()).groups())
    # the big number is the score that counts; the line under it says how it came about
    raw = grader.rows("student_id = 'alice'")[0]
    assert raw["credit"] == 0.8 and counted == pytest.approx(raw["credited_score"], abs=0.05) and 0 < counted < out_of
    credit = panel.locator(".convgrade-credit").inner_text()
    assert "80% credit" in credit and f"counts as {counted:g} / {out_of:g}" in credit, credit
    # the deadline in words, in the student's local time (the browser's zone here: UTC)
    deadline = panel.locator(".convgrade-deadline")
    sync_api.expect(deadline).to_contain_text("80% credit until", timeout=30_000)
    words = deadline.inner_text()
    assert "object" not in words and words.startswith("Due ") and "no submissions after" in words, words
    assert re.search(r"9/15/2026|15/09/2026|2026-09-15", words), words
    # exercises in notebook order, not alphabetical
    shown = [e.get_attribute("data-exercise") for e in panel.locator(".convgrade-exercise").all()]
    assert shown == ["corr2d", "Conv2D", "learn_edge_kernel"], shown
    if os.environ.get("CONVGRADE_UPDATE_SCREENSHOT"):                 # `make screenshots`
        sync_api.expect(panel.locator(".convgrade-history-row")).to_have_count(1, timeout=30_000)
        panel.evaluate("e => { e.scrollTop = 0; }")
        box = panel.bounding_box()
        page.screenshot(path=str(REPO / "docs/lab-panel.png"),
                        clip={"x": box["x"] - 520, "y": 0, "width": box["width"] + 520, "height": 1000})
    corr2d = panel.locator('.convgrade-exercise[data-exercise="corr2d"]')
    assert "convgrade-lost" in corr2d.get_attribute("class")
    earned, possible = (float(x) for x in corr2d.locator(".convgrade-exercise-score").inner_text().split(" / "))
    assert 0 < earned < possible, "the flipped kernel loses some of corr2d's checks, not all"
    for exercise in ("Conv2D", "learn_edge_kernel"):
        row = panel.locator(f'.convgrade-exercise[data-exercise="{exercise}"]')
        assert "convgrade-full" in row.get_attribute("class")
    failed = panel.locator(".convgrade-check").all_inner_texts()
    assert any("flip" in text.lower() for text in failed), failed
    assert panel.locator(".convgrade-check-output").count() >= 1
    # the stored submission is alice's and holds the edited answer, saved before it was sent
    rows = grader.rows("student_id = 'alice'")
    assert len(rows) == 1 and "torch.flip(K" in (grader.data_dir / rows[0]["path"]).read_text()
    sync_api.expect(panel.locator(".convgrade-history-row")).to_have_count(1, timeout=30_000)
    assert re.search(r"[\d.]+ / [\d.]+", panel.locator(".convgrade-history-row").inner_text())

    page.locator(".jp-Notebook .jp-Cell").first.click()
    active = page.locator(".jp-Notebook .jp-Cell.jp-mod-active")
    assert "def corr2d" not in active.inner_text()
    page.locator('.convgrade-exercise[data-exercise="Conv2D"] .convgrade-goto').click()
    sync_api.expect(active).to_contain_text("class Conv2D", timeout=10_000)
    corr2d.locator(".convgrade-goto").click()
    sync_api.expect(active).to_contain_text("def corr2d", timeout=10_000)
    assert active.is_visible()


def test_the_panel_opens_with_the_last_result_deadline_and_history_after_a_reload(browser, lab, grader):  # noqa: F811
    """A new page (a reload, another day): the Grade panel shows the notebook's state before any
    Submit: the deadline, the last result with its feedback, the earlier submissions."""
    assert grader.rows("student_id = 'alice'"), "alice's submission comes from the first test of this module"
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{lab['url']}/lab/tree/{NOTEBOOK}?token={LAB_TOKEN}", wait_until="commit", timeout=120_000)
        page.locator(".convgrade-submit:visible").first.wait_for(state="visible", timeout=120_000)
        panel = page.locator("#convgrade-panel")
        if not panel.is_visible():
            page.locator('.lm-TabBar-tab[data-id="convgrade-panel"]').click()
        text = status_text(page, "your last submission", timeout=60_000)
        assert text.startswith("Graded"), text
        raw = grader.rows("student_id = 'alice'")[0]
        counted = float(panel.locator(".convgrade-score").inner_text().split(" / ")[0])
        assert counted == pytest.approx(raw["credited_score"], abs=0.05)
        assert "80% credit" in panel.locator(".convgrade-credit").inner_text()
        sync_api.expect(panel.locator(".convgrade-deadline")).to_contain_text("80% credit until")
        assert panel.locator(".convgrade-check").count() >= 1          # the failed checks' feedback
        sync_api.expect(panel.locator(".convgrade-history-row")).to_have_count(1)
    finally:
        context.close()


def test_a_second_submission_within_the_limit_says_when_to_try_again(page, grader):
    click_submit(page)
    text = status_text(page, "once every 3600 seconds", timeout=60_000)
    assert text.startswith("Not submitted") and "try again in" in text, text
    assert len(grader.rows("student_id = 'alice'")) == 1


def test_a_wrong_token_in_the_settings_is_named(page, lab):
    set_lab_settings(lab, token="not-a-token")
    try:
        click_submit(page)
        text = status_text(page, "did not accept your token", timeout=60_000)
        assert text.startswith("Not submitted"), text
    finally:
        set_lab_settings(lab)


def test_a_grader_that_is_down_is_named(page, lab):
    down = f"http://{HOST}:{free_port()}"
    set_lab_settings(lab, server=down)
    try:
        click_submit(page)
        text = status_text(page, "cannot be reached", timeout=60_000)
        assert text.startswith("Not submitted") and down in text, text
    finally:
        set_lab_settings(lab)


def test_the_token_never_reaches_the_page(page, lab, grader):
    config = page.evaluate("""async () => {
        const xsrf = document.cookie.match(/_xsrf=([^;]+)/);
        const r = await fetch('/convgrade/config', {headers: {'X-XSRFToken': xsrf ? xsrf[1] : ''}});
        return await r.text();
    }""")
    assert grader.tokens["alice"] not in config and json.loads(config)["has_token"] is True
    assert grader.tokens["alice"] not in page.content()


def test_plain_notebooks_get_no_submit_button(page, lab):
    (lab["root"] / "scratch.ipynb").write_text(json.dumps(
        {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    page.goto(f"{lab['url']}/lab/tree/scratch.ipynb?token={LAB_TOKEN}", wait_until="commit", timeout=120_000)
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="scratch.ipynb")
    tab.wait_for(timeout=60_000)
    scratch = page.locator(f"#{tab.get_attribute('data-id')}")
    scratch.locator(".jp-Notebook").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)  # the button is hidden once the notebook's model is ready
    assert scratch.locator(".convgrade-submit").count() == 1
    sync_api.expect(scratch.locator(".convgrade-submit")).to_be_hidden()
    sync_api.expect(scratch.locator(".jp-Toolbar-item", has=page.locator(".convgrade-submit"))).to_have_class(
        re.compile(r"\blm-mod-hidden\b"))


def _open_assignment(page, lab):
    page.goto(f"{lab['url']}/lab/tree/{NOTEBOOK}?token={LAB_TOKEN}", wait_until="commit", timeout=120_000)
    # the first visible one: a notebook an earlier test opened (where the button is hidden)
    # may come back with the restored workspace, ahead of the assignment in the page
    page.locator(".convgrade-submit:visible").first.wait_for(state="visible", timeout=120_000)
    page.wait_for_timeout(2000)  # every plugin has added its menus and buttons


def _instructor_tools(lab, state):
    # in the environment the JupyterLab runs in (its config folder first), as a user runs it
    done = subprocess.run([sys.executable, "-m", "grader.cli", "lab", "instructor-tools", state], cwd=REPO,
                          env={**os.environ, "JUPYTER_CONFIG_DIR": str(lab["config"]), "JUPYTER_PREFER_ENV_PATH": "0"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_students_get_no_nbgrader_instructor_tools_unless_an_instructor_turns_them_on(page, lab):
    nbgrader_menu = page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")
    validate = page.locator(".jp-NotebookPanel-toolbar .jp-ToolbarButtonComponent-label", has_text="Validate")
    _open_assignment(page, lab)
    assert nbgrader_menu.count() == 0 and validate.count() == 0
    _instructor_tools(lab, "on")
    try:
        _open_assignment(page, lab)
        sync_api.expect(nbgrader_menu).to_have_count(1, timeout=30_000)   # the check above can see them
    finally:
        _instructor_tools(lab, "off")
    _open_assignment(page, lab)
    assert nbgrader_menu.count() == 0
