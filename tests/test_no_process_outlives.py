"""Whatever ends a grading, no process of its sandbox outlives it.

A grading is ended at each step (while the notebook's cells run; while a check's process runs,
the program's process stopped; by a reply the wire refuses) through both doors: in process
(`grade()` in a grading process that is then SIGKILLed, as a worker is) and the local daemon
(`convgrade daemon stop` while it grades, or SIGKILL). Afterwards the processes of the
sandbox uid the grading leased are counted from /proc: none may be left, nor the grading
process's zygote. Sandbox uids exist where the grader runs as root.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.engine.sandbox import UidLease
from submissions import make_submission
from test_daemon import convgrade, daemon_env, short_runtime_dir
from test_wire import FORGED_REPLY

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandbox uids are leased only when the grader is root")

A1 = "a1_cross_correlation"
REPO = Path(__file__).resolve().parents[1]
SLEEPING_CELL = "import time\ntime.sleep(300)\n"
SLEEPING_CORR2D = """
_honest_corr2d = corr2d

def corr2d(X, K):
    try:
        open("/tmp/work/probe", "w").close()
    except OSError:  # a check's process: after the program the file system is read-only
        import time
        time.sleep(300)
    return _honest_corr2d(X, K)
"""
NOTEBOOKS = {"program": SLEEPING_CELL, "check": SLEEPING_CORR2D, "reply": FORGED_REPLY}
GRADE = "import sys; from grader.engine.grading import grade; grade(sys.argv[1], sys.argv[2], seed=1)"


def process_states(uid):
    """{pid: state letter} of every process running as `uid` (from /proc/PID/status: a
    sandboxed process is not dumpable, so its /proc entries belong to root)."""
    states = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{name}/status").read_text().splitlines())
        except (OSError, ValueError):
            continue
        if int(fields["Uid"].split()[0]) == uid:
            states[int(name)] = fields["State"].split()[0]
    return states


def sandbox_uid_of(grading):
    """The sandbox uid of the submission the grading process `grading` is running: that of
    the program's process, a child of the grading process's zygote."""
    zygote = zygote_of(grading)
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{name}/status").read_text().splitlines())
        except (OSError, ValueError):
            continue
        uid = int(fields["Uid"].split()[0])
        if zygote and int(fields["PPid"]) == zygote and uid - UidLease.FIRST_UID in range(UidLease.COUNT):
            return uid
    return None


def sandbox_descendants(pid):
    """{pid: (uid, state letter)} of the descendants of `pid` that run as a sandbox uid."""
    parents, uids, states = {}, {}, {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{name}/status").read_text().splitlines())
        except (OSError, ValueError):
            continue
        parents[int(name)] = int(fields["PPid"])
        uids[int(name)] = int(fields["Uid"].split()[0])
        states[int(name)] = fields["State"].split()[0]

    def descends(child):
        while child in parents and child > 1:
            child = parents[child]
            if child == pid:
                return True
        return False

    return {p: (uids[p], states[p]) for p in parents
            if uids[p] - UidLease.FIRST_UID in range(UidLease.COUNT) and descends(p)}


def zygote_of(pid):
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            parent = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        if b"grader.untrusted.zygote" in cmdline and int(parent) == pid:
            return int(name)
    return None


def reached(step, states):
    if step == "program":  # the program's process asleep in the cell
        return "S" in states.values()
    # the program's process stopped, a check's process asleep in the call
    return "T" in states.values() and "S" in states.values()


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def assert_nothing_left(uid, zygote):
    deadline = time.monotonic() + 15
    while (process_states(uid) or alive(zygote)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_states(uid), f"left running as the sandbox's uid {uid}: {process_states(uid)}"
    assert not alive(zygote), "the ended grading's zygote is still running"


def submission(tmp_path, step):
    path = tmp_path / f"{step}.ipynb"
    path.write_bytes(make_submission(A1, added=[("after", "corr2d", NOTEBOOKS[step])]))
    return path


@pytest.mark.parametrize("step", ["program", "check"])
def test_a_grading_process_killed_at_each_step_leaves_no_sandbox_process(tmp_path, step):
    grading = subprocess.Popen([sys.executable, "-c", GRADE, str(submission(tmp_path, step)), A1],
                               cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        uid = wait_for(lambda: sandbox_uid_of(grading.pid), 120, "the grading's sandbox")
        zygote = zygote_of(grading.pid)
        wait_for(lambda: reached(step, process_states(uid)), 60, f"the grading at the {step} step")
    finally:
        grading.kill()
        grading.wait()
    assert_nothing_left(uid, zygote)


def test_a_refused_reply_ends_the_grading_and_leaves_no_sandbox_process(tmp_path):
    graded = tmp_path / "graded"
    grading = subprocess.Popen([sys.executable, "-c", GRADE + "; open(sys.argv[3], 'w').close(); "
                                "import time; time.sleep(300)", str(submission(tmp_path, "reply")), A1, str(graded)],
                               cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        # The refusal can end the sandbox within one poll of /proc, so its uid is not waited
        # for: what must hold is that none of the grading's descendants runs as a sandbox uid.
        uids = set()  # those seen while it ran: none of their processes may outlive it either

        def returned():
            uids.update(uid for uid, _ in sandbox_descendants(grading.pid).values())
            return graded.exists()

        wait_for(returned, 180, "grade() to return")  # the process lives on, its zygote warm
        time.sleep(1)
        assert zygote_of(grading.pid), "the grading's zygote should still be warm"
        assert not sandbox_descendants(grading.pid), sandbox_descendants(grading.pid)
        assert not any(process_states(uid) for uid in uids), {uid: process_states(uid) for uid in uids}
    finally:
        grading.kill()
        grading.wait()


@pytest.mark.parametrize("step, ending", [("check", "stop"), ("program", "kill")])
def test_a_daemon_ended_mid_grade_leaves_no_sandbox_process(tmp_path, step, ending):
    runtime = short_runtime_dir()
    env = daemon_env(runtime)
    client = subprocess.Popen([sys.executable, "-m", "grader.cli", "grade", str(submission(tmp_path, step))],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        daemon = wait_for(lambda: next((int(n) for n in filter(str.isdigit, os.listdir("/proc"))
                                        if _cmdline_has(n, str(runtime))), None), 60, "the daemon")
        uid = wait_for(lambda: sandbox_uid_of(daemon), 120, "the daemon's sandbox")
        zygote = zygote_of(daemon)
        wait_for(lambda: reached(step, process_states(uid)), 60, f"the grading at the {step} step")
        if ending == "stop":
            assert convgrade(env, "daemon", "stop").returncode == 0
        else:
            os.kill(daemon, signal.SIGKILL)
        wait_for(lambda: not alive(daemon), 30, "the daemon to end")
    finally:
        client.kill()
        client.wait()
        convgrade(env, "daemon", "stop")
    assert_nothing_left(uid, zygote)


def _cmdline_has(pid, text):
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"grader.doors.daemon" in cmdline and text.encode() in cmdline
