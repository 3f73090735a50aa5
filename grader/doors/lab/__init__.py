"""convgrade in JupyterLab: a jupyter_server extension (handlers.py) and the prebuilt lab
extension (labextension/, built from /labextension by `make labextension`).

The page asks this server extension to submit; the server extension holds the grader's
address and the student's token (JupyterLab settings, else CONVGRADE_URL / CONVGRADE_TOKEN in
the server's environment) and forwards the request with grader.doors.submit.GraderClient, so the
token never reaches page scripts or another origin.
"""


def _jupyter_server_extension_points():
    return [{"module": "grader.doors.lab"}]


def _jupyter_labextension_paths():
    # Used by `jupyter labextension develop`; a pip install copies the same folder into
    # share/jupyter/labextensions/convgrade (pyproject data-files).
    return [{"src": "labextension", "dest": "convgrade"}]


def _load_jupyter_server_extension(server_app):
    from grader.doors.lab.handlers import setup_handlers

    setup_handlers(server_app.web_app)
    server_app.log.info("convgrade: submit handlers registered under /convgrade/")


# nbgrader's instructor tools in JupyterLab. The course package turns them off for everyone
# (jupyter-config/labconfig/convgrade.json, installed as labconfig/page_config.d/convgrade.json);
# an instructor turns them back on for their own account with `convgrade lab instructor-tools on`.
INSTRUCTOR_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                      "@jupyter/nbgrader:validate-assignment", "@jupyter/nbgrader:course-list",
                      "@jupyter/nbgrader:menu")


SWITCH = ("labconfig", "page_config.d", "convgrade.json")   # where the package's own switch lies


def set_instructor_tools(on, config_dir=None):
    """Write labconfig/page_config.json with nbgrader's instructor plugins enabled (on) or left to
    the course's default (off), where Jupyter reads it ahead of the package's own switch. Returns
    the file written.

    A page_config.json outranks the page_config.d/ files of its own folder, and a folder earlier
    on Jupyter's config path outranks a later one. So the file goes in the user's config folder
    when that comes first (an install in the system, or with JUPYTER_PREFER_ENV_PATH=0), and
    beside the package's switch when the install's folder comes first (a venv or conda
    environment, which Jupyter prefers by default)."""
    import json
    from pathlib import Path

    path = Path(config_dir or _config_dir_for_the_switch()) / "labconfig" / "page_config.json"
    config = json.loads(path.read_text()) if path.is_file() else {}
    disabled = config.setdefault("disabledExtensions", {})
    for plugin in INSTRUCTOR_PLUGINS:
        if on:
            disabled[plugin] = False   # outranks the installed page_config.d's true
        else:
            disabled.pop(plugin, None)
    if not disabled:
        del config["disabledExtensions"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def _config_dir_for_the_switch():
    """The first of (the user's config folder, the folder holding the package's switch) on
    Jupyter's config path, highest priority first."""
    from pathlib import Path

    from jupyter_core.paths import jupyter_config_dir, jupyter_config_path

    user = Path(jupyter_config_dir())
    for folder in map(Path, jupyter_config_path()):
        if folder == user or folder.joinpath(*SWITCH).is_file():
            return folder
    return user
