"""`convgrade release` on a fresh clone changes nothing: the committed solutions carry the
points and the "What the grader checks" list of the hidden suites as they are now (and
tests/test_notebooks.py checks that exercises/ is what nbgrader makes of solutions/)."""

import pytest

from grader.course import assignments
from grader.operations import release


@pytest.mark.parametrize("assignment", assignments.authored())
def test_solutions_agree_with_their_hidden_suite(assignment):
    _, changed = release.synced_source(assignment)
    assert not changed, (f"solutions/{assignment} disagrees with autograde_tests/{assignment} "
                         "(check names or points): run `convgrade release` and commit the notebooks")
