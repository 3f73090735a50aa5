"""What every response tells the browser, and whom the service believes about a request's scheme,
host and address.

Behind a TLS proxy the operator names it in CONVGRADE_TRUSTED_PROXIES: a number N (every
request comes through N proxies; werkzeug's ProxyFix takes the last N hops of
X-Forwarded-For/-Proto/-Host/-Port) or a comma-separated list of proxy addresses or networks
(the headers count only on requests from those peers, one hop). Anything else that sends
X-Forwarded-* is not believed: its headers are removed before the app sees the request.

Every response carries a Content-Security-Policy (no script at all, styles from /static only,
forms post only here) and a frame policy: no framing, except the pages of a session an LTI
launch opened, which the launching platform's origins may frame.
"""

import ipaddress

from flask import request
from werkzeug.middleware.proxy_fix import ProxyFix

from grader.doors.service import sessions

FORWARDED = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
             "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX")
POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
          "base-uri 'none'; frame-ancestors {ancestors}")


def install(app):
    app.wsgi_app = TrustedProxies(app.wsgi_app, app.config["SETTINGS"].trusted_proxies)
    app.after_request(_security_headers)


def parse_trusted_proxies(value):
    """(hops, networks or None for any peer) from CONVGRADE_TRUSTED_PROXIES; (0, None): none."""
    value = (value or "").strip()
    if not value:
        return 0, None
    if value.isdigit():
        return int(value), None
    try:
        return 1, [ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"CONVGRADE_TRUSTED_PROXIES must be a number of proxies or a comma-separated list "
                         f"of their addresses, not {value!r}") from None


class TrustedProxies:
    """ProxyFix for requests from the proxies the operator named; forwarded headers dropped from anyone else."""

    def __init__(self, app, setting):
        self.app = app
        hops, self.networks = parse_trusted_proxies(setting)
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops) if hops else None

    def __call__(self, environ, start_response):
        if self.fixed is not None and self._trusted(environ.get("REMOTE_ADDR", "")):
            return self.fixed(environ, start_response)
        for key in FORWARDED:
            environ.pop(key, None)
        return self.app(environ, start_response)

    def _trusted(self, peer):
        if self.networks is None:
            return True
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def _security_headers(response):
    ancestors = sessions.frame_ancestors()
    response.headers["Content-Security-Policy"] = POLICY.format(ancestors=" ".join(ancestors) or "'none'")
    if not ancestors:
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response
