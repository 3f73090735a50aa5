"""The one point where other parts of convgrade hear that a submission was graded.

`jobs.run_claimed` calls `graded(submission)` in the worker process after a result is
stored (first grading and every regrade); `submission` is the committed Submission row,
with `credit` and `credited_score` set (grader.course.deadlines.credited gives the same number).

Register a listener in either of two ways; both work in every worker process (embedded
workers are spawned, RQ workers are separate commands, so an import in the web process is
not enough):

    DEFAULT_LISTENERS = ("package.module:function",)      # add a line here, or
    CONVGRADE_GRADED_HOOKS=package.module:function,...    # name them in the environment

`register(fn)` adds one at run time (in this process only): each grading worker of the
queue (queue.worker_loop, queue.run_workers) registers LTI's score passback this way
(grader.doors.lti.passback.graded_listener), so grading never calls into LTI. A listener
that raises is logged and skipped: it never fails the grading.
"""

import importlib
import os
import sys
import traceback

DEFAULT_LISTENERS = ()
_registered = []


def register(listener):
    if listener not in _registered:
        _registered.append(listener)
    return listener


def graded(submission):
    for listener in [*_named(DEFAULT_LISTENERS), *_named(_from_env()), *_registered]:
        try:
            listener(submission)
        except Exception:
            print(f"convgrade: the graded hook {listener!r} failed for {submission.id}:", file=sys.stderr)
            traceback.print_exc()


def _from_env():
    return tuple(n.strip() for n in os.environ.get("CONVGRADE_GRADED_HOOKS", "").split(",") if n.strip())


def _named(names):
    listeners = []
    for name in names:
        module, _, function = name.partition(":")
        try:
            listeners.append(getattr(importlib.import_module(module), function))
        except (ImportError, AttributeError) as exc:
            print(f"convgrade: cannot load the graded hook {name!r}: {exc}", file=sys.stderr)
    return listeners
