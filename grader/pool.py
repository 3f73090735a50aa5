"""A warm pool of grading processes.

Each worker imports torch, pytest and every hidden suite and starts its sandbox zygote
before its first job, so a submission pays only for its own checks. Workers are started
with 'spawn', never forked from a process that may have touched CUDA or started threads.
"""

import concurrent.futures
import multiprocessing
import os

from grader import grading


def default_size():
    return max(1, len(os.sched_getaffinity(0)))


class GradingPool:
    def __init__(self, size=None):
        self._executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=size or default_size(), mp_context=multiprocessing.get_context("spawn"),
            initializer=grading.warm_up)

    def submit(self, submission, assignment=None, seed=None):
        """A future of grade(submission, assignment, seed=seed); submission is bytes or a path."""
        return self._executor.submit(grading.grade, submission, assignment, seed=seed)

    def map(self, submissions, assignment=None):
        return [f.result() for f in [self.submit(s, assignment) for s in submissions]]

    def close(self):
        self._executor.shutdown(cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
