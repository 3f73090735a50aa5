"""The passback outbox: a launched student's graded submission -> a `passbacks` row -> AGS.

A row is written in the same worker that stored the result, then sent at once; if the LMS
is down or refuses, it stays 'pending' and is retried with exponential backoff (capped at
an hour) by a loop in the service process, until the platform takes it. Rows are claimed
atomically, so several processes may run the loop; a claim left by a dead process expires.
"""

import datetime
import json
import os
import sys
import threading

from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import or_, select, update

from grader.doors.lti import links
from grader.store.db import Submission, sessions_for, utcnow
from grader.store.lti_tables import Passback, ensure_tables

RETRY_ENV = "CONVGRADE_LTI_RETRY_SECONDS"
MAX_BACKOFF_SECONDS = 3600
CLAIM_LEASE_SECONDS = 300
LOOP_SECONDS = 1.0


def graded_listener(settings):
    """A listener for the graded event (grader.doors.service.hooks) in a worker grading with
    `settings`: the LMS gets the score of a student who came through LTI."""
    def send_score(submission):
        after_grading(settings, submission.id)
    return send_score


def after_grading(settings, submission_id):
    """The post-grading hook: queue the score of a launched student and try to send it now.

    Never raises: the LMS being down must not fail a grade.
    """
    try:
        if record(settings.database_url, submission_id) is not None:
            deliver_due(settings.database_url)
    except Exception as exc:
        print(f"convgrade: LTI passback of {submission_id} deferred: {exc}", file=sys.stderr)


def record(database_url, submission_id):
    """Add the outbox row for a graded submission whose student launched its assignment."""
    ensure_tables(database_url)
    with sessions_for(database_url)() as session:
        submission = session.get(Submission, submission_id)
        result = submission.result if submission is not None else None
        if result is None or not result.get("gradable"):
            return None   # an unreadable notebook must not overwrite a real score in the LMS
        launch = _launch_of(database_url, submission)
        if launch is None:
            return None
        row = Passback(submission_id=submission_id, student_id=submission.student_id,
                       assignment=submission.assignment, launch_id=launch.id,
                       score=float(credited_score(submission, result)),
                       max_score=float(result["max_score"]), graded_at=submission.finished_at or utcnow(),
                       status="pending", attempts=0, next_attempt_at=utcnow())
        session.add(row)
        session.commit()
        return row.id


def _launch_of(database_url, submission):
    """The launch whose line item gets this submission's score (grader.doors.lti.links.launch_for)."""
    return links.launch_for(database_url, submission.student_id, submission.assignment,
                            submission.created_at)


def credited_score(submission, result):
    """The score the course credits (after deadlines), where the course rules have set one."""
    for credited in (getattr(submission, "credited_score", None), result.get("credited_score")):
        if credited is not None:
            return credited
    return result["score"]


def deliver_due(database_url):
    """Send every row that is due; return how many the platform accepted."""
    sent = 0
    while (row := _claim_due(database_url)) is not None:
        try:
            send(database_url, row)
        except Exception as exc:
            _retry_later(database_url, row, exc)
        else:
            _mark(database_url, row.id, status="sent", sent_at=utcnow(), claimed_at=None)
            sent += 1
    return sent


def send(database_url, row):
    """Send one row to the line item of its launch (a row queued by an older version, without
    one, to the launch its submission belongs to)."""
    link = links.launch_by_id(database_url, row.launch_id) if row.launch_id is not None else None
    if link is None:
        with sessions_for(database_url)() as session:
            link = _launch_of(database_url, session.get(Submission, row.submission_id))
    registration = links.registration(link.issuer, link.client_id)
    endpoint = json.loads(link.ags_json)
    ags = AssignmentsGradesService(ServiceConnector(registration), endpoint)
    grade = (Grade().set_score_given(row.score).set_score_maximum(row.max_score)
             .set_timestamp(row.graded_at.isoformat(timespec="milliseconds") + "Z")
             .set_activity_progress("Completed").set_grading_progress("FullyGraded")
             .set_user_id(link.lti_user_id))
    lineitem = None
    if not endpoint.get("lineitem"):   # a link without its own column: find or make one
        lineitem = (LineItem().set_tag(row.assignment).set_resource_id(row.assignment)
                    .set_label(row.assignment).set_score_maximum(row.max_score))
    try:
        ags.put_grade(grade, lineitem)
    except LtiServiceException as exc:
        if exc.response.status_code != 409:   # 409: the platform holds a newer score already
            raise


def _claim_due(database_url):
    now = utcnow()
    stale = now - datetime.timedelta(seconds=CLAIM_LEASE_SECONDS)
    due = or_((Passback.status == "pending") & (Passback.next_attempt_at <= now),
              (Passback.status == "sending") & (Passback.claimed_at < stale))
    with sessions_for(database_url)() as session:
        for candidate in session.scalars(select(Passback.id).where(due).order_by(Passback.id).limit(20)):
            claimed = session.execute(update(Passback).where(Passback.id == candidate, due).values(
                status="sending", claimed_at=now, attempts=Passback.attempts + 1)).rowcount
            session.commit()
            if claimed:
                return session.get(Passback, candidate)
    return None


def _retry_later(database_url, row, exc):
    base = float(os.environ.get(RETRY_ENV, 30) or 30)
    delay = min(base * 2 ** (row.attempts - 1), MAX_BACKOFF_SECONDS)
    _mark(database_url, row.id, status="pending", claimed_at=None, last_error=str(exc)[:2000],
          next_attempt_at=utcnow() + datetime.timedelta(seconds=delay))


def _mark(database_url, row_id, **values):
    with sessions_for(database_url)() as session:
        session.execute(update(Passback).where(Passback.id == row_id).values(**values))
        session.commit()


def rows(database_url):
    ensure_tables(database_url)
    with sessions_for(database_url)() as session:
        return list(session.scalars(select(Passback).order_by(Passback.id)))


def start_retry_loop(settings):
    """Retry pending passbacks in this process, in a daemon thread (only where LTI is configured)."""
    if not os.environ.get(links.CONFIG_ENV):
        return None
    thread = threading.Thread(target=_retry_forever, args=(settings.database_url,),
                              name="convgrade-lti-passback", daemon=True)
    thread.start()
    return thread


def _retry_forever(database_url):
    stop = threading.Event()
    while not stop.wait(LOOP_SECONDS):
        try:
            deliver_due(database_url)
        except Exception as exc:   # the database being briefly locked must not end the loop
            print(f"convgrade: LTI passback loop: {exc}", file=sys.stderr)
