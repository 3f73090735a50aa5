"""Which RQ grading workers are alive, and putting back what a dead one left running.

A `convgrade worker` that is SIGKILLed, or whose container is killed, mid-grade leaves
its submission 'running' in the database and its RQ job in RQ's StartedJobRegistry. RQ
declares such a job abandoned only once its timeout has passed (RQ_JOB_TIMEOUT, 30
minutes: a SimpleWorker sends no heartbeat while it grades), far too late at a deadline.
So every worker keeps a key `convgrade:alive:<worker name>` in Redis, refreshed from a
thread every CONVGRADE_HEARTBEAT_SECONDS (default 5) with a time-to-live of three beats;
and a reaper (in every worker, and in `convgrade serve` with a Redis queue) looks as
often for submissions running on a worker whose key has expired (at two checks in a
row), puts them back in the queue and enqueues them again. The claim is atomic and `jobs.finish` stores a result only
for the worker holding the claim, so a submission is graded to one result however many
workers see it.
"""

import os
import sys
import threading

from grader.doors.service import jobs

KEY = "convgrade:alive:{}"
BEATS_TO_DEATH = 3


def heartbeat_seconds():
    return float(os.environ.get("CONVGRADE_HEARTBEAT_SECONDS", "") or 5)


def beat(redis, name):
    redis.set(KEY.format(name), "1", px=int(1000 * heartbeat_seconds() * BEATS_TO_DEATH))


def dead_workers(redis, database_url):
    """Workers that hold a running submission and whose heartbeat key has expired."""
    return {name for name in jobs.running_workers(database_url) if name and not redis.exists(KEY.format(name))}


def reap(redis, database_url, enqueue, suspects=None):
    """Requeue what dead workers left running; return the submission ids.

    With `suspects` (a set kept between calls), a worker counts as dead only when its key
    was missing at two checks in a row: a live worker starved of CPU for one time-to-live
    (a loaded machine) is not robbed of its submission."""
    dead = dead_workers(redis, database_url)
    if suspects is not None:
        dead, suspects_now = dead & suspects, dead - suspects
        suspects.clear()
        suspects.update(suspects_now)
    ids = jobs.requeue_running_on(database_url, dead)
    for submission_id in ids:
        enqueue(submission_id)
    if ids:
        print(f"convgrade: requeued {len(ids)} submission(s) left running by a dead worker", file=sys.stderr)
    return ids


def start(redis, database_url, enqueue, name=None):
    """Beat for `name` (a worker) at once and then from a daemon thread that also reaps."""
    if name:
        beat(redis, name)
    stop = threading.Event()
    suspects = set()

    def loop():
        while not stop.wait(heartbeat_seconds()):
            try:
                if name:
                    beat(redis, name)
                reap(redis, database_url, enqueue, suspects)
            except Exception as exc:  # Redis or the database away for a moment: try again next beat
                print(f"convgrade: liveness check failed: {exc}", file=sys.stderr)

    threading.Thread(target=loop, name="convgrade-liveness", daemon=True).start()
    return stop
