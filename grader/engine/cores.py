"""Which of this machine's cores gradings hold now, across every grading process.

A grading holds one core while it runs, and a second where one is free: it then splits its
checks over two sandboxes that run at once (grader.engine.grading), so a single submission
uses both cores of a laptop, while the gradings of a batch, which hold every core between
them, are not split and run no more processes than cores.

A core is a lock file held with flock(2) (the kernel lets go of it when its holder dies,
however it dies), as the sandbox's uids are leased (grader.engine.sandbox.UidLease); no
library keeps a count across unrelated processes with that guarantee. Only convgrade's own
gradings are counted: other work on the machine is the operating system's to schedule.
"""

import fcntl
import os
from pathlib import Path

LOCK_DIR = Path("/tmp/convgrade-cores")


def count():
    return len(os.sched_getaffinity(0))


class Held:
    """Up to `wanted` of the machine's cores, held until closed (`len()` says how many; none
    when every one is held: the grading runs anyway, on one)."""

    def __init__(self, wanted):
        self._handles = []
        try:
            LOCK_DIR.mkdir(mode=0o777, exist_ok=True)
            for core in range(count()):
                if len(self._handles) == wanted:
                    break
                self._take(LOCK_DIR / str(core))
        except OSError:  # a directory another user made, a full disk: hold nothing, split nothing
            self.close()

    def _take(self, path):
        handle = open(path, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return
        self._handles.append(handle)

    def __len__(self):
        return len(self._handles)

    def close(self):
        for handle in self._handles:
            handle.close()
        self._handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
