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


def set_instructor_tools(on, config_dir=None):
    """Write the user's labconfig/page_config.json: nbgrader's instructor plugins enabled (on)
    or left to the course's default (off). Returns the file written."""
    import json
    from pathlib import Path

    from jupyter_core.paths import jupyter_config_dir

    path = Path(config_dir or jupyter_config_dir()) / "labconfig" / "page_config.json"
    config = json.loads(path.read_text()) if path.is_file() else {}
    disabled = config.setdefault("disabledExtensions", {})
    for plugin in INSTRUCTOR_PLUGINS:
        if on:
            disabled[plugin] = False   # a user's false outranks the installed page_config.d's true
        else:
            disabled.pop(plugin, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path
