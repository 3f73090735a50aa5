"""The batch pool (grader/doors/pool.py) and the zygote it shares (grader/engine/zygote_launcher.py): one sandbox
zygote serves every worker, concurrently, and goes when the pool does."""

import os
import time

from grader.doors.pool import GradingPool
from grader.engine import zygote_launcher
from grader.engine.sandbox import UidLease, Zygote
from submissions import make_submission

ASSIGNMENTS = ["a1_cross_correlation", "a4_pooling"]


def zygotes_started_by(pid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and b"grader.untrusted.zygote" in command:
            found.append(int(entry))
    return found


def test_two_workers_share_one_zygote_and_grade_right():
    submissions = [(a, reference, make_submission(a, reference=reference))
                   for a in ASSIGNMENTS for reference in (True, False)]
    before = set(zygotes_started_by(os.getpid()))
    with GradingPool(2) as pool:
        futures = [pool.submit(data, assignment, seed=3) for assignment, _, data in submissions * 2]
        results = [f.result(timeout=600) for f in futures]
        during = set(zygotes_started_by(os.getpid())) - before
        workers = {p.pid for p in pool._executor._processes.values()}
    assert len(during) == 1, "the pool started one zygote for all its workers"
    assert len(workers) == 2
    for (assignment, reference, _), result in zip(submissions * 2, results):
        assert result["score"] == (result["max_score"] if reference else 0.0), (assignment, reference)
    deadline = time.monotonic() + 10
    while set(zygotes_started_by(os.getpid())) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(zygotes_started_by(os.getpid())) - before, "the zygote went with the pool"


def test_concurrent_requests_each_get_their_own_answer():
    """Threads of one process share one zygote client and ask at once: every answer returns
    to the thread that asked (each request carries its own reply socket)."""
    import threading

    client = Zygote.shared()
    lease = UidLease.take()  # a sandbox uid nobody else holds: killing its processes harms nothing
    errors = []

    def kill_nobody():
        try:
            for _ in range(20):
                reply = client._ask({"op": "kill_uid", "uid": lease.uid}, [])
                assert reply == {"killed": True}, reply
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=kill_nobody) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lease.release()
    assert not errors


def test_a_dead_shared_zygote_is_replaced():
    launched = zygote_launcher.launch()
    zygote_launcher.attach(launched.pid, launched.control)
    launched.stop()
    Zygote._shared = None
    client = Zygote.shared()
    assert client.pid != launched.pid and client._launched.alive()


def test_a_zygote_that_died_unreaped_is_replaced():
    """A pool's zygote killed while its parent has not reaped it yet (a zombie) counts as gone."""
    import signal

    launched = zygote_launcher.launch()
    os.kill(launched.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while zygote_launcher.Launched(launched.pid, None).alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    zygote_launcher.attach(launched.pid, launched.control)
    Zygote._shared = None
    client = Zygote.shared()
    assert client.pid != launched.pid and client._launched.alive()
    launched.stop()
