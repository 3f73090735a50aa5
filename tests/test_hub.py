"""The grader as a JupyterHub service: students identified by their hub login (HubOAuth).

A real JupyterHub (the jupyterhub package, its proxy configurable-http-proxy from npm, installed
by `make setup` into .venv/chp) runs on loopback with the dummy authenticator and the grader
registered as the service "convgrade"; a real `convgrade serve` gets the JUPYTERHUB_*
environment a hub gives its services. Users' tokens are issued by the hub's REST API.
About 40 s on 2 vCPU. Skipped when jupyterhub or the proxy is absent.
"""

import os
import shutil
import subprocess
import sys
import time

import pytest
import requests

from conftest import SERVICE_ASSIGNMENT
from service_harness import HOST, REPO, Client, Service, error_of, free_port, import_roster, stop_group
from submissions import make_submission

pytest.importorskip("jupyterhub", reason="the jupyterhub package is not installed")
PROXY = shutil.which("configurable-http-proxy") or str(REPO / ".venv/chp/node_modules/.bin/configurable-http-proxy")
pytestmark = pytest.mark.skipif(not os.path.exists(PROXY), reason="configurable-http-proxy is not installed")

SERVICE_TOKEN = "grader-service-token-for-tests"
ADMIN_TOKEN = "hub-admin-service-token-for-tests"
HUB_CONFIG = """
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {proxy_port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.db_url = "sqlite:///{home}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{home}/cookie_secret"
c.JupyterHub.pid_file = "{home}/jupyterhub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.services = [
    {{"name": "convgrade", "url": "{grader_url}", "api_token": "{service_token}", "oauth_no_confirm": True}},
    {{"name": "test-admin", "api_token": "{admin_token}"}},
]
c.JupyterHub.load_roles = [
    {{"name": "user", "scopes": ["self", "access:services!service=convgrade"]}},
    {{"name": "test-admin", "scopes": ["admin:users", "tokens"], "services": ["test-admin"]}},
]
"""


@pytest.fixture(scope="module")
def hub_ports():
    return {name: free_port() for name in ("proxy_port", "hub_port", "proxy_api_port")}


@pytest.fixture(scope="module")
def hub_grader(hub_ports, tmp_path_factory):
    """`convgrade serve` with the environment JupyterHub gives a managed service."""
    running = Service(tmp_path_factory.mktemp("hub-grader"))
    running.env.update(JUPYTERHUB_API_TOKEN=SERVICE_TOKEN, JUPYTERHUB_SERVICE_NAME="convgrade",
                       JUPYTERHUB_API_URL=f"http://{HOST}:{hub_ports['hub_port']}/hub/api")
    running.tokens = import_roster(running.data_dir, ["rostered"], running.env)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def hub(hub_ports, hub_grader, tmp_path_factory):
    home = tmp_path_factory.mktemp("hub")
    (home / "jupyterhub_config.py").write_text(HUB_CONFIG.format(
        home=home, proxy=PROXY, grader_url=hub_grader.url, service_token=SERVICE_TOKEN,
        admin_token=ADMIN_TOKEN, **hub_ports))
    log = open(home / "hub.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(home / "jupyterhub_config.py")],
                               cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://{HOST}:{hub_ports['hub_port']}/hub/api"
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, (home / "hub.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "JupyterHub did not start:\n" + (home / "hub.log").read_text()[-3000:]
        try:
            if requests.get(api, timeout=2).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.5)
    yield {"api": api, "home": home}
    stop_group(process)


def hub_token(hub, user, scopes=None):
    """A token the hub issues to `user` (created on first use), as a student's server holds."""
    headers = {"Authorization": f"token {ADMIN_TOKEN}"}
    requests.post(f"{hub['api']}/users/{user}", headers=headers, timeout=30)
    body = {"note": "test"} | ({"scopes": scopes} if scopes is not None else {})
    response = requests.post(f"{hub['api']}/users/{user}/tokens", json=body, headers=headers, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()["token"]


def test_a_hub_users_token_identifies_them_by_login(hub, hub_grader):
    alice = Client(hub_grader.url, hub_token(hub, "alice"))
    response = alice.submit(make_submission(SERVICE_ASSIGNMENT, reference=False), SERVICE_ASSIGNMENT)
    assert response.status_code == 202, response.text
    assert [row["student_id"] for row in hub_grader.rows()] == ["alice"]
    listed = alice.get("/api/v1/submissions").json()["submissions"]
    assert [s["student_id"] for s in listed] == ["alice"]
    bob = Client(hub_grader.url, hub_token(hub, "bob"))
    assert bob.get("/api/v1/submissions").json()["submissions"] == []


def test_a_hub_token_without_access_to_the_grader_is_refused(hub, hub_grader):
    narrow = Client(hub_grader.url, hub_token(hub, "carol", scopes=["read:users!user=carol"]))
    response = narrow.get("/api/v1/submissions")
    assert response.status_code == 401 and "not valid" in error_of(response)


def test_an_unknown_token_is_refused_and_roster_tokens_still_work(hub, hub_grader):
    response = Client(hub_grader.url, "not-a-hub-token").get("/api/v1/submissions")
    assert response.status_code == 401 and "not valid" in error_of(response)
    assert Client(hub_grader.url, hub_grader.tokens["rostered"]).get("/api/v1/submissions").status_code == 200


def test_convgrade_submit_with_a_hub_token(hub, hub_grader, tmp_path):
    path = tmp_path / f"{SERVICE_ASSIGNMENT}.ipynb"
    path.write_bytes(make_submission(SERVICE_ASSIGNMENT, reference=False))
    done = subprocess.run([sys.executable, "-m", "grader.cli", "submit", str(path), "--wait", "0"],
                          cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"PATH": os.environ["PATH"], "CONVGRADE_URL": hub_grader.url,
                               "CONVGRADE_TOKEN": hub_token(hub, "dave")})
    assert done.returncode == 0, done
    assert "dave" in {row["student_id"] for row in hub_grader.rows()}
