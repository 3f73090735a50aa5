"""Students by their JupyterHub login, when the grader runs as a JupyterHub service.

JupyterHub starts a managed service with JUPYTERHUB_API_TOKEN, JUPYTERHUB_API_URL and
JUPYTERHUB_SERVICE_NAME in its environment (set them yourself for an externally run grader;
docs/jupyterhub.md). With all three, a bearer token that the roster does not know is asked
of the hub (HubOAuth.user_for_token): a user's token that grants access to this service
(scope access:services!service=<name>) identifies the student by hub login. A single-user
server's own JUPYTERHUB_API_TOKEN is such a token when the hub grants the scope
(Spawner.server_token_scopes), so the JupyterLab extension needs no convgrade token on a hub.
"""

import functools
import os

from flask import abort

HUB_ENV = ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "JUPYTERHUB_SERVICE_NAME")


def enabled(env=os.environ):
    return all(env.get(name) for name in HUB_ENV)


@functools.cache
def _hub_auth():
    from jupyterhub.services.auth import HubOAuth  # only a hub deployment needs jupyterhub

    # Reads the JUPYTERHUB_* environment; asks the hub about a token at most once a minute.
    return HubOAuth(cache_max_age=60)


def login_of(token):
    """The hub login a token belongs to, if it is a user's and grants access to this service."""
    auth = _hub_auth()
    try:
        model = auth.user_for_token(token)
    except Exception as exc:  # the hub is down or refuses the service's own token
        abort(503, f"JupyterHub cannot check the token right now ({exc})")
    if not model or model.get("kind", "user") != "user":
        return None
    if not auth.access_scopes or not auth.check_scopes(auth.access_scopes, model):
        return None
    return model["name"]
