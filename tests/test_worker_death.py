"""A grading worker SIGKILLed mid-grade loses nothing: another worker grades the submission.

Real engines throughout: a redis-server (the RQ queue and the workers' heartbeats), a
PostgreSQL cluster as CONVGRADE_DATABASE_URL (initdb + pg_ctl in a temporary folder;
SQLite where PostgreSQL is not installed), gunicorn serving the app with two processes,
and `convgrade worker` processes. Worker A claims the submission and is SIGKILLed (its
whole process group: the worker, its sandbox template and the sandbox child) while the
submission is 'running'; worker B, started afterwards, finds A's heartbeat expired,
requeues the submission and grades it, to the embedded core's result; /metrics, scraped
from gunicorn, counts one finished grade and an empty queue.

Slow: 134-220 s measured on 2 shared vCPUs at load average ~15-20 (two worker warm-ups,
three grades, a PostgreSQL initdb); without the reaper it fails with "1 submission(s) never
finished".
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis
import requests
from sqlalchemy import create_engine, text

from conftest import SERVICE_ASSIGNMENT
from grader.engine.grading import grade
from real_engines import postgres_cluster, postgres_missing_reason, redis_server, redis_server_binary
from service_harness import HOST, REPO, Client, checks_as_served, convgrade, free_port, import_roster, service_env

pytestmark = pytest.mark.skipif(redis_server_binary() is None,
                                reason="redis-server is not installed (apt-get install redis-server)")
HEARTBEAT_SECONDS = 2


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    if postgres_missing_reason():
        print(f"PostgreSQL unavailable ({postgres_missing_reason()}): SQLite instead")
        yield ""
        return
    with postgres_cluster(free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(free_port(), tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, redis_url, database_url):
    """gunicorn (2 processes) over the shared database and Redis; workers are started by the test."""
    data_dir = tmp_path_factory.mktemp("death")
    env = service_env(data_dir, queue_url=redis_url, database_url=database_url,
                      heartbeat_seconds=HEARTBEAT_SECONDS)
    tokens = import_roster(data_dir, ["d1"], env)
    port = free_port()
    log = open(data_dir / "gunicorn.log", "wb")
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"{HOST}:{port}",
                            "grader.doors.service:create_app()"], cwd=REPO, env=env, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{HOST}:{port}"
    _until(lambda: requests.get(url + "/healthz", timeout=2).status_code == 200, 60, "gunicorn healthy",
           ignore=requests.RequestException)
    workers = []

    def start_worker(name):
        process = convgrade(env, "worker", stdout=open(data_dir / f"{name}.log", "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
        workers.append(process)
        return process

    yield {"env": env, "url": url, "client": Client(url, tokens["d1"]), "data_dir": data_dir,
           "start_worker": start_worker, "redis": redis.Redis.from_url(redis_url),
           "db": create_engine(database_url or f"sqlite:///{data_dir / 'convgrade.sqlite3'}")}
    for process in [web, *workers]:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def test_killed_worker_submission_is_graded_once_by_another(deployment, notebooks):
    db, queue = deployment["db"], deployment["redis"]
    worker_a = deployment["start_worker"]("worker-a")
    name_a = f"{socket.gethostname()}:{worker_a.pid}"
    _until(lambda: queue.exists(f"convgrade:alive:{name_a}"), 120, "worker A warm (heartbeat in Redis)")

    reply = deployment["client"].submit(notebooks["reference"], SERVICE_ASSIGNMENT)
    assert reply.status_code in (200, 202), reply.text
    submission_id = reply.json()["id"]

    def row():
        with db.connect() as connection:
            return connection.execute(text("SELECT status, worker, attempts, result_json FROM submissions "
                                           "WHERE id = :id"), {"id": submission_id}).one()

    _until(lambda: row().status == "running" and row().worker == name_a, 60, "worker A grading")
    os.killpg(worker_a.pid, signal.SIGKILL)
    worker_a.wait(timeout=30)
    assert row().status == "running", "the grade finished before the kill: the test proves nothing"

    worker_b = deployment["start_worker"]("worker-b")
    name_b = f"{socket.gethostname()}:{worker_b.pid}"
    body = deployment["client"].wait_done([submission_id], timeout=180)[submission_id]
    log_b = (deployment["data_dir"] / "worker-b.log").read_text(errors="replace")
    assert body["status"] == "done", (body, log_b)
    final = row()
    assert (final.worker, final.attempts) == (name_b, 2), (final, log_b)
    assert "requeued 1 submission(s) left running by a dead worker" in log_b

    local = grade(notebooks["reference"], SERVICE_ASSIGNMENT)
    remote = body["result"]
    assert (remote["score"], remote["max_score"]) == (local["score"], local["max_score"]) and local["score"] > 0
    assert checks_as_served(remote) == checks_as_served(local)
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM submissions")).scalar() == 1

    metrics = requests.get(deployment["url"] + "/metrics", timeout=10).text
    assert _sample(metrics, 'convgrade_submissions_total{status="done"}') == 1
    assert _sample(metrics, 'convgrade_queue_depth{status="queued"}') == 0
    assert _sample(metrics, 'convgrade_queue_depth{status="running"}') == 0
    assert _sample(metrics, "convgrade_grading_seconds_count") == 1


def _sample(exposition, name):
    match = re.search(rf"^{re.escape(name)} (\S+)$", exposition, re.MULTILINE)
    assert match, f"{name} not in /metrics:\n{exposition}"
    return float(match.group(1))


def _until(condition, seconds, what, ignore=()):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except ignore:
            pass
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
