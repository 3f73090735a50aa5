"""The build hook: every wheel of convgrade carries the JupyterLab extension.

Whatever builds the package (`pip install .`, `pip wheel .`, `python -m build`, an editable
install), the extension in labextension/ is built first with JupyterLab's own toolchain
(jlpm, from the jupyterlab package in [build-system].requires) into grader/doors/lab/labextension/,
as JupyterLab's extension template does with its build hook, when the build there is
missing or older than its sources. The wheel then puts the build where JupyterLab looks
(share/jupyter/labextensions/convgrade) and the switches beside it (etc/jupyter: the server
extension on, nbgrader's instructor tools off), so a student needs no node.

Building needs node (and the npm registry, or a yarn cache, for `jlpm install`).
CONVGRADE_SKIP_LABEXTENSION=1 builds without the extension: the grader's server image, which
serves no JupyterLab.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "labextension"
BUILT = ROOT / "grader" / "doors" / "lab" / "labextension"
CONFIG = ROOT / "grader" / "doors" / "lab" / "jupyter-config"
SKIP = "CONVGRADE_SKIP_LABEXTENSION"


def _sources():
    patterns = ("src/*.ts", "style/*", "schema/*", "package.json", "yarn.lock", "tsconfig.json", ".yarnrc.yml")
    return [p for pattern in patterns for p in SOURCE.glob(pattern) if p.is_file()]


def _is_stale():
    stamp = BUILT / "package.json"
    if not stamp.is_file():
        return True
    built_at = stamp.stat().st_mtime
    return any(p.stat().st_mtime > built_at for p in _sources())


def _jlpm(*args):
    """jlpm of the jupyterlab this build runs with; its scripts (jupyter) first on PATH."""
    scripts = [os.path.dirname(sys.executable), sysconfig.get_path("scripts")]
    path = os.pathsep.join([*scripts, os.environ.get("PATH", "")])
    jlpm = shutil.which("jlpm", path=path)
    if jlpm is None:
        sys.exit("convgrade: jlpm (from the jupyterlab package) is missing from the build environment")
    subprocess.run([jlpm, *args], cwd=SOURCE, env={**os.environ, "PATH": path}, check=True)


def build_labextension():
    if os.environ.get(SKIP) or not SOURCE.is_dir() or not _is_stale():
        return
    if shutil.which("node") is None:
        sys.exit("convgrade: building the JupyterLab extension needs node (https://nodejs.org, or apt-get "
                 f"install nodejs); set {SKIP}=1 to build a package without it")
    _jlpm("install", "--immutable")
    _jlpm("build")


def data_files():
    """The built extension where JupyterLab looks, and the Jupyter switches."""
    mapped = {}
    for path in sorted(BUILT.rglob("*")) if BUILT.is_dir() else []:
        if path.is_file():
            target = Path("share/jupyter/labextensions/convgrade") / path.parent.relative_to(BUILT)
            mapped.setdefault(str(target), []).append(str(path.relative_to(ROOT)))
    mapped["etc/jupyter/jupyter_server_config.d"] = ["grader/doors/lab/jupyter-config/convgrade.json"]
    mapped["etc/jupyter/labconfig/page_config.d"] = ["grader/doors/lab/jupyter-config/labconfig/convgrade.json"]
    return sorted(mapped.items())


build_labextension()
setup(data_files=data_files())
