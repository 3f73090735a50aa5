"""What a student reads about a result, the same on every surface, and the per-student HTML
feedback in nbgrader's feedback/<student>/<assignment>/<notebook>.html layout.

Every surface (`convgrade submit`, the Lab panel, the web page, the HTML feedback) shows:
the notes first, the raw score, the late credit and the score that counts, the deadline
windows in words, and the checks grouped by exercise in notebook order, failures first, each
failure with its diagnosis, the instructor's note and its picture (grader.course.pictures).
`grouped`, `credit_words`, `deadline_words` and `check_feedback` are that one wording; they
use the standard library only, so the student's install (`convgrade submit`) has them.

Built from the result JSON only (docs/reference.md), which holds each check's name,
points and failure message but never the hidden test source. Everything is HTML-escaped:
messages quote student-controlled values.
"""

import datetime
import json
import re
from pathlib import Path

from grader.course import pictures

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ assignment }}: feedback for {{ student }}</title>
<style>
 body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
 table { border-collapse: collapse; margin: 1em 0; } td, th { padding: .25em .8em; text-align: left; }
 tr.failed td { color: #a00; } pre { white-space: pre-wrap; background: #f6f6f6; padding: .4em; margin: .2em 0 .6em; }
</style></head><body>
<h1>{{ assignment }}</h1>
<p>Student: <b>{{ student }}</b>. Score: <b class="credit">{{ credit_text }}</b></p>
{% if not gradable %}
<p>This notebook could not be graded:</p>
<ul>{% for error in format_errors %}<li>{{ error }}</li>{% endfor %}</ul>
{% else %}
{% if notes %}<h2>Read this first</h2><ul class="notes">{% for note in notes %}<li>{{ note }}</li>{% endfor %}</ul>{% endif %}
<h2>Exercises</h2>
<table><tr><th>exercise</th><th>points</th></tr>
{% for ex in exercises %}<tr><td>{{ ex.name }}</td><td>{{ "%g"|format(ex.score) }} / {{ "%g"|format(ex.max_score) }}</td></tr>
{% endfor %}</table>
{% for ex in exercises %}
<h3>{{ ex.name }}</h3>
<table><tr><th></th><th>check</th><th>points</th></tr>
{% for t in ex.tests %}<tr class="{{ 'passed' if t.status == 'passed' else 'failed' }}">
<td>{{ 'ok' if t.status == 'passed' else 'FAIL' }}</td><td>{{ t.number }} {{ t.name }}</td>
<td>{{ "%g"|format(t.score) }} / {{ "%g"|format(t.max_score) }}</td></tr>
{% if t.status != 'passed' and t.output %}<tr class="failed"><td></td><td colspan="2"><pre>{{ t.output }}</pre></td></tr>{% endif %}
{% if t.status != 'passed' and check_feedback(t) %}<tr class="failed"><td></td><td colspan="2"><pre class="check-feedback">{{ check_feedback(t) | join("\n") }}</pre></td></tr>{% endif %}
{% endfor %}</table>
{% endfor %}
{% endif %}
<p><small>Passing these checks is what the grader measured on this submission; the hidden inputs are not shown.</small></p>
</body></html>
"""


# -- one wording for every surface -------------------------------------------------------------

def notebook_order(notebook):
    """The nbgrader grade_ids of a notebook (a dict or a path), in cell order: the answer cells'
    ids are the exercises' names, so their places give the notebook order."""
    if not isinstance(notebook, dict):
        try:
            notebook = json.loads(Path(notebook).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
    order = []
    for cell in notebook.get("cells", []) if isinstance(notebook, dict) else []:
        meta = (cell.get("metadata") or {}).get("nbgrader") if isinstance(cell, dict) else None
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if isinstance(grade_id, str) and grade_id not in order:
            order.append(grade_id)
    return order


def assignment_order(assignment):
    """The notebook order of a course assignment, from its source (else released) notebook."""
    from grader.course import assignments

    if assignment not in assignments.names():
        return []
    return (notebook_order(assignments.source_notebook(assignment))
            or notebook_order(assignments.released_notebook(assignment)))


def natural_key(text):
    """corr2d.2 before corr2d.10."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", str(text))]


def grouped(result, order=()):
    """The result's checks grouped by exercise: exercises in notebook order (`order`, a list of
    grade_ids; exercises it does not name follow in the result's order), within each exercise
    the failed checks first. Each: {name, score, max_score, failed (count), tests}."""
    groups = {}
    for test in (result or {}).get("tests", []):
        name = test.get("exercise") or "?"
        ex = groups.setdefault(name, {"name": name, "score": 0.0, "max_score": 0.0, "failed": 0, "tests": []})
        ex["score"] += test["score"]
        ex["max_score"] += test["max_score"]
        ex["failed"] += test.get("status") != "passed"
        ex["tests"].append(test)
    order = list(order)
    first_seen = list(groups)

    def place(name):
        return (order.index(name), 0) if name in order else (len(order), first_seen.index(name))
    for ex in groups.values():
        ex["tests"].sort(key=lambda t: (t.get("status") == "passed", natural_key(t.get("number", ""))))
    return [groups[name] for name in sorted(groups, key=place)]


exercises = grouped  # the name grader.operations.gradebook reads points with


def in_notebook_order(result, order):
    """The result with its `tests` listed exercise by exercise in notebook order, failures first."""
    if not result or "tests" not in result:
        return result
    return {**result, "tests": [t for ex in grouped(result, order) for t in ex["tests"]]}


def percent(credit):
    return f"{100 * credit:g}%"


def credit_words(score, max_score, credit, credited=None):
    """'30 / 31 points; submitted late: 80% credit, so it counts as 24 / 31'."""
    credit = 1.0 if credit is None else credit
    credited = round(score * credit, 6) if credited is None else credited
    if credit >= 1.0:
        return f"{score:g} / {max_score:g} points (full credit: this is the score that counts)"
    if credit <= 0.0:
        return f"{score:g} / {max_score:g} points, but submitted after the deadline: it counts as 0 / {max_score:g}"
    return (f"{score:g} / {max_score:g} points; submitted late, {percent(credit)} credit: "
            f"it counts as {credited:g} / {max_score:g}")


def human_time(iso_text):
    """An ISO time from the API, as '2026-09-15 23:59 UTC'."""
    if not iso_text:
        return ""
    try:
        moment = datetime.datetime.fromisoformat(str(iso_text).replace("Z", "+00:00"))
    except ValueError:
        return str(iso_text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def deadline_words(deadlines):
    """An assignment's windows from GET /api/v1/assignments, in one sentence, or '' for none."""
    if not deadlines or not deadlines.get("due"):
        return "none, full credit at any time" if deadlines is not None else ""
    parts = []
    if deadlines.get("opens"):
        parts.append(f"opens {human_time(deadlines['opens'])}")
    due = f"due {human_time(deadlines['due'])}" + (" (your extension)" if deadlines.get("extended") else "")
    parts.append(due)
    for window in deadlines.get("late") or []:
        parts.append(f"then {percent(window['credit'])} credit until {human_time(window['until'])}")
    closes = (deadlines.get("late") or [{}])[-1].get("until") or deadlines["due"]
    parts.append(f"no submissions after {human_time(closes)}")
    return "; ".join(parts)


def aligned(rows, right=()):
    """Rows of cells as lines of a terminal table: every column as wide as its widest cell, the
    columns whose index is in `right` (numbers) right-aligned."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    return ["  ".join(cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
            .rstrip() for row in rows]


def check_feedback(test):
    """A failed check's lines after its message: the diagnosis, the instructor's note, the hint, and
    expected against got as a grid with the differing cells marked."""
    lines = []
    if test.get("diagnosis"):
        lines.append(f"diagnosis: {test['diagnosis']}")
    if test.get("comment"):
        note = str(test["comment"]).splitlines() or [""]
        lines += [f"instructor's note: {note[0]}"] + [f"  {line}" for line in note[1:]]
    if test.get("hint"):
        hint = str(test["hint"]).splitlines() or [""]
        lines += [f"hint: {hint[0]}"] + [f"  {line}" for line in hint[1:]]
    picture = pictures.picture(test)
    if picture:
        lines += pictures.grid_lines(picture)
    return lines


# -- the HTML feedback file --------------------------------------------------------------------

def render(result, student, order=None, credit=1.0):
    import jinja2

    template = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(_TEMPLATE)
    if order is None:
        order = assignment_order(result.get("assignment"))
    return template.render(
        student=student, assignment=result.get("assignment") or "?",
        credit_text=credit_words(result["score"], result["max_score"], credit), gradable=result["gradable"],
        format_errors=result.get("format_errors", []), notes=result.get("notes", []),
        exercises=grouped(result, order), check_feedback=check_feedback)


def write(feedback_dir, student, assignment, notebook, result, credit=1.0):
    """Write feedback_dir/<student>/<assignment>/<notebook>.html and return its path."""
    path = Path(feedback_dir) / student / assignment / f"{notebook}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(result, student, credit=credit), encoding="utf-8")
    return path
