#!/usr/bin/env bash
# The compose test, end to end, on a real Docker engine:
#   install docker.io, docker-compose, debootstrap when missing (root, apt); start dockerd
#   when no engine answers; build the base image, the wheelhouse and the image;
#   docker-compose up; submit the reference notebook and a stub one over HTTP; check the
#   scores; docker-compose down -v.
# Prints the seconds each step took. Exit status 0 only when both scores are right.
#
# Environment: CONVGRADE_TEST_PORT (default 18000), KEEP_UP=1 to leave it running,
#              COMPOSE_FILES="-f docker-compose.yml -f docker-compose.scale.yml" for a variant.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-convgradetest}
export CONVGRADE_PORT=${CONVGRADE_TEST_PORT:-18000}
export CONVGRADE_ADMIN_TOKEN=${CONVGRADE_ADMIN_TOKEN:-compose-test-token}
COMPOSE_FILES=${COMPOSE_FILES:--f docker-compose.yml}
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
step "base image";  docker/build-base-image.sh
step "wheelhouse";  docker/build-wheelhouse.sh
step "image";       docker-compose $COMPOSE_FILES build --quiet 2>&1 | grep -v -e '^Processing ' -e 'legacy builder' || true
docker image inspect "${CONVGRADE_IMAGE:-convgrade:latest}" >/dev/null

# -- up, grade, down -------------------------------------------------------------------
down() { [ "${KEEP_UP:-0}" = 1 ] || docker-compose $COMPOSE_FILES down -v --remove-orphans >/dev/null 2>&1 || true; }
trap 'status=$?; [ $status -ne 0 ] && docker-compose $COMPOSE_FILES logs --tail=60 >&2; down; exit $status' EXIT
down
step "up"
docker-compose $COMPOSE_FILES up -d
cid=$(docker-compose $COMPOSE_FILES ps -q grader)
for _ in $(seq 120); do
    health=$(docker inspect -f '{{.State.Health.Status}}' "$cid")
    [ "$health" = healthy ] && break
    [ "$(docker inspect -f '{{.State.Running}}' "$cid")" = true ] || { echo "grader exited" >&2; exit 1; }
    sleep 1
done
[ "$health" = healthy ] || { echo "grader not healthy: $health" >&2; exit 1; }
step "healthy; submitting over HTTP"
"$PYTHON" - "$CONVGRADE_PORT" "$CONVGRADE_ADMIN_TOKEN" <<'PY'
import sys, time
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
PY
step "both scores right"
