"""Per-student feedback as HTML, in nbgrader's feedback/<student>/<assignment>/<notebook>.html layout.

Built from the result JSON only (CONTRACT.md section 3), which holds each check's name,
points and failure message but never the hidden test source. Everything is HTML-escaped:
messages quote student-controlled values.
"""

from pathlib import Path

import jinja2

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ assignment }}: feedback for {{ student }}</title>
<style>
 body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
 table { border-collapse: collapse; margin: 1em 0; } td, th { padding: .25em .8em; text-align: left; }
 tr.failed td { color: #a00; } pre { white-space: pre-wrap; background: #f6f6f6; padding: .4em; margin: .2em 0 .6em; }
</style></head><body>
<h1>{{ assignment }}</h1>
<p>Student: <b>{{ student }}</b>. Score: <b>{{ "%g"|format(score) }} / {{ "%g"|format(max_score) }}</b></p>
{% if not gradable %}
<p>This notebook could not be graded:</p>
<ul>{% for error in format_errors %}<li>{{ error }}</li>{% endfor %}</ul>
{% else %}
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
{% endfor %}</table>
{% endfor %}
{% if notes %}<h2>Notes</h2><ul>{% for note in notes %}<li>{{ note }}</li>{% endfor %}</ul>{% endif %}
{% endif %}
<p><small>Passing these checks is what the grader measured on this submission; the hidden inputs are not shown.</small></p>
</body></html>
"""

_env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_template = _env.from_string(_TEMPLATE)


def exercises(result):
    """The result's checks grouped by exercise, in suite order, with the points of each."""
    grouped = {}
    for test in result.get("tests", []):
        ex = grouped.setdefault(test["exercise"], {"name": test["exercise"], "score": 0.0,
                                                   "max_score": 0.0, "tests": []})
        ex["score"] += test["score"]
        ex["max_score"] += test["max_score"]
        ex["tests"].append(test)
    return list(grouped.values())


def render(result, student):
    return _template.render(
        student=student, assignment=result.get("assignment") or "?",
        score=result["score"], max_score=result["max_score"], gradable=result["gradable"],
        format_errors=result.get("format_errors", []), notes=result.get("notes", []),
        exercises=exercises(result))


def write(feedback_dir, student, assignment, notebook, result):
    """Write feedback_dir/<student>/<assignment>/<notebook>.html and return its path."""
    path = Path(feedback_dir) / student / assignment / f"{notebook}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(result, student), encoding="utf-8")
    return path
