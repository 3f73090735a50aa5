"""docker-compose up, for real: build the image without a registry, start the grader,
grade the reference notebook and a stub one over HTTP, check both scores, tear down; then
the scale-out (docker-compose.scale.yml: PostgreSQL, Redis, two worker containers), one
worker container killed mid-grade, every submission graded once (tests/compose_scale.py).

Runs docker/compose-test.sh, which installs the Docker engine (docker.io), Debian's
docker-compose and debootstrap when they are missing and starts dockerd when no engine
answers. Skipped, with the reason, where that cannot happen: not root, or no engine can
be started. CONVGRADE_SKIP_COMPOSE=1 skips it on purpose (it takes minutes on a cold
machine: base image ~4.5 min, wheelhouse ~2 min, image ~3 min, scale-out ~3 min).
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "docker" / "compose-test.sh"


def _engine_or_reason():
    if os.environ.get("CONVGRADE_SKIP_COMPOSE") == "1":
        return "CONVGRADE_SKIP_COMPOSE=1"
    if not sys.platform.startswith("linux"):
        return "the compose test builds a Debian root fs: Linux only"
    if os.geteuid() != 0:
        return "not root: cannot install or start a Docker engine, nor run debootstrap"
    if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
        return None
    if shutil.which("dockerd") is None and shutil.which("apt-get") is None:
        return "no Docker engine and no apt-get to install one"
    return None


def test_compose_up_grades_reference_and_stub_over_http():
    reason = _engine_or_reason()
    if reason:
        pytest.skip(reason)
    env = {**os.environ, "PYTHON": sys.executable}
    started = time.monotonic()
    proc = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1800)
    output = proc.stdout + proc.stderr
    print(output)  # shown with -s or on failure: the step timings and both scores
    if proc.returncode != 0 and ("dockerd did not start" in output or "Cannot connect to the Docker daemon" in output):
        pytest.skip("no Docker engine could be started here:\n" + output[-2000:])
    assert proc.returncode == 0, output[-6000:]
    assert "both scores right" in output
    assert "scale-out right" in output
    print(f"compose test: {time.monotonic() - started:.0f} s")
