"""The student's install: one wheel, built from a fresh clone, brings the JupyterLab extension.

The wheel is built from a `git clone` of this repository's HEAD (no built extension, no
node_modules: only what is committed) by setup.py's build hook, installed into a fresh
virtualenv, and that virtualenv's JupyterLab lists the extension enabled, runs it in
Chromium and submits to a real grader. The fresh virtualenv installs only the wheel; its
dependencies (torch, JupyterLab) are borrowed from this one through a .pth file, so the test
needs no index. Needs node and git; about 3 minutes on 2 vCPU (jlpm build, JupyterLab start,
one grading).

The slow test goes the student's whole way: a virtualenv where pip installs the wheel and
resolves every dependency itself (torch, JupyterLab), from the package sources pip is
configured with on this disk alone (a file:// index, a find-links folder; skipped where there
are none), then that venv's JupyterLab in Chromium and its `convgrade lab instructor-tools`.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest
import requests

from browser import CHROMIUM, browser  # noqa: F401 (the module-scoped chromium fixture)
from conftest import SERVICE_ASSIGNMENT
from service_harness import HOST, REPO, Service, free_port, import_roster, stop_group

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (the build hook needs it)"),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]
NOTEBOOK = f"{SERVICE_ASSIGNMENT}.ipynb"


def run(*args, **kwargs):
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, **kwargs)
    assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """`pip wheel .` in a fresh clone of HEAD (the build environment: this one's setuptools and
    jupyterlab, so no index is needed; `python -m build` with isolation does the same)."""
    root = tmp_path_factory.mktemp("wheel")
    run("git", "clone", "--quiet", REPO, root / "clone")
    assert not (root / "clone/grader/doors/lab/labextension").exists()
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", root / "dist",
        root / "clone", cwd=root)
    (built,) = (root / "dist").glob("convgrade-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh(wheel, tmp_path_factory):
    """A new virtualenv holding only the wheel (its dependencies read from this environment)."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin/python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--quiet", wheel)
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()
    with open(os.path.join(site, "borrowed-dependencies.pth"), "w") as pth:
        pth.write(sysconfig.get_path("purelib") + "\n")
    where = run(python, "-c", "import grader; print(grader.__file__)", cwd=venv).stdout.strip()
    assert where.startswith(site), f"grader must come from the wheel, not {where}"
    return venv


def test_the_wheel_carries_the_built_extension_and_the_switches(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    data = "convgrade-0.1.0.data/data/"
    assert data + "share/jupyter/labextensions/convgrade/package.json" in names
    assert any(n.startswith(data + "share/jupyter/labextensions/convgrade/static/remoteEntry.") for n in names)
    assert data + "share/jupyter/labextensions/convgrade/schemas/convgrade/plugin.json" in names
    assert data + "etc/jupyter/jupyter_server_config.d/convgrade.json" in names
    assert data + "etc/jupyter/labconfig/page_config.d/convgrade.json" in names
    metadata = zipfile.ZipFile(wheel).read("convgrade-0.1.0.dist-info/METADATA").decode()
    student = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    # the student's install pulls no server stack
    for server_only in ("flask", "sqlalchemy", "redis", "rq", "gunicorn", "psycopg", "copydetect", "pylti1p3",
                        "nbgrader"):
        assert not any(re.match(rf"Requires-Dist: {server_only}\b", line) for line in student), server_only
    assert any('extra == "server"' in line and "flask" in line for line in metadata.splitlines())


def test_jupyterlab_lists_the_extension_enabled(fresh):
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(fresh / "cfg"), "JUPYTER_DATA_DIR": str(fresh / "data")}
    # (the modules behind `jupyter labextension` and `jupyter server extension`: their scripts
    # live with the borrowed dependencies, not in the fresh virtualenv's bin/)
    listed = run(fresh / "bin/python", "-m", "jupyterlab.labextensions", "list", env=env)
    text = listed.stdout + listed.stderr
    ours = [line for line in text.splitlines() if re.search(r"\bconvgrade v0\.1\.0\b", line)]
    assert ours and "enabled" in ours[0] and "OK" in ours[0] and str(fresh) in text, text
    # the course's switch: nbgrader's instructor tools off (labconfig/page_config.d from the wheel)
    page_config = run(fresh / "bin/python", "-c", "import json; from jupyterlab_server.config import "
                      "get_static_page_config as g; print(json.dumps(g(level='all')))", env=env, cwd=fresh)
    disabled = json.loads(page_config.stdout).get("disabledExtensions", {})
    assert disabled.get("@jupyter/nbgrader:formgrader") is True, page_config.stdout
    server = run(fresh / "bin/python", "-m", "jupyter_server.extension.serverextension", "list", env=env)
    assert re.search(r"grader\.doors\.lab\b.*enabled", server.stdout + server.stderr), server.stdout + server.stderr


@pytest.fixture(scope="module")
def grader(tmp_path_factory):
    running = Service(tmp_path_factory.mktemp("wheel-grader"))
    running.tokens = import_roster(running.data_dir, ["wheel"], running.env)
    running.start()
    yield running
    running.stop()


def test_submit_works_in_the_fresh_jupyterlab(fresh, grader, browser, tmp_path):  # noqa: F811
    from test_lab import LAB_TOKEN, _wait_until_up  # the same readiness check as the lab tests

    root = tmp_path / "work"
    root.mkdir()
    shutil.copy(REPO / "exercises" / SERVICE_ASSIGNMENT / NOTEBOOK, root / NOTEBOOK)
    (tmp_path / "settings/convgrade").mkdir(parents=True)
    (tmp_path / "settings/convgrade/plugin.jupyterlab-settings").write_text(json.dumps({"waitSeconds": 400}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVGRADE_", "JUPYTER"))}
    env.update(CONVGRADE_URL=grader.url, CONVGRADE_TOKEN=grader.tokens["wheel"],
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"), JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
               JUPYTER_DATA_DIR=str(tmp_path / "data"), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    port = free_port()
    log = open(tmp_path / "lab.log", "wb")
    process = subprocess.Popen(
        [fresh / "bin/python", "-m", "jupyterlab", "--no-browser", f"--ServerApp.ip={HOST}",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={LAB_TOKEN}", f"--ServerApp.root_dir={root}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None",
         "--allow-root"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{HOST}:{port}"
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        _wait_until_up(url, process, tmp_path / "lab.log")
        context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{url}/lab/tree/{NOTEBOOK}?token={LAB_TOKEN}", wait_until="commit", timeout=120_000)
        page.locator(".convgrade-submit").wait_for(state="visible", timeout=120_000)
        page.locator(".convgrade-submit").click()
        status = page.locator("#convgrade-panel .convgrade-status")
        status.filter(has_text="Graded").wait_for(timeout=420_000)
        score = page.locator("#convgrade-panel .convgrade-score").inner_text()
        assert re.fullmatch(r"\s*0 / [\d.]+\s*", score), score      # the released stubs: nothing yet
        assert "full credit" in page.locator("#convgrade-panel .convgrade-credit").inner_text()
    finally:
        context.close()
        stop_group(process)


# prometheus_client is not here: jupyter_server itself depends on it.
SERVER_ONLY = ("flask", "sqlalchemy", "nbgrader", "copydetect", "redis", "rq", "gunicorn", "waitress", "psycopg",
               "pylti1p3", "safetensors", "pyseccomp", "nbclient", "pytest", "hypothesis")


def test_the_student_side_needs_no_server_package(tmp_path):
    """What a student runs (`convgrade submit`, the Jupyter server extension) imports none of
    the server extra: each of its packages made unimportable, the student's code still loads
    and `convgrade submit` reaches the point of sending."""
    (tmp_path / "a.ipynb").write_text("{}")
    code = f"""
import sys
for name in {SERVER_ONLY!r}:
    sys.modules[name] = None        # import fails, as where the package is not installed
from grader.cli import main
import grader.doors.lab, grader.doors.lab.handlers, grader.doors.submit, grader.course.feedback
sys.exit(main(["submit", {str(tmp_path / "a.ipynb")!r}, "--server", "http://127.0.0.1:9", "--token", "t"]))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "cannot be reached" in done.stderr, done.stderr


@pytest.fixture(scope="module")
def working_tree_wheel(tmp_path_factory):
    """A wheel of this working tree as it stands (committed or not), without the lab extension's
    build (quick; the switches in etc/jupyter are in it all the same)."""
    root = tmp_path_factory.mktemp("tree-wheel")
    files = run("git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=REPO).stdout
    for name in filter(None, files.split("\0")):
        if (REPO / name).is_file():
            (root / "src" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / "src" / name)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", root / "dist", root / "src",
        env={**os.environ, "CONVGRADE_SKIP_LABEXTENSION": "1"}, cwd=root)
    (built,) = (root / "dist").glob("convgrade-*.whl")
    return built


def _venv_with(wheel, venv, borrowed=False):
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    run(sys.executable, "-m", "pip", "--python", venv / "bin/python", "install", "--quiet", "--no-deps", wheel)
    if borrowed:
        site = run(venv / "bin/python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()
        with open(os.path.join(site, "borrowed-dependencies.pth"), "w") as pth:
            pth.write(sysconfig.get_path("purelib") + "\n")
    return venv


@pytest.fixture(scope="module")
def student_install(working_tree_wheel, tmp_path_factory):
    """The package installed as a student installs it, without the server extra: a new
    virtualenv holding only the package (no dependency at all: `convgrade submit` needs none)."""
    return _venv_with(working_tree_wheel, tmp_path_factory.mktemp("student") / "venv")


def test_a_student_install_offers_only_the_students_commands(student_install, tmp_path):
    def convgrade(*args):
        return subprocess.run([student_install / "bin/convgrade", *map(str, args)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120,
                              env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})

    usage = convgrade("--help")
    assert usage.returncode == 0 and "{submit,lab}" in usage.stdout, usage.stdout
    assert not re.search(r"\b(grade|serve|release|gradescope)\b", usage.stdout), usage.stdout
    assert convgrade("--version").stdout.strip() == "convgrade 0.1.0"
    for instructor in (["grade", "a1.ipynb"], ["serve"], ["release"], ["students", "import", "roster.csv"]):
        refused = convgrade(*instructor)
        assert refused.returncode == 2 and refused.stdout == "", refused
        assert refused.stderr.count("\n") == 1 and "pip install 'convgrade[server]'" in refused.stderr, refused
    (tmp_path / "a.ipynb").write_text("{}")
    sent = convgrade("submit", tmp_path / "a.ipynb", "--server", "http://127.0.0.1:9", "--token", "t")
    assert sent.returncode == 2 and "cannot be reached" in sent.stderr, sent.stderr


def test_the_instructors_install_lists_every_command():
    usage = subprocess.run([sys.executable, "-m", "grader.cli", "--help"], cwd=REPO, capture_output=True, text=True,
                           timeout=60)
    assert usage.returncode == 0
    for name in ("grade", "serve", "release", "gradescope", "submit", "lab"):
        assert re.search(rf"^\s+{name}\s", usage.stdout, re.MULTILINE), (name, usage.stdout)


def test_the_instructor_switch_outranks_the_packages_own_in_a_venv(working_tree_wheel, tmp_path):
    """Jupyter reads a venv's own etc/jupyter before the user's ~/.jupyter (its default in a
    venv, no JUPYTER_PREFER_ENV_PATH here): `convgrade lab instructor-tools on` must still turn
    nbgrader's tools on in the page config JupyterLab builds, and `off` back off."""
    venv = _venv_with(working_tree_wheel, tmp_path / "venv", borrowed=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHONPATH", "CONVGRADE_"))}
    env["HOME"] = str(tmp_path / "home")

    def disabled():
        page = run(venv / "bin/python", "-c", "import json; from jupyterlab_server.config import get_page_config; "
                   "print(json.dumps(get_page_config([], None)))", env=env, cwd=tmp_path)
        return "@jupyter/nbgrader:formgrader" in json.loads(page.stdout)["disabledExtensions"]

    assert disabled()                          # the package keeps them off
    switched = run(venv / "bin/convgrade", "lab", "instructor-tools", "on", env=env, cwd=tmp_path)
    assert not disabled(), switched.stdout
    run(venv / "bin/convgrade", "lab", "instructor-tools", "off", env=env, cwd=tmp_path)
    assert disabled()


# -- a student's own virtualenv, as the README has them make it --------------------------------

def local_package_sources():
    """The package sources pip is configured with on this machine that lie on its disk (file://
    indexes, find-links folders): pip arguments that install from them alone, or None."""
    listed = run(sys.executable, "-m", "pip", "config", "list").stdout
    indexes, links = [], []
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        for entry in value.strip().strip("'\"").split():
            if key.endswith("index-url") and entry.startswith("file://"):
                indexes.append(entry)
            elif key.endswith("find-links") and os.path.isdir(entry.removeprefix("file://")):
                links.append(entry)
    if not indexes and not links:
        return None
    args = ["--index-url", indexes[0]] if indexes else ["--no-index"]
    args += [a for index in dict.fromkeys(indexes[1:]) for a in ("--extra-index-url", index)]
    return args + [a for link in dict.fromkeys(links) for a in ("--find-links", link)]


OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}   # any download fails at once


@pytest.fixture(scope="module")
def student_venv(wheel, tmp_path_factory):
    """`python -m venv` and `pip install` of the wheel: pip resolves its dependencies (torch,
    JupyterLab, ...) itself, from the sources on this disk only; nothing borrowed from this
    environment, no system site-packages."""
    sources = local_package_sources()
    if sources is None:
        pytest.skip("pip has no package source on this disk (a file:// index or a find-links folder in its "
                    "configuration): a student's virtualenv cannot be built without the network")
    venv = tmp_path_factory.mktemp("student-venv") / "venv"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "VIRTUAL_ENV"))}
    run(sys.executable, "-m", "venv", venv)
    # (--no-compile: Python compiles each module when first imported instead; minutes saved on torch)
    run(venv / "bin/python", "-m", "pip", "install", "--quiet", "--no-compile", *sources, wheel,
        env={**clean, **OFFLINE})
    found = run(venv / "bin/python", "-c", "import sys, grader, jupyterlab, torch; print(grader.__file__); "
                "print(sys.flags.no_site, [p for p in sys.path if 'site-packages' in p])", cwd=venv, env=clean)
    assert found.stdout.startswith(str(venv)) and str(venv) in found.stdout.splitlines()[1], found.stdout
    assert sysconfig.get_path("purelib") not in found.stdout, found.stdout        # nothing from this one
    return venv


@pytest.fixture(scope="module")
def late_grader(tmp_path_factory):
    """A grader whose clock stands in a1's late window (80% credit), as in tests/test_lab.py."""
    from test_lab import CLOCK, COURSE_TOML

    data = tmp_path_factory.mktemp("student-grader")
    (data / "course.toml").write_text(COURSE_TOML)
    running = Service(data, course_config=data / "course.toml", clock=CLOCK)
    running.tokens = import_roster(running.data_dir, ["sam"], running.env)
    running.start()
    # A course's grader has listed its assignments before (the first listing collects the hidden
    # suites, torch and all: longer than the Lab's 30 s per request on a loaded machine).
    assert requests.get(running.url + "/api/v1/assignments", timeout=600).ok
    yield running
    running.stop()


def _students_lab(venv, home, env):
    """`jupyter lab` from the student's venv, with their own ~ (no JUPYTER_* variables)."""
    from test_lab import LAB_TOKEN, _wait_until_up

    root = home / "work"
    root.mkdir(parents=True)
    shutil.copy(REPO / "exercises" / SERVICE_ASSIGNMENT / NOTEBOOK, root / NOTEBOOK)
    settings = home / ".jupyter/lab/user-settings"
    (settings / "convgrade").mkdir(parents=True)
    (settings / "convgrade/plugin.jupyterlab-settings").write_text(json.dumps({"waitSeconds": 400}))
    (settings / "@jupyterlab/apputils-extension").mkdir(parents=True)       # no "fetch news?" toast
    (settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port = free_port()
    log = open(home / "lab.log", "wb")
    process = subprocess.Popen(
        [venv / "bin/jupyter-lab", "--no-browser", f"--ServerApp.ip={HOST}", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={LAB_TOKEN}", f"--ServerApp.root_dir={root}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None",
         "--allow-root"], cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{HOST}:{port}"
    try:
        _wait_until_up(url, process, home / "lab.log")
    except BaseException:
        stop_group(process)
        raise
    return process, f"{url}/lab/tree/{NOTEBOOK}?token={LAB_TOKEN}"


def _disabled_in_the_page(page):
    """The plugins the loaded JupyterLab page was told to leave off (its page config)."""
    disabled = page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent)"
                             ".disabledExtensions")
    return set(disabled) if isinstance(disabled, list) else {k for k, v in disabled.items() if v}


@pytest.mark.slow
def test_a_student_venv_from_the_wheel_shows_the_news_after_a_reload_and_takes_the_switch(
        student_venv, late_grader, browser, tmp_path):  # noqa: F811
    """The student's virtualenv: the Grade panel shows the deadline, then the last result after
    a reload; `convgrade lab instructor-tools on|off` from that venv (Jupyter preferring its own
    etc/jupyter, no JUPYTER_PREFER_ENV_PATH) changes what the page is told to leave off."""
    from grader.doors.lab import INSTRUCTOR_PLUGINS
    from playwright.sync_api import expect

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVGRADE_", "JUPYTER", "PYTHONPATH"))}
    env.update(HOME=str(home), CONVGRADE_URL=late_grader.url, CONVGRADE_TOKEN=late_grader.tokens["sam"])
    process, notebook_url = _students_lab(student_venv, home, env)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
        page = context.new_page()
        page.set_default_timeout(60_000)
        panel, status = page.locator("#convgrade-panel"), page.locator("#convgrade-panel .convgrade-status")

        def open_notebook(reload=False):
            page.reload(wait_until="commit") if reload else page.goto(notebook_url, wait_until="commit",
                                                                      timeout=120_000)
            page.locator(".convgrade-submit:visible").first.wait_for(state="visible", timeout=120_000)
            if not panel.is_visible():
                page.locator('.lm-TabBar-tab[data-id="convgrade-panel"]').click()

        open_notebook()
        expect(status).to_contain_text("Not submitted yet", timeout=60_000)     # the news before any Submit
        expect(panel.locator(".convgrade-deadline")).to_contain_text("80% credit until")
        page.locator(".convgrade-submit:visible").first.click()
        expect(status).to_contain_text("Graded at", timeout=420_000)
        open_notebook(reload=True)
        expect(status).to_contain_text("Graded: your last submission", timeout=60_000)
        assert re.fullmatch(r"\s*0 / [\d.]+\s*", panel.locator(".convgrade-score").inner_text())  # the stubs
        assert "80% credit" in panel.locator(".convgrade-credit").inner_text()
        expect(panel.locator(".convgrade-deadline")).to_contain_text("80% credit until")
        expect(panel.locator(".convgrade-history-row")).to_have_count(1)
        assert panel.locator(".convgrade-check").count() >= 1                    # the failed checks' feedback

        assert set(INSTRUCTOR_PLUGINS) <= _disabled_in_the_page(page)            # a student's install
        for state, off in (("on", False), ("off", True)):
            switched = run(student_venv / "bin/convgrade", "lab", "instructor-tools", state, env=env, cwd=home)
            open_notebook(reload=True)
            assert (set(INSTRUCTOR_PLUGINS) <= _disabled_in_the_page(page)) is off, (state, switched.stdout)
            assert str(student_venv / "etc/jupyter/labconfig/page_config.json") in switched.stdout, switched.stdout
    finally:
        context.close()
        stop_group(process)
