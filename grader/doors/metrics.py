"""Prometheus metrics at /metrics, so an operator sees the backlog at a deadline.

Everything is read from the database when Prometheus scrapes. The database is the one
place every grading process writes to (the embedded pool, RQ workers in other
containers) and every web process reads (gunicorn with several workers), so any process
that answers the scrape gives the same numbers: no PROMETHEUS_MULTIPROC_DIR, nothing lost
when a process restarts.

    convgrade_queue_depth{status="queued"|"running"}   submissions waiting / being graded
    convgrade_queue_oldest_seconds                     age of the oldest queued submission
    convgrade_submissions_total{status="done"|"error"} finished submissions, per outcome
    convgrade_grading_seconds                          histogram of finished grades' time
                                                       (claim to result, the last attempt)
    convgrade_assignment_queue_depth{assignment, status}        the queue per assignment
    convgrade_assignment_submissions_total{assignment, status}  outcomes per assignment
    convgrade_lti_passback_backlog{status="pending"|"failing"}  scores the LMS has not received
                                                       (failing: the last attempt failed)
    convgrade_lti_passback_oldest_seconds              age of the oldest score not yet received
"""

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from grader.store.db import Submission, utcnow

bp = Blueprint("metrics", __name__)
GRADING_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)


class DatabaseCollector:
    """A prometheus_client collector over the submissions table."""

    def __init__(self, sessions):
        self.sessions = sessions

    def collect(self):
        with self.sessions() as session:
            counts = dict(session.execute(select(Submission.status, func.count()).group_by(Submission.status)).all())
            oldest = session.scalar(select(func.min(Submission.created_at)).where(Submission.status == "queued"))
            spans = session.execute(select(Submission.started_at, Submission.finished_at).where(
                Submission.status.in_(("done", "error")), Submission.started_at.is_not(None),
                Submission.finished_at.is_not(None))).all()
        depth = GaugeMetricFamily("convgrade_queue_depth", "Submissions waiting or being graded", labels=["status"])
        for status in ("queued", "running"):
            depth.add_metric([status], counts.get(status, 0))
        yield depth
        yield GaugeMetricFamily("convgrade_queue_oldest_seconds", "Age of the oldest queued submission",
                                value=(utcnow() - oldest).total_seconds() if oldest else 0)
        outcomes = CounterMetricFamily("convgrade_submissions", "Finished submissions by outcome", labels=["status"])
        for status in ("done", "error"):
            outcomes.add_metric([status], counts.get(status, 0))
        yield outcomes
        yield _histogram([(end - start).total_seconds() for start, end in spans])
        yield from self._per_assignment()
        yield from self._passback_backlog()

    def _per_assignment(self):
        with self.sessions() as session:
            counts = session.execute(select(Submission.assignment, Submission.status, func.count())
                                     .group_by(Submission.assignment, Submission.status)).all()
        depth = GaugeMetricFamily("convgrade_assignment_queue_depth", "Submissions waiting or being graded, "
                                  "per assignment", labels=["assignment", "status"])
        outcomes = CounterMetricFamily("convgrade_assignment_submissions", "Finished submissions per assignment "
                                       "and outcome", labels=["assignment", "status"])
        for assignment, status, count in counts:
            (depth if status in ("queued", "running") else outcomes).add_metric([assignment, status], count)
        yield depth
        yield outcomes

    def _passback_backlog(self):
        """Scores owed to the LMS (grader/doors/lti/passback.py's outbox): not yet accepted by it."""
        from grader.store.lti_tables import Passback

        try:
            with self.sessions() as session:
                owed = session.execute(select(Passback.last_error, Passback.graded_at)
                                       .where(Passback.status != "sent")).all()
        except SQLAlchemyError:
            owed = []   # no outbox table: LTI was never set up on this database
        backlog = GaugeMetricFamily("convgrade_lti_passback_backlog", "Scores the LMS has not received yet "
                                    "(failing: the last attempt failed)", labels=["status"])
        backlog.add_metric(["pending"], sum(error is None for error, _ in owed))
        backlog.add_metric(["failing"], sum(error is not None for error, _ in owed))
        yield backlog
        oldest = min((graded for _, graded in owed), default=None)
        yield GaugeMetricFamily("convgrade_lti_passback_oldest_seconds", "Age of the oldest score the LMS "
                                "has not received", value=(utcnow() - oldest).total_seconds() if oldest else 0)


def _histogram(seconds):
    buckets = [(str(bound), sum(s <= bound for s in seconds)) for bound in GRADING_BUCKETS]
    buckets.append(("+Inf", len(seconds)))
    return HistogramMetricFamily("convgrade_grading_seconds", "Time from claim to result of finished grades",
                                 buckets=buckets, sum_value=sum(seconds))


@bp.get("/metrics")
def metrics():
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(current_app.config["SESSIONS"]))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
