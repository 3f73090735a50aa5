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
"""

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import func, select

from grader.service.db import Submission, utcnow

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
