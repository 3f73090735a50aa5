"""A Python reached through a symbolic link grades as the same Python reached by its real path.

The sandbox's root holds the installation by its real paths; Python holds its modules by the
paths it was started with. Without the links on the way made again inside the root, every
module imported lazily (IPython.core.logger, on the first cell that raises) fails to import in
the sandbox, and the reference a1 notebook scores 0/30. Here the grader's own environment is
reached through a link to the venv, and through a linked "home" directory holding it, and the
reference notebooks (solutions/<assignment>/<assignment>.ipynb) are graded by that Python in a
subprocess: full marks.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GRADED = ["a1_cross_correlation", "a4_pooling"]
GRADE_ALL = """
import json, sys
from grader.engine.grading import grade
from grader.course import assignments
print(json.dumps({a: grade(assignments.SOLUTIONS / a / f"{a}.ipynb", a, seed=11) for a in sys.argv[1:]}))
"""

pytestmark = pytest.mark.skipif(sys.prefix == sys.base_prefix,
                                reason="the tests run outside a virtual environment: none to link to")


def linked_venv(tmp_path):
    """$tmp/venvlink -> the venv; its python, itself a link, started as $tmp/venvlink/bin/python."""
    (tmp_path / "venvlink").symlink_to(sys.prefix)
    return tmp_path / "venvlink" / "bin" / "python"


def linked_home(tmp_path):
    """$tmp/home -> the venv's parent directory (a home linked elsewhere, as on many clusters)."""
    (tmp_path / "home").symlink_to(Path(sys.prefix).parent)
    return tmp_path / "home" / Path(sys.prefix).name / "bin" / "python"


@pytest.mark.parametrize("link, graded", [(linked_venv, GRADED), (linked_home, GRADED[:1])])
def test_reference_notebooks_get_full_marks_from_a_python_reached_through_a_link(tmp_path, link, graded):
    python = link(tmp_path)
    assert os.path.realpath(python) != str(python)
    env = {**os.environ, "PYTHONPATH": str(REPO), "CONVGRADE_NO_DAEMON": "1"}
    run = subprocess.run([str(python), "-c", GRADE_ALL, *graded], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=500)
    assert run.returncode == 0, run.stderr[-3000:]
    prefix = json.loads(subprocess.run([str(python), "-c", "import sys, json; print(json.dumps(sys.prefix))"],
                                       capture_output=True, text=True).stdout)
    assert prefix.startswith(str(tmp_path)), f"Python did not keep the linked path: {prefix}"
    results = json.loads(run.stdout.strip().splitlines()[-1])
    for assignment in graded:
        result = results[assignment]
        lost = [(t["name"], t["output"][:300]) for t in result["tests"] if t["score"] < t["max_score"]]
        assert result["gradable"] and result["score"] == result["max_score"] > 0, (assignment, lost[:3])
