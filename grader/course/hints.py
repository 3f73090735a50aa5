"""The hint tables: the course's permanent hints, one table per assignment beside its suite.

`autograde_tests/<assignment>/hints.toml` is plain data, reviewed in git like the suite:

    [[hint]]
    check = "test_max_padding_is_minus_inf"   # the check's id: its test function's name
    mistake = "pool2d_max_zero_padding"       # optional: only when the failure is diagnosed as it
    text = "Max pooling pads with -inf ..."

A failed check gets the text of its hint for the mistake it was diagnosed as, else of its hint
without a mistake (grader.engine.hints). One hint per (check, mistake): writing a hint for a
pair that has one replaces it. The table is written whole, in this module's layout, so the
diff the instructor reviews is the change and nothing else (a hand-edited table is rewritten in
that layout, and the diff shows it).
"""

import difflib
import hashlib
import json
import tomllib

from grader.course import assignments

FILE = "hints.toml"


class HintTableError(ValueError):
    """A hint table that is not the format above: the sentence says which file and what."""


def path(assignment):
    return assignments.suite_dir(assignment) / FILE


def current_text(assignment):
    """The table's text as it is now ("" when the assignment has none)."""
    found = path(assignment)
    return found.read_text(encoding="utf-8") if found.is_file() else ""


def fingerprint(text):
    """A text's SHA-256: what a confirmed write checks against what was shown."""
    return hashlib.sha256(text.encode()).hexdigest()


def parse(text, where="hints.toml"):
    """[{check, mistake (None when absent), text}] of a table's text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HintTableError(f"{where} is not valid TOML: {exc}") from None
    entries = data.get("hint", [])
    if set(data) - {"hint"} or not isinstance(entries, list):
        raise HintTableError(f"{where} may hold only [[hint]] tables")
    found = []
    for n, entry in enumerate(entries, 1):
        fields = {"check", "mistake", "text"}
        if not isinstance(entry, dict) or set(entry) - fields or not {"check", "text"} <= set(entry) \
                or not all(isinstance(value, str) for value in entry.values()):
            raise HintTableError(f"{where}: hint {n} must have the strings `check` and `text`, "
                                 "and may have `mistake`")
        found.append({"check": entry["check"], "mistake": entry.get("mistake") or None, "text": entry["text"]})
    return found


def read(assignment):
    return parse(current_text(assignment), str(path(assignment)))


def for_failure(entries, check, mistakes=()):
    """The text of the hint a failure of `check`, diagnosed as `mistakes` (ids), gets; None when
    the table has none for it."""
    mine = [e for e in entries if e["check"] == check]
    specific = next((e for e in mine if e["mistake"] and e["mistake"] in mistakes), None)
    general = next((e for e in mine if e["mistake"] is None), None)
    chosen = specific or general
    return chosen["text"] if chosen else None


def with_hint(text, check, mistake, hint, assignment):
    """The table's text with the hint for (check, mistake) set to `hint`."""
    new = {"check": check, "mistake": mistake or None, "text": hint.strip()}
    entries = parse(text)
    same = [n for n, e in enumerate(entries) if (e["check"], e["mistake"]) == (check, new["mistake"])]
    if same:
        entries[same[0]] = new   # in its place: the diff shows the one text that changes
    else:
        entries.append(new)
    return render(entries, assignment)


def render(entries, assignment):
    header = [f"# Hints of {assignment}'s checks, shown with a check's failure in every later grading.",
              "# `check`: the check's id (its test function); `mistake` (optional): the hint is shown only",
              "# when the failure is diagnosed as that mistake (mistakes.py); a hint never changes a score.",
              "# Written by `convgrade hints` and the mistake groups page; see autograde_tests/README.md."]
    blocks = []
    for entry in entries:
        lines = ["[[hint]]", f"check = {_string(entry['check'])}"]
        if entry["mistake"]:
            lines.append(f"mistake = {_string(entry['mistake'])}")
        lines.append(f"text = {_string(entry['text'])}")
        blocks.append("\n".join(lines))
    return "\n\n".join(["\n".join(header), *blocks]) + "\n"


def _string(value):
    """A TOML basic string: JSON's escapes are TOML's (\\", \\\\, \\n, \\uXXXX)."""
    return json.dumps(value, ensure_ascii=False)


def diff(assignment, old, new):
    """The unified diff, as git shows it, of the table from `old` to `new`."""
    name = f"autograde_tests/{assignment}/{FILE}"
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        "/dev/null" if not old else f"a/{name}", f"b/{name}"))
