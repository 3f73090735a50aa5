"""A correct notebook that leaves a thread busy in torch, graded under many seeds: every copy
of E is forked while that thread may hold a lock, so a copy that waits for it forever would
show as a check with no answer. Prints how many gradings fell short of full marks and why.

    .venv/bin/python bench/busy_thread.py --seeds 500 [--out bench/busy_thread.json]
"""

import argparse
import collections
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from grader.course.corpus import make_submission  # noqa: E402
from grader.engine import grading  # noqa: E402
from test_containment import BUSY_THREAD  # noqa: E402  (the notebook the containment test grades)

ASSIGNMENT = "a1_cross_correlation"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=500)
    parser.add_argument("--out")
    args = parser.parse_args()
    data = make_submission(ASSIGNMENT, added=[("before", "corr2d", BUSY_THREAD)])
    grading.warm_up()
    short, seconds, full = collections.Counter(), [], 0
    for seed in range(args.seeds):
        started = time.monotonic()
        result = grading.grade(data, ASSIGNMENT, seed=seed)
        seconds.append(time.monotonic() - started)
        failed = [f"{test['name']}: {test['output'][:300]}" for test in result["tests"] if test["status"] != "passed"]
        short.update(failed)
        full += result["score"] == result["max_score"] > 0
        if result["score"] != result["max_score"]:
            print(f"seed {seed}: {result['score']}/{result['max_score']}", *failed, sep="\n  ", flush=True)
        if (seed + 1) % 50 == 0:
            print(f"{seed + 1} graded, {full} with full marks", flush=True)
    seconds.sort()
    summary = {"notebook": f"{ASSIGNMENT} reference with a busy torch thread", "gradings": args.seeds,
               "full_marks": full, "failed_checks": dict(short),
               "p50_s": round(seconds[len(seconds) // 2], 3), "max_s": round(seconds[-1], 3)}
    print(json.dumps(summary, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    return 0 if full == args.seeds else 1


if __name__ == "__main__":
    sys.exit(main())
