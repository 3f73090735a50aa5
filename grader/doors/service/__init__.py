"""The grader service (docs/reference.md): a Flask app, a durable queue, grading workers.

    create_app(config=None)   the WSGI app (gunicorn: 'grader.doors.service:create_app()');
                              it serves HTTP only: run `convgrade worker` beside it
    serve(host, port)         `convgrade serve`: worker pool + app under waitress, one command
"""

import errno
import os
import signal
import sys

from grader.store.settings import Settings

__all__ = ["create_app", "serve", "Settings", "ServeError"]

HTTP_THREADS = 32


def create_app(config=None):
    """The Flask app (imported lazily: `convgrade students` need not load Flask or torch)."""
    from grader.doors.service.app import create_app as factory

    return factory(config)


class ServeError(Exception):
    """The service cannot start: str() is one sentence for the instructor."""


def serve(host="127.0.0.1", port=8000, settings=None):
    settings = (settings or Settings.from_env()).prepare()
    refusal = settings.public_bind_refusal(host)
    if refusal:
        raise ServeError(f"not serving: {refusal}")
    app = create_app(settings)
    # a busy port refuses before any worker starts; X-Forwarded-* reach the app only where the
    # operator named proxies, and the app's one ProxyFix (grader.doors.service.headers) decides whom to believe
    server = _listen(app, host, port, clear_untrusted_proxy_headers=not settings.trusted_proxies)
    queue = app.config["QUEUE"].start()
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    print(f"convgrade: serving on http://{host}:{port} (data in {settings.data_dir}, "
          f"{'queue ' + settings.queue_url if settings.queue_url else f'{settings.workers} grading workers'})",
          file=sys.stderr, flush=True)
    if not os.environ.get("CONVGRADE_ADMIN_TOKEN"):
        print(f"convgrade: the instructor token is in {settings.data_dir / 'admin_token'} "
              "(set CONVGRADE_ADMIN_TOKEN to choose one)", file=sys.stderr, flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        queue.stop()


def _listen(app, host, port, **options):
    import waitress

    try:
        return waitress.create_server(app, host=host, port=port, threads=HTTP_THREADS, ident="convgrade", **options)
    except OSError as exc:
        hint = (": another program listens there; stop it or choose another port with --port"
                if exc.errno == errno.EADDRINUSE else f": {exc.strerror or exc}")
        raise ServeError(f"cannot serve on {host}:{port}{hint}") from None


def _raise_keyboard_interrupt(*_):
    raise KeyboardInterrupt
