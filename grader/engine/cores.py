"""How many gradings run on this machine now, across every grading process, and so whether
a grading may take a second core.

Every grading holds a slot while it runs; one that finds fewer slots held than the machine
has cores, once its program has run, holds a second and is split over two sandboxes at once
(grader.engine.grading). A single submission then uses both cores of a laptop, while the
gradings of a batch, at least one per core, are not split and run no more sandboxes than
cores. Two gradings that start at the same instant may both see a core free: a batch then
splits once too often, and the next gradings see it.

A slot is a lock file held with flock(2), which the kernel lets go of when its holder dies,
however it dies, as the sandbox's uids are leased (grader.engine.sandbox.UidLease); no library
keeps a count across unrelated processes with that guarantee. Only convgrade's own gradings
are counted: other work on the machine is the operating system's to schedule.
"""

import fcntl
import os
from pathlib import Path

LOCK_DIR = Path("/tmp/convgrade-cores")


def count():
    return len(os.sched_getaffinity(0))


class Held:
    """A grading's slot, held until closed; `take_another()` adds a second where fewer are held
    than the machine has cores. `len()` says how many (none where the directory cannot be
    used: the grading runs anyway, in one sandbox)."""

    def __init__(self):
        self._handles = []
        self._slots = [LOCK_DIR / str(n) for n in range(max(64, 2 * count()))]
        try:
            LOCK_DIR.mkdir(mode=0o777, exist_ok=True)
            self._take_one(self._slots)
        except OSError:  # a directory another user made, a full disk: hold nothing, split nothing
            self.close()

    def take_another(self):
        """A second slot, where this grading holds one and fewer are held than cores."""
        try:
            if len(self._handles) == 1 and self._held_by_anyone(self._slots) < count():
                self._take_one(self._slots)
        except OSError:
            pass
        return len(self._handles) == 2

    def _take_one(self, slots):
        for path in slots:
            handle = self._lock(path)
            if handle is not None:
                self._handles.append(handle)
                return

    def _held_by_anyone(self, slots):
        """How many slots are held, ours included (each free one is locked and let go at once)."""
        held = 0
        for path in slots:
            handle = self._lock(path)
            if handle is None:
                held += 1
            else:
                handle.close()
        return held

    @staticmethod
    def _lock(path):
        handle = open(path, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return handle

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
