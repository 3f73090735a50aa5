"""/metrics on a real SQLite database: the queue per assignment and the LTI passback backlog,
read from the tables as any scraping process would."""

import datetime

from prometheus_client import CollectorRegistry, generate_latest

from grader.doors.metrics import DatabaseCollector
from grader.store.db import Submission, sessions_for, utcnow


def _scrape(sessions):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(sessions))
    return generate_latest(registry).decode()


def _sample(text, name):
    line = next((line for line in text.splitlines() if line.startswith(name + " ")), None)
    return float(line.split()[-1]) if line else None


def test_queue_and_outcomes_per_assignment(tmp_path):
    sessions = sessions_for(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with sessions() as session:
        for i, (assignment, status) in enumerate([("a1", "queued"), ("a1", "queued"), ("a1", "done"),
                                                  ("a2", "running"), ("a2", "error")]):
            session.add(Submission(id=f"s{i}", student_id="s", assignment=assignment, path="p", status=status))
        session.commit()
    text = _scrape(sessions)
    assert _sample(text, 'convgrade_assignment_queue_depth{assignment="a1",status="queued"}') == 2
    assert _sample(text, 'convgrade_assignment_queue_depth{assignment="a2",status="running"}') == 1
    assert _sample(text, 'convgrade_assignment_submissions_total{assignment="a1",status="done"}') == 1
    assert _sample(text, 'convgrade_assignment_submissions_total{assignment="a2",status="error"}') == 1
    assert _sample(text, 'convgrade_queue_depth{status="queued"}') == 2   # the totals stay
    # no LTI outbox table on this database: an empty backlog, not a failed scrape
    assert _sample(text, 'convgrade_lti_passback_backlog{status="pending"}') == 0


def test_lti_passback_backlog(tmp_path):
    from grader.store.lti_tables import Passback   # registers the outbox table before the engine exists

    sessions = sessions_for(f"sqlite:///{tmp_path / 'lti.sqlite3'}")
    hour_ago = utcnow() - datetime.timedelta(hours=1)
    with sessions() as session:
        for i, (status, error) in enumerate([("pending", None), ("sending", None), ("pending", "HTTP 500"),
                                             ("sent", None), ("sent", "HTTP 502")]):
            session.add(Passback(submission_id=f"s{i}", student_id="s", assignment="a1", score=1, max_score=2,
                                 graded_at=hour_ago if i == 2 else utcnow(), status=status, last_error=error))
        session.commit()
    text = _scrape(sessions)
    assert _sample(text, 'convgrade_lti_passback_backlog{status="pending"}') == 2
    assert _sample(text, 'convgrade_lti_passback_backlog{status="failing"}') == 1
    assert 3500 < _sample(text, "convgrade_lti_passback_oldest_seconds") < 3700
