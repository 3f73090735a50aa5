"""Every check holds under every seed: the reference solutions and the correct corpus entries
keep full marks, and every wrong entry loses exactly its declared checks, over many seeds.

Too slow for CI as full gradings, so it grades in one warm process and reuses each notebook's
executed program: for every notebook it starts the sandbox under a few program seeds (the
student's own random draws: initial kernels, starting points) and runs the hidden suite under
many suite seeds on each (the hidden inputs). Every (program seed, suite seed) pair is one
grading as `grade(..., seed=...)` does it, except that the two seeds differ.

    .venv/bin/python bench/seed_sweep.py --seeds 50 [--program-seeds 5] [--assignment a1_cross_correlation]
        [--entry NAME ...] [--out bench/seed_sweep.json]

Prints one line per notebook and a summary; exits 1 when any grading lost other checks than
declared. Suite seeds are 1000, 1001, ...: disjoint from tests/test_corpus.py's.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import torch  # noqa: E402

from grader.course import assignments, notebook  # noqa: E402
from grader.engine import runner  # noqa: E402
from grader.engine.sandbox import Limits, Sandbox  # noqa: E402
from grader.engine.student import Student  # noqa: E402
from submissions import corpus, make_submission  # noqa: E402

FIRST_SUITE_SEED = 1000
# one sandbox runs the suite many times: its whole-submission budget is sized for that
SWEEP_LIMITS = Limits(submission_seconds=3600.0, cpu_seconds=3600)


def notebooks(assignment_filter, entry_filter):
    """(label, assignment, notebook bytes, checks it must lose) for the references and the corpus."""
    for assignment in assignments.names():
        if assignment_filter and assignment != assignment_filter:
            continue
        if not entry_filter or "reference" in entry_filter:
            yield f"{assignment}/reference", assignment, make_submission(assignment), set()
        for entry in corpus(assignment):
            if entry_filter and entry.name not in entry_filter:
                continue
            if "cuda" in entry.needs and not torch.cuda.is_available():
                continue
            yield repr(entry), assignment, entry.submission(), entry.loses


def sweep_one(assignment, raw, loses, suite_seeds, program_seeds):
    """{(program seed, suite seed): set of lost checks that differ from `loses`} and the count."""
    program = notebook.build_program(notebook.read(raw), assignment)
    devices = runner.available_devices()
    wrong, runs = {}, 0
    share = -(-len(suite_seeds) // len(program_seeds))
    for i, program_seed in enumerate(program_seeds):
        with Sandbox(program.cells, SWEEP_LIMITS, assignments.hidden_paths(), [assignments.COURSE_DIR],
                     seed=program_seed) as sandbox:
            student = Student(sandbox, program.answers, program.student_code)
            for suite_seed in suite_seeds[i * share:(i + 1) * share]:
                tests = runner.run_suite(assignment, student, devices, seed=suite_seed)
                runs += 1
                lost = {t["id"] for t in tests if t["status"] != "passed"}
                if lost != loses:
                    wrong[(program_seed, suite_seed)] = {
                        "lost": sorted(lost), "expected": sorted(loses),
                        "messages": {t["id"]: (t.get("output") or "")[:300] for t in tests
                                     if t["id"] in lost ^ loses}}
    return wrong, runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50, help="suite seeds per notebook")
    parser.add_argument("--program-seeds", type=int, default=5, help="sandbox (program) seeds per notebook")
    parser.add_argument("--assignment")
    parser.add_argument("--entry", nargs="*", help="corpus entries by name, and/or 'reference'")
    parser.add_argument("--out", help="write the summary as JSON here")
    args = parser.parse_args()
    suite_seeds = list(range(FIRST_SUITE_SEED, FIRST_SUITE_SEED + args.seeds))
    program_seeds = list(range(min(args.program_seeds, args.seeds)))
    started = time.monotonic()
    summary = {"suite_seeds": [suite_seeds[0], suite_seeds[-1]], "program_seeds": program_seeds,
               "devices": runner.available_devices(), "notebooks": {}}
    failures = 0
    for label, assignment, raw, loses in notebooks(args.assignment, args.entry):
        t0 = time.monotonic()
        wrong, runs = sweep_one(assignment, raw, loses, suite_seeds, program_seeds)
        failures += len(wrong)
        summary["notebooks"][label] = {"gradings": runs, "wrong": len(wrong),
                                       "examples": {f"{p}/{s}": w for (p, s), w in list(wrong.items())[:3]}}
        print(f"{'ok ' if not wrong else 'BAD'} {label}: {runs - len(wrong)}/{runs} as declared "
              f"({time.monotonic() - t0:.0f} s)", flush=True)
        for (p, s), w in list(wrong.items())[:3]:
            print(f"    program seed {p}, suite seed {s}: lost {w['lost']}, declared {w['expected']}")
            for check, message in w["messages"].items():
                print(f"      {check}: {message}")
    summary["gradings"] = sum(n["gradings"] for n in summary["notebooks"].values())
    summary["wrong"] = failures
    summary["seconds"] = round(time.monotonic() - started)
    print(f"{summary['gradings']} gradings of {len(summary['notebooks'])} notebooks, "
          f"{failures} not as declared, {summary['seconds']} s")
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    os.environ.setdefault("CONVGRADE_SKIP_COMPOSE", "1")
    sys.exit(main())
