"""`convgrade submit` as a student runs it, against a real `convgrade serve` on loopback.

The service here refuses a second submission within an hour (CONVGRADE_RESUBMIT_SECONDS) and
uploads over 1 MiB, so each test submits as its own student. About 40 s on 2 vCPU (mostly the
service start and two gradings).
"""

import json
import re
import subprocess
import sys

import pytest

from conftest import SERVICE_ASSIGNMENT
from service_harness import REPO, Service, free_port, import_roster
from submissions import CorpusEntry, failed_tests, make_submission

STUDENTS = ["full", "wrong", "limited", "big", "broken", "queued"]
GRADED = ("--wait", "300")  # a loaded 2-vCPU machine grades a1 in well over the default 60 s
FLIPPED = CorpusEntry(REPO / "tests/corpus/a1_cross_correlation/corr2d_flipped_kernel.py")


@pytest.fixture(scope="module")
def strict_service(tmp_path_factory):
    running = Service(tmp_path_factory.mktemp("strict"), resubmit_seconds=3600, max_upload_bytes=1 << 20)
    running.tokens = import_roster(running.data_dir, STUDENTS, running.env)
    running.start()
    yield running
    running.stop()


def submit(notebook, server, token, *options, tmp_path, name=f"{SERVICE_ASSIGNMENT}.ipynb"):
    path = tmp_path / name
    path.write_bytes(notebook)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "grader.cli", "submit", str(path),
                           "--server", server, "--token", token, *options],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def assert_refused(done, *words):
    assert done.returncode == 2, done
    assert done.stdout == "" and "Traceback" not in done.stderr, done
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("convgrade: "), line
    for word in words:
        assert word in line, line


def test_correct_notebook_prints_full_marks_per_exercise(strict_service, tmp_path):
    done = submit(make_submission(SERVICE_ASSIGNMENT), strict_service.url, strict_service.tokens["full"],
                  *GRADED, tmp_path=tmp_path)
    assert done.returncode == 0, done
    header, deadline, *exercises = done.stdout.splitlines()
    assert deadline == "deadline: none, full credit at any time"
    got, out_of = re.fullmatch(rf"{SERVICE_ASSIGNMENT}: ([\d.]+) / ([\d.]+) points \(full credit.*\)", header).groups()
    assert got == out_of and float(out_of) > 0, done.stdout
    # notebook order (the released notebook's), not alphabetical
    assert [line.split()[0] for line in exercises] == ["corr2d", "Conv2D", "learn_edge_kernel"], done.stdout
    assert all(line.split()[1] == line.split()[3] and line.endswith("all passed") for line in exercises)
    assert "FAIL" not in done.stdout


def test_wrong_notebook_prints_each_failed_check_with_its_message(strict_service, tmp_path):
    done = submit(FLIPPED.submission(), strict_service.url, strict_service.tokens["wrong"], "--json",
                  *GRADED, tmp_path=tmp_path)
    assert done.returncode == 0, done
    result = json.loads(done.stdout)
    assert failed_tests(result) == FLIPPED.loses
    assert result["score"] < result["max_score"]


def test_wrong_notebook_as_text_names_the_failed_checks(strict_service, tmp_path):
    # The same student again would be rate limited: read the stored result as text instead.
    from grader.doors.submit import describe

    done = submit(FLIPPED.submission(), strict_service.url, strict_service.admin_token, *GRADED,
                  tmp_path=tmp_path)
    assert done.returncode == 0, done
    lines = done.stdout.splitlines()
    corr2d = next(i for i, line in enumerate(lines) if line.split()[0] == "corr2d")
    assert lines[corr2d + 1].lstrip().startswith("FAIL corr2d."), done.stdout  # under its exercise
    assert "not flipped" in done.stdout
    assert describe({"status": "done", "result": {"gradable": True, "assignment": "a", "score": 0,
                                                  "max_score": 1, "tests": [{
                                                      "exercise": "e", "score": 0, "max_score": 1,
                                                      "status": "failed", "number": "e.1",
                                                      "name": "n\x1b[2J", "output": "x\x07"}]}}
                    ).count("\\x1b[2J") == 1


def test_unreachable_server(tmp_path):
    done = submit(make_submission(SERVICE_ASSIGNMENT), f"http://127.0.0.1:{free_port()}", "t",
                  tmp_path=tmp_path)
    assert_refused(done, "cannot be reached")


def test_wrong_token(strict_service, tmp_path):
    done = submit(make_submission(SERVICE_ASSIGNMENT), strict_service.url, "not-a-token", tmp_path=tmp_path)
    assert_refused(done, "token", "not valid", "HTTP 401")


def test_a_token_read_with_its_line_ending_works(strict_service, tmp_path):
    """`students import --out` writes plain \\n lines, and a pasted token keeps whatever
    surrounds it: the client submits the token inside."""
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\nnewline\n")
    out = tmp_path / "tokens.csv"
    done = subprocess.run([sys.executable, "-m", "grader.cli", "students", "import", str(roster), "--out", str(out)],
                          cwd=REPO, env=strict_service.env, capture_output=True, timeout=120)
    assert done.returncode == 0, done
    assert b"\r" not in out.read_bytes()
    token = out.read_text().splitlines()[1].split(",")[1]
    done = submit(make_submission(SERVICE_ASSIGNMENT, reference=False), strict_service.url, f" {token}\r\n",
                  "--wait", "0", tmp_path=tmp_path)
    assert done.returncode == 0 and "not JSON" not in done.stdout + done.stderr, done


def test_a_server_that_is_not_the_grader_is_named(tmp_path):
    """An answer that is not the grader's JSON: the status and a sentence, not a traceback."""
    import http.server
    import threading

    class NotTheGrader(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>hello</html>")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotTheGrader)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done = submit(make_submission(SERVICE_ASSIGNMENT), f"http://127.0.0.1:{server.server_port}", "t",
                      tmp_path=tmp_path)
    finally:
        server.shutdown()
    assert_refused(done, "HTTP 200", "not JSON", "grader's address")


def test_rate_limited(strict_service, tmp_path):
    token = strict_service.tokens["limited"]
    first = submit(b"{}", strict_service.url, token, "--wait", "0", tmp_path=tmp_path)
    assert_refused(first, "not a")  # a refused upload does not count against the student
    stubs = make_submission(SERVICE_ASSIGNMENT, reference=False)
    assert submit(stubs, strict_service.url, token, "--wait", "0", tmp_path=tmp_path).returncode == 0
    second = submit(stubs, strict_service.url, token, "--wait", "0", tmp_path=tmp_path)
    assert_refused(second, "once every 3600 seconds", "try again in")


def test_oversized_notebook(strict_service, tmp_path):
    padded = json.loads(make_submission(SERVICE_ASSIGNMENT))
    padded["metadata"]["padding"] = "x" * (2 << 20)
    done = submit(json.dumps(padded).encode(), strict_service.url, strict_service.tokens["big"],
                  tmp_path=tmp_path)
    assert_refused(done, "too large", "1 MiB")


def test_broken_notebook(strict_service, tmp_path):
    done = submit(b'{"cells": [', strict_service.url, strict_service.tokens["broken"], tmp_path=tmp_path)
    assert_refused(done, "notebook")


def test_still_queued_after_the_wait_is_accepted(strict_service, tmp_path):
    done = submit(make_submission(SERVICE_ASSIGNMENT, reference=False), strict_service.url,
                  strict_service.tokens["queued"], "--wait", "0", tmp_path=tmp_path)
    assert done.returncode == 0, done
    assert "has not finished yet" in done.stdout


def test_missing_token_and_missing_file(tmp_path):
    done = subprocess.run([sys.executable, "-m", "grader.cli", "submit", str(tmp_path / "none.ipynb")],
                          cwd=REPO, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert_refused(done, "does not exist")
    (tmp_path / "a.ipynb").write_text("{}")
    done = subprocess.run([sys.executable, "-m", "grader.cli", "submit", str(tmp_path / "a.ipynb"),
                           "--server", "http://127.0.0.1:1"], cwd=REPO, env={"PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True)
    assert_refused(done, "CONVGRADE_TOKEN")


def test_no_token_reads_as_an_option():
    """`convgrade submit --token TOKEN`: a token starting with "-" would be taken for an
    option (argparse), as about one random URL-safe token in 64 does."""
    from grader.store.settings import new_token

    tokens = [new_token() for _ in range(5000)]
    assert not [t for t in tokens if t.startswith("-")]
    assert len(set(tokens)) == len(tokens) and min(map(len, tokens)) >= 32
