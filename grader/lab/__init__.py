"""convgrade in JupyterLab: a jupyter_server extension (handlers.py) and the prebuilt lab
extension (labextension/, built from /labextension by `make labextension`).

The page asks this server extension to submit; the server extension holds the grader's
address and the student's token (JupyterLab settings, else CONVGRADE_URL / CONVGRADE_TOKEN in
the server's environment) and forwards the request with grader.submit.GraderClient, so the
token never reaches page scripts or another origin.
"""


def _jupyter_server_extension_points():
    return [{"module": "grader.lab"}]


def _jupyter_labextension_paths():
    # Used by `jupyter labextension develop`; a pip install copies the same folder into
    # share/jupyter/labextensions/convgrade (pyproject data-files).
    return [{"src": "labextension", "dest": "convgrade"}]


def _load_jupyter_server_extension(server_app):
    from grader.lab.handlers import setup_handlers

    setup_handlers(server_app.web_app)
    server_app.log.info("convgrade: submit handlers registered under /convgrade/")
