"""What diagnoses cost: the wrong corpus entries graded with diagnoses on and off, alternated.

    .venv/bin/python bench/diagnoses.py                 # entries that plant a catalogued mistake
    .venv/bin/python bench/diagnoses.py --all --rounds 2 # every wrong entry of a1 to a5

Two warm grading processes, one started with CONVGRADE_DIAGNOSES=off (grader.engine.diagnoses
reads it once, at import), take turns on each entry, which of them goes first alternating, so
load that comes and goes on the machine falls on both alike. Each reports the wall time of
grade() alone. Prints the totals per mode and the overhead of diagnoses in percent.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ("a1_cross_correlation", "a2_padding_stride_channels", "a3_output_shapes", "a4_pooling", "a5_lenet")


def worker():
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT))
    from grader.engine.grading import grade, warm_up
    from submissions import corpus, diagnoses

    entries = {repr(e): e for e in corpus()}
    submissions = {}
    warm_up()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        ask = json.loads(line)
        entry = entries[ask["entry"]]
        submission = submissions.setdefault(ask["entry"], entry.submission())
        started = time.perf_counter()
        result = grade(submission, entry.assignment, seed=ask["seed"])
        seconds = time.perf_counter() - started
        print(json.dumps({"seconds": seconds, "diagnoses": len(diagnoses(result))}), flush=True)


def start(diagnoses_on):
    env = {**os.environ, "CONVGRADE_DIAGNOSES": "on" if diagnoses_on else "off",
           "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert json.loads(process.stdout.readline())["ready"]
    return process


def ask(process, entry, seed):
    process.stdin.write(json.dumps({"entry": entry, "seed": seed}) + "\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--all", action="store_true", help="every wrong entry of a1 to a5")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker()
    sys.path.insert(0, str(ROOT / "tests"))
    from submissions import corpus

    entries = [repr(e) for e in corpus() if e.assignment in ASSIGNMENTS and e.loses
               and "cuda" not in e.needs and (args.all or e.diagnoses)]
    workers = {True: start(True), False: start(False)}
    totals = {True: 0.0, False: 0.0}
    found = {True: 0, False: 0}
    by_assignment = {}  # {(assignment, mode): seconds}
    try:
        for round_ in range(args.rounds):
            for i, entry in enumerate(entries):
                for mode in ((True, False) if (round_ + i) % 2 == 0 else (False, True)):
                    reply = ask(workers[mode], entry, seed=1000 + round_)
                    totals[mode] += reply["seconds"]
                    key = (entry.split("/")[0], mode)
                    by_assignment[key] = by_assignment.get(key, 0.0) + reply["seconds"]
                    found[mode] += reply["diagnoses"]
    finally:
        for process in workers.values():
            process.stdin.close()
            process.wait()
    gradings = args.rounds * len(entries)
    print(f"{len(entries)} wrong entries x {args.rounds} rounds = {gradings} gradings per mode")
    for mode in (False, True):
        print(f"diagnoses {'on ' if mode else 'off'}: {totals[mode]:8.2f} s in all, "
              f"{totals[mode] / gradings * 1000:7.1f} ms per grading, {found[mode]} diagnoses")
    for assignment in sorted({a for a, _ in by_assignment}):
        on, off = by_assignment[assignment, True], by_assignment[assignment, False]
        print(f"  {assignment:28s} off {off:7.2f} s, on {on:7.2f} s: {100 * (on / off - 1):+.1f} %")
    print(f"overhead of diagnoses: {100 * (totals[True] / totals[False] - 1):+.1f} %")


if __name__ == "__main__":
    main()
