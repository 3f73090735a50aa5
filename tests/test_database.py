"""The service's database on a real PostgreSQL and on SQLite: several processes starting at
once (gunicorn's workers, the queue's workers) each create the schema without tripping
over one another."""

import multiprocessing

import pytest

from real_engines import postgres_cluster, postgres_missing_reason
from service_harness import free_port

STARTERS = 8


def _start(url, barrier, results):
    from grader.store import db

    barrier.wait()
    try:
        db.engine_for(url)
        results.put("ok")
    except Exception as exc:  # noqa: BLE001  (what broke is the test's message)
        results.put(f"{type(exc).__name__}: {str(exc)[:300]}")


def _start_at_once(url):
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(STARTERS), context.Queue()
    starters = [context.Process(target=_start, args=(url, barrier, results)) for _ in range(STARTERS)]
    for process in starters:
        process.start()
    outcomes = [results.get(timeout=120) for _ in starters]
    for process in starters:
        process.join(timeout=30)
    return outcomes


@pytest.mark.skipif(postgres_missing_reason() is not None, reason=str(postgres_missing_reason()))
def test_processes_starting_at_once_on_a_new_postgresql_database():
    with postgres_cluster(free_port()) as url:
        for _ in range(3):  # a race: give it several chances to show
            outcomes = _start_at_once(url)
            assert outcomes == ["ok"] * STARTERS, outcomes
            from sqlalchemy import create_engine, text
            engine = create_engine(url)
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            engine.dispose()


def test_processes_starting_at_once_on_a_new_sqlite_file(tmp_path):
    for attempt in range(3):
        outcomes = _start_at_once(f"sqlite:///{tmp_path / f'convgrade{attempt}.sqlite3'}")
        assert outcomes == ["ok"] * STARTERS, outcomes
