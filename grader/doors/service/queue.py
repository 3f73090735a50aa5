"""The two queues behind the service, one job function (grader.doors.service.jobs) behind both.

Embedded (CONVGRADE_QUEUE_URL empty): the database is the queue. A pool of worker
processes (one grade at a time each: a hidden suite runs one submission at a time), sharing
one sandbox zygote, claims queued rows atomically; on start, any row left 'running' by a
dead service is requeued, and a worker that dies mid-grade is replaced and its submission
requeued.

Distributed (CONVGRADE_QUEUE_URL=redis://...): each accepted submission is also an RQ
job on the "convgrade" queue; `convgrade worker` runs RQ workers anywhere that can reach
the database, Redis and the data dir. Rows still queued at start are enqueued again
(a duplicate job is a no-op: the claim is atomic). What a worker that died mid-grade left running is
requeued by grader.doors.service.liveness (worker heartbeats in Redis).
"""

import ctypes
import faulthandler
import multiprocessing
import os
import signal
import sys
import threading
import time

from grader.doors.lti import passback
from grader.doors.service import hooks, jobs, liveness
from grader.engine import zygote_launcher

POLL_SECONDS = 0.2
RQ_QUEUE_NAME = "convgrade"
RQ_REGRADE_QUEUE_NAME = "convgrade-regrades"   # workers take new submissions first
RQ_JOB_TIMEOUT = 30 * 60


def make_queue(settings):
    if settings.queue_url.startswith(("redis://", "rediss://", "unix://")):
        return RQQueue(settings)
    if settings.queue_url:
        raise ValueError(f"CONVGRADE_QUEUE_URL must be empty or a redis:// URL, not {settings.queue_url!r}")
    return EmbeddedQueue(settings)


class EmbeddedQueue:
    def __init__(self, settings):
        self.settings = settings
        self.context = multiprocessing.get_context("spawn")
        self.stopping = threading.Event()  # not a multiprocessing.Event: a killed waiter deadlocks set()
        self.processes = []
        self.supervisor = None
        self.zygote = None

    def enqueue(self, submission_id, regrade=False):
        """Nothing to do: the committed row is the job."""

    def start(self):
        requeued = jobs.requeue(self.settings.database_url)
        if requeued:
            print(f"convgrade: requeued {requeued} submission(s) left running by a previous run", file=sys.stderr)
        self.zygote = zygote_launcher.launch()  # one sandbox zygote, shared by every worker
        self.processes = [self._spawn() for _ in range(self.settings.workers)]
        self.supervisor = threading.Thread(target=self._supervise, name="convgrade-supervisor", daemon=True)
        self.supervisor.start()
        passback.start_retry_loop(self.settings)
        return self

    def stop(self):
        """Stop the workers; a grade cut short stays 'running' and is requeued by the next start()."""
        self.stopping.set()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
        if self.zygote is not None:
            self.zygote.stop()

    def _spawn(self):
        process = self.context.Process(target=worker_loop,
                                       args=(self.settings, os.getpid(), self.zygote.pid, self.zygote.control),
                                       name="convgrade-worker", daemon=True)
        process.start()
        return process

    def _supervise(self):
        while not self.stopping.wait(1.0):
            for index, process in enumerate(self.processes):
                if not process.is_alive() and not self.stopping.is_set():
                    jobs.requeue(self.settings.database_url, where_running_on=[jobs.worker_name(process.pid)])
                    self.processes[index] = self._spawn()


def worker_loop(settings, parent_pid, zygote_pid=None, zygote_control=None):
    """One grading worker process: claim, grade, store, until terminated or orphaned."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if zygote_control is not None:
        zygote_launcher.attach(zygote_pid, zygote_control)
    hooks.register(passback.graded_listener(settings))
    jobs.warm_up()
    while os.getppid() == parent_pid:
        submission = jobs.claim_next(settings.database_url)
        if submission is None:
            time.sleep(POLL_SECONDS)
            continue
        jobs.run_claimed(settings, submission)


def _die_with_parent(parent_pid):
    """Linux: SIGKILL this worker when the service dies, so no orphan grades behind a restart."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:
        os._exit(0)


class RQQueue:
    def __init__(self, settings):
        from redis import Redis
        from rq import Queue

        self.settings = settings
        self.redis = Redis.from_url(settings.queue_url)
        self.queue = Queue(RQ_QUEUE_NAME, connection=self.redis)
        self.regrades = Queue(RQ_REGRADE_QUEUE_NAME, connection=self.redis)

    def enqueue(self, submission_id, regrade=False):
        """Best effort: the row is durable already, and start() re-enqueues what Redis lost."""
        queue = self.regrades if regrade else self.queue
        try:
            queue.enqueue("grader.doors.service.jobs.grade_submission", submission_id,
                          job_timeout=RQ_JOB_TIMEOUT, result_ttl=0, failure_ttl=24 * 3600)
        except Exception as exc:
            print(f"convgrade: could not enqueue {submission_id} on Redis ({exc}); "
                  "it stays queued in the database", file=sys.stderr)

    def start(self):
        for submission_id in jobs.queued_ids(self.settings.database_url):
            self.enqueue(submission_id)
        self.reaper = liveness.start(self.redis, self.settings.database_url, self.enqueue)
        passback.start_retry_loop(self.settings)
        return self

    def stop(self):
        if getattr(self, "reaper", None):
            self.reaper.set()


def run_workers(settings):
    """`convgrade worker`: grade in the foreground without serving HTTP."""
    queue = make_queue(settings)
    if isinstance(queue, RQQueue):
        from rq.worker import SimpleWorker  # grades in-process: the sandbox zygote stays warm

        faulthandler.register(signal.SIGUSR1, all_threads=True)  # a stuck worker shows where it is
        hooks.register(passback.graded_listener(settings))
        jobs.warm_up()
        liveness.start(queue.redis, settings.database_url, queue.enqueue, name=jobs.worker_name())
        SimpleWorker([queue.queue, queue.regrades], connection=queue.redis).work()
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    queue.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        queue.stop()
