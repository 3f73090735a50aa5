"""The grading job, the same behind the embedded queue and RQ: claim a row, grade its file, store the result.

A job is claimed atomically (UPDATE ... WHERE status='queued'), so a submission handed to
two workers (a requeue, a duplicate RQ job) is graded once.
"""

import json
import os
import socket
import traceback

from sqlalchemy import select, update

from grader.store.db import Submission, sessions_for, utcnow
from grader.store.settings import Settings

MAX_ATTEMPTS = 3


def worker_name(pid=None):
    return f"{socket.gethostname()}:{pid or os.getpid()}"


def grade_submission(submission_id, settings=None):
    """Grade one queued submission (the RQ job function); a no-op when someone else has it."""
    settings = settings or Settings.from_env()
    submission = claim(settings.database_url, submission_id)
    if submission is not None:
        run_claimed(settings, submission)
    return submission is not None


def warm_up():
    """Start this process's sandbox zygote and import every suite before the first job."""
    from grader.engine import zygote_launcher

    zygote_launcher.start_early()  # its torch import runs beside ours
    from grader.engine import grading

    grading.warm_up()


def claim(database_url, submission_id, worker=None):
    """Move one submission from queued to running; return it, or None if it was not queued."""
    with sessions_for(database_url)() as session:
        claimed = session.execute(
            update(Submission)
            .where(Submission.id == submission_id, Submission.status == "queued")
            .values(status="running", started_at=utcnow(), attempts=Submission.attempts + 1,
                    worker=worker or worker_name())
            .returning(Submission.id)).first()
        session.commit()
        return session.get(Submission, submission_id) if claimed else None


def claim_next(database_url, worker=None):
    """Claim the oldest queued submission, or return None when there is none."""
    while True:
        with sessions_for(database_url)() as session:
            # new work before regrades: a regrade of the whole class never delays a student
            oldest = session.scalars(select(Submission.id).where(Submission.status == "queued")
                                     .order_by(Submission.regrading, Submission.created_at).limit(1)).first()
        if oldest is None:
            return None
        submission = claim(database_url, oldest, worker)
        if submission is not None:
            return submission


def run_claimed(settings, submission):
    from grader.engine import grading
    from grader.operations import regrade

    if submission.attempts > MAX_ATTEMPTS:
        return finish(settings.database_url, submission.id, error=(
            f"grading was interrupted {MAX_ATTEMPTS} times; the submission was not graded"))
    regrade.reload_changed_suites()
    try:
        # replay_seed: a regrade replays the recorded seed (None: a fresh one)
        result = grading.grade(settings.data_dir / submission.graded_notebook, submission.assignment,
                               seed=submission.replay_seed)
    except Exception as exc:  # a grader bug, not the student's: record it, keep the worker alive
        traceback.print_exc()
        return finish(settings.database_url, submission.id, error=f"the grader failed: {exc}",
                      worker=submission.worker)
    finish(settings.database_url, submission.id, result=result, worker=submission.worker)


def finish(database_url, submission_id, result=None, error=None, worker=None):
    """Store the outcome and its credited score, then tell the graded hook (grader.doors.service.hooks);
    True when stored. With `worker`, only while that worker still holds the claim: a submission
    requeued from a worker thought dead is finished by its new claimant alone."""
    from grader.course import deadlines
    from grader.doors.service import hooks

    with sessions_for(database_url)() as session:
        submission = session.get(Submission, submission_id)
        if submission is None:
            return False
        if worker is not None and (submission.status != "running" or submission.worker != worker):
            return False
        submission.status = "done" if error is None else "error"
        submission.finished_at = utcnow()
        submission.result_json = json.dumps(result) if result is not None else None
        submission.error = error
        submission.regrading, submission.replay_seed = False, None
        submission.credited_score = deadlines.credited(submission)
        session.commit()
    if error is None:
        hooks.graded(submission)
    return True


def requeue(database_url, where_running_on=None):
    """Put running submissions back in the queue (all of them, or those of dead workers)."""
    condition = [Submission.status == "running"]
    if where_running_on is not None:
        condition.append(Submission.worker.in_(list(where_running_on)))
    with sessions_for(database_url)() as session:
        count = session.execute(update(Submission).where(*condition).values(
            status="queued", worker=None)).rowcount
        session.commit()
    return count


def running_workers(database_url):
    """The workers that hold a claim on some running submission."""
    with sessions_for(database_url)() as session:
        return set(session.scalars(select(Submission.worker).where(Submission.status == "running").distinct()))


def requeue_running_on(database_url, workers):
    """Put the submissions running on `workers` back in the queue; return their ids."""
    if not workers:
        return []
    with sessions_for(database_url)() as session:
        ids = list(session.scalars(update(Submission).where(
            Submission.status == "running", Submission.worker.in_(list(workers)))
            .values(status="queued", worker=None).returning(Submission.id)))
        session.commit()
    return ids


def queued_ids(database_url):
    with sessions_for(database_url)() as session:
        return list(session.scalars(select(Submission.id).where(Submission.status == "queued")
                                    .order_by(Submission.created_at)))
