"""convgrade's result (CONTRACT.md section 3) as Gradescope's results.json.

Gradescope's fields only: score, execution_time, output, visibility, stdout_visibility,
extra_data, and tests[] with name, number, score, max_score, status, output, tags,
visibility. The student-facing `output` names no hidden check; the sandbox's stdout goes
to Gradescope's stdout, which only the instructor sees.
"""

GRADESCOPE_VISIBILITY = ("hidden", "after_due_date", "after_published", "visible")


def to_gradescope(result):
    tests = [_test(t) for t in result.get("tests", [])]
    return {
        "score": float(result["score"]),
        "execution_time": float(result.get("execution_time", 0.0)),
        "output": _summary(result, tests),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"convgrade": {k: result[k] for k in ("assignment", "gradable", "max_score", "devices", "seed")
                                     if k in result}},
    }


def _test(test):
    visibility = test.get("visibility", "visible")
    return {
        "name": test["name"], "number": test["number"],
        "score": float(test["score"]), "max_score": float(test["max_score"]),
        "status": "passed" if test["status"] == "passed" else "failed",
        "output": test.get("output", ""),
        "tags": [test["exercise"]] if test.get("exercise") else [],
        "visibility": visibility if visibility in GRADESCOPE_VISIBILITY else "hidden",
    }


def _summary(result, tests):
    if not result.get("gradable", True):
        return "This notebook could not be graded:\n" + "\n".join(f"- {e}" for e in result.get("format_errors", []))
    shown = [t for t in tests if t["visibility"] == "visible"]
    failed = [t for t in shown if t["status"] != "passed"]
    lines = [f"{result['assignment']}: {result['score']:g} / {result['max_score']:g}.",
             f"{len(shown) - len(failed)} of {len(shown)} visible checks passed." if shown else ""]
    lines += [f"Note: {note}" for note in result.get("notes", [])]
    return "\n".join(line for line in lines if line)
