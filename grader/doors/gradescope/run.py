"""run_autograder's Python half: grade /autograder/submission/*.ipynb, write results/results.json.

The root is /autograder on Gradescope; CONVGRADE_AUTOGRADER_ROOT moves it (tests). The
course (suites, source notebooks) is /autograder/source, set as CONVGRADE_COURSE_DIR by
run_autograder before grader.course.assignments is imported.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from grader.doors.gradescope.results import to_gradescope


def main(argv=None):
    parser = argparse.ArgumentParser(prog="run_autograder")
    parser.add_argument("--assignment", default=None)
    args = parser.parse_args(argv)
    root = Path(os.environ.get("CONVGRADE_AUTOGRADER_ROOT", "/autograder"))
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    results = grade_submission(root / "submission", args.assignment)
    (results_dir / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps({k: results[k] for k in ("score", "execution_time")}), file=sys.stderr)
    return 0


def grade_submission(submission_dir, assignment):
    from grader.course import assignments
    from grader.engine.grading import grade

    notebooks = sorted(p for p in submission_dir.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not notebooks:
        return _no_notebook(assignment)
    known = assignments.names()
    chosen = next((p for p in notebooks if p.stem == assignment or p.stem in known), notebooks[0])
    result = grade(chosen, assignment)
    print(result.get("stdout", ""))   # the student program's output: Gradescope shows it to the instructor only
    results = to_gradescope(result)
    if len(notebooks) > 1:
        results["output"] += f"\nSeveral notebooks were submitted; {chosen.name} was graded."
    return results


def _no_notebook(assignment):
    result = {"assignment": assignment, "gradable": False, "score": 0.0, "execution_time": 0.0, "tests": [],
              "format_errors": ["no .ipynb file was submitted; upload your notebook"]}
    return to_gradescope(result)


if __name__ == "__main__":
    sys.exit(main())
