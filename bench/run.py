"""Benchmark: convgrade (warm grade(), batch CLI, HTTP service) against nbgrader autograde,
on the same mixed submissions, in one run on one machine.

    .venv/bin/python bench/run.py --n 100            # all modes, writes bench/results.json
    .venv/bin/python bench/run.py --n 20 --modes warm,cli

Every convgrade result is checked against the points each submission is meant to earn
(reference: full; a corpus mistake: full minus the checks it loses; stubs and broken
notebooks: 0), per exercise. nbgrader's per-exercise points are compared the same way.
"""

import argparse
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from grader import assignments, notebook, runner  # noqa: E402
from service_harness import Client, Service  # noqa: E402
from submissions import corpus, make_submission  # noqa: E402


# -- the submissions and what each should earn --------------------------------------

def expected_points(assignment, lost=(), everything_lost=False):
    points = {}
    for check in runner.collect_checks(assignment):
        earned = 0.0 if everything_lost or check["id"] in lost else check["max_score"]
        points[check["exercise"]] = points.get(check["exercise"], 0.0) + earned
    return points


def broken_structure(assignment):
    """The last answer cell deleted and the one before turned into markdown (graded as code,
    as nbgrader does). Later exercises may build on earlier ones: breaking the last costs it alone."""
    nb = nbformat.reads(make_submission(assignment).decode(), as_version=4)
    answers = [c for c in nb.cells if notebook.grade_id(c) in notebook.answer_ids(assignment)]
    nb.cells.remove(answers[-1])
    if len(answers) > 1:
        answers[-2].cell_type = "markdown"
        for key in ("outputs", "execution_count"):
            answers[-2].pop(key, None)
    return nbformat.writes(nb).encode(), {notebook.grade_id(answers[-1])}


def mixed_submissions(n):
    """n (label, assignment, bytes, expected per-exercise points), a realistic mix."""
    kinds = []
    for assignment in assignments.names():
        kinds.append(("reference", assignment, make_submission(assignment), expected_points(assignment)))
        kinds.append(("stubs", assignment, make_submission(assignment, reference=False),
                      expected_points(assignment, everything_lost=True)))
        data, missing = broken_structure(assignment)
        lost = {c["id"] for c in runner.collect_checks(assignment) if c["exercise"] in missing}
        kinds.append(("broken-structure", assignment, data, expected_points(assignment, lost)))
    for entry in corpus():
        if "cuda" not in entry.needs:
            kinds.append((f"corpus:{entry.name}", entry.assignment, entry.submission(),
                          expected_points(entry.assignment, entry.loses)))
    return list(itertools.islice(itertools.cycle(kinds), n))


def per_exercise(result):
    points = {}
    for test in result.get("tests", []):
        points[test["exercise"]] = points.get(test["exercise"], 0.0) + test["score"]
    return points


def mismatches(subs, results):
    bad = []
    for (label, assignment, _, expected), result in zip(subs, results):
        got = per_exercise(result)
        if any(abs(got.get(e, 0.0) - p) > 1e-9 for e, p in expected.items()):
            bad.append({"submission": label, "assignment": assignment, "expected": expected, "got": got})
    return bad


def summarise(latencies, wall, n):
    latencies = sorted(latencies)
    return {"n": n, "p50_s": round(statistics.median(latencies), 3),
            "p95_s": round(latencies[max(0, int(0.95 * len(latencies)) - 1)], 3),
            "throughput_per_s": round(n / wall, 2), "wall_s": round(wall, 2)}


# -- the modes ---------------------------------------------------------------------

def bench_warm(subs):
    """grade() in one warm process, full correct submissions only: the p50 < 300 ms target."""
    from grader.grading import grade, warm_up
    warm_up()
    references = [s for s in subs if s[0] == "reference"]
    for _, assignment, data, _ in references[:5]:
        grade(data, assignment)
    timings = {}
    for _, assignment, data, _ in references * 3:
        started = time.perf_counter()
        grade(data, assignment)
        timings.setdefault(assignment, []).append(time.perf_counter() - started)
    every = [t for ts in timings.values() for t in ts]
    return {"p50_s": round(statistics.median(every), 3),
            "per_assignment_p50_s": {a: round(statistics.median(ts), 3) for a, ts in timings.items()}}


def write_tree(subs, root):
    paths = []
    for i, (_, assignment, data, _) in enumerate(subs):
        folder = root / "submitted" / f"student{i:04d}" / assignment
        folder.mkdir(parents=True)
        (folder / f"{assignment}.ipynb").write_bytes(data)
        paths.append(folder / f"{assignment}.ipynb")
    return paths


def bench_cli(subs, workdir):
    write_tree(subs, workdir)
    started = time.monotonic()
    run = subprocess.run([str(ROOT / ".venv/bin/convgrade"), "grade", str(workdir / "submitted"), "--json"],
                         capture_output=True, text=True, check=True)
    wall = time.monotonic() - started
    results = sorted(json.loads(run.stdout), key=lambda r: r["student"])
    memory = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {**summarise([r["execution_time"] for r in results], wall, len(subs)),
            "peak_rss_mib_largest_process": round(memory), "mismatches": mismatches(subs, results)}


def bench_http(subs, workdir, clients=16):
    service = Service(workdir / "data").start(timeout=300)
    client = Client(service.url, service.admin_token)

    def submit(assignment, data):
        reply = client.submit(data, assignment, f"{assignment}.ipynb", wait=300, timeout=360)
        reply.raise_for_status()
        return reply.json().get("result") or {}

    try:
        for _, assignment, data, _ in subs[:4]:  # let every worker finish its warm-up first
            submit(assignment, data)
        results, latencies = [None] * len(subs), [None] * len(subs)
        queue = iter(range(len(subs)))
        lock = threading.Lock()

        def worker():
            while True:
                with lock:
                    i = next(queue, None)
                if i is None:
                    return
                started = time.monotonic()
                results[i] = submit(subs[i][1], subs[i][2])
                latencies[i] = time.monotonic() - started

        started = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - started
        return {**summarise(latencies, wall, len(subs)), "clients": clients,
                "mismatches": mismatches(subs, results)}
    finally:
        service.stop()


def bench_nbgrader(subs, workdir):
    """nbgrader autograde over the same notebooks, with the hidden test cells of solutions/."""
    course = workdir / "nbgrader-course"
    shutil.copytree(assignments.SOLUTIONS, course / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    env = {**os.environ, "PATH": f"{ROOT / '.venv/bin'}:{os.environ['PATH']}"}
    nbgrader = [str(ROOT / ".venv/bin/python"), "-m", "nbgrader"]
    used = sorted({a for _, a, _, _ in subs})
    for assignment in used:
        subprocess.run([*nbgrader, "generate_assignment", assignment, "--force", "--log-level=ERROR"],
                       cwd=course, env=env, check=True)
    paths = write_tree(subs, course)
    started = time.monotonic()
    for assignment in used:
        subprocess.run([*nbgrader, "autograde", assignment, "--create", "--force", "--log-level=ERROR"],
                       cwd=course, env=env, check=False, capture_output=True)
    wall = time.monotonic() - started
    results = [_nbgrader_points(course, path) for path in paths]
    graded = [r for r in results if r is not None]
    parity = [s for s, r in zip(subs, results) if r is not None]
    return {"n": len(subs), "wall_s": round(wall, 2), "throughput_per_s": round(len(subs) / wall, 3),
            "per_submission_s": round(wall / len(subs), 3), "graded_by_nbgrader": len(graded),
            "mismatches_vs_intended": mismatches(parity, graded)}


def _nbgrader_points(course, path):
    from nbgrader.api import Gradebook, MissingEntry
    student, assignment = path.parent.parent.name, path.parent.name
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        try:
            submitted = gradebook.find_submission_notebook(assignment, assignment, student)
        except MissingEntry:
            return None
        tests = [{"exercise": g.name.removeprefix("hidden_"), "score": g.score}
                 for g in submitted.grades if g.name.startswith("hidden_")]
    return {"tests": tests}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--modes", default="warm,cli,http,nbgrader")
    parser.add_argument("--clients", type=int, default=16, help="parallel HTTP clients")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    subs = mixed_submissions(args.n)
    report = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "n": args.n}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            workdir = Path(tmp) / mode
            workdir.mkdir()
            print(f"running {mode} ...", file=sys.stderr, flush=True)
            if mode == "warm":
                report[mode] = bench_warm(subs)
            elif mode == "http":
                report[mode] = bench_http(subs, workdir, args.clients)
            else:
                report[mode] = globals()[f"bench_{mode}"](subs, workdir)
            print(json.dumps(report[mode], indent=1)[:1500], file=sys.stderr, flush=True)
    if "cli" in report and "nbgrader" in report:
        report["throughput_ratio_cli_vs_nbgrader"] = round(
            report["cli"]["throughput_per_s"] / report["nbgrader"]["throughput_per_s"], 1)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items()}, indent=1))


if __name__ == "__main__":
    main()
