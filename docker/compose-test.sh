#!/usr/bin/env bash
# The compose test, end to end, on a real Docker engine:
#   install docker.io, docker-compose, debootstrap when missing (root, apt); start dockerd
#   when no engine answers; build the base image, the wheelhouse and the image;
#   docker-compose up; submit the reference notebook and a stub one over HTTP; check the
#   scores; docker-compose down -v. Then the scale-out (docker-compose.scale.yml: PostgreSQL,
#   Redis, two workers): submissions spread over both workers, one worker container killed
#   mid-grade, every submission graded once to the embedded queue's result
#   (tests/compose_scale.py); down -v.
# Builds the air-gapped way (CONVGRADE_BASE_IMAGE=convgrade-base:bookworm): no registry here.
# Prints the seconds each step took. Exit status 0 only when every check passed.
#
# Environment: CONVGRADE_TEST_PORT (default 18000), KEEP_UP=1 to leave it running,
#              SCALE=0 to skip the scale-out half.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-convgradetest}
export CONVGRADE_PORT=${CONVGRADE_TEST_PORT:-18000}
# the grader binds 0.0.0.0 in its container: it refuses an admin token shorter than 32 characters
export CONVGRADE_ADMIN_TOKEN=${CONVGRADE_ADMIN_TOKEN:-compose-test-token-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}
export CONVGRADE_BASE_IMAGE=${CONVGRADE_BASE_IMAGE:-convgrade-base:bookworm}
export CONVGRADE_HEARTBEAT_SECONDS=2
COMPOSE_FILES="-f docker-compose.yml"
SCALE_FILES="-f docker-compose.yml -f docker-compose.scale.yml"
work=$(mktemp -d)
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
t0=$(date +%s)
step() { echo "[compose-test +$(( $(date +%s) - t0 ))s] $*"; }

# -- the engine ------------------------------------------------------------------------
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
    step "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
    log=$(mktemp /tmp/dockerd.XXXXXX.log)
    step "starting dockerd (log: $log)"
    nohup dockerd >"$log" 2>&1 &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { tail -n 30 "$log" >&2; echo "dockerd did not start" >&2; exit 1; }
fi

# -- images ----------------------------------------------------------------------------
step "compose files"
for files in "$COMPOSE_FILES" "$SCALE_FILES" "-f docker-compose.yml -f docker-compose.gpu.yml"; do
    docker-compose $files config -q
done
# The default path (python:3.11-slim-bookworm, packages from the index) as far as it is checked offline.
default_config=$(env -u CONVGRADE_BASE_IMAGE docker-compose config)
grep -q 'BASE_IMAGE: python:3.11-slim-bookworm' <<< "$default_config"
step "base image";  docker/build-base-image.sh
step "wheelhouse";  docker/build-wheelhouse.sh
step "image";       docker-compose $COMPOSE_FILES build --quiet > "$work/build.log" 2>&1 \
                      || { tail -40 "$work/build.log"; echo "the image did not build" >&2; exit 1; }
docker image inspect "${CONVGRADE_IMAGE:-convgrade:latest}" >/dev/null

# -- up, grade, down -------------------------------------------------------------------
up_files=$COMPOSE_FILES
down() { [ "${KEEP_UP:-0}" = 1 ] || docker-compose $up_files down -v --remove-orphans >/dev/null 2>&1 || true; }
trap 'status=$?; [ $status -ne 0 ] && docker-compose $up_files logs --tail=60 >&2; down; rm -rf "$work"; exit $status' EXIT
wait_healthy() {
    local cid health
    cid=$(docker-compose $up_files ps -q grader)
    for _ in $(seq 180); do
        health=$(docker inspect -f '{{.State.Health.Status}}' "$cid")
        [ "$health" = healthy ] && return 0
        [ "$(docker inspect -f '{{.State.Running}}' "$cid")" = true ] || { echo "grader exited" >&2; return 1; }
        sleep 1
    done
    echo "grader not healthy: $health" >&2
    return 1
}
down
step "up"
docker-compose $COMPOSE_FILES up -d
wait_healthy
step "healthy; submitting over HTTP"
"$PYTHON" - "$CONVGRADE_PORT" "$CONVGRADE_ADMIN_TOKEN" "$work/reference.json" <<'PY'
import json, sys, time
sys.path.insert(0, "tests")
from service_harness import Client
from submissions import make_submission

port, token = sys.argv[1], sys.argv[2]
client = Client(f"http://127.0.0.1:{port}", token)

def submit(notebook):
    reply = client.submit(notebook, filename="a1_cross_correlation.ipynb", wait=240, timeout=300)
    reply.raise_for_status()
    body = reply.json()
    if body.get("result") is None:  # not finished within the wait: poll for it
        body = client.wait_done([body["id"]])[body["id"]]
    return body["result"]

started = time.monotonic()
good = submit(make_submission("a1_cross_correlation"))
print(f"reference: {good['score']} / {good['max_score']} ({time.monotonic() - started:.1f} s)"
      + (f" sandbox_weakened={good['sandbox_weakened']}" if good.get("sandbox_weakened") else ""))
bad = submit(make_submission("a1_cross_correlation", reference=False))
print(f"stubs:     {bad['score']} / {bad['max_score']}")
assert good["max_score"] > 0 and good["score"] == good["max_score"], good
assert bad["score"] == 0, bad
json.dump(good, open(sys.argv[3], "w"))
PY
step "both scores right"

# -- the red team, inside the container: the same attacks as tests/test_redteam.py, over HTTP
step "red team in the container"
"$PYTHON" - "$CONVGRADE_PORT" "$CONVGRADE_ADMIN_TOKEN" <<'PY'
import sys
sys.path.insert(0, "tests")
from service_harness import Client
from submissions import make_submission
from test_redteam import A1, ATTACKS

client = Client(f"http://127.0.0.1:{sys.argv[1]}", sys.argv[2])
chosen = ["rigged_torch_comparisons", "read_hidden_tests_and_solutions", "write_where_tests_and_results_live",
          "network_connection", "fork_bomb", "memory_bomb", "kill_parent_and_everything",
          "reply_of_millions_of_nested_lists", "terminal_escapes_in_messages", "segfault_through_ctypes"]
for name in chosen:
    reply = client.submit(make_submission(A1, {"corr2d": ATTACKS[name]}, reference=False),
                          filename=f"{A1}.ipynb", wait=240, timeout=300)
    reply.raise_for_status()
    body = reply.json()
    if body.get("result") is None:
        body = client.wait_done([body["id"]])[body["id"]]
    result = body["result"]
    print(f"  {name}: {result['score']} / {result['max_score']}"
          + (f" sandbox_weakened={result['sandbox_weakened']}" if result.get("sandbox_weakened") else ""))
    assert result["score"] == 0 and "pwned" not in result.get("stdout", ""), result
good = client.submit(make_submission(A1), filename=f"{A1}.ipynb", wait=240, timeout=300).json()
good = good if good.get("result") else client.wait_done([good["id"]])[good["id"]]
assert good["result"]["score"] == good["result"]["max_score"], good
print("  an honest submission after the attacks: full marks")
PY
step "red team: every attack earned nothing; the grader still grades"
[ "${SCALE:-1}" = 1 ] || exit 0

# -- scale-out: PostgreSQL, Redis, two workers, one killed mid-grade ---------------------
down
up_files=$SCALE_FILES
down  # the scale-out's own volumes too: a run killed midway leaves its database and queue, whose jobs would count as this run's
step "scale-out: services image"
docker-compose $SCALE_FILES build --quiet redis postgres 2>&1 | grep -v -e 'legacy builder' || true
step "scale-out: up (postgres, redis, grader, 2 workers)"
docker-compose $SCALE_FILES up -d --scale worker=2
wait_healthy
step "scale-out: submitting; killing a worker mid-grade"
"$PYTHON" tests/compose_scale.py "$CONVGRADE_PORT" "$CONVGRADE_ADMIN_TOKEN" "$work/reference.json" "$SCALE_FILES"
step "scale-out right"
