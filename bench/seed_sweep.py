"""Every check holds under every seed: the reference solutions and the correct corpus entries
keep full marks with no diagnosis, and every wrong entry loses exactly its declared checks and
is diagnosed as the mistake it plants (`# diagnosis:`, none where it declares none), over many
seeds.

Too slow for CI as full gradings, so it grades in one warm process and reuses each notebook's
executed program: for every notebook it starts the sandbox under a few program seeds (the
student's own random draws: initial kernels, starting points) and runs the hidden suite under
many suite seeds on each (the hidden inputs). Every (program seed, suite seed) pair is one
grading as `grade(..., seed=...)` does it, except that the two seeds differ.

    .venv/bin/python bench/seed_sweep.py --seeds 50 [--program-seeds 5] [--assignment a1_cross_correlation]
        [--entry NAME ...] [--out bench/seed_sweep.json]

`--kernel` runs the same hidden suites without the sandbox, many times faster: each notebook's
program runs once in a fresh process under the sandbox's own IPython shell (shell escapes
skipped as in the sandbox), and the checks call it in that process through the nbgrader
door's KernelSandbox, its generators reset to the program seed at every check and every
fresh call. The values the checks judge are the ones the sandbox would return; what it
does not show is isolation between checks (the sandboxed sweep and tests/ cover that).
`--honest` adds the honest corpus (tests/honest/).

Prints one line per notebook and a summary; exits 1 when any grading lost other checks than
declared. Suite seeds are 1000, 1001, ...: disjoint from tests/test_corpus.py's.
"""

import argparse
import concurrent.futures
import contextlib
import io
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import torch  # noqa: E402

from grader.course import assignments, deadlines, notebook  # noqa: E402
from grader.engine import runner, shortcuts  # noqa: E402
from grader.engine.sandbox import Limits, Sandbox  # noqa: E402
from grader.engine.student import Student  # noqa: E402
from submissions import corpus, diagnosed_as_planted, make_submission  # noqa: E402

FIRST_SUITE_SEED = 1000
# one sandbox runs the suite many times: its whole-submission budget is sized for that
SWEEP_LIMITS = Limits(submission_seconds=3600.0, cpu_seconds=3600)


class Declared(NamedTuple):
    """What a notebook must get under every seed: the checks it loses (ids) and the mistakes
    its failures are diagnosed as (ids; none for a notebook without a planted mistake)."""
    assignment: str
    loses: frozenset = frozenset()
    mistakes: frozenset = frozenset()


def notebooks(assignment_filter, entry_filter, honest=False, only=None):
    """(label, notebook bytes, Declared) for the references, the corpus and, with `honest`, the
    honest corpus; `only` "correct" or "wrong" keeps those alone."""
    for assignment in assignments.names():
        if assignment_filter and assignment != assignment_filter:
            continue
        if only != "wrong" and (not entry_filter or "reference" in entry_filter):
            yield f"{assignment}/reference", make_submission(assignment), Declared(assignment)
        for entry in corpus(assignment):
            if entry_filter and entry.name not in entry_filter:
                continue
            if "cuda" in entry.needs and not torch.cuda.is_available():
                continue
            if only and (only == "wrong") != bool(entry.loses):
                continue
            yield repr(entry), entry.submission(), Declared(assignment, frozenset(entry.loses),
                                                            frozenset(entry.diagnoses))
        if honest and only != "wrong":
            for path in sorted((ROOT / "tests" / "honest" / assignment).glob("*.ipynb")):
                if not entry_filter or path.stem in entry_filter:
                    yield f"honest/{assignment}/{path.stem}", path.read_bytes(), Declared(assignment)


def sweep_one(raw, declared, suite_seeds, program_seeds):
    """{(program seed, suite seed): how the run differed from `declared`} and the count."""
    assignment = declared.assignment
    program = notebook.build_program(notebook.read(raw), assignment)
    devices = runner.available_devices()
    wrong, runs = {}, 0
    share = -(-len(suite_seeds) // len(program_seeds))
    for i, program_seed in enumerate(program_seeds):
        with Sandbox(program.cells, SWEEP_LIMITS, assignments.hidden_paths(), [assignments.COURSE_DIR],
                     seed=program_seed) as sandbox:
            student = Student(sandbox, program.answers, program.student_code, cells=program.cells)
            part_wrong, part_runs = _run_seeds(student, devices, declared, program_seed,
                                               suite_seeds[i * share:(i + 1) * share])
            wrong.update(part_wrong)
            runs += part_runs
    return wrong, runs


def _run_seeds(student, devices, declared, program_seed, suite_seeds):
    """The suite under each suite seed: ({(program seed, suite seed): what was not as declared}, runs)."""
    wrong = {}
    for suite_seed in suite_seeds:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            tests = runner.run_suite(declared.assignment, student, devices, seed=suite_seed)
        judged = _not_as_declared(tests, declared)
        if judged:
            wrong[(program_seed, suite_seed)] = judged
    return wrong, len(suite_seeds)


def _not_as_declared(tests, declared):
    """None when the run lost exactly the declared checks (after the course's shortcut policy,
    as grade() applies it) and its failures were diagnosed as the declared mistakes; else
    what it lost, what it was diagnosed as, and why."""
    shortcuts.apply_policy(tests, deadlines.policy())
    lost = {t["id"] for t in tests if t["score"] < t["max_score"]}
    found = {t["diagnosis"] for t in tests if t.get("diagnosis")}
    if lost == declared.loses and diagnosed_as_planted(found, declared.mistakes, declared.assignment):
        return None
    return {"lost": sorted(lost), "expected": sorted(declared.loses),
            "diagnosed": sorted(found), "planted": sorted(declared.mistakes),
            "messages": {t["id"]: (t.get("output") or "")[:300] for t in tests
                         if t["id"] in lost ^ declared.loses or t.get("diagnosis")}}


def sweep_in_kernel(raw, declared, suite_seeds, program_seeds):
    """As sweep_one, without the sandbox (see --kernel): one process per program seed."""
    wrong, runs = {}, 0
    share = -(-len(suite_seeds) // len(program_seeds))
    jobs = [(raw, declared, program_seed, suite_seeds[i * share:(i + 1) * share])
            for i, program_seed in enumerate(program_seeds)]
    # a fresh process per program (IPython's shell and the notebook's namespace are per
    # process), forked from a server that has imported torch and the grader once
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "grader.untrusted.child", "grader.doors.nbgrader_bridge"])
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context, max_tasks_per_child=1) as pool:
        for part_wrong, part_runs in pool.map(_kernel_job, jobs):
            wrong.update(part_wrong)
            runs += part_runs
    return wrong, runs


def _kernel_job(job):
    from grader.doors.nbgrader_bridge import KernelSandbox
    from grader.untrusted.child import Child, _kernel_environment

    raw, declared, program_seed, suite_seeds = job
    program = notebook.build_program(notebook.read(raw), declared.assignment)
    os.chdir(tempfile.mkdtemp(prefix="seed-sweep-"))  # a %%writefile cell writes here
    _kernel_environment()  # as E: the working directory importable, matplotlib's agg backend
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        child = Child()
        child.op_program(program.cells, program_seed)
    student = Student(KernelSandbox(child.namespace, seed=program_seed), program.answers, program.student_code,
                      cells=program.cells)
    return _run_seeds(student, runner.available_devices(), declared, program_seed, suite_seeds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50, help="suite seeds per notebook")
    parser.add_argument("--program-seeds", type=int, default=5, help="sandbox (program) seeds per notebook")
    parser.add_argument("--assignment")
    parser.add_argument("--entry", nargs="*", help="corpus entries by name, and/or 'reference'")
    parser.add_argument("--out", help="write the summary as JSON here")
    parser.add_argument("--kernel", action="store_true", help="without the sandbox: many times faster (see above)")
    parser.add_argument("--honest", action="store_true", help="the honest corpus too (tests/honest/)")
    parser.add_argument("--only", choices=("correct", "wrong"), help="only the notebooks that earn full marks, or only the others")
    args = parser.parse_args()
    suite_seeds = list(range(FIRST_SUITE_SEED, FIRST_SUITE_SEED + args.seeds))
    program_seeds = list(range(min(args.program_seeds, args.seeds)))
    started = time.monotonic()
    summary = {"suite_seeds": [suite_seeds[0], suite_seeds[-1]], "program_seeds": program_seeds,
               "devices": runner.available_devices(), "kernel": args.kernel, "notebooks": {}}
    sweep = sweep_in_kernel if args.kernel else sweep_one
    failures = 0
    for label, raw, declared in notebooks(args.assignment, args.entry, args.honest, args.only):
        t0 = time.monotonic()
        wrong, runs = sweep(raw, declared, suite_seeds, program_seeds)
        failures += len(wrong)
        summary["notebooks"][label] = {"gradings": runs, "wrong": len(wrong),
                                       "examples": {f"{p}/{s}": w for (p, s), w in list(wrong.items())[:3]}}
        print(f"{'ok ' if not wrong else 'BAD'} {label}: {runs - len(wrong)}/{runs} as declared "
              f"({time.monotonic() - t0:.0f} s)", flush=True)
        for (p, s), w in list(wrong.items())[:3]:
            print(f"    program seed {p}, suite seed {s}: lost {w['lost']}, declared {w['expected']}; "
                  f"diagnosed {len(w['diagnosed'])} time(s), planted {w['planted'] or 'nothing'}")
            for check, message in list(w["messages"].items())[:3]:
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
