"""The warm local grader behind `convgrade grade NOTEBOOK` (grader/doors/daemon.py), as a user meets it:
real daemon processes on a real Unix socket, each test in its own runtime directory.

Slow-ish (about 1.5 to 3 minutes on 2 cores): five daemons start, and two grades run cold.
"""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from grader.course import assignments, notebook
from submissions import corpus, make_submission

A1 = "a1_cross_correlation"


def convgrade(env, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "grader.cli", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def daemon_env(runtime, **extra):
    env = {k: v for k, v in os.environ.items() if k != "CONVGRADE_NO_DAEMON"}
    return {**env, "XDG_RUNTIME_DIR": str(runtime), **extra}


def status(env):
    run = convgrade(env, "daemon", "status")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout) if run.stdout.startswith("{") else None


def outcome(result):
    """What must agree between a daemon's grade and an in-process one with the same seed:
    everything but the time it took."""
    return {k: v for k, v in result.items() if k != "execution_time"}


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is as good as gone
        return f.read().split(") ")[-1][0] != "Z"


def wait_until(predicate, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def short_runtime_dir():
    """A Unix socket's path must fit in 108 bytes: pytest's tmp_path is too deep."""
    return Path(tempfile.mkdtemp(prefix="cg-"))  # mode 0700


@pytest.fixture(scope="module")
def runtime():
    """One runtime directory (one daemon) shared by the tests that reuse a daemon; stopped after."""
    root = short_runtime_dir()
    yield root
    convgrade(daemon_env(root), "daemon", "stop")
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebooks")
    (folder / "reference.ipynb").write_bytes(make_submission(A1))
    (folder / "stubs.ipynb").write_bytes(make_submission(A1, reference=False))
    mistake = next(e for e in corpus() if e.assignment == A1 and not e.needs)
    (folder / "mistake.ipynb").write_bytes(mistake.submission())
    (folder / "broken.ipynb").write_bytes(b"not json at all")
    return folder


def test_the_first_call_starts_a_daemon_the_second_reuses_it_with_the_same_results(runtime, notebooks):
    env = daemon_env(runtime)
    assert status(env) is None
    first = convgrade(env, "grade", notebooks / "reference.ipynb", "--json")
    assert first.returncode == 0, first.stderr
    started = status(env)
    assert started and alive(started["pid"])
    second = convgrade(env, "grade", notebooks / "mistake.ipynb", "--json", "--seed", 1234)
    assert second.returncode == 0, second.stderr
    assert status(env)["pid"] == started["pid"]
    assert "grading in this process" not in first.stderr + second.stderr
    reference, mistake = json.loads(first.stdout), json.loads(second.stdout)
    assert reference["score"] == reference["max_score"] > mistake["score"] > 0
    here = convgrade(env, "grade", notebooks / "mistake.ipynb", "--json", "--no-daemon", "--seed", 1234)
    assert here.returncode == 0, here.stderr
    assert outcome(json.loads(here.stdout)) == outcome(mistake) and mistake["seed"] == 1234


def test_the_socket_and_its_directory_are_owner_only(runtime):
    sockets = list((runtime / "convgrade").glob("*.sock"))
    assert len(sockets) == 1 and stat.S_ISSOCK(sockets[0].stat().st_mode)
    assert stat.S_IMODE(sockets[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((runtime / "convgrade").stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in (runtime / "convgrade").iterdir())


def test_a_directory_others_can_enter_is_refused_and_grading_happens_in_process(notebooks):
    runtime = short_runtime_dir()
    (runtime / "convgrade").mkdir()
    (runtime / "convgrade").chmod(0o755)
    run = convgrade(daemon_env(runtime), "grade", notebooks / "broken.ipynb")
    assert run.returncode == 2 and "grading in this process" in run.stderr
    assert not list((runtime / "convgrade").iterdir())
    shutil.rmtree(runtime)


def test_a_bad_notebook_through_the_daemon_exits_2_with_one_line(runtime, notebooks):
    run = convgrade(daemon_env(runtime), "grade", notebooks / "broken.ipynb")
    assert run.returncode == 2
    assert "not a Jupyter notebook" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert status(daemon_env(runtime)) is not None


def sleeping_submission(seconds):
    nb = nbformat.reads(make_submission(A1).decode(), as_version=4)
    answer = next(c for c in nb.cells if notebook.grade_id(c) in notebook.answer_ids(A1))
    answer.source += f"\nimport time\ntime.sleep({seconds})\n"
    return nbformat.writes(nb).encode()


def test_a_busy_daemon_does_not_block_a_second_caller(runtime, notebooks, tmp_path):
    env = daemon_env(runtime, CONVGRADE_DAEMON_WAIT="1")
    slow = tmp_path / "slow.ipynb"
    slow.write_bytes(sleeping_submission(15))
    busy = subprocess.Popen([sys.executable, "-m", "grader.cli", "grade", slow, "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)  # the daemon is now running the slow notebook's cells
    second = convgrade(env, "grade", notebooks / "reference.ipynb", "--json")
    assert second.returncode == 0, second.stderr
    assert "local grader is busy" in second.stderr
    result = json.loads(second.stdout)
    assert result["score"] == result["max_score"] > 0
    out, err = busy.communicate(timeout=120)
    assert busy.returncode == 0, err
    assert json.loads(out)["score"] == result["score"]


@pytest.fixture
def course_copy(tmp_path):
    for part in ("autograde_tests", "solutions", "exercises"):
        shutil.copytree(assignments.COURSE_DIR / part, tmp_path / "course" / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "course"


def test_a_change_in_the_hidden_suites_starts_a_fresh_daemon_and_stops_the_old(course_copy, notebooks):
    runtime = short_runtime_dir()
    env = daemon_env(runtime, CONVGRADE_COURSE_DIR=str(course_copy))
    try:
        assert convgrade(env, "grade", notebooks / "stubs.ipynb").returncode == 0
        old = status(env)["pid"]
        suite = next((course_copy / "autograde_tests" / A1).glob("test_*.py"))
        suite.write_text(suite.read_text() + "\n# edited by the instructor\n")
        assert status(env) is None  # a daemon for the edited course does not run yet
        assert convgrade(env, "grade", notebooks / "stubs.ipynb").returncode == 0
        new = status(env)["pid"]
        assert new != old and alive(new)
        assert wait_until(lambda: not alive(old)), "the outdated daemon still runs"
        assert len(list((runtime / "convgrade").glob("*.sock"))) == 1
    finally:
        convgrade(env, "daemon", "stop")
        shutil.rmtree(runtime, ignore_errors=True)


def test_a_killed_daemon_is_replaced_and_an_idle_one_stops_itself(runtime, notebooks):
    """Runs last in this module: it ends the shared daemon."""
    env = daemon_env(runtime, CONVGRADE_DAEMON_IDLE="10")
    assert convgrade(env, "grade", notebooks / "broken.ipynb").returncode == 2  # reuses or starts one
    killed = status(env)["pid"]
    os.kill(killed, signal.SIGKILL)
    assert wait_until(lambda: not alive(killed))
    run = convgrade(env, "grade", notebooks / "reference.ipynb", "--json")
    assert run.returncode == 0, run.stderr
    assert "grading in this process" not in run.stderr
    replacement = status(env)
    assert replacement and replacement["pid"] != killed and replacement["idle_seconds"] == 10
    assert wait_until(lambda: not alive(replacement["pid"]), seconds=90), "the idle daemon did not stop"
    assert not list((runtime / "convgrade").glob("*.sock"))
    assert status(env) is None
