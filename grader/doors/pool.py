"""A warm pool of grading processes.

Workers are forked from one warm parent: multiprocessing's fork server, itself started
fresh (exec, no threads, CUDA untouched), imports torch, pytest, nbformat and the grader
once, and every worker is a fork of it, so N workers cost one import instead of N. The
sandbox's zygote is shared the same way: the parent starts one (grader.engine.zygote_launcher, before
anything imports torch, so the two imports run side by side) and hands its control socket
to every worker. Each worker loads the hidden suites (grading.warm_up) before its first
job, so a submission pays only for its own checks.
CONVGRADE_POOL_START=spawn restores N independently started interpreters. The parent
(the CLI) never imports torch itself: it only hands out paths and collects results.
"""

import concurrent.futures
import multiprocessing
import os

from grader.engine import zygote_launcher

# What the fork server imports before forking workers: nothing that starts a thread or
# touches CUDA at import time.
WARM_MODULES = ["grader.engine.grading"]


def default_size():
    return max(1, len(os.sched_getaffinity(0)))


def start_method():
    return os.environ.get("CONVGRADE_POOL_START", "forkserver")


def _context():
    context = multiprocessing.get_context(start_method())
    if start_method() == "forkserver":
        context.set_forkserver_preload(WARM_MODULES)
    return context


class GradingPool:
    def __init__(self, size=None):
        self._zygote = zygote_launcher.launch()
        self._executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=size or default_size(), mp_context=_context(), initializer=_warm_up,
            initargs=(self._zygote.pid, self._zygote.control))

    def submit(self, submission, assignment=None, seed=None):
        """A future of grade(submission, assignment, seed=seed); submission is bytes or a path."""
        return self._executor.submit(_grade, submission, assignment, seed)

    def map(self, submissions, assignment=None):
        return [f.result() for f in [self.submit(s, assignment) for s in submissions]]

    def close(self):
        self._executor.shutdown(cancel_futures=True)
        self._zygote.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# Run in the workers; imported there, so that the parent stays light.
def _warm_up(zygote_pid, zygote_control):
    zygote_launcher.attach(zygote_pid, zygote_control)
    from grader.engine import grading

    grading.warm_up()


def _grade(submission, assignment, seed):
    from grader.engine import grading

    return grading.grade(submission, assignment, seed=seed)
