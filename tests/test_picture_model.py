"""The picture of a failed check (grader.course.pictures), the model the student page and
`convgrade submit` draw: fed only by the result's `expected` and `got`, whatever the check."""

import math

from grader.course import pictures
from grader.course.feedback import check_feedback


def failed(expected, got, **extra):
    return {"number": "x.1", "name": "any check", "status": "failed", "expected": expected, "got": got, **extra}


def values(heatmap):
    return [[cell.value for cell in row] for row in heatmap.rows]


def marks(heatmap):
    return {(i, j) for i, row in enumerate(heatmap.rows) for j, cell in enumerate(row) if cell.differs}


def test_nan_and_infinities_come_as_strings_and_match_themselves():
    pic = pictures.picture(failed([[1, "NaN"], ["Infinity", "-Infinity"]], [[2, "NaN"], ["Infinity", 0]]))
    expected, got, difference = pic.maps
    assert math.isnan(values(expected)[0][1]) and values(expected)[1] == [math.inf, -math.inf]
    assert marks(expected) == marks(got) == marks(difference) == {(0, 0), (1, 1)}
    assert values(difference)[0][:1] == [1.0] and values(difference)[1][0] == 0.0
    assert [c.text for c in expected.rows[1]] == ["inf", "-inf"]
    assert expected.rows[0][1].colour == pictures.NOT_A_NUMBER


def test_a_shape_mismatch_draws_both_shapes_and_no_difference():
    pic = pictures.picture(failed([[1, 2], [3, 4]], [7]))
    assert [m.shape for m in pic.maps] == [(2, 2), (1, 1)] and not marks(pic.maps[1])
    assert "expected 2 x 2, got 1 x 1" in pic.sentence


def test_no_picture_without_two_maps_for_a_passed_check_or_for_what_is_not_a_small_grid():
    assert pictures.picture({"status": "failed", "output": "..."}) is None
    assert pictures.picture({**failed([[1]], [[2]]), "status": "passed"}) is None
    assert pictures.picture(failed([[1, 2], [3]], [[1, 2], [3, 4]])) is None          # ragged
    assert pictures.picture(failed([[[1]]], [[1]])) is None                             # 3-D
    assert pictures.picture(failed([[0] * 21] * 20, [[0] * 21] * 20)) is None           # 420 cells
    assert pictures.picture(failed([[True]], [[1]])) is None


def test_values_within_the_rounding_of_the_result_are_not_marked():
    pic = pictures.picture(failed([[1.0, 1000.0]], [[1.00001, 1000.05]]))
    assert not marks(pic.maps[0])


def test_the_palettes_run_from_dark_to_light_and_the_difference_is_symmetric_about_white():
    lum = [pictures.luminance(c) for c in pictures.VIRIDIS]
    assert lum == sorted(lum)
    pic = pictures.picture(failed([[0, 0, 0]], [[-2, 0, 2]]))
    low, zero, high = (c.colour for c in pic.maps[2].rows[0])
    assert zero == "#f7f7f7" and low == pictures.DIVERGING[0] and high == pictures.DIVERGING[-1]


def test_the_terminal_prints_diagnosis_note_and_grid_with_plain_markers():
    lines = check_feedback(failed([[1, 2]], [[1, 3]], diagnosis="A flipped kernel.", comment="See me.\nTuesday."))
    assert lines[:3] == ["diagnosis: A flipped kernel.", "instructor's note: See me.", "  Tuesday."]
    assert lines[3].split() == ["expected:", "|", "got:"]
    assert lines[4].split() == ["1", "2*", "|", "1", "3*"]
    assert lines[5].startswith("1 of 2 cells differ (1 x 2)")


def test_the_html_feedback_file_carries_the_same_lines_escaped():
    from grader.course.feedback import render

    result = {"assignment": "a1_cross_correlation", "gradable": True, "score": 0.0, "max_score": 2.0,
              "tests": [{**failed([[1, 2]], [[1, 3]], diagnosis="A flipped kernel.", comment="<b>See me</b>"),
                         "exercise": "corr2d", "score": 0.0, "max_score": 2.0, "output": "wrong values"}]}
    html = render(result, "alice", order=["corr2d"])
    feedback = html.split('<pre class="check-feedback">')[1].split("</pre>")[0].splitlines()
    assert feedback[0] == "diagnosis: A flipped kernel."
    assert feedback[1] == "instructor&#39;s note: &lt;b&gt;See me&lt;/b&gt;"
    assert feedback[3].split() == ["1", "2*", "|", "1", "3*"]
