"""`convgrade release`: regenerate exercises/ from solutions/ with nbgrader's generate_assignment."""

import shutil
import subprocess
import sys

from grader import assignments


def release(names=None):
    for assignment in names or assignments.authored():
        target = assignments.EXERCISES / assignment
        if target.exists():
            shutil.rmtree(target)
        subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", assignment,
             "--force", "--no-db", "--log-level=WARN"],
            cwd=assignments.COURSE_DIR, check=True)
