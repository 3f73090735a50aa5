"""The grader service (docs/reference.md): a Flask app, a durable queue, grading workers.

    create_app(config=None)   the WSGI app (gunicorn: 'grader.doors.service:create_app()');
                              it serves HTTP only: run `convgrade worker` beside it
    serve(host, port)         `convgrade serve`: worker pool + app under waitress, one command
"""

import os
import signal
import sys

from grader.store.settings import Settings

__all__ = ["create_app", "serve", "Settings"]

HTTP_THREADS = 32


def create_app(config=None):
    """The Flask app (imported lazily: `convgrade students` need not load Flask or torch)."""
    from grader.doors.service.app import create_app as factory

    return factory(config)


def serve(host="127.0.0.1", port=8000, settings=None):
    import waitress

    settings = (settings or Settings.from_env()).prepare()
    refusal = settings.public_bind_refusal(host)
    if refusal:
        print(f"convgrade: not serving: {refusal}", file=sys.stderr, flush=True)
        raise SystemExit(2)
    app = create_app(settings)
    queue = app.config["QUEUE"].start()
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    print(f"convgrade: serving on http://{host}:{port} (data in {settings.data_dir}, "
          f"{'queue ' + settings.queue_url if settings.queue_url else f'{settings.workers} grading workers'})",
          file=sys.stderr, flush=True)
    if not os.environ.get("CONVGRADE_ADMIN_TOKEN"):
        print(f"convgrade: the instructor token is in {settings.data_dir / 'admin_token'} "
              "(set CONVGRADE_ADMIN_TOKEN to choose one)", file=sys.stderr, flush=True)
    try:
        # X-Forwarded-* reach the app only where the operator named proxies; the app's one
        # ProxyFix (grader.doors.service.headers) decides whom to believe, as under gunicorn
        waitress.serve(app, host=host, port=port, threads=HTTP_THREADS, ident="convgrade",
                       clear_untrusted_proxy_headers=not settings.trusted_proxies)
    except KeyboardInterrupt:
        pass
    finally:
        queue.stop()


def _raise_keyboard_interrupt(*_):
    raise KeyboardInterrupt
