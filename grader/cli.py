"""The `convgrade` command: grade, submit, serve, worker, students, release, new-exercise, extend, regrade,
groups, hints, similarity, daemon, lab, lti, gradescope.

A student's install (the package without its server extra) shows and runs only the commands
marked student=True (submit, lab); the others answer which extra to install."""

import argparse
import importlib.metadata
import json
import os
import re
import sys
from pathlib import Path

SERVER_EXTRA = "pip install 'convgrade[server]'"


def main(argv=None):
    server = server_installed()
    parser = argparse.ArgumentParser(
        prog="convgrade", description="The convgrade command: the grader, its service and the course's tools."
        if server else f"The convgrade command of a student's install (the instructor's commands need {SERVER_EXTRA}).")
    parser.add_argument("--version", action="version", version=f"convgrade {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    shown, hidden = [], []

    def command(name, help, student=False):
        """A subcommand; an instructor's (student=False) is listed only where the server extra is installed."""
        if student or server:
            shown.append(name)
            return commands.add_parser(name, help=help, description=help)
        hidden.append(name)
        return commands.add_parser(name, description=help)

    grade = command("grade", "grade a notebook or a submitted/<student>/<assignment>/ tree")
    grade.add_argument("path", type=Path)
    grade.add_argument("--assignment")
    grade.add_argument("--json", action="store_true", help="print the result JSON on stdout")
    grade.add_argument("--out", type=Path, help="write the result JSON (or, for a tree, the CSV gradebook) here")
    grade.add_argument("--jobs", type=int, help="grading processes for a tree (default: one per core)")
    grade.add_argument("--seed", type=int,
                       help="replay a grading: the seed a result recorded (default: a fresh seed per submission)")
    grade.add_argument("--feedback", type=Path, metavar="DIR",
                       help="for a tree: write DIR/<student>/<assignment>/<notebook>.html (nbgrader's feedback layout)")
    grade.add_argument("--gradebook", metavar="DB_URL",
                       help="for a tree: store the scores in nbgrader's gradebook, e.g. sqlite:///gradebook.db")
    grade.add_argument("--export", type=Path, metavar="CSV",
                       help="with --gradebook: write the gradebook as `nbgrader export` does")
    grade.add_argument("--no-daemon", action="store_true",
                       help="grade one notebook in this process, not in the warm local grader "
                            "(grader/doors/daemon.py); CONVGRADE_NO_DAEMON=1 does the same")

    serve = command("serve", "run the grader service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    command("worker", "run grading workers without HTTP (embedded pool, or RQ with CONVGRADE_QUEUE_URL)")

    students = command("students", "manage the student roster")
    student_commands = students.add_subparsers(dest="students_command", required=True)
    roster = student_commands.add_parser("import", help="import a roster CSV (student_id[,name]); prints student_id,token")
    roster.add_argument("roster", type=Path)
    roster.add_argument("--out", type=Path, help="write the student_id,token CSV here (mode 600) instead of stdout")
    roster.add_argument("--reissue", action="store_true", help="issue new tokens to students already imported")

    command("release", "regenerate exercises/ from solutions/ with nbgrader")

    new_exercise = command("new-exercise", "add an exercise: its notebook cells, a hidden suite to fill and "
                           "corpus stubs (docs/authoring.md)")
    new_exercise.add_argument("assignment")
    new_exercise.add_argument("name", help="the function or class the student writes")
    new_exercise.add_argument("--course", type=Path, metavar="DIR", help="the course root (default: this grader's)")

    extend = command("extend", "give one student their own due date (late windows move with it)")
    extend.add_argument("student")
    extend.add_argument("assignment")
    when = extend.add_mutually_exclusive_group(required=True)
    when.add_argument("--due", help="an ISO time with an offset, e.g. 2026-09-20T23:59:00Z")
    when.add_argument("--remove", action="store_true", help="take the student's extension away")

    regrade = command("regrade", "regrade stored submissions through the queue, keeping old results")
    regrade.add_argument("--assignment")
    regrade.add_argument("--student")
    regrade.add_argument("--submission", metavar="ID")
    regrade.add_argument("--fresh-seed", action="store_true", help="draw new hidden inputs instead of replaying")
    regrade.add_argument("--wait", type=float, default=600, help="seconds to wait for the results (0: just queue)")
    regrade.add_argument("--json", action="store_true")

    groups = command("groups", "the wrong submissions of a stored course, grouped by mistake, largest group first")
    groups.add_argument("assignment")
    groups.add_argument("--json", action="store_true", help="print the groups as JSON on stdout")

    hints = command("hints", "make a mistake group's comment a permanent hint of its check (the suite's hints.toml)")
    hints.add_argument("assignment")
    hints.add_argument("--from-group", required=True, metavar="KEY",
                       help="the group's key (`convgrade groups --json`), or a unique start of it")
    hints.add_argument("--yes", action="store_true", help="write without asking (the diff is printed all the same)")

    similarity = command("similarity", "pairs of similar answers in a submitted/ tree")
    similarity.add_argument("path", type=Path)
    similarity.add_argument("--assignment", required=True)
    similarity.add_argument("--json", action="store_true")
    similarity.add_argument("--threshold", type=float, default=0.0, help="show pairs scoring at least this (0..1)")

    daemon = command("daemon", "the warm local grader behind `convgrade grade NOTEBOOK`")
    daemon.add_argument("action", choices=["status", "stop"])

    submit = command("submit", "send a notebook to a grader service and print its feedback", student=True)
    submit.add_argument("notebook", type=Path)
    submit.add_argument("--assignment")
    submit.add_argument("--server", help="the grader's address (default: $CONVGRADE_URL)")
    submit.add_argument("--token", help="your token (default: $CONVGRADE_TOKEN)")
    submit.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the result (default 60)")
    submit.add_argument("--json", action="store_true", help="print the result JSON on stdout")

    lab = command("lab", "convgrade in JupyterLab", student=True)
    lab_commands = lab.add_subparsers(dest="lab_command", required=True)
    tools = lab_commands.add_parser("instructor-tools", help="nbgrader's Formgrader, Create Assignment and "
                                    "Validate in your own JupyterLab (off for students)")
    tools.add_argument("state", choices=["on", "off"])

    lti = command("lti", "LTI 1.3: read the course roster from the LMS")
    lti.add_subparsers(dest="lti_command", required=True).add_parser(
        "roster", help="import the learners of every launched course (NRPS) as students")

    gradescope = command("gradescope", "build a Gradescope autograder zip")
    gradescope.add_argument("out", type=Path, help="the zip to write, e.g. autograder.zip")
    gradescope.add_argument("--assignment", help="only this assignment (default: all of them)")

    commands.metavar = "{" + ",".join(shown) + "}"
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in hidden:
        return _refuse(f"`convgrade {argv[0]}` is an instructor's command and needs the grader: {SERVER_EXTRA}")
    args = parser.parse_args(argv)
    handlers = {"grade": _grade, "serve": _serve, "worker": _worker, "students": _students, "release": _release,
                "new-exercise": _new_exercise,
                "daemon": _daemon, "extend": _extend, "regrade": _regrade, "groups": _groups, "hints": _hints,
                "similarity": _similarity, "submit": _submit, "lti": _lti, "gradescope": _gradescope, "lab": _lab}
    return handlers[args.command](args)


def server_installed():
    """Whether the server extra's packages are installed: judged from this package's own metadata
    (a source checkout that is not installed counts as the instructor's)."""
    try:
        requirements = importlib.metadata.requires("convgrade") or []
    except importlib.metadata.PackageNotFoundError:
        return True
    for requirement in requirements:
        if re.search(r"""extra\s*==\s*["']server["']""", requirement):
            try:
                importlib.metadata.distribution(re.match(r"[A-Za-z0-9._-]+", requirement).group())
            except importlib.metadata.PackageNotFoundError:
                return False
    return True


def _version():
    try:
        return importlib.metadata.version("convgrade")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _grade(args):
    if not args.path.exists():
        return _refuse(f"{args.path} does not exist")
    if args.path.is_dir():
        return _grade_tree(args)
    if args.feedback or args.gradebook or args.export:
        return _refuse("--feedback, --gradebook and --export take a submitted/<student>/<assignment>/ tree")
    if args.path.suffix == ".py":
        return _grade_corpus_entry(args)
    if args.path.suffix != ".ipynb":
        return _refuse(f"{args.path} is not a notebook (.ipynb) or a corpus entry (.py)")
    return _report(args, _grade_notebook(args), args.path)


def _report(args, result, shown):
    """Write and print one notebook's result; `shown` is the file the user named."""
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
    if args.json:
        print(text)
    if not result["gradable"]:
        return _refuse(f"{shown} cannot be graded: " + "; ".join(result["format_errors"]))
    if not args.json:
        print(summary(result))
    return 0


def _grade_corpus_entry(args):
    """Grade the notebook a corpus entry (grader/course/corpus.py) makes, as if submitted."""
    import tempfile

    from grader.course import assignments
    from grader.course.corpus import CorpusEntry

    try:
        entry = CorpusEntry(args.path)
        if entry.assignment not in assignments.authored():
            raise ValueError(f"its folder, {entry.assignment}, names no assignment")
        submission = entry.submission()
    except (ValueError, OSError) as exc:
        return _refuse(f"{args.path} is not a corpus entry: {exc}")
    named = args.path
    with tempfile.TemporaryDirectory(prefix="convgrade-entry-") as folder:
        args.path = Path(folder) / f"{entry.name}.ipynb"
        args.path.write_bytes(submission)
        args.assignment = args.assignment or entry.assignment
        return _report(args, _grade_notebook(args), named)


def _grade_notebook(args):
    if args.no_daemon or os.environ.get("CONVGRADE_NO_DAEMON"):
        from grader.engine import zygote_launcher

        zygote_launcher.start_early()  # its torch import runs beside ours
        from grader.engine.grading import grade

        return grade(args.path, args.assignment, seed=args.seed)
    from grader.doors import daemon

    return daemon.grade(args.path, args.assignment, args.seed)


def _grade_tree(args):
    from grader.course import deadlines
    from grader.doors.pool import GradingPool

    if args.export and not args.gradebook:
        return _refuse("--export needs --gradebook")
    notebooks = sorted(args.path.rglob("*.ipynb"))
    notebooks = [p for p in notebooks if ".ipynb_checkpoints" not in p.parts]
    if not notebooks:
        return _refuse(f"{args.path} holds no notebooks")
    from tqdm import tqdm

    rows, results = [], []
    with GradingPool(args.jobs) as pool:
        futures = [pool.submit(path, args.assignment, seed=args.seed) for path in notebooks]
        graded = [(path, _result_of(future, path, args.assignment)) for path, future in
                  tqdm(list(zip(notebooks, futures)), desc="grading", unit="notebook", file=sys.stderr,
                       leave=False, disable=True if args.json else None)]
    unstamped = []
    for path, result in graded:
        student = path.parent.parent.name
        results.append({"student": student, "notebook": str(path), **result})
        stamp = deadlines.collected_at(path.parent)
        has_deadline = bool(result["assignment"]) and result["assignment"] in _course_deadlines()
        if has_deadline and stamp is None:
            unstamped.append(f"{student}/{path.parent.name}")
        credit = deadlines.collected(result["assignment"], student, stamp).credit if result["assignment"] else 1.0
        rows.append({"student": student, "assignment": result["assignment"],
                     "score": result["score"], "max_score": result["max_score"],
                     "gradable": result["gradable"], "credit": credit,
                     "credited_score": round(result["score"] * credit, 6), "collected_at": stamp or ""})
    if not args.json:
        from grader.course.feedback import aligned

        print("\n".join(aligned([[r["student"], r["assignment"] or "?", f"{r['score']:g}", "/", f"{r['max_score']:g}"]
                                 for r in rows], right=(2,))))
    if args.out:
        from grader.store import csvfile

        with args.out.open("w", newline="") as f:
            writer = csvfile.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    if args.feedback:
        from grader.course import feedback

        for (path, result), row in zip(graded, rows):
            feedback.write(args.feedback, path.parent.parent.name, path.parent.name, path.stem, result,
                           credit=row["credit"])
    if args.gradebook:
        from grader.operations import gradebook

        try:
            gradebook.write(args.gradebook, [(path.parent.parent.name, result["assignment"], path, result)
                                             for path, result in graded])
            if args.export:
                gradebook.export_csv(args.gradebook, args.export)
        except gradebook.GradebookError as exc:
            return _refuse(str(exc))
    if args.gradebook or args.out:
        from grader.operations import gradebook

        for name in dict.fromkeys(r["assignment"] for _, r in graded if r["assignment"]):
            for warning in gradebook.points_warnings(name, [r for _, r in graded if r["assignment"] == name]):
                _warn(warning)
    written = [str(p) for p in (args.out, args.feedback, args.export, args.gradebook) if p]
    print(f"convgrade: graded {len(graded)} notebook(s) of {len({r['student'] for r in rows})} student(s), "
          f"{sum(not r['gradable'] for r in rows)} not gradable"
          + (f"; wrote {', '.join(written)}" if written else ""), file=sys.stderr)
    if unstamped:
        _warn(f"{len(unstamped)} submission(s) have no timestamp.txt (the collection time `nbgrader collect` "
              f"writes), so their deadlines could not be applied and they got full credit: {', '.join(unstamped)}")
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


def _course_deadlines():
    from grader.course import deadlines

    try:
        return deadlines.course()
    except deadlines.ConfigError:
        return {}


def _warn(message):
    print(f"convgrade: warning: {message}", file=sys.stderr)


def _result_of(future, path, assignment):
    """A notebook whose grading failed in any way is that student's ungradable row, never the batch's end."""
    from grader.engine.grading import ungradable

    try:
        return future.result()
    except Exception as exc:
        return ungradable(assignment, [f"{path.name} could not be graded ({type(exc).__name__})"])


def summary(result):
    """The result as text for a terminal: everything from the sandbox has its control characters escaped."""
    from grader.engine.student import clip

    if not result["gradable"]:
        return "not gradable: " + clip("; ".join(result["format_errors"]), 2000)
    from grader.course import feedback

    lines = [f"  note: {clip(note, 500)}" for note in result.get("notes", [])]
    lines.append(f"{result['assignment']}: {result['score']:g} / {result['max_score']:g} "
                 f"({result['execution_time']:.2f} s on {', '.join(result['devices'])}, seed {result.get('seed')})")
    tests = result.get("tests") or []
    number_width = max((len(t["number"]) for t in tests), default=0)
    points_width = max((len(f"{t['score']:g}/{t['max_score']:g}") for t in tests), default=0)
    for exercise in feedback.grouped(result, feedback.assignment_order(result["assignment"])):
        lines.append(f"  {exercise['name']}: {exercise['score']:g} / {exercise['max_score']:g}")
        for test in exercise["tests"]:
            mark = "ok  " if test["status"] == "passed" else "FAIL"
            points = f"{test['score']:g}/{test['max_score']:g}"
            lines.append(f"    {mark} {test['number']:{number_width}}  {points:>{points_width}}  {test['name']}")
            if test["output"]:
                lines.append("           " + clip(test["output"], 2000).replace("\n", "\n           "))
    return "\n".join(lines)


def _refuse(message):
    # grader.doors.submit, not grader.engine.student: a student's install (no server extra) refuses too
    from grader.doors.submit import escape

    text = escape(str(message).replace("\n", " ")[:2000])
    print(f"convgrade: {text if len(text) <= 500 else text[:497] + '...'}", file=sys.stderr)
    return 2


def _serve(args):
    from grader.doors.service import ServeError, serve

    try:
        serve(args.host, args.port)
    except ServeError as exc:
        return _refuse(str(exc))
    return 0


def _worker(args):
    from grader.doors.service.queue import run_workers
    from grader.store.settings import Settings

    run_workers(Settings.from_env().prepare())
    return 0


def _students(args):
    import os

    from grader.doors.service.roster import RosterError, import_roster, write_tokens
    from grader.store.settings import Settings

    if not args.roster.is_file():
        return _refuse(f"{args.roster} does not exist")
    try:
        issued = import_roster(Settings.from_env().prepare(), args.roster, reissue=args.reissue)
    except RosterError as exc:
        return _refuse(str(exc))
    if args.out:
        with os.fdopen(os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", newline="") as f:
            write_tokens(issued, f)
    else:
        write_tokens(issued, sys.stdout)
    print(f"convgrade: issued {len(issued)} token(s); they are stored hashed and cannot be shown again",
          file=sys.stderr)
    return 0


def _daemon(args):
    from grader.doors import daemon

    if args.action == "stop":
        print(f"convgrade: stopped {daemon.stop_all()} local grader(s)")
    else:
        running = daemon.status()
        print(json.dumps(running) if running else "convgrade: no local grader runs for this course and code")
    return 0


def _release(args):
    from grader.course import assignments
    from grader.operations.release import STUDENT_API, ReleaseError, release

    try:
        released, synced = release(progress=True)
    except ReleaseError as exc:
        return _refuse(f"nothing more was released: {exc}")
    course = assignments.COURSE_DIR
    for source in synced:
        print(f"convgrade: brought the points, the checklist and the forbidden shortcuts of {_shown(source, course)} "
              "in line with its suite", file=sys.stderr)
    print(f"convgrade: wrote {_shown(STUDENT_API, course)} from the answer cells", file=sys.stderr)
    print(f"convgrade: released {len(released)} assignment(s) into {_shown(assignments.EXERCISES, course)}/: "
          + ", ".join(_shown(p, course) for p in released), file=sys.stderr)
    return 0


def _new_exercise(args):
    from grader.course import assignments
    from grader.operations.scaffold import ScaffoldError, new_exercise

    course = args.course or assignments.COURSE_DIR
    try:
        written = new_exercise(args.assignment, args.name, course)
    except ScaffoldError as exc:
        return _refuse(str(exc))
    notebook, suite, *stubs = written
    print(f"convgrade: wrote {args.name}'s cells into {_shown(notebook, course)}, its suite {_shown(suite, course)} "
          f"and {len(stubs)} corpus stubs into {_shown(stubs[0].parent, course)}/. Fill their TODOs, then run "
          "`convgrade release` (docs/authoring.md)", file=sys.stderr)
    return 0


def _shown(path, root):
    """A path as the user reads it: relative to root when inside it."""
    path = Path(path)
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _extend(args):
    from grader.course import deadlines
    from grader.store.db import sessions_for
    from grader.store.settings import Settings

    try:
        due = None if args.remove else deadlines.parse_time(args.due, "--due")
        with sessions_for(Settings.from_env().prepare().database_url)() as session:
            moved = deadlines.remove_extension(session, args.student, args.assignment) if args.remove \
                else deadlines.extend(session, args.student, args.assignment, due)
    except (ValueError, deadlines.ConfigError) as exc:
        return _refuse(str(exc))
    print(f"{args.student} {args.assignment}: due {deadlines.human(moved.due)}"
          + "".join(f", {w.credit:g} credit until {deadlines.human(w.until)}" for w in moved.late))
    return 0


def _regrade(args):
    from grader.doors.service.queue import make_queue
    from grader.operations.regrade import main as regrade

    return regrade(args, make_queue)


def _groups(args):
    from grader.doors.service.auth import INSTRUCTOR
    from grader.operations.groups import main as groups

    return groups(args, leave_out=(INSTRUCTOR,))


def _hints(args):
    from grader.doors.service.auth import INSTRUCTOR
    from grader.operations.hints import main as hints

    return hints(args, leave_out=(INSTRUCTOR,))


def _similarity(args):
    from grader.operations.similarity import main as similarity

    if not args.path.is_dir():
        return _refuse(f"{args.path} is not a folder (a submitted/<student>/<assignment>/ tree)")
    return similarity(args)


def _submit(args):
    from grader.doors import submit

    try:
        return submit.run(args)
    except submit.SubmitError as exc:
        return _refuse(str(exc))


def _lab(args):
    from grader.doors.lab import set_instructor_tools

    try:
        path = set_instructor_tools(args.state == "on")
    except PermissionError as exc:
        return _refuse(f"cannot write {exc.filename}, where this JupyterLab reads its page config: "
                       "run the command as the owner of that install")
    print(f"convgrade: nbgrader's instructor tools are {args.state} in your JupyterLab ({path}); "
          "reload the JupyterLab page")
    return 0


def _lti(args):
    from grader.doors.lti.memberships import main
    from grader.store.settings import Settings

    return main(Settings.from_env().prepare())


def _gradescope(args):
    from grader.doors.gradescope.build import BuildError, build

    try:
        written, chosen, count = build(args.out, args.assignment, progress=True)
    except BuildError as exc:
        return _refuse(str(exc))
    print(f"convgrade: wrote {written}: {count} files, the grader with the hidden suites and solutions of "
          f"{', '.join(chosen)} (keep it out of the repository and away from students)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
