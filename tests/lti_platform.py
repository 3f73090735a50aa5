"""A real LTI 1.3 platform on loopback for the LTI tests, built from the lti1p3platform package.

Everything an LMS does in a launch is the library's: the OIDC login initiation, the
validation of the tool's auth request, the signed id_token (RS256, its own JWKS), the
client-credentials token endpoint (which verifies the tool's JWT against the tool's
JWKS URL), and the AGS score and NRPS membership endpoints with their token checks.
What this module adds is the Flask glue, a record of the scores received, a switch
that makes the LMS "down", and the launch variants the refusal tests need.
"""

import secrets
import threading
import uuid
from html import escape

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, request
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService, NamesRoleProvisioningService
from werkzeug.serving import make_server

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def rsa_pem_pair():
    """A fresh RSA key pair as (private PEM, public PEM) strings."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


class FlaskPlatformRequest(Request):
    def build_metadata(self, flask_request):
        return {"method": flask_request.method, "form_data": flask_request.form.to_dict(),
                "get_data": flask_request.args.to_dict(),
                "json": flask_request.get_json(force=True, silent=True),
                "headers": flask_request.headers, "content_type": flask_request.content_type,
                "path": flask_request.path}


class PlatformConf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, registration):
        self._registration = registration

    def get_registration_by_params(self, **kwargs):
        return self._registration


class Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, hint):
        self._lti_message_hint = hint

    def get_redirect(self, url):
        return url


class Launch(LTIAdvantageMessageLaunchAbstract):
    def __init__(self, request, platform_conf, platform):
        super().__init__(request, platform_conf)
        self.platform = platform

    def prepare_launch(self, preflight_response):
        options = self.platform.launches[preflight_response["lti_message_hint"]]
        assert preflight_response["login_hint"] == options["user_id"]
        self.set_user_data(options["user_id"], [options["role"]], full_name=options["name"])
        self.set_resource_link_claim(options["resource_link_id"], title=options["title"])
        self.set_launch_context_claim(self.platform.context_id, context_title="Convolutions 101")
        if options["custom"]:
            self.set_custom_parameters_claim(options["custom"])
        base = self.platform.url
        self.set_ags(lineitems_url=f"{base}/lineitems",
                     lineitem_url=f"{base}/lineitems/{options['resource_link_id']}")
        self.set_nrps(f"{base}/memberships")
        if options["expired"]:
            self.set_id_token_expiration(-120)     # exp two minutes in the past
        if options["audience"]:
            self.set_extra_claims({"aud": options["audience"]})

    def render_launch_form(self, launch_data, **kwargs):
        id_token = launch_data["id_token"]
        options = self.platform.launches[self.get_preflight_response()["lti_message_hint"]]
        if options["forged"]:
            # Same claims and key id, signed with a key the platform never published.
            claims, _ = self.get_launch_data()
            id_token = Registration.encode_and_sign(claims, self.platform.rogue_private_key,
                                                    headers={"kid": self._registration.get_kid()},
                                                    expiration=self.id_token_expiration)
        fields = {"id_token": id_token, "state": launch_data["state"]}
        inputs = "".join(f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in fields.items())
        return f'<form method="post" action="{escape(launch_data["launch_url"])}">{inputs}</form>'


class Grades(AssignmentsGradesService):
    def __init__(self, request, platform_conf, platform):
        super().__init__(request, platform_conf, f"{platform.url}/lineitems")
        self.platform = platform

    def update_score(self, line_item_id, score):
        self.platform.scores.append({"lineitem": line_item_id, **score})
        return UpdateScoreStatus.SUCCESS

    def find_lineitems(self, **kwargs):
        return {"content": [], "has_next": False}

    def find_lineitem(self, line_item_id):
        return {"id": f"{self.platform.url}/lineitems/{line_item_id}"}

    def create_lineitem(self, creation_data):
        return creation_data

    def update_lineitem(self, update_data):
        return update_data

    def delete_lineitem(self, line_item_id):
        return None

    def get_results(self, line_item_id, **kwargs):
        return {"content": [], "has_next": False}


class Members(NamesRoleProvisioningService):
    def __init__(self, request, platform_conf, platform):
        super().__init__(request, platform_conf, f"{platform.url}/memberships")
        self.platform = platform

    def get_member_data_page(self, **kwargs):
        return {"content": [dict(m) for m in self.platform.members], "has_next": False}

    def get_context_by_id(self):
        return Context(id=self.platform.context_id, label="CONV101", title="Convolutions 101")


class Platform:
    """The LMS: serve() it on loopback, register() a tool, start_launch() for a user."""

    def __init__(self):
        self.private_key, self.public_key = rsa_pem_pair()
        self.rogue_private_key, _ = rsa_pem_pair()
        self.client_id = "convgrade-client-" + uuid.uuid4().hex[:8]
        self.deployment_id = "deployment-1"
        self.context_id = "course-conv101"
        self.tool_url = None
        self.scores = []
        self.token_requests = 0
        self.down = False
        self.launches = {}
        self.members = [
            {"user_id": "u-learner-1", "name": "Ada Learner", "roles": [LEARNER]},
            {"user_id": "u-learner-2", "name": "Grace Learner", "roles": [LEARNER]},
            {"user_id": "u-teacher", "name": "Tess Teacher", "roles": [INSTRUCTOR]},
            {"user_id": "u-dropped", "name": "Dee Dropped", "roles": [LEARNER], "status": "Inactive"},
        ]
        self.app = self._make_app()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.issuer = self.url

    # -- set-up ------------------------------------------------------------------------

    def serve(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()

    def tool_config(self, tool_private_pem_file, tool_public_pem_file):
        """The tool's side of the registration, in pylti1p3's JSON format."""
        return {self.issuer: {
            "default": True, "client_id": self.client_id,
            "auth_login_url": f"{self.url}/auth", "auth_token_url": f"{self.url}/token",
            "key_set_url": f"{self.url}/jwks", "private_key_file": str(tool_private_pem_file),
            "public_key_file": str(tool_public_pem_file), "deployment_ids": [self.deployment_id]}}

    def registration(self):
        tool = self.tool_url
        return (Registration().set_iss(self.issuer).set_client_id(self.client_id)
                .set_deployment_id(self.deployment_id).set_launch_url(f"{tool}/lti/launch")
                .set_oidc_login_url(f"{tool}/lti/login").set_tool_key_set_url(f"{tool}/lti/jwks")
                .set_platform_public_key(self.public_key).set_platform_private_key(self.private_key))

    def conf(self):
        return PlatformConf(registration=self.registration())

    # -- launching ---------------------------------------------------------------------

    def start_launch(self, user_id, name="", role=LEARNER, custom=None, title="", resource_link_id="rl-a1",
                     expired=False, audience=None, forged=False):
        """The URL of the tool's OIDC login for this launch (what the LMS puts in the browser)."""
        hint = secrets.token_hex(8)
        self.launches[hint] = dict(user_id=user_id, name=name, role=role, custom=custom, title=title,
                                   resource_link_id=resource_link_id, expired=expired,
                                   audience=audience, forged=forged)
        login = Login(None, self.conf())
        login.set_lti_message_hint(hint)
        return login.initiate_login(user_id)

    # -- the LMS's endpoints -----------------------------------------------------------

    def _make_app(self):
        app = Flask("lti-test-platform")
        app.add_url_rule("/jwks", view_func=lambda: jsonify(self.conf().get_jwks()))
        app.add_url_rule("/auth", view_func=self._auth)
        app.add_url_rule("/token", view_func=self._token, methods=["POST"])
        app.add_url_rule("/lineitems/<line_item_id>/scores", view_func=self._scores, methods=["POST"])
        app.add_url_rule("/memberships", view_func=self._memberships)
        return app

    def _auth(self):
        return Launch(FlaskPlatformRequest(request), self.conf(), self).lti_launch()

    def _token(self):
        if self.down:
            return jsonify({"error": "temporarily unavailable"}), 503
        self.token_requests += 1
        try:
            return jsonify(self.conf().get_access_token(request.form.to_dict()))
        except Exception as exc:
            return jsonify({"error": "invalid_client", "error_description": str(exc)}), 400

    def _scores(self, line_item_id):
        if self.down:
            return jsonify({"error": "temporarily unavailable"}), 503
        service = Grades(FlaskPlatformRequest(request), self.conf(), self)
        return _respond(service.handle_resp(service.handle_update_score, line_item_id=line_item_id))

    def _memberships(self):
        service = Members(FlaskPlatformRequest(request), self.conf(), self)
        return _respond(service.handle_resp(service.handle_get_members))


def _respond(response):
    if 200 <= response.code < 300:
        return jsonify(response.result), response.code, {"Content-Type": response.media_type}
    return jsonify({"error": response.message}), response.code
