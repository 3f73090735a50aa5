"""Shared fixtures: a real grader service on loopback (see service_harness.py)."""

import os

import pytest

from service_harness import Client, Service, import_roster
from submissions import make_submission

SERVICE_ASSIGNMENT = "a1_cross_correlation"

# `convgrade grade NOTEBOOK` grades in-process in the tests, leaving no warm grader behind;
# tests/test_daemon.py starts its own in a temporary runtime directory.
os.environ.setdefault("CONVGRADE_NO_DAEMON", "1")
# Hidden inputs come from the installation's secret (grader.engine.secret): the tests use one of
# their own, never a developer's data/.convgrade-secret, and write none into the checkout.
os.environ["CONVGRADE_SECRET"] = "convgrade-test-suite-secret"


@pytest.fixture(scope="session")
def service(tmp_path_factory):
    """One `convgrade serve` (embedded queue, SQLite) with students s1..s3 for the session."""
    running = Service(tmp_path_factory.mktemp("service"))
    running.tokens = import_roster(running.data_dir, ["s1", "s2", "s3"], running.env)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def notebooks():
    """The reference solution (full marks) and the released stubs (no marks) as bytes."""
    return {"reference": make_submission(SERVICE_ASSIGNMENT),
            "stubs": make_submission(SERVICE_ASSIGNMENT, reference=False)}


@pytest.fixture
def admin(service):
    return Client(service.url, service.admin_token)


@pytest.fixture
def student(service):
    return Client(service.url, service.tokens["s1"])
