"""The distributed queue: a real redis-server, a `convgrade worker` (RQ), a `convgrade serve` on top.

Skipped only when the redis-server binary is absent (Debian: apt-get install redis-server).
"""

import shutil
import signal
import subprocess
import time
import warnings

import pytest
import redis

from conftest import SERVICE_ASSIGNMENT
from grader.engine.grading import grade
from service_harness import HOST, Client, Service, checks_as_served, convgrade, error_of, free_port, import_roster

REDIS = shutil.which("redis-server", path="/usr/local/bin:/usr/bin:/usr/sbin")
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed (apt-get install redis-server)")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen([REDIS, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no",
                               "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    url = f"redis://{HOST}:{port}/0"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def rq_service(tmp_path_factory, redis_url):
    """serve (HTTP only, CONVGRADE_QUEUE_URL=redis) + one RQ worker, sharing data dir and database."""
    service = Service(tmp_path_factory.mktemp("rq"), queue_url=redis_url, resubmit_seconds=3600)
    service.tokens = import_roster(service.data_dir, ["r1", "r2"], service.env)
    worker = convgrade(service.env, "worker", stdout=open(service.data_dir / "worker.log", "wb"),
                       stderr=subprocess.STDOUT)
    service.start()
    yield service
    service.stop()
    stop_worker(worker, service.data_dir / "worker.log")


def stop_worker(worker, log):
    """SIGTERM, as compose and systemd stop a worker. A worker still running 30 s later is
    asked for its threads' stacks (SIGUSR1, faulthandler) and killed; that is reported as a
    warning with the log's tail rather than failing the test whose fixture it is, which
    proved what it proves before the teardown."""
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.send_signal(signal.SIGUSR1)
        time.sleep(2)
        worker.kill()
        worker.wait()
        warnings.warn("the RQ worker was still running 30 s after SIGTERM:\n" + log.read_text()[-6000:])


def test_rq_worker_grades_like_the_embedded_core(rq_service, notebooks):
    for kind, student in (("reference", "r1"), ("stubs", "r2")):
        client = Client(rq_service.url, rq_service.tokens[student])
        response = client.submit(notebooks[kind], SERVICE_ASSIGNMENT, wait=180)
        assert response.status_code == 200, response.text + (rq_service.data_dir / "worker.log").read_text()
        remote = response.json()["result"]
        local = grade(notebooks[kind], SERVICE_ASSIGNMENT)
        assert remote["score"] == local["score"] and remote["max_score"] == local["max_score"]
        assert checks_as_served(remote) == checks_as_served(local)


def test_resubmission_rate_limit(rq_service, notebooks):
    """r1 submitted in the test above; CONVGRADE_RESUBMIT_SECONDS=3600 refuses a second one."""
    rows = len(rq_service.rows())
    response = Client(rq_service.url, rq_service.tokens["r1"]).submit(notebooks["stubs"])
    assert response.status_code == 429 and "3600" in error_of(response)
    assert len(rq_service.rows()) == rows


def test_regrade_goes_through_rq_and_keeps_the_earlier_result(rq_service):
    """`convgrade regrade` puts the submission on RQ's regrade queue; the RQ worker grades it again."""
    admin = Client(rq_service.url, rq_service.admin_token)
    [submission] = [s for s in admin.get("/api/v1/submissions").json()["submissions"] if s["student_id"] == "r2"]
    before = admin.get(f"/api/v1/submissions/{submission['id']}").json()
    regrade = convgrade(rq_service.env, "regrade", "--student", "r2", "--wait", "180",
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = regrade.communicate(timeout=240)
    assert regrade.returncode == 0 and "queued 1 submission(s)" in err and "1 unchanged" in err, err
    after = admin.get(f"/api/v1/submissions/{submission['id']}").json()
    assert after["status"] == "done" and after["result"]["score"] == before["result"]["score"]
    assert [h["result"]["score"] for h in after["history"]] == [before["result"]["score"]]
    assert after["finished_at"] > before["finished_at"]
