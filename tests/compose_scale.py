"""The scale-out check that docker/compose-test.sh runs against docker-compose.scale.yml.

    python tests/compose_scale.py PORT TOKEN REFERENCE_JSON "COMPOSE FILE ARGS"

With the web container, PostgreSQL, Redis and two worker containers up: submits
SUBMISSIONS reference notebooks over HTTP, waits until each worker has graded one and one
of them is grading another, `docker kill`s that worker container, and checks that every
accepted submission is graded exactly once (one row each, all 'done', the killed one on
its second attempt by the other worker) with the result the embedded queue gave
(REFERENCE_JSON, from the first half of the compose test), and that /metrics agrees.
"""

import json
import subprocess
import sys
import time

sys.path.insert(0, "tests")
from service_harness import Client  # noqa: E402
from submissions import make_submission  # noqa: E402

SUBMISSIONS = 8


def compose(files, *args):
    return subprocess.run(["docker-compose", *files.split(), *args], check=True, capture_output=True,
                          text=True).stdout


def rows(files):
    """(id, status, worker, attempts) of every submission, read with psql in the postgres container."""
    out = compose(files, "exec", "-T", "postgres", "sh", "-c",
                  "$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)/psql -h /run/postgresql -U convgrade "
                  "-d convgrade -AtF, -c 'SELECT id, status, worker, attempts FROM submissions'")
    return [dict(zip(("id", "status", "worker", "attempts"), line.split(","))) for line in out.splitlines() if line]


def wait_for_heartbeats(files, count, seconds=600):
    """Until `count` workers are warm: each beats in Redis once its sandbox template is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len(compose(files, "exec", "-T", "redis", "redis-cli", "--scan", "--pattern", "convgrade:alive:*")
               .split()) >= count:
            return
        time.sleep(1)
    raise AssertionError(f"fewer than {count} workers became ready")


def outcome(result):
    return result["score"], result["max_score"], [(t["number"], t["status"]) for t in result["tests"]]


def main(port, token, reference_json, files):
    client = Client(f"http://127.0.0.1:{port}", token)
    embedded = json.load(open(reference_json))
    workers = {cid[:12]: cid for cid in compose(files, "ps", "-q", "worker").split()}
    assert len(workers) == 2, f"expected two worker containers, found {workers}"
    wait_for_heartbeats(files, 2)
    notebook = make_submission("a1_cross_correlation")
    ids = []
    for _ in range(SUBMISSIONS):
        reply = client.submit(notebook, filename="a1_cross_correlation.ipynb")
        assert reply.status_code in (200, 202), reply.text
        ids.append(reply.json()["id"])

    victim, victim_row, deadline = None, None, time.monotonic() + 600
    while victim is None and time.monotonic() < deadline:
        current = rows(files)
        host = {r["id"]: r["worker"].split(":")[0] for r in current if r["worker"]}
        graded_by = {host[r["id"]] for r in current if r["status"] == "done"}
        for r in current:
            if r["status"] == "running" and host[r["id"]] in workers and graded_by >= set(workers):
                victim, victim_row = host[r["id"]], r
                break
        assert all(r["status"] in ("queued", "running", "done") for r in current), current
        if not any(r["status"] in ("queued", "running") for r in current):
            raise AssertionError(f"every submission was graded before both workers had one each: {current}")
        time.sleep(0.05)
    assert victim, "no moment with both workers having graded and one grading"
    subprocess.run(["docker", "kill", workers[victim]], check=True, capture_output=True)
    print(f"killed worker {victim} while it graded {victim_row['id']}")

    finished = client.wait_done(ids, timeout=600)
    final = {r["id"]: r for r in rows(files)}
    assert sorted(final) == sorted(ids), "a submission was lost or duplicated"
    assert all(body["status"] == "done" for body in finished.values()), finished
    assert all(outcome(body["result"]) == outcome(embedded) for body in finished.values()), \
        "a result differs from the embedded queue's"
    again = final[victim_row["id"]]
    assert again["attempts"] == "2" and not again["worker"].startswith(victim), again
    hosts = {r["worker"].split(":")[0] for r in final.values()}
    assert hosts == set(workers), f"submissions were not spread over both workers: {hosts}"
    metrics = client.get("/metrics").text
    assert f'convgrade_submissions_total{{status="done"}} {float(SUBMISSIONS)}' in metrics, metrics
    assert 'convgrade_queue_depth{status="queued"} 0.0' in metrics, metrics
    per_worker = {h: sum(r["worker"].startswith(h) for r in final.values()) for h in sorted(hosts)}
    print(f"{SUBMISSIONS} submissions graded once each, by worker: {per_worker}; "
          f"the killed worker's one regraded by the other; results identical to the embedded queue's")


if __name__ == "__main__":
    main(*sys.argv[1:])
