"""The Makefile's two entry points, read with `make -n` (what they would run, nothing run)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def planned(*args):
    """What make would run from a fresh clone: -B plans every target, whatever this checkout
    has built already (CI's own `make test` has installed the proxy before this runs)."""
    done = subprocess.run(["make", "-n", "-B", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_serve_takes_a_port_and_needs_no_npm():
    plan = planned("serve", "PORT=8123")
    assert "convgrade serve --host 127.0.0.1 --port 8123" in plan
    assert "configurable-http-proxy" not in plan and "npm install" not in plan


def test_make_test_installs_the_hub_proxy_and_shows_why_it_failed():
    plan = planned("test")
    install = [line for line in plan.splitlines() if "npm install" in line]
    assert install and "--silent" not in plan, plan
    assert "tests/test_hub.py skips" in plan
