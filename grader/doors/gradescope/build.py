"""`convgrade gradescope OUT.zip [--assignment A]`: the autograder zip Gradescope asks for.

At the zip's root: setup.sh, run_autograder, requirements.txt; then the grader package
(without the web service, LTI and the store, which Gradescope does not run), autograde_tests/ with
the chosen assignments' suites and the modules they share, and solutions/<a>/<a>.ipynb
(the instructor's notebook: it says which cells are locked). Nothing else of the course.
"""

import importlib.metadata
import re
import sys
import zipfile
from pathlib import Path

from tqdm import tqdm

from grader.course import assignments, hints

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parents[1]
# What grading imports (grader.engine.grading and the suites); the rest of the closure follows.
GRADING_REQUIREMENTS = ("torch", "numpy", "safetensors", "nbformat", "pytest", "pyseccomp", "ipython",
                        "matplotlib", "matplotlib-inline")
# The web service, LTI and the database they share: Gradescope runs none of them.
LEFT_OUT_OF_PACKAGE = (("store",), ("doors", "service"), ("doors", "lti"))
TARGET_ENVIRONMENT = {"python_version": "3.11", "python_full_version": "3.11.2", "sys_platform": "linux",
                      "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
                      "implementation_name": "cpython", "platform_python_implementation": "CPython",
                      "extra": ""}


class BuildError(Exception):
    pass


def build(out, assignment=None, progress=False):
    """Write the zip; returns (its path, the assignments in it, how many files it holds).
    progress: a bar of the files written, on a terminal (stderr)."""
    chosen = _chosen(assignment)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = [(path, f"grader/{path.relative_to(PACKAGE).as_posix()}") for path in _package_files()]
    files += [(path, f"autograde_tests/{path.relative_to(assignments.SUITES).as_posix()}")
              for path in _suite_files(chosen)]
    files += [(assignments.source_notebook(name), f"solutions/{name}/{name}.ipynb") for name in chosen]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        _add_text(archive, "setup.sh", (HERE / "setup.sh").read_text(), executable=True)
        run = (HERE / "run_autograder").read_text().replace("@ASSIGNMENT@", assignment or "")
        _add_text(archive, "run_autograder", run, executable=True)
        _add_text(archive, "requirements.txt", requirements_text())
        for path, name in tqdm(files, desc="packing", unit="file", file=sys.stderr, leave=False,
                               disable=None if progress else True):
            archive.write(path, name)
    return out, chosen, len(files) + 3


def _chosen(assignment):
    known = assignments.names()
    if assignment is None:
        if not known:
            raise BuildError(f"{assignments.COURSE_DIR} has no gradable assignment")
        return known
    if assignment not in known:
        raise BuildError(f"there is no assignment {assignment!r}; this course has {', '.join(known)}")
    return [assignment]


def _add_text(archive, name, text, executable=False):
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def _package_files():
    for path in sorted(PACKAGE.rglob("*")):
        parts = path.relative_to(PACKAGE).parts
        if path.is_file() and not any(parts[:len(room)] == room for room in LEFT_OUT_OF_PACKAGE) \
                and "__pycache__" not in parts and path.suffix != ".pyc":
            yield path


def _suite_files(chosen):
    """Each chosen suite with its hint table, and the top-level modules the suites share (not other assignments)."""
    for path in sorted(assignments.SUITES.iterdir()):
        if path.is_file() and path.suffix == ".py":
            yield path
    for name in chosen:
        yield from (p for p in sorted(assignments.suite_dir(name).rglob("*.py")) if "__pycache__" not in p.parts)
        if hints.path(name).is_file():
            yield hints.path(name)


def requirements_text():
    pins = _locked_versions()
    lines = [f"{name}=={pins.get(name) or _installed_version(name)}" for name in sorted(_closure())]
    header = ("# The grader's runtime on Gradescope: what grading imports and its dependencies,\n"
              "# at the versions of convgrade's docker/requirements.lock.\n")
    return header + "\n".join(lines) + "\n"


def _closure():
    from packaging.markers import Marker
    from packaging.requirements import Requirement

    seen, todo = set(), [_canonical(r) for r in GRADING_REQUIREMENTS]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in importlib.metadata.distribution(name).requires or []:
            requirement = Requirement(text)
            marker = requirement.marker or Marker("python_version >= '0'")
            if marker.evaluate(TARGET_ENVIRONMENT):
                todo.append(_canonical(requirement.name))
    return seen


def _locked_versions():
    lock = assignments.COURSE_DIR / "docker" / "requirements.lock"
    if not lock.is_file():
        return {}
    pins = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.strip().split("==", 1)
            pins[_canonical(name)] = version
    return pins


def _installed_version(name):
    return importlib.metadata.version(name).split("+")[0]


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()
